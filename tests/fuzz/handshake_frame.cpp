// Fuzzes the handshake frame decoder (decode_frame: Hello, Welcome, Proof,
// Reject), which every handshake frame from a peer goes through first.
//
// Invariants: a refusal is malformed or too_large; a decoded frame encodes,
// and that encoding decodes to the same values (a Reject's reason made
// printable and cut) and encodes again to the same bytes.
#include <variant>

#include "messages/handshake.hpp"
#include "messages/handshake_frames.hpp"
#include "tests/fuzz/fuzz.hpp"

using namespace hallmark;

namespace {

template <class... Fs>
struct overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
overloaded(Fs...) -> overloaded<Fs...>;

std::vector<uint8_t> encode_frame(const frame_msg& m) {
  return std::visit(
    overloaded{[](const hello_msg& x) { return encode_hello(x); },
               [](const welcome_msg& x) { return encode_welcome(x); },
               [](const proof_msg& x) { return encode_proof(x); },
               [](const reject_msg& x) {
                 return encode_reject(static_cast<ec>(x.code), x.reason);
               }},
    m);
}

/// Field by field; a Reject's reason as encode_reject leaves it.
bool same(const frame_msg& x, const frame_msg& y) {
  if (x.index() != y.index())
    return false;
  return std::visit(
    overloaded{[&](const hello_msg& a) {
                 auto& b = std::get<hello_msg>(y);
                 return a.magic == b.magic && a.min_version == b.min_version
                        && a.max_version == b.max_version && a.chain == b.chain
                        && a.key == b.key && a.ephemeral == b.ephemeral
                        && a.responder_key == b.responder_key;
               },
               [&](const welcome_msg& a) {
                 auto& b = std::get<welcome_msg>(y);
                 return a.version == b.version && a.key == b.key
                        && a.ephemeral == b.ephemeral && a.header == b.header
                        && a.sig == b.sig;
               },
               [&](const proof_msg& a) {
                 auto& b = std::get<proof_msg>(y);
                 return a.header == b.header && a.sig == b.sig;
               },
               [&](const reject_msg& a) {
                 auto& b = std::get<reject_msg>(y);
                 return a.code == b.code
                        && printable(a.reason, max_reject_reason) == b.reason;
               }},
    x);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = decode_frame(byte_view{data, size});
  if (!m) {
    HALLMARK_FUZZ_CHECK(
      fuzz::is_one_of(m.error(), {ec::malformed, ec::too_large}));
    return 0;
  }
  HALLMARK_FUZZ_CHECK(size % 8 == 0 && size > 0 && size <= max_handshake_frame);
  (void)kind_name(*m);
  if (auto* r = std::get_if<reject_msg>(&*m))
    (void)printable(r->reason, max_reject_reason);
  auto once = encode_frame(*m);
  auto again = decode_frame(once);
  HALLMARK_FUZZ_CHECK(static_cast<bool>(again));
  HALLMARK_FUZZ_CHECK(same(*m, *again));
  HALLMARK_FUZZ_CHECK(encode_frame(*again) == once);
  return 0;
}
