#include "storage/state_view.hpp"

#include <algorithm>

namespace hallmark {

namespace {

/// The newest height in [oldest, newest] whose header has state root
/// `root`, none if no such header, or the reader's error.
caf::expected<std::optional<uint64_t>> height_of_root(const chain_reader& r,
                                                      const hash256& root,
                                                      uint64_t oldest,
                                                      uint64_t newest) {
  for (auto h = newest + 1; h-- > oldest;) {
    auto hdr = r.header_at(h);
    if (!hdr)
      return r.failure() ? r.failure()
                         : make_error(ec::storage, "a header is missing");
    if (hdr->state_root == root)
      return std::optional<uint64_t>{h};
  }
  return std::optional<uint64_t>{};
}

} // namespace

state_view::state_view(const chain_store& store)
    : store_(&store), reader_(store), nodes_(reader_.trie_nodes()) {}

caf::expected<std::unique_ptr<state_view>>
state_view::at(const chain_store& store, const hash256& root) {
  std::unique_ptr<state_view> v{new state_view(store)};
  auto& r = v->reader_;
  auto tip = r.tip().height;
  if (auto err = r.failure())
    return err;
  auto keep = store.state_history();
  v->oldest_ = tip > keep ? tip - keep : 0;
  auto at = height_of_root(r, root, v->oldest_, tip);
  if (!at)
    return at.error();
  auto found = *at;
  if (!found)
    return make_error(ec::not_found, "state root " + to_hex(root)
                                       + " is not the state of any of the last "
                                       + std::to_string(tip - v->oldest_ + 1)
                                       + " blocks");
  v->height_ = *found;
  v->root_ = root;
  // Newest block first: each puts back the values it replaced.
  for (auto h = tip; h > *found; --h) {
    auto undo = r.state_undo_at(h);
    if (!undo)
      return r.failure()
               ? r.failure()
               : make_error(ec::storage, "state log of block "
                                           + std::to_string(h) + " is missing");
    trie::state_delta d;
    for (auto& [k, before] : undo->before) {
      d[k] = before;
      v->overlay_[k] = before;
    }
    if (auto err = v->nodes_.apply(d))
      return err;
  }
  auto rebuilt = v->nodes_.root();
  if (!rebuilt)
    return rebuilt.error();
  if (*rebuilt != root)
    return make_error(ec::storage, "the state rebuilt for block "
                                     + std::to_string(*found)
                                     + " does not have its header's root");
  return v;
}

trie::value_source state_view::values() {
  auto base = reader_.state_values();
  return [this, base](const trie::state_key& k)
           -> caf::expected<std::optional<std::vector<uint8_t>>> {
    if (auto i = overlay_.find(k); i != overlay_.end())
      return i->second;
    return base(k);
  };
}

trie::range_scan state_view::scan() {
  auto base = reader_.state_scan();
  return [this,
          base](const trie::state_key& from,
                const std::function<bool(const trie::state_key&, byte_view)>& f)
           -> caf::error {
    // The stored keys and the overlay's, merged in key order; the overlay
    // wins, and its deletions hide stored keys.
    auto o = overlay_.lower_bound(from);
    bool go = true;
    auto flush_before = [&](const trie::state_key* k) {
      for (; go && o != overlay_.end() && (!k || o->first < *k); ++o)
        if (o->second)
          go = f(o->first, *o->second);
    };
    auto err = base(from, [&](const trie::state_key& k, byte_view v) {
      flush_before(&k);
      if (!go)
        return false;
      if (o != overlay_.end() && o->first == k) {
        if (o->second)
          go = f(k, *o->second);
        ++o;
        return go;
      }
      go = f(k, v);
      return go;
    });
    if (err)
      return err;
    flush_before(nullptr);
    return caf::error{};
  };
}

caf::expected<trie::range_proof>
state_view::prove_range(const trie::state_key& start,
                        const trie::state_key& end, size_t key_limit,
                        size_t byte_limit) {
  return trie::prove_range(nodes_, values(), scan(), start, end, key_limit,
                           byte_limit);
}

caf::expected<std::variant<trie::change_proof, trie::range_proof>>
state_view::prove_change(const hash256& from, const trie::state_key& start,
                         const trie::state_key& end, size_t key_limit,
                         size_t byte_limit) {
  using result = std::variant<trie::change_proof, trie::range_proof>;
  auto at = height_of_root(reader_, from, oldest_, height_);
  if (!at)
    return at.error();
  auto a = *at;
  if (!a) {
    auto p = prove_range(start, end, key_limit, byte_limit);
    if (!p)
      return p.error();
    return result{std::move(*p)};
  }
  std::vector<trie::state_key> changed;
  for (auto h = *a + 1; h <= height_; ++h) {
    auto undo = reader_.state_undo_at(h);
    if (!undo)
      return reader_.failure()
               ? reader_.failure()
               : make_error(ec::storage, "state log of block "
                                           + std::to_string(h) + " is missing");
    for (auto& [k, before] : undo->before)
      if (!(k < start) && !(end < k))
        changed.push_back(k);
  }
  std::sort(changed.begin(), changed.end());
  changed.erase(std::unique(changed.begin(), changed.end()), changed.end());
  auto p = trie::prove_change(nodes_, values(), changed, start, end, key_limit,
                              byte_limit);
  if (!p)
    return p.error();
  return result{std::move(*p)};
}

} // namespace hallmark
