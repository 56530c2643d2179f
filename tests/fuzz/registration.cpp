// Fuzzes the registration decoder (decode_registration, as the peer table
// reads a stored one) and the checks a received registration goes through
// (check_registration, parse_listener).
//
// Invariants: a refusal is malformed or too_large; what decodes re-encodes
// to a message that decodes to the same encoding, signing bytes and
// signature; the decoder's size limits hold (chain name, listener count and
// length); a listener that parses has a port and a non-empty host; the
// checks answer with one of their pinned codes.
#include "messages/registration.hpp"
#include "tests/fuzz/fuzz.hpp"

using namespace hallmark;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::deterministic_random::install();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto input = fuzz::words_of_input(data, size);
  auto r = decode_registration(input);
  if (!r) {
    HALLMARK_FUZZ_CHECK(
      fuzz::is_one_of(r.error(), {ec::malformed, ec::too_large}));
    return 0;
  }
  HALLMARK_FUZZ_CHECK(r->chain.size() <= max_registration_chain_bytes);
  HALLMARK_FUZZ_CHECK(r->listeners.size() <= max_listeners);
  for (auto& l : r->listeners) {
    HALLMARK_FUZZ_CHECK(l.size() <= max_listener_bytes);
    if (auto hp = parse_listener(l)) {
      HALLMARK_FUZZ_CHECK(!hp->first.empty());
      HALLMARK_FUZZ_CHECK(hp->second != 0);
    }
  }
  auto once = encode_registration(*r);
  auto again = decode_registration(once);
  HALLMARK_FUZZ_CHECK(static_cast<bool>(again));
  HALLMARK_FUZZ_CHECK(encode_registration(*again) == once);
  HALLMARK_FUZZ_CHECK(signing_bytes(*again) == signing_bytes(*r));
  HALLMARK_FUZZ_CHECK(again->sig == r->sig);
  auto err = check_registration(*r, "devnet", r->timestamp, 3600, 600);
  HALLMARK_FUZZ_CHECK(
    !err
    || fuzz::is_one_of(err, {ec::wrong_chain, ec::bad_record, ec::bad_timestamp,
                             ec::bad_signature}));
  return 0;
}
