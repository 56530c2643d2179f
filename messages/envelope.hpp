// The Envelope codec: one decrypted frame on a link (messages/wire.capnp)
// to and from plain C++ values. Only the peer session speaks Envelopes; every
// other part of the node sees the values below, never a Cap'n Proto reader.
//
// Decoding applies the link's limits and turns every Cap'n Proto exception
// into ec::malformed. What is wrong with one item inside an otherwise good
// Envelope (a registration that does not read, a block broadcast of a bad
// size) stays with that item as its error, so the session charges the peer
// for that item and keeps the link.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include <caf/expected.hpp>

#include "core/chain.hpp"
#include "core/state_proof.hpp"
#include "messages/codec.hpp"
#include "messages/registration.hpp"

namespace hallmark::wire {

struct info_request {};

/// A peer's chain, as its `info` reply states it.
struct info {
  std::string chain;
  std::string version;
  uint64_t height = 0;
  hash256 tip{};
  work_t work = 0;   ///< cumulative work (decimal text on the wire)
  uint64_t base = 0; ///< blocks served from base + 1 (a state sync's start)
};

struct blocks_request {
  uint64_t from = 0;
  uint32_t count = 0;
};

/// Encoded Blocks, ascending heights.
struct blocks {
  std::vector<encoded> list;
};

struct hashes_request {
  uint64_t from = 0;
  uint32_t count = 0;
};

struct hashes {
  std::vector<hash256> list;
};

/// Headers from `from`, for a state sync's headers-first fetch.
struct headers_request {
  uint64_t from = 0;
  uint32_t count = 0;
};

/// Headers, ascending heights.
struct headers {
  std::vector<header> list;
};

/// The link's own registration (a request, answered with `peers`).
struct register_request {
  caf::expected<registration> reg{make_error(ec::malformed)};
};

struct peers {
  std::vector<registration> list;
};

/// A relayed registration (broadcast).
struct announce {
  caf::expected<registration> reg{make_error(ec::malformed)};
};

/// Pending records (broadcast): one RecordList in its own buffer.
struct records {
  encoded list;
};

/// A new block (broadcast).
struct block {
  caf::expected<encoded> bytes{make_error(ec::malformed)};
};

/// A request refused: its `ec` value and why.
struct refusal {
  ec code = ec::none;
  std::string reason;
};

/// A range proof request (docs/state.md): the key/values of [start, end]
/// at `root`, within the limits.
struct state_range_request {
  hash256 root{};
  trie::state_key start = trie::min_key();
  trie::state_key end = trie::max_key();
  uint32_t key_limit = trie::max_proof_keys;
  uint32_t byte_limit = trie::max_proof_bytes;
};

struct state_range {
  trie::range_proof proof;
};

/// A change proof request: what changed in [start, end] from root `from`
/// to root `to`.
struct state_change_request {
  hash256 from{};
  hash256 to{};
  trie::state_key start = trie::min_key();
  trie::state_key end = trie::max_key();
  uint32_t key_limit = trie::max_proof_keys;
  uint32_t byte_limit = trie::max_proof_bytes;
};

/// A change proof, or a range proof at `to` when the server's history does
/// not reach `from`.
struct state_change {
  std::variant<trie::change_proof, trie::range_proof> proof;
};

struct ping {};
struct pong {};

/// A kind this node does not know (a newer peer's); id kept.
struct unknown {};

using body = std::variant<
  info_request, info, blocks_request, blocks, hashes_request, hashes,
  register_request, peers, announce, records, block, refusal, ping, pong,
  state_range_request, state_range, state_change_request, state_change,
  headers_request, headers, unknown>;

/// One Envelope: a request (id ≠ 0), its response (same id) or a broadcast
/// (id 0).
struct envelope {
  uint64_t id = 0;
  body what;
};

/// The Envelope's wire name of a body's kind ("info", "blocksRequest", ...).
const char* kind_name(const body& x);

/// True for the kinds that answer a request.
bool is_response(const body& x);

/// Encodes an Envelope. A `register_request` or `announce` without a value,
/// or a `block` without bytes, is encoded as an empty one; ec::malformed if
/// a `records` list does not decode.
caf::expected<encoded> encode(const envelope& x);

/// Decodes one Envelope of at most `max_bytes`: ec::malformed if it does not
/// decode (or an `info` has a tip that is not 32 bytes or a work that is not
/// a decimal number below 2^128, a `hashes` entry is not 32 bytes, a
/// `headers` entry is not a 162-byte header, a
/// `blocks` entry is not whole words, a `peers` entry does not read, a state
/// proof has more than max_proof_keys entries or 2 × max_path_nodes nodes,
/// a key not 33 bytes, a value over 255 bytes, a node whose path, hash or
/// child ids do not match their lengths), ec::too_large above the limit.
caf::expected<envelope> decode_envelope(const encoded& bytes, size_t max_bytes);

/// The reply `x` as the kind `T` a request expects: a `refusal` becomes an
/// error with the peer's code (ec::malformed if the code is none or not one
/// of ours), any other kind ec::malformed naming `what` was asked.
template <class T>
caf::expected<T> reply_as(body x, const char* what);

/// The error a peer's refusal stands for.
caf::error error_of(const refusal& x);

template <class T>
caf::expected<T> reply_as(body x, const char* what) {
  if (auto* y = std::get_if<T>(&x))
    return std::move(*y);
  if (auto* r = std::get_if<refusal>(&x))
    return error_of(*r);
  return make_error(ec::malformed, std::string{"peer answered "} + what
                                     + " with " + kind_name(x));
}

} // namespace hallmark::wire
