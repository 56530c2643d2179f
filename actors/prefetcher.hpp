// prefetcher: fetches a range of blocks from one upstream link, ElectrumX
// style. Each request asks for as many blocks as fit the cache bound at the
// average block size seen so far (1 MiB to start, so the first asks for 10),
// at most 500; requests are pipelined while the blocks requested and not yet
// applied stay under the bound (10 MiB). Replies may arrive in any order;
// blocks go to block_processor strictly in height order. A reset (reorg, new
// upstream) drops everything under way: late replies are ignored.
#pragma once

#include <map>

#include "actors/actors.hpp"

namespace hallmark {

struct prefetcher_config {
  size_t cache_bytes = 10 * 1024 * 1024;
  uint32_t max_batch = 500;
  size_t initial_block_size = 1024 * 1024;
  /// Requests in flight at most.
  size_t max_requests = 4;
  /// Batches handed to block_processor and not yet answered, at most.
  size_t max_applying = 3;
};

struct prefetcher_state {
  // Not an aggregate: CAF would try to build it from the actor pointer.
  prefetcher_state() = default;
  static inline const char* name = "prefetcher";

  block_processor_actor processor;
  connector_actor connector;
  prefetcher_config cfg;
  peer_session_actor session;
  uint64_t generation = 0;
  uint64_t next = 0;         ///< next height to request
  uint64_t deliver_next = 0; ///< next height to hand to block_processor
  uint64_t target = 0;
  size_t requests = 0;     ///< requests in flight
  size_t applying = 0;     ///< batches at block_processor
  size_t cached_bytes = 0; ///< requested (estimated) or held, not applied
  uint64_t seen_bytes = 0;
  uint64_t seen_blocks = 0;
  uint64_t records = 0;
  bool active = false;
  std::map<uint64_t, std::vector<encoded>> ready; ///< by first height
  std::map<uint64_t, size_t> estimates;           ///< by first height
};

prefetcher_actor::behavior_type
prefetcher(prefetcher_actor::stateful_pointer<prefetcher_state> self,
           block_processor_actor processor, connector_actor connector,
           prefetcher_config cfg);

} // namespace hallmark
