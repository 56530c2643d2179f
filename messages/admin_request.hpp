// The admin socket's Request (messages/admin.capnp) to and from plain C++
// values, and its framing. The admin broker reads every request through
// decode_admin_request, so what it serves never touches a Cap'n Proto reader
// and the whole parser can be fuzzed without a socket
// (tests/fuzz/admin_request.cpp).
//
// Framing: a 4-byte little-endian length, then that many bytes of one
// flat-array message; the length is non-zero, a multiple of 8 and at most
// max_admin_frame.
//
// Refusals, and what the broker does with them:
//   a bad length, a body that does not decode within the limits, an
//   importBlocks entry that is not whole 8-byte words
//                                             ec::malformed (connection closed)
//   an id, hash or key that is not 32 bytes, an unknown request kind
//                                             ec::bad_request (connection kept)
#pragma once

#include <cstdint>
#include <variant>
#include <vector>

#include <caf/expected.hpp>

#include "core/crypto.hpp"
#include "messages/codec.hpp"

namespace hallmark {

namespace request {

struct status {};
/// A RecordList signed by the client, in its own buffer.
struct submit {
  encoded records;
};
struct item {
  hash256 id{};
};
struct owner {
  public_key key{};
};
struct block_by_height {
  uint64_t height = 0;
};
struct block_by_hash {
  hash256 hash{};
};
struct record_by_id {
  hash256 id{};
};
/// Unwind this many blocks and apply them again.
struct reorg {
  uint32_t depth = 0;
};
/// Encoded Blocks, as a peer sends them.
struct import_blocks {
  std::vector<encoded> blocks;
};
struct export_blocks {
  uint64_t from = 0;
  uint32_t count = 0;
};
struct stop {};
struct peers {};
struct watch {};
/// Bans a key for `seconds` (0: the node's ban_seconds).
struct ban {
  public_key key{};
  uint64_t seconds = 0;
};
struct unban {
  public_key key{};
};
/// A proof of an item's state against the tip's header.
struct state_proof {
  hash256 item{};
};
/// An asset's registration record, by the asset's id.
struct asset_by_id {
  hash256 id{};
};

} // namespace request

/// One admin Request.
using admin_request = std::variant<
  request::status, request::submit, request::item, request::owner,
  request::block_by_height, request::block_by_hash, request::record_by_id,
  request::reorg, request::import_blocks, request::export_blocks, request::stop,
  request::peers, request::watch, request::ban, request::unban,
  request::state_proof, request::asset_by_id>;

/// The length prefix of an admin frame, in bytes.
constexpr size_t admin_frame_prefix = 4;

/// The size, prefix included, of the frame at the front of `buf`: 0 while
/// more bytes are needed to know or to hold it; ec::malformed ("bad frame
/// length N") if its length is 0, not a multiple of 8 or above
/// max_admin_frame.
caf::expected<size_t> admin_frame_size(byte_view buf);

/// Decodes the body of one frame (without its prefix), reading within
/// max_admin_frame; see the header comment for the refusals.
caf::expected<admin_request> decode_admin_request(const encoded& body);

/// Encodes a request as a frame body; ec::malformed if a `submit` holds
/// bytes that are not a message.
caf::expected<encoded> encode_admin_request(const admin_request& x);

/// A frame: the length prefix, then `body`.
std::vector<uint8_t> admin_frame(const encoded& body);

} // namespace hallmark
