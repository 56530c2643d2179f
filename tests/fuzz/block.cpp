// Fuzzes the block decoder (decode_block, with the limits a block from a
// peer is read under), and the header and block rules on what it returns.
//
// Invariants: a refusal is malformed, too_large or bad_record; what decodes
// re-encodes to a message that decodes to the same encoding, with the same
// block hash and merkle leaves; the stateless header and block rules run on
// anything the decoder returns.
#include "core/chain.hpp"
#include "core/records.hpp"
#include "messages/codec.hpp"
#include "tests/fuzz/fuzz.hpp"

using namespace hallmark;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto input = fuzz::words_of_input(data, size);
  auto b = decode_block(input);
  if (!b) {
    HALLMARK_FUZZ_CHECK(fuzz::is_one_of(
      b.error(), {ec::malformed, ec::too_large, ec::bad_record}));
    return 0;
  }
  HALLMARK_FUZZ_CHECK(b->records.size() <= max_block_records);
  auto hash = block_hash(b->hdr);
  auto leaves = leaf_ids(*b);
  (void)merkle_root(leaves);
  (void)record_count(*b);
  (void)check_block(*b);
  auto once = encode(*b);
  auto again = decode_block(once, {once.size() + 8});
  HALLMARK_FUZZ_CHECK(static_cast<bool>(again));
  HALLMARK_FUZZ_CHECK(encode(*again) == once);
  HALLMARK_FUZZ_CHECK(block_hash(again->hdr) == hash);
  HALLMARK_FUZZ_CHECK(header_bytes(again->hdr) == header_bytes(b->hdr));
  HALLMARK_FUZZ_CHECK(leaf_ids(*again) == leaves);
  return 0;
}
