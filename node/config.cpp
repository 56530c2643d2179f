#include "node/config.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "actors/connector.hpp"
#include "core/error.hpp"
#include "messages/registration.hpp"
#include "node/cookie.hpp"

namespace fs = std::filesystem;

namespace hallmark {

namespace {

// The chains a node may follow; core/chain.cpp holds their parameters,
// consensus and network defaults.
const std::string_view chains[] = {devnet_chain, "testnet", "mainnet"};

using cfg = node_config;

// A listen address, parsed as the listener binds it.
caf::error check_listen(std::string_view text) {
  if (parse_listener(text))
    return {};
  return make_error(ec::bad_config, "cannot parse listen address '"
                                      + std::string{text}
                                      + "' (HOST:PORT or [V6]:PORT)");
}

// The HTTP server's address: a listen address, or "" for no server.
caf::error check_http_listen(std::string_view text) {
  if (text.empty() || parse_listener(text))
    return {};
  return make_error(ec::bad_config, "cannot parse http_listen address '"
                                      + std::string{text}
                                      + "' (HOST:PORT, [V6]:PORT, or empty "
                                        "for no HTTP server)");
}

std::vector<std::string_view> http_auth_modes() {
  return {"auto", "always"};
}

// A static peer, parsed as the connector dials it.
caf::error check_peer(std::string_view text) {
  auto parsed = parse_static_peer(text);
  return parsed ? caf::error{} : parsed.error();
}

// The block assumed valid: "0" or 64 hex digits.
caf::error check_assume_valid(std::string_view text) {
  if (text == "0" || (text.size() == 64 && from_hex_fixed<32>(text)))
    return {};
  return make_error(ec::bad_config,
                    "'" + std::string{text}
                      + "' is neither 0 nor a block hash (64 hex digits)");
}

// The keys of hallmark.conf, each declared once: name, field (its type),
// help, and the range or the choices. The defaults are node_config's
// initialisers. The order is the order save_config writes them in.
const config_key key_table[] = {
  {.name = "chain",
   .field = &cfg::chain,
   .help = "Chain to follow; must match the one stored in chain/",
   .choices = chain_names},
  {.name = "produce",
   .field = &cfg::produce,
   .help = "Produce blocks: mine blocks from pending records"},
  {.name = "state_sync",
   .field = &cfg::state_sync,
   .help = "On an empty chain, fetch a recent state from peers (checked "
           "against the headers' state roots) instead of replaying every "
           "block; a state sync under way always resumes"},
  {.name = "state_sync_depth",
   .field = &cfg::state_sync_depth,
   .help = "State sync: the target state is this many blocks behind the "
           "best header",
   .min = 1,
   .max = 100},
  {.name = "sync_peers",
   .field = &cfg::sync_peers,
   .help = "Upstreams a block sync fetches ranges from at once (the best "
           "peer and those beside it that reach its height)",
   .min = 1,
   .max = 16},
  {.name = "assume_valid",
   .field = &cfg::assume_valid,
   .help = "Block hash (hex): the signatures in it and its ancestors on the "
           "chain with the most work are not checked while syncing, every "
           "other rule is; 0: check every signature",
   .check_value = check_assume_valid,
   .shape = "0|BLOCKHASH"},
  {.name = "reorg_window",
   .field = &cfg::reorg_window,
   .help = "Blocks of undo data kept: the deepest fork followed, the "
           "deepest forced reorg",
   .min = 1,
   .max = 10'000},
  {.name = "flush_blocks",
   .field = &cfg::flush_blocks,
   .help = "While more blocks are coming, commit after this many blocks",
   .min = 1,
   .max = 1'000'000},
  {.name = "flush_interval_ms",
   .field = &cfg::flush_interval_ms,
   .help = "... or this many ms after a batch left blocks uncommitted",
   .min = 1,
   .max = 3'600'000},
  {.name = "flush_records",
   .field = &cfg::flush_records,
   .help = "... or after this many records (bounds the write transaction's "
           "memory)",
   .min = 1,
   .max = 100'000'000},
  {.name = "pending_expiry_s",
   .field = &cfg::pending_expiry_s,
   .help = "Pending batches and transfers expire after this many seconds",
   .min = 1,
   .max = 30 * 86400},
  {.name = "asset_expiry_s",
   .field = &cfg::asset_expiry_s,
   .help = "Pending assets that no pending batch issues expire after this "
           "many seconds",
   .min = 1,
   .max = 30 * 86400},
  {.name = "max_pending_issues",
   .field = &cfg::max_pending_issues,
   .help = "Reservoir cap on issues (counted singly)",
   .min = 1,
   .max = 10'000'000},
  {.name = "max_pending_transactions",
   .field = &cfg::max_pending_transactions,
   .help = "Reservoir cap on transfers",
   .min = 1,
   .max = 10'000'000},
  {.name = "min_block_interval_ms",
   .field = &cfg::min_block_interval_ms,
   .help = "Producer: ms between attempts (at least 50 in effect)",
   .min = 0,
   .max = 3'600'000},
  {.name = "empty_block_interval_s",
   .field = &cfg::empty_block_interval_s,
   .help = "Producer: make an empty block when the last is this many "
           "seconds old (0: whenever it ticks)",
   .min = 0,
   .max = 86400},
  {.name = "verify_threads",
   .field = &cfg::verify_threads,
   .help = "Verifier actors; 0 = one per core (more adds nothing: CAF runs "
           "one thread per core)",
   .min = 0,
   .max = 256},
  {.name = "map_size_mb",
   .field = &cfg::map_size_mb,
   .help = "LMDB map size of chain/ at first, in MiB, allocated on disk "
           "(so a full disk shows as the map failing to grow, never in the "
           "middle of a write); it grows by itself when full, doubling but "
           "by 1 GiB at most, up to map_max_mb",
   .min = 1,
   .max = 1 << 24},
  {.name = "map_max_mb",
   .field = &cfg::map_max_mb,
   .help = "Largest LMDB map of chain/ in MiB (past it, or past the free "
           "disk, writes fail as \"map full\" or \"disk full\"); 0: only the "
           "free disk limits",
   .min = 0,
   .max = 1 << 24},
  {.name = "min_clients",
   .field = &cfg::min_clients,
   .help = "Live links before the connector looks for the best chain; 0: "
           "the chain's default",
   .min = 0,
   .max = 125},
  {.name = "cycle_ms",
   .field = &cfg::cycle_ms,
   .help = "Connector cycle in ms; 0: the chain's default",
   .min = 0,
   .max = 3'600'000},
  {.name = "stall_ms",
   .field = &cfg::stall_ms,
   .help = "Time without progress from the upstream before another peer "
           "serves the blocks, in ms; 0: the chain's default",
   .min = 0,
   .max = 3'600'000},
  {.name = "max_inbound",
   .field = &cfg::max_inbound,
   .help = "Inbound links at most; one more replaces the least useful "
           "(docs/protocol.md, inbound eviction)",
   .min = 0,
   .max = 10'000},
  {.name = "max_handshaking_per_host",
   .field = &cfg::max_handshaking_per_host,
   .help = "Inbound links from one address still in the handshake, at most "
           "(one more replaces that address's oldest); 0: the chain's default",
   .min = 0,
   .max = 1000},
  {.name = "ban_seconds",
   .field = &cfg::ban_seconds,
   .help = "How long a key that misbehaved too much is refused, and an "
           "address whose link misbehaved is discouraged, in seconds",
   .min = 1,
   .max = 30 * 86400},
  {.name = "max_dynamic",
   .field = &cfg::max_dynamic,
   .help = "Announced peers dialled at most",
   .min = 0,
   .max = 125},
  {.name = "listen",
   .field = &cfg::listen,
   .help = "Accept peers on HOST:PORT or [V6]:PORT (repeatable)",
   .check_value = check_listen},
  {.name = "peer",
   .field = &cfg::peers,
   .help = "Static peer PUBKEY@HOST:PORT, always dialled (repeatable)",
   .check_value = check_peer},
  {.name = "http_listen",
   .field = &cfg::http_listen,
   .help = "Serve the HTTP API, /metrics and the status page on HOST:PORT "
           "(docs/api.md); empty: no HTTP server",
   .check_value = check_http_listen,
   .shape = "HOST:PORT"},
  {.name = "http_auth",
   .field = &cfg::http_auth,
   .help = "When the HTTP API asks for the token in DATADIR/.cookie: auto "
           "(unless http_listen is a loopback address) or always",
   .choices = http_auth_modes},
  {.name = "http_threads",
   .field = &cfg::http_threads,
   .help = "HTTP worker threads kept ready (an event stream holds one); a "
           "burst of connections may start up to 16 times as many",
   .min = 1,
   .max = 64},
  {.name = "http_max_body_kb",
   .field = &cfg::http_max_body_kb,
   .help = "Largest HTTP request body in KiB (a submission of records)",
   .min = 1,
   .max = 64 * 1024},
  {.name = "http_rate",
   .field = &cfg::http_rate,
   .help = "HTTP requests per second from one client address, bursts of "
           "twice that; 0: no limit",
   .min = 0,
   .max = 1'000'000},
};

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos)
    return {};
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

/// "a, b or c".
std::string one_of(const std::vector<std::string_view>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0)
      out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

caf::error bad_key(const char* name, const std::string& what) {
  return make_error(ec::bad_config, std::string{name} + " " + what);
}

} // namespace

// -- chains -------------------------------------------------------------------

std::vector<std::string_view> chain_names() {
  return {std::begin(chains), std::end(chains)};
}

// -- keys ---------------------------------------------------------------------

std::string config_key::flag() const {
  std::string out = std::string{"--"} + name;
  for (auto& c : out)
    if (c == '_')
      c = '-';
  return out;
}

bool config_key::is_boolean() const {
  return std::holds_alternative<bool node_config::*>(field);
}

bool config_key::is_list() const {
  return std::holds_alternative<std::vector<std::string> node_config::*>(field);
}

caf::error config_key::read(const std::string& value, node_config& c) const {
  if (auto text = std::get_if<std::string node_config::*>(&field)) {
    c.*(*text) = value;
    return {};
  }
  if (auto flag = std::get_if<bool node_config::*>(&field)) {
    if (value != "true" && value != "false")
      return bad_key(name, "is true or false");
    c.*(*flag) = value == "true";
    return {};
  }
  if (auto number = std::get_if<uint64_t node_config::*>(&field)) {
    uint64_t x = 0;
    auto end = value.data() + value.size();
    auto [used, fault] = std::from_chars(value.data(), end, x);
    if (fault == std::errc::result_out_of_range && used == end)
      return bad_key(name, "is out of range: " + value + " is not within "
                             + accepted());
    if (value.empty() || fault != std::errc{} || used != end)
      return bad_key(name, "needs a number (a whole number, " + accepted()
                             + "), not '" + value + "'");
    c.*(*number) = x;
    return {};
  }
  if (value.empty())
    return bad_key(name, "needs a value");
  (c.*std::get<std::vector<std::string> node_config::*>(field))
    .push_back(value);
  return {};
}

caf::error config_key::check(const node_config& c) const {
  if (auto number = std::get_if<uint64_t node_config::*>(&field)) {
    auto v = c.*(*number);
    if (v < min || v > max)
      return bad_key(name, "must be within " + std::to_string(min) + ".."
                             + std::to_string(max));
    return {};
  }
  if (auto list = std::get_if<std::vector<std::string> node_config::*>(&field);
      list != nullptr && check_value != nullptr) {
    for (auto& value : c.*(*list))
      if (auto err = check_value(value))
        return make_error(ec::bad_config,
                          std::string{name} + ": " + message_of(err));
    return {};
  }
  auto text = std::get_if<std::string node_config::*>(&field);
  if (text != nullptr && check_value != nullptr) {
    if (auto err = check_value(c.*(*text)))
      return make_error(ec::bad_config,
                        std::string{name} + ": " + message_of(err));
    return {};
  }
  if (text == nullptr || choices == nullptr)
    return {};
  auto allowed = choices();
  auto& value = c.*(*text);
  for (auto& choice : allowed)
    if (choice == value)
      return {};
  return make_error(ec::bad_config, "unknown " + std::string{name} + " '"
                                      + value + "' (" + one_of(allowed) + ")");
}

std::vector<std::string> config_key::written(const node_config& c) const {
  if (auto text = std::get_if<std::string node_config::*>(&field))
    return {c.*(*text)};
  if (auto flag = std::get_if<bool node_config::*>(&field))
    return {c.*(*flag) ? "true" : "false"};
  if (auto number = std::get_if<uint64_t node_config::*>(&field))
    return {std::to_string(c.*(*number))};
  return c.*std::get<std::vector<std::string> node_config::*>(field);
}

std::string config_key::accepted() const {
  if (std::holds_alternative<uint64_t node_config::*>(field))
    return std::to_string(min) + ".." + std::to_string(max);
  if (is_boolean())
    return "true|false";
  if (choices == nullptr)
    return shape.empty() ? std::string{"TEXT"} : std::string{shape};
  std::string out;
  for (auto& choice : choices())
    out += (out.empty() ? "" : "|") + std::string{choice};
  return out;
}

bool config_key::is_text() const {
  return std::holds_alternative<std::string node_config::*>(field);
}

std::span<const config_key> config_keys() {
  return key_table;
}

const config_key* find_config_key(std::string_view name) {
  for (auto& k : key_table)
    if (k.name == name)
      return &k;
  return nullptr;
}

caf::error node_config::validate() const {
  for (auto& k : key_table)
    if (auto err = k.check(*this))
      return err;
  // The keys that bound each other.
  if (map_max_mb != 0 && map_max_mb < map_size_mb)
    return make_error(ec::bad_config,
                      "map_max_mb (" + std::to_string(map_max_mb)
                        + ") is below map_size_mb ("
                        + std::to_string(map_size_mb)
                        + "): the largest map must be at least the first "
                          "(or 0: only the free disk limits)");
  return {};
}

// -- the file -----------------------------------------------------------------

caf::expected<node_config> load_config(const std::string& datadir) {
  node_config out;
  out.datadir = datadir;
  std::ifstream in{out.config_path()};
  if (!in)
    return make_error(ec::bad_config, "no config at " + out.config_path()
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
    auto where = out.config_path() + ":" + std::to_string(number) + ": ";
    if (eq == std::string::npos)
      return make_error(ec::bad_config, where + "expected key = value");
    auto name = trim(line.substr(0, eq));
    auto key = find_config_key(name);
    if (key == nullptr)
      return make_error(ec::bad_config, where + "unknown key '" + name + "'");
    if (auto err = key->read(trim(line.substr(eq + 1)), out))
      return make_error(ec::bad_config, where + message_of(err));
  }
  if (auto err = out.validate())
    return err;
  return out;
}

caf::error save_config(const node_config& c) {
  std::ostringstream out;
  out
    << "# Hallmark node configuration; docs/operations.md explains each key.\n";
  for (auto& k : key_table)
    for (auto& value : k.written(c))
      out << k.name << " = " << value << "\n";
  std::ofstream file{c.config_path(), std::ios::trunc};
  errno = 0;
  file << out.str();
  if (!file.flush())
    return make_error(ec::io,
                      "cannot write " + c.config_path()
                        + (errno != 0 ? std::string{": "} + std::strerror(errno)
                                      : std::string{}));
  return {};
}

// -- the data directory -------------------------------------------------------

caf::expected<key_pair> init_datadir(const node_config& c) {
  if (auto err = c.validate())
    return err;
  std::error_code fe;
  if (fs::exists(c.config_path(), fe))
    return make_error(ec::bad_config, c.datadir + " is already initialised ("
                                        + c.config_path() + " exists)");
  bool made = true;
  if (!fs::exists(c.datadir, fe)) {
    auto parent = fs::path{c.datadir}.parent_path();
    if (!parent.empty())
      fs::create_directories(parent, fe);
    if (::mkdir(c.datadir.c_str(), 0700) != 0)
      return make_error(ec::io, "cannot create " + c.datadir + ": "
                                  + std::strerror(errno));
  } else if (!fs::is_directory(c.datadir, fe)) {
    return make_error(ec::io, c.datadir + " is not a directory");
  } else {
    made = false;
  }
  // Half a data directory (a full disk) would be taken for a whole one
  // by the next `run` or `init`: a failure takes back what was written.
  // (Only what this call made: a key or cookie found there stays.)
  std::vector<std::string> written;
  auto undo = [&](caf::error err) {
    if (made)
      fs::remove_all(c.datadir, fe);
    else
      for (auto& path : written)
        fs::remove(path, fe);
    return err;
  };
  auto identity = key_pair::generate();
  if (auto err = save_key(c.key_path(), identity))
    return undo(err);
  written.push_back(c.key_path());
  if (!fs::exists(c.cookie_path(), fe))
    written.push_back(c.cookie_path());
  if (auto token = ensure_cookie(c.cookie_path()); !token)
    return undo(token.error());
  written.push_back(c.config_path());
  if (auto err = save_config(c))
    return undo(err);
  return identity;
}

} // namespace hallmark
