// Fuzzes the link's Envelope decoder (wire::decode_envelope, with the
// limit a peer session reads a decrypted frame under), and what the session
// does next with a decoded envelope: name its kind, turn a reply into the
// kind a request expects.
//
// Invariants: a refusal is malformed or too_large; a decoded envelope
// encodes, and that encoding decodes and encodes again to the same bytes
// with the same id and kind (decoding normalises once, then is stable); a
// decoded state proof, verified against a root, passes or fails with
// bad_state_proof, never anything else.
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
  auto judged = [](const caf::error& err) {
    return !err || code_of(err) == ec::bad_state_proof;
  };
  auto nothing =
    [](const trie::state_key&,
       const std::function<bool(const trie::state_key&, byte_view)>&) {
      return caf::error{};
    };
  hash256 root;
  root.fill(0x42);
  if (auto* s = std::get_if<wire::state_range>(&env->what))
    HALLMARK_FUZZ_CHECK(judged(
      trie::verify_range(root, trie::min_key(), trie::max_key(), s->proof)));
  if (auto* c = std::get_if<wire::state_change>(&env->what)) {
    if (auto* ch = std::get_if<trie::change_proof>(&c->proof))
      HALLMARK_FUZZ_CHECK(judged(trie::verify_change(
        root, trie::min_key(), trie::max_key(), nothing, *ch)));
  }
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
