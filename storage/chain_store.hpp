// The chain environment: blocks, their indexes and the ownership state.
//
//   table    key                     value
//   -------  ----------------------  -----------------------------------------
//   meta     "schema"                u32 schema version
//            "chain"                 chain name
//            "genesis"               genesis block hash (32)
//            "tip"                   height u64 | hash (32)
//   headers  height (u64, integer)   header (162, fixed layout) | hash (32)
//                                    | cumulative work (u128)
//   bodies   height (u64, integer)   the encoded Block as received
//   hashes   block hash (32)         height u64
//   records  record id (32)          location: height u64 | index u32 | sub u16
//                                    | kind u8 | item (32) | owner (32)
//                                    | link (32)
//   owners   owner key (32)          item ids (32 each, dupsort, dupfixed)
//   state    state key (33)          state value (72 or 105 bytes; the
//                                    trie's key/values, core/state_trie.hpp):
//                                    also the index of items and assets
//                                    (find_item, find_asset)
//   trie     packed path | length    a branch of the state trie (node_bytes)
//   state_log height (u64, integer)  what the block changed in `state`: per
//                                    key, its value before (state_undo);
//                                    the last state_history blocks only
//   sync_headers height (u64, int.)  a state sync's header chain, as
//                                    `headers`, until the sync finishes
//   sync_ranges start key (33)       a key range the sync holds: end key
//                                    (33) | the root it was proved at (32)
//   meta     "state_base"            height u64 | hash (32): the block a
//                                    state sync began the chain at
//            "syncing"               u64 1 while a state sync is under way
//            "sync_target"           height u64 | hash (32) | root (32)
//            "sync_headers"          height u64 | hash (32): its last header
//
// Schema 3 dropped the tables `items` (item id → latest record, owner,
// asset) and `assets` (asset id → height, record id): `state` holds the
// same under the item's and the asset's key.
//
// Integers are little-endian. A record's location also carries what undoing
// it needs (its item, the owner after it, the record it linked to), so a
// block's body and these locations undo the tables; `state_log` undoes the
// state and its trie, and serves change proofs.
// docs/storage.md has the same chart and the migration policy. Each value
// type below has its codec (storage/table.hpp), which is where the chart's
// layouts live in code.
//
// Errors. Lookups (chain_view) answer "absent" with an empty optional. A
// lookup that fails (LMDB's error, or a stored value of the wrong size) also
// answers empty, and makes its view *failed*: failure() holds the first such
// error (ec::storage, naming the table, with LMDB's message) and is logged
// once; every later lookup of that view answers empty or zero. So: after a
// group of lookups, check failure() before trusting an absence. The state
// rules do (apply_record returns a reader's failure before its verdict), and
// a writer whose view failed refuses every later apply, unwind and commit.
// Everything else returns caf::error / caf::expected.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "core/chain.hpp"
#include "core/state_proof.hpp"
#include "core/state_rules.hpp"
#include "messages/codec.hpp"
#include "storage/lmdb.hpp"
#include "storage/table.hpp"

namespace hallmark {

constexpr uint32_t chain_schema_version = 3;

/// Blocks whose state changes are kept (`state_log`) unless told otherwise:
/// more than the default reorg window (100), so any reorg the node accepts
/// can be unwound, and change proofs reach that far back.
constexpr uint64_t default_state_history = 128;

/// A `state_log` value: the keys a block changed, each with its value
/// before the block (none: it was absent), in key order.
struct state_undo {
  std::vector<trie::change> before;
};

/// The tip as chain_view::tip() reads it: meta "tip" and its headers entry.
struct tip_info {
  uint64_t height = 0;
  hash256 hash{};
  work_t work = 0;
  header hdr;
};

/// meta "tip": where the best chain ends.
struct tip_entry {
  uint64_t height = 0;
  hash256 hash{};
};

/// A `headers` value: the header, its hash and the chain's cumulative work
/// up to it.
struct header_entry {
  header hdr;
  hash256 hash{};
  work_t work = 0;
};

/// A state sync's target: the header of the best header chain whose state
/// root the sync fetches (docs/state.md, "the client").
struct sync_target {
  uint64_t height = 0;
  hash256 hash{};
  hash256 root{};
};

/// The meta keys of the chain environment (and lmdb::schema_key).
namespace chain_meta {
constexpr lmdb::meta_key<std::string> chain{"chain"};
constexpr lmdb::meta_key<hash256> genesis{"genesis"};
constexpr lmdb::meta_key<tip_entry> tip{"tip"};
/// Where a finished state sync began the chain: no bodies, records or
/// state history below it.
constexpr lmdb::meta_key<tip_entry> state_base{"state_base"};
/// 1 while a state sync is under way: the tip is genesis and `state` holds
/// the ranges fetched so far.
constexpr lmdb::meta_key<uint64_t> syncing{"syncing"};
constexpr lmdb::meta_key<sync_target> target{"sync_target"};
/// The last header of the state sync's header chain.
constexpr lmdb::meta_key<tip_entry> sync_headers{"sync_headers"};
} // namespace chain_meta

} // namespace hallmark

namespace hallmark::lmdb {

/// A header in the 162 bytes of formats.md: written by header_bytes, read
/// field by field.
template <>
struct codec<header> {
  using fields = layout<&header::version, &header::height, &header::previous,
                        &header::merkle_root, &header::state_root,
                        &header::timestamp, &header::difficulty,
                        &header::producer, &header::nonce>;
  static_assert(fields::size == header_size);
  static constexpr size_t size = header_size;
  static void write(const header& h, uint8_t* out) {
    auto b = header_bytes(h);
    std::memcpy(out, b.data(), b.size());
  }
  static header read(const uint8_t* in) { return fields::read(in); }
};

template <>
struct codec<header_entry>
    : layout<&header_entry::hdr, &header_entry::hash, &header_entry::work> {};
static_assert(codec<header_entry>::size == 210);

template <>
struct codec<tip_entry> : layout<&tip_entry::height, &tip_entry::hash> {};
static_assert(codec<tip_entry>::size == 40);

template <>
struct codec<sync_target>
    : layout<&sync_target::height, &sync_target::hash, &sync_target::root> {};
static_assert(codec<sync_target>::size == 72);

template <>
struct codec<record_location>
    : layout<&record_location::height, &record_location::index,
             &record_location::sub, &record_location::kind,
             &record_location::item, &record_location::owner,
             &record_location::link> {};
static_assert(codec<record_location>::size == 111);

/// count (u32), then per key: the key (33), a value length (u16; 0xffff
/// for none) and the value.
template <>
struct codec<state_undo> {
  static constexpr size_t size = variable_size;
  static std::vector<uint8_t> encode(const state_undo& x);
  static caf::expected<state_undo> decode(bytes in);
};

} // namespace hallmark::lmdb

namespace hallmark {

/// The chain environment's tables, typed as the chart says.
struct chain_tables {
  using kind = lmdb::table_kind;
  lmdb::meta_table meta;
  lmdb::table<uint64_t, header_entry, kind::integer_key> headers;
  lmdb::table<uint64_t, encoded, kind::integer_key> bodies;
  lmdb::table<hash256, uint64_t> hashes;
  lmdb::table<hash256, record_location> records;
  lmdb::table<public_key, hash256, kind::dup_fixed> owners;
  lmdb::raw_table state;
  lmdb::raw_table trie;
  lmdb::table<uint64_t, state_undo, kind::integer_key> state_log;
  lmdb::table<uint64_t, header_entry, kind::integer_key> sync_headers;
  lmdb::raw_table sync_ranges;
};

/// The error of a table deletion, if it failed (whether the key was there
/// does not matter).
inline caf::error error_of(const caf::expected<bool>& deleted) {
  return deleted ? caf::error{} : deleted.error();
}

/// Writes `delta` to `state` and the trie's branches in `txn`; fills `undo`
/// (if given) with each key's value before.
/// @returns the new root, or ec::storage.
caf::expected<hash256> write_state(const chain_tables& t, lmdb::write_txn& txn,
                                   const trie::state_delta& delta,
                                   state_undo* undo);

/// Lookups inside one transaction, read-only or not. The state the rules
/// read (core/state_rules.hpp) is the chain as this transaction sees it.
/// Failures: see the top of this file.
class chain_view : public state_reader {
public:
  chain_view(const chain_tables& t, const lmdb::txn& txn)
      : t_(&t), txn_(&txn) {}

  /// The tip: height, hash, cumulative work and header. Zero on failure.
  tip_info tip() const;
  /// The header of the best-chain block at `height`.
  std::optional<header> header_at(uint64_t height) const;
  /// The hash of the best-chain block at `height`.
  std::optional<hash256> hash_at(uint64_t height) const;
  /// Cumulative work from genesis to the block at `height`.
  std::optional<work_t> work_at(uint64_t height) const;
  /// The tip's height.
  uint64_t height() const override;
  /// Where a state sync began this chain (none: it holds every block since
  /// genesis). Below it there are headers and hashes only.
  std::optional<tip_entry> state_base() const;
  /// The height of a best-chain block, by hash.
  std::optional<uint64_t> height_of(const hash256& block) const override;
  /// The block at `height` as it was received.
  std::optional<encoded> body_at(uint64_t height) const;
  /// Where a record (asset, issue or transfer) is, by record id.
  std::optional<record_location> find_record(const hash256& id) const override;
  /// An item's state, by item id.
  std::optional<item_state> find_item(const hash256& id) const override;
  /// The asset's block height and record id.
  std::optional<asset_entry> find_asset(const hash256& asset) const override;
  /// The items `owner` owns, in id order.
  std::vector<hash256> items_of(const public_key& owner) const;
  /// Header lookup along this chain, for the chain rules; a missing header
  /// fails the view and looks up as a default header.
  header_lookup ancestors() const;
  /// Newest first: the item's records back to its issue.
  std::vector<std::pair<hash256, record_location>>
  provenance(const hash256& item) const;

  // -- the state trie (core/state_trie.hpp) ---------------------------------

  /// The root of the state as this transaction sees it.
  hash256 state_root() const;
  /// The trie's branches, the state's values and an ordered scan of them,
  /// read in this transaction (valid while it is). Errors are returned,
  /// not kept as the view's failure.
  trie::node_source trie_nodes() const;
  trie::value_source state_values() const;
  trie::range_scan state_scan() const;
  /// What block `height` changed in the state, if still kept.
  std::optional<state_undo> state_undo_at(uint64_t height) const;

  /// The first failure of a lookup of this view, or none.
  caf::error failure() const override { return failure_; }

protected:
  /// Makes the view failed with `err` (the first failure stays).
  void fail(caf::error err) const;

  /// The result of a table lookup; a failure fails the view. Once failed,
  /// answers none without looking.
  template <class F>
  auto look(F&& lookup) const -> typename decltype(lookup())::value_type {
    if (failure_)
      return std::nullopt;
    auto x = lookup();
    if (!x) {
      fail(x.error());
      return std::nullopt;
    }
    return std::move(*x);
  }

  const chain_tables* t_;
  const lmdb::txn* txn_;
  mutable caf::error failure_;
};

/// The chain environment: its tables and chain parameters. Readers and the
/// writer work on it through chain_reader and chain_writer.
class chain_store {
public:
  /// Opens or creates the environment in `dir` for `params`
  /// (storage/schema.hpp). Fails with ec::wrong_chain if it holds another
  /// chain, ec::storage if its schema is newer than chain_schema_version.
  /// @param map_size_bytes the map at first, allocated on disk (a writable
  ///        map, lmdb.hpp); it grows when full, doubling but by 1 GiB at
  ///        most, up to `map_ceiling_bytes` and the disk's free space.
  /// @param state_history blocks whose state changes are kept (≥ 1):
  ///        unwinding, and change proofs, reach that far back.
  static caf::expected<std::unique_ptr<chain_store>>
  open(const std::string& dir, const chain_params& params,
       uint64_t map_size_bytes,
       uint64_t map_ceiling_bytes = lmdb::default_map_ceiling,
       uint64_t state_history = default_state_history);

  /// Blocks whose state changes are kept.
  uint64_t state_history() const { return state_history_; }

  /// The chain this environment holds.
  const chain_params& params() const { return *params_; }
  /// The LMDB environment (DATADIR/chain).
  const lmdb::env& env() const { return env_; }
  /// Its tables, opened.
  const chain_tables& tables() const { return tables_; }

private:
  chain_store() = default;
  lmdb::env env_;
  chain_tables tables_;
  const chain_params* params_ = nullptr;
  uint64_t state_history_ = default_state_history;
};

/// A consistent read-only snapshot of the chain. If its read transaction
/// cannot begin, the view is failed from the start.
class chain_reader : public chain_view {
public:
  explicit chain_reader(const chain_store& store);

private:
  struct holder {
    lmdb::read_txn txn;
  };
  chain_reader(const chain_store& store, std::unique_ptr<holder> h);
  std::unique_ptr<holder> h_;
};

/// The single writer: a write transaction that applies and unwinds blocks.
/// Nothing is visible to readers until commit().
///
/// A full map never fails it: when a write or the commit finds the map full,
/// the writer drops its transaction, grows the map, begins a new one and
/// applies and unwinds again what it had since it began (it keeps each
/// applied block's body, a shared buffer, until the commit), then goes on.
/// Only a map that cannot grow (its ceiling, a full disk) fails the call,
/// with that error, and the writer with it.
class chain_writer : public chain_view {
public:
  explicit chain_writer(chain_store& store);

  /// Applies `b` on the tip, or changes nothing and returns why not. Checks
  /// the header against its parent, every state rule of every record, and
  /// that the header's state root is the state's root after the block
  /// (ec::bad_state_root); the block's own rules (check_block, signatures)
  /// are checked before.
  /// @param body `b` as received (stored in `bodies`).
  /// @param now unix seconds, for the "not too far ahead" timestamp rule.
  caf::error apply(const block& b, const encoded& body, uint64_t now);

  /// The state root `b` must carry to apply on the tip: the root after its
  /// records. Nothing is written. The header is not checked beyond its
  /// parent.
  /// @returns the root, or why a record does not apply (a state rule's
  ///          error, ec::unknown_parent, ec::storage).
  caf::expected<hash256> state_root_after(const block& b);

  /// Removes the tip block and undoes its records and its state changes.
  /// @returns the block, ec::reorg_too_deep at genesis, or ec::storage
  ///          (also when the block's state changes are no longer kept).
  caf::expected<block> unwind_tip();

  /// Commits every change since the writer was made; the writer is done.
  caf::error commit();

  /// Blocks applied since the writer was made, net of unwinds.
  int64_t pending_blocks() const { return pending_; }

private:
  struct holder {
    lmdb::write_txn txn;
  };
  /// One change since the writer began, to do again after the map grew.
  struct step {
    encoded body; ///< of an applied block; empty for an unwind
    uint64_t now = 0;
  };
  chain_writer(chain_store& store, std::unique_ptr<holder> h);
  caf::error begin();
  /// One try at apply(); sets `wrote` once it has written to the
  /// transaction.
  caf::error apply_once(const block& b, const encoded& body, uint64_t now,
                        bool& wrote);
  caf::expected<block> unwind_once(bool& wrote);
  caf::error undo_records(const block& b);
  /// Applies `b`'s records on the state at `parent_height` in `txn`, then
  /// its state changes (write_state).
  caf::expected<hash256> apply_state(lmdb::write_txn& txn, const block& b,
                                     uint64_t parent_height, state_undo* undo);
  /// Drops the transaction, grows the map, begins again and replays steps_.
  caf::error start_over();
  /// Takes back what the transaction holds beyond steps_ (a block a rule
  /// refused, a trial): drops it, begins again and replays steps_. LMDB has
  /// no nested transactions on the chain's writable map, and a refused
  /// block is rare (its proof of work was checked), so this costs little.
  /// A failure fails the writer.
  caf::error roll_back();
  /// start_over (grow) or roll_back (not): replays steps_ on a new
  /// transaction, growing the map while that finds it full.
  caf::error redo(bool grow);
  /// Runs `op` and, while it finds the map full, start_over() and again.
  template <class F>
  auto with_room(F&& op) -> decltype(op());

  chain_store* store_;
  std::unique_ptr<holder> h_;
  std::vector<step> steps_;
  int64_t pending_ = 0;
};

} // namespace hallmark
