// A typed RAII layer over LMDB: the environment in a unique_ptr with a
// deleter, distinct read and write transactions, named tables. Only
// storage/ includes <lmdb.h>.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <caf/error.hpp>
#include <caf/expected.hpp>

struct MDB_env;
struct MDB_txn;

namespace hallmark::lmdb {

using bytes = std::span<const uint8_t>;

/// LMDB's big-endian-free integer key: LMDB orders MDB_INTEGERKEY tables by
/// native unsigned integers.
struct u64_key {
  uint64_t value;
  bytes view() const {
    return {reinterpret_cast<const uint8_t*>(&value), sizeof(value)};
  }
};

/// Thrown only for LMDB failures that leave no sane way on (corruption, a
/// transaction LMDB has already failed); callers at actor boundaries turn it
/// into ec::storage.
struct failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class env {
public:
  /// Opens (creating) the environment in directory `path`.
  static caf::expected<env> open(const std::string& path, unsigned max_tables,
                                 uint64_t map_size_bytes);
  MDB_env* get() const { return ptr_.get(); }

private:
  struct deleter {
    void operator()(MDB_env* e) const;
  };
  std::unique_ptr<MDB_env, deleter> ptr_;
};

class txn {
public:
  txn(txn&& other) noexcept;
  txn& operator=(txn&& other) noexcept;
  txn(const txn&) = delete;
  ~txn();
  MDB_txn* get() const { return ptr_; }
  bool writable() const { return writable_; }

protected:
  txn(MDB_txn* ptr, bool writable) : ptr_(ptr), writable_(writable) {}
  MDB_txn* ptr_;
  bool writable_;
};

class read_txn : public txn {
public:
  explicit read_txn(const env& e);
};

class write_txn : public txn {
public:
  explicit write_txn(const env& e);
  struct nested_in {
    write_txn& parent;
  };
  /// A nested transaction: its writes reach the parent only if committed.
  explicit write_txn(nested_in n);
  /// Commits; after success the transaction is gone.
  caf::error commit();
  /// Drops every write since begin.
  void abort();
};

enum class table_kind { plain, integer_key, dup_fixed };

class table {
public:
  table() = default;
  /// Opens or creates a named table inside `t`.
  static caf::expected<table> open(write_txn& t, const char* name,
                                   table_kind kind);

  /// The value under `key`; the view lives as long as the transaction and
  /// the table is not written to.
  std::optional<bytes> get(const txn& t, bytes key) const;
  bool contains(const txn& t, bytes key) const {
    return get(t, key).has_value();
  }
  caf::error put(write_txn& t, bytes key, bytes value) const;
  /// Appends in key order (MDB_APPEND): faster for ascending height keys.
  caf::error append(write_txn& t, bytes key, bytes value) const;
  /// Deletes `key` (all of its values); false if it was absent.
  bool del(write_txn& t, bytes key) const;
  /// Deletes one duplicate value of `key`.
  bool del(write_txn& t, bytes key, bytes value) const;
  /// Calls `f` with each duplicate of `key` in order, until it returns false.
  void for_each_dup(const txn& t, bytes key,
                    const std::function<bool(bytes)>& f) const;
  /// Calls `f` with each (key, value) from `from` on, until it returns false.
  void scan(const txn& t, bytes from,
            const std::function<bool(bytes, bytes)>& f) const;
  /// Number of entries.
  uint64_t count(const txn& t) const;

private:
  unsigned dbi_ = 0;
};

} // namespace hallmark::lmdb
