// node/config and node/keys: the configuration file and key files.
#include <doctest/doctest.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "core/chain.hpp"
#include "core/keys.hpp"
#include "node/config.hpp"
#include "tests/unit/helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;

namespace {

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out{path, std::ios::trunc};
  out << text;
  REQUIRE(out.flush());
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

unsigned mode_of(const std::string& path) {
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const std::string some_key(64, 'a');

/// Two values of a list key that it accepts, then one it refuses.
std::vector<std::string> list_values(const config_key& key) {
  if (std::string_view{key.name} == "peer")
    return {some_key + "@127.0.0.1:1", some_key + "@[::1]:2",
            some_key + "@nowhere"};
  return {"127.0.0.1:1", "[::1]:2", "garbage"};
}

/// Loads a config file holding `text`; returns the error's message or "".
struct load_result {
  ec code;
  std::string message;
  std::optional<node_config> cfg;
};

load_result load_text(const temp_dir& dir, const std::string& text) {
  node_config where;
  where.datadir = dir.str();
  write_file(where.config_path(), text);
  auto cfg = load_config(dir.str());
  if (!cfg)
    return {code_of(cfg.error()), message_of(cfg.error()), std::nullopt};
  return {ec::none, "", *cfg};
}

} // namespace

TEST_SUITE_BEGIN("config");

// -- config -------------------------------------------------------------------

TEST_CASE("config: the defaults are valid and the paths live in datadir") {
  node_config cfg;
  cfg.datadir = "/data";
  CHECK_FALSE(cfg.validate());
  CHECK(cfg.chain == "devnet");
  CHECK_FALSE(cfg.produce);
  CHECK(cfg.config_path() == "/data/hallmark.conf");
  CHECK(cfg.key_path() == "/data/identity.key");
  CHECK(cfg.chain_dir() == "/data/chain");
  CHECK(cfg.local_dir() == "/data/local");
  CHECK(cfg.socket_path() == "/data/admin.sock");
  CHECK(cfg.lock_path() == "/data/lock");
}

TEST_CASE("config: validate names the key out of range") {
  auto bad = [](auto mutate) {
    node_config cfg;
    mutate(cfg);
    auto err = cfg.validate();
    CHECK(code(err) == ec::bad_config);
    return message_of(err);
  };
  CHECK(contains(bad([](node_config& c) { c.chain = "moon"; }), "moon"));
  CHECK(
    contains(bad([](node_config& c) { c.reorg_window = 0; }), "reorg_window"));
  CHECK(contains(bad([](node_config& c) { c.reorg_window = 10'001; }),
                 "reorg_window"));
  CHECK(
    contains(bad([](node_config& c) { c.map_size_mb = 0; }), "map_size_mb"));
  CHECK(contains(bad([](node_config& c) { c.verify_threads = 257; }),
                 "verify_threads"));
  CHECK(
    contains(bad([](node_config& c) { c.flush_blocks = 0; }), "flush_blocks"));
  node_config edge;
  edge.reorg_window = 10'000;
  edge.min_block_interval_ms = 0;
  edge.verify_threads = 0;
  edge.map_size_mb = 16;
  CHECK_FALSE(edge.validate());
  for (auto chain : {"devnet", "testnet", "mainnet"}) {
    node_config c;
    c.chain = chain;
    CHECK_FALSE(c.validate());
  }
}

TEST_CASE("config: save then load gives back every key") {
  temp_dir dir;
  node_config cfg;
  cfg.datadir = dir.str();
  cfg.chain = "testnet";
  cfg.produce = true;
  cfg.reorg_window = 42;
  cfg.flush_blocks = 7;
  cfg.flush_interval_ms = 1234;
  cfg.pending_expiry_s = 99;
  cfg.asset_expiry_s = 98;
  cfg.max_pending_issues = 5;
  cfg.max_pending_transactions = 6;
  cfg.min_block_interval_ms = 0;
  cfg.empty_block_interval_s = 3;
  cfg.verify_threads = 2;
  cfg.map_size_mb = 64;
  REQUIRE_FALSE(save_config(cfg));
  auto back = load_config(dir.str());
  REQUIRE_MESSAGE(static_cast<bool>(back),
                  (back ? "" : message_of(back.error())));
  CHECK(back->datadir == dir.str());
  CHECK(back->chain == "testnet");
  CHECK(back->produce);
  CHECK(back->reorg_window == 42);
  CHECK(back->flush_blocks == 7);
  CHECK(back->flush_interval_ms == 1234);
  CHECK(back->pending_expiry_s == 99);
  CHECK(back->asset_expiry_s == 98);
  CHECK(back->max_pending_issues == 5);
  CHECK(back->max_pending_transactions == 6);
  CHECK(back->min_block_interval_ms == 0);
  CHECK(back->empty_block_interval_s == 3);
  CHECK(back->verify_threads == 2);
  CHECK(back->map_size_mb == 64);
  // Saving again overwrites rather than appends.
  cfg.reorg_window = 43;
  REQUIRE_FALSE(save_config(cfg));
  auto again = load_config(dir.str());
  REQUIRE(static_cast<bool>(again));
  CHECK(again->reorg_window == 43);
}

TEST_CASE("config: comments, blank lines and spaces are ignored") {
  temp_dir dir;
  auto r = load_text(dir, "# a comment\n"
                          "\n"
                          "   \t\n"
                          "chain=mainnet   # trailing comment\n"
                          "  reorg_window   =   250  \r\n"
                          "produce = true\n");
  REQUIRE_MESSAGE(r.code == ec::none, r.message);
  CHECK(r.cfg->chain == "mainnet");
  CHECK(r.cfg->reorg_window == 250);
  CHECK(r.cfg->produce);
  CHECK(r.cfg->flush_blocks == node_config{}.flush_blocks); // untouched
}

TEST_CASE("config: an empty file gives the defaults") {
  temp_dir dir;
  auto r = load_text(dir, "");
  REQUIRE(r.code == ec::none);
  CHECK(r.cfg->chain == "devnet");
  CHECK(r.cfg->reorg_window == node_config{}.reorg_window);
}

TEST_CASE("config: a missing file is an error that says what to do") {
  temp_dir dir;
  auto cfg = load_config(dir.str());
  REQUIRE_FALSE(cfg);
  CHECK(code_of(cfg.error()) == ec::bad_config);
  CHECK(contains(message_of(cfg.error()), "hallmark init"));
}

TEST_CASE("config: errors name the file and the line") {
  temp_dir dir;
  auto path = dir.str() + "/hallmark.conf";
  SUBCASE("unknown key") {
    auto r = load_text(dir, "chain = devnet\n\n# note\nbogus = 1\n");
    CHECK(r.code == ec::bad_config);
    CHECK(contains(r.message, path + ":4:"));
    CHECK(contains(r.message, "unknown key 'bogus'"));
  }
  SUBCASE("no equals sign") {
    auto r = load_text(dir, "chain devnet\n");
    CHECK(r.code == ec::bad_config);
    CHECK(contains(r.message, path + ":1:"));
    CHECK(contains(r.message, "key = value"));
  }
  SUBCASE("not a number") {
    auto r = load_text(dir, "chain = devnet\nreorg_window = 12x\n");
    CHECK(r.code == ec::bad_config);
    CHECK(contains(r.message, path + ":2:"));
    CHECK(contains(r.message, "reorg_window needs a number"));
  }
  SUBCASE("empty number") {
    auto r = load_text(dir, "flush_blocks =\n");
    CHECK(r.code == ec::bad_config);
    CHECK(contains(r.message, path + ":1:"));
  }
  SUBCASE("number too big for 64 bits") {
    auto r = load_text(dir, "\n\n\nflush_blocks = 99999999999999999999\n");
    CHECK(r.code == ec::bad_config);
    CHECK(contains(r.message, path + ":4:"));
    CHECK(contains(r.message, "flush_blocks is out of range"));
    CHECK(contains(r.message, "1..1000000"));
  }
  SUBCASE("a listen address that is not HOST:PORT") {
    auto r = load_text(dir, "listen = garbage\n");
    CHECK(r.code == ec::bad_config);
    CHECK(contains(r.message, "listen"));
    CHECK(contains(r.message, "'garbage'"));
  }
  SUBCASE("a peer that is not KEY@HOST:PORT") {
    auto r = load_text(dir, "peer = zz\n");
    CHECK(r.code == ec::bad_config);
    CHECK(contains(r.message, "peer"));
    CHECK(contains(r.message, "'zz'"));
  }
  SUBCASE("produce is not a boolean") {
    auto r = load_text(dir, "produce = yes\n");
    CHECK(r.code == ec::bad_config);
    CHECK(contains(r.message, path + ":1:"));
    CHECK(contains(r.message, "produce"));
  }
}

TEST_CASE("config: values out of range and unknown chains are refused") {
  temp_dir dir;
  auto r = load_text(dir, "reorg_window = 0\n");
  CHECK(r.code == ec::bad_config);
  CHECK(contains(r.message, "reorg_window"));
  r = load_text(dir, "map_size_mb = 99999999999\n");
  CHECK(r.code == ec::bad_config);
  CHECK(contains(r.message, "map_size_mb"));
  r = load_text(dir, "verify_threads = -1\n");
  CHECK(r.code == ec::bad_config);
  CHECK(contains(r.message, "verify_threads"));
  r = load_text(dir, "chain = moon\n");
  CHECK(r.code == ec::bad_config);
  CHECK(contains(r.message, "moon"));
}

TEST_CASE("config: map_max_mb below map_size_mb is refused, naming both") {
  temp_dir dir;
  auto r = load_text(dir, "map_size_mb = 100\nmap_max_mb = 8\n");
  CHECK(r.code == ec::bad_config);
  CHECK(contains(r.message, "map_max_mb (8)"));
  CHECK(contains(r.message, "map_size_mb (100)"));
  node_config cfg;
  cfg.map_size_mb = 100;
  cfg.map_max_mb = 8;
  CHECK(code(cfg.validate()) == ec::bad_config);
  for (uint64_t ok : {0, 100, 101}) {
    cfg.map_max_mb = ok;
    CHECK_FALSE(cfg.validate());
  }
}

TEST_CASE("config: save_config into a missing directory fails with ec::io") {
  temp_dir dir;
  node_config cfg;
  cfg.datadir = dir.sub("does/not/exist");
  CHECK(code(save_config(cfg)) == ec::io);
}

// -- the key table ------------------------------------------------------------

TEST_CASE("config: every key is declared once, with a flag, a help and a "
          "default it accepts") {
  std::set<std::string> names, flags;
  node_config defaults;
  for (auto& key : config_keys()) {
    CAPTURE(key.name);
    CHECK(names.insert(key.name).second);
    CHECK(flags.insert(key.flag()).second);
    CHECK(key.flag().rfind("--", 0) == 0);
    CHECK(key.flag().find('_') == std::string::npos);
    CHECK(std::string{key.help}.size() > 10);
    CHECK(find_config_key(key.name) == &key);
    CHECK(key.min <= key.max);
    CHECK_FALSE(key.check(defaults));
    CHECK_FALSE(key.accepted().empty());
  }
  // Every field of node_config but datadir is a key.
  CHECK(names.size() == 33);
  CHECK(find_config_key("datadir") == nullptr);
  CHECK(find_config_key("peers") == nullptr); // the key is `peer`
  CHECK(find_config_key("reorg_window")->flag() == "--reorg-window");
  CHECK(find_config_key("reorg_window")->accepted() == "1..10000");
  CHECK(find_config_key("chain")->accepted() == "devnet|testnet|mainnet");
  CHECK(find_config_key("produce")->is_boolean());
  CHECK(find_config_key("listen")->is_list());
  CHECK(find_config_key("peer")->is_list());
  CHECK_FALSE(find_config_key("chain")->is_list());
}

namespace {

/// Values a text key (with a check, without choices) takes and refuses,
/// and what its help says it takes; the last good value is not its default.
struct text_sample {
  std::vector<std::string> good;
  std::vector<std::string> bad;
  std::string accepted;
};

text_sample text_samples(const config_key& key) {
  if (std::string_view{key.name} == "assume_valid")
    return {{"0", "00112233445566778899aabbccddeeff"
                  "00112233445566778899aabbccddeeff"},
            {"", "moon", "1", "0011"},
            "0|BLOCKHASH"};
  REQUIRE(std::string_view{key.name} == "http_listen");
  // Empty: no HTTP server.
  return {{"", "[::1]:80", "127.0.0.1:1"},
          {"moon", "127.0.0.1", "127.0.0.1:70000", ":"},
          "HOST:PORT"};
}

} // namespace

TEST_CASE("config: each key reads values of its type and checks its range") {
  for (auto& key : config_keys()) {
    CAPTURE(key.name);
    node_config cfg;
    if (key.is_list()) {
      auto values = list_values(key);
      CHECK(code(key.read("", cfg)) == ec::bad_config);
      REQUIRE_FALSE(key.read(values[0], cfg));
      REQUIRE_FALSE(key.read(values[1], cfg));
      CHECK(key.written(cfg) == std::vector<std::string>{values[0], values[1]});
      CHECK_FALSE(key.check(cfg));
      REQUIRE_FALSE(key.read(values[2], cfg));
      auto err = key.check(cfg);
      CHECK(code(err) == ec::bad_config);
      CHECK(contains(message_of(err), key.name));
    } else if (key.is_boolean()) {
      for (auto bad : {"yes", "1", "", "True"}) {
        auto err = key.read(bad, cfg);
        CHECK(code(err) == ec::bad_config);
        CHECK(contains(message_of(err), key.name));
      }
      REQUIRE_FALSE(key.read("true", cfg));
      CHECK(key.written(cfg) == std::vector<std::string>{"true"});
      REQUIRE_FALSE(key.read("false", cfg));
      CHECK(key.written(cfg) == std::vector<std::string>{"false"});
    } else if (key.choices != nullptr) {
      for (auto choice : key.choices()) {
        REQUIRE_FALSE(key.read(std::string{choice}, cfg));
        CHECK_FALSE(key.check(cfg));
      }
      REQUIRE_FALSE(key.read("moon", cfg));
      auto err = key.check(cfg);
      CHECK(code(err) == ec::bad_config);
      CHECK(contains(message_of(err), "'moon'"));
    } else if (key.is_text()) {
      REQUIRE((key.check_value != nullptr));
      auto sample = text_samples(key);
      for (auto& good : sample.good) {
        REQUIRE_FALSE(key.read(good, cfg));
        CHECK_FALSE(key.check(cfg));
      }
      for (auto& bad : sample.bad) {
        CAPTURE(bad);
        REQUIRE_FALSE(key.read(bad, cfg));
        auto err = key.check(cfg);
        CHECK(code(err) == ec::bad_config);
        CHECK(contains(message_of(err), key.name));
      }
      CHECK(key.accepted() == sample.accepted);
    } else {
      for (auto bad : {"", "12x", "-1", "+1", " 1", "0x10", "1e3"}) {
        CAPTURE(bad);
        auto err = key.read(bad, cfg);
        CHECK(code(err) == ec::bad_config);
        CHECK(contains(message_of(err), std::string{key.name}
                                          + " needs a "
                                            "number"));
      }
      // Too big for 64 bits: out of range, with the range.
      auto err = key.read("99999999999999999999", cfg);
      CHECK(code(err) == ec::bad_config);
      CHECK(
        contains(message_of(err), std::string{key.name} + " is out of range"));
      CHECK(contains(message_of(err), key.accepted()));
      for (auto edge : {key.min, key.max}) {
        REQUIRE_FALSE(key.read(std::to_string(edge), cfg));
        CHECK(key.written(cfg)
              == std::vector<std::string>{std::to_string(edge)});
        CHECK_FALSE(key.check(cfg));
      }
      REQUIRE_FALSE(key.read(std::to_string(key.max + 1), cfg));
      CHECK(contains(message_of(key.check(cfg)), key.name));
      if (key.min > 0) {
        REQUIRE_FALSE(key.read(std::to_string(key.min - 1), cfg));
        CHECK(contains(message_of(key.check(cfg)), key.name));
      }
    }
  }
}

TEST_CASE("config: save then load gives back every key of the table") {
  temp_dir dir;
  node_config cfg;
  cfg.datadir = dir.str();
  // A value other than the default for every key.
  uint64_t step = 0;
  for (auto& key : config_keys()) {
    if (key.is_list()) {
      REQUIRE_FALSE(key.read(list_values(key)[0], cfg));
      REQUIRE_FALSE(key.read(list_values(key)[1], cfg));
    } else if (key.is_boolean()) {
      REQUIRE_FALSE(key.read("true", cfg));
    } else if (key.choices != nullptr) {
      // The last choice is never the default (devnet, auto).
      REQUIRE_FALSE(key.read(std::string{key.choices().back()}, cfg));
    } else if (key.is_text()) {
      REQUIRE_FALSE(key.read(text_samples(key).good.back(), cfg));
    } else {
      auto value = key.min + 1 + (++step) % (key.max - key.min);
      REQUIRE_FALSE(key.read(std::to_string(value), cfg));
    }
    REQUIRE(key.written(cfg) != key.written(node_config{}));
  }
  REQUIRE_FALSE(cfg.validate());
  REQUIRE_FALSE(save_config(cfg));
  auto back = load_config(dir.str());
  REQUIRE_MESSAGE(static_cast<bool>(back),
                  (back ? "" : message_of(back.error())));
  for (auto& key : config_keys()) {
    CAPTURE(key.name);
    CHECK(key.written(*back) == key.written(cfg));
  }
}

TEST_CASE("config: a later line for a key wins; a list key adds up") {
  temp_dir dir;
  auto r = load_text(dir, "reorg_window = 5\n"
                          "listen = 127.0.0.1:1\n"
                          "reorg_window = 6\n"
                          "produce = true\n"
                          "produce = false\n"
                          "listen = [::1]:2\n"
                          "peer = "
                            + some_key + "@127.0.0.1:3\n");
  REQUIRE_MESSAGE(r.code == ec::none, r.message);
  CHECK(r.cfg->reorg_window == 6);
  CHECK_FALSE(r.cfg->produce);
  CHECK(r.cfg->listen == std::vector<std::string>{"127.0.0.1:1", "[::1]:2"});
  CHECK(r.cfg->peers == std::vector<std::string>{some_key + "@127.0.0.1:3"});
  auto empty = load_text(dir, "\n\nlisten =\n");
  CHECK(empty.code == ec::bad_config);
  CHECK(contains(empty.message, dir.str() + "/hallmark.conf:3:"));
  CHECK(contains(empty.message, "listen needs a value"));
}

TEST_CASE("config: every chain a node may follow has its parameters") {
  auto names = chain_names();
  CHECK(names == std::vector<std::string_view>{"devnet", "testnet", "mainnet"});
  CHECK(names.front() == devnet_chain);
  CHECK(node_config{}.chain == devnet_chain);
  for (auto name : names) {
    CAPTURE(name);
    CHECK(find_chain(name) != nullptr);
  }
}

// -- the data directory -------------------------------------------------------

TEST_CASE("config: init_datadir makes the directory, key and config once") {
  temp_dir dir;
  node_config cfg;
  cfg.datadir = dir.sub("parent/node");
  cfg.produce = true;
  cfg.listen = {"127.0.0.1:9"};
  auto identity = init_datadir(cfg);
  REQUIRE_MESSAGE(static_cast<bool>(identity),
                  (identity ? "" : message_of(identity.error())));
  CHECK(mode_of(cfg.datadir) == 0700);
  CHECK(mode_of(cfg.key_path()) == 0600);
  auto key = load_key(cfg.key_path());
  REQUIRE(static_cast<bool>(key));
  CHECK(key->public_key_bytes() == identity->public_key_bytes());
  auto back = load_config(cfg.datadir);
  REQUIRE(static_cast<bool>(back));
  CHECK(back->produce);
  CHECK(back->listen == cfg.listen);
  // Never twice: the key and the config stay as they are.
  auto again = init_datadir(cfg);
  REQUIRE_FALSE(again);
  CHECK(code_of(again.error()) == ec::bad_config);
  CHECK(contains(message_of(again.error()), "already initialised"));
  CHECK(load_key(cfg.key_path())->public_key_bytes()
        == identity->public_key_bytes());
  // An existing empty directory is fine.
  node_config existing;
  existing.datadir = dir.sub("empty");
  REQUIRE(::mkdir(existing.datadir.c_str(), 0755) == 0);
  CHECK(static_cast<bool>(init_datadir(existing)));
}

TEST_CASE("config: init_datadir refuses bad values and non-directories") {
  temp_dir dir;
  node_config bad;
  bad.datadir = dir.sub("bad");
  bad.reorg_window = 0;
  CHECK(code(init_datadir(bad)) == ec::bad_config);
  CHECK_FALSE(std::filesystem::exists(bad.datadir));
  node_config file;
  file.datadir = dir.sub("file");
  write_file(file.datadir, "not a directory\n");
  CHECK(code(init_datadir(file)) == ec::io);
}

TEST_CASE("config: init_datadir on a full disk leaves nothing behind") {
  // Half a data directory (a key, an empty config) would be taken for a
  // whole one: `init` refuses it as initialised, `run` starts from it.
  small_disk disk{1 << 20};
  if (!disk.why_not().empty()) {
    MESSAGE("skipped: " << disk.why_not());
    return;
  }
  int refused = 0;
  for (uint64_t leave : {0, 4096, 8192, 12288, 65536}) {
    CAPTURE(leave);
    auto filler = disk.fill(leave);
    node_config made;
    made.datadir = disk.sub("made-" + std::to_string(leave));
    node_config found;
    found.datadir = disk.sub("found-" + std::to_string(leave));
    std::filesystem::create_directory(found.datadir);
    for (auto* cfg : {&made, &found}) {
      auto identity = init_datadir(*cfg);
      if (identity) {
        CHECK(load_key(cfg->key_path())->public_key_bytes()
              == identity->public_key_bytes());
        CHECK(static_cast<bool>(load_config(cfg->datadir)));
        continue;
      }
      ++refused;
      CHECK(code_of(identity.error()) == ec::io);
      if (cfg == &made)
        CHECK_FALSE(std::filesystem::exists(made.datadir));
      else
        CHECK(std::filesystem::is_empty(found.datadir));
    }
    std::filesystem::remove(filler);
  }
  CHECK(refused > 0);
}

// -- keys ---------------------------------------------------------------------

TEST_CASE("keys: save then load gives the same key, in a 0600 file") {
  temp_dir dir;
  auto path = dir.sub("identity.key");
  auto kp = seeded_key(0x01);
  REQUIRE_FALSE(save_key(path, kp));
  CHECK(mode_of(path) == 0600);
  CHECK(read_file(path) == to_hex(counting_seed(0x01)) + "\n");
  auto back = load_key(path);
  REQUIRE(static_cast<bool>(back));
  CHECK(back->public_key_bytes() == kp.public_key_bytes());
  CHECK(back->seed() == kp.seed());
}

TEST_CASE("keys: save_key refuses to overwrite a file") {
  temp_dir dir;
  auto path = dir.sub("identity.key");
  REQUIRE_FALSE(save_key(path, seeded_key(0x01)));
  CHECK(code(save_key(path, seeded_key(0x02))) == ec::io);
  auto back = load_key(path);
  REQUIRE(static_cast<bool>(back));
  CHECK(back->public_key_bytes() == seeded_key(0x01).public_key_bytes());
  // Any existing file, not only key files.
  auto other = dir.sub("notes.txt");
  write_file(other, "keep me\n");
  CHECK(code(save_key(other, seeded_key(0x01))) == ec::io);
  CHECK(read_file(other) == "keep me\n");
  CHECK(code(save_key(dir.sub("missing/dir/key"), seeded_key(1))) == ec::io);
}

TEST_CASE("keys: load_key refuses a file others can read or write") {
  temp_dir dir;
  auto path = dir.sub("identity.key");
  REQUIRE_FALSE(save_key(path, seeded_key(0x01)));
  for (unsigned mode : {0644u, 0640u, 0604u, 0660u, 0602u, 0620u}) {
    CAPTURE(mode);
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    auto k = load_key(path);
    REQUIRE_FALSE(k);
    CHECK(code_of(k.error()) == ec::io);
    CHECK(contains(message_of(k.error()), "chmod 600"));
  }
  REQUIRE(::chmod(path.c_str(), 0400) == 0);
  CHECK(static_cast<bool>(load_key(path))); // owner-only read is fine
}

TEST_CASE("keys: load_key refuses missing and malformed files") {
  temp_dir dir;
  CHECK(code(load_key(dir.sub("absent.key"))) == ec::io);
  auto bad = [&](const std::string& text) {
    auto path = dir.sub("bad.key");
    ::unlink(path.c_str());
    write_file(path, text);
    REQUIRE(::chmod(path.c_str(), 0600) == 0);
    return code(load_key(path));
  };
  auto seed = to_hex(counting_seed(0x01));
  CHECK(bad("") == ec::io);
  CHECK(bad("not hex at all\n") == ec::io);
  CHECK(bad(seed.substr(2) + "\n") == ec::io); // 31 bytes
  CHECK(bad(seed + "00\n") == ec::io);         // 33 bytes
  CHECK(bad("zz" + seed.substr(2) + "\n") == ec::io);
  // Trailing whitespace and CRLF are tolerated; case does not matter.
  CHECK(bad(seed + "\r\n") == ec::none);
  CHECK(bad(seed + "  \n\n") == ec::none);
  std::string upper = seed;
  for (auto& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(bad(upper) == ec::none);
}

TEST_SUITE_END();
