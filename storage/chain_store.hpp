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
//   items    item id (32)            latest record (32) | owner (32) | asset
//   (32) owners   owner key (32)          item ids (32 each, dupsort, dupfixed)
//   assets   asset id (32)           height u64 | record id (32)
//
// Integers are little-endian. A record's location also carries what undoing
// it needs (its item, the owner after it, the record it linked to), so a
// block's body and these locations are its undo data: no undo table.
// docs/storage.md has the same chart and the migration policy.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "core/chain.hpp"
#include "core/state_rules.hpp"
#include "messages/codec.hpp"
#include "storage/lmdb.hpp"

namespace hallmark {

constexpr uint32_t chain_schema_version = 1;

struct tip_info {
  uint64_t height = 0;
  hash256 hash{};
  work_t work = 0;
  header hdr;
};

struct chain_tables {
  lmdb::table meta, headers, bodies, hashes, records, items, owners, assets;
};

/// Lookups inside one transaction, read-only or not. The state the rules
/// read (core/state_rules.hpp) is the chain as this transaction sees it.
class chain_view : public state_reader {
public:
  chain_view(const chain_tables& t, const lmdb::txn& txn)
      : t_(&t), txn_(&txn) {}

  tip_info tip() const;
  std::optional<header> header_at(uint64_t height) const;
  std::optional<hash256> hash_at(uint64_t height) const;
  std::optional<work_t> work_at(uint64_t height) const;
  /// The tip's height.
  uint64_t height() const override;
  std::optional<uint64_t> height_of(const hash256& block) const override;
  std::optional<encoded> body_at(uint64_t height) const;
  std::optional<record_location> find_record(const hash256& id) const override;
  std::optional<item_state> find_item(const hash256& id) const override;
  /// The asset's block height and record id.
  std::optional<asset_entry> find_asset(const hash256& asset) const override;
  std::vector<hash256> items_of(const public_key& owner) const;
  /// Header lookup along this chain, for the chain rules.
  header_lookup ancestors() const;
  /// Newest first: the item's records back to its issue.
  std::vector<std::pair<hash256, record_location>>
  provenance(const hash256& item) const;

protected:
  const chain_tables* t_;
  const lmdb::txn* txn_;
};

class chain_store {
public:
  /// Opens or creates the environment in `dir` for `params`; fails with
  /// ec::wrong_chain if it holds another chain.
  static caf::expected<std::unique_ptr<chain_store>>
  open(const std::string& dir, const chain_params& params,
       uint64_t map_size_bytes);

  const chain_params& params() const { return *params_; }
  const lmdb::env& env() const { return env_; }
  const chain_tables& tables() const { return tables_; }

private:
  chain_store() = default;
  lmdb::env env_;
  chain_tables tables_;
  const chain_params* params_ = nullptr;
};

/// A consistent read-only snapshot of the chain.
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
class chain_writer : public chain_view {
public:
  explicit chain_writer(chain_store& store);

  /// Applies `b` on the tip, or changes nothing and returns why not. Checks
  /// the header against its parent and every state rule of every record;
  /// the block's own rules (check_block, signatures) are checked before.
  caf::error apply(const block& b, const encoded& body, uint64_t now);

  /// Removes the tip block and undoes its records; returns it.
  caf::expected<block> unwind_tip();

  /// Commits every change since the writer was made.
  caf::error commit();

  /// Blocks applied since the writer was made, net of unwinds.
  int64_t pending_blocks() const { return pending_; }

private:
  struct holder {
    lmdb::write_txn txn;
  };
  chain_writer(chain_store& store, std::unique_ptr<holder> h);
  caf::error apply_records(lmdb::write_txn& txn, const block& b,
                           uint64_t parent_height);
  caf::error undo_records(lmdb::write_txn& txn, const block& b);
  chain_store* store_;
  std::unique_ptr<holder> h_;
  int64_t pending_ = 0;
};

} // namespace hallmark
