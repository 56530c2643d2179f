#include "storage/local_store.hpp"

#include <cstring>

#include "messages/registration.hpp"

namespace hallmark {

caf::expected<std::unique_ptr<local_store>>
local_store::open(const std::string& dir) {
  auto e = lmdb::env::open(dir, 4, uint64_t{4} << 30);
  if (!e)
    return e.error();
  std::unique_ptr<local_store> store{new local_store};
  store->env_ = std::move(*e);
  try {
    lmdb::write_txn txn{store->env_};
    auto meta = lmdb::table::open(txn, "meta", lmdb::table_kind::plain);
    auto pending = lmdb::table::open(txn, "pending", lmdb::table_kind::plain);
    auto peers = lmdb::table::open(txn, "peers", lmdb::table_kind::plain);
    if (!meta)
      return meta.error();
    if (!pending)
      return pending.error();
    if (!peers)
      return peers.error();
    store->meta_ = *meta;
    store->pending_ = *pending;
    store->peers_ = *peers;
    lmdb::bytes key{reinterpret_cast<const uint8_t*>("schema"), 6};
    auto v = store->meta_.get(txn, key);
    if (v) {
      if (v->size() != 4 || get_u32(v->data()) > local_schema_version)
        return make_error(ec::storage,
                          "local store has a schema this hallmark does not "
                          "understand");
    } else {
      uint8_t version[4];
      put_u32(version, local_schema_version);
      if (auto err = store->meta_.put(txn, key, lmdb::bytes{version, 4}))
        return err;
    }
    if (auto err = txn.commit())
      return err;
  } catch (const lmdb::failure& f) {
    return make_error(ec::storage, f.what());
  }
  return store;
}

caf::error local_store::put_pending(
  const std::vector<std::tuple<hash256, uint64_t, encoded>>& entries) {
  try {
    lmdb::write_txn txn{env_};
    std::vector<uint8_t> value;
    for (auto& [id, at, rec] : entries) {
      value.resize(8 + rec.size());
      put_u64(value.data(), at);
      std::memcpy(value.data() + 8, rec.bytes().data(), rec.size());
      if (auto err = pending_.put(txn, id, value))
        return err;
    }
    return txn.commit();
  } catch (const lmdb::failure& f) {
    return make_error(ec::storage, f.what());
  }
}

caf::error local_store::remove_pending(const std::vector<hash256>& ids) {
  try {
    lmdb::write_txn txn{env_};
    for (auto& id : ids)
      pending_.del(txn, id);
    return txn.commit();
  } catch (const lmdb::failure& f) {
    return make_error(ec::storage, f.what());
  }
}

void local_store::for_each_pending(
  const std::function<void(const hash256&, uint64_t, encoded)>& f) const {
  lmdb::read_txn txn{env_};
  pending_.scan(txn, {}, [&](lmdb::bytes k, lmdb::bytes v) {
    if (k.size() == 32 && v.size() >= 8) {
      hash256 id;
      std::memcpy(id.data(), k.data(), 32);
      if (auto rec = encoded::copy_of(v.subspan(8)))
        f(id, get_u64(v.data()), std::move(*rec));
    }
    return true;
  });
}

caf::error local_store::put_peer(const registration& r) {
  try {
    auto value = encode_registration(r);
    lmdb::write_txn txn{env_};
    if (auto err = peers_.put(txn, r.key, value.bytes()))
      return err;
    return txn.commit();
  } catch (const lmdb::failure& f) {
    return make_error(ec::storage, f.what());
  }
}

caf::error local_store::remove_peer(const public_key& key) {
  try {
    lmdb::write_txn txn{env_};
    if (!peers_.del(txn, key))
      return {};
    return txn.commit();
  } catch (const lmdb::failure& f) {
    return make_error(ec::storage, f.what());
  }
}

void local_store::for_each_peer(
  const std::function<void(const public_key&, caf::expected<registration>)>& f)
  const {
  std::vector<std::pair<public_key, caf::expected<encoded>>> rows;
  {
    lmdb::read_txn txn{env_};
    peers_.scan(txn, {}, [&](lmdb::bytes k, lmdb::bytes v) {
      if (auto key = to_fixed<32>(k))
        rows.emplace_back(*key, encoded::copy_of(v));
      return true;
    });
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
}

} // namespace hallmark
