#include "core/memory_state.hpp"

#include <variant>

#include "core/error.hpp"
#include "core/state_overlay.hpp"

namespace hallmark {

namespace {

template <class Map, class Key>
auto find_in(const Map& m, const Key& k)
  -> std::optional<typename Map::mapped_type> {
  auto i = m.find(k);
  if (i == m.end())
    return std::nullopt;
  return i->second;
}

} // namespace

/// Stages a block's writes in an overlay and notes each, so that they can
/// be kept (and turned into trie changes) once every record applied.
class memory_state_writer final : public state_writer {
public:
  explicit memory_state_writer(memory_state& base) : base_(base) {
    overlay_.rebase(base);
  }

  uint64_t height() const override { return overlay_.height(); }
  std::optional<uint64_t> height_of(const hash256& block) const override {
    return overlay_.height_of(block);
  }
  std::optional<asset_entry> find_asset(const hash256& asset) const override {
    return overlay_.find_asset(asset);
  }
  std::optional<record_location> find_record(const hash256& id) const override {
    return overlay_.find_record(id);
  }
  std::optional<item_state> find_item(const hash256& item) const override {
    return overlay_.find_item(item);
  }

  caf::error put_asset(const hash256& asset, uint64_t height,
                       const hash256& record,
                       const public_key& registrant) override {
    delta_[trie::asset_key(asset)] = trie::encode(
      trie::asset_value{record, registrant, height});
    assets_.emplace_back(asset, asset_entry{height, record});
    return overlay_.put_asset(asset, height, record, registrant);
  }

  caf::error put_record(const hash256& id,
                        const record_location& loc) override {
    records_.emplace_back(id, loc);
    return overlay_.put_record(id, loc);
  }

  caf::error put_item(const hash256& item, const item_state& after,
                      const std::optional<item_state>& before) override {
    auto loc = overlay_.find_record(after.latest);
    if (!loc)
      return make_error(ec::internal, "an item's latest record is unknown");
    delta_[trie::item_key(item)] = trie::encode(trie::item_value{
      after.latest, after.owner, after.asset, loc->height, loc->kind});
    items_.emplace_back(item, after);
    return overlay_.put_item(item, after, before);
  }

  /// Keeps every staged write in the base; returns the new root.
  caf::expected<hash256> keep() {
    for (auto& [k, v] : assets_)
      base_.assets_.insert_or_assign(k, v);
    for (auto& [k, v] : records_)
      base_.records_.insert_or_assign(k, v);
    for (auto& [k, v] : items_)
      base_.items_.insert_or_assign(k, v);
    return base_.trie_.apply(delta_);
  }

private:
  memory_state& base_;
  state_overlay overlay_;
  trie::state_delta delta_;
  std::vector<std::pair<hash256, asset_entry>> assets_;
  std::vector<std::pair<hash256, record_location>> records_;
  std::vector<std::pair<hash256, item_state>> items_;
};

memory_state::memory_state(const chain_params& params) : params_(&params) {
  blocks_[params.genesis_hash] = 0;
}

caf::expected<hash256> memory_state::apply(const block& b) {
  memory_state_writer w{*this};
  for (uint32_t i = 0; i < b.records.size(); ++i)
    if (auto err = apply_record(b.records[i], i, w, *params_))
      return err;
  return w.keep();
}

void memory_state::seal(const header& h) {
  height_ = h.height;
  blocks_[block_hash(h)] = h.height;
}

std::optional<uint64_t> memory_state::height_of(const hash256& block) const {
  return find_in(blocks_, block);
}

std::optional<asset_entry>
memory_state::find_asset(const hash256& asset) const {
  return find_in(assets_, asset);
}

std::optional<record_location>
memory_state::find_record(const hash256& id) const {
  return find_in(records_, id);
}

std::optional<item_state> memory_state::find_item(const hash256& item) const {
  return find_in(items_, item);
}

} // namespace hallmark
