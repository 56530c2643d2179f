// sync_store: a state sync's persistent progress (storage/sync_store.hpp).
#include "storage/sync_store.hpp"

#include <cstring>
#include <map>

namespace hallmark {

namespace {

using lmdb::bytes;

hash256 id_of_key(const trie::state_key& key) {
  hash256 id;
  std::memcpy(id.data(), key.data() + 1, id.size());
  return id;
}

/// The index entries a state key/value stands for: an item's owner entry,
/// and the record's location (the key/value itself is the item's or the
/// asset's entry).
caf::error unindex(const chain_tables& t, lmdb::write_txn& txn,
                   const trie::state_key& key, bytes value) {
  auto id = id_of_key(key);
  if (key[0] == static_cast<uint8_t>(trie::key_kind::asset)) {
    auto v = trie::decode_asset_value(value);
    if (!v)
      return v.error();
    return error_of(t.records.del(txn, v->record));
  }
  auto v = trie::decode_item_value(value);
  if (!v)
    return v.error();
  for (auto e : {error_of(t.owners.del(txn, v->owner, id)),
                 error_of(t.records.del(txn, v->latest))})
    if (e)
      return e;
  return {};
}

caf::error index(const chain_tables& t, lmdb::write_txn& txn,
                 const trie::state_key& key, bytes value) {
  auto id = id_of_key(key);
  record_location loc;
  loc.index = unknown_position;
  if (key[0] == static_cast<uint8_t>(trie::key_kind::asset)) {
    auto v = trie::decode_asset_value(value);
    if (!v)
      return v.error();
    loc.height = v->height;
    loc.kind = record_kind::asset;
    loc.owner = v->registrant;
    return t.records.put(txn, v->record, loc);
  }
  auto v = trie::decode_item_value(value);
  if (!v)
    return v.error();
  loc.height = v->height;
  loc.kind = v->kind;
  loc.item = id;
  loc.owner = v->owner;
  for (auto e :
       {t.owners.put(txn, v->owner, id), t.records.put(txn, v->latest, loc)})
    if (e)
      return e;
  return {};
}

/// Writes `delta` (only real changes) with its index entries and trie.
/// @returns the keys added less the keys deleted.
caf::expected<int64_t> write_delta(const chain_tables& t, lmdb::write_txn& txn,
                                   const trie::state_delta& delta) {
  int64_t net = 0;
  for (auto& [key, value] : delta) {
    auto old = t.state.get(txn, lmdb::view_of(key));
    if (!old)
      return old.error();
    if (*old) {
      if (auto err = unindex(t, txn, key, **old))
        return err;
      --net;
    }
    if (value) {
      if (auto err = index(t, txn, key, lmdb::view_of(*value)))
        return err;
      ++net;
    }
  }
  auto root = write_state(t, txn, delta, nullptr);
  if (!root)
    return root.error();
  return net;
}

/// Records [start, hi] as held at `root`. `sync_ranges` is keyed by a
/// range's end, so the ranges that overlap [start, hi] are the ones from
/// the first end ≥ start while their start ≤ hi; what they hold outside
/// [start, hi] stays, at their roots.
caf::error mark(const chain_tables& t, lmdb::write_txn& txn,
                const trie::state_key& start, const trie::state_key& hi,
                const hash256& root) {
  std::vector<synced_range> overlap;
  caf::error bad;
  auto err = t.sync_ranges.scan(
    txn, lmdb::view_of(start), [&](bytes k, bytes v) {
      if (k.size() != trie::key_bytes || v.size() != trie::key_bytes + 32) {
        bad = make_error(ec::storage, "table sync_ranges: entry of a wrong "
                                      "size");
        return false;
      }
      synced_range r;
      std::memcpy(r.end.data(), k.data(), k.size());
      std::memcpy(r.start.data(), v.data(), r.start.size());
      std::memcpy(r.root.data(), v.data() + r.start.size(), r.root.size());
      if (r.start > hi)
        return false;
      overlap.push_back(r);
      return true;
    });
  if (err || bad)
    return err ? err : bad;
  auto put = [&](const synced_range& r) {
    std::array<uint8_t, trie::key_bytes + 32> v;
    std::memcpy(v.data(), r.start.data(), r.start.size());
    std::memcpy(v.data() + r.start.size(), r.root.data(), r.root.size());
    return t.sync_ranges.put(txn, lmdb::view_of(r.end), lmdb::view_of(v));
  };
  for (auto& r : overlap) {
    if (auto gone = t.sync_ranges.del(txn, lmdb::view_of(r.end)); !gone)
      return gone.error();
    if (r.start < start)
      if (auto e = put({r.start, *trie::prev_key(start), r.root}))
        return e;
    if (r.end > hi)
      if (auto e = put({*trie::next_key(hi), r.end, r.root}))
        return e;
  }
  return put({start, hi, root});
}

/// In one transaction: the delta `fill` makes, written with its index
/// entries and trie, and [start, hi] recorded as held at `root`.
/// @returns the keys added less the keys deleted.
template <class Fill>
caf::expected<int64_t>
write_range(const chain_store& store, const trie::state_key& start,
            const trie::state_key& hi, const hash256& root, Fill fill) {
  auto& t = store.tables();
  int64_t net = 0;
  auto failed = store.env().write([&](lmdb::write_txn& txn) -> caf::error {
    trie::state_delta delta;
    if (auto err = fill(txn, delta))
      return err;
    auto n = write_delta(t, txn, delta);
    if (!n)
      return n.error();
    net = *n;
    return mark(t, txn, start, hi, root);
  });
  if (failed)
    return failed;
  return net;
}

} // namespace

caf::expected<sync_progress> sync_store::load() const {
  auto& t = store_->tables();
  auto txn = store_->env().begin_read();
  if (!txn)
    return txn.error();
  sync_progress p;
  auto syncing = t.meta.get(*txn, chain_meta::syncing);
  if (!syncing)
    return syncing.error();
  p.syncing = syncing->value_or(0) == 1;
  auto headers = t.meta.get(*txn, chain_meta::sync_headers);
  if (!headers)
    return headers.error();
  if (*headers)
    p.headers = **headers;
  else
    p.headers = tip_entry{0, store_->params().genesis_hash};
  auto target = t.meta.get(*txn, chain_meta::target);
  if (!target)
    return target.error();
  p.target = *target;
  caf::error bad;
  auto err = t.sync_ranges.scan(*txn, [&](bytes k, bytes v) {
    if (k.size() != trie::key_bytes || v.size() != trie::key_bytes + 32) {
      bad = make_error(ec::storage, "table sync_ranges: entry of a wrong size");
      return false;
    }
    synced_range r;
    std::memcpy(r.end.data(), k.data(), k.size());
    std::memcpy(r.start.data(), v.data(), r.start.size());
    std::memcpy(r.root.data(), v.data() + r.start.size(), r.root.size());
    p.ranges.push_back(r);
    return true;
  });
  if (err || bad)
    return err ? err : bad;
  auto keys = t.state.count(*txn);
  if (!keys)
    return keys.error();
  p.keys = *keys;
  chain_view view{t, *txn};
  p.root = view.state_root();
  if (auto f = view.failure())
    return f;
  return p;
}

caf::error sync_store::begin() const {
  auto& t = store_->tables();
  return store_->env().write([&](lmdb::write_txn& txn) -> caf::error {
    auto syncing = t.meta.get(txn, chain_meta::syncing);
    if (!syncing)
      return syncing.error();
    if (syncing->value_or(0) == 1)
      return {};
    chain_view view{t, txn};
    auto top = view.tip();
    if (auto f = view.failure())
      return f;
    if (top.height != 0)
      return make_error(ec::bad_config,
                        "a state sync starts from an empty chain; this one "
                        "is at height "
                          + std::to_string(top.height));
    return t.meta.put(txn, chain_meta::syncing, uint64_t{1});
  });
}

caf::expected<std::optional<header_entry>>
sync_store::header_at(uint64_t height) const {
  auto& t = store_->tables();
  auto txn = store_->env().begin_read();
  if (!txn)
    return txn.error();
  if (height == 0)
    return t.headers.get(*txn, 0);
  return t.sync_headers.get(*txn, height);
}

caf::error sync_store::put_headers(const std::vector<header_entry>& hs) const {
  if (hs.empty())
    return {};
  auto& t = store_->tables();
  return store_->env().write([&](lmdb::write_txn& txn) -> caf::error {
    auto last = t.meta.get(txn, chain_meta::sync_headers);
    if (!last)
      return last.error();
    auto first = hs.front().hdr.height;
    for (auto h = first; *last && h <= (*last)->height; ++h)
      if (auto gone = t.sync_headers.del(txn, h); !gone)
        return gone.error();
    for (auto& e : hs)
      if (auto err = t.sync_headers.put(txn, e.hdr.height, e))
        return err;
    return t.meta.put(txn, chain_meta::sync_headers,
                      tip_entry{hs.back().hdr.height, hs.back().hash});
  });
}

caf::error sync_store::set_target(const sync_target& target) const {
  auto& t = store_->tables();
  return store_->env().write([&](lmdb::write_txn& txn) {
    return t.meta.put(txn, chain_meta::target, target);
  });
}

caf::expected<int64_t>
sync_store::put_range(const trie::state_key& start, const trie::state_key& hi,
                      const hash256& root,
                      const std::vector<trie::entry>& entries) const {
  auto& t = store_->tables();
  auto fill = [&](lmdb::write_txn& txn, trie::state_delta& delta) {
    // What is held in [start, hi] and not in the proof goes; what differs
    // changes.
    size_t next = 0;
    caf::error bad;
    auto err = t.state.scan(txn, lmdb::view_of(start), [&](bytes k, bytes v) {
      if (k.size() != trie::key_bytes) {
        bad = make_error(ec::storage, "table state: key of a wrong size");
        return false;
      }
      trie::state_key key;
      std::memcpy(key.data(), k.data(), key.size());
      if (key > hi)
        return false;
      while (next < entries.size() && entries[next].first < key) {
        delta.emplace(entries[next].first, entries[next].second);
        ++next;
      }
      if (next < entries.size() && entries[next].first == key) {
        auto& want = entries[next].second;
        if (want.size() != v.size()
            || !std::equal(want.begin(), want.end(), v.begin()))
          delta.emplace(key, want);
        ++next;
      } else {
        delta.emplace(key, std::nullopt);
      }
      return true;
    });
    if (err || bad)
      return err ? err : bad;
    for (; next < entries.size(); ++next)
      delta.emplace(entries[next].first, entries[next].second);
    return caf::error{};
  };
  return write_range(*store_, start, hi, root, fill);
}

caf::expected<int64_t>
sync_store::put_changes(const trie::state_key& start, const trie::state_key& hi,
                        const hash256& root,
                        const std::vector<trie::change>& changes) const {
  return write_range(*store_, start, hi, root,
                     [&](lmdb::write_txn&, trie::state_delta& delta) {
                       for (auto& [key, value] : changes)
                         delta.emplace(key, value);
                       return caf::error{};
                     });
}

trie::range_scan sync_store::local_scan() const {
  return [store = store_](
           const trie::state_key& from,
           const std::function<bool(const trie::state_key&, bytes)>& f)
           -> caf::error {
    auto txn = store->env().begin_read();
    if (!txn)
      return txn.error();
    chain_view view{store->tables(), *txn};
    return view.state_scan()(from, f);
  };
}

caf::error sync_store::finish(const sync_target& target) const {
  auto& t = store_->tables();
  // The headers up to the target, in steps of this many.
  constexpr uint64_t step = 10'000;
  for (uint64_t from = 1; from <= target.height; from += step) {
    auto to = std::min(target.height, from + step - 1);
    auto err = store_->env().write([&](lmdb::write_txn& txn) -> caf::error {
      for (auto h = from; h <= to; ++h) {
        auto e = t.sync_headers.get(txn, h);
        if (!e)
          return e.error();
        if (!*e)
          return make_error(ec::storage, "state sync: header "
                                           + std::to_string(h) + " missing");
        for (auto x :
             {t.headers.put(txn, h, **e), t.hashes.put(txn, (*e)->hash, h)})
          if (x)
            return x;
      }
      return caf::error{};
    });
    if (err)
      return err;
  }
  return store_->env().write([&](lmdb::write_txn& txn) -> caf::error {
    chain_view view{t, txn};
    auto root = view.state_root();
    if (auto f = view.failure())
      return f;
    if (root != target.root)
      return make_error(ec::bad_state_root,
                        "the state held has root " + to_hex(root)
                          + ", not the target's " + to_hex(target.root));
    auto at = tip_entry{target.height, target.hash};
    for (auto e : {t.meta.put(txn, chain_meta::tip, at),
                   t.meta.put(txn, chain_meta::state_base, at),
                   t.meta.put(txn, chain_meta::syncing, uint64_t{0}),
                   t.sync_headers.raw().clear(txn), t.sync_ranges.clear(txn)})
      if (e)
        return e;
    return caf::error{};
  });
}

} // namespace hallmark
