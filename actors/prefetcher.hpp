// prefetcher: fetches a range of blocks from up to K upstream links at once,
// ElectrumX style within each link. The heights are cut into requests, each
// as many blocks as fit the cache bound at the average block size seen so
// far (1 MiB to start, so the first asks for 10), at most 500; requests are
// pipelined while the blocks requested and not yet applied stay under the
// bound (10 MiB), at most `per_source_requests` per link. A request goes to
// the link with the fewest requests under way. Replies may arrive in any
// order; blocks go to block_processor strictly in height order, after a
// check that each extends the block before it (a link on another branch is
// left out, not charged).
//
// With a block assumed valid that is not on our chain yet, the upstream's
// headers from `from` are fetched first (2000 a request) and checked to
// link; if they reach that block, block_processor is told the hashes of its
// ancestors (atom::assume) so their signatures are not checked. If they do
// not (another chain, or it is not there yet), every signature is checked.
// The hashes take 32 bytes a block up to the assumed one.
//
// A link that fails a request (an error, a timeout, a link that went down,
// no block at a height it claimed) is dropped from the fetch and its
// requests go to the others: the connector hears of it (`source_only`) and
// charges the peer only for what it did wrong. When no link is left, the
// fetch fails and the connector fails over. A reset (reorg, new upstream)
// drops everything under way: late replies are ignored.
#pragma once

#include <map>

#include "actors/actors.hpp"
#include "net/range_scheduler.hpp"

namespace hallmark {

struct prefetcher_config {
  size_t cache_bytes = 10 * 1024 * 1024;
  uint32_t max_batch = 500;
  size_t initial_block_size = 1024 * 1024;
  /// Requests in flight at most, over all links ...
  size_t max_requests = 8;
  /// ... and per link.
  size_t per_source_requests = 2;
  /// Batches handed to block_processor and not yet answered, at most.
  size_t max_applying = 3;
  /// A request unanswered this long drops its link from the fetch (it is
  /// slow, not wrong) and goes to another.
  std::chrono::milliseconds request_timeout{30'000};
};

struct prefetcher_state {
  // Not an aggregate: CAF would try to build it from the actor pointer.
  prefetcher_state() = default;
  static inline const char* name = "prefetcher";

  /// One upstream serving the fetch.
  struct source {
    peer_link link;
    bool dropped = false;
  };

  /// Heights [from, from + count): what one request asks for. Ranges to
  /// ask again go lowest first, what delivery in order waits for.
  struct span {
    uint64_t from = 0;
    uint32_t count = 0;
    bool operator<(const span& other) const { return from < other.from; }
  };

  /// Blocks received and not yet handed on, with the link they came from.
  struct arrived {
    std::vector<encoded> blocks;
    size_t source = 0;
  };

  block_processor_actor processor;
  connector_actor connector;
  prefetcher_config cfg;
  std::vector<source> sources;
  /// Which upstream is asked for which heights; late answers (after a
  /// reset, or to a request given up) settle to nothing.
  net::range_scheduler<span> schedule{8, 2};
  /// Counts fetches and resets: late apply reports are ignored.
  uint64_t generation = 0;
  uint64_t start = 0;
  uint64_t next = 0;         ///< next height never requested
  uint64_t deliver_next = 0; ///< next height to hand to block_processor
  uint64_t target = 0;
  hash256 parent{};        ///< hash of the block at deliver_next - 1
  size_t applying = 0;     ///< batches at block_processor
  size_t cached_bytes = 0; ///< requested (estimated) or held, not applied
  uint64_t seen_bytes = 0;
  uint64_t seen_blocks = 0;
  uint64_t records = 0;
  bool active = false;
  std::map<uint64_t, arrived> ready;    ///< by first height
  std::map<uint64_t, size_t> estimates; ///< by first height
  /// The block assumed valid while its header chain is being fetched
  /// (zero: not, or no longer); blocks are asked for after that.
  hash256 assume{};
  std::vector<hash256> assume_chain; ///< hashes from `start` on
  hash256 assume_tip{};              ///< hash of assume_chain's last
};

prefetcher_actor::behavior_type
prefetcher(prefetcher_actor::stateful_pointer<prefetcher_state> self,
           block_processor_actor processor, connector_actor connector,
           prefetcher_config cfg);

} // namespace hallmark
