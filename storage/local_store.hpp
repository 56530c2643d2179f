// The node-local environment: state that is not chain data. Each table has
// one writer: `pending` the reservoir, `peers` the announcer. LMDB lets one
// write transaction run at a time, so the two may wait briefly on each
// other; both write small, short transactions.
//
//   table    key                 value
//   -------  ------------------  ----------------------------------------
//   meta     "schema"            u32 schema version
//   pending  record id (32)      accepted-at u64 (unix seconds) | encoded
//                                Record
//   peers    identity key (32)   encoded Registration (messages/wire.capnp)
//
// Every table is created on open, so a store made before `peers` existed
// gains it without a schema change (the version stays 1).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "core/crypto.hpp"
#include "messages/codec.hpp"
#include "storage/lmdb.hpp"

namespace hallmark {

struct registration; // actors/actors.hpp; rules in node/registration.hpp

constexpr uint32_t local_schema_version = 1;

class local_store {
public:
  static caf::expected<std::unique_ptr<local_store>>
  open(const std::string& dir);

  /// Stores pending records in one durable transaction.
  caf::error put_pending(
    const std::vector<std::tuple<hash256, uint64_t, encoded>>& entries);

  /// Removes pending records in one durable transaction.
  caf::error remove_pending(const std::vector<hash256>& ids);

  /// Calls `f(id, accepted_at, record)` for every pending record.
  void for_each_pending(
    const std::function<void(const hash256&, uint64_t, encoded)>& f) const;

  /// Stores (or replaces) the peer table's row of `r.key`, durably.
  caf::error put_peer(const registration& r);

  /// Removes the row of `key`, durably; absent rows are no error.
  caf::error remove_peer(const public_key& key);

  /// Calls `f(key, registration)` for every stored peer, in key order; a
  /// row that does not decode, or names another key, comes as an error so
  /// the caller can remove it. `f` may write to the store.
  void for_each_peer(
    const std::function<void(const public_key&, caf::expected<registration>)>&
      f) const;

private:
  local_store() = default;
  lmdb::env env_;
  lmdb::table meta_;
  lmdb::table pending_;
  lmdb::table peers_;
};

} // namespace hallmark
