// sync_store: what a state sync keeps in the chain environment while it
// runs (docs/state.md, "the client"), so that a restart, even after kill -9,
// resumes where it was:
//
//   sync_headers   the header chain fetched (headers first), checked
//   meta           "syncing", "sync_target", "sync_headers" (its last header)
//   sync_ranges    the key ranges held, each with the root it was proved at
//   state, trie    the key/values fetched and the trie over them
//   items, owners, assets, records
//                  the indexes the queries and the state rules read, derived
//                  from the key/values (only an item's latest record and an
//                  asset's registration are known)
//
// While a sync is under way the tip stays at genesis and block_processor
// refuses blocks (ec::state_syncing): the sync is the chain's only writer.
// Every write is one short transaction (lmdb::env::write, which grows a
// full map): a range's key/values, their index entries, the trie's branches
// and the range's progress entry commit together, or not at all.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include <caf/expected.hpp>

#include "core/state_proof.hpp"
#include "storage/chain_store.hpp"

namespace hallmark {

/// A record position that a state sync does not know (the block's body is
/// not kept): record_location::index of the records a sync wrote.
constexpr uint32_t unknown_position = 0xffffffff;

/// A key range [start, end] the sync holds, as proved at `root`.
struct synced_range {
  trie::state_key start{};
  trie::state_key end{};
  hash256 root{};
};

/// What a state sync has persisted.
struct sync_progress {
  bool syncing = false; ///< a sync is under way
  tip_entry headers{};  ///< the last header fetched (0: none yet)
  std::optional<sync_target> target;
  std::vector<synced_range> ranges; ///< disjoint, in key order
  uint64_t keys = 0;                ///< key/values held
  hash256 root{};                   ///< of the key/values held
};

class sync_store {
public:
  explicit sync_store(const chain_store& store) : store_(&store) {}

  /// What was persisted. ec::storage on failure.
  caf::expected<sync_progress> load() const;

  /// Marks a sync under way; nothing else changes. Refused with
  /// ec::bad_config when the chain is past genesis (a sync starts from an
  /// empty chain).
  caf::error begin() const;

  /// The header at `height` of the sync's header chain (genesis at 0).
  caf::expected<std::optional<header_entry>> header_at(uint64_t height) const;

  /// Replaces the header chain from the first header's height on with
  /// `hs` (consecutive heights, already checked, each with its hash and
  /// cumulative work).
  caf::error put_headers(const std::vector<header_entry>& hs) const;

  /// Sets the sync's target.
  caf::error set_target(const sync_target& t) const;

  /// Makes the key/values of [start, hi] those of a verified range proof
  /// at `root`: puts `entries`, deletes every other key held in the range,
  /// updates the indexes and the trie, and records [start, hi] as held at
  /// `root`.
  /// @returns the keys added less the keys deleted, or ec::storage.
  caf::expected<int64_t>
  put_range(const trie::state_key& start, const trie::state_key& hi,
            const hash256& root, const std::vector<trie::entry>& entries) const;

  /// Applies a verified change proof's `changes` (all in [start, hi]), then
  /// records [start, hi] as held at `root`.
  /// @returns the keys added less the keys deleted, or ec::storage.
  caf::expected<int64_t>
  put_changes(const trie::state_key& start, const trie::state_key& hi,
              const hash256& root,
              const std::vector<trie::change>& changes) const;

  /// The key/values held, in key order from `from`, in a read transaction
  /// of its own: what trie::verify_change reads as the client's state.
  trie::range_scan local_scan() const;

  /// Ends the sync at `t`: checks that the state's root is `t.root`, moves
  /// the header chain up to `t` into `headers` and `hashes`, makes `t` the
  /// tip and the state base, and drops the sync's own tables. Commits the
  /// headers in steps (a crash between them finishes again at restart); the
  /// last step, which moves the tip, is atomic.
  /// @returns ec::bad_state_root if the roots differ, or ec::storage.
  caf::error finish(const sync_target& t) const;

private:
  const chain_store* store_;
};

} // namespace hallmark
