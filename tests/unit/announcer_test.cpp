// node/registration (the signed registration: layout, checks, listener
// addresses, Cap'n Proto codec), local_store's peer table, and the announcer
// actor on CAF's deterministic test scheduler with an injected clock and a
// recording connector that records what it is told.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <capnp/message.h>
#include <capnp/serialize.h>

#include "actors/actors.hpp"
#include "actors/announcer.hpp"
#include "messages/codec_capnp.hpp"
#include "messages/registration_capnp.hpp"
#include "messages/wire.capnp.h"
#include "storage/lmdb.hpp"
#include "storage/local_store.hpp"
#include "tests/unit/actor_fixture.hpp"
#include "tests/unit/helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;

namespace {

using namespace std::chrono_literals;

constexpr uint64_t t0 = 1'700'000'000;

bool same(const registration& x, const registration& y) {
  return x.chain == y.chain && x.key == y.key && x.listeners == y.listeners
         && x.timestamp == y.timestamp && x.sig == y.sig;
}

std::set<public_key> keys_of(const std::vector<registration>& rs) {
  std::set<public_key> out;
  for (auto& r : rs)
    out.insert(r.key);
  return out;
}

caf::error check_at(const registration& r, uint64_t now) {
  return check_registration(r, "devnet", now, 3300, 300);
}

/// A Registration message with raw field contents, for malformed input.
encoded raw_registration(std::string_view chain, size_t key_bytes,
                         std::vector<std::string> listeners, size_t sig_bytes) {
  capnp::MallocMessageBuilder b;
  auto r = b.initRoot<schema::Registration>();
  r.setChain(capnp::Text::Reader{chain.data(), chain.size()});
  std::vector<uint8_t> key(key_bytes, 0x42);
  r.setKey(capnp::Data::Reader{key.data(), key.size()});
  auto ls = r.initListeners(static_cast<unsigned>(listeners.size()));
  for (unsigned i = 0; i < listeners.size(); ++i)
    ls.set(i, capnp::Text::Reader{listeners[i].data(), listeners[i].size()});
  r.setTimestamp(t0);
  std::vector<uint8_t> sig(sig_bytes, 0x17);
  r.setSignature(capnp::Data::Reader{sig.data(), sig.size()});
  return freeze(b);
}

} // namespace

TEST_SUITE_BEGIN("announcer");

// -- the registration ---------------------------------------------------------

TEST_CASE("announcer: a registration signs and verifies") {
  auto alice = seeded_key(0x11);
  auto r = make_registration("devnet", {"127.0.0.1:2136", "[::1]:2136"}, t0,
                             alice);
  CHECK(r.key == alice.public_key_bytes());
  CHECK_EQ(code(check_at(r, t0)), ec::none);
  CHECK(verify(r.sig, signing_bytes(r), alice.public_key_bytes()));
  // No listeners is allowed: a node that only dials out.
  CHECK_EQ(code(check_at(make_registration("devnet", {}, t0, alice), t0)),
           ec::none);
}

TEST_CASE("announcer: the signing layout is pinned") {
  registration r;
  r.chain = "dev";
  for (size_t i = 0; i < 32; ++i)
    r.key[i] = static_cast<uint8_t>(i);
  r.listeners = {"a:1", "b:22"};
  r.timestamp = 0x0102030405060708;
  std::vector<uint8_t> want;
  auto add = [&](std::initializer_list<uint8_t> xs) {
    want.insert(want.end(), xs);
  };
  add({'h', 'm', '-', 'r', 'e', 'g', '0', '1'});
  add({3, 0, 0, 0, 'd', 'e', 'v'});
  want.insert(want.end(), r.key.begin(), r.key.end());
  add({2, 0, 0, 0});
  add({3, 0, 0, 0, 'a', ':', '1'});
  add({4, 0, 0, 0, 'b', ':', '2', '2'});
  add({8, 7, 6, 5, 4, 3, 2, 1});
  CHECK(signing_bytes(r) == want);
}

TEST_CASE("announcer: a registration of another chain is wrong_chain") {
  auto r = make_registration("testnet", {"127.0.0.1:2136"}, t0,
                             seeded_key(0x11));
  CHECK_EQ(code(check_at(r, t0)), ec::wrong_chain);
}

TEST_CASE("announcer: any changed byte breaks the signature") {
  auto alice = seeded_key(0x11);
  auto good = make_registration("devnet", {"127.0.0.1:2136"}, t0, alice);
  SUBCASE("signature") {
    auto r = good;
    r.sig[7] ^= 0x01;
    CHECK_EQ(code(check_at(r, t0)), ec::bad_signature);
  }
  SUBCASE("timestamp") {
    auto r = good;
    r.timestamp += 1;
    CHECK_EQ(code(check_at(r, t0)), ec::bad_signature);
  }
  SUBCASE("listener") {
    auto r = good;
    r.listeners[0] = "127.0.0.1:2137";
    CHECK_EQ(code(check_at(r, t0)), ec::bad_signature);
  }
  SUBCASE("another key") {
    auto r = good;
    r.key = seeded_key(0x31).public_key_bytes();
    CHECK_EQ(code(check_at(r, t0)), ec::bad_signature);
  }
  SUBCASE("a key that is no curve point") {
    auto r = good;
    r.key.fill(0xff);
    CHECK_EQ(code(check_at(r, t0)), ec::bad_signature);
  }
}

TEST_CASE(
  "announcer: future timestamps are not valid yet, stale ones expired") {
  auto alice = seeded_key(0x11);
  auto r = make_registration("devnet", {"127.0.0.1:2136"}, t0, alice);
  CHECK_EQ(code(check_at(r, t0 + 3300)), ec::none);
  CHECK_EQ(code(check_at(r, t0 + 3301)), ec::expired);
  CHECK_EQ(code(check_at(r, t0 - 300)), ec::none);
  CHECK_EQ(code(check_at(r, t0 - 301)), ec::future_timestamp);
  // A stale registration is refused for its age before its signature.
  auto forged = r;
  forged.sig[0] ^= 0xff;
  CHECK_EQ(code(check_at(forged, t0 + 4000)), ec::expired);
}

TEST_CASE("announcer: listener count, size and syntax are record rules") {
  auto alice = seeded_key(0x11);
  std::vector<std::string> eight(8, "10.0.0.1:2136");
  CHECK_EQ(code(check_at(make_registration("devnet", eight, t0, alice), t0)),
           ec::none);
  auto nine = eight;
  nine.push_back("10.0.0.2:2136");
  CHECK_EQ(code(check_at(make_registration("devnet", nine, t0, alice), t0)),
           ec::bad_record);
  // 59 letters + ".com" + ":2136" = 68 bytes, a valid name but too long.
  std::string long_name = std::string(59, 'a') + ".com:2136";
  REQUIRE(parse_listener(long_name));
  CHECK_EQ(
    code(check_at(make_registration("devnet", {long_name}, t0, alice), t0)),
    ec::bad_record);
  CHECK_EQ(
    code(check_at(make_registration("devnet", {"nowhere"}, t0, alice), t0)),
    ec::bad_record);
}

TEST_CASE("announcer: parse_listener takes host:port and [v6]:port") {
  using hp = std::pair<std::string, uint16_t>;
  CHECK(parse_listener("127.0.0.1:2136") == hp{"127.0.0.1", 2136});
  CHECK(parse_listener("10.1.2.3:1") == hp{"10.1.2.3", 1});
  CHECK(parse_listener("8.8.8.8:65535") == hp{"8.8.8.8", 65535});
  CHECK(parse_listener("node-1.example.org:80")
        == hp{"node-1.example.org", 80});
  CHECK(parse_listener("localhost:2136") == hp{"localhost", 2136});
  CHECK(parse_listener("[::1]:2136") == hp{"::1", 2136});
  CHECK(parse_listener("[2001:db8::7]:443") == hp{"2001:db8::7", 443});
  CHECK(parse_listener("[::ffff:1.2.3.4]:9") == hp{"::ffff:1.2.3.4", 9});
  for (auto bad : {
         "",                  // nothing
         "127.0.0.1",         // no port
         "127.0.0.1:",        // empty port
         "127.0.0.1:0",       // port 0
         "127.0.0.1:65536",   // port too large
         "127.0.0.1:100000",  // six digits
         "127.0.0.1:-1",      // sign
         "127.0.0.1:+80",     // sign
         "127.0.0.1:8o",      // not a number
         "127.0.0.1:80 ",     // trailing space
         ":2136",             // no host
         "1.2.3.400:80",      // not an IPv4 address
         "1.2.3:80",          // not an IPv4 address
         "::1:2136",          // IPv6 without brackets
         "[::1]",             // no port
         "[::1]:",            // empty port
         "[::1]:0",           // port 0
         "[]:80",             // empty host
         "[1.2.3.4]:80",      // IPv4 in brackets
         "[fe80::1%eth0]:80", // zone
         "[::1]x:80",         // junk after the bracket
         "-bad.example:80",   // label starts with a hyphen
         "bad-.example:80",   // label ends with a hyphen
         "a..b:80",           // empty label
         "a.b.:80",           // trailing dot
         "under_score:80",    // not a DNS character
         "example.123:80",    // numeric top-level label
         "host:80:81",        // two ports
       }) {
    CAPTURE(bad);
    CHECK_FALSE(parse_listener(bad));
  }
}

TEST_CASE("announcer: a Registration round-trips through Cap'n Proto") {
  auto r = make_registration("devnet", {"127.0.0.1:2136", "[::1]:2137"}, t0,
                             seeded_key(0x11));
  auto e = encode_registration(r);
  auto back = decode_registration(e);
  REQUIRE_MESSAGE(static_cast<bool>(back),
                  (back ? "" : message_of(back.error())));
  CHECK(same(*back, r));
  CHECK_EQ(code(check_at(*back, t0)), ec::none);
  auto none = make_registration("devnet", {}, t0, seeded_key(0x11));
  auto back_none = decode_registration(encode_registration(none));
  REQUIRE(back_none);
  CHECK(same(*back_none, none));
}

TEST_CASE("announcer: malformed Registration messages are errors") {
  auto ok = raw_registration("devnet", 32, {"127.0.0.1:1"}, 64);
  REQUIRE(decode_registration(ok));
  CHECK_EQ(code(decode_registration(encoded{})), ec::malformed);
  CHECK_EQ(code(decode_registration(raw_registration("devnet", 31, {}, 64))),
           ec::malformed);
  CHECK_EQ(code(decode_registration(raw_registration("devnet", 33, {}, 64))),
           ec::malformed);
  CHECK_EQ(code(decode_registration(raw_registration("devnet", 32, {}, 63))),
           ec::malformed);
  CHECK_EQ(code(decode_registration(raw_registration("devnet", 32, {}, 0))),
           ec::malformed);
  CHECK_EQ(code(decode_registration(
             raw_registration(std::string(33, 'c'), 32, {}, 64))),
           ec::too_large);
  CHECK_EQ(code(decode_registration(raw_registration(
             "devnet", 32, std::vector<std::string>(9, "a:1"), 64))),
           ec::too_large);
  CHECK_EQ(code(decode_registration(
             raw_registration("devnet", 32, {std::string(65, 'a')}, 64))),
           ec::too_large);
  // Above the byte limit before any parsing.
  CHECK_EQ(code(decode_registration(encoded{std::vector<uint64_t>(513, 0)})),
           ec::too_large);
  // Trailing words after the message.
  {
    std::vector<uint64_t> words(ok.words(), ok.words() + ok.word_count());
    words.push_back(0);
    CHECK_EQ(code(decode_registration(encoded{std::move(words)})),
             ec::malformed);
  }
  // Cut short, and random bytes: an error each time, never a crash.
  for (size_t n = 1; n < ok.word_count(); ++n) {
    std::vector<uint64_t> words(ok.words(), ok.words() + n);
    CHECK_FALSE(decode_registration(encoded{std::move(words)}));
  }
  std::mt19937_64 rng{7};
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint64_t> words(ok.words(), ok.words() + ok.word_count());
    auto flips = 1 + rng() % 4;
    for (size_t i = 0; i < flips; ++i) {
      auto bit = rng() % (words.size() * 64);
      words[bit / 64] ^= uint64_t{1} << (bit % 64);
    }
    auto r = decode_registration(encoded{std::move(words)});
    if (r) {
      CHECK(r->listeners.size() <= max_listeners);
      CHECK(r->chain.size() <= max_registration_chain_bytes);
    }
  }
  for (int round = 0; round < 500; ++round) {
    std::vector<uint64_t> words(1 + rng() % 40);
    for (auto& w : words)
      w = rng();
    auto r = decode_registration(encoded{std::move(words)});
    if (r)
      CHECK(r->chain.size() <= max_registration_chain_bytes);
  }
}

// -- local_store's peer table
// ---------------------------------------------------

TEST_CASE("announcer: local_store keeps peers across reopening") {
  temp_dir dir;
  auto a = make_registration("devnet", {"127.0.0.1:1"}, t0, seeded_key(0x11));
  auto b = make_registration("devnet", {"127.0.0.1:2"}, t0, seeded_key(0x31));
  auto b2 = make_registration("devnet", {"127.0.0.1:3"}, t0 + 1,
                              seeded_key(0x31));
  {
    auto ls = local_store::open(dir.sub("local"));
    REQUIRE(ls);
    REQUIRE_FALSE((*ls)->put_peer(a));
    REQUIRE_FALSE((*ls)->put_peer(b));
    REQUIRE_FALSE((*ls)->put_peer(b2));
    REQUIRE_FALSE((*ls)->remove_peer(a.key));
    REQUIRE_FALSE((*ls)->remove_peer(a.key)); // absent: no error
  }
  auto ls = local_store::open(dir.sub("local"));
  REQUIRE(ls);
  std::vector<registration> rows;
  (*ls)->for_each_peer(
    [&](const public_key& key, caf::expected<registration> r) {
      REQUIRE(r);
      CHECK(key == r->key);
      rows.push_back(*r);
    });
  REQUIRE(rows.size() == 1);
  CHECK(same(rows[0], b2));
}

TEST_CASE("announcer: a local store made before the peers table gains it") {
  temp_dir dir;
  {
    // The store as it was: meta (schema 1) and pending only.
    auto e = lmdb::env::open(dir.sub("local"), 4, uint64_t{1} << 24);
    REQUIRE(e);
    auto txn = e->begin_write();
    REQUIRE(txn);
    auto meta = lmdb::raw_table::open(*txn, "meta", lmdb::table_kind::plain);
    auto pending = lmdb::raw_table::open(*txn, "pending",
                                         lmdb::table_kind::plain);
    REQUIRE(meta);
    REQUIRE(pending);
    uint8_t version[4];
    put_u32(version, 1);
    REQUIRE_FALSE(meta->put(*txn, bytes_of("schema"), lmdb::bytes{version, 4}));
    REQUIRE_FALSE(txn->commit());
  }
  auto ls = local_store::open(dir.sub("local"));
  REQUIRE_MESSAGE(static_cast<bool>(ls), (ls ? "" : message_of(ls.error())));
  auto a = make_registration("devnet", {"127.0.0.1:1"}, t0, seeded_key(0x11));
  REQUIRE_FALSE((*ls)->put_peer(a));
  size_t n = 0;
  (*ls)->for_each_peer([&](const public_key&, caf::expected<registration> r) {
    CHECK(r);
    ++n;
  });
  CHECK(n == 1);
}

// -- the announcer actor
// ----------------------------------------------------------

namespace {

/// What the recording connector was told.
struct connector_log {
  std::vector<std::vector<registration>> candidates;
  std::vector<registration> relays;
  std::vector<caf::actor_addr> origins;

  std::vector<registration> relayed() const { return relays; }
};

/// A stand-in connector: records relays and candidates, answers peers and
/// status with empty values and drops everything else. Untyped and cast to
/// connector_actor, so it keeps compiling while the connector's interface
/// grows; the announcer only ever sends it `relay` and `candidates`.
caf::behavior recording_connector(caf::event_based_actor* self,
                                  std::shared_ptr<connector_log> log) {
  self->set_default_handler(caf::drop);
  return {
    [log](atom::relay, const registration& r, const caf::actor_addr& origin) {
      log->relays.push_back(r);
      log->origins.push_back(origin);
    },
    [log](atom::candidates, const std::vector<registration>& rs) {
      log->candidates.push_back(rs);
    },
    [](atom::peers) { return std::vector<peer_status>{}; },
    [](atom::status) { return connector_status{}; },
  };
}

/// A local store, an actor system on the test coordinator, a recording
/// connector and people with keys.
class fixture : public local_in_temp_dir, public actor_harness {
public:
  fixture()
      : connector(caf::actor_cast<connector_actor>(
        keep(sys.spawn(recording_connector, log)))) {}

  /// Our configuration: devnet chain, one listener, the fixture's clock.
  announcer_config config() {
    announcer_config c;
    c.chain = "devnet";
    c.listeners = {"127.0.0.1:2136"};
    c.clock = [this] { return clock_now; };
    // Each change written at once, so stored() sees it; the write-behind
    // has its own test.
    c.persist_delay_ms = 0;
    return c;
  }

  announcer_actor spawn_announcer(std::optional<announcer_config> c = {}) {
    auto a = keep(
      sys.spawn(announcer, us, local.get(), connector, c ? *c : config()));
    sched.run();
    return a;
  }

  /// A registration of `who` made now (or at `at`).
  registration reg(const key_pair& who, std::string listener = "10.0.0.1:2136",
                   std::optional<uint64_t> at = std::nullopt) {
    return make_registration("devnet", {std::move(listener)},
                             at ? *at : clock_now, who);
  }

  caf::expected<std::vector<registration>>
  registr(announcer_actor a, const registration& r, const public_key& link) {
    return ask<std::vector<registration>>(a, atom::registr_v, r, link,
                                          link_addr);
  }

  /// Registers `who` over its own link; the registration must be accepted.
  std::vector<registration> registr(announcer_actor a, const registration& r) {
    auto reply = registr(a, r, r.key);
    REQUIRE_MESSAGE(static_cast<bool>(reply),
                    (reply ? "" : message_of(reply.error())));
    return *reply;
  }

  void announce(announcer_actor a, const registration& r) {
    self->send(a, atom::announce_v, r, link_addr);
    sched.run();
  }

  void tick(announcer_actor a) {
    self->send(a, atom::tick_v);
    sched.run();
  }

  std::vector<registration> peers(announcer_actor a) {
    auto x = ask<std::vector<registration>>(a, atom::peers_v);
    REQUIRE(x);
    return *x;
  }

  /// The rows of the local store's peer table.
  std::vector<registration> stored() {
    std::vector<registration> out;
    local->for_each_peer([&](const public_key&, caf::expected<registration> r) {
      REQUIRE(r);
      out.push_back(*r);
    });
    return out;
  }

  uint64_t clock_now = t0;
  std::shared_ptr<connector_log> log = std::make_shared<connector_log>();
  connector_actor connector;
  /// The link registrations and announcements come over: stands for a
  /// session, so relays must name it as their origin.
  caf::actor_addr link_addr = keep(sys.spawn(
                                     [](int) -> caf::behavior {
                                       return {[](int) {}};
                                     },
                                     0))
                                .address();

  key_pair us = seeded_key(0x71);
  key_pair alice = seeded_key(0x11);
  key_pair bob = seeded_key(0x31);
  key_pair carol = seeded_key(0x51);
};

} // namespace

TEST_CASE("announcer: changes reach the store together, after the delay "
          "or at exit") {
  fixture f;
  auto c = f.config();
  c.persist_delay_ms = 1000;
  // The first announcement of ourselves, and expiry, far off.
  c.first_announce_ms = 600'000;
  auto a = f.spawn_announcer(c);
  f.registr(a, f.reg(f.alice));
  f.registr(a, f.reg(f.bob));
  // In the table at once, in the store not yet ...
  CHECK(f.peers(a).size() == 2);
  CHECK(f.stored().empty());
  // ... both in one write once the delay is over.
  f.advance(std::chrono::seconds{1});
  CHECK(keys_of(f.stored())
        == std::set<public_key>{f.alice.public_key_bytes(),
                                f.bob.public_key_bytes()});
  // A change that waits is written when the announcer stops.
  f.registr(a, f.reg(f.carol));
  CHECK(f.stored().size() == 2);
  f.self->send_exit(a, caf::exit_reason::user_shutdown);
  f.sched.run();
  CHECK(f.stored().size() == 3);
}

TEST_CASE("announcer: a registration over its own link is stored") {
  fixture f;
  auto a = f.spawn_announcer();
  REQUIRE(f.log->candidates.size() == 1); // the (empty) table at start
  CHECK(f.log->candidates[0].empty());
  auto r = f.reg(f.alice);
  CHECK(f.registr(a, r).empty()); // nobody else to name yet
  auto table = f.peers(a);
  REQUIRE(table.size() == 1);
  CHECK(same(table[0], r));
  auto rows = f.stored();
  REQUIRE(rows.size() == 1);
  CHECK(same(rows[0], r));
  REQUIRE(f.log->candidates.size() == 2);
  REQUIRE(f.log->candidates.back().size() == 1);
  CHECK(same(f.log->candidates.back()[0], r));
  // A new registration is relayed to the other links as an announcement,
  // not back over the link it came from.
  auto relayed = f.log->relayed();
  REQUIRE(relayed.size() == 1);
  CHECK(same(relayed[0], r));
  CHECK(f.log->origins[0] == f.link_addr);
}

TEST_CASE("announcer: a registration over another key's link is refused") {
  fixture f;
  auto a = f.spawn_announcer();
  auto reply = f.registr(a, f.reg(f.alice), f.bob.public_key_bytes());
  REQUIRE_FALSE(reply);
  CHECK_EQ(code_of(reply.error()), ec::wrong_key);
  // Checked registrations fail with their own code over the right link.
  auto foreign = make_registration("testnet", {"10.0.0.1:1"}, f.clock_now,
                                   f.alice);
  CHECK_EQ(code(f.registr(a, foreign, foreign.key)), ec::wrong_chain);
  auto forged = f.reg(f.alice);
  forged.sig[3] ^= 0x10;
  CHECK_EQ(code(f.registr(a, forged, forged.key)), ec::bad_signature);
  auto stale = f.reg(f.alice, "10.0.0.1:1", f.clock_now - 4000);
  CHECK_EQ(code(f.registr(a, stale, stale.key)), ec::expired);
  CHECK(f.peers(a).empty());
  CHECK(f.stored().empty());
  CHECK(f.log->relays.empty());
}

TEST_CASE("announcer: the reply names one random other peer") {
  fixture f;
  auto a = f.spawn_announcer();
  auto ra = f.reg(f.alice, "10.0.0.1:1");
  auto rb = f.reg(f.bob, "10.0.0.2:1");
  CHECK(f.registr(a, ra).empty());
  auto to_bob = f.registr(a, rb);
  REQUIRE(to_bob.size() == 1);
  CHECK(same(to_bob[0], ra));
  // A peer that listens nowhere is known but never named.
  auto dave = seeded_key(0x91);
  auto rd = make_registration("devnet", {}, f.clock_now, dave);
  auto to_dave = f.registr(a, rd);
  REQUIRE(to_dave.size() == 1);
  CHECK(f.peers(a).size() == 3);
  // Carol is told of alice or bob, never herself, dave or us; both come up.
  auto rc = f.reg(f.carol, "10.0.0.3:1");
  std::set<public_key> named;
  for (int i = 0; i < 40; ++i) {
    auto reply = f.registr(a, rc); // repeats are ignored but still answered
    REQUIRE(reply.size() == 1);
    named.insert(reply[0].key);
  }
  CHECK(named
        == std::set<public_key>{f.alice.public_key_bytes(),
                                f.bob.public_key_bytes()});
}

TEST_CASE("announcer: an update under min_update_s is ignored") {
  fixture f;
  auto a = f.spawn_announcer();
  auto first = f.reg(f.alice, "10.0.0.1:1");
  f.registr(a, first);
  REQUIRE(f.log->relays.size() == 1);
  auto candidates_before = f.log->candidates.size();
  // 419 s later: not stored, not relayed, candidates unchanged.
  f.clock_now += 419;
  f.registr(a, f.reg(f.alice, "10.0.0.9:9"));
  f.announce(a, f.reg(f.alice, "10.0.0.9:9"));
  CHECK(f.log->relays.size() == 1);
  CHECK(f.log->candidates.size() == candidates_before);
  REQUIRE(f.peers(a).size() == 1);
  CHECK(same(f.peers(a)[0], first));
  CHECK(same(f.stored().at(0), first));
  // The same registration again, by either path: nothing.
  f.announce(a, first);
  CHECK(f.log->relays.size() == 1);
  // 420 s after the first: a real update, stored, persisted and relayed.
  f.clock_now = t0 + 420;
  auto later = f.reg(f.alice, "10.0.0.9:9");
  f.announce(a, later);
  REQUIRE(f.log->relays.size() == 2);
  CHECK(same(f.log->relayed().back(), later));
  CHECK(same(f.peers(a).at(0), later));
  CHECK(same(f.stored().at(0), later));
  CHECK(f.log->candidates.size() == candidates_before + 1);
  // An older registration never replaces a newer one.
  f.announce(a, first);
  CHECK(same(f.peers(a).at(0), later));
}

TEST_CASE("announcer: an announcement is checked by its signature alone") {
  fixture f;
  auto a = f.spawn_announcer();
  auto rb = f.reg(f.bob);
  f.announce(a, rb); // no link binding: anyone may relay bob's registration
  REQUIRE(f.peers(a).size() == 1);
  CHECK(f.log->relays.size() == 1);
  auto forged = f.reg(f.carol);
  forged.listeners[0] = "10.6.6.6:666";
  f.announce(a, forged);
  auto foreign = make_registration("testnet", {"10.0.0.1:1"}, f.clock_now,
                                   f.carol);
  f.announce(a, foreign);
  auto future = f.reg(f.carol, "10.0.0.3:1", f.clock_now + 301);
  f.announce(a, future);
  CHECK(keys_of(f.peers(a)) == std::set<public_key>{f.bob.public_key_bytes()});
  CHECK(f.log->relays.size() == 1);
}

TEST_CASE("announcer: rows expire after expire_after_s") {
  fixture f;
  auto a = f.spawn_announcer();
  f.registr(a, f.reg(f.alice));
  f.clock_now += 1000;
  f.registr(a, f.reg(f.bob));
  f.clock_now = t0 + 3300;
  f.tick(a);
  CHECK(f.peers(a).size() == 2);
  f.clock_now = t0 + 3301;
  f.tick(a);
  CHECK(keys_of(f.peers(a)) == std::set<public_key>{f.bob.public_key_bytes()});
  CHECK(keys_of(f.stored()) == std::set<public_key>{f.bob.public_key_bytes()});
  CHECK(keys_of(f.log->candidates.back())
        == std::set<public_key>{f.bob.public_key_bytes()});
  f.clock_now = t0 + 1000 + 3301;
  CHECK(f.peers(a).empty()); // expiry also runs before every answer
  CHECK(f.stored().empty());
}

TEST_CASE("announcer: a new announcer restores the table from the store") {
  fixture f;
  auto a = f.spawn_announcer();
  auto ra = f.reg(f.alice);
  f.registr(a, ra);
  f.clock_now += 2000;
  auto rb = f.reg(f.bob);
  f.announce(a, rb);
  f.stop(a);
  f.reopen_local();
  f.log->candidates.clear();
  a = f.spawn_announcer();
  auto table = f.peers(a);
  REQUIRE(table.size() == 2);
  CHECK(keys_of(table) == keys_of({ra, rb}));
  // The connector hears the restored table at once.
  REQUIRE(f.log->candidates.size() == 1);
  CHECK(keys_of(f.log->candidates[0]) == keys_of({ra, rb}));
  // Restarting after alice's row has expired drops it, from the store too.
  f.stop(a);
  f.clock_now = t0 + 3301;
  a = f.spawn_announcer();
  CHECK(keys_of(f.peers(a)) == keys_of({rb}));
  CHECK(keys_of(f.stored()) == keys_of({rb}));
}

TEST_CASE("announcer: our own key is never stored") {
  fixture f;
  // A row of our own key in the store (say, from an older build) goes at start.
  REQUIRE_FALSE(f.local->put_peer(f.reg(f.us)));
  auto a = f.spawn_announcer();
  CHECK(f.peers(a).empty());
  CHECK(f.stored().empty());
  f.announce(a, f.reg(f.us, "10.0.0.1:1", f.clock_now + 1));
  CHECK(f.peers(a).empty());
  CHECK(f.log->relays.empty());
  auto reply = f.registr(a, f.reg(f.us), f.us.public_key_bytes());
  REQUIRE_FALSE(reply);
  CHECK_EQ(code_of(reply.error()), ec::wrong_key);
  CHECK(f.peers(a).empty());
  CHECK(f.stored().empty());
  // Our own announcements, back from the flood, are ignored too.
  f.tick(a);
  REQUIRE(f.log->relays.size() == 1);
  f.announce(a, f.log->relayed()[0]);
  CHECK(f.peers(a).empty());
  CHECK(f.log->relays.size() == 1);
}

TEST_CASE("announcer: relays are checked registrations, with their origin") {
  fixture f;
  auto a = f.spawn_announcer();
  auto rb = f.reg(f.bob, "[2001:db8::1]:2136");
  f.announce(a, rb);
  f.tick(a);
  REQUIRE(f.log->relays.size() == 2);
  for (auto& r : f.log->relays)
    CHECK_EQ(code(check_at(r, f.clock_now)), ec::none);
  CHECK(same(f.log->relays[0], rb));
  CHECK(f.log->origins[0] == f.link_addr);
  // Our own has no origin: it goes to every link.
  CHECK(f.log->origins[1] == caf::actor_addr{});
  auto own = f.log->relays[1];
  CHECK(own.key == f.us.public_key_bytes());
  CHECK(own.listeners == std::vector<std::string>{"127.0.0.1:2136"});
  CHECK(own.timestamp == f.clock_now);
}

TEST_CASE("announcer: the timers announce us, first after 2 min, then 11") {
  fixture f;
  auto a = f.spawn_announcer();
  f.advance(119'999ms);
  CHECK(f.log->relays.empty());
  f.clock_now += 120;
  f.advance(1ms);
  REQUIRE(f.log->relays.size() == 1);
  CHECK(f.log->relays[0].timestamp == t0 + 120);
  // A tick from outside announces once more but adds no timer.
  f.tick(a);
  CHECK(f.log->relays.size() == 2);
  f.advance(659'999ms);
  CHECK(f.log->relays.size() == 2);
  f.advance(1ms);
  CHECK(f.log->relays.size() == 3);
  f.advance(660'000ms);
  CHECK(f.log->relays.size() == 4);
}

TEST_CASE("announcer: devnet timers are the defaults divided by 60") {
  fixture f;
  auto c = f.config().scaled(find_chain("devnet")->timer_divisor);
  CHECK(c.first_announce_ms == 2'000);
  CHECK(c.announce_every_ms == 11'000);
  CHECK(c.expire_after_s == 55);
  CHECK(c.min_update_s == 7);
  CHECK(c.max_future_s == 300);
  CHECK_FALSE(c.validate());
  auto a = f.spawn_announcer(c);
  f.advance(2'000ms);
  CHECK(f.log->relays.size() == 1);
  f.advance(11'000ms);
  CHECK(f.log->relays.size() == 2);
  f.registr(a, f.reg(f.alice));
  f.clock_now += 56;
  f.advance(11'000ms);
  CHECK(f.peers(a).empty());
}

TEST_CASE("announcer: without listeners we do not announce ourselves") {
  fixture f;
  auto c = f.config();
  c.listeners.clear();
  CHECK_FALSE(c.validate());
  auto a = f.spawn_announcer(c);
  f.tick(a);
  f.advance(
    std::chrono::milliseconds{c.first_announce_ms + 3 * c.announce_every_ms});
  CHECK(f.log->relays.empty());
}

TEST_CASE("announcer: config validation refuses values out of range") {
  fixture f;
  CHECK_FALSE(f.config().validate());
  auto refused = [](announcer_config c) {
    return code(c.validate()) == ec::bad_config;
  };
  auto c = f.config();
  c.chain.clear();
  CHECK(refused(c));
  c = f.config();
  c.listeners = {"nowhere"};
  CHECK(refused(c));
  c = f.config();
  c.listeners.assign(9, "10.0.0.1:1");
  CHECK(refused(c));
  c = f.config();
  c.announce_every_ms = 0;
  CHECK(refused(c));
  c = f.config();
  c.min_update_s = c.expire_after_s;
  CHECK(refused(c));
  c = f.config();
  c.announce_every_ms = c.expire_after_s * 1000;
  CHECK(refused(c));
  c = f.config();
  c.max_peers = 0;
  CHECK(refused(c));
}

TEST_CASE("announcer: the table is capped, the oldest row makes room") {
  fixture f;
  auto c = f.config();
  c.max_peers = 3;
  auto a = f.spawn_announcer(c);
  std::vector<registration> rs;
  for (uint8_t i = 0; i < 4; ++i) {
    rs.push_back(f.reg(seeded_key(static_cast<uint8_t>(0xa0 + i)), "10.0.0.1:1",
                       t0 + 10 * i));
  }
  f.clock_now = t0 + 100;
  for (int i : {1, 0, 2})
    f.announce(a, rs[i]);
  CHECK(f.peers(a).size() == 3);
  f.announce(a, rs[3]);
  CHECK(keys_of(f.peers(a)) == keys_of({rs[1], rs[2], rs[3]}));
  CHECK(keys_of(f.stored()) == keys_of({rs[1], rs[2], rs[3]}));
  // A newcomer older than everything held is itself the one dropped.
  f.announce(a, rs[0]);
  CHECK(keys_of(f.peers(a)) == keys_of({rs[1], rs[2], rs[3]}));
  CHECK(f.log->relays.size() == 4);
}

TEST_SUITE_END();
