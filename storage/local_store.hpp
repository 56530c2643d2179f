// The node-local environment: state that is not chain data. Its only writer
// is the reservoir.
//
//   table    key               value
//   -------  ----------------  ------------------------------------------
//   meta     "schema"          u32 schema version
//   pending  record id (32)    accepted-at u64 (unix seconds) | encoded Record
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <caf/expected.hpp>

#include "messages/codec.hpp"
#include "storage/lmdb.hpp"

namespace hallmark {

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

private:
  local_store() = default;
  lmdb::env env_;
  lmdb::table meta_;
  lmdb::table pending_;
};

} // namespace hallmark
