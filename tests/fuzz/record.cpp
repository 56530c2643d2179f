// Fuzzes the record decoders: the bytes as one Record (decode_record, the
// limits of a stored record) and as a RecordList (decode_records, the limits
// of a submission or a relayed batch).
//
// Invariants: a refusal is malformed, too_large or bad_record; what decodes
// re-encodes to a message that decodes to the same encoding (decode ∘ encode
// is the identity on what the decoder returns); a record that passes the
// field rules fits the limits it came in under once re-encoded; ids and
// the field rules run on anything the decoder returns.
#include "core/records.hpp"
#include "messages/codec.hpp"
#include "tests/fuzz/fuzz.hpp"

using namespace hallmark;

namespace {

void check_refusal(const caf::error& err) {
  HALLMARK_FUZZ_CHECK(
    fuzz::is_one_of(err, {ec::malformed, ec::too_large, ec::bad_record}));
}

void one_record(const encoded& input) {
  auto r = decode_record(input);
  if (!r)
    return check_refusal(r.error());
  auto fields_ok = !check_fields(*r);
  (void)leaf_id(*r);
  (void)record_count(*r);
  auto once = encode(*r);
  auto again = decode_record(once, submission_limits);
  HALLMARK_FUZZ_CHECK(static_cast<bool>(again));
  HALLMARK_FUZZ_CHECK(encode(*again) == once);
  HALLMARK_FUZZ_CHECK(leaf_id(*again) == leaf_id(*r));
  if (fields_ok)
    HALLMARK_FUZZ_CHECK(static_cast<bool>(decode_record(once)));
}

void record_list(const encoded& input) {
  auto rs = decode_records(input);
  if (!rs)
    return check_refusal(rs.error());
  HALLMARK_FUZZ_CHECK(rs->size() <= max_block_records);
  auto once = encode(*rs);
  auto again = decode_records(once, {once.size() + 8});
  HALLMARK_FUZZ_CHECK(static_cast<bool>(again));
  HALLMARK_FUZZ_CHECK(again->size() == rs->size());
  HALLMARK_FUZZ_CHECK(encode(*again) == once);
  for (auto& r : *rs)
    (void)check_fields(r);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto input = fuzz::words_of_input(data, size);
  one_record(input);
  record_list(input);
  return 0;
}
