// Fuzzes the link handshake's state machine (handshake::receive) from both
// sides. The first byte picks a mode:
//
//   0  a responder fed the frames that follow
//   1  an initiator (Hello sent) fed the frames that follow
//   2  a real initiator and responder talking, with the frames in flight
//      changed by the mutations that follow
//
// Frames (modes 0, 1): a u16 little-endian length, then that many bytes; at
// most four. Mutations (mode 2): 4 bytes each, [which][offset u16][xor]:
// `which` % 3 picks Hello, Welcome or Proof; `which` >= 0x80 cuts that
// frame at `offset` instead of flipping bits. Identities are fixed and the
// randomness deterministic, so an input replays exactly (and the seed
// corpus, made by tests/fuzz/seeds.cpp with the same keys, holds frames
// that pass the checks).
//
// Invariants, after every step: `established` is set on exactly one step
// and only with the phase established and no error; an error leaves the
// phase failed (or where it was, if it was already over), and what it sends
// is a Reject with the error's code; a failed side hands out no streams; a
// step neither failed nor established sends a frame. In mode 2: unchanged
// frames establish both sides; whenever both sides are established (changed
// frames or not), each knows the other's identity and every frame one side
// seals the other opens to the same bytes.
#include <array>
#include <optional>
#include <vector>

#include "messages/handshake.hpp"
#include "messages/handshake_frames.hpp"
#include "tests/fuzz/fuzz.hpp"
#include "tests/fuzz/handshake_keys.hpp"

using namespace hallmark;

namespace {

/// Feeds one frame and checks the step against the phase before it.
handshake::step feed(handshake& h, byte_view frame, bool& established_once) {
  auto before = h.phase();
  auto s = h.receive(frame);
  auto over = before == handshake_phase::established
              || before == handshake_phase::failed;
  if (s.established) {
    HALLMARK_FUZZ_CHECK(!established_once);
    HALLMARK_FUZZ_CHECK(!s.error);
    HALLMARK_FUZZ_CHECK(h.phase() == handshake_phase::established);
    HALLMARK_FUZZ_CHECK(h.version() >= protocol_version_min
                        && h.version() <= protocol_version_max);
    established_once = true;
  }
  if (s.error) {
    HALLMARK_FUZZ_CHECK(!s.established);
    if (over) {
      HALLMARK_FUZZ_CHECK(h.phase() == before);
      HALLMARK_FUZZ_CHECK(s.send.empty());
    } else {
      HALLMARK_FUZZ_CHECK(h.phase() == handshake_phase::failed);
      HALLMARK_FUZZ_CHECK(code_of(h.failure()) == code_of(s.error));
      HALLMARK_FUZZ_CHECK(!h.take_sealer().valid());
      HALLMARK_FUZZ_CHECK(!h.take_opener().valid());
    }
    if (!s.send.empty()) {
      auto reject = decode_frame(s.send);
      HALLMARK_FUZZ_CHECK(static_cast<bool>(reject));
      auto* r = std::get_if<reject_msg>(&*reject);
      HALLMARK_FUZZ_CHECK(r != nullptr);
      HALLMARK_FUZZ_CHECK(r->code == static_cast<uint8_t>(code_of(s.error)));
    }
  } else if (!s.established) {
    HALLMARK_FUZZ_CHECK(!s.send.empty());
    HALLMARK_FUZZ_CHECK(h.phase() == handshake_phase::awaiting_proof);
  }
  return s;
}

/// Up to four length-prefixed frames from the input.
std::vector<byte_view> frames_of(byte_view in) {
  std::vector<byte_view> out;
  while (out.size() < 4 && in.size() >= 2) {
    size_t len = get_u16(in.data());
    in = in.subspan(2);
    len = std::min(len, in.size());
    out.push_back(in.subspan(0, len));
    in = in.subspan(len);
  }
  return out;
}

void one_side(handshake h, byte_view in) {
  bool established = false;
  for (auto frame : frames_of(in))
    feed(h, frame, established);
}

struct mutation {
  uint8_t which;
  uint16_t offset;
  uint8_t xor_with;
};

/// Applies the mutations aimed at frame `index`; true if the bytes changed.
bool mutate(std::vector<uint8_t>& frame, size_t index,
            const std::vector<mutation>& ms) {
  auto before = frame;
  for (auto& m : ms) {
    if (m.which % 3 != index)
      continue;
    if (m.which >= 0x80) {
      if (m.offset < frame.size())
        frame.resize(m.offset);
    } else if (!frame.empty()) {
      frame[m.offset % frame.size()] ^= m.xor_with;
    }
  }
  return frame != before;
}

/// Both sides established: they must know each other and agree on both
/// streams.
void check_link(handshake& ini, handshake& resp) {
  HALLMARK_FUZZ_CHECK(ini.peer() == fuzz::responder_key().public_key_bytes());
  HALLMARK_FUZZ_CHECK(resp.peer() == fuzz::initiator_key().public_key_bytes());
  HALLMARK_FUZZ_CHECK(ini.version() == resp.version());
  auto a_out = ini.take_sealer();
  auto a_in = ini.take_opener();
  auto b_out = resp.take_sealer();
  auto b_in = resp.take_opener();
  std::array<uint8_t, 5> text{'h', 'e', 'l', 'l', 'o'};
  for (int i = 0; i < 2; ++i) {
    auto x = b_in.open(a_out.seal(text));
    HALLMARK_FUZZ_CHECK(
      x && std::equal(x->begin(), x->end(), text.begin(), text.end()));
    auto y = a_in.open(b_out.seal(text));
    HALLMARK_FUZZ_CHECK(
      y && std::equal(y->begin(), y->end(), text.begin(), text.end()));
  }
}

void talking(byte_view in) {
  std::vector<mutation> ms;
  for (; in.size() >= 4; in = in.subspan(4))
    ms.push_back({in[0], get_u16(in.data() + 1), in[3]});
  auto ini = handshake::initiator(fuzz::settings(fuzz::initiator_key()),
                                  fuzz::responder_key().public_key_bytes());
  auto resp = handshake::responder(fuzz::settings(fuzz::responder_key()));
  bool ini_established = false;
  bool resp_established = false;
  bool changed = false;
  auto hello = ini.hello();
  changed |= mutate(hello, 0, ms);
  auto welcome = feed(resp, hello, resp_established);
  if (welcome.error)
    return HALLMARK_FUZZ_CHECK(changed);
  changed |= mutate(welcome.send, 1, ms);
  auto proof = feed(ini, welcome.send, ini_established);
  if (proof.error)
    return HALLMARK_FUZZ_CHECK(changed);
  HALLMARK_FUZZ_CHECK(ini_established);
  changed |= mutate(proof.send, 2, ms);
  auto done = feed(resp, proof.send, resp_established);
  if (done.error)
    return HALLMARK_FUZZ_CHECK(changed);
  HALLMARK_FUZZ_CHECK(resp_established);
  check_link(ini, resp);
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::deterministic_random::install();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  fuzz::deterministic_random::reset();
  byte_view rest{data + 1, size - 1};
  switch (data[0] % 3) {
  case 0:
    one_side(handshake::responder(fuzz::settings(fuzz::responder_key())), rest);
    break;
  case 1: {
    auto ini = handshake::initiator(fuzz::settings(fuzz::initiator_key()),
                                    fuzz::responder_key().public_key_bytes());
    (void)ini.hello();
    one_side(std::move(ini), rest);
    break;
  }
  default:
    talking(rest);
  }
  return 0;
}
