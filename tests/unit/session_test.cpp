// The peer session's typed interface and the relay, on CAF's deterministic
// test scheduler: a real peer_session broker on CAF's test multiplexer,
// linked by a real handshake with a peer the test plays byte by byte, and a
// connector fanning relays out to stand-in sessions. Also the Envelope codec
// the session speaks (messages/envelope.hpp).
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/test_multiplexer.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/connector.hpp"
#include "actors/peer_session.hpp"
#include "messages/envelope.hpp"
#include "tests/unit/actor_fixture.hpp"
#include "tests/unit/helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;

namespace {

using namespace std::chrono_literals;

/// What a stand-in connector heard from sessions.
struct connector_heard {
  std::vector<peer_link> ups;
  std::vector<std::string> charges;
};

caf::behavior stand_in_connector(caf::event_based_actor* self,
                                 std::shared_ptr<connector_heard> log) {
  self->set_default_handler(caf::drop);
  return {
    [](atom::up, const public_key&) { return true; },
    [log](atom::up, const peer_link& link) { log->ups.push_back(link); },
    [log](atom::misbehave, const public_key&, int32_t,
          const std::string& reason) { log->charges.push_back(reason); },
  };
}

/// A connector that refuses every key at admission (as it refuses a banned
/// one) and records any link reported up.
caf::behavior refusing_connector(caf::event_based_actor* self,
                                 std::shared_ptr<connector_heard> log) {
  self->set_default_handler(caf::drop);
  return {
    [](atom::up, const public_key&) -> caf::result<bool> {
      return make_error(ec::wrong_key, "key is banned here");
    },
    [log](atom::up, const peer_link& link) { log->ups.push_back(link); },
  };
}

/// An actor system on the test coordinator with CAF's test multiplexer.
struct fixture : actor_harness {
  fixture() : actor_harness(with_network::yes) {}
};

/// A block_processor whose open, uncommitted write transaction is at
/// `height`: it answers `tip` with that.
caf::behavior uncommitted_processor(caf::event_based_actor* self,
                                    uint64_t height) {
  self->set_default_handler(caf::drop);
  return {
    [height](atom::tip) {
      chain_tip t;
      t.height = height;
      t.hash = label_hash("uncommitted");
      t.work = 1'000'000;
      return t;
    },
  };
}

/// A session we dial, linked by a handshake with a peer the test plays: the
/// test reads the session's frames from the multiplexer and writes the
/// peer's.
class linked_session : public fixture {
public:
  /// @param chain what the session serves; may be null when the test asks
  /// nothing of it.
  /// @param uncommitted_height given: the session's block_processor is an
  /// uncommitted_processor at that height.
  explicit linked_session(const chain_store* chain = nullptr,
                          std::optional<uint64_t> uncommitted_height = {}) {
    session_deps deps;
    deps.chain = chain;
    if (uncommitted_height)
      deps.processor = caf::actor_cast<block_processor_actor>(
        keep(sys.spawn(uncommitted_processor, *uncommitted_height)));
    deps.connector = caf::actor_cast<connector_actor>(
      keep(sys.spawn(stand_in_connector, heard)));
    deps.settings = handshake_settings{"devnet", us};
    mpx->provide_scribe("peer.test", 2136, hdl);
    auto s = sys.middleman().spawn_client(
      peer_session, "peer.test", 2136, deps,
      std::optional<public_key>{them.public_key_bytes()},
      std::string{"peer.test:2136"});
    REQUIRE(s);
    session = keep(*s);
    run();
    auto hs = handshake::responder(handshake_settings{"devnet", them});
    auto welcome = hs.receive(next_frame());
    REQUIRE_FALSE(welcome.error);
    write_frame(welcome.send);
    auto proof = hs.receive(next_frame());
    REQUIRE_FALSE(proof.error);
    REQUIRE(proof.established);
    tx = hs.take_sealer();
    rx = hs.take_opener();
    REQUIRE(heard->ups.size() == 1);
    CHECK(heard->ups[0].key == them.public_key_bytes());
  }

  /// The next frame the session wrote.
  std::vector<uint8_t> next_frame() {
    run();
    auto& out = mpx->output_buffer(hdl);
    REQUIRE(out.size() >= 4);
    auto len = get_u32(reinterpret_cast<const uint8_t*>(out.data()));
    REQUIRE(out.size() >= 4 + size_t{len});
    std::vector<uint8_t> frame(out.begin() + 4, out.begin() + 4 + len);
    out.erase(out.begin(), out.begin() + 4 + len);
    return frame;
  }

  void write_frame(byte_view body) {
    std::vector<char> buf(4 + body.size());
    put_u32(reinterpret_cast<uint8_t*>(buf.data()),
            static_cast<uint32_t>(body.size()));
    std::copy(body.begin(), body.end(), buf.begin() + 4);
    mpx->virtual_send(hdl, buf);
    run();
  }

  /// The next Envelope the session sent, decrypted and decoded.
  wire::envelope next_envelope() {
    auto plain = rx.open(next_frame());
    REQUIRE(plain);
    auto bytes = encoded::copy_of(*plain);
    REQUIRE(bytes);
    auto env = wire::decode_envelope(*bytes, max_link_plaintext);
    REQUIRE(env);
    return std::move(*env);
  }

  void send_envelope(wire::envelope env) {
    auto bytes = wire::encode(env);
    REQUIRE(bytes);
    write_frame(tx.seal(bytes->bytes()));
  }

  /// Asks the session for `xs`; the peer answers the request it sends with
  /// `answer` (or not at all); returns the session's reply.
  template <class T, class... Ts>
  caf::expected<T> ask(std::optional<wire::body> answer, Ts... xs) {
    auto h = self->request(peer_session_actor{session}, caf::infinite, xs...);
    auto request = next_envelope();
    CHECK(request.id != 0);
    if (answer)
      send_envelope({request.id, std::move(*answer)});
    else {
      sched.advance_time(61s);
      run();
    }
    return reply_of<T>(self, h);
  }

  key_pair us = seeded_key(0x11);
  key_pair them = seeded_key(0x31);
  caf::io::connection_handle hdl = caf::io::connection_handle::from_int(1);
  std::shared_ptr<connector_heard> heard = std::make_shared<connector_heard>();
  peer_session_broker_actor session;
  frame_sealer tx;
  frame_opener rx;
};

} // namespace

TEST_SUITE_BEGIN("session");

// -- the Envelope codec ------------------------------------------------------

TEST_CASE("envelope: every kind round-trips") {
  auto reg = make_registration("devnet", {"127.0.0.1:2136"}, 1'700'000'000,
                               seeded_key(0x51));
  std::vector<wire::body> bodies{
    wire::info_request{},
    wire::info{"devnet", "1.0", 7, hash256{1, 2, 3}, (work_t{1} << 100) + 9},
    wire::blocks_request{5, 10},
    wire::blocks{{encoded{std::vector<uint64_t>{1, 2}}}},
    wire::hashes_request{0, 1},
    wire::hashes{{hash256{9}}},
    wire::register_request{reg},
    wire::peers{{reg}},
    wire::announce{reg},
    wire::records{encode(std::vector<record>{})},
    wire::block{encoded{std::vector<uint64_t>{3}}},
    wire::refusal{ec::storage, "disk"},
    wire::ping{},
    wire::pong{}};
  for (auto& b : bodies) {
    CAPTURE(wire::kind_name(b));
    auto bytes = wire::encode({42, b});
    REQUIRE(bytes);
    auto back = wire::decode_envelope(*bytes, max_link_plaintext);
    REQUIRE(back);
    CHECK(back->id == 42);
    CHECK(back->what.index() == b.index());
  }
  auto info = wire::decode_envelope(*wire::encode({1, bodies[1]}), 1 << 20);
  REQUIRE(info);
  auto& i = std::get<wire::info>(info->what);
  CHECK(i.work == (work_t{1} << 100) + 9);
  CHECK(i.tip == hash256{1, 2, 3});
}

TEST_CASE("envelope: a reply of the wrong kind is malformed, a refusal keeps "
          "its code") {
  CHECK_EQ(code(wire::reply_as<wire::info>(wire::hashes{}, "info")),
           ec::malformed);
  CHECK_EQ(code(wire::reply_as<wire::blocks>(wire::pong{}, "blocks")),
           ec::malformed);
  CHECK_EQ(code(wire::reply_as<wire::info>(wire::refusal{ec::storage, "disk"},
                                           "info")),
           ec::storage);
  CHECK_EQ(code(wire::reply_as<wire::info>(
             wire::refusal{static_cast<ec>(200), "?"}, "info")),
           ec::malformed);
  CHECK_EQ(code(wire::reply_as<wire::info>(wire::refusal{ec::none, ""}, "i")),
           ec::malformed);
  CHECK(wire::reply_as<wire::hashes>(wire::hashes{}, "hashes"));
}

TEST_CASE("envelope: bad fields and bad bytes are errors, never a crash") {
  wire::info bad_work{"devnet", "1", 1, hash256{}, 0};
  auto ok = wire::encode({1, bad_work});
  REQUIRE(ok);
  // Every truncation and a few thousand bit flips: an error or a value.
  for (size_t n = 0; n < ok->word_count(); ++n)
    CHECK_FALSE(wire::decode_envelope(
      encoded{std::vector<uint64_t>(ok->words(), ok->words() + n)}, 1 << 20));
  std::mt19937_64 rng{11};
  for (int round = 0; round < 3000; ++round) {
    std::vector<uint64_t> words(ok->words(), ok->words() + ok->word_count());
    auto bit = rng() % (words.size() * 64);
    words[bit / 64] ^= uint64_t{1} << (bit % 64);
    auto r = wire::decode_envelope(encoded{std::move(words)}, 1 << 20);
    if (!r)
      CHECK(code(r.error()) != ec::none);
  }
  CHECK_EQ(code(wire::decode_envelope(*ok, 8)), ec::too_large);
}

// -- the session -------------------------------------------------------------

TEST_CASE("session: info, blocks and hashes come back as domain values") {
  linked_session f;
  auto info = f.ask<peer_info>(
    wire::info{"devnet", "1.0", 12, hash256{7}, work_t{5000}}, atom::info_v);
  REQUIRE(info);
  CHECK(info->chain == "devnet");
  CHECK(info->height == 12);
  CHECK(info->tip == hash256{7});
  CHECK(info->work == 5000);
  auto hashes = f.ask<std::vector<hash256>>(
    wire::hashes{{hash256{1}, hash256{2}}}, atom::hashes_v, uint64_t{3},
    uint32_t{2});
  REQUIRE(hashes);
  CHECK(*hashes == std::vector<hash256>{hash256{1}, hash256{2}});
  auto blocks = f.ask<std::vector<encoded>>(
    wire::blocks{{encoded{std::vector<uint64_t>{4, 5}}}}, atom::blocks_v,
    uint64_t{1}, uint32_t{10});
  REQUIRE(blocks);
  REQUIRE(blocks->size() == 1);
  CHECK(blocks->front() == encoded{std::vector<uint64_t>{4, 5}});
  CHECK(f.heard->charges.empty());
}

TEST_CASE("session: info answers the committed tip, which hashes and blocks "
          "can serve") {
  test_store chain;
  chain.push();
  chain.push();
  auto committed = chain.tip();
  REQUIRE(committed.height == 2);
  // block_processor holds three more blocks in its open transaction.
  linked_session f{&chain.store(), uint64_t{5}};
  f.send_envelope({7, wire::info_request{}});
  auto info = f.next_envelope();
  CHECK(info.id == 7);
  auto* i = std::get_if<wire::info>(&info.what);
  REQUIRE(i != nullptr);
  CHECK(i->height == committed.height);
  CHECK(i->tip == committed.hash);
  CHECK(i->work == committed.work);
  // What it claims, it serves.
  f.send_envelope({8, wire::hashes_request{i->height, 1}});
  auto hashes = f.next_envelope();
  auto* h = std::get_if<wire::hashes>(&hashes.what);
  REQUIRE(h != nullptr);
  CHECK(h->list == std::vector<hash256>{committed.hash});
  CHECK(f.heard->charges.empty());
}

namespace {

/// The exit reason of an inbound session (we accepted the link) after the
/// dialer the test plays sends `hello` as its first frame.
caf::error inbound_session_ending(const std::vector<uint8_t>& hello) {
  fixture f;
  auto heard = std::make_shared<connector_heard>();
  session_deps deps;
  deps.connector = caf::actor_cast<connector_actor>(
    f.keep(f.sys.spawn(stand_in_connector, heard)));
  deps.settings = handshake_settings{"devnet", seeded_key(0x11)};
  auto hdl = caf::io::connection_handle::from_int(1);
  f.mpx->provide_scribe("dialer.test", 2136, hdl);
  auto s = f.sys.middleman().spawn_client(peer_session, "dialer.test", 2136,
                                          deps, std::optional<public_key>{},
                                          std::string{"dialer.test:2136"});
  REQUIRE(s);
  f.self->monitor(*s);
  f.run();
  std::vector<char> buf(4 + hello.size());
  put_u32(reinterpret_cast<uint8_t*>(buf.data()),
          static_cast<uint32_t>(hello.size()));
  std::copy(hello.begin(), hello.end(), buf.begin() + 4);
  f.mpx->virtual_send(hdl, buf);
  f.run();
  caf::error reason;
  bool down = false;
  f.self->receive([&](caf::down_msg& m) {
    down = true;
    reason = std::move(m.reason);
  });
  REQUIRE(down);
  CHECK(heard->ups.empty());
  CHECK(heard->charges.empty());
  return reason;
}

} // namespace

TEST_CASE("session: a dialer expecting another key is a mismatch, not "
          "misbehaviour: its address is not discouraged") {
  auto expects_other = handshake::initiator(
    handshake_settings{"devnet", seeded_key(0x31)},
    seeded_key(0x12).public_key_bytes());
  auto reason = inbound_session_ending(expects_other.hello());
  CHECK_EQ(code(reason), ec::wrong_key);
  CHECK_FALSE(discourages(reason));
  // A node listed as its own peer presents our own key.
  auto itself = handshake::initiator(
    handshake_settings{"devnet", seeded_key(0x11)},
    seeded_key(0x11).public_key_bytes());
  reason = inbound_session_ending(itself.hello());
  CHECK_EQ(code(reason), ec::wrong_key);
  CHECK_FALSE(discourages(reason));
  // Another chain is not misbehaviour either.
  auto other_chain = handshake::initiator(
    handshake_settings{"testnet", seeded_key(0x31)},
    seeded_key(0x11).public_key_bytes());
  CHECK_FALSE(discourages(inbound_session_ending(other_chain.hello())));
}

TEST_CASE("session: garbage before the handshake discourages the address") {
  auto reason = inbound_session_ending(std::vector<uint8_t>(16, 0xab));
  CHECK_EQ(fault_of(reason), fault::peer);
  CHECK(discourages(reason));
}

TEST_CASE("session: a key refused at admission is never linked nor served") {
  fixture f;
  auto heard = std::make_shared<connector_heard>();
  session_deps deps;
  deps.connector = caf::actor_cast<connector_actor>(
    f.keep(f.sys.spawn(refusing_connector, heard)));
  deps.settings = handshake_settings{"devnet", seeded_key(0x11)};
  auto them = seeded_key(0x31);
  auto hdl = caf::io::connection_handle::from_int(1);
  f.mpx->provide_scribe("peer.test", 2136, hdl);
  auto s = f.sys.middleman().spawn_client(
    peer_session, "peer.test", 2136, deps,
    std::optional<public_key>{them.public_key_bytes()},
    std::string{"peer.test:2136"});
  REQUIRE(s);
  f.self->monitor(*s);
  f.run();
  auto& out = f.mpx->output_buffer(hdl);
  auto take_frame = [&] {
    REQUIRE(out.size() >= 4);
    auto len = get_u32(reinterpret_cast<const uint8_t*>(out.data()));
    REQUIRE(out.size() >= 4 + size_t{len});
    std::vector<uint8_t> frame(out.begin() + 4, out.begin() + 4 + len);
    out.erase(out.begin(), out.begin() + 4 + len);
    return frame;
  };
  auto put_frame = [&](byte_view body) {
    std::vector<char> buf(4 + body.size());
    put_u32(reinterpret_cast<uint8_t*>(buf.data()),
            static_cast<uint32_t>(body.size()));
    std::copy(body.begin(), body.end(), buf.begin() + 4);
    f.mpx->virtual_send(hdl, buf);
  };
  auto hs = handshake::responder(handshake_settings{"devnet", them});
  auto welcome = hs.receive(take_frame());
  REQUIRE_FALSE(welcome.error);
  put_frame(welcome.send);
  f.run();
  auto proof = hs.receive(take_frame());
  REQUIRE(proof.established);
  // The peer, linked at its end, asks at once; the session must not
  // answer before it is admitted, nor after it is refused.
  auto tx = hs.take_sealer();
  auto request = wire::encode(wire::envelope{5, wire::info_request{}});
  REQUIRE(request);
  put_frame(tx.seal(request->bytes()));
  f.run();
  bool down = false;
  f.self->receive([&](caf::down_msg&) { down = true; });
  CHECK(down);
  CHECK(heard->ups.empty());
  CHECK(out.empty());
}

TEST_CASE("session: a reply of the wrong kind becomes ec::malformed") {
  linked_session f;
  CHECK_EQ(code(f.ask<peer_info>(wire::hashes{{hash256{1}}}, atom::info_v)),
           ec::malformed);
  CHECK_EQ(code(f.ask<std::vector<encoded>>(wire::pong{}, atom::blocks_v,
                                            uint64_t{1}, uint32_t{1})),
           ec::malformed);
  auto peers = f.ask<std::vector<registration>>(
    wire::info{"devnet", "1", 0, hash256{}, 0}, atom::registr_v,
    make_registration("devnet", {"127.0.0.1:1"}, 1'700'000'000, f.us));
  REQUIRE_FALSE(peers);
  CHECK_EQ(fault_of(peers.error()), fault::peer);
  // The link stays up: the next request is answered.
  CHECK(
    f.ask<peer_info>(wire::info{"devnet", "1", 1, hash256{}, 1}, atom::info_v));
}

TEST_CASE("session: the peer's refusal keeps its code; no answer is ec::io") {
  linked_session f;
  auto refused = f.ask<std::vector<hash256>>(
    wire::refusal{ec::storage, "disk full"}, atom::hashes_v, uint64_t{0},
    uint32_t{1});
  REQUIRE_FALSE(refused);
  CHECK_EQ(code(refused.error()), ec::storage);
  auto silent = f.ask<peer_info>(std::nullopt, atom::info_v);
  REQUIRE_FALSE(silent);
  CHECK_EQ(code(silent.error()), ec::io);
  CHECK_EQ(fault_of(silent.error()), fault::local);
}

TEST_CASE("session: a linked peer that sends nothing past the idle time is "
          "let go, uncharged") {
  linked_session f;
  f.advance(170s); // within the 180 s: the link stays
  auto h = f.self->request(peer_session_actor{f.session}, caf::infinite,
                           atom::info_v);
  auto request = f.next_envelope();
  f.send_envelope({request.id, wire::info{"devnet", "0.1.0", 3, {}, 3}});
  CHECK(reply_of<peer_info>(f.self, h));
  f.advance(179s); // the answer was heard: 179 s since
  f.advance(2s);   // 181 s of silence
  auto after = f.self->request(peer_session_actor{f.session}, caf::infinite,
                               atom::info_v);
  f.run();
  auto reply = reply_of<peer_info>(f.self, after);
  REQUIRE_FALSE(reply);
  CHECK(reply.error() == caf::sec::request_receiver_down);
  CHECK(f.heard->charges.empty());
}

TEST_CASE("session: relays go out as broadcasts") {
  linked_session f;
  auto reg = make_registration("devnet", {"127.0.0.1:1"}, 1'700'000'000,
                               seeded_key(0x51));
  f.self->send(peer_session_actor{f.session}, atom::relay_v, reg);
  auto e = f.next_envelope();
  CHECK(e.id == 0);
  auto* a = std::get_if<wire::announce>(&e.what);
  REQUIRE(a);
  REQUIRE(a->reg);
  CHECK(a->reg->key == reg.key);
  f.self->send(peer_session_actor{f.session}, atom::relay_v,
               new_block{encoded{std::vector<uint64_t>{8}}});
  e = f.next_envelope();
  auto* b = std::get_if<wire::block>(&e.what);
  REQUIRE(b);
  REQUIRE(b->bytes);
  CHECK(*b->bytes == encoded{std::vector<uint64_t>{8}});
}

// -- the relay ---------------------------------------------------------------

namespace {

/// What each stand-in session was told to relay.
struct relays_heard {
  std::map<size_t, std::vector<std::string>> by_link;
};

peer_session_actor::behavior_type
stand_in_session(peer_session_actor::pointer, size_t index,
                 std::shared_ptr<relays_heard> log) {
  return {
    [](atom::info) {
      return peer_info{"devnet", 0, hash256{}, 0};
    },
    [](atom::blocks, uint64_t, uint32_t) { return std::vector<encoded>{}; },
    [](atom::hashes, uint64_t, uint32_t) { return std::vector<hash256>{}; },
    [](atom::headers, uint64_t, uint32_t) { return std::vector<header>{}; },
    [](atom::prove, const state_request&) -> caf::result<state_reply> {
      return make_error(ec::not_found, "no state here");
    },
    [](atom::registr, const registration&) {
      return std::vector<registration>{};
    },
    [=](atom::relay, const new_block&) {
      log->by_link[index].push_back("block");
    },
    [=](atom::relay, const new_records&) {
      log->by_link[index].push_back("records");
    },
    [=](atom::relay, const registration&) {
      log->by_link[index].push_back("registration");
    },
  };
}

/// A block_processor that only answers `tip`, with `tip`.
caf::behavior stand_in_processor(caf::event_based_actor* self, chain_tip tip) {
  self->set_default_handler(caf::drop);
  return {[=](atom::tip) { return tip; }};
}

} // namespace

TEST_CASE("relay: an accepted item reaches every link but its origin, once") {
  fixture f;
  auto log = std::make_shared<relays_heard>();
  connector_config cc;
  cc.min_clients = 100; // stays CONNECTING: only the relay is under test
  session_deps deps;
  deps.processor = caf::actor_cast<block_processor_actor>(
    f.keep(f.sys.spawn(stand_in_processor, chain_tip{})));
  deps.settings = handshake_settings{"devnet", seeded_key(0x01)};
  auto connector = f.keep(
    f.sys.spawn(hallmark::connector, cc, deps, seeded_key(0x01)));
  std::vector<peer_session_actor> links;
  for (size_t i = 0; i < 3; ++i) {
    links.push_back(f.keep(f.sys.spawn(stand_in_session, i, log)));
    peer_link up;
    up.session = links.back();
    up.key = seeded_key(static_cast<uint8_t>(0x20 + i)).public_key_bytes();
    up.inbound = true;
    up.address = "10.0.0." + std::to_string(i) + ":2136";
    up.version = 1;
    f.self->send(connector, atom::up_v, up);
  }
  f.run();
  auto reg = make_registration("devnet", {"127.0.0.1:1"}, 1'700'000'000,
                               seeded_key(0x51));
  f.self->send(connector, atom::relay_v,
               new_block{encoded{std::vector<uint64_t>{1}}},
               links[1].address());
  f.self->send(connector, atom::relay_v,
               new_records{encoded{std::vector<uint64_t>{2}}},
               caf::actor_addr{});
  f.self->send(connector, atom::relay_v, reg, links[2].address());
  f.run();
  using v = std::vector<std::string>;
  CHECK(log->by_link[0] == v{"block", "records", "registration"});
  CHECK(log->by_link[1] == v{"records", "registration"});
  CHECK(log->by_link[2] == v{"block", "records"});
}

TEST_CASE("session: once it exits, its mailbox is closed") {
  // CAF 0.17.6 leaves a broker's mailbox open after it exits; what arrived
  // then kept the broker and every sender alive, and a node could not end
  // (actors/broker_exit.hpp). A request is now refused at once.
  linked_session f;
  caf::anon_send_exit(f.session, caf::exit_reason::user_shutdown);
  f.run();
  auto h = f.self->request(peer_session_actor{f.session}, caf::infinite,
                           atom::info_v);
  f.run();
  auto reply = reply_of<peer_info>(f.self, h);
  REQUIRE_FALSE(reply);
  CHECK(reply.error() == caf::sec::request_receiver_down);
}

TEST_SUITE_END();
