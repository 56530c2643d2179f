// The state rules: what a record may do given the ownership state before it.
// One module, used by every writer of state:
//
//   chain_writer (storage/chain_writer.cpp)  state = the chain in its write
//                                            transaction
//   reservoir (actors/reservoir.cpp)         state = the chain plus the
//                                            pending records (state_overlay)
//
// Both apply a record through apply_record(), which checks every rule below
// against a state_reader and, when they all hold, records the record's
// effects through the same object's state_writer side. Records of one block,
// or of one submission, are applied in order, so each sees the ones before.
//
// The rules (docs/chain.md, "state rules"), checked in this order:
//   asset     its asset id is not registered ................ ec::duplicate
//   issues    the batch's anchor is a best-chain block at most anchor_window
//             blocks below the block it goes in ............. ec::bad_anchor
//             the batch's free-issue work meets batch_difficulty
//                                                             ec::bad_proof
//             per issue, in order: its asset is registered .. ec::unknown_asset
//             signed by (owned by) the asset's registrant ... ec::not_owner
//             its id is not a record nor an item already ... ec::duplicate
//   transfer  its id is not a record already ................ ec::duplicate
//             its link is an issue or transfer record ....... ec::unknown_link
//             its link is the item's latest record (unspent)  ec::double_spend
//             signed by the item's owner after the link ..... ec::not_owner
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

#include <caf/error.hpp>

#include "core/chain.hpp"
#include "core/crypto.hpp"
#include "core/records.hpp"

namespace hallmark {

/// What kind of record an id names. Values are stored (storage.md).
enum class record_kind : uint8_t { asset = 0, issue = 1, transfer = 2 };

/// "asset", "issue" or "transfer".
const char* to_string(record_kind k);

/// Where a record is and what it did: what a reader needs to follow an item
/// and what undoing the record needs.
struct record_location {
  uint64_t height = 0; ///< the block holding it (pending: the next block)
  uint32_t index = 0;  ///< position of the record in its block
  uint16_t sub = 0;    ///< position of an issue in its batch
  record_kind kind = record_kind::asset;
  hash256 item{};     ///< zero for assets
  public_key owner{}; ///< the registrant, or the item's owner after it
  hash256 link{};     ///< the item's previous record; zero but for transfers
};

/// The state of one item: its latest record, its owner, its asset.
struct item_state {
  hash256 latest{};
  public_key owner{};
  hash256 asset{};
};

/// A registered asset: the height of its block and its record id.
using asset_entry = std::pair<uint64_t, hash256>;

/// What the state rules read.
class state_reader {
public:
  virtual ~state_reader() = default;

  /// Height of the tip the next block builds on.
  virtual uint64_t height() const = 0;

  /// Height of a best-chain block, by hash.
  virtual std::optional<uint64_t> height_of(const hash256& block) const = 0;

  /// The registration of an asset, by asset id.
  virtual std::optional<asset_entry> find_asset(const hash256& asset) const = 0;

  /// A record (an asset's registration, an issue or a transfer), by id.
  virtual std::optional<record_location>
  find_record(const hash256& id) const = 0;

  /// An item's state, by item id.
  virtual std::optional<item_state> find_item(const hash256& item) const = 0;

  /// Why a lookup could not answer (a storage failure), or none. A lookup
  /// that fails answers "absent", so an answer is only to be trusted while
  /// this is none; a reader that cannot fail keeps the default.
  virtual caf::error failure() const { return {}; }
};

/// Where a record's effects go. Each call either stores all it was given or
/// fails with its writer's error (ec::storage for LMDB), which apply_record
/// returns as it is.
class state_writer : public state_reader {
public:
  /// Registers `asset` with its registration record `record` at `height`,
  /// signed by `registrant`.
  virtual caf::error put_asset(const hash256& asset, uint64_t height,
                               const hash256& record,
                               const public_key& registrant)
    = 0;

  /// Stores a record's location under its id.
  virtual caf::error put_record(const hash256& id, const record_location& loc)
    = 0;

  /// Sets an item's state; `before` is its state until now (none for a new
  /// item), for writers that index items by owner.
  virtual caf::error put_item(const hash256& item, const item_state& after,
                              const std::optional<item_state>& before)
    = 0;
};

/// Checks record `r`, at position `index` of the block at `s.height() + 1`,
/// against every state rule above and, if they hold, applies its effects to
/// `s`. On a refusal `s` may hold part of an issue batch's effects: the
/// caller discards them (an aborted transaction, a rolled-back overlay).
/// Stateless rules (check_fields, signatures) are the caller's, before.
/// @returns the reader's failure() if a lookup failed (whatever the rules
///          concluded from its "absent"), else the first broken rule's
///          error, or a writer's error.
caf::error apply_record(const record& r, uint32_t index, state_writer& s,
                        const chain_params& params);

} // namespace hallmark
