// state_view: the state at a recent root, as a state sync server proves it
// (docs/state.md). The tip's state is read as stored; an earlier block's,
// within the chain's state_history, is rebuilt in memory on top of it from
// `state_log` (the values each later block replaced), so proofs at it need
// no copy of the trie.
#pragma once

#include <memory>
#include <variant>

#include "core/state_proof.hpp"
#include "storage/chain_store.hpp"

namespace hallmark {

class state_view {
public:
  /// The state whose root is `root`: the committed tip's, or the newest
  /// block's within the last state_history blocks that has that root.
  /// @returns the view, ec::not_found if no such block is that recent
  ///          (the reason names the root and the history), or ec::storage.
  static caf::expected<std::unique_ptr<state_view>> at(const chain_store& store,
                                                       const hash256& root);

  /// The block whose state this is, and its root.
  uint64_t height() const { return height_; }
  const hash256& root() const { return root_; }

  /// A range proof of [start, end] at this root (trie::prove_range).
  caf::expected<trie::range_proof> prove_range(const trie::state_key& start,
                                               const trie::state_key& end,
                                               size_t key_limit,
                                               size_t byte_limit);

  /// A change proof of [start, end] from root `from` to this root; a range
  /// proof at this root when `from` is not the root of a block between the
  /// oldest one kept and this one.
  caf::expected<std::variant<trie::change_proof, trie::range_proof>>
  prove_change(const hash256& from, const trie::state_key& start,
               const trie::state_key& end, size_t key_limit, size_t byte_limit);

private:
  explicit state_view(const chain_store& store);
  trie::value_source values();
  trie::range_scan scan();

  const chain_store* store_;
  chain_reader reader_;
  uint64_t height_ = 0;
  uint64_t oldest_ = 0; ///< the oldest height whose state can be rebuilt
  hash256 root_{};
  trie::trie_update nodes_;
  /// Keys later blocks changed, with their value at height_.
  std::map<trie::state_key, std::optional<std::vector<uint8_t>>> overlay_;
};

} // namespace hallmark
