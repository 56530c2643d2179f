#include "node/config.hpp"

#include <fstream>
#include <sstream>

#include "core/chain.hpp"
#include "core/error.hpp"

namespace hallmark {

namespace {

struct numeric_key {
  const char* name;
  uint64_t node_config::*field;
  uint64_t min;
  uint64_t max;
};

const numeric_key numeric_keys[] = {
  {"reorg_window", &node_config::reorg_window, 1, 10'000},
  {"flush_blocks", &node_config::flush_blocks, 1, 1'000'000},
  {"flush_interval_ms", &node_config::flush_interval_ms, 1, 3'600'000},
  {"flush_records", &node_config::flush_records, 1, 100'000'000},
  {"pending_expiry_s", &node_config::pending_expiry_s, 1, 30 * 86400},
  {"asset_expiry_s", &node_config::asset_expiry_s, 1, 30 * 86400},
  {"max_pending_issues", &node_config::max_pending_issues, 1, 10'000'000},
  {"max_pending_transactions", &node_config::max_pending_transactions, 1,
   10'000'000},
  {"min_block_interval_ms", &node_config::min_block_interval_ms, 0, 3'600'000},
  {"empty_block_interval_s", &node_config::empty_block_interval_s, 0, 86400},
  {"verify_threads", &node_config::verify_threads, 0, 256},
  {"map_size_mb", &node_config::map_size_mb, 16, 1 << 24},
  {"min_clients", &node_config::min_clients, 0, 125},
  {"cycle_ms", &node_config::cycle_ms, 0, 3'600'000},
  {"max_inbound", &node_config::max_inbound, 0, 10'000},
  {"ban_seconds", &node_config::ban_seconds, 1, 30 * 86400},
  {"max_dynamic", &node_config::max_dynamic, 0, 125},
};

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos)
    return {};
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

} // namespace

uint64_t node_config::effective_min_clients() const {
  if (min_clients > 0)
    return min_clients;
  return chain == "devnet" ? 1 : 5;
}

uint64_t node_config::effective_cycle_ms() const {
  if (cycle_ms > 0)
    return cycle_ms;
  return chain == "devnet" ? 250 : 15'000;
}

caf::error node_config::validate() const {
  if (find_chain(chain) == nullptr)
    return make_error(ec::bad_config, "unknown chain '" + chain
                                        + "' (devnet, testnet or mainnet)");
  for (auto& k : numeric_keys) {
    auto v = this->*k.field;
    if (v < k.min || v > k.max)
      return make_error(ec::bad_config, std::string{k.name} + " must be within "
                                          + std::to_string(k.min) + ".."
                                          + std::to_string(k.max));
  }
  return {};
}

caf::expected<node_config> load_config(const std::string& datadir) {
  node_config cfg;
  cfg.datadir = datadir;
  std::ifstream in{cfg.config_path()};
  if (!in)
    return make_error(ec::bad_config, "no config at " + cfg.config_path()
                                        + " (run `hallmark init --datadir "
                                        + datadir + "`)");
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    auto hash = line.find('#');
    if (hash != std::string::npos)
      line.resize(hash);
    line = trim(line);
    if (line.empty())
      continue;
    auto eq = line.find('=');
    auto where = cfg.config_path() + ":" + std::to_string(number) + ": ";
    if (eq == std::string::npos)
      return make_error(ec::bad_config, where + "expected key = value");
    auto key = trim(line.substr(0, eq));
    auto value = trim(line.substr(eq + 1));
    if (key == "chain") {
      cfg.chain = value;
      continue;
    }
    if (key == "listen") {
      cfg.listen.push_back(value);
      continue;
    }
    if (key == "peer") {
      cfg.peers.push_back(value);
      continue;
    }
    if (key == "produce") {
      if (value != "true" && value != "false")
        return make_error(ec::bad_config, where + "produce is true or false");
      cfg.produce = value == "true";
      continue;
    }
    bool known = false;
    for (auto& k : numeric_keys) {
      if (key != k.name)
        continue;
      known = true;
      try {
        size_t used = 0;
        cfg.*k.field = std::stoull(value, &used);
        if (used != value.size())
          throw std::invalid_argument(value);
      } catch (const std::exception&) {
        return make_error(ec::bad_config, where + key + " needs a number");
      }
    }
    if (!known)
      return make_error(ec::bad_config, where + "unknown key '" + key + "'");
  }
  if (auto err = cfg.validate())
    return err;
  return cfg;
}

caf::error save_config(const node_config& cfg) {
  std::ostringstream out;
  out
    << "# Hallmark node configuration; docs/operations.md explains each key.\n"
    << "chain = " << cfg.chain << "\n"
    << "produce = " << (cfg.produce ? "true" : "false") << "\n";
  for (auto& k : numeric_keys)
    out << k.name << " = " << cfg.*k.field << "\n";
  for (auto& l : cfg.listen)
    out << "listen = " << l << "\n";
  for (auto& p : cfg.peers)
    out << "peer = " << p << "\n";
  std::ofstream file{cfg.config_path(), std::ios::trunc};
  file << out.str();
  if (!file.flush())
    return make_error(ec::io, "cannot write " + cfg.config_path());
  return {};
}

} // namespace hallmark
