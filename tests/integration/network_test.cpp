// The network with real node processes on loopback: convergence, sync,
// forks, record propagation, and hostile peers.
#include "tests/integration/harness.hpp"
#include "tests/integration/raw_peer.hpp"

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "core/log.hpp"
#include "messages/registration_capnp.hpp"

using namespace hallmark::test;
using hallmark::key_pair;

namespace {

/// Loopback ports of this file: 19700 and up, one block of 10 per test.
std::string addr(uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

std::string peer_arg(const node& n, uint16_t port) {
  return n.public_key() + "@" + addr(port);
}

/// Waits until every node reports the same tip, at least `height`.
bool converged(const std::vector<const node*>& nodes, uint64_t height,
               std::chrono::seconds limit = 60s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    std::set<std::string> tips;
    bool high = true;
    for (auto* n : nodes) {
      auto r = run({"status", "--datadir", n->datadir(), "--json"});
      if (r.code != 0) {
        high = false;
        break;
      }
      auto j = r.js();
      tips.insert(j["tip"].get<std::string>());
      high = high && j["height"].get<uint64_t>() >= height;
    }
    if (high && tips.size() == 1)
      return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

std::vector<std::string> issue_items(const node& n, const std::string& fp,
                                     int count) {
  std::string asset = run_json({"asset", "register", "--datadir", n.datadir(),
                                "--name", "net " + fp, "--fingerprint",
                                fp})["asset_id"];
  return run_json({"issue", "--datadir", n.datadir(), "--asset", asset,
                   "--count", std::to_string(count)})["items"]
    .get<std::vector<std::string>>();
}

} // namespace

TEST_CASE("network: three nodes converge and a late node syncs from zero") {
  temp_dir dir;
  node a{dir, "a", {"empty_block_interval_s = 0"}};
  node b{dir, "b"};
  node c{dir, "c"};
  a.start(true, {"--listen", addr(19700)});
  b.start(false, {"--listen", addr(19701), "--peer", peer_arg(a, 19700)});
  c.start(false, {"--listen", addr(19702), "--peer", peer_arg(a, 19700)});
  REQUIRE(a.wait_for([](const json& s) { return s["height"] >= 20; }));
  CHECK(converged({&a, &b, &c}, 20));
  auto bs = b.status();
  CHECK(bs["connector_state"].get<std::string>().size() > 0);
  CHECK(bs["peers"].get<uint64_t>() >= 1);

  // Stop producing, then a fourth node joins late and syncs everything.
  CHECK(a.stop() == 0);
  a.start(false, {"--listen", addr(19700)});
  auto target = a.height();
  node d{dir, "d"};
  d.start(false, {"--peer", peer_arg(a, 19700)});
  CHECK(converged({&a, &b, &c, &d}, target));
  CHECK(d.height() == target);
}

TEST_CASE("network: a record sent to one node reaches every node") {
  temp_dir dir;
  node a{dir, "a"};
  node b{dir, "b"};
  node c{dir, "c"};
  a.start(true, {"--listen", addr(19710)});
  b.start(false, {"--listen", addr(19711), "--peer", peer_arg(a, 19710)});
  c.start(false, {"--listen", addr(19712), "--peer", peer_arg(a, 19710)});
  REQUIRE(c.wait_for([](const json& s) { return s["peers"] >= 1; }));
  REQUIRE(b.wait_for([](const json& s) { return s["peers"] >= 1; }));
  auto bob = run_json({"keys", "new", "--out", dir / "bob.key"});
  // Submitted at c, which does not produce: it travels to a, into a block,
  // and the block travels to b and c.
  auto items = issue_items(c, "net-record-1", 2);
  auto first = settled_item(c, items[0]);
  auto t = run_json({"transfer", "--datadir", c.datadir(), "--item", items[0],
                     "--to", bob["public_key"]});
  auto want = settled_item(c, items[0]);
  CHECK(want["provenance"].size() == 2);
  CHECK(want["provenance"][0]["record"] == t["record"]);
  for (auto* n : {&a, &b}) {
    auto j = settled_item(*n, items[0]);
    CHECK(j == want);
  }
  (void)first;
}

TEST_CASE("network: two producers fork, every node ends on the most work") {
  temp_dir dir;
  node a{dir, "a", {"empty_block_interval_s = 0"}};
  node b{dir, "b", {"empty_block_interval_s = 0"}};
  // Apart: a builds a longer chain than b.
  a.start(true, {"--listen", addr(19720)});
  b.start(true, {"--listen", addr(19721)});
  REQUIRE(b.wait_for([](const json& s) { return s["height"] >= 5; }));
  CHECK(b.stop() == 0);
  REQUIRE(a.wait_for([](const json& s) { return s["height"] >= 15; }));
  CHECK(a.stop() == 0);
  a.start(false, {"--listen", addr(19720)});
  auto a_tip = a.status();
  b.start(false, {"--listen", addr(19721), "--peer", peer_arg(a, 19720)});
  node c{dir, "c"};
  c.start(false, {"--peer", peer_arg(b, 19721)});
  CHECK(converged({&a, &b, &c}, a_tip["height"].get<uint64_t>()));
  CHECK(b.status()["tip"] == a_tip["tip"]);
  CHECK(c.status()["tip"] == a_tip["tip"]);
}

TEST_CASE("network: a node restarted during sync resumes where it was") {
  temp_dir dir;
  node a{dir, "a", {"empty_block_interval_s = 0"}};
  a.start(true, {"--listen", addr(19730)});
  REQUIRE(a.wait_for([](const json& s) { return s["height"] >= 10; }));
  node d{dir, "d"};
  d.start(false, {"--peer", peer_arg(a, 19730)});
  REQUIRE(d.wait_for([](const json& s) { return s["height"] >= 10; }));
  d.kill9();
  auto log_before = d.log().size();
  auto had = run_json({"status", "--datadir", a.datadir()});
  REQUIRE(a.wait_for([&](const json& s) {
    return s["height"] > had["height"].get<uint64_t>() + 10;
  }));
  CHECK(a.stop() == 0);
  a.start(false, {"--listen", addr(19730)});
  d.start(false, {"--peer", peer_arg(a, 19730)});
  CHECK(converged({&a, &d}, a.height()));
  // It fetched only what it lacked.
  auto log = d.log().substr(log_before);
  CHECK(log.find("fetching blocks") != std::string::npos);
  CHECK(log.find("fetching blocks 1..") == std::string::npos);
}

TEST_CASE("network: wrong keys, chains and registrations are refused") {
  temp_dir dir;
  node a{dir, "a"};
  a.start(false, {"--listen", addr(19740)});
  auto node_key = *hallmark::from_hex_fixed<32>(a.public_key());
  auto me = key_pair::generate();

  SUBCASE("a dialer expecting another key") {
    node b{dir, "b"};
    auto wrong = std::string(64, '7');
    b.start(false, {"--peer", wrong + "@" + addr(19740)});
    // Wait (bounded) until a has refused at least one attempt.
    for (int i = 0; i < 300 && a.log().find("handshake") == std::string::npos;
         ++i)
      std::this_thread::sleep_for(100ms);
    CHECK(a.log().find("handshake") != std::string::npos);
    auto peers = run_json({"peers", "--datadir", b.datadir()});
    for (auto& p : peers["peers"])
      CHECK(p["link"] != "up");
    CHECK(b.status()["peers"] == 0);
  }
  SUBCASE("another chain") {
    raw_peer p{19740};
    REQUIRE(p.connected());
    auto err = p.handshake_with(node_key, me, "testnet");
    CHECK(hallmark::code_of(err) == hallmark::ec::wrong_chain);
  }
  SUBCASE("registrations: bad signature, stale, foreign chain, other key") {
    raw_peer p{19740};
    REQUIRE(p.connected());
    REQUIRE(!p.handshake_with(node_key, me));
    auto now = hallmark::unix_now();
    auto good = hallmark::make_registration("devnet", {addr(19749)}, now, me);
    auto bad_sig = good;
    bad_sig.sig[0] ^= 1;
    auto stale = hallmark::make_registration("devnet", {addr(19749)},
                                             now - 86400, me);
    auto foreign = hallmark::make_registration("testnet", {addr(19749)}, now,
                                               me);
    auto other = hallmark::make_registration("devnet", {addr(19749)}, now,
                                             key_pair::generate());
    uint64_t id = 1;
    for (auto* reg : {&bad_sig, &stale, &foreign, &other}) {
      p.send_envelope(id, [&](hallmark::schema::Envelope::Builder e) {
        hallmark::write(e.initRegister(), *reg);
      });
      auto reply = p.response_to(id);
      REQUIRE(reply);
      capnp::FlatArrayMessageReader r{hallmark::words_of(*reply)};
      auto env = r.getRoot<hallmark::schema::Envelope>();
      CHECK(env.which() == hallmark::schema::Envelope::ERROR);
      ++id;
    }
    // The genuine one is taken.
    p.send_envelope(id, [&](hallmark::schema::Envelope::Builder e) {
      hallmark::write(e.initRegister(), good);
    });
    auto reply = p.response_to(id);
    REQUIRE(reply);
    capnp::FlatArrayMessageReader r{hallmark::words_of(*reply)};
    CHECK(r.getRoot<hallmark::schema::Envelope>().which()
          == hallmark::schema::Envelope::PEERS);
  }
}

TEST_CASE("network: garbage and oversized frames close only that link") {
  temp_dir dir;
  node a{dir, "a", {"empty_block_interval_s = 0"}};
  node b{dir, "b"};
  a.start(true, {"--listen", addr(19750)});
  b.start(false, {"--peer", peer_arg(a, 19750)});
  REQUIRE(b.wait_for([](const json& s) { return s["height"] >= 3; }));
  std::mt19937 rng{7};
  {
    raw_peer p{19750};
    REQUIRE(p.connected());
    std::vector<uint8_t> junk(2048);
    for (auto& x : junk)
      x = static_cast<uint8_t>(rng());
    junk[0] = 200; // a plausible handshake length, then garbage
    junk[1] = junk[2] = junk[3] = 0;
    p.send_raw(junk);
    CHECK(p.closed_by_node());
  }
  {
    raw_peer p{19750};
    REQUIRE(p.connected());
    p.send_raw({0xff, 0xff, 0xff, 0x7f}); // a 2 GB frame
    CHECK(p.closed_by_node());
  }
  {
    // Past the handshake: a frame that does not decrypt.
    raw_peer p{19750};
    REQUIRE(p.connected());
    REQUIRE(!p.handshake_with(*hallmark::from_hex_fixed<32>(a.public_key()),
                              key_pair::generate()));
    std::vector<uint8_t> junk(100);
    for (auto& x : junk)
      x = static_cast<uint8_t>(rng());
    p.send_frame(junk);
    CHECK(p.closed_by_node());
  }
  {
    // Three links from this host ended in misbehaviour: the host is only
    // discouraged, and another key from it links while there is room.
    raw_peer p{19750};
    REQUIRE(p.connected());
    auto err = p.handshake_with(*hallmark::from_hex_fixed<32>(a.public_key()),
                                key_pair::generate());
    CHECK_FALSE(err);
    CHECK(a.log().find("discouraged") != std::string::npos);
    // No key was proven by the bad links, so none was charged.
    CHECK(a.log().find("peer 0000000000000000") == std::string::npos);
  }
  // b kept its link and keeps following a.
  auto h = b.height();
  CHECK(b.wait_for([&](const json& s) {
    return s["height"].get<uint64_t>() > h + 3 && s["peers"] == 1;
  }));
}

TEST_CASE("network: an upstream serving bad blocks is dropped for another") {
  temp_dir dir;
  node a{dir, "a", {"empty_block_interval_s = 0"}};
  a.start(true, {"--listen", addr(19760)});
  REQUIRE(a.wait_for([](const json& s) { return s["height"] >= 10; }));
  CHECK(a.stop() == 0);
  a.start(false, {"--listen", addr(19760)});
  auto target = a.height();

  // A fake node claiming far more work, answering block requests with junk.
  int server = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(19761);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(server, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
  REQUIRE(::listen(server, 4) == 0);
  auto fake = key_pair::generate();
  std::atomic<bool> done{false};
  std::atomic<int> junk_served{0};
  std::thread liar{[&] {
    while (!done) {
      pollfd p{server, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0)
        continue;
      raw_peer link{raw_peer::adopt{::accept(server, nullptr, nullptr)}};
      if (link.handshake_as(fake))
        continue;
      while (!done) {
        auto e = link.read_envelope(500);
        if (!e) {
          if (link.closed_by_node(1))
            break;
          continue;
        }
        capnp::FlatArrayMessageReader r{hallmark::words_of(*e)};
        auto env = r.getRoot<hallmark::schema::Envelope>();
        auto id = env.getId();
        using E = hallmark::schema::Envelope;
        if (env.which() == E::INFO_REQUEST) {
          link.send_envelope(id, [](E::Builder b) {
            auto info = b.initInfo();
            info.setChain("devnet");
            info.setHeight(1000);
            std::vector<uint8_t> tip(32, 0x11);
            info.setTip(kj::arrayPtr(tip.data(), tip.size()));
            info.setWork("999999999");
          });
        } else if (env.which() == E::HASHES_REQUEST) {
          // Agree on genesis, so the fork point is 0.
          auto genesis = *hallmark::find_chain("devnet");
          auto h = genesis.genesis_hash;
          auto from = env.getHashesRequest().getFrom();
          link.send_envelope(id, [&](E::Builder b) {
            auto list = b.initHashes(1);
            std::vector<uint8_t> other(32, 0x22);
            if (from == 0)
              list.set(0, kj::arrayPtr(h.data(), h.size()));
            else
              list.set(0, kj::arrayPtr(other.data(), other.size()));
          });
        } else if (env.which() == E::BLOCKS_REQUEST) {
          ++junk_served;
          link.send_envelope(id, [](E::Builder b) {
            auto list = b.initBlocks(1);
            std::vector<uint8_t> junk(64, 0x5a);
            list.set(0, kj::arrayPtr(junk.data(), junk.size()));
          });
        }
      }
    }
  }};
  node d{dir, "d"};
  d.start(false, {"--peer",
                  hallmark::to_hex(fake.public_key_bytes()) + "@" + addr(19761),
                  "--peer", peer_arg(a, 19760)});
  CHECK(converged({&a, &d}, target, 90s));
  CHECK(junk_served > 0);
  CHECK(d.log().find("failed") != std::string::npos);
  done = true;
  liar.join();
  ::close(server);
}

TEST_CASE("network: a block sync takes ranges from several upstreams; the "
          "upstream killed mid-fetch leaves its ranges to the others") {
  temp_dir dir;
  node a{dir, "a", {"empty_block_interval_s = 0"}};
  a.start(true, {"--listen", addr(19770)});
  REQUIRE(a.wait_for([](const json& s) { return s["height"] >= 12; }));
  node b{dir, "b"};
  node c{dir, "c"};
  b.start(false, {"--listen", addr(19771), "--peer", peer_arg(a, 19770)});
  c.start(false, {"--listen", addr(19772), "--peer", peer_arg(a, 19770)});
  // Stop producing; the three then hold the same chain.
  CHECK(a.stop() == 0);
  a.start(false, {"--listen", addr(19770)});
  auto target = a.height();
  REQUIRE(converged({&a, &b, &c}, target));
  // Each serves blocks 3 s late, as long as devnet's stall time: slow, not
  // stalled, so the fetch goes on; and it is under way long enough to kill
  // one of them while it holds requests.
  std::vector<std::pair<node*, uint16_t>> servers{
    {&a, 19770}, {&b, 19771}, {&c, 19772}};
  for (auto [n, port] : servers) {
    CHECK(n->stop() == 0);
    n->set_env("HALLMARK_TEST_BLOCK_SERVE_DELAY_MS=3000");
    n->start(false, {"--listen", addr(port)});
  }
  node d{dir, "d"};
  // --min-clients 3: the fetch begins once all three are linked.
  d.start(false, {"--sync-peers", "3", "--min-clients", "3", "--peer",
                  peer_arg(a, 19770), "--peer", peer_arg(b, 19771), "--peer",
                  peer_arg(c, 19772)});
  // Its status shows the fetch and the upstreams serving it.
  REQUIRE(d.wait_for(
    [](const json& s) {
      return s.contains("block_sync") && s["block_sync"]["peers"] == 3;
    },
    30s));
  auto sync = d.status()["block_sync"];
  CHECK(sync["target_height"].get<uint64_t>() == target);
  CHECK(sync.contains("records_per_s"));
  // The elected upstream dies: the fetch goes on with the other two.
  auto log = d.log();
  auto at = log.find("fetching blocks");
  REQUIRE(at != std::string::npos);
  auto from = log.find(" from ", at);
  auto upstream = log.substr(from + 6, 16);
  node* dead = nullptr;
  std::vector<const node*> alive;
  for (auto [n, port] : servers) {
    if (n->public_key().substr(0, 16) == upstream)
      dead = n;
    else
      alive.push_back(n);
  }
  REQUIRE(dead != nullptr);
  dead->kill9();
  alive.push_back(&d);
  CHECK(converged(alive, target));
  CHECK(d.height() == target);
  log = d.log();
  CHECK(log.find("and 2 more peers") != std::string::npos);
  // Its ranges went to the others at once, in the same fetch: left out,
  // not charged, no second fetch.
  CHECK(log.find("left out of the fetch") != std::string::npos);
  CHECK(log.find("fetching blocks", at + 1) == std::string::npos);
  auto peers = run_json({"peers", "--datadir", d.datadir()});
  for (auto& p : peers["peers"])
    CHECK(p.value("score", 0) == 0);
}

TEST_CASE("network: a dial that is never answered holds up neither status, "
          "admissions nor the stop") {
  // A peer whose accept queue is full: the kernel drops every further SYN,
  // as a host that is down or behind a dropping firewall would, and a
  // connect to it waits out TCP's retries (minutes).
  int hole = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(hole >= 0);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(hole, reinterpret_cast<sockaddr*>(&at), sizeof(at)) == 0);
  REQUIRE(::listen(hole, 0) == 0);
  socklen_t len = sizeof(at);
  REQUIRE(::getsockname(hole, reinterpret_cast<sockaddr*>(&at), &len) == 0);
  auto hole_port = ntohs(at.sin_port);
  std::vector<int> filling;
  for (int i = 0; i < 2; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ::connect(fd, reinterpret_cast<sockaddr*>(&at), sizeof(at));
    filling.push_back(fd);
  }
  std::this_thread::sleep_for(200ms);

  temp_dir dir;
  node a{dir, "a"};
  node b{dir, "b"};
  auto nobody = std::string(64, '7');
  a.start(true, {"--listen", addr(19790), "--peer",
                 nobody + "@127.0.0.1:" + std::to_string(hole_port)});
  // The dial is under way and never finishes ...
  REQUIRE(a.wait_for([](const json&) { return true; }));
  CHECK(a.log().find("dialling " + nobody.substr(0, 16)) != std::string::npos);
  // ... while another peer is admitted and linked, and status answers.
  b.start(false, {"--listen", addr(19791), "--peer", peer_arg(a, 19790)});
  CHECK(a.wait_for([](const json& s) { return s["peers"] >= 1; }, 20s));
  CHECK(b.wait_for([](const json& s) { return s["peers"] >= 1; }, 20s));
  CHECK(converged({&a, &b}, 2));
  // The stop does not wait for the dial: a clean exit, no watchdog.
  CHECK(a.stop() == 0);
  CHECK(a.log().find("shutdown did not finish") == std::string::npos);
  CHECK(b.stop() == 0);
  for (auto fd : filling)
    ::close(fd);
  ::close(hole);
}
