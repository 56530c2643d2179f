// The one error enum of Hallmark. Values are pinned: they cross the admin
// socket (and, later, the network), so a value is never reused or renumbered.
#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/make_message.hpp>

namespace hallmark {

enum class ec : uint8_t {
  none = 0,
  malformed = 1,       ///< bytes that do not decode within the limits
  too_large = 2,       ///< a message, block or field above its size limit
  bad_signature = 3,   ///< a signature that does not verify
  bad_record = 4,      ///< a record whose fields break a record rule
  duplicate = 5,       ///< already on chain or already pending
  double_spend = 6,    ///< a link already spent (on chain, pending or in block)
  unknown_link = 7,    ///< a transfer whose link names no item record
  not_owner = 8,       ///< a transfer signed by someone other than the owner
  unknown_asset = 9,   ///< an issue of an asset neither on chain nor pending
  bad_proof = 10,      ///< a free-issue batch whose work is too little
  bad_anchor = 11,     ///< a free-issue anchor that is not a recent block
  bad_block = 12,      ///< header, merkle root or record count rule broken
  bad_timestamp = 13,  ///< not after the median of the last 11 blocks
  bad_difficulty = 14, ///< difficulty other than the retarget rule demands
  bad_work = 15,       ///< header hash above the difficulty's target
  unknown_parent = 16, ///< a block whose parent is not known
  wrong_chain = 17,    ///< data or peers of another chain
  storage = 18,        ///< LMDB failed
  not_found = 19,      ///< no such block, record, item or owner
  reorg_too_deep = 20, ///< a fork deeper than the reorg window
  bad_request = 21,    ///< an admin request the node cannot serve
  not_running = 22,    ///< no node answers on the admin socket
  pool_full = 23,      ///< the reservoir is at its cap for this kind
  io = 24,             ///< a file or socket operation failed
  bad_config = 25,     ///< a configuration value out of range
  shutting_down = 26,  ///< the node is stopping
  self_link = 27,      ///< a transfer that links to its own record
  wrong_key = 28,      ///< a peer whose identity key is not the one expected
  wrong_version = 29,  ///< a peer whose protocol versions do not overlap ours
  internal = 30,       ///< a part of this node failed (an actor died, a
                       ///< request of ours timed out)
  future_timestamp = 31, ///< a timestamp further ahead of this node's clock
                         ///< than allowed: not valid yet
  expired = 32,          ///< a registration older than this node accepts
  bad_state_root = 33,   ///< a header whose state root is not the state
                         ///< after its block
  bad_state_proof = 34,  ///< a range or change proof that does not verify
                         ///< against the root it was asked for
  state_syncing = 35,    ///< the node is state-syncing: blocks, and data
                         ///< it does not hold yet, wait until it is done
};

/// The highest code in use: codes above it (from a newer peer) are unknown.
constexpr ec last_code = ec::state_syncing;

/// Whose fault an error is, for judging peers: only `peer` charges the peer
/// that sent what failed. The table per code is in docs/protocol.md.
enum class fault : uint8_t {
  none = 0,    ///< not an error
  peer = 1,    ///< the sending peer broke a rule
  not_yet = 2, ///< not valid yet, may become valid (an unknown parent)
  local = 3,   ///< this node failed (storage, I/O, its own parts)
  policy = 4,  ///< refused by this node's policy or state, not a broken
               ///< rule (a duplicate, a full pool, a reorg deeper than the
               ///< window, versions that do not overlap)
};

/// The class of `x` (table in docs/protocol.md).
fault fault_of(ec x);

/// The class of `x` for records relayed as pending, not in a block. A state
/// rule they break against this node's pending state may hold against the
/// sender's (two spends racing, a parent not here yet, a chain behind), so
/// only the stateless rules (shape, size, signatures, work) are the
/// sender's fault.
fault fault_of_pending(ec x);

/// "none", "peer", "not_yet", "local" or "policy".
const char* to_string(fault x);

/// The stable name of an error value, e.g. "double_spend".
const char* to_string(ec x);

/// The CAF category atom under which `ec` values travel ("hallmark").
caf::atom_value ec_category();

/// An error carrying `x` and a human-readable context.
caf::error make_error(ec x, std::string context);

/// Makes `ec` usable wherever CAF wants an error.
caf::error make_error(ec x);

/// The `ec` inside `err`, or `ec::none` if it is of another category.
ec code_of(const caf::error& err);

/// The context text of an error made by make_error, or CAF's rendering.
std::string message_of(const caf::error& err);

/// `err` with `prefix` before its context and its code intact (an error of
/// another category becomes ec::internal with CAF's rendering).
caf::error annotate(const caf::error& err, const std::string& prefix);

/// Whose fault `err` is: fault_of its `ec`; fault::local for an error of
/// another category (CAF's own: a dead actor, a timeout of ours); none for
/// no error.
fault fault_of(const caf::error& err);

} // namespace hallmark

// `ec` is CAF's error code enum for the category "hallmark": caf::error{ec}
// and comparisons such as `err == ec::storage` work, and the code survives
// every hop between actors.
CAF_ERROR_CODE_ENUM(hallmark::ec, "hallmark")
