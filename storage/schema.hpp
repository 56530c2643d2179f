// Opening an environment with its schema: one routine for every
// environment (chain, local). In one write transaction it opens `meta` and
// the environment's tables, then by the stored "schema" version:
//
//   meta empty ............ a new environment: create it, store `version`
//   no "schema", not empty  refused: ec::storage "… has no schema version"
//   newer than `version` .. refused: ec::storage "… has schema N, newer than
//                           this hallmark understands (M)"
//   older ................. migrated: steps[v - 1] takes it from v to v + 1,
//                           one step at a time, then `version` is stored
//   then .................. `check` (e.g. "is this our chain?")
//
// and commits. Nothing is written if any of it fails: the transaction is
// aborted. On success it is committed even when nothing changed, because
// LMDB closes the table handles a transaction opened when it aborts. A full
// map grows and the whole open runs again (env::write), so every step must
// do its whole job each time it runs.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "storage/lmdb.hpp"
#include "storage/table.hpp"

namespace hallmark::lmdb {

/// One piece of opening: works inside the open transaction, with the
/// environment's meta table.
using schema_step = std::function<caf::error(write_txn&,
                                             const meta_table& meta)>;

/// What an environment's schema is and how to reach it.
struct schema {
  /// Names the environment in errors ("data directory", "local store").
  std::string what;
  /// The version this binary writes and understands.
  uint32_t version = 1;
  /// Opens the environment's tables (not meta); runs first, every time.
  schema_step open_tables;
  /// Fills a new environment; meta holds nothing yet.
  schema_step create;
  /// steps[v - 1] migrates version v to v + 1; version - 1 of them.
  std::vector<schema_step> steps;
  /// Checks an existing environment once it is at `version`; may be empty.
  schema_step check;
};

/// Opens `e`'s tables with schema `s` as the top of this file describes.
/// @returns the meta table, or the first error (ec::storage for LMDB and the
///          version refusals; whatever `open_tables`, `create`, a step or
///          `check` returned).
caf::expected<meta_table> open_schema(const env& e, const schema& s);

} // namespace hallmark::lmdb
