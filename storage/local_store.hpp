// The node-local environment: state that is not chain data. Each table has
// one writer: `pending` the reservoir, `peers` the announcer, `bans` the
// connector. LMDB lets one
// write transaction run at a time, so the two may wait briefly on each
// other; both write small, short transactions.
//
//   table    key                 value
//   -------  ------------------  ----------------------------------------
//   meta     "schema"            u32 schema version
//   pending  record id (32)      accepted-at u64 (unix seconds) | encoded
//                                Record
//   peers    identity key (32)   encoded Registration (messages/wire.capnp)
//   bans     identity key (32)   u64 unix second the ban ends
//
// Every table is created on open, so a store made before `peers` or `bans`
// existed gains it without a schema change (the version stays 1).
//
// Errors: every call returns caf::error / caf::expected (ec::storage with
// LMDB's message). Every write is one committed, durable transaction that
// grows the map and runs again if the map is full (lmdb::env::write).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <caf/expected.hpp>

#include "core/crypto.hpp"
#include "messages/codec.hpp"
#include "storage/lmdb.hpp"
#include "storage/table.hpp"

namespace hallmark {

struct registration; // messages/registration.hpp

constexpr uint32_t local_schema_version = 1;

/// The map the local environment starts with: 64 MiB of address space
/// (data.mdb is as long, sparse); it doubles when full.
constexpr uint64_t local_map_size = uint64_t{64} << 20;

/// A `pending` value: when the reservoir accepted the record, and the
/// record as it encoded it.
struct pending_row {
  uint64_t accepted_at = 0;
  encoded record;
};

} // namespace hallmark

/// accepted-at u64, then the record's bytes (whole words).
template <>
struct hallmark::lmdb::codec<hallmark::pending_row> {
  static constexpr size_t size = variable_size;
  static std::vector<uint8_t> encode(const pending_row& row);
  static caf::expected<pending_row> decode(bytes in);
};

namespace hallmark {

class local_store {
public:
  /// Opens or creates the environment in `dir` (storage/schema.hpp);
  /// ec::storage if its schema is newer than local_schema_version.
  /// @param map_size_bytes the map at first; it grows when full.
  static caf::expected<std::unique_ptr<local_store>>
  open(const std::string& dir, uint64_t map_size_bytes = local_map_size);

  /// Stores pending records (id, accepted-at, record) in one durable
  /// transaction; an id stored already is replaced.
  caf::error put_pending(
    const std::vector<std::tuple<hash256, uint64_t, encoded>>& entries);

  /// Removes pending records in one durable transaction; absent ids are no
  /// error.
  caf::error remove_pending(const std::vector<hash256>& ids);

  /// Calls `f(id, accepted_at, record)` for every pending record, in id
  /// order, inside one read transaction (`f` must not write). A row that
  /// does not decode is skipped with a warning.
  /// @returns LMDB's error, if reading failed.
  caf::error for_each_pending(
    const std::function<void(const hash256&, uint64_t, encoded)>& f) const;

  /// Stores (or replaces) the peer table's row of `r.key`, durably.
  caf::error put_peer(const registration& r);

  /// Removes the row of `key`, durably; absent rows are no error.
  caf::error remove_peer(const public_key& key);

  /// Stores `puts` and removes the rows of `removes` (absent ones are no
  /// error), durably, in one transaction.
  caf::error write_peers(const std::vector<registration>& puts,
                         const std::vector<public_key>& removes);

  /// Calls `f(key, registration)` for every stored peer, in key order; a
  /// row that does not decode, or names another key, comes as an error so
  /// the caller can remove it. `f` may write to the store.
  /// @returns LMDB's error, if reading failed (then `f` is not called).
  caf::error for_each_peer(
    const std::function<void(const public_key&, caf::expected<registration>)>&
      f) const;

  /// Stores (or replaces) the ban of `key`, ending at unix second `until`,
  /// durably.
  caf::error put_ban(const public_key& key, uint64_t until);

  /// Removes the ban of `key`, durably; an absent one is no error.
  caf::error remove_ban(const public_key& key);

  /// Every stored ban: key and the unix second it ends, in key order.
  caf::expected<std::vector<std::pair<public_key, uint64_t>>> bans() const;

private:
  local_store() = default;
  lmdb::env env_;
  lmdb::meta_table meta_;
  lmdb::table<hash256, pending_row> pending_;
  lmdb::table<public_key, encoded> peers_;
  lmdb::table<public_key, uint64_t> bans_;
};

} // namespace hallmark
