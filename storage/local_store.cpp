#include "storage/local_store.hpp"

#include <cstring>

#include "core/log.hpp"
#include "messages/registration.hpp"
#include "storage/schema.hpp"

namespace hallmark {

std::vector<uint8_t> lmdb::codec<pending_row>::encode(const pending_row& row) {
  auto rec = row.record.bytes();
  std::vector<uint8_t> out(8 + rec.size());
  put_u64(out.data(), row.accepted_at);
  std::memcpy(out.data() + 8, rec.data(), rec.size());
  return out;
}

caf::expected<pending_row> lmdb::codec<pending_row>::decode(bytes in) {
  if (in.size() < 8)
    return make_error(ec::storage, "a pending row of "
                                     + std::to_string(in.size())
                                     + " bytes, fewer than 8");
  auto rec = encoded::copy_of(in.subspan(8));
  if (!rec)
    return rec.error();
  return pending_row{get_u64(in.data()), std::move(*rec)};
}

caf::expected<std::unique_ptr<local_store>>
local_store::open(const std::string& dir, uint64_t map_size_bytes) {
  auto e = lmdb::env::open(dir, 8, map_size_bytes);
  if (!e)
    return e.error();
  std::unique_ptr<local_store> store{new local_store};
  store->env_ = std::move(*e);
  auto& st = *store;
  lmdb::schema s;
  s.what = "local store";
  s.version = local_schema_version;
  s.open_tables = [&](lmdb::write_txn& txn, const lmdb::meta_table& meta) {
    st.meta_ = meta;
    auto pending = decltype(st.pending_)::open(txn, "pending");
    if (!pending)
      return pending.error();
    auto peers = decltype(st.peers_)::open(txn, "peers");
    if (!peers)
      return peers.error();
    auto bans = decltype(st.bans_)::open(txn, "bans");
    if (!bans)
      return bans.error();
    st.bans_ = *bans;
    st.pending_ = *pending;
    st.peers_ = *peers;
    return caf::error{};
  };
  // Schema 1 is the first: no steps yet, and nothing to create.
  if (auto meta = lmdb::open_schema(st.env_, s); !meta)
    return meta.error();
  return store;
}

caf::error local_store::put_pending(
  const std::vector<std::tuple<hash256, uint64_t, encoded>>& entries) {
  return env_.write([&](lmdb::write_txn& txn) {
    for (auto& [id, at, rec] : entries)
      if (auto err = pending_.put(txn, id, pending_row{at, rec}))
        return err;
    return caf::error{};
  });
}

caf::error local_store::remove_pending(const std::vector<hash256>& ids) {
  return env_.write([&](lmdb::write_txn& txn) {
    for (auto& id : ids)
      if (auto gone = pending_.del(txn, id); !gone)
        return gone.error();
    return caf::error{};
  });
}

caf::error local_store::for_each_pending(
  const std::function<void(const hash256&, uint64_t, encoded)>& f) const {
  auto txn = env_.begin_read();
  if (!txn)
    return txn.error();
  return pending_.for_each(
    *txn, [&](const hash256& id, caf::expected<pending_row> row) {
      if (!row)
        log_warning("local_store", "skipping pending record {}: {}", to_hex(id),
                    message_of(row.error()));
      else
        f(id, row->accepted_at, std::move(row->record));
      return true;
    });
}

caf::error local_store::put_peer(const registration& r) {
  return write_peers({r}, {});
}

caf::error local_store::remove_peer(const public_key& key) {
  return write_peers({}, {key});
}

caf::error local_store::write_peers(const std::vector<registration>& puts,
                                    const std::vector<public_key>& removes) {
  std::vector<std::pair<public_key, encoded>> rows;
  rows.reserve(puts.size());
  for (auto& r : puts)
    rows.emplace_back(r.key, encode_registration(r));
  return env_.write([&](lmdb::write_txn& txn) {
    for (auto& [key, value] : rows)
      if (auto err = peers_.put(txn, key, value))
        return err;
    for (auto& key : removes)
      if (auto gone = peers_.del(txn, key); !gone)
        return gone.error();
    return caf::error{};
  });
}

caf::error local_store::put_ban(const public_key& key, uint64_t until) {
  return env_.write(
    [&](lmdb::write_txn& txn) { return bans_.put(txn, key, until); });
}

caf::error local_store::remove_ban(const public_key& key) {
  return env_.write([&](lmdb::write_txn& txn) {
    auto gone = bans_.del(txn, key);
    return gone ? caf::error{} : gone.error();
  });
}

caf::expected<std::vector<std::pair<public_key, uint64_t>>>
local_store::bans() const {
  std::vector<std::pair<public_key, uint64_t>> out;
  auto txn = env_.begin_read();
  if (!txn)
    return txn.error();
  auto err = bans_.for_each(
    *txn, [&](const public_key& key, caf::expected<uint64_t> until) {
      if (until)
        out.emplace_back(key, *until);
      return true;
    });
  if (err)
    return err;
  return out;
}

caf::error local_store::for_each_peer(
  const std::function<void(const public_key&, caf::expected<registration>)>& f)
  const {
  std::vector<std::pair<public_key, caf::expected<encoded>>> rows;
  {
    auto txn = env_.begin_read();
    if (!txn)
      return txn.error();
    auto err = peers_.for_each(
      *txn, [&](const public_key& key, caf::expected<encoded> value) {
        rows.emplace_back(key, std::move(value));
        return true;
      });
    if (err)
      return err;
  }
  // Decoded and handed out after the read transaction ends, so `f` may write.
  for (auto& [key, raw] : rows) {
    if (!raw) {
      f(key, raw.error());
      continue;
    }
    auto r = decode_registration(*raw);
    if (r && r->key != key)
      r = make_error(ec::storage, "peer row under another key");
    f(key, std::move(r));
  }
  return {};
}

} // namespace hallmark
