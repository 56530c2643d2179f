// reservoir: records waiting for a block.
//
// A record is admitted only if it is valid against the committed chain plus
// the records already pending: no duplicates, no double spends (on chain,
// pending, or two pending transfers of one link), issues of registered or
// pending assets by their registrant, free-issue work on a recent anchor.
// Admission is all-or-nothing per submission and durable before the reply
// (local_store), so a crash loses nothing accepted. When blocks enter or
// leave the best chain, the pending set is admitted again, in order, against
// the new state, and what no longer fits is dropped.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <unordered_map>

#include "actors/actors.hpp"
#include "core/state_overlay.hpp"
#include "storage/chain_store.hpp"
#include "storage/local_store.hpp"

namespace hallmark {

struct reservoir_config {
  uint64_t pending_expiry_s = 45 * 60;
  uint64_t asset_expiry_s = 4050;
  uint64_t max_issues = 20'000;
  uint64_t max_transactions = 160'000;
  /// How often expiry runs.
  uint64_t expiry_check_ms = 60'000;
  /// Seconds since the Unix epoch; tests inject their own.
  std::function<uint64_t()> clock;
  /// A state sync runs: the chain holds part of the state, so no record
  /// can be judged; submissions are refused (ec::state_syncing, nobody's
  /// fault) until it says it is done (atom::synced).
  bool state_syncing = false;
};

struct reservoir_state {
  // Not an aggregate: CAF would try to build it from the actor pointer.
  reservoir_state() = default;
  static inline const char* name = "reservoir";

  struct entry {
    hash256 id{}; ///< leaf id
    record rec;
    encoded raw;
    uint64_t accepted_at = 0;
    int64_t seq = 0; ///< admission order
  };

  /// The pending state and indexes over the admitted entries, rebuilt on
  /// every chain change.
  struct indexes {
    /// The chain plus every admitted record, as the state rules see it.
    state_overlay state;
    std::unordered_map<hash256, hash256, hash256_hasher>
      assets; ///< asset id → leaf
    std::unordered_map<hash256, std::pair<hash256, uint16_t>, hash256_hasher>
      issues; ///< issue id → (batch leaf, position)
    std::unordered_map<hash256, hash256, hash256_hasher>
      spent; ///< link → pending transfer id
    std::unordered_map<hash256, uint64_t, hash256_hasher>
      issued; ///< pending asset id → pending issues of it
    uint64_t issue_count = 0;
    uint64_t transfer_count = 0;
  };

  const chain_store* chain = nullptr;
  local_store* local = nullptr;
  reservoir_config cfg;
  std::map<hash256, entry> pending;
  indexes idx;
  int64_t next_seq = 0;
  int64_t min_seq = 0;
  relay_actor relay; ///< where admitted records are published
};

/// Admits `e` into `idx` against `view` plus the records admitted before,
/// by the state rules (core/state_rules.hpp) after the pool caps; with
/// `check_signatures` false, trusts signatures checked before. A refused
/// record leaves `idx` as it was.
caf::error admit(const reservoir_state::entry& e, reservoir_state::indexes& idx,
                 const chain_view& view, const chain_params& params,
                 const reservoir_config& cfg, bool check_signatures);

/// @param chain read for validation (never written here).
/// @param local the reservoir's own durable store.
reservoir_actor::behavior_type
reservoir(reservoir_actor::stateful_pointer<reservoir_state> self,
          const chain_store* chain, local_store* local, reservoir_config cfg);

} // namespace hallmark
