// chain_view (the lookups) and chain_reader (a read-only snapshot).
#include "storage/chain_store.hpp"

#include "core/log.hpp"

namespace hallmark {

void chain_view::fail(caf::error err) const {
  if (failure_)
    return;
  log_error("storage", "{}", message_of(err));
  failure_ = std::move(err);
}

tip_info chain_view::tip() const {
  tip_info out;
  auto mark = look([&] { return t_->meta.get(*txn_, chain_meta::tip); });
  if (!mark) {
    fail(make_error(ec::storage, "table meta: no tip"));
    return out;
  }
  auto entry = look([&] { return t_->headers.get(*txn_, mark->height); });
  if (!entry) {
    fail(make_error(ec::storage, "table headers: no header at the tip's "
                                 "height "
                                   + std::to_string(mark->height)));
    return out;
  }
  out.height = mark->height;
  out.hash = mark->hash;
  out.work = entry->work;
  out.hdr = entry->hdr;
  return out;
}

std::optional<header> chain_view::header_at(uint64_t height) const {
  auto entry = look([&] { return t_->headers.get(*txn_, height); });
  if (!entry)
    return std::nullopt;
  return entry->hdr;
}

std::optional<hash256> chain_view::hash_at(uint64_t height) const {
  auto entry = look([&] { return t_->headers.get(*txn_, height); });
  if (!entry)
    return std::nullopt;
  return entry->hash;
}

std::optional<work_t> chain_view::work_at(uint64_t height) const {
  auto entry = look([&] { return t_->headers.get(*txn_, height); });
  if (!entry)
    return std::nullopt;
  return entry->work;
}

uint64_t chain_view::height() const {
  return tip().height;
}

std::optional<tip_entry> chain_view::state_base() const {
  return look([&] { return t_->meta.get(*txn_, chain_meta::state_base); });
}

std::optional<uint64_t> chain_view::height_of(const hash256& block) const {
  return look([&] { return t_->hashes.get(*txn_, block); });
}

std::optional<encoded> chain_view::body_at(uint64_t height) const {
  return look([&] { return t_->bodies.get(*txn_, height); });
}

std::optional<record_location>
chain_view::find_record(const hash256& id) const {
  return look([&] { return t_->records.get(*txn_, id); });
}

namespace {

/// The value under `key` in `state`, decoded; a value that does not decode
/// is ec::storage, naming the table.
template <class V>
caf::expected<std::optional<V>>
state_entry(const chain_tables& t, const lmdb::txn& txn,
            const trie::state_key& key, caf::expected<V> (*decode)(byte_view)) {
  auto v = t.state.get(txn, key);
  if (!v)
    return v.error();
  if (!*v)
    return std::optional<V>{};
  auto x = decode(**v);
  if (!x)
    return make_error(ec::storage, "table state: " + message_of(x.error()));
  return std::optional<V>{std::move(*x)};
}

} // namespace

std::optional<item_state> chain_view::find_item(const hash256& id) const {
  auto v = look([&] {
    return state_entry(*t_, *txn_, trie::item_key(id), trie::decode_item_value);
  });
  if (!v)
    return std::nullopt;
  return item_state{v->latest, v->owner, v->asset};
}

std::optional<asset_entry> chain_view::find_asset(const hash256& asset) const {
  auto v = look([&] {
    return state_entry(*t_, *txn_, trie::asset_key(asset),
                       trie::decode_asset_value);
  });
  if (!v)
    return std::nullopt;
  return asset_entry{v->height, v->record};
}

std::vector<hash256> chain_view::items_of(const public_key& owner) const {
  std::vector<hash256> out;
  if (failure_)
    return out;
  auto err = t_->owners.for_each(*txn_, owner, [&](const hash256& item) {
    out.push_back(item);
    return true;
  });
  if (err) {
    fail(std::move(err));
    out.clear();
  }
  return out;
}

header_lookup chain_view::ancestors() const {
  return [this](uint64_t height) {
    auto h = header_at(height);
    if (!h) {
      fail(make_error(ec::storage, "table headers: gap at height "
                                     + std::to_string(height)));
      return header{};
    }
    return *h;
  };
}

std::vector<std::pair<hash256, record_location>>
chain_view::provenance(const hash256& item) const {
  std::vector<std::pair<hash256, record_location>> out;
  auto state = find_item(item);
  if (!state)
    return out;
  auto id = state->latest;
  // Each step follows an indexed link; an item's history is finite and
  // acyclic because a record can only link to an earlier one.
  while (true) {
    auto loc = find_record(id);
    if (!loc)
      break;
    out.emplace_back(id, *loc);
    if (loc->kind != record_kind::transfer)
      break;
    id = loc->link;
  }
  return out;
}

// -- the state trie -----------------------------------------------------------

trie::node_source chain_view::trie_nodes() const {
  return [t = t_, txn = txn_](
           const trie::path& at) -> caf::expected<std::optional<trie::branch>> {
    auto key = trie::path_key(at);
    auto v = t->trie.get(*txn, lmdb::view_of(key));
    if (!v)
      return v.error();
    if (!*v)
      return std::optional<trie::branch>{};
    auto b = trie::decode_node(at, **v);
    if (!b)
      return make_error(ec::storage, "table trie: " + message_of(b.error()));
    return std::optional<trie::branch>{std::move(*b)};
  };
}

trie::value_source chain_view::state_values() const {
  return [t = t_, txn = txn_](const trie::state_key& key)
           -> caf::expected<std::optional<std::vector<uint8_t>>> {
    auto v = t->state.get(*txn, key);
    if (!v)
      return v.error();
    if (!*v)
      return std::optional<std::vector<uint8_t>>{};
    return std::optional<std::vector<uint8_t>>{
      std::vector<uint8_t>((*v)->begin(), (*v)->end())};
  };
}

trie::range_scan chain_view::state_scan() const {
  return [t = t_, txn = txn_](
           const trie::state_key& from,
           const std::function<bool(const trie::state_key&, lmdb::bytes)>& f)
           -> caf::error {
    caf::error bad;
    auto err = t->state.scan(*txn, from, [&](lmdb::bytes k, lmdb::bytes v) {
      if (k.size() != trie::key_bytes) {
        bad = make_error(ec::storage, "table state: key of "
                                        + std::to_string(k.size())
                                        + " bytes, expected 33");
        return false;
      }
      trie::state_key key;
      std::memcpy(key.data(), k.data(), key.size());
      return f(key, v);
    });
    return err ? err : bad;
  };
}

hash256 chain_view::state_root() const {
  if (failure_)
    return {};
  auto root = trie::trie_update{trie_nodes()}.root();
  if (!root) {
    fail(root.error());
    return {};
  }
  return *root;
}

std::optional<state_undo> chain_view::state_undo_at(uint64_t height) const {
  return look([&] { return t_->state_log.get(*txn_, height); });
}

// -- chain_reader ------------------------------------------------------------

chain_reader::chain_reader(const chain_store& store)
    : chain_reader(store, std::make_unique<holder>()) {}

chain_reader::chain_reader(const chain_store& store, std::unique_ptr<holder> h)
    : chain_view(store.tables(), h->txn), h_(std::move(h)) {
  auto txn = store.env().begin_read();
  if (txn)
    h_->txn = std::move(*txn);
  else
    fail(txn.error());
}

} // namespace hallmark
