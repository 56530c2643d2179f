// block_processor: the only writer of chain data.
//
// Blocks arrive in batches (from a peer, the producer or an import). Each
// batch is decoded once, its blocks' own rules and signatures are checked by
// the verifier pool on all cores, and verified batches are applied strictly
// in arrival order by this actor, inside one LMDB write transaction that is
// committed ("flushed") by size or time while catching up, at once when a
// batch says no more blocks follow, and on stop.
//
//   blocks ──▶ decode ──▶ verifiers (parallel) ──▶ apply in order ──▶ flush
//                                                     │
//         parent is the tip: apply                    ▼
//         parent elsewhere:  hold (side branch / orphan), and reorg when a
//                            held branch has more work than the best chain
//
// It runs detached (its own thread), because an LMDB write transaction
// belongs to the thread that began it.
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>

#include "actors/actors.hpp"
#include "actors/tip_board.hpp"
#include "storage/chain_store.hpp"

namespace hallmark {

struct block_processor_config {
  /// Deepest fork followed; also the deepest forced reorg.
  uint64_t reorg_window = 100;
  /// Flush after this many blocks while more are coming ...
  uint64_t flush_blocks = 1000;
  /// ... or this many records (an LMDB write transaction holds every page
  /// it dirtied in memory until commit; random-key indexes dirty one page
  /// per insert, so this bounds the writer's memory) ...
  uint64_t flush_records = 4'000;
  /// ... or this long after the first unflushed block.
  uint64_t flush_interval_ms = 2000;
  /// Bytes of blocks held aside (side branches, orphans) at most.
  uint64_t held_bytes = 64 * 1024 * 1024;
  /// Where the committed tip is published after each commit; may be null.
  std::shared_ptr<tip_board> board;
  /// A state sync writes the chain (actors/state_sync.hpp): blocks,
  /// prepare and reorg are refused with ec::state_syncing until it says
  /// it is done (atom::synced).
  bool state_syncing = false;
  caf::error validate() const;
};

struct block_processor_state {
  // Not an aggregate: CAF would try to build it from the actor pointer.
  block_processor_state() = default;
  static inline const char* name = "block_processor";

  struct batch {
    uint64_t id = 0;
    std::vector<encoded> raw;
    std::shared_ptr<std::vector<block>> blocks;
    size_t waiting = 0; ///< verifier jobs not yet answered
    size_t good = 0;    ///< blocks before the first failure
    uint64_t known = 0; ///< blocks skipped as already applied
    caf::error failure; ///< of block `good`, if any
    bool more = false;
    /// One new block from this link (null: made here), to be published
    /// if it joins the best chain.
    std::optional<caf::actor_addr> relay_from;
    caf::typed_response_promise<apply_report> promise;
  };

  struct held_block {
    block b;
    encoded raw;
  };

  chain_store* store = nullptr;
  block_processor_config cfg;
  std::vector<verifier_actor> verifiers;
  std::vector<reservoir_actor> subscribers;
  std::vector<caf::actor> tip_subscribers;
  relay_actor relay; ///< where new blocks that joined the chain go
  hash256 last_tip{};
  std::unique_ptr<chain_writer> writer;
  std::deque<batch> queue;
  uint64_t next_batch = 1;
  std::unordered_map<hash256, held_block, hash256_hasher> held;
  std::unordered_multimap<hash256, hash256, hash256_hasher> children;
  uint64_t held_bytes = 0;
  std::vector<hash256> applied_ids;
  uint64_t records_since_flush = 0;
  /// Blocks applied since the last flush (for the metrics; unwinds not
  /// subtracted).
  uint64_t blocks_since_flush = 0;
  std::vector<encoded> unwound_records;
  bool flush_scheduled = false;
  bool stopped = false;
  /// The stop request, answered once the batches queued before it are
  /// applied and committed: its height is then the final one.
  std::optional<caf::typed_response_promise<uint64_t>> stop_reply;
  uint64_t last_log_height = 0;
  /// Ancestors of the block assumed valid, by height from assumed_from
  /// (atom::assume): their signatures are not checked.
  uint64_t assumed_from = 0;
  std::vector<hash256> assumed;
};

/// @param store the chain environment; this actor is its only writer.
/// @param verifiers the pool that checks blocks and signatures.
block_processor_actor::behavior_type block_processor(
  block_processor_actor::stateful_pointer<block_processor_state> self,
  chain_store* store, block_processor_config cfg,
  std::vector<verifier_actor> verifiers);

} // namespace hallmark
