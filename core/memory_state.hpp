// memory_state: the chain's state and its trie kept in memory, for what
// builds chains without a store (test helpers, benchmarks, fuzz seeds): it
// applies a block's records by the state rules and gives the state root
// the block must carry. A node keeps the same in LMDB (storage/).
#pragma once

#include <unordered_map>

#include "core/chain.hpp"
#include "core/state_rules.hpp"
#include "core/state_trie.hpp"

namespace hallmark {

class memory_state final : public state_reader {
public:
  /// The state after the genesis block of `params` (empty).
  explicit memory_state(const chain_params& params);

  /// Applies the records of `b`, the next block (its height is height() + 1,
  /// its parent the last block sealed), and returns the state root `b` must
  /// carry. A record that breaks a rule changes nothing and returns the
  /// rule's error.
  caf::expected<hash256> apply(const block& b);

  /// Takes note of the header of the block just applied, once mined, so
  /// later issue batches may anchor on it.
  void seal(const header& h);

  /// The state root now.
  hash256 root() const { return trie_.root(); }

  // -- state_reader -----------------------------------------------------------

  uint64_t height() const override { return height_; }
  std::optional<uint64_t> height_of(const hash256& block) const override;
  std::optional<asset_entry> find_asset(const hash256& asset) const override;
  std::optional<record_location> find_record(const hash256& id) const override;
  std::optional<item_state> find_item(const hash256& item) const override;

private:
  friend class memory_state_writer;
  const chain_params* params_;
  uint64_t height_ = 0;
  std::unordered_map<hash256, uint64_t, hash256_hasher> blocks_;
  std::unordered_map<hash256, asset_entry, hash256_hasher> assets_;
  std::unordered_map<hash256, record_location, hash256_hasher> records_;
  std::unordered_map<hash256, item_state, hash256_hasher> items_;
  trie::memory_trie trie_;
};

} // namespace hallmark
