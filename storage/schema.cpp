#include "storage/schema.hpp"

namespace hallmark::lmdb {

namespace {

caf::error run(const schema_step& step, write_txn& txn,
               const meta_table& meta) {
  return step ? step(txn, meta) : caf::error{};
}

/// Takes the environment to `s.version` and checks it, inside `txn`.
caf::error settle(const schema& s, const meta_table& meta, write_txn& txn) {
  auto stored = meta.get(txn, schema_key);
  if (!stored)
    return stored.error();
  if (!*stored) {
    auto empty = meta.empty(txn);
    if (!empty)
      return empty.error();
    if (!*empty)
      return make_error(ec::storage, s.what + " has no schema version");
    if (auto err = run(s.create, txn, meta))
      return err;
    return meta.put(txn, schema_key, s.version);
  }
  auto version = **stored;
  if (version > s.version)
    return make_error(ec::storage, s.what + " has schema "
                                     + std::to_string(version)
                                     + ", newer than this hallmark "
                                       "understands ("
                                     + std::to_string(s.version) + ")");
  if (version < 1 || s.steps.size() + 1 < s.version)
    return make_error(ec::storage, s.what + " has schema "
                                     + std::to_string(version)
                                     + ", and no way to migrate it to "
                                     + std::to_string(s.version));
  for (; version < s.version; ++version) {
    if (auto err = run(s.steps[version - 1], txn, meta))
      return make_error(ec::storage, s.what + ": migrating schema "
                                       + std::to_string(version) + " to "
                                       + std::to_string(version + 1) + ": "
                                       + message_of(err));
    if (auto err = meta.put(txn, schema_key, version + 1))
      return err;
  }
  return run(s.check, txn, meta);
}

} // namespace

caf::expected<meta_table> open_schema(const env& e, const schema& s) {
  meta_table meta;
  auto err = e.write([&](write_txn& txn) -> caf::error {
    auto m = meta_table::open(txn);
    if (!m)
      return m.error();
    meta = *m;
    if (auto err = run(s.open_tables, txn, meta))
      return err;
    return settle(s, meta, txn);
  });
  if (err)
    return err;
  return meta;
}

} // namespace hallmark::lmdb
