// Shared helpers of the unit tests: a self-removing temporary directory,
// fixed keys, devnet block builders, and a dump of every chain table for
// before/after comparisons. Header-only.
#pragma once

#include <doctest/doctest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/mount.h>

#include "core/chain.hpp"
#include "core/crypto.hpp"
#include "core/error.hpp"
#include "core/memory_state.hpp"
#include "core/records.hpp"
#include "messages/codec.hpp"
#include "storage/chain_store.hpp"
#include "storage/lmdb.hpp"

namespace hallmark {

// Lets doctest print error codes in CHECK_EQ failures.
inline std::ostream& operator<<(std::ostream& os, ec x) {
  return os << to_string(x);
}

} // namespace hallmark

namespace hallmark::test {

/// A fresh directory under the system temp directory; removed, with all it
/// holds, when the object goes.
class temp_dir {
public:
  temp_dir() {
    auto pattern = (std::filesystem::temp_directory_path()
                    / "hallmark-unit-XXXXXX")
                     .string();
    if (::mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code err;
    std::filesystem::remove_all(path_, err);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  /// The path of `name` inside the directory.
  std::string sub(std::string_view name) const {
    return (path_ / name).string();
  }

private:
  std::filesystem::path path_;
};

/// A small disk: a tmpfs of `bytes` mounted on a fresh directory, unmounted
/// when the object goes. mount(2) needs CAP_SYS_ADMIN; where it is refused,
/// `why_not()` says so (the caller skips, saying why).
class small_disk {
public:
  explicit small_disk(uint64_t bytes) {
    auto options = "size=" + std::to_string(bytes) + ",mode=0700";
    if (::mount("tmpfs", dir_.str().c_str(), "tmpfs", 0, options.c_str()) != 0)
      why_not_ = std::string{"cannot mount a tmpfs: "} + std::strerror(errno);
  }
  ~small_disk() {
    if (why_not_.empty())
      ::umount2(dir_.str().c_str(), MNT_DETACH);
  }
  small_disk(const small_disk&) = delete;
  small_disk& operator=(const small_disk&) = delete;

  /// Empty when the disk is mounted.
  const std::string& why_not() const { return why_not_; }
  /// The path of `name` on the disk.
  std::string sub(std::string_view name) const { return dir_.sub(name); }

  /// Writes a file until the disk is full, then gives back `leave` bytes
  /// of it; returns its path.
  std::string fill(uint64_t leave = 0) const {
    auto path = sub("filler");
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr)
      return path;
    std::vector<char> block(4096, 'x');
    while (std::fwrite(block.data(), 1, block.size(), f) == block.size()
           && std::fflush(f) == 0) {
    }
    std::fclose(f);
    std::error_code fe;
    auto size = std::filesystem::file_size(path, fe);
    if (!fe)
      std::filesystem::resize_file(path, size > leave ? size - leave : 0, fe);
    return path;
  }

private:
  temp_dir dir_;
  std::string why_not_;
};

inline byte_view bytes_of(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

inline std::vector<uint8_t> vec_of(std::string_view text) {
  return {text.begin(), text.end()};
}

/// The 32-byte seed first, first + 1, …, first + 31.
inline std::array<uint8_t, 32> counting_seed(uint8_t first) {
  std::array<uint8_t, 32> seed;
  for (size_t i = 0; i < seed.size(); ++i)
    seed[i] = static_cast<uint8_t>(first + i);
  return seed;
}

/// A key pair fixed by `first` (see counting_seed).
inline key_pair seeded_key(uint8_t first) {
  return key_pair::from_seed(counting_seed(first));
}

/// A hash fixed by a label, for ids that must merely differ.
inline hash256 label_hash(std::string_view label) {
  return blake2b(bytes_of(label));
}

template <size_t N>
std::string hex(const std::array<uint8_t, N>& x) {
  return to_hex(x);
}

/// The error code of an error or of a failed expected; ec::none on success.
inline ec code(const caf::error& err) {
  return code_of(err);
}

template <class T>
ec code(const caf::expected<T>& x) {
  return x ? ec::none : code_of(x.error());
}

inline const chain_params& devnet() {
  return *find_chain("devnet");
}

/// The wall clock the storage tests pretend it is: well after devnet genesis.
inline uint64_t test_now() {
  return devnet().genesis_timestamp + 1'000'000;
}

/// The headers of an in-memory chain, genesis first, and its state.
struct header_chain {
  explicit header_chain(const chain_params& p) : params(&p), state(p) {
    headers.push_back(genesis_header(p));
  }
  header_lookup lookup() const {
    return [this](uint64_t height) {
      REQUIRE(height < headers.size());
      return headers[height];
    };
  }
  const header& tip() const { return headers.back(); }
  const chain_params* params;
  std::vector<header> headers;
  memory_state state;
};

/// A mined block on `parent` holding `records`, with the difficulty the
/// chain demands, a timestamp one second after the parent's (or
/// `timestamp`) and the state root `state_root` (the state's after the
/// records; zero for an empty state).
inline block make_block(const chain_params& params, const header& parent,
                        const header_lookup& ancestors,
                        std::vector<record> records, uint64_t timestamp = 0,
                        const hash256& state_root = {}) {
  block b;
  b.hdr.state_root = state_root;
  b.hdr.height = parent.height + 1;
  b.hdr.previous = block_hash(parent);
  b.hdr.timestamp = timestamp != 0 ? timestamp : parent.timestamp + 1;
  b.hdr.difficulty = next_difficulty(params, b.hdr.height, ancestors);
  b.hdr.producer = seeded_key(0x70).public_key_bytes();
  b.records = std::move(records);
  b.hdr.merkle_root = merkle_root(leaf_ids(b));
  REQUIRE(mine(b.hdr, 10'000'000));
  return b;
}

/// A block on the tip of writer `w` holding `records`, with the state root
/// they give there.
inline block make_block_on(chain_writer& w, const chain_params& params,
                           std::vector<record> records,
                           uint64_t timestamp = 0) {
  auto tip = w.tip();
  block draft;
  draft.hdr.height = tip.height + 1;
  draft.hdr.previous = tip.hash;
  draft.records = records;
  auto root = w.state_root_after(draft);
  REQUIRE_MESSAGE(static_cast<bool>(root),
                  (root ? "" : message_of(root.error())));
  return make_block(params, tip.hdr, w.ancestors(), std::move(records),
                    timestamp, *root);
}

/// The next block of an in-memory chain, with the state root its records
/// give (the state's root as it was if one breaks a rule); appends its
/// header.
inline block extend(header_chain& chain, std::vector<record> records = {}) {
  block draft;
  draft.hdr.height = chain.tip().height + 1;
  draft.records = records;
  auto root = chain.state.apply(draft);
  auto b = make_block(*chain.params, chain.tip(), chain.lookup(),
                      std::move(records), 0, root ? *root : chain.state.root());
  chain.headers.push_back(b.hdr);
  chain.state.seal(b.hdr);
  return b;
}

/// A batch of `issues` anchored at `anchor` with enough free-issue work for
/// base difficulty `base`.
inline issue_batch make_batch(std::vector<issue> issues, const hash256& anchor,
                              uint64_t base) {
  issue_batch b;
  b.issues = std::move(issues);
  b.anchor = anchor;
  REQUIRE(solve_batch(b, batch_difficulty(base, b.issues.size()), 10'000'000));
  return b;
}

/// The same batch with a work nonce that does not meet `base`'s difficulty.
inline issue_batch with_too_little_work(issue_batch b, uint64_t base) {
  auto need = batch_difficulty(base, b.issues.size());
  REQUIRE(need > 1);
  auto payment = payment_id(b);
  for (b.work_nonce = 0;; ++b.work_nonce)
    if (!meets_difficulty(work_hash(payment, b.anchor, b.work_nonce), need))
      return b;
}

/// Every (key, value) of one table, in order.
using table_dump = std::vector<
  std::pair<std::vector<uint8_t>, std::vector<uint8_t>>>;

/// Every table of a chain environment, by name.
using store_dump = std::map<std::string, table_dump>;

inline store_dump dump(const chain_store& store) {
  auto txn = store.env().begin_read();
  REQUIRE(txn);
  auto& t = store.tables();
  store_dump out;
  for (auto table : {&t.meta.raw(), &t.headers.raw(), &t.bodies.raw(),
                     &t.hashes.raw(), &t.records.raw(), &t.owners.raw(),
                     &t.state, &t.trie, &t.state_log.raw()}) {
    auto& rows = out[table->name()];
    auto err = table->scan(*txn, [&](lmdb::bytes k, lmdb::bytes v) {
      rows.emplace_back(std::vector<uint8_t>{k.begin(), k.end()},
                        std::vector<uint8_t>{v.begin(), v.end()});
      return true;
    });
    REQUIRE_FALSE(err);
  }
  return out;
}

/// Devnet rules but for an anchor window of two blocks.
inline chain_params narrow_anchor_params() {
  chain_params p = devnet();
  p.anchor_window = 2;
  return p;
}

/// Three people and one work with two of its items, as the state tests
/// use them: alice registers "Water Lilies" and issues `first` and `second`.
struct three_people {
  key_pair alice = seeded_key(0x11);
  key_pair bob = seeded_key(0x31);
  key_pair carol = seeded_key(0x51);
  asset art = make_asset("Water Lilies", vec_of("fp:water-lilies"),
                         {{"artist", "Claude"}}, alice);
  hash256 art_id = asset_id(art);
  issue first = make_issue(art_id, 1, alice);
  issue second = make_issue(art_id, 2, alice);
  hash256 first_id = record_id(first);
  hash256 second_id = record_id(second);

  /// `from` gives the item whose latest record is `link` to `to`.
  transfer give(const hash256& link, const key_pair& from,
                const key_pair& to) const {
    return make_transfer(link, to.public_key_bytes(), from);
  }
};

/// A devnet (or devnet-like) chain store in its own temporary directory.
/// `params` must keep devnet's name and genesis fields; rules such as the
/// anchor window may differ.
class test_store {
public:
  explicit test_store(const chain_params& p = devnet()) : params_(p) {
    reopen();
  }
  test_store(const test_store&) = delete;
  test_store& operator=(const test_store&) = delete;

  chain_store& store() { return *store_; }
  /// Where the chain environment lives.
  std::string chain_dir() const { return dir_.sub("chain"); }

  /// Closes the environment (LMDB allows one per process and path).
  void close() { store_.reset(); }

  /// Closes and opens the environment again with the same parameters.
  void reopen() {
    store_.reset();
    auto s = chain_store::open(chain_dir(), params_, uint64_t{64} << 20);
    REQUIRE_MESSAGE(static_cast<bool>(s), (s ? "" : message_of(s.error())));
    store_ = std::move(*s);
  }
  const chain_params& params() const { return params_; }
  const temp_dir& dir() const { return dir_; }

  tip_info tip() const {
    chain_reader r{*store_};
    return r.tip();
  }

  /// A valid next block on the committed tip holding `records`, with the
  /// state root they give (the tip's if one breaks a rule).
  block next(std::vector<record> records = {}) const {
    return next_at(0, std::move(records));
  }

  /// The same with timestamp `timestamp` (0: one second after the tip's).
  block next_at(uint64_t timestamp, std::vector<record> records = {}) const {
    chain_reader r{*store_};
    auto tip = r.tip();
    return make_block(params_, tip.hdr, r.ancestors(), records, timestamp,
                      root_after(tip, records));
  }

  /// The state root a block on the tip holding `records` must carry, or
  /// the tip's own if a record breaks a rule.
  hash256 root_after(const tip_info& tip,
                     const std::vector<record>& records) const {
    block draft;
    draft.hdr.height = tip.height + 1;
    draft.hdr.previous = tip.hash;
    draft.records = records;
    chain_writer w{*store_};
    auto root = w.state_root_after(draft);
    return root ? *root : tip.hdr.state_root;
  }

  /// Applies `b` in its own writer and commits if it was accepted.
  caf::error apply(const block& b) {
    chain_writer w{*store_};
    auto err = w.apply(b, encode(b), test_now());
    if (!err)
      err = w.commit();
    return err;
  }

  /// Builds, applies and commits a block that must be accepted.
  block push(std::vector<record> records = {}) {
    auto b = next(std::move(records));
    auto err = apply(b);
    REQUIRE_MESSAGE(!err, message_of(err));
    return b;
  }

  /// Unwinds the tip in its own writer and commits.
  block unwind() {
    chain_writer w{*store_};
    auto b = w.unwind_tip();
    REQUIRE_MESSAGE(static_cast<bool>(b), (b ? "" : message_of(b.error())));
    auto err = w.commit();
    REQUIRE_MESSAGE(!err, message_of(err));
    return std::move(*b);
  }

  store_dump snapshot() const { return dump(*store_); }

private:
  temp_dir dir_;
  chain_params params_;
  std::unique_ptr<chain_store> store_;
};

} // namespace hallmark::test
