// The handshake's four frames (messages/wire.capnp, Handshake) as plain
// values, and their codec. Used by the handshake state machine
// (messages/handshake.cpp); nothing else reads or writes these frames.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <caf/expected.hpp>

#include "core/crypto.hpp"
#include "core/error.hpp"

namespace hallmark {

/// An X25519 public key for the key exchange.
using kx_key = std::array<uint8_t, 32>;

/// A secretstream header, sent by the side whose push stream it starts.
using stream_header = std::array<uint8_t, 24>;

struct hello_msg {
  uint64_t magic = 0;
  uint16_t min_version = 0;
  uint16_t max_version = 0;
  std::string chain;
  public_key key{};
  kx_key ephemeral{};
  public_key responder_key{};
};

struct welcome_msg {
  uint16_t version = 0;
  public_key key{};
  kx_key ephemeral{};
  stream_header header{};
  signature sig{};
};

struct proof_msg {
  stream_header header{};
  signature sig{};
};

struct reject_msg {
  uint8_t code = 0;
  std::string reason;
};

using frame_msg = std::variant<hello_msg, welcome_msg, proof_msg, reject_msg>;

/// "Hello", "Welcome", "Proof" or "Reject".
const char* kind_name(const frame_msg& m);

/// Decodes one handshake frame; every refusal is ec::malformed or
/// ec::too_large with a reason (docs/protocol.md, "Handshake").
caf::expected<frame_msg> decode_frame(byte_view frame);

std::vector<uint8_t> encode_hello(const hello_msg& m);
std::vector<uint8_t> encode_welcome(const welcome_msg& m);
std::vector<uint8_t> encode_proof(const proof_msg& m);
std::vector<uint8_t> encode_reject(ec code, std::string_view reason);

/// Text from a peer, made safe for logs: printable ASCII, at most `max`
/// bytes (cut text ends in "...").
std::string printable(std::string_view text, size_t max);

} // namespace hallmark
