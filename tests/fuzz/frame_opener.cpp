// Fuzzes the frame opener (frame_opener::open) of an established link: the
// input is a list of operations on one direction of a real link (fixed
// identities, deterministic randomness), each [op][u16 length][bytes]:
//
//   op % 4 == 0  seal the bytes, open the frame
//   op % 4 == 1  open the bytes as a frame (a forgery)
//   op % 4 == 2  seal the bytes, flip bits at the offset the first two bytes
//                name (with the third, or 1), open the changed frame
//   op % 4 == 3  seal the bytes and drop the frame
//
// Invariants: a sealed frame opens to its plaintext while nothing was
// forged, changed or dropped before it; a changed frame, a frame after a
// dropped one, or one of the wrong size fails with its pinned code
// (bad_signature, malformed, too_large); after the first failure every open
// fails with that failure's code and the opener is no longer valid.
#include <algorithm>
#include <optional>
#include <vector>

#include "messages/handshake.hpp"
#include "tests/fuzz/fuzz.hpp"
#include "tests/fuzz/handshake_keys.hpp"

using namespace hallmark;

namespace {

struct link {
  frame_sealer sealer;
  frame_opener opener;
};

/// One direction of a link established by a real handshake.
link make_link() {
  auto ini = handshake::initiator(fuzz::settings(fuzz::initiator_key()),
                                  fuzz::responder_key().public_key_bytes());
  auto resp = handshake::responder(fuzz::settings(fuzz::responder_key()));
  auto welcome = resp.receive(ini.hello());
  auto proof = ini.receive(welcome.send);
  auto done = resp.receive(proof.send);
  HALLMARK_FUZZ_CHECK(done.established && ini.established());
  return {ini.take_sealer(), resp.take_opener()};
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::deterministic_random::install();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::deterministic_random::reset();
  auto l = make_link();
  auto& sealer = l.sealer;
  auto& opener = l.opener;
  std::optional<ec> failed; // the first failure's code
  bool out_of_step = false; // a frame was dropped: the next one fails
  auto expect = [&](const caf::expected<std::vector<uint8_t>>& got,
                    std::optional<byte_view> plaintext) {
    if (failed) {
      HALLMARK_FUZZ_CHECK(!got && code_of(got.error()) == *failed);
      HALLMARK_FUZZ_CHECK(!opener.valid());
      return;
    }
    if (plaintext && !out_of_step) {
      HALLMARK_FUZZ_CHECK(static_cast<bool>(got));
      HALLMARK_FUZZ_CHECK(std::equal(got->begin(), got->end(),
                                     plaintext->begin(), plaintext->end()));
      HALLMARK_FUZZ_CHECK(opener.valid());
      return;
    }
    HALLMARK_FUZZ_CHECK(!got);
    HALLMARK_FUZZ_CHECK(fuzz::is_one_of(
      got.error(), {ec::bad_signature, ec::malformed, ec::too_large}));
    HALLMARK_FUZZ_CHECK(!opener.valid());
    failed = code_of(got.error());
  };
  byte_view in{data, size};
  while (in.size() >= 3) {
    auto op = in[0] % 4;
    size_t len = std::min<size_t>(get_u16(in.data() + 1), in.size() - 3);
    auto bytes = in.subspan(3, len);
    in = in.subspan(3 + len);
    switch (op) {
    case 0:
      expect(opener.open(sealer.seal(bytes)), bytes);
      break;
    case 1: {
      // Forging a frame takes breaking Poly1305: a success would mean the
      // opener accepts what nobody sealed.
      expect(opener.open(bytes), std::nullopt);
      break;
    }
    case 2: {
      auto frame = sealer.seal(bytes);
      size_t at = bytes.size() >= 2 ? get_u16(bytes.data()) : 0;
      uint8_t flip = bytes.size() >= 3 && bytes[2] != 0 ? bytes[2] : 1;
      frame[at % frame.size()] ^= flip;
      expect(opener.open(frame), std::nullopt);
      break;
    }
    default:
      (void)sealer.seal(bytes);
      out_of_step = true;
    }
  }
  return 0;
}
