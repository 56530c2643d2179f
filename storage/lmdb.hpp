// A typed RAII layer over LMDB: the environment in a unique_ptr with a
// deleter, distinct read and write transactions (a write transaction may
// have children), and named tables of bytes. storage/table.hpp puts value
// types on top; storage/schema.hpp opens an environment with its schema.
// Only storage/ includes <lmdb.h>.
//
// Errors. Every call returns caf::error or caf::expected<T>; a failure is
// ec::storage with the table's name and LMDB's message ("table records:
// mdb_put: MDB_MAP_FULL: Environment mapsize limit reached"). Nothing throws.
//
// Map growth. An environment starts with the map size it is given and grows
// it (doubling) when a write finds it full, up to its ceiling and never
// beyond the data file plus the free space of its disk (statvfs). LMDB lets
// the map change only while no transaction of this process is open, so every
// transaction passes a gate: growing closes the gate, waits up to `grow_wait`
// for open transactions to end, resizes and opens it again.
//
//   write ──▶ MDB_MAP_FULL ──▶ abort ──▶ env::grow() ──▶ write again
//                                          │
//                                          ├─ at the ceiling: "map full …"
//                                          └─ no disk left:   "disk full …"
//
// env::write() runs that loop for a short transaction. A caller that holds a
// write transaction across calls (chain_writer) sees write_txn::map_full(),
// aborts, grows and redoes its work itself.
//
// Writable maps (env_options::write_map, MDB_WRITEMAP). LMDB then writes
// pages straight into the shared file mapping instead of keeping a heap
// copy of every page a write transaction dirties, so a transaction that
// touches a million random keys costs no anonymous memory for it. Two
// rules come with it:
//   - the data file is allocated on disk to the whole map (posix_fallocate)
//     before the map reaches it, so a full disk shows as the map failing to
//     grow ("disk full …"), never as SIGBUS in the middle of a write; and a
//     writable map grows by at most `write_map_step` at a time, so the file
//     stays near the data's size;
//   - LMDB refuses nested transactions on it (write_txn::nest).
//
// Plain maps. LMDB writes their pages with pwrite, and does not write a
// page that a transaction took at the end of the file and freed again
// before its commit: the file could end before the last page its meta
// names, which is also what a cut file looks like. So a plain map's file
// is extended (sparse, taking no disk) to the map's size when the
// environment opens and before the map grows; no page is ever taken past
// the map, and the truncation check (env::open) stays exact.
//
// Resident pages. Pages read or written through the map count as this
// process's (file-backed) resident memory until it lets them go
// (release_resident). They stay in the page cache, a written page with its
// new contents, so nothing is lost and a later access finds them there.
// Letting a writable map's pages go in the middle of a write transaction
// is safe but dear: each written page faults again, and LMDB's commit
// touches every page the transaction wrote anyway. Writers let go after
// each commit.
#pragma once

#include <chrono>
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

/// The map size an environment grows to at most unless told otherwise:
/// 16 TiB, the largest `map_size_mb`.
constexpr uint64_t default_map_ceiling = uint64_t{16} << 40;

/// The most a writable map grows by at once: 1 GiB.
constexpr uint64_t write_map_step = uint64_t{1} << 30;

/// How an environment maps its file.
struct env_options {
  /// MDB_WRITEMAP with the file allocated ahead (see the top of this file).
  bool write_map = false;
};

/// How often a writer clears the reader slots of dead processes at most.
constexpr std::chrono::seconds stale_reader_check{1};

/// How long growing the map waits for the other transactions of this
/// process to end before it gives up (with an ec::storage error).
constexpr std::chrono::seconds grow_wait{10};

/// The size (bytes) to grow a full map of `current` bytes to: twice as
/// much but `current + max_step` at most, and at most `ceiling` and at most
/// what the data file holds on disk (`file_bytes`: its allocated blocks,
/// not its length, which may be sparse) plus the disk's free space
/// (`free_bytes`), rounded down to 4 KiB.
/// @returns the new size, or ec::storage "map full: … at its ceiling of
/// N MiB" or "disk full: N MiB free; …" when it cannot grow.
caf::expected<uint64_t> next_map_size(uint64_t current, uint64_t ceiling,
                                      uint64_t file_bytes, uint64_t free_bytes,
                                      uint64_t max_step = UINT64_MAX);

class txn;
class read_txn;
class write_txn;

/// A hot copy of the environment in `from` into the empty directory `to`:
/// one read transaction's snapshot, compacted (free pages left out), which
/// a process may take while another writes (LMDB's mdb_env_copy2). The
/// source is opened read-only and checked for truncation first; `from`
/// must not be open in this process.
/// @returns ec::io or ec::storage naming the directory that failed.
caf::error copy_env(const std::string& from, const std::string& to);

/// An open LMDB environment (a directory with data.mdb and lock.mdb).
/// Movable; every transaction must end before it is destroyed.
class env {
public:
  /// No environment.
  env();
  env(env&&) noexcept;
  env& operator=(env&&) noexcept;
  ~env();

  /// Opens (creating) the environment in directory `path`.
  /// @param max_tables named tables the environment can hold.
  /// @param map_size bytes mapped at first; a plain map's file is this
  ///        long but sparse, so this is address space, not disk (a
  ///        writable map's is allocated: see the top).
  /// @param map_ceiling bytes the map may grow to when it fills up.
  /// @param options a writable map (see the top).
  /// @returns the environment, or ec::io (directory) / ec::storage (LMDB;
  ///          also a data file shorter than the last page its meta names:
  ///          "data file is truncated: N bytes, LMDB needs at least M"; a
  ///          writable map the disk cannot hold: "disk full: …").
  static caf::expected<env> open(const std::string& path, unsigned max_tables,
                                 uint64_t map_size,
                                 uint64_t map_ceiling = default_map_ceiling,
                                 env_options options = {});

  /// Begins a read transaction: a snapshot of the last commit.
  caf::expected<read_txn> begin_read() const;

  /// Begins a write transaction (LMDB serialises writers: this waits for
  /// another thread's write transaction to end). At most once a second
  /// (stale_reader_check) it first clears the reader slots of processes
  /// that died holding a read transaction (a killed `hallmark backup`):
  /// LMDB would otherwise keep every page freed since that snapshot, and
  /// the file would grow, until the next open.
  caf::expected<write_txn> begin_write() const;

  /// The reader slots in use in the environment's lock file: open read
  /// transactions of this process and of others, and slots of processes
  /// that died holding one until they are cleared.
  size_t readers() const;

  /// Runs `f` in a new write transaction and commits it. When a write or the
  /// commit finds the map full, the transaction is dropped, the map grows
  /// and `f` runs again on a fresh transaction, until it commits or the map
  /// cannot grow. `f` must therefore do the whole job each time it runs.
  /// @returns `f`'s error, the commit's, or the growth's.
  caf::error write(const std::function<caf::error(write_txn&)>& f) const;

  /// Grows the map (next_map_size); waits for this process's transactions
  /// to end first, and returns at once (no error) if another thread is
  /// growing it already. The caller must hold no transaction of its own.
  caf::error grow() const;

  /// The map size now, bytes.
  uint64_t map_size() const;

  /// Lets the kernel take back the map's pages this process has touched
  /// (madvise MADV_DONTNEED on the shared file mapping): they stay in the
  /// page cache, written ones with what was written, and come back on the
  /// next access, but no longer count as this process's resident memory.
  /// For a long run of writes that reads each page once (a sync), whose
  /// resident size would otherwise grow with the whole database. Safe while
  /// other threads read the map and in the middle of a transaction.
  void release_resident() const;

  /// Whether LMDB writes straight into the map (env_options::write_map).
  bool write_map() const;

  /// The directory.
  const std::string& path() const;

private:
  friend class txn;
  friend class write_txn;
  struct shared;
  /// Begins a top-level transaction with LMDB `flags`, through the gate.
  template <class Txn>
  caf::expected<Txn> begin(unsigned flags) const;
  std::unique_ptr<shared> s_;
};

/// A live transaction of either kind, or none (default-constructed, moved
/// from, committed or aborted). Ending it (destructor, abort) aborts it.
class txn {
public:
  txn() = default;
  txn(txn&& other) noexcept;
  txn& operator=(txn&& other) noexcept;
  txn(const txn&) = delete;
  txn& operator=(const txn&) = delete;
  ~txn();

  /// LMDB's handle; null once the transaction has ended.
  MDB_txn* get() const { return ptr_; }
  /// Whether the transaction is live.
  explicit operator bool() const { return ptr_ != nullptr; }

protected:
  /// Aborts if live; lets the map grow again once no transaction is open.
  void end();
  MDB_txn* ptr_ = nullptr;
  /// The environment's gate, for transactions that hold a place in it
  /// (top-level ones; a child lives inside its parent's place).
  env::shared* gate_ = nullptr;
};

/// A read-only snapshot. Not bound to a thread (MDB_NOTLS).
class read_txn : public txn {
  friend class env;
};

/// A write transaction, or the child of one. A child's writes reach its
/// parent only if the child commits; its destructor aborts it otherwise.
/// While a child is live its parent must not be used, nor moved.
class write_txn : public txn {
public:
  write_txn() = default;
  write_txn(write_txn&& other) noexcept;
  write_txn& operator=(write_txn&& other) noexcept;

  /// Begins a child of this transaction; ec::storage on a writable map
  /// (LMDB has no nested transactions there).
  caf::expected<write_txn> nest();

  /// Commits (a child: into its parent); the transaction ends either way.
  caf::error commit();

  /// Drops every write since begin; the transaction ends.
  void abort() { end(); }

  /// Whether a write or commit of this transaction, or of a child of it,
  /// found the map full: only dropping the transaction, growing the map
  /// (env::grow) and starting over helps.
  bool map_full() const { return map_full_; }

private:
  friend class env;
  friend class raw_table;
  /// Takes note of LMDB result `rc` of a write in this transaction (marks
  /// it and its ancestors map_full on MDB_MAP_FULL).
  void note(int rc);
  write_txn* parent_ = nullptr;
  bool map_full_ = false;
};

/// How a table orders and stores its keys and values.
enum class table_kind {
  plain,       ///< byte-wise ordered keys, one value each
  integer_key, ///< 8-byte native unsigned keys in numeric order
  dup_fixed,   ///< sorted fixed-size duplicate values per key
};

/// A named table of bytes to bytes, the layer under lmdb::table<K, V>.
/// Views returned live as long as the transaction and no write to the table.
class raw_table {
public:
  raw_table() = default;

  /// Opens or creates table `name` (a string literal: it names errors).
  static caf::expected<raw_table> open(write_txn& t, const char* name,
                                       table_kind kind);

  const char* name() const { return name_; }

  /// The value under `key`, or none.
  caf::expected<std::optional<bytes>> get(const txn& t, bytes key) const;
  /// Puts `value` under `key` (a dup_fixed table adds it to the key's set).
  caf::error put(write_txn& t, bytes key, bytes value) const;
  /// Puts after the last key (MDB_APPEND); refused below it.
  caf::error append(write_txn& t, bytes key, bytes value) const;
  /// Deletes `key` (all of its values); false if it was absent.
  caf::expected<bool> del(write_txn& t, bytes key) const;
  /// Deletes one duplicate value of `key`; false if it was absent.
  caf::expected<bool> del(write_txn& t, bytes key, bytes value) const;
  /// Calls `f(key, value)` for every entry in key order until it returns
  /// false.
  caf::error scan(const txn& t,
                  const std::function<bool(bytes, bytes)>& f) const;
  /// The same from the first key not below `from`.
  caf::error scan(const txn& t, bytes from,
                  const std::function<bool(bytes, bytes)>& f) const;
  /// Calls `f(value)` for each duplicate of `key` in order until it returns
  /// false.
  caf::error for_each_dup(const txn& t, bytes key,
                          const std::function<bool(bytes)>& f) const;
  /// Number of entries.
  caf::expected<uint64_t> count(const txn& t) const;
  /// Deletes every entry; the table stays.
  caf::error clear(write_txn& t) const;
  /// Deletes the table itself (its handle is closed).
  caf::error drop(write_txn& t) const;

private:
  unsigned dbi_ = 0;
  const char* name_ = "(unopened)";
};

} // namespace hallmark::lmdb
