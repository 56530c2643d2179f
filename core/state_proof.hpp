// Range and change proofs over the state trie (core/state_trie.hpp), in
// merkledb's sense (docs/state.md):
//
//   range proof   the key/values in [start, end] at a root, cut short at the
//                 end when they do not fit (then they prove [start, last]),
//                 with the nodes on the paths to start and to the last
//                 proved key
//   change proof  the keys in [start, end] that changed between two roots,
//                 each with its value at the second root or none (deleted),
//                 with the paths at the second root; a client that holds the
//                 range at the first root applies the changes and checks the
//                 result as a range proof at the second
//
// A server fills a reply up to a key limit and a byte limit, sizing it as
// it goes (prove_range, prove_change): no reply is built and then halved.
#pragma once

#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "core/state_trie.hpp"

namespace hallmark::trie {

/// Keys a reply holds at most (merkledb's server cap).
constexpr size_t max_proof_keys = 2048;
/// Bytes a reply holds at most (merkledb's server cap), as proof_bytes and
/// entry_bytes count them.
constexpr size_t max_proof_bytes = 2u << 20;

/// Largest proof path: the root, every nibble, the leaf.
constexpr size_t max_path_nodes = key_nibbles + 1;

/// A node on a proof path: a branch with its children's ids, or a leaf with
/// its value's hash.
struct proof_node {
  path at;
  hash256 value_hash{};                          ///< a leaf's
  std::vector<std::pair<uint8_t, hash256>> kids; ///< a branch's, by index
};

/// A key and its value; no value in a change proof is a deletion.
using entry = std::pair<state_key, std::vector<uint8_t>>;
using change = std::pair<state_key, std::optional<std::vector<uint8_t>>>;

struct range_proof {
  std::vector<entry> entries; ///< strictly increasing
  std::vector<proof_node> proof;
  bool truncated = false; ///< proves only up to the last entry
};

struct change_proof {
  std::vector<change> changes;   ///< strictly increasing
  std::vector<proof_node> proof; ///< at the second root
  bool truncated = false;        ///< proves only up to the last change
};

/// The bytes a node, an entry or a change counts for against a byte limit:
/// its fields as the wire carries them, plus 8 for framing.
size_t proof_bytes(const proof_node& n);
size_t entry_bytes(const state_key& key, size_t value_size);

/// The value of a key, for proofs that show leaves.
using value_source = std::function<
  caf::expected<std::optional<std::vector<uint8_t>>>(const state_key&)>;

/// Calls f(key, value) for each key ≥ `from` in order until f returns
/// false.
using range_scan = std::function<caf::error(
  const state_key& from,
  const std::function<bool(const state_key&, byte_view)>& f)>;

/// Appends to `out` the nodes from the root towards `key`: each branch on
/// the way, and the child at key's next nibble (a leaf, or a branch whose
/// path leaves key's) where the path ends. Nothing for an empty trie.
caf::error prove_path(trie_update& nodes, const value_source& values,
                      const state_key& key, std::vector<proof_node>& out);

/// A range proof of [start, end] of the trie `nodes` reads, holding at most
/// `key_limit` keys and `byte_limit` bytes (each at least 1, capped at
/// max_proof_keys and max_proof_bytes).
caf::expected<range_proof>
prove_range(trie_update& nodes, const value_source& values,
            const range_scan& scan, const state_key& start,
            const state_key& end, size_t key_limit, size_t byte_limit);

/// A change proof of [start, end]: `changed` are the keys that changed
/// between the two roots (sorted, any range), `nodes` and `values` read the
/// trie at the second root.
caf::expected<change_proof>
prove_change(trie_update& nodes, const value_source& values,
             const std::vector<state_key>& changed, const state_key& start,
             const state_key& end, size_t key_limit, size_t byte_limit);

/// A key and its value's hash, as verification takes them.
using hashed_entry = std::pair<state_key, hash256>;

/// Verifies a range proof against `root`: `entries` are the key/values in
/// [start, end] at that root, strictly increasing, all of them up to `end`
/// or, if `truncated`, up to the last entry; `proof` holds the nodes on the
/// paths to `start` and to that last proved key.
/// @returns none, or ec::bad_state_proof naming what is wrong.
caf::error verify_range(const hash256& root, const state_key& start,
                        const state_key& end,
                        const std::vector<hashed_entry>& entries,
                        const std::vector<proof_node>& proof, bool truncated);

/// verify_range of a whole reply.
caf::error verify_range(const hash256& root, const state_key& start,
                        const state_key& end, const range_proof& p);

/// Verifies a change proof against the second root `root`: `local` scans
/// the client's key/values, which in [start, end] are those of the first
/// root; the changes applied to them must make a range proof at `root`.
/// @returns none, ec::bad_state_proof, or the scan's error.
caf::error verify_change(const hash256& root, const state_key& start,
                         const state_key& end, const range_scan& local,
                         const change_proof& p);

/// The first key, and the last.
state_key min_key();
state_key max_key();

/// The key right after `k` (k + 1), or none after max_key().
std::optional<state_key> next_key(const state_key& k);

/// The key right before `k` (k - 1), or none before min_key().
std::optional<state_key> prev_key(const state_key& k);

} // namespace hallmark::trie
