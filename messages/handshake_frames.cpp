#include "messages/handshake_frames.hpp"

#include <algorithm>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fmt/format.h>

#include "messages/codec.hpp"
#include "messages/codec_capnp.hpp"
#include "messages/handshake.hpp"
#include "messages/wire.capnp.h"

namespace hallmark {

std::string printable(std::string_view text, size_t max) {
  std::string out;
  for (char c : text.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  if (text.size() > max)
    out += "...";
  return out;
}

const char* kind_name(const frame_msg& m) {
  static constexpr const char* names[] = {"Hello", "Welcome", "Proof",
                                          "Reject"};
  return names[m.index()];
}

namespace {

/// Copies a Data field of exactly N bytes, or fails naming the field.
template <size_t N>
caf::error read_fixed(capnp::Data::Reader in, std::array<uint8_t, N>& out,
                      const char* what) {
  if (in.size() != N)
    return make_error(ec::malformed, fmt::format("{} has {} bytes, not {}",
                                                 what, in.size(), N));
  std::copy(in.begin(), in.end(), out.begin());
  return caf::none;
}

caf::expected<frame_msg> read_frame(schema::Handshake::Reader root) {
  switch (root.which()) {
  case schema::Handshake::HELLO: {
    auto in = root.getHello();
    hello_msg m;
    m.magic = in.getMagic();
    m.min_version = in.getMinVersion();
    m.max_version = in.getMaxVersion();
    auto chain = in.getChain();
    m.chain.assign(chain.begin(), chain.end());
    if (auto err = read_fixed(in.getKey(), m.key, "Hello key"))
      return err;
    if (auto err = read_fixed(in.getEphemeral(), m.ephemeral,
                              "Hello ephemeral"))
      return err;
    if (auto err = read_fixed(in.getResponderKey(), m.responder_key,
                              "Hello responderKey"))
      return err;
    return frame_msg{std::move(m)};
  }
  case schema::Handshake::WELCOME: {
    auto in = root.getWelcome();
    welcome_msg m;
    m.version = in.getVersion();
    if (auto err = read_fixed(in.getKey(), m.key, "Welcome key"))
      return err;
    if (auto err = read_fixed(in.getEphemeral(), m.ephemeral,
                              "Welcome ephemeral"))
      return err;
    if (auto err = read_fixed(in.getStreamHeader(), m.header,
                              "Welcome streamHeader"))
      return err;
    if (auto err = read_fixed(in.getSignature(), m.sig, "Welcome signature"))
      return err;
    return frame_msg{std::move(m)};
  }
  case schema::Handshake::PROOF: {
    auto in = root.getProof();
    proof_msg m;
    if (auto err = read_fixed(in.getStreamHeader(), m.header,
                              "Proof streamHeader"))
      return err;
    if (auto err = read_fixed(in.getSignature(), m.sig, "Proof signature"))
      return err;
    return frame_msg{std::move(m)};
  }
  case schema::Handshake::REJECT: {
    auto in = root.getReject();
    reject_msg m;
    m.code = in.getCode();
    auto reason = in.getReason();
    m.reason.assign(reason.begin(), reason.end());
    return frame_msg{std::move(m)};
  }
  default:
    return make_error(ec::malformed,
                      fmt::format("unknown handshake frame kind {}",
                                  static_cast<unsigned>(root.which())));
  }
}

} // namespace

/// Decodes one handshake frame within the handshake limits.
caf::expected<frame_msg> decode_frame(byte_view frame) {
  if (frame.size() > max_handshake_frame)
    return make_error(ec::too_large,
                      fmt::format("handshake frame of {} bytes, at most {}",
                                  frame.size(), max_handshake_frame));
  if (frame.empty())
    return make_error(ec::malformed, "empty handshake frame");
  auto words = encoded::copy_of(frame);
  if (!words)
    return make_error(ec::malformed,
                      fmt::format("handshake frame of {} bytes is not a whole "
                                  "number of 8-byte words",
                                  frame.size()));
  return guarded([&]() -> caf::expected<frame_msg> {
    auto flat = words_of(*words);
    capnp::FlatArrayMessageReader reader{
      flat, reader_options(read_limits{max_handshake_frame})};
    if (reader.getEnd() != flat.end())
      return make_error(ec::malformed,
                        fmt::format("handshake frame has {} bytes after its "
                                    "message",
                                    (flat.end() - reader.getEnd()) * 8));
    return read_frame(reader.getRoot<schema::Handshake>());
  });
}

namespace {

std::vector<uint8_t> to_frame(capnp::MallocMessageBuilder& builder) {
  auto e = freeze(builder);
  auto bytes = e.bytes();
  return {bytes.begin(), bytes.end()};
}

} // namespace

std::vector<uint8_t> encode_hello(const hello_msg& m) {
  capnp::MallocMessageBuilder builder;
  auto out = builder.initRoot<schema::Handshake>().initHello();
  out.setMagic(m.magic);
  out.setMinVersion(m.min_version);
  out.setMaxVersion(m.max_version);
  // All of the chain name's bytes (a std::string would stop at a NUL).
  out.setChain(capnp::Text::Reader{m.chain.data(), m.chain.size()});
  out.setKey(data_of(m.key));
  out.setEphemeral(data_of(m.ephemeral));
  out.setResponderKey(data_of(m.responder_key));
  return to_frame(builder);
}

std::vector<uint8_t> encode_welcome(const welcome_msg& m) {
  capnp::MallocMessageBuilder builder;
  auto out = builder.initRoot<schema::Handshake>().initWelcome();
  out.setVersion(m.version);
  out.setKey(data_of(m.key));
  out.setEphemeral(data_of(m.ephemeral));
  out.setStreamHeader(data_of(m.header));
  out.setSignature(data_of(m.sig));
  return to_frame(builder);
}

std::vector<uint8_t> encode_proof(const proof_msg& m) {
  capnp::MallocMessageBuilder builder;
  auto out = builder.initRoot<schema::Handshake>().initProof();
  out.setStreamHeader(data_of(m.header));
  out.setSignature(data_of(m.sig));
  return to_frame(builder);
}

std::vector<uint8_t> encode_reject(ec code, std::string_view reason) {
  capnp::MallocMessageBuilder builder;
  auto out = builder.initRoot<schema::Handshake>().initReject();
  out.setCode(static_cast<uint8_t>(code));
  out.setReason(printable(reason, max_reject_reason));
  return to_frame(builder);
}

} // namespace hallmark
