// Judging peers fairly, with real node processes on loopback: what is not a
// peer's fault (a clock ahead, a deep fork, this node's own storage, others
// at the same address) charges nobody, and honest peers get a link.
#include "tests/integration/harness.hpp"
#include "tests/integration/raw_peer.hpp"

#include <memory>
#include <sstream>
#include <thread>

using namespace hallmark::test;

namespace {

/// Loopback ports of this file: 19800 and up, one block of 10 per test.
std::string addr(uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

std::string peer_arg(const node& n, uint16_t port) {
  return n.public_key() + "@" + addr(port);
}

/// Whether `n`'s log holds `text`.
bool logged(const node& n, const std::string& text) {
  return n.log().find(text) != std::string::npos;
}

/// How many handshaken links `n` evicted (lines "evicting …" but not of a
/// link in the handshake).
size_t linked_evictions(const node& n) {
  std::istringstream log{n.log()};
  size_t count = 0;
  for (std::string line; std::getline(log, line);)
    if (line.find("evicting ") != std::string::npos
        && line.find("in the handshake") == std::string::npos)
      ++count;
  return count;
}

/// How many times `n`'s log holds `text`.
size_t times_logged(const node& n, const std::string& text) {
  auto log = n.log();
  size_t count = 0;
  for (auto at = log.find(text); at != std::string::npos;
       at = log.find(text, at + text.size()))
    ++count;
  return count;
}

} // namespace

TEST_SUITE_BEGIN("judgement");

TEST_CASE("judgement: blocks from a clock ahead are not yet valid, not bad") {
  temp_dir dir;
  // a's clock runs 310 s ahead: 10 s past the 300 s devnet allows, so each
  // of its blocks is valid at b only about 10 s after it is made.
  node a{dir, "a", {"empty_block_interval_s = 1"}};
  a.set_env("HALLMARK_CLOCK_OFFSET=310");
  node b{dir, "b"};
  a.start(true, {"--listen", addr(19800)});
  // b listens, so it registers with a over each link it dials.
  b.start(false, {"--listen", addr(19801), "--peer", peer_arg(a, 19800)});
  REQUIRE(a.wait_for([](const json& s) { return s["height"] >= 3; }));
  // Refused as not valid yet, and the producer is not charged for it ...
  REQUIRE(
    b.wait_for([&](const json&) { return logged(b, "not valid yet"); }, 30s));
  // ... then accepted once b's clock has caught up.
  CHECK(b.wait_for([](const json& s) { return s["height"] >= 2; }, 40s));
  auto entry = peer_entry(b, a.public_key());
  INFO("b's entry for a: " << entry.dump() << "\nb's log:\n" << b.log());
  REQUIRE(!entry.is_null());
  CHECK(entry["link"] == "up");
  CHECK(entry["score"] == 0);
  CHECK_FALSE(logged(b, "charged"));
  // The other way round: to a, whose clock is the wrong one, b's
  // registrations look 310 s old. Refused as expired, never charged.
  CHECK(logged(b, "old at"));
  CHECK_FALSE(logged(a, "charged"));
  auto back = peer_entry(a, b.public_key());
  CHECK((back.is_null() || back["score"] == 0));
}

TEST_CASE("judgement: a heavier branch deeper than the window is policy") {
  temp_dir dir;
  node a{dir, "a", {"empty_block_interval_s = 0", "reorg_window = 5"}};
  node b{dir, "b", {"empty_block_interval_s = 0"}};
  // Apart: a builds 10 blocks, b a longer (heavier) chain of its own.
  a.start(true, {"--listen", addr(19810)});
  REQUIRE(a.wait_for([](const json& s) { return s["height"] >= 10; }));
  CHECK(a.stop() == 0);
  b.start(true, {"--listen", addr(19811)});
  REQUIRE(b.wait_for([](const json& s) { return s["height"] >= 25; }));
  CHECK(b.stop() == 0);
  b.start(false, {"--listen", addr(19811)});
  a.start(false, {"--listen", addr(19810), "--peer", peer_arg(b, 19811)});
  auto ours = a.status();
  // a does not follow b's branch (it forks at genesis, deeper than 5) and
  // says so; b is not charged and stays linked.
  REQUIRE(
    a.wait_for([](const json& s) { return s.contains("deep_fork"); }, 30s));
  auto s = a.status();
  INFO("a's status: " << s.dump() << "\na's log:\n" << a.log());
  CHECK(s["deep_fork"]["peer"] == b.public_key());
  CHECK(s["deep_fork"]["fork_height"] == 0);
  CHECK(s["deep_fork"]["depth"] == ours["height"]);
  CHECK(s["deep_fork"]["tip_height"] == b.height());
  CHECK(s["tip"] == ours["tip"]);
  CHECK(s["connector_state"] != "Connecting");
  CHECK(logged(a, "reorg_window"));
  auto entry = peer_entry(a, b.public_key());
  CHECK(entry["link"] == "up");
  CHECK(entry["score"] == 0);
  // The human form says what the operator can do.
  auto text = run({"status", "--datadir", a.datadir()});
  CHECK(text.out.find("--reorg-window") != std::string::npos);
}

TEST_CASE("judgement: an honest node links past sockets that never handshake") {
  temp_dir dir;
  // 4 slots, and up to 4 links per address in the handshake: the silent
  // sockets hold handshake slots, never the honest node's.
  node a{dir, "a", {"max_inbound = 4", "max_handshaking_per_host = 4"}};
  node b{dir, "b"};
  a.start(true, {"--listen", addr(19820)});
  std::vector<std::unique_ptr<raw_peer>> silent;
  for (int i = 0; i < 4; ++i) {
    silent.push_back(std::make_unique<raw_peer>(19820));
    REQUIRE(silent.back()->connected());
  }
  std::this_thread::sleep_for(300ms);
  auto before = std::chrono::steady_clock::now();
  b.start(false, {"--peer", peer_arg(a, 19820)});
  REQUIRE(b.wait_for([](const json& s) { return s["peers"] == 1; }, 20s));
  auto waited = std::chrono::steady_clock::now() - before;
  INFO("a's log:\n" << a.log());
  // Well under the 10 s handshake deadline that would free a slot anyway.
  CHECK(waited < 8s);
  // The other way round: a linked node keeps its slot against new silent
  // sockets, which evict each other.
  for (int i = 0; i < 6; ++i)
    silent.push_back(std::make_unique<raw_peer>(19820));
  std::this_thread::sleep_for(1s);
  CHECK(b.status()["peers"] == 1);
}

TEST_CASE("judgement: one address's sockets in the handshake are capped") {
  temp_dir dir;
  node a{dir, "a", {"max_inbound = 4", "max_handshaking_per_host = 2"}};
  a.start(false, {"--listen", addr(19830)});
  std::vector<std::unique_ptr<raw_peer>> silent;
  for (int i = 0; i < 3; ++i)
    silent.push_back(std::make_unique<raw_peer>(19830));
  // The third took the slot of the first, which the node closed.
  CHECK(silent[0]->closed_by_node(3000));
  CHECK(logged(a, "too many links of its host in the handshake"));
}

TEST_CASE("judgement: a frozen upstream is replaced by a peer with the work") {
  temp_dir dir;
  node a{dir, "a", {"empty_block_interval_s = 0"}};
  node c{dir, "c"};
  // c holds the first blocks of a's chain, a more.
  a.start(true, {"--listen", addr(19840)});
  c.start(false, {"--listen", addr(19841), "--peer", peer_arg(a, 19840)});
  REQUIRE(c.wait_for([](const json& s) { return s["height"] >= 10; }));
  CHECK(a.stop() == 0);
  a.start(false, {"--listen", addr(19840)});
  auto c_height = a.height();
  REQUIRE(c.wait_for([&](const json& s) { return s["height"] == c_height; }));
  CHECK(c.stop() == 0);
  CHECK(a.stop() == 0);
  a.start(true, {"--listen", addr(19840)});
  REQUIRE(
    a.wait_for([&](const json& s) { return s["height"] >= c_height + 10; }));
  CHECK(a.stop() == 0);
  a.start(false, {"--listen", addr(19840)});
  // b wants two links before it picks an upstream: first only a is up.
  node b{dir, "b", {"min_clients = 2"}};
  b.start(false, {"--peer", peer_arg(a, 19840), "--peer", peer_arg(c, 19841)});
  REQUIRE(b.wait_for([](const json& s) { return s["peers"] == 1; }, 20s));
  a.signal(SIGSTOP); // a freezes with the most work of b's links
  c.start(false, {"--listen", addr(19841)});
  REQUIRE(b.wait_for([](const json& s) { return s["peers"] == 2; }, 30s));
  auto linked = std::chrono::steady_clock::now();
  // b asks a first, gets no answer, and takes what c has within seconds.
  bool synced = b.wait_for(
    [&](const json& s) { return s["height"] >= c_height; }, 20s);
  auto took = std::chrono::steady_clock::now() - linked;
  a.signal(SIGCONT);
  INFO("b's log:\n" << b.log());
  CHECK(synced);
  CHECK(took < 10s);
  CHECK(logged(b, "failing over"));
  auto entry = peer_entry(b, a.public_key());
  CHECK(entry["score"] == 0);
}

TEST_CASE("judgement: peers ban, list and unban a key, kept across restarts") {
  temp_dir dir;
  node a{dir, "a"};
  node b{dir, "b"};
  a.start(true, {"--listen", addr(19850)});
  b.start(false, {"--peer", peer_arg(a, 19850)});
  REQUIRE(a.wait_for([](const json& s) { return s["peers"] == 1; }, 20s));
  auto banned = run_json(
    {"peers", "ban", b.public_key(), "--for", "600", "--datadir", a.datadir()});
  json row;
  for (auto& p : banned["peers"])
    if (p["key"] == b.public_key())
      row = p;
  REQUIRE(!row.is_null());
  CHECK(row["link"] == "banned");
  CHECK(row["banned_until"].get<uint64_t>() > 0);
  REQUIRE(a.wait_for([](const json& s) { return s["peers"] == 0; }, 10s));
  // The ban outlives a restart: b keeps dialling and is refused at the
  // handshake, never linked.
  CHECK(a.stop() == 0);
  auto linked_before = times_logged(a, "linked (inbound");
  a.start(true, {"--listen", addr(19850)});
  std::this_thread::sleep_for(3s);
  CHECK(a.status()["peers"] == 0);
  CHECK(logged(a, "refusing banned peer"));
  CHECK(times_logged(a, "linked (inbound") == linked_before);
  auto listed = run_json({"peers", "list", "--datadir", a.datadir()});
  CHECK(listed.dump().find(b.public_key()) != std::string::npos);
  CHECK(peer_entry(a, b.public_key())["link"] == "banned");
  // Lifted: b links again.
  run_json({"peers", "unban", b.public_key(), "--datadir", a.datadir()});
  CHECK(a.wait_for([](const json& s) { return s["peers"] == 1; }, 70s));
  // A key that is not 64 hex characters is a usage error.
  auto bad = run({"peers", "ban", "xyz", "--datadir", a.datadir()});
  CHECK(bad.code == 2);
}

namespace {

/// Has `n` register an asset and issue 100 × `batches` items: about 1.2 KB
/// of chain per item.

} // namespace

TEST_CASE("judgement: this node's own full map charges nobody") {
  temp_dir dir;
  node a{dir, "a"};
  a.start(true, {"--listen", addr(19860)});
  fill_chain(a, 30); // about 4 MB of chain
  auto target = a.height();
  SUBCASE("a small map grows by itself") {
    node b{dir, "b", {"map_size_mb = 1"}};
    b.start(false, {"--peer", peer_arg(a, 19860)});
    INFO("b's log:\n" << b.log());
    CHECK(b.wait_for([&](const json& s) { return s["height"] == target; }));
    CHECK(logged(b, "grown from 1 to 2 MiB"));
    CHECK(peer_entry(b, a.public_key())["score"] == 0);
    CHECK_FALSE(logged(b, "charged"));
  }
  SUBCASE("a map at its ceiling is this node's failure, said plainly") {
    node b{dir, "b", {"map_size_mb = 1", "map_max_mb = 1"}};
    b.start(false, {"--peer", peer_arg(a, 19860)});
    INFO("b's log:\n" << b.log());
    REQUIRE(
      b.wait_for([](const json& s) { return s.contains("fetch_error"); }, 30s));
    auto s = b.status(); // it still answers
    INFO("b's status: " << s.dump());
    CHECK(s["fetch_error"].get<std::string>().find("map full")
          != std::string::npos);
    CHECK(s["height"].get<uint64_t>() < target);
    auto entry = peer_entry(b, a.public_key());
    CHECK(entry["score"] == 0);
    CHECK(entry["link"] == "up");
    CHECK_FALSE(logged(b, "charged"));
    // With room again (here: a higher ceiling), it syncs to the tip.
    CHECK(b.stop() == 0);
    b.start(false, {"--peer", peer_arg(a, 19860), "--map-max-mb", "64"});
    CHECK(b.wait_for([&](const json& s) { return s["height"] == target; }));
  }
}

TEST_CASE("judgement: a discouraged address still links past silent sockets") {
  temp_dir dir;
  // One slot: 1 + 8 handshake slots, all taken by silent sockets from
  // other loopback addresses once 127.0.0.1 is discouraged.
  node a{dir, "a", {"max_inbound = 1", "max_handshaking_per_host = 2"}};
  node b{dir, "b"};
  a.start(true, {"--listen", addr(19823)});
  raw_peer garbage{19823};
  REQUIRE(garbage.connected());
  garbage.send_raw(std::vector<uint8_t>(64, 0xee));
  REQUIRE(
    a.wait_for([&](const json&) { return logged(a, "discouraged"); }, 10s));
  std::vector<std::unique_ptr<raw_peer>> silent;
  for (int i = 0; i < 9; ++i) {
    auto from = "127.0.0." + std::to_string(2 + i);
    silent.push_back(std::make_unique<raw_peer>(19823, from.c_str()));
    REQUIRE(silent.back()->connected());
  }
  std::this_thread::sleep_for(300ms);
  b.start(false, {"--peer", peer_arg(a, 19823)});
  INFO("a's log:\n" << a.log());
  CHECK(b.wait_for([](const json& s) { return s["peers"] == 1; }, 8s));
}

TEST_CASE("judgement: honest dialers beyond the slots settle; silent sockets "
          "evict no linked peer") {
  temp_dir dir;
  node a{dir, "a", {"max_inbound = 2"}};
  node b{dir, "b"};
  node c{dir, "c"};
  node d{dir, "d"};
  a.start(true, {"--listen", addr(19833)});
  b.start(false, {"--peer", peer_arg(a, 19833)});
  c.start(false, {"--peer", peer_arg(a, 19833)});
  REQUIRE(a.wait_for([](const json& s) { return s["peers"] == 2; }, 20s));
  d.start(false, {"--peer", peer_arg(a, 19833)});
  // d evicts one of them once; the evicted one redials (every devnet cycle
  // at first) and is refused for 10 minutes instead of evicting the next.
  std::this_thread::sleep_for(8s);
  INFO("a's log:\n" << a.log());
  CHECK(linked_evictions(a) <= 1);
  CHECK(a.status()["peers"] == 2);
  // Silent sockets from other addresses hold handshake slots only.
  auto before = linked_evictions(a);
  std::vector<std::unique_ptr<raw_peer>> silent;
  for (int i = 0; i < 12; ++i) {
    auto from = "127.0.0." + std::to_string(20 + i);
    silent.push_back(std::make_unique<raw_peer>(19833, from.c_str()));
  }
  std::this_thread::sleep_for(2s);
  CHECK(linked_evictions(a) == before);
  CHECK(a.status()["peers"] == 2);
}

TEST_CASE("judgement: a wrong expected key or a node listed as its own peer "
          "discourages nothing") {
  temp_dir dir;
  node a{dir, "a"};
  node b{dir, "b"};
  node c{dir, "c"};
  // b expects c's key at a's address (c re-initialised, or a typo); a is
  // also listed as its own peer.
  a.start(true, {"--listen", addr(19853), "--peer", peer_arg(a, 19853)});
  b.start(false, {"--peer", peer_arg(c, 19853)});
  REQUIRE(a.wait_for(
    [&](const json&) { return logged(a, "peer expects responder key"); }, 10s));
  std::this_thread::sleep_for(1s);
  INFO("a's log:\n" << a.log());
  CHECK(logged(a, "own key: not dialled"));
  CHECK_FALSE(logged(a, "discouraged"));
  CHECK_FALSE(logged(a, "dialling " + a.public_key().substr(0, 16)));
  // The honest node from the same address links.
  node e{dir, "e"};
  e.start(false, {"--peer", peer_arg(a, 19853)});
  CHECK(e.wait_for([](const json& s) { return s["peers"] == 1; }, 10s));
}

TEST_CASE("judgement: a flood of garbage logs a few lines per address") {
  temp_dir dir;
  node a{dir, "a"};
  a.start(false, {"--listen", addr(19863)});
  for (int i = 0; i < 300; ++i) {
    raw_peer garbage{19863};
    garbage.send_raw(std::vector<uint8_t>(64, 0xee));
  }
  std::this_thread::sleep_for(1s);
  INFO("a's log:\n" << a.log());
  CHECK(logged(a, "discouraged"));
  CHECK(times_logged(a, "127.0.0.1") < 20);
}
