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
  for (auto err : {open(t.headers, "headers"), open(t.bodies, "bodies"),
                   open(t.hashes, "hashes"), open(t.records, "records"),
                   open(t.items, "items"), open(t.owners, "owners"),
                   open(t.assets, "assets")})
    if (err)
      return err;
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
                  uint64_t map_size_bytes, uint64_t map_ceiling_bytes) {
  auto genesis = genesis_header(params);
  if (block_hash(genesis) != params.genesis_hash)
    return make_error(ec::wrong_chain, "built-in genesis of " + params.name
                                         + " does not match its pinned hash");
  auto e = lmdb::env::open(dir, 16, map_size_bytes, map_ceiling_bytes);
  if (!e)
    return e.error();
  std::unique_ptr<chain_store> store{new chain_store};
  store->env_ = std::move(*e);
  store->params_ = &params;
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
  // Schema 1 is the first: no steps yet. A later version appends its step
  // here (docs/hacking.md, "How to add a migration").
  s.check = [&](lmdb::write_txn& txn, const lmdb::meta_table&) {
    return check(t, params, txn);
  };
  if (auto meta = lmdb::open_schema(store->env_, s); !meta)
    return meta.error();
  return store;
}

} // namespace hallmark
