// node/handshake: the link handshake state machine and the frame cipher,
// black-box: two sides exchange frames through the test, which may drop,
// replay, reorder, rewrite or corrupt them on the way.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "core/crypto.hpp"
#include "core/error.hpp"
#include "messages/codec.hpp"
#include "messages/codec_capnp.hpp"
#include "messages/handshake.hpp"
#include "messages/handshake_frames.hpp"
#include "messages/wire.capnp.h"
#include "tests/unit/helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;

namespace {

using frame = std::vector<uint8_t>;

handshake_settings settings(std::string chain, uint8_t seed,
                            uint16_t min_version = protocol_version_min,
                            uint16_t max_version = protocol_version_max) {
  return handshake_settings{std::move(chain), seeded_key(seed), min_version,
                            max_version};
}

const public_key& key_of(uint8_t seed) {
  static std::map<uint8_t, public_key> keys;
  auto i = keys.find(seed);
  if (i == keys.end())
    i = keys.emplace(seed, seeded_key(seed).public_key_bytes()).first;
  return i->second;
}

// Seeds of the identities the tests use.
constexpr uint8_t alice = 0x10; // usually the initiator
constexpr uint8_t bob = 0x40;   // usually the responder
constexpr uint8_t carol = 0x80; // someone else

/// Every frame of one handshake, and both sides after it.
struct session {
  handshake initiator;
  handshake responder;
  frame hello;
  frame welcome;
  frame proof;
};

session connect(handshake_settings i, handshake_settings r) {
  auto expected = r.identity.public_key_bytes();
  session s{handshake::initiator(std::move(i), expected),
            handshake::responder(std::move(r)),
            {},
            {},
            {}};
  s.hello = s.initiator.hello();
  REQUIRE_FALSE(s.hello.empty());
  auto w = s.responder.receive(s.hello);
  REQUIRE_MESSAGE(!w.error, message_of(w.error));
  REQUIRE_FALSE(w.established);
  s.welcome = std::move(w.send);
  auto p = s.initiator.receive(s.welcome);
  REQUIRE_MESSAGE(!p.error, message_of(p.error));
  REQUIRE(p.established);
  s.proof = std::move(p.send);
  auto e = s.responder.receive(s.proof);
  REQUIRE_MESSAGE(!e.error, message_of(e.error));
  REQUIRE(e.established);
  REQUIRE(e.send.empty());
  return s;
}

session connect() {
  return connect(settings("devnet", alice), settings("devnet", bob));
}

/// The frame decoded, changed by `f` (given a Handshake::Builder) and
/// encoded again.
template <class F>
frame rewrite(const frame& in, F&& f) {
  auto e = encoded::copy_of(in);
  REQUIRE(e);
  capnp::FlatArrayMessageReader reader{words_of(*e)};
  capnp::MallocMessageBuilder builder;
  builder.setRoot(reader.getRoot<schema::Handshake>());
  f(builder.getRoot<schema::Handshake>());
  auto out = freeze(builder);
  auto bytes = out.bytes();
  return {bytes.begin(), bytes.end()};
}

/// An encoded Reject.
frame reject_frame(uint8_t code, std::string reason) {
  capnp::MallocMessageBuilder builder;
  auto r = builder.initRoot<schema::Handshake>().initReject();
  r.setCode(code);
  r.setReason(reason);
  auto out = freeze(builder);
  auto bytes = out.bytes();
  return {bytes.begin(), bytes.end()};
}

/// The (code, reason) of an encoded Reject.
std::pair<uint8_t, std::string> read_reject(const frame& f) {
  REQUIRE(f.size() <= max_handshake_frame);
  auto e = encoded::copy_of(f);
  REQUIRE(e);
  capnp::FlatArrayMessageReader reader{words_of(*e)};
  auto root = reader.getRoot<schema::Handshake>();
  REQUIRE(root.which() == schema::Handshake::REJECT);
  auto r = root.getReject();
  return {r.getCode(), std::string{r.getReason().cStr()}};
}

/// `s` failed with `code` and a reason; it carries a Reject with the same
/// code iff `sends_reject`.
void check_refused(const handshake::step& s, ec code, bool sends_reject) {
  INFO("error: ", message_of(s.error));
  CHECK(code_of(s.error) == code);
  CHECK_FALSE(message_of(s.error).empty());
  CHECK_FALSE(s.established);
  if (sends_reject) {
    REQUIRE_FALSE(s.send.empty());
    auto [rcode, reason] = read_reject(s.send);
    CHECK(rcode == static_cast<uint8_t>(code));
    CHECK_FALSE(reason.empty());
  } else {
    CHECK(s.send.empty());
  }
}

/// The refusal `s` carries, delivered to `peer`: it fails with the same code
/// and says the peer refused.
void deliver_reject(const handshake::step& s, handshake& peer) {
  auto phase = peer.phase();
  auto r = peer.receive(s.send);
  INFO("peer error: ", message_of(r.error));
  check_refused(r, code_of(s.error), false);
  CHECK(message_of(r.error).rfind("peer refused: ", 0) == 0);
  CHECK(phase != handshake_phase::failed);
  CHECK(peer.phase() == handshake_phase::failed);
  CHECK(code_of(peer.failure()) == code_of(s.error));
}

std::string text(const std::vector<uint8_t>& bytes) {
  return {bytes.begin(), bytes.end()};
}

} // namespace

TEST_SUITE_BEGIN("handshake");

TEST_CASE("handshake: initiator and responder establish a link") {
  auto i = handshake::initiator(settings("devnet", alice), key_of(bob));
  auto r = handshake::responder(settings("devnet", bob));
  CHECK(i.phase() == handshake_phase::start);
  CHECK(r.phase() == handshake_phase::awaiting_hello);
  CHECK(i.peer() == key_of(bob));

  auto hello = i.hello();
  CHECK(i.phase() == handshake_phase::awaiting_welcome);
  CHECK_FALSE(hello.empty());
  CHECK(hello.size() <= max_handshake_frame);
  CHECK(hello.size() % 8 == 0);
  CHECK(i.hello().empty()); // only once

  auto welcome = r.receive(hello);
  CHECK_FALSE(welcome.error);
  CHECK_FALSE(welcome.established);
  CHECK(welcome.send.size() <= max_handshake_frame);
  CHECK(r.phase() == handshake_phase::awaiting_proof);
  CHECK_FALSE(r.established());
  CHECK_FALSE(r.take_sealer().valid()); // not before established

  auto proof = i.receive(welcome.send);
  CHECK_FALSE(proof.error);
  CHECK(proof.established);
  CHECK(i.established());
  CHECK(i.version() == 1);
  CHECK(proof.send.size() <= max_handshake_frame);

  auto done = r.receive(proof.send);
  CHECK_FALSE(done.error);
  CHECK(done.established);
  CHECK(done.send.empty());
  CHECK(r.established());
  CHECK(r.version() == 1);
  CHECK(r.peer() == key_of(alice));
  CHECK(i.peer() == key_of(bob));
  CHECK_FALSE(i.failure());
  CHECK_FALSE(r.failure());

  auto sealer = i.take_sealer();
  auto opener = r.take_opener();
  CHECK(sealer.valid());
  CHECK(opener.valid());
  CHECK_FALSE(i.take_sealer().valid()); // once
  CHECK_FALSE(r.take_opener().valid());
}

TEST_CASE("handshake: frames flow both ways after the handshake") {
  auto s = connect();
  auto i_seal = s.initiator.take_sealer();
  auto i_open = s.initiator.take_opener();
  auto r_seal = s.responder.take_sealer();
  auto r_open = s.responder.take_opener();

  SUBCASE("round trip") {
    auto c = i_seal.seal(bytes_of("ping"));
    CHECK(c.size() == 4 + link_frame_overhead);
    CHECK(text(c).find("ping") == std::string::npos);
    auto p = r_open.open(c);
    REQUIRE(p);
    CHECK(text(*p) == "ping");
    auto back = r_open.open(c); // the same frame again is a replay
    CHECK(code(back) == ec::bad_signature);
    auto reply = i_open.open(r_seal.seal(bytes_of("pong")));
    REQUIRE(reply);
    CHECK(text(*reply) == "pong");
  }
  SUBCASE("several frames, interleaved directions") {
    for (int n = 0; n < 50; ++n) {
      auto msg = "frame " + std::to_string(n);
      auto there = r_open.open(i_seal.seal(bytes_of(msg)));
      REQUIRE(there);
      CHECK(text(*there) == msg);
      auto back = i_open.open(r_seal.seal(bytes_of(msg + " back")));
      REQUIRE(back);
      CHECK(text(*back) == msg + " back");
    }
  }
  SUBCASE("the same plaintext never seals to the same ciphertext") {
    auto a = i_seal.seal(bytes_of("same"));
    auto b = i_seal.seal(bytes_of("same"));
    CHECK(a != b);
    CHECK(r_open.open(a));
    CHECK(r_open.open(b));
  }
  SUBCASE("an empty frame") {
    auto c = i_seal.seal(byte_view{});
    CHECK(c.size() == link_frame_overhead);
    auto p = r_open.open(c);
    REQUIRE(p);
    CHECK(p->empty());
    auto next = r_open.open(i_seal.seal(bytes_of("after")));
    REQUIRE(next);
    CHECK(text(*next) == "after");
  }
  SUBCASE("a 1 MB frame and the largest one") {
    std::vector<uint8_t> big(1'000'000);
    std::mt19937 rng{7};
    for (auto& b : big)
      b = static_cast<uint8_t>(rng());
    auto p = i_open.open(r_seal.seal(big));
    REQUIRE(p);
    CHECK(*p == big);
    std::vector<uint8_t> largest(max_link_plaintext, 0xab);
    auto c = r_seal.seal(largest);
    CHECK(c.size() == max_link_frame);
    auto q = i_open.open(c);
    REQUIRE(q);
    CHECK(*q == largest);
  }
  SUBCASE("a frame sealed for one direction does not open in the other") {
    auto c = i_seal.seal(bytes_of("to the responder"));
    CHECK(code(i_open.open(c)) == ec::bad_signature);
    CHECK(r_open.open(c)); // the right opener is unaffected
  }
}

TEST_CASE("handshake: the Welcome signs T1 and the Proof signs T2 as "
          "documented") {
  auto s = connect();
  auto read = [](const frame& f) {
    auto e = encoded::copy_of(f);
    REQUIRE(e);
    return e;
  };
  auto he = read(s.hello), we = read(s.welcome), pe = read(s.proof);
  capnp::FlatArrayMessageReader hr{words_of(*he)}, wr{words_of(*we)},
    pr{words_of(*pe)};
  auto h = hr.getRoot<schema::Handshake>().getHello();
  auto w = wr.getRoot<schema::Handshake>().getWelcome();
  auto p = pr.getRoot<schema::Handshake>().getProof();
  auto view = [](capnp::Data::Reader d) {
    return byte_view{d.begin(), d.size()};
  };

  CHECK(h.getMagic() == 0x4b52414d4c4c4148);
  CHECK(h.getMinVersion() == 1);
  CHECK(h.getMaxVersion() == 1);
  CHECK(std::string{h.getChain().cStr()} == "devnet");
  CHECK(*to_fixed<32>(view(h.getKey())) == key_of(alice));
  CHECK(*to_fixed<32>(view(h.getResponderKey())) == key_of(bob));
  CHECK(*to_fixed<32>(view(w.getKey())) == key_of(bob));
  CHECK(w.getVersion() == 1);

  auto t1 = hasher{}
              .add(bytes_of("hm-hs-t1"))
              .add_u64(h.getMagic())
              .add_u16(h.getMinVersion())
              .add_u16(h.getMaxVersion())
              .add_sized(bytes_of("devnet"))
              .add(view(h.getKey()))
              .add(view(h.getEphemeral()))
              .add(view(h.getResponderKey()))
              .add_u16(w.getVersion())
              .add(view(w.getKey()))
              .add(view(w.getEphemeral()))
              .add(view(w.getStreamHeader()))
              .finish();
  auto wsig = to_fixed<64>(view(w.getSignature()));
  REQUIRE(wsig);
  CHECK(verify(*wsig, t1, key_of(bob)));

  auto t2 = hasher{}
              .add(bytes_of("hm-hs-t2"))
              .add(t1)
              .add(view(p.getStreamHeader()))
              .finish();
  auto psig = to_fixed<64>(view(p.getSignature()));
  REQUIRE(psig);
  CHECK(verify(*psig, t2, key_of(alice)));
}

TEST_CASE("handshake: a responder on another chain refuses") {
  auto i = handshake::initiator(settings("testnet", alice), key_of(bob));
  auto r = handshake::responder(settings("devnet", bob));
  auto s = r.receive(i.hello());
  check_refused(s, ec::wrong_chain, true);
  CHECK(message_of(s.error).find("testnet") != std::string::npos);
  CHECK(message_of(s.error).find("devnet") != std::string::npos);
  CHECK(r.phase() == handshake_phase::failed);
  deliver_reject(s, i);
  CHECK(message_of(i.failure()).find("testnet") != std::string::npos);
}

TEST_CASE("handshake: dialing a key the responder does not have is refused") {
  auto i = handshake::initiator(settings("devnet", alice), key_of(carol));
  auto r = handshake::responder(settings("devnet", bob));
  auto s = r.receive(i.hello());
  check_refused(s, ec::wrong_key, true);
  deliver_reject(s, i);
  // The refusal names the key that was dialed, not the responder's own.
  auto [code, reason] = read_reject(s.send);
  CHECK(reason.find(to_hex(key_of(carol)).substr(0, 16)) != std::string::npos);
  CHECK(reason.find(to_hex(key_of(bob))) == std::string::npos);
}

TEST_CASE("handshake: an initiator refuses a Welcome from a key it did not "
          "dial") {
  // Someone relays alice's Hello to carol, changing the expected key; carol
  // answers honestly as herself.
  auto i = handshake::initiator(settings("devnet", alice), key_of(bob));
  auto carol_side = handshake::responder(settings("devnet", carol));
  auto relayed = rewrite(i.hello(), [](schema::Handshake::Builder h) {
    h.getHello().setResponderKey(
      kj::arrayPtr(key_of(carol).data(), key_of(carol).size()));
  });
  auto w = carol_side.receive(relayed);
  REQUIRE_FALSE(w.error);
  auto s = i.receive(w.send);
  check_refused(s, ec::wrong_key, true);
  CHECK(i.phase() == handshake_phase::failed);
  CHECK_FALSE(i.take_sealer().valid());
  deliver_reject(s, carol_side);
}

TEST_CASE("handshake: a responder refuses a link to itself") {
  auto i = handshake::initiator(settings("devnet", bob), key_of(bob));
  auto r = handshake::responder(settings("devnet", bob));
  auto s = r.receive(i.hello());
  check_refused(s, ec::wrong_key, true);
  deliver_reject(s, i);
}

TEST_CASE("handshake: a bad signature is refused") {
  auto i = handshake::initiator(settings("devnet", alice), key_of(bob));
  auto r = handshake::responder(settings("devnet", bob));
  auto w = r.receive(i.hello());
  REQUIRE_FALSE(w.error);

  SUBCASE("in the Welcome") {
    for (size_t at : {0, 31, 63}) {
      CAPTURE(at);
      auto i2 = handshake::initiator(settings("devnet", alice), key_of(bob));
      auto r2 = handshake::responder(settings("devnet", bob));
      auto w2 = r2.receive(i2.hello());
      auto bad = rewrite(w2.send, [&](schema::Handshake::Builder h) {
        h.getWelcome().getSignature()[at] ^= 0x01;
      });
      auto s = i2.receive(bad);
      check_refused(s, ec::bad_signature, true);
      deliver_reject(s, r2);
    }
  }
  SUBCASE("in the Proof") {
    auto p = i.receive(w.send);
    REQUIRE(p.established);
    auto bad = rewrite(p.send, [](schema::Handshake::Builder h) {
      h.getProof().getSignature()[17] ^= 0x80;
    });
    auto s = r.receive(bad);
    check_refused(s, ec::bad_signature, true);
    CHECK(r.phase() == handshake_phase::failed);
    CHECK_FALSE(r.take_opener().valid());
  }
  SUBCASE("a Welcome whose signed fields were changed") {
    auto bad = rewrite(w.send, [](schema::Handshake::Builder h) {
      h.getWelcome().getStreamHeader()[0] ^= 0x01;
    });
    check_refused(i.receive(bad), ec::bad_signature, true);
  }
  SUBCASE("a Proof whose stream header was changed") {
    auto p = i.receive(w.send);
    auto bad = rewrite(p.send, [](schema::Handshake::Builder h) {
      h.getProof().getStreamHeader()[23] ^= 0x01;
    });
    check_refused(r.receive(bad), ec::bad_signature, true);
  }
}

TEST_CASE("handshake: version negotiation picks the highest common version") {
  struct range {
    uint16_t lo, hi;
  };
  struct row {
    range i, r;
    uint16_t chosen;
  };
  for (auto [ir, rr, chosen] :
       {row{{1, 1}, {1, 1}, 1}, row{{1, 3}, {2, 5}, 3}, row{{2, 5}, {1, 3}, 3},
        row{{1, 9}, {4, 4}, 4}, row{{4, 4}, {1, 9}, 4},
        row{{3, 7}, {3, 7}, 7}}) {
    CAPTURE(ir.lo);
    CAPTURE(ir.hi);
    CAPTURE(rr.lo);
    CAPTURE(rr.hi);
    auto s = connect(settings("devnet", alice, ir.lo, ir.hi),
                     settings("devnet", bob, rr.lo, rr.hi));
    CHECK(s.initiator.version() == chosen);
    CHECK(s.responder.version() == chosen);
  }
}

TEST_CASE("handshake: disjoint version ranges are refused on both sides") {
  SUBCASE("the responder refuses the Hello") {
    auto i = handshake::initiator(settings("devnet", alice, 1, 2), key_of(bob));
    auto r = handshake::responder(settings("devnet", bob, 3, 4));
    auto s = r.receive(i.hello());
    check_refused(s, ec::wrong_version, true);
    CHECK(message_of(s.error).find("1..2") != std::string::npos);
    CHECK(message_of(s.error).find("3..4") != std::string::npos);
    deliver_reject(s, i);
    CHECK(message_of(i.failure()).find("1..2") != std::string::npos);
    CHECK(message_of(i.failure()).find("3..4") != std::string::npos);
  }
  SUBCASE("the initiator refuses a Welcome outside its range") {
    for (uint16_t v : {uint16_t{1}, uint16_t{4}, uint16_t{0}}) {
      CAPTURE(v);
      auto i2 = handshake::initiator(settings("devnet", alice, 2, 3),
                                     key_of(bob));
      auto r2 = handshake::responder(settings("devnet", bob, 1, 5));
      auto w2 = r2.receive(i2.hello());
      auto bad = rewrite(w2.send, [v](schema::Handshake::Builder h) {
        h.getWelcome().setVersion(v);
      });
      auto s = i2.receive(bad);
      check_refused(s, ec::wrong_version, true);
      CHECK(message_of(s.error).find("2..3") != std::string::npos);
    }
  }
  SUBCASE("an empty range in the Hello") {
    auto hello = handshake::initiator(settings("devnet", alice), key_of(bob))
                   .hello();
    auto bad = rewrite(hello, [](schema::Handshake::Builder h) {
      h.getHello().setMinVersion(2);
      h.getHello().setMaxVersion(1);
    });
    auto r = handshake::responder(settings("devnet", bob, 1, 3));
    check_refused(r.receive(bad), ec::wrong_version, true);
  }
}

TEST_CASE("handshake: frames replayed from an earlier handshake are refused") {
  auto earlier = connect();
  SUBCASE("a Welcome, by the initiator") {
    auto i = handshake::initiator(settings("devnet", alice), key_of(bob));
    auto hello = i.hello();
    CHECK(hello != earlier.hello); // a fresh ephemeral key
    auto s = i.receive(earlier.welcome);
    check_refused(s, ec::bad_signature, true);
  }
  SUBCASE("a Hello and Proof, by the responder") {
    auto r = handshake::responder(settings("devnet", bob));
    auto w = r.receive(earlier.hello); // a Hello alone proves nothing
    REQUIRE_FALSE(w.error);
    CHECK(w.send != earlier.welcome);
    auto s = r.receive(earlier.proof);
    check_refused(s, ec::bad_signature, true);
    CHECK_FALSE(r.established());
  }
  SUBCASE("a Welcome, by the initiator it was made for") {
    auto again = earlier.initiator.receive(earlier.welcome);
    check_refused(again, ec::malformed, false);
    CHECK(earlier.initiator.established()); // unchanged
  }
}

TEST_CASE("handshake: damaged link frames are refused and the opener stays "
          "failed") {
  auto s = connect();
  auto seal = s.initiator.take_sealer();
  auto open = s.responder.take_opener();
  auto f1 = seal.seal(bytes_of("one"));
  auto f2 = seal.seal(bytes_of("two"));
  auto f3 = seal.seal(bytes_of("three"));
  auto check_failed_for_good = [&](ec code) {
    CHECK_FALSE(open.valid());
    for (auto* f : {&f1, &f2, &f3}) {
      auto again = open.open(*f);
      CHECK(code_of(again.error()) == code);
      CHECK_FALSE(message_of(again.error()).empty());
    }
  };
  auto refused = [&](const frame& f, ec code) {
    auto r = open.open(f);
    REQUIRE_FALSE(r);
    CHECK(code_of(r.error()) == code);
    CHECK_FALSE(message_of(r.error()).empty());
    check_failed_for_good(code);
  };

  SUBCASE("out of order") {
    refused(f2, ec::bad_signature);
  }
  SUBCASE("replayed") {
    REQUIRE(open.open(f1));
    refused(f1, ec::bad_signature);
  }
  SUBCASE("dropped") {
    REQUIRE(open.open(f1));
    refused(f3, ec::bad_signature);
  }
  SUBCASE("truncated") {
    REQUIRE(open.open(f1));
    refused(frame{f2.begin(), f2.end() - 1}, ec::bad_signature);
  }
  SUBCASE("extended") {
    auto longer = f1;
    longer.push_back(0);
    refused(longer, ec::bad_signature);
  }
  SUBCASE("a flipped bit anywhere") {
    for (size_t at = 0; at < f1.size(); ++at) {
      CAPTURE(at);
      auto s2 = connect();
      auto seal2 = s2.initiator.take_sealer();
      auto open2 = s2.responder.take_opener();
      auto f = seal2.seal(bytes_of("one"));
      auto bad = f;
      bad[at] ^= static_cast<uint8_t>(1u << (at % 8));
      CHECK(code(open2.open(bad)) == ec::bad_signature);
      CHECK(code(open2.open(f)) == ec::bad_signature);
      CHECK_FALSE(open2.valid());
    }
  }
  SUBCASE("shorter than the authenticator") {
    refused(frame(link_frame_overhead - 1), ec::malformed);
  }
  SUBCASE("larger than max_link_frame") {
    refused(frame(max_link_frame + 1), ec::too_large);
  }
  SUBCASE("a moved-from or default opener refuses") {
    auto moved = std::move(open);
    CHECK(moved.valid());
    CHECK(code(open.open(f1)) == ec::malformed);
    CHECK(moved.open(f1));
    frame_opener none;
    CHECK(code(none.open(f1)) == ec::malformed);
  }
}

TEST_CASE("handshake: the sealer refuses what no opener would take") {
  auto s = connect();
  auto seal = s.initiator.take_sealer();
  auto open = s.responder.take_opener();
  CHECK(seal.seal(std::vector<uint8_t>(max_link_plaintext + 1)).empty());
  // A refused seal leaves the stream where it was.
  auto ok = open.open(seal.seal(bytes_of("still in step")));
  REQUIRE(ok);
  CHECK(text(*ok) == "still in step");
  frame_sealer none;
  CHECK_FALSE(none.valid());
  CHECK(none.seal(bytes_of("x")).empty());
  auto moved = std::move(seal);
  CHECK_FALSE(seal.valid());
  CHECK(seal.seal(bytes_of("x")).empty());
  CHECK(open.open(moved.seal(bytes_of("y"))));
}

TEST_CASE("handshake: a frame in the wrong state is refused") {
  auto s = connect();
  SUBCASE("a Proof to an initiator awaiting the Welcome") {
    auto i = handshake::initiator(settings("devnet", alice), key_of(bob));
    i.hello();
    check_refused(i.receive(s.proof), ec::malformed, true);
  }
  SUBCASE("a Hello to an initiator") {
    auto i = handshake::initiator(settings("devnet", alice), key_of(bob));
    i.hello();
    auto r = i.receive(s.hello);
    check_refused(r, ec::malformed, true);
    CHECK(message_of(r.error).find("Hello") != std::string::npos);
  }
  SUBCASE("a Welcome or Proof to a responder awaiting the Hello") {
    auto r1 = handshake::responder(settings("devnet", bob));
    check_refused(r1.receive(s.welcome), ec::malformed, true);
    auto r2 = handshake::responder(settings("devnet", bob));
    check_refused(r2.receive(s.proof), ec::malformed, true);
  }
  SUBCASE("a Hello to a responder awaiting the Proof") {
    auto r = handshake::responder(settings("devnet", bob));
    auto i = handshake::initiator(settings("devnet", alice), key_of(bob));
    auto w = r.receive(i.hello());
    REQUIRE_FALSE(w.error);
    check_refused(r.receive(s.hello), ec::malformed, true);
  }
  SUBCASE("any frame to an initiator that has not sent its Hello") {
    auto i = handshake::initiator(settings("devnet", alice), key_of(bob));
    check_refused(i.receive(s.welcome), ec::malformed, false);
    CHECK(i.phase() == handshake_phase::failed);
    CHECK(i.hello().empty());
  }
  SUBCASE("anything after established") {
    for (auto* f : {&s.hello, &s.welcome, &s.proof}) {
      check_refused(s.initiator.receive(*f), ec::malformed, false);
      check_refused(s.responder.receive(*f), ec::malformed, false);
    }
    auto rej = reject_frame(static_cast<uint8_t>(ec::wrong_chain), "late");
    check_refused(s.initiator.receive(rej), ec::malformed, false);
    check_refused(s.responder.receive(frame{1, 2, 3}), ec::malformed, false);
    CHECK(s.initiator.established());
    CHECK(s.responder.established());
    // The streams are still there to take.
    CHECK(s.responder.take_opener().open(
      s.initiator.take_sealer().seal(bytes_of("fine"))));
  }
  SUBCASE("anything after failure") {
    auto r = handshake::responder(settings("devnet", bob));
    check_refused(r.receive(frame(8)), ec::malformed, true);
    auto first = r.failure();
    check_refused(r.receive(s.hello), ec::malformed, false);
    check_refused(r.receive(reject_frame(3, "x")), ec::malformed, false);
    CHECK(r.failure() == first);
  }
}

TEST_CASE("handshake: frames that are not well-formed are refused") {
  auto hello = handshake::initiator(settings("devnet", alice), key_of(bob))
                 .hello();
  auto refuse = [](const frame& f, ec code) {
    auto r = handshake::responder(settings("devnet", bob));
    auto s = r.receive(f);
    check_refused(s, code, true);
    CHECK(r.phase() == handshake_phase::failed);
    return message_of(s.error);
  };
  SUBCASE("sizes") {
    refuse(frame{}, ec::malformed);
    refuse(frame(max_handshake_frame + 8), ec::too_large);
    refuse(frame(max_handshake_frame + 1), ec::too_large);
    refuse(frame{hello.begin(), hello.end() - 1}, ec::malformed);
    refuse(frame{hello.begin(), hello.end() - 8}, ec::malformed);
    auto longer = hello;
    longer.insert(longer.end(), 8, 0);
    refuse(longer, ec::malformed); // bytes after the message
    auto ragged = hello;
    ragged.push_back(0);
    refuse(ragged, ec::malformed);
  }
  SUBCASE("the magic") {
    auto bad = rewrite(hello, [](schema::Handshake::Builder h) {
      h.getHello().setMagic(0x4b52414d4c4c4149);
    });
    CHECK(refuse(bad, ec::malformed).find("magic") != std::string::npos);
  }
  SUBCASE("field sizes") {
    std::vector<uint8_t> short_key(31, 1), long_key(33, 1);
    auto set = [&](auto setter) {
      return rewrite(
        hello, [&](schema::Handshake::Builder h) { setter(h.getHello()); });
    };
    auto ptr = [](const std::vector<uint8_t>& v) {
      return kj::arrayPtr(v.data(), v.size());
    };
    refuse(set([&](auto x) { x.setKey(ptr(short_key)); }), ec::malformed);
    refuse(set([&](auto x) { x.setEphemeral(ptr(long_key)); }), ec::malformed);
    refuse(set([&](auto x) { x.setResponderKey(ptr(short_key)); }),
           ec::malformed);
    refuse(set([&](auto x) { x.disownKey(); }), ec::malformed);
  }
  SUBCASE("an unusable ephemeral key") {
    std::vector<uint8_t> zeros(32, 0);
    auto bad = rewrite(hello, [&](schema::Handshake::Builder h) {
      h.getHello().setEphemeral(kj::arrayPtr(zeros.data(), zeros.size()));
    });
    refuse(bad, ec::malformed);
  }
  SUBCASE("an unknown union kind (a newer peer's frame)") {
    // Segment table (8 bytes), root pointer (8 bytes), then the root's data
    // section, whose first 16 bits are the union discriminant.
    auto bad = hello;
    bad[16] = 9;
    bad[17] = 0;
    auto e = encoded::copy_of(bad);
    REQUIRE(e);
    capnp::FlatArrayMessageReader reader{words_of(*e)};
    REQUIRE(static_cast<int>(reader.getRoot<schema::Handshake>().which()) == 9);
    auto msg = refuse(bad, ec::malformed);
    CHECK(msg.find("kind") != std::string::npos);
  }
}

// Found by tests/fuzz/handshake_frame.cpp: the decoder keeps every byte of
// a Hello's chain name, NULs included, and the encoder used to stop at the
// first NUL, so a Hello did not encode to what it was.
TEST_CASE("handshake: a Hello's chain name encodes whole, NULs included") {
  using namespace std::string_literals;
  hello_msg h;
  h.magic = handshake_magic;
  h.min_version = h.max_version = 1;
  h.chain = "dev\0net"s;
  h.key = key_of(alice);
  auto back = decode_frame(encode_hello(h));
  REQUIRE(back);
  REQUIRE(std::holds_alternative<hello_msg>(*back));
  CHECK(std::get<hello_msg>(*back).chain == h.chain);
}

TEST_CASE("handshake: a peer's Reject fails with its code and a clean "
          "reason") {
  auto waiting = [] {
    auto i = handshake::initiator(settings("devnet", alice), key_of(bob));
    i.hello();
    return i;
  };
  SUBCASE("code and reason") {
    auto i = waiting();
    auto s = i.receive(
      reject_frame(static_cast<uint8_t>(ec::shutting_down), "maintenance"));
    check_refused(s, ec::shutting_down, false);
    CHECK(message_of(s.error).find("peer refused: maintenance")
          != std::string::npos);
  }
  SUBCASE("code 0 is no success") {
    auto i = waiting();
    check_refused(i.receive(reject_frame(0, "")), ec::malformed, false);
  }
  SUBCASE("a code we do not know is kept") {
    auto i = waiting();
    auto s = i.receive(reject_frame(200, "from the future"));
    CHECK(static_cast<unsigned>(code_of(s.error)) == 200);
    CHECK_FALSE(message_of(s.error).empty());
  }
  SUBCASE("control characters and length are cut") {
    auto r = handshake::responder(settings("devnet", bob));
    std::string nasty = "line\nbreak\x1b[31m\x7f";
    nasty += std::string(3000, 'x');
    auto s = r.receive(reject_frame(17, nasty));
    check_refused(s, ec::wrong_chain, false);
    auto msg = message_of(s.error);
    CHECK(msg.size() < 400);
    CHECK(std::none_of(msg.begin(), msg.end(), [](char c) {
      return static_cast<unsigned char>(c) < 0x20
             || static_cast<unsigned char>(c) >= 0x7f;
    }));
  }
}

TEST_CASE("handshake: a Reject we send fits the handshake frame limit") {
  // A Hello with a chain name as long as the frame allows.
  auto hello = handshake::initiator(settings("devnet", alice), key_of(bob))
                 .hello();
  auto long_chain = rewrite(hello, [](schema::Handshake::Builder h) {
    h.getHello().setChain(std::string(3800, 'z'));
  });
  REQUIRE(long_chain.size() <= max_handshake_frame);
  auto r = handshake::responder(settings("devnet", bob));
  auto s = r.receive(long_chain);
  check_refused(s, ec::wrong_chain, true);
  CHECK(s.send.size() <= max_handshake_frame);
  CHECK(read_reject(s.send).second.size() <= max_reject_reason + 3);
  CHECK(message_of(s.error).size() < 400);
}

TEST_CASE("handshake: garbage never crashes a handshake in any state") {
  std::mt19937_64 rng{20240601};
  auto genuine = connect();
  const std::vector<const frame*> samples = {&genuine.hello, &genuine.welcome,
                                             &genuine.proof};
  auto garbage = [&]() -> frame {
    switch (rng() % 4) {
    case 0: { // random bytes, any size
      frame f(rng() % (max_handshake_frame + 200));
      for (auto& b : f)
        b = static_cast<uint8_t>(rng());
      return f;
    }
    case 1: { // whole words behind a plausible one-segment table
      size_t words = 1 + rng() % 64;
      frame f(8 * (words + 1));
      for (auto& b : f)
        b = static_cast<uint8_t>(rng());
      std::fill(f.begin(), f.begin() + 4, 0);
      put_u32(f.data() + 4, static_cast<uint32_t>(words));
      return f;
    }
    default: { // a genuine frame, damaged
      auto f = *samples[rng() % samples.size()];
      auto flips = 1 + rng() % 8;
      for (size_t n = 0; n < flips; ++n)
        f[rng() % f.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      if (rng() % 4 == 0)
        f.resize(rng() % (f.size() + 16));
      return f;
    }
    }
  };
  auto in_phase = [&](handshake_phase p) -> handshake {
    switch (p) {
    case handshake_phase::start:
      return handshake::initiator(settings("devnet", alice), key_of(bob));
    case handshake_phase::awaiting_welcome: {
      auto i = handshake::initiator(settings("devnet", alice), key_of(bob));
      i.hello();
      return i;
    }
    case handshake_phase::awaiting_hello:
      return handshake::responder(settings("devnet", bob));
    case handshake_phase::awaiting_proof: {
      auto r = handshake::responder(settings("devnet", bob));
      auto i = handshake::initiator(settings("devnet", alice), key_of(bob));
      REQUIRE_FALSE(r.receive(i.hello()).error);
      return r;
    }
    case handshake_phase::established:
      return connect().responder;
    default: {
      auto r = handshake::responder(settings("devnet", bob));
      r.receive(frame(8));
      return r;
    }
    }
  };
  for (auto p :
       {handshake_phase::start, handshake_phase::awaiting_welcome,
        handshake_phase::awaiting_hello, handshake_phase::awaiting_proof,
        handshake_phase::established, handshake_phase::failed}) {
    CAPTURE(to_string(p));
    auto h = in_phase(p);
    for (int n = 0; n < 1000; ++n) {
      if (h.phase() != p)
        h = in_phase(p);
      auto f = garbage();
      auto s = h.receive(f);
      if (s.error) {
        CHECK(code_of(s.error) != ec::none);
        CHECK_FALSE(message_of(s.error).empty());
        if (!s.send.empty())
          CHECK(read_reject(s.send).first
                == static_cast<uint8_t>(code_of(s.error)));
      } else {
        // Only a damaged genuine frame can get through, and only by still
        // being the right, well-formed frame.
        CHECK(p != handshake_phase::start);
        CHECK(p != handshake_phase::established);
        CHECK(p != handshake_phase::failed);
      }
    }
  }
}

TEST_CASE("handshake: settings validate") {
  CHECK_FALSE(settings("devnet", alice).validate());
  CHECK(code(settings("", alice).validate()) == ec::bad_config);
  CHECK(code(settings(std::string(256, 'c'), alice).validate())
        == ec::bad_config);
  CHECK(code(settings("devnet", alice, 0, 1).validate()) == ec::bad_config);
  CHECK(code(settings("devnet", alice, 3, 2).validate()) == ec::bad_config);
  CHECK_FALSE(message_of(settings("devnet", alice, 3, 2).validate()).empty());
  CHECK(std::string{to_string(handshake_phase::awaiting_proof)}
        == "awaiting_proof");
  CHECK(std::string{to_string(ec::wrong_key)} == "wrong_key");
  CHECK(std::string{to_string(ec::wrong_version)} == "wrong_version");
  CHECK(static_cast<int>(ec::wrong_key) == 28);
  CHECK(static_cast<int>(ec::wrong_version) == 29);
}

TEST_SUITE_END();
