// state_overlay: a state in memory on top of another (the chain), as the
// reservoir keeps it: "the chain plus the pending records". Reads see the
// overlay's own entries first, then the base; writes stay in the overlay.
// A journal lets a caller take back everything written since a mark, so a
// submission that fails part way leaves nothing behind.
#pragma once

#include <cstddef>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/state_rules.hpp"

namespace hallmark {

class state_overlay final : public state_writer {
public:
  /// An empty overlay; reads need a base (rebase) before use.
  state_overlay() = default;

  /// Reads fall through to `base` from now on. `base` must outlive every
  /// read made before the next rebase.
  void rebase(const state_reader& base) { base_ = &base; }

  /// Forgets every entry (and the journal).
  void clear();

  /// A point to roll back to.
  size_t mark() const { return journal_.size(); }

  /// Takes back every write made since `m`, newest first.
  void rollback(size_t m);

  /// Whether `id` is a record of the overlay itself (not of the base).
  bool holds_record(const hash256& id) const { return records_.count(id) > 0; }

  // -- state_reader -----------------------------------------------------------

  uint64_t height() const override { return base_->height(); }
  std::optional<uint64_t> height_of(const hash256& block) const override {
    return base_->height_of(block);
  }
  std::optional<asset_entry> find_asset(const hash256& asset) const override;
  std::optional<record_location> find_record(const hash256& id) const override;
  std::optional<item_state> find_item(const hash256& item) const override;
  caf::error failure() const override { return base_->failure(); }

  // -- state_writer -----------------------------------------------------------

  caf::error put_asset(const hash256& asset, uint64_t height,
                       const hash256& record,
                       const public_key& registrant) override;
  caf::error put_record(const hash256& id, const record_location& loc) override;
  caf::error put_item(const hash256& item, const item_state& after,
                      const std::optional<item_state>& before) override;

private:
  enum class table : uint8_t { asset, record, item };

  /// One write, with what its key held in the overlay before it.
  struct undo {
    table where;
    hash256 key;
    std::optional<asset_entry> asset;
    std::optional<record_location> record;
    std::optional<item_state> item;
  };

  const state_reader* base_ = nullptr;
  std::unordered_map<hash256, asset_entry, hash256_hasher> assets_;
  std::unordered_map<hash256, record_location, hash256_hasher> records_;
  std::unordered_map<hash256, item_state, hash256_hasher> items_;
  std::vector<undo> journal_;
};

} // namespace hallmark
