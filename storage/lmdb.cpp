#include "storage/lmdb.hpp"

#include <sys/mman.h>

#include <cinttypes>
#include <cstdio>
#include <fstream>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>

#include <fcntl.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/error.hpp"
#include "core/log.hpp"

namespace hallmark::lmdb {

namespace {

MDB_val val(bytes b) {
  return MDB_val{b.size(), const_cast<uint8_t*>(b.data())};
}

bytes view(const MDB_val& v) {
  return {static_cast<const uint8_t*>(v.mv_data), v.mv_size};
}

caf::error fail(int rc, const std::string& what) {
  return make_error(ec::storage, what + ": " + mdb_strerror(rc));
}

caf::error fail(const char* table, int rc, const char* call) {
  return fail(rc, std::string{"table "} + table + ": " + call);
}

caf::error ended(const char* table) {
  return make_error(ec::storage, std::string{"table "} + table
                                   + ": the transaction has ended");
}

uint64_t mib(uint64_t bytes) {
  return bytes >> 20;
}

struct closer {
  void operator()(MDB_env* e) const { mdb_env_close(e); }
};
using handle_ptr = std::unique_ptr<MDB_env, closer>;

/// Bytes a new lock file is allocated to: LMDB's header and 256 reader
/// slots take 16 512; given a larger file, LMDB uses it all for slots.
constexpr off_t lock_file_bytes = 64 << 10;

/// Allocates `path`/lock.mdb on disk before LMDB maps it. LMDB extends a
/// new lock file sparsely and writes its header through a shared map: on a
/// full disk that write is SIGBUS, not an error. A lock file there already
/// is allocated at its own length (other processes may map it as it is).
caf::error allocate_lock_file(const std::string& path) {
  auto file = path + "/lock.mdb";
  int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return make_error(ec::storage,
                      "cannot open " + file + ": " + std::strerror(errno));
  struct stat st {};
  int rc = ::fstat(fd, &st) != 0 ? errno : 0;
  bool fresh = rc == 0 && st.st_size == 0;
  if (rc == 0)
    rc = ::posix_fallocate(fd, 0, fresh ? lock_file_bytes : st.st_size);
  ::close(fd);
  if (rc == 0)
    return {};
  if (fresh)
    ::unlink(file.c_str());
  return make_error(ec::storage, (rc == ENOSPC ? "disk full: cannot allocate "
                                               : "cannot allocate ")
                                   + file + ": " + std::strerror(rc));
}

/// Opens the LMDB environment in `path` with `flags` and checks that its
/// data file is whole.
caf::expected<handle_ptr> open_handle(const std::string& path,
                                      unsigned max_tables, uint64_t map_size,
                                      unsigned flags) {
  if (auto err = allocate_lock_file(path))
    return err;
  MDB_env* raw = nullptr;
  if (int rc = mdb_env_create(&raw); rc != 0)
    return fail(rc, "mdb_env_create");
  handle_ptr handle{raw};
  if (int rc = mdb_env_set_maxdbs(raw, max_tables); rc != 0)
    return fail(rc, "mdb_env_set_maxdbs");
  if (int rc = mdb_env_set_mapsize(raw, map_size); rc != 0)
    return fail(rc, "mdb_env_set_mapsize");
  if (int rc = mdb_env_set_maxreaders(raw, 256); rc != 0)
    return fail(rc, "mdb_env_set_maxreaders");
  if (int rc = mdb_env_open(raw, path.c_str(), flags, 0600); rc != 0) {
    // A file cut inside its two meta pages does not even read as LMDB's.
    std::error_code size_err;
    auto size = std::filesystem::file_size(path + "/data.mdb", size_err);
    auto metas = 2 * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    if (rc == MDB_INVALID && !size_err && size > 0 && size < metas)
      return make_error(ec::storage, path
                                       + "/data.mdb: data file is "
                                         "truncated: "
                                       + std::to_string(size)
                                       + " bytes, shorter than LMDB's two "
                                         "meta pages");
    return fail(rc, "cannot open LMDB at " + path);
  }
  // LMDB reads its two meta pages with read(2), but every other page
  // through the map: a page past the end of a truncated file is SIGBUS at
  // the first read. So the file must reach the last page the meta names.
  // (A writable map is opened only after this check passed on a plain
  // one: LMDB extends its file to the map's size at once.)
  MDB_envinfo info;
  MDB_stat stat;
  mdb_filehandle_t fd;
  struct stat file;
  if (int rc = mdb_env_info(raw, &info); rc != 0)
    return fail(rc, "mdb_env_info " + path);
  if (int rc = mdb_env_stat(raw, &stat); rc != 0)
    return fail(rc, "mdb_env_stat " + path);
  if (int rc = mdb_env_get_fd(raw, &fd); rc != 0)
    return fail(rc, "mdb_env_get_fd " + path);
  if (::fstat(fd, &file) != 0)
    return make_error(ec::storage, "cannot size " + path
                                     + "/data.mdb: " + std::strerror(errno));
  auto needed = (uint64_t{info.me_last_pgno} + 1) * stat.ms_psize;
  if (static_cast<uint64_t>(file.st_size) < needed)
    return make_error(ec::storage, path + "/data.mdb: data file is truncated: "
                                     + std::to_string(file.st_size)
                                     + " bytes, LMDB needs at least "
                                     + std::to_string(needed)
                                     + " (restore it from a backup)");
  return handle;
}

/// The data file's descriptor and its stat.
caf::expected<std::pair<int, struct stat>> data_file(MDB_env* e,
                                                     const std::string& path) {
  mdb_filehandle_t fd;
  if (int rc = mdb_env_get_fd(e, &fd); rc != 0)
    return fail(rc, "mdb_env_get_fd " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return make_error(ec::storage, "cannot size " + path
                                     + "/data.mdb: " + std::strerror(errno));
  return std::pair{fd, st};
}

/// Allocates bytes [from, to) of the data file of `path` on disk. On
/// failure the file goes back to the length it had, or to `keep` if that
/// is shorter (at open: its length before LMDB extended it to the map),
/// but never below `from`: a data file is never cut below its data, and a
/// failed start leaves no disk taken.
caf::error allocate(MDB_env* e, const std::string& path, uint64_t from,
                    uint64_t to, uint64_t keep = UINT64_MAX) {
  if (to <= from)
    return {};
  auto file = data_file(e, path);
  if (!file)
    return file.error();
  auto [fd, st] = *file;
  int rc = ::posix_fallocate(fd, static_cast<off_t>(from),
                             static_cast<off_t>(to - from));
  if (rc == 0)
    return {};
  auto had = std::max(std::min(static_cast<uint64_t>(st.st_size), keep), from);
  if (::ftruncate(fd, static_cast<off_t>(had)) != 0) {
    // Nothing more to give back; the error below says what failed.
  }
  if (rc == ENOSPC)
    return make_error(ec::storage, "disk full: cannot allocate "
                                     + std::to_string(mib(to))
                                     + " MiB for the map of " + path);
  return make_error(ec::storage, "cannot allocate " + std::to_string(mib(to))
                                   + " MiB for the map of " + path + ": "
                                   + std::strerror(rc));
}

/// Extends a plain map's data file to `to` bytes (a sparse extension: no
/// disk is taken). LMDB does not write a page that a transaction took at
/// the end of the file and freed again before its commit, so without this
/// the file could end before the last page its meta names, and the
/// truncation check would refuse a whole store. Past the map no page is
/// ever taken, so a file as long as the map always reaches that page.
caf::error extend(MDB_env* e, const std::string& path, uint64_t to) {
  auto file = data_file(e, path);
  if (!file)
    return file.error();
  auto [fd, st] = *file;
  if (static_cast<uint64_t>(st.st_size) >= to)
    return {};
  if (::ftruncate(fd, static_cast<off_t>(to)) != 0)
    return make_error(ec::storage, "cannot extend " + path + "/data.mdb to "
                                     + std::to_string(mib(to))
                                     + " MiB: " + std::strerror(errno));
  return {};
}

/// madvise(MADV_DONTNEED) on every mapping of `path`/data.mdb.
void release_map(const std::string& path) {
  // LMDB does not say where it mapped the file (me_mapaddr is only for a
  // fixed map): the kernel does.
  std::ifstream maps{"/proc/self/maps"};
  auto file = path + "/data.mdb";
  std::string line;
  while (std::getline(maps, line)) {
    if (line.size() < file.size()
        || line.compare(line.size() - file.size(), file.size(), file) != 0)
      continue;
    uintptr_t lo = 0;
    uintptr_t hi = 0;
    if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) != 2)
      continue;
    // A shared file mapping: its pages, written or not, stay in the page
    // cache; dropping them from this process loses nothing.
    ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
  }
}

} // namespace

caf::error copy_env(const std::string& from, const std::string& to) {
  std::error_code fe;
  auto size = std::filesystem::file_size(from + "/data.mdb", fe);
  if (fe)
    return make_error(ec::io,
                      "no LMDB data file in " + from + ": " + fe.message());
  // Named tables need no handle to be copied: any count opens it.
  auto handle = open_handle(from, 1, size, MDB_RDONLY | MDB_NOTLS);
  if (!handle)
    return handle.error();
  if (int rc = mdb_env_copy2(handle->get(), to.c_str(), MDB_CP_COMPACT);
      rc != 0)
    return fail(rc, "cannot copy " + from + " to " + to);
  return {};
}

caf::expected<uint64_t> next_map_size(uint64_t current, uint64_t ceiling,
                                      uint64_t file_bytes, uint64_t free_bytes,
                                      uint64_t max_step) {
  if (current >= ceiling)
    return make_error(ec::storage, "map full: it is at its ceiling of "
                                     + std::to_string(mib(ceiling)) + " MiB");
  auto want = current > ceiling / 2 ? ceiling : current * 2;
  if (want - current > max_step)
    want = current + max_step;
  auto room = file_bytes + free_bytes;
  if (room < file_bytes) // overflow: no disk is that large
    room = want;
  want = std::min(want, room) & ~uint64_t{4095};
  if (want <= current)
    return make_error(ec::storage,
                      "disk full: " + std::to_string(mib(free_bytes))
                        + " MiB free; the map cannot grow beyond "
                        + std::to_string(mib(current)) + " MiB");
  return want;
}

// -- env ----------------------------------------------------------------------

/// The environment and its gate. Transactions count themselves in `open`;
/// growing sets `growing`, which holds new transactions back, and waits for
/// `open` to reach zero.
struct env::shared {
  handle_ptr handle;
  std::string path;
  uint64_t ceiling = 0;
  bool write_map = false;
  std::mutex mutex;
  std::condition_variable changed;
  unsigned open = 0;
  bool growing = false;
  std::chrono::steady_clock::time_point readers_checked;

  /// Takes a place for a new transaction; waits while the map grows.
  void enter() {
    std::unique_lock lock{mutex};
    changed.wait(lock, [&] { return !growing; });
    ++open;
  }

  /// Gives a place back.
  void leave() {
    std::lock_guard lock{mutex};
    --open;
    changed.notify_all();
  }
};

env::env() = default;
env::env(env&&) noexcept = default;
env& env::operator=(env&&) noexcept = default;
env::~env() = default;

caf::expected<env> env::open(const std::string& path, unsigned max_tables,
                             uint64_t map_size, uint64_t map_ceiling,
                             env_options options) {
  std::error_code err;
  bool made = !std::filesystem::exists(path, err);
  // The data file's length before LMDB opens it: a writable map's open
  // extends it to the map, which a failed allocation takes back.
  auto before = std::filesystem::file_size(path + "/data.mdb", err);
  if (err)
    before = 0;
  std::filesystem::create_directories(path, err);
  if (err)
    return make_error(ec::io, "cannot create " + path + ": " + err.message());
  // A directory this call made and could not make a store in goes again:
  // left behind, it would read as a store that was lost.
  auto undo = [&](caf::error e) {
    if (made)
      std::filesystem::remove_all(path, err);
    return e;
  };
  // MDB_NOTLS: read transactions are not bound to a thread, as actors move
  // between CAF's worker threads.
  auto handle = open_handle(path, max_tables, map_size, MDB_NOTLS);
  if (handle && options.write_map) {
    handle->reset();
    handle = open_handle(path, max_tables, map_size, MDB_NOTLS | MDB_WRITEMAP);
  }
  if (!handle)
    return undo(handle.error());
  MDB_envinfo info;
  if (int rc = mdb_env_info(handle->get(), &info); rc != 0)
    return undo(fail(rc, "mdb_env_info " + path));
  MDB_stat stat;
  if (int rc = mdb_env_stat(handle->get(), &stat); rc != 0)
    return undo(fail(rc, "mdb_env_stat " + path));
  auto data = (uint64_t{info.me_last_pgno} + 1) * stat.ms_psize;
  if (auto e = options.write_map
                 ? allocate(handle->get(), path, 0, info.me_mapsize,
                            std::max<uint64_t>(before, data))
                 : extend(handle->get(), path, info.me_mapsize)) {
    handle->reset();
    return undo(e);
  }
  int dead = 0;
  mdb_reader_check(handle->get(), &dead);
  env result;
  result.s_ = std::make_unique<shared>();
  result.s_->handle = std::move(*handle);
  result.s_->path = path;
  result.s_->ceiling = map_ceiling;
  result.s_->write_map = options.write_map;
  return result;
}

template <class Txn>
caf::expected<Txn> env::begin(unsigned flags) const {
  s_->enter();
  Txn out;
  if (int rc = mdb_txn_begin(s_->handle.get(), nullptr, flags, &out.ptr_);
      rc != 0) {
    s_->leave();
    return fail(rc, "mdb_txn_begin");
  }
  out.gate_ = s_.get();
  return out;
}

caf::expected<read_txn> env::begin_read() const {
  return begin<read_txn>(MDB_RDONLY);
}

caf::expected<write_txn> env::begin_write() const {
  bool check = false;
  {
    std::lock_guard lock{s_->mutex};
    auto now = std::chrono::steady_clock::now();
    if (now - s_->readers_checked >= stale_reader_check) {
      s_->readers_checked = now;
      check = true;
    }
  }
  if (int dead = 0;
      check && mdb_reader_check(s_->handle.get(), &dead) == 0 && dead > 0)
    log_info("storage",
             "{}: cleared {} reader slot(s) of processes that "
             "died holding a read transaction",
             s_->path, dead);
  return begin<write_txn>(0);
}

size_t env::readers() const {
  size_t lines = 0;
  mdb_reader_list(
    s_->handle.get(),
    [](const char*, void* n) {
      ++*static_cast<size_t*>(n);
      return 0;
    },
    &lines);
  // A header line comes first, or "(no active readers)" alone.
  return lines > 0 ? lines - 1 : 0;
}

caf::error env::write(const std::function<caf::error(write_txn&)>& f) const {
  while (true) {
    auto t = begin_write();
    if (!t)
      return t.error();
    auto err = f(*t);
    if (!err)
      err = t->commit();
    if (!err)
      return {};
    if (!t->map_full())
      return err;
    t->abort();
    if (auto grown = grow())
      return grown;
  }
}

caf::error env::grow() const {
  auto& s = *s_;
  std::unique_lock lock{s.mutex};
  if (s.growing) {
    // Another thread is at it: its result is ours, and a write that still
    // finds the map full calls again.
    s.changed.wait(lock, [&] { return !s.growing; });
    return {};
  }
  s.growing = true;
  caf::error err;
  if (!s.changed.wait_for(lock, grow_wait, [&] { return s.open == 0; })) {
    err = make_error(ec::storage,
                     "map of " + s.path + " full: cannot grow it while "
                       + std::to_string(s.open) + " transactions stay open");
  } else {
    MDB_envinfo info;
    mdb_env_info(s.handle.get(), &info);
    uint64_t current = info.me_mapsize;
    // What the file holds on disk: a plain map's file is as long as the
    // map but sparse.
    auto file = data_file(s.handle.get(), s.path);
    struct statvfs disk;
    if (!file)
      err = file.error();
    else if (::statvfs(s.path.c_str(), &disk) != 0)
      err = make_error(ec::storage, "statvfs " + s.path + " failed");
    if (!err) {
      auto held = static_cast<uint64_t>(file->second.st_blocks) * 512;
      auto next = next_map_size(current, s.ceiling, held,
                                uint64_t{disk.f_bavail} * disk.f_frsize,
                                s.write_map ? write_map_step : UINT64_MAX);
      if (!next)
        err = make_error(ec::storage,
                         message_of(next.error()) + " (map of " + s.path + ")");
      // The file reaches the new map first (a writable map's allocated,
      // a plain one's sparse): if that fails, the map stays as it was.
      else
        err = s.write_map ? allocate(s.handle.get(), s.path, current, *next)
                          : extend(s.handle.get(), s.path, *next);
      if (!err) {
        if (int rc = mdb_env_set_mapsize(s.handle.get(), *next); rc != 0)
          err = fail(rc, "mdb_env_set_mapsize");
        else
          log_info("storage", "map of {} grown from {} to {} MiB", s.path,
                   mib(current), mib(*next));
      }
    }
  }
  s.growing = false;
  s.changed.notify_all();
  return err;
}

void env::release_resident() const {
  release_map(s_->path);
}

bool env::write_map() const {
  return s_->write_map;
}

uint64_t env::map_size() const {
  MDB_envinfo info;
  mdb_env_info(s_->handle.get(), &info);
  return info.me_mapsize;
}

const std::string& env::path() const {
  return s_->path;
}

// -- transactions -------------------------------------------------------------

txn::txn(txn&& other) noexcept
    : ptr_(std::exchange(other.ptr_, nullptr)),
      gate_(std::exchange(other.gate_, nullptr)) {}

txn& txn::operator=(txn&& other) noexcept {
  if (this != &other) {
    end();
    ptr_ = std::exchange(other.ptr_, nullptr);
    gate_ = std::exchange(other.gate_, nullptr);
  }
  return *this;
}

txn::~txn() {
  end();
}

void txn::end() {
  if (ptr_)
    mdb_txn_abort(std::exchange(ptr_, nullptr));
  if (auto* g = std::exchange(gate_, nullptr))
    g->leave();
}

write_txn::write_txn(write_txn&& other) noexcept
    : txn(std::move(other)), parent_(std::exchange(other.parent_, nullptr)),
      map_full_(std::exchange(other.map_full_, false)) {}

write_txn& write_txn::operator=(write_txn&& other) noexcept {
  if (this != &other) {
    txn::operator=(std::move(other));
    parent_ = std::exchange(other.parent_, nullptr);
    map_full_ = std::exchange(other.map_full_, false);
  }
  return *this;
}

caf::expected<write_txn> write_txn::nest() {
  if (!ptr_)
    return make_error(ec::storage, "mdb_txn_begin (nested): the parent "
                                   "transaction has ended");
  unsigned flags = 0;
  if (mdb_env_get_flags(mdb_txn_env(ptr_), &flags) == 0
      && (flags & MDB_WRITEMAP) != 0)
    return make_error(ec::storage, "mdb_txn_begin (nested): LMDB has no "
                                   "nested transactions on a writable map");
  MDB_txn* t = nullptr;
  if (int rc = mdb_txn_begin(mdb_txn_env(ptr_), ptr_, 0, &t); rc != 0)
    return fail(rc, "mdb_txn_begin (nested)");
  write_txn child;
  child.ptr_ = t;
  child.parent_ = this;
  return child;
}

caf::error write_txn::commit() {
  if (!ptr_)
    return make_error(ec::storage, "mdb_txn_commit: the transaction has ended");
  // LMDB frees the transaction whether the commit succeeds or not.
  int rc = mdb_txn_commit(std::exchange(ptr_, nullptr));
  end();
  if (rc != 0) {
    note(rc);
    return fail(rc, "mdb_txn_commit");
  }
  return {};
}

void write_txn::note(int rc) {
  if (rc == MDB_MAP_FULL)
    for (auto* t = this; t != nullptr; t = t->parent_)
      t->map_full_ = true;
}

// -- raw_table ----------------------------------------------------------------

caf::expected<raw_table> raw_table::open(write_txn& t, const char* name,
                                         table_kind kind) {
  if (!t)
    return ended(name);
  unsigned flags = MDB_CREATE;
  if (kind == table_kind::integer_key)
    flags |= MDB_INTEGERKEY;
  if (kind == table_kind::dup_fixed)
    flags |= MDB_DUPSORT | MDB_DUPFIXED;
  raw_table result;
  result.name_ = name;
  if (int rc = mdb_dbi_open(t.get(), name, flags, &result.dbi_); rc != 0) {
    t.note(rc);
    return fail(name, rc, "mdb_dbi_open");
  }
  return result;
}

caf::expected<std::optional<bytes>> raw_table::get(const txn& t,
                                                   bytes key) const {
  if (!t)
    return ended(name_);
  auto k = val(key);
  MDB_val v;
  int rc = mdb_get(t.get(), dbi_, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::optional<bytes>{};
  if (rc != 0)
    return fail(name_, rc, "mdb_get");
  return std::optional<bytes>{view(v)};
}

caf::error raw_table::put(write_txn& t, bytes key, bytes value) const {
  if (!t)
    return ended(name_);
  auto k = val(key);
  auto v = val(value);
  if (int rc = mdb_put(t.get(), dbi_, &k, &v, 0); rc != 0) {
    t.note(rc);
    return fail(name_, rc, "mdb_put");
  }
  return {};
}

caf::error raw_table::append(write_txn& t, bytes key, bytes value) const {
  if (!t)
    return ended(name_);
  auto k = val(key);
  auto v = val(value);
  if (int rc = mdb_put(t.get(), dbi_, &k, &v, MDB_APPEND); rc != 0) {
    t.note(rc);
    return fail(name_, rc, "mdb_put (append)");
  }
  return {};
}

caf::expected<bool> raw_table::del(write_txn& t, bytes key) const {
  if (!t)
    return ended(name_);
  auto k = val(key);
  int rc = mdb_del(t.get(), dbi_, &k, nullptr);
  if (rc == MDB_NOTFOUND)
    return false;
  if (rc != 0) {
    t.note(rc);
    return fail(name_, rc, "mdb_del");
  }
  return true;
}

caf::expected<bool> raw_table::del(write_txn& t, bytes key, bytes value) const {
  if (!t)
    return ended(name_);
  auto k = val(key);
  auto v = val(value);
  int rc = mdb_del(t.get(), dbi_, &k, &v);
  if (rc == MDB_NOTFOUND)
    return false;
  if (rc != 0) {
    t.note(rc);
    return fail(name_, rc, "mdb_del");
  }
  return true;
}

namespace {

/// A cursor that closes itself.
struct cursor {
  MDB_cursor* ptr = nullptr;
  cursor() = default;
  cursor(const cursor&) = delete;
  cursor& operator=(const cursor&) = delete;
  ~cursor() {
    if (ptr)
      mdb_cursor_close(ptr);
  }
};

} // namespace

caf::error raw_table::scan(const txn& t,
                           const std::function<bool(bytes, bytes)>& f) const {
  return scan(t, bytes{}, f);
}

caf::error raw_table::scan(const txn& t, bytes from,
                           const std::function<bool(bytes, bytes)>& f) const {
  if (!t)
    return ended(name_);
  cursor c;
  if (int rc = mdb_cursor_open(t.get(), dbi_, &c.ptr); rc != 0)
    return fail(name_, rc, "mdb_cursor_open");
  MDB_val k = val(from), v;
  int rc = mdb_cursor_get(c.ptr, &k, &v,
                          from.empty() ? MDB_FIRST : MDB_SET_RANGE);
  while (rc == 0) {
    if (!f(view(k), view(v)))
      return {};
    rc = mdb_cursor_get(c.ptr, &k, &v, MDB_NEXT);
  }
  if (rc != MDB_NOTFOUND)
    return fail(name_, rc, "mdb_cursor_get");
  return {};
}

caf::error raw_table::for_each_dup(const txn& t, bytes key,
                                   const std::function<bool(bytes)>& f) const {
  if (!t)
    return ended(name_);
  cursor c;
  if (int rc = mdb_cursor_open(t.get(), dbi_, &c.ptr); rc != 0)
    return fail(name_, rc, "mdb_cursor_open");
  auto k = val(key);
  MDB_val v;
  int rc = mdb_cursor_get(c.ptr, &k, &v, MDB_SET_KEY);
  while (rc == 0) {
    if (!f(view(v)))
      return {};
    rc = mdb_cursor_get(c.ptr, &k, &v, MDB_NEXT_DUP);
  }
  if (rc != MDB_NOTFOUND)
    return fail(name_, rc, "mdb_cursor_get");
  return {};
}

caf::expected<uint64_t> raw_table::count(const txn& t) const {
  if (!t)
    return ended(name_);
  MDB_stat st;
  if (int rc = mdb_stat(t.get(), dbi_, &st); rc != 0)
    return fail(name_, rc, "mdb_stat");
  return uint64_t{st.ms_entries};
}

caf::error raw_table::clear(write_txn& t) const {
  if (!t)
    return ended(name_);
  int rc = mdb_drop(t.get(), dbi_, 0);
  t.note(rc);
  if (rc != 0)
    return fail(name_, rc, "mdb_drop");
  return {};
}

caf::error raw_table::drop(write_txn& t) const {
  if (!t)
    return ended(name_);
  int rc = mdb_drop(t.get(), dbi_, 1);
  t.note(rc);
  if (rc != 0)
    return fail(name_, rc, "mdb_drop");
  return {};
}

} // namespace hallmark::lmdb
