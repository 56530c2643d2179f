#include "storage/lmdb.hpp"

#include <filesystem>

#include <lmdb.h>

#include "core/error.hpp"

namespace hallmark::lmdb {

namespace {

MDB_val val(bytes b) {
  return MDB_val{b.size(), const_cast<uint8_t*>(b.data())};
}

bytes view(const MDB_val& v) {
  return {static_cast<const uint8_t*>(v.mv_data), v.mv_size};
}

caf::error fail(int rc, const char* what) {
  return make_error(ec::storage, std::string{what} + ": " + mdb_strerror(rc));
}

} // namespace

void env::deleter::operator()(MDB_env* e) const {
  mdb_env_close(e);
}

caf::expected<env> env::open(const std::string& path, unsigned max_tables,
                             uint64_t map_size_bytes) {
  std::error_code err;
  std::filesystem::create_directories(path, err);
  if (err)
    return make_error(ec::io, "cannot create " + path + ": " + err.message());
  MDB_env* raw = nullptr;
  if (int rc = mdb_env_create(&raw); rc != 0)
    return fail(rc, "mdb_env_create");
  env result;
  result.ptr_.reset(raw);
  if (int rc = mdb_env_set_maxdbs(raw, max_tables); rc != 0)
    return fail(rc, "mdb_env_set_maxdbs");
  if (int rc = mdb_env_set_mapsize(raw, map_size_bytes); rc != 0)
    return fail(rc, "mdb_env_set_mapsize");
  if (int rc = mdb_env_set_maxreaders(raw, 256); rc != 0)
    return fail(rc, "mdb_env_set_maxreaders");
  // MDB_NOTLS: read transactions are not bound to a thread, as actors move
  // between CAF's worker threads.
  if (int rc = mdb_env_open(raw, path.c_str(), MDB_NOTLS, 0600); rc != 0)
    return fail(rc, ("cannot open LMDB at " + path).c_str());
  int dead = 0;
  mdb_reader_check(raw, &dead);
  return result;
}

txn::txn(txn&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)), writable_(other.writable_) {}

txn& txn::operator=(txn&& other) noexcept {
  if (this != &other) {
    if (ptr_)
      mdb_txn_abort(ptr_);
    ptr_ = std::exchange(other.ptr_, nullptr);
    writable_ = other.writable_;
  }
  return *this;
}

txn::~txn() {
  if (ptr_)
    mdb_txn_abort(ptr_);
}

static MDB_txn* begin(MDB_env* e, MDB_txn* parent, unsigned flags) {
  MDB_txn* t = nullptr;
  if (int rc = mdb_txn_begin(e, parent, flags, &t); rc != 0)
    throw failure(std::string{"mdb_txn_begin: "} + mdb_strerror(rc));
  return t;
}

read_txn::read_txn(const env& e)
    : txn(begin(e.get(), nullptr, MDB_RDONLY), false) {}

write_txn::write_txn(const env& e) : txn(begin(e.get(), nullptr, 0), true) {}

write_txn::write_txn(nested_in n)
    : txn(begin(mdb_txn_env(n.parent.get()), n.parent.get(), 0), true) {}

caf::error write_txn::commit() {
  auto t = std::exchange(ptr_, nullptr);
  if (int rc = mdb_txn_commit(t); rc != 0)
    return fail(rc, "mdb_txn_commit");
  return {};
}

void write_txn::abort() {
  if (ptr_)
    mdb_txn_abort(std::exchange(ptr_, nullptr));
}

caf::expected<table> table::open(write_txn& t, const char* name,
                                 table_kind kind) {
  unsigned flags = MDB_CREATE;
  if (kind == table_kind::integer_key)
    flags |= MDB_INTEGERKEY;
  if (kind == table_kind::dup_fixed)
    flags |= MDB_DUPSORT | MDB_DUPFIXED;
  table result;
  if (int rc = mdb_dbi_open(t.get(), name, flags, &result.dbi_); rc != 0)
    return fail(rc, name);
  return result;
}

std::optional<bytes> table::get(const txn& t, bytes key) const {
  auto k = val(key);
  MDB_val v;
  int rc = mdb_get(t.get(), dbi_, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::nullopt;
  if (rc != 0)
    throw failure(std::string{"mdb_get: "} + mdb_strerror(rc));
  return view(v);
}

caf::error table::put(write_txn& t, bytes key, bytes value) const {
  auto k = val(key);
  auto v = val(value);
  if (int rc = mdb_put(t.get(), dbi_, &k, &v, 0); rc != 0)
    return fail(rc, "mdb_put");
  return {};
}

caf::error table::append(write_txn& t, bytes key, bytes value) const {
  auto k = val(key);
  auto v = val(value);
  if (int rc = mdb_put(t.get(), dbi_, &k, &v, MDB_APPEND); rc != 0)
    return fail(rc, "mdb_put(append)");
  return {};
}

bool table::del(write_txn& t, bytes key) const {
  auto k = val(key);
  int rc = mdb_del(t.get(), dbi_, &k, nullptr);
  if (rc == MDB_NOTFOUND)
    return false;
  if (rc != 0)
    throw failure(std::string{"mdb_del: "} + mdb_strerror(rc));
  return true;
}

bool table::del(write_txn& t, bytes key, bytes value) const {
  auto k = val(key);
  auto v = val(value);
  int rc = mdb_del(t.get(), dbi_, &k, &v);
  if (rc == MDB_NOTFOUND)
    return false;
  if (rc != 0)
    throw failure(std::string{"mdb_del: "} + mdb_strerror(rc));
  return true;
}

namespace {

struct cursor {
  MDB_cursor* ptr = nullptr;
  cursor(const txn& t, unsigned dbi) {
    if (int rc = mdb_cursor_open(t.get(), dbi, &ptr); rc != 0)
      throw failure(std::string{"mdb_cursor_open: "} + mdb_strerror(rc));
  }
  ~cursor() { mdb_cursor_close(ptr); }
};

} // namespace

void table::for_each_dup(const txn& t, bytes key,
                         const std::function<bool(bytes)>& f) const {
  cursor c{t, dbi_};
  auto k = val(key);
  MDB_val v;
  int rc = mdb_cursor_get(c.ptr, &k, &v, MDB_SET_KEY);
  while (rc == 0) {
    if (!f(view(v)))
      return;
    rc = mdb_cursor_get(c.ptr, &k, &v, MDB_NEXT_DUP);
  }
  if (rc != MDB_NOTFOUND)
    throw failure(std::string{"mdb_cursor_get: "} + mdb_strerror(rc));
}

void table::scan(const txn& t, bytes from,
                 const std::function<bool(bytes, bytes)>& f) const {
  cursor c{t, dbi_};
  auto k = val(from);
  MDB_val v;
  int rc = from.empty() ? mdb_cursor_get(c.ptr, &k, &v, MDB_FIRST)
                        : mdb_cursor_get(c.ptr, &k, &v, MDB_SET_RANGE);
  while (rc == 0) {
    if (!f(view(k), view(v)))
      return;
    rc = mdb_cursor_get(c.ptr, &k, &v, MDB_NEXT);
  }
  if (rc != MDB_NOTFOUND)
    throw failure(std::string{"mdb_cursor_get: "} + mdb_strerror(rc));
}

uint64_t table::count(const txn& t) const {
  MDB_stat st;
  if (int rc = mdb_stat(t.get(), dbi_, &st); rc != 0)
    throw failure(std::string{"mdb_stat: "} + mdb_strerror(rc));
  return st.ms_entries;
}

} // namespace hallmark::lmdb
