// Fuzzes the node's admin parser: the bytes as a stream of frames, split as
// the admin broker splits its buffer (admin_frame_size), each body decoded as
// the broker decodes it (decode_admin_request).
//
// Invariants: a bad length is malformed and names itself; a frame's size is
// its prefix plus a non-zero multiple of 8 up to max_admin_frame; a refusal
// is malformed (the broker closes) or bad_request (the broker answers and
// goes on); a decoded request encodes, and that encoding decodes and
// encodes again to the same bytes and the same kind.
#include "messages/admin_request.hpp"
#include "tests/fuzz/fuzz.hpp"

using namespace hallmark;

namespace {

void one_body(const encoded& body) {
  auto req = decode_admin_request(body);
  if (!req) {
    HALLMARK_FUZZ_CHECK(
      fuzz::is_one_of(req.error(), {ec::malformed, ec::bad_request}));
    return;
  }
  auto once = encode_admin_request(*req);
  HALLMARK_FUZZ_CHECK(static_cast<bool>(once));
  auto again = decode_admin_request(*once);
  HALLMARK_FUZZ_CHECK(static_cast<bool>(again));
  HALLMARK_FUZZ_CHECK(again->index() == req->index());
  auto twice = encode_admin_request(*again);
  HALLMARK_FUZZ_CHECK(static_cast<bool>(twice));
  HALLMARK_FUZZ_CHECK(*twice == *once);
  auto framed = admin_frame(*once);
  auto size = admin_frame_size(framed);
  HALLMARK_FUZZ_CHECK(size && *size == framed.size());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  byte_view rest{data, size};
  while (true) {
    auto frame = admin_frame_size(rest);
    if (!frame) {
      HALLMARK_FUZZ_CHECK(code_of(frame.error()) == ec::malformed);
      HALLMARK_FUZZ_CHECK(message_of(frame.error()).find("bad frame length")
                          != std::string::npos);
      return 0;
    }
    if (*frame == 0)
      return 0;
    HALLMARK_FUZZ_CHECK(*frame > admin_frame_prefix && *frame <= rest.size());
    HALLMARK_FUZZ_CHECK((*frame - admin_frame_prefix) % 8 == 0);
    HALLMARK_FUZZ_CHECK(*frame - admin_frame_prefix <= max_admin_frame);
    auto body = encoded::copy_of(
      rest.subspan(admin_frame_prefix, *frame - admin_frame_prefix));
    HALLMARK_FUZZ_CHECK(static_cast<bool>(body));
    one_body(*body);
    rest = rest.subspan(*frame);
  }
}
