#include "core/state_overlay.hpp"

namespace hallmark {

namespace {

/// The value under `key` in `map`, if any.
template <class Map>
auto lookup(const Map& map, const hash256& key)
  -> std::optional<typename Map::mapped_type> {
  if (auto i = map.find(key); i != map.end())
    return i->second;
  return std::nullopt;
}

/// Puts `value` back under `key`, or removes the key if it had none.
template <class Map, class T>
void restore(Map& map, const hash256& key, const std::optional<T>& value) {
  if (value)
    map.insert_or_assign(key, *value);
  else
    map.erase(key);
}

} // namespace

void state_overlay::clear() {
  assets_.clear();
  records_.clear();
  items_.clear();
  journal_.clear();
}

void state_overlay::rollback(size_t m) {
  while (journal_.size() > m) {
    auto& u = journal_.back();
    switch (u.where) {
    case table::asset:
      restore(assets_, u.key, u.asset);
      break;
    case table::record:
      restore(records_, u.key, u.record);
      break;
    case table::item:
      restore(items_, u.key, u.item);
      break;
    }
    journal_.pop_back();
  }
}

std::optional<asset_entry>
state_overlay::find_asset(const hash256& asset) const {
  if (auto x = lookup(assets_, asset))
    return x;
  return base_->find_asset(asset);
}

std::optional<record_location>
state_overlay::find_record(const hash256& id) const {
  if (auto x = lookup(records_, id))
    return x;
  return base_->find_record(id);
}

std::optional<item_state> state_overlay::find_item(const hash256& item) const {
  if (auto x = lookup(items_, item))
    return x;
  return base_->find_item(item);
}

caf::error state_overlay::put_asset(const hash256& asset, uint64_t height,
                                    const hash256& record, const public_key&) {
  journal_.push_back(undo{table::asset, asset, lookup(assets_, asset), {}, {}});
  assets_.insert_or_assign(asset, asset_entry{height, record});
  return {};
}

caf::error state_overlay::put_record(const hash256& id,
                                     const record_location& loc) {
  journal_.push_back(undo{table::record, id, {}, lookup(records_, id), {}});
  records_.insert_or_assign(id, loc);
  return {};
}

caf::error state_overlay::put_item(const hash256& item, const item_state& after,
                                   const std::optional<item_state>&) {
  journal_.push_back(undo{table::item, item, {}, {}, lookup(items_, item)});
  items_.insert_or_assign(item, after);
  return {};
}

} // namespace hallmark
