// producer: builds blocks from the reservoir and searches their proof of
// work. Considers a block every min_block_interval: one is made when records
// are pending, or when the last is older than empty_block_interval.
//
// When making a block fails (a refused candidate, a full disk), the next
// attempt waits twice as long each time, up to max_backoff_ms, and the
// failure is logged when it first happens or changes, then at most once a
// minute; the first block made afterwards logs the recovery.
#pragma once

#include <optional>
#include <string>

#include "actors/actors.hpp"

namespace hallmark {

struct producer_config {
  uint64_t min_block_interval_ms = 1000;
  uint64_t empty_block_interval_s = 30;
  /// Hashes tried per step before the actor looks at its mailbox again.
  uint64_t hashes_per_step = 250'000;
  /// The longest wait between attempts after failures, in milliseconds.
  uint64_t max_backoff_ms = 30'000;
};

struct producer_state {
  // Not an aggregate: CAF would try to build it from the actor pointer.
  producer_state() = default;
  static inline const char* name = "producer";
  block_processor_actor processor;
  reservoir_actor pool;
  public_key key{};
  producer_config cfg;
  std::optional<block> candidate;
  bool busy = false;
  uint64_t last_block_at = 0;
  uint64_t made = 0;
  /// Attempts that failed in a row, the last failure and when it was last
  /// logged (unix seconds).
  uint32_t failures = 0;
  std::string last_failure;
  uint64_t logged_at = 0;
};

/// @param key the producer key written into every header.
producer_actor::behavior_type
producer(producer_actor::stateful_pointer<producer_state> self,
         block_processor_actor processor, reservoir_actor pool, public_key key,
         producer_config cfg);

} // namespace hallmark
