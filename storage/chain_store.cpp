// chain_store: opening the chain environment. The lookups are in
// chain_view.cpp, applying and unwinding in chain_writer.cpp.
#include "storage/chain_store.hpp"

#include "storage/schema.hpp"

namespace hallmark {

namespace {

/// Opens every table of `t` but meta.
caf::error open_tables(chain_tables& t, lmdb::write_txn& txn) {
  auto open = [&](auto& table, const char* name) -> caf::error {
    auto x = std::remove_reference_t<decltype(table)>::open(txn, name);
    if (!x)
      return x.error();
    table = *x;
    return {};
  };
  auto open_raw = [&](lmdb::raw_table& table, const char* name) {
    auto x = lmdb::raw_table::open(txn, name, lmdb::table_kind::plain);
    if (!x)
      return x.error();
    table = *x;
    return caf::error{};
  };
  for (auto err : {open(t.headers, "headers"), open(t.bodies, "bodies"),
                   open(t.hashes, "hashes"), open(t.records, "records"),
                   open(t.owners, "owners"), open_raw(t.state, "state"),
                   open_raw(t.trie, "trie"), open(t.state_log, "state_log"),
                   open(t.sync_headers, "sync_headers"),
                   open_raw(t.sync_ranges, "sync_ranges")})
    if (err)
      return err;
  return {};
}

/// Schema 1 to 2: the state trie. Its tables are new and empty, which is
/// right only for a chain without records: the blocks of an older chain
/// with records carry zero state roots, which the rules now refuse.
caf::error add_state_trie(lmdb::write_txn& txn) {
  uint64_t indexed = 0;
  for (auto name : {"items", "assets"}) {
    auto table = lmdb::raw_table::open(txn, name, lmdb::table_kind::plain);
    if (!table)
      return table.error();
    auto n = table->count(txn);
    if (!n)
      return n.error();
    indexed += *n;
  }
  if (indexed > 0)
    return make_error(ec::storage,
                      "its blocks predate state roots and are not valid "
                      "under the current rules; start a new data directory "
                      "(hallmark init) and sync it from peers");
  return {};
}

/// Schema 2 to 3: `items` and `assets` go; `state` holds what they held
/// (item id → latest record, owner, asset; asset id → height, record id),
/// and find_item and find_asset read it there.
caf::error drop_item_and_asset_tables(lmdb::write_txn& txn) {
  for (auto name : {"items", "assets"}) {
    auto table = lmdb::raw_table::open(txn, name, lmdb::table_kind::plain);
    if (!table)
      return table.error();
    if (auto err = table->drop(txn))
      return err;
  }
  return {};
}

/// Writes a new directory's meta entries and genesis block.
caf::error create(const chain_tables& t, const chain_params& params,
                  lmdb::write_txn& txn) {
  auto genesis = genesis_header(params);
  block gb;
  gb.hdr = genesis;
  auto body = encode(gb);
  auto& hash = params.genesis_hash;
  for (auto err :
       {t.meta.put(txn, chain_meta::chain, params.name),
        t.meta.put(txn, chain_meta::genesis, hash),
        t.meta.put(txn, chain_meta::tip, tip_entry{0, hash}),
        t.headers.put(txn, 0,
                      header_entry{genesis, hash, work_t{genesis.difficulty}}),
        t.bodies.put(txn, 0, body), t.hashes.put(txn, hash, uint64_t{0})})
    if (err)
      return err;
  return {};
}

/// Refuses a directory that holds another chain than `params`.
caf::error check(const chain_tables& t, const chain_params& params,
                 lmdb::write_txn& txn) {
  auto name = t.meta.get(txn, chain_meta::chain);
  if (!name)
    return name.error();
  if (!*name)
    return make_error(ec::storage, "data directory names no chain");
  if (**name != params.name)
    return make_error(ec::wrong_chain, "data directory holds the " + **name
                                         + " chain, not " + params.name);
  auto genesis = t.meta.get(txn, chain_meta::genesis);
  if (!genesis)
    return genesis.error();
  if (*genesis != params.genesis_hash)
    return make_error(ec::wrong_chain, "data directory's genesis block is not "
                                       "the "
                                         + params.name + " genesis");
  return {};
}

} // namespace

caf::expected<std::unique_ptr<chain_store>>
chain_store::open(const std::string& dir, const chain_params& params,
                  uint64_t map_size_bytes, uint64_t map_ceiling_bytes,
                  uint64_t state_history) {
  if (state_history < 1)
    return make_error(ec::bad_config, "state history must be at least 1");
  auto genesis = genesis_header(params);
  if (block_hash(genesis) != params.genesis_hash)
    return make_error(ec::wrong_chain, "built-in genesis of " + params.name
                                         + " does not match its pinned hash");
  // A writable map: a block's transaction dirties pages all over the
  // indexes, and LMDB would otherwise keep a heap copy of each until the
  // commit (lmdb.hpp, "Writable maps").
  auto e = lmdb::env::open(dir, 16, map_size_bytes, map_ceiling_bytes,
                           lmdb::env_options{.write_map = true});
  if (!e)
    return e.error();
  std::unique_ptr<chain_store> store{new chain_store};
  store->env_ = std::move(*e);
  store->params_ = &params;
  store->state_history_ = state_history;
  auto& t = store->tables_;
  lmdb::schema s;
  s.what = "data directory";
  s.version = chain_schema_version;
  s.open_tables = [&](lmdb::write_txn& txn, const lmdb::meta_table& meta) {
    t.meta = meta;
    return open_tables(t, txn);
  };
  s.create = [&](lmdb::write_txn& txn, const lmdb::meta_table&) {
    return create(t, params, txn);
  };
  // steps[v - 1] takes schema v to v + 1 (docs/hacking.md, "How to add a
  // migration").
  s.steps.push_back([&](lmdb::write_txn& txn, const lmdb::meta_table&) {
    return add_state_trie(txn);
  });
  s.steps.push_back([&](lmdb::write_txn& txn, const lmdb::meta_table&) {
    return drop_item_and_asset_tables(txn);
  });
  s.check = [&](lmdb::write_txn& txn, const lmdb::meta_table&) {
    return check(t, params, txn);
  };
  if (auto meta = lmdb::open_schema(store->env_, s); !meta)
    return meta.error();
  return store;
}

} // namespace hallmark

namespace hallmark::lmdb {

std::vector<uint8_t> codec<state_undo>::encode(const state_undo& x) {
  std::vector<uint8_t> out(4);
  codec<uint32_t>::write(static_cast<uint32_t>(x.before.size()), out.data());
  for (auto& [key, value] : x.before) {
    out.insert(out.end(), key.begin(), key.end());
    auto len = value ? static_cast<uint16_t>(value->size()) : uint16_t{0xffff};
    out.push_back(static_cast<uint8_t>(len));
    out.push_back(static_cast<uint8_t>(len >> 8));
    if (value)
      out.insert(out.end(), value->begin(), value->end());
  }
  return out;
}

caf::expected<state_undo> codec<state_undo>::decode(bytes in) {
  auto bad = [] { return make_error(ec::malformed, "truncated state undo"); };
  if (in.size() < 4)
    return bad();
  auto n = codec<uint32_t>::read(in.data());
  size_t pos = 4;
  state_undo x;
  for (uint32_t i = 0; i < n; ++i) {
    if (pos + trie::key_bytes + 2 > in.size())
      return bad();
    trie::state_key key;
    std::memcpy(key.data(), in.data() + pos, key.size());
    pos += key.size();
    auto len = codec<uint16_t>::read(in.data() + pos);
    pos += 2;
    if (len == 0xffff) {
      x.before.emplace_back(key, std::nullopt);
      continue;
    }
    if (pos + len > in.size())
      return bad();
    x.before.emplace_back(
      key, std::vector<uint8_t>(in.begin() + static_cast<long>(pos),
                                in.begin() + static_cast<long>(pos + len)));
    pos += len;
  }
  if (pos != in.size())
    return make_error(ec::malformed, "trailing bytes after state undo");
  return x;
}

} // namespace hallmark::lmdb
