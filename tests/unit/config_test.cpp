// node/config and node/keys: the configuration file and key files.
#include <doctest/doctest.h>

#include <cctype>
#include <fstream>
#include <optional>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

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
    contains(bad([](node_config& c) { c.map_size_mb = 15; }), "map_size_mb"));
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

TEST_CASE("config: save_config into a missing directory fails with ec::io") {
  temp_dir dir;
  node_config cfg;
  cfg.datadir = dir.sub("does/not/exist");
  CHECK(code(save_config(cfg)) == ec::io);
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
