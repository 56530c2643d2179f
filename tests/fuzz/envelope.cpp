// Fuzzes the link's Envelope decoder (wire::decode_envelope, with the
// limit a peer session reads a decrypted frame under), and what the session
// does next with a decoded envelope: name its kind, turn a reply into the
// kind a request expects.
//
// Invariants: a refusal is malformed or too_large; a decoded envelope
// encodes, and that encoding decodes and encodes again to the same bytes
// with the same id and kind (decoding normalises once, then is stable).
#include "messages/envelope.hpp"
#include "messages/handshake.hpp"
#include "tests/fuzz/fuzz.hpp"

using namespace hallmark;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto input = fuzz::words_of_input(data, size);
  auto env = wire::decode_envelope(input, max_link_plaintext);
  if (!env) {
    HALLMARK_FUZZ_CHECK(
      fuzz::is_one_of(env.error(), {ec::malformed, ec::too_large}));
    return 0;
  }
  (void)wire::kind_name(env->what);
  (void)wire::is_response(env->what);
  (void)wire::reply_as<wire::info>(env->what, "info");
  if (auto* r = std::get_if<wire::refusal>(&env->what))
    HALLMARK_FUZZ_CHECK(static_cast<bool>(wire::error_of(*r)));
  auto once = wire::encode(*env);
  HALLMARK_FUZZ_CHECK(static_cast<bool>(once));
  auto again = wire::decode_envelope(*once, max_link_plaintext);
  HALLMARK_FUZZ_CHECK(static_cast<bool>(again));
  HALLMARK_FUZZ_CHECK(again->id == env->id);
  auto twice = wire::encode(*again);
  HALLMARK_FUZZ_CHECK(static_cast<bool>(twice));
  HALLMARK_FUZZ_CHECK(*twice == *once);
  if (!std::holds_alternative<wire::unknown>(env->what))
    HALLMARK_FUZZ_CHECK(again->what.index() == env->what.index());
  return 0;
}
