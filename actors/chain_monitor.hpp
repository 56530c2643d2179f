// chain_monitor: new tips, pushed and polled, told to subscribers once each
// and in order (The Eye of Satoshi's ChainMonitor, with its weak spots
// fixed).
//
//   IDLE ──listen──▶ LISTENING ──activate──▶ ACTIVE
//     │              tips buffered            tips told at once
//     │                   │                        │
//     └───────────────────┴──────terminate─────────┴──▶ TERMINATED: END
//
// A tip arrives by push (block_processor, after every flush that moved the
// tip) or by polling (a tick every poll interval reads the committed tip).
// Either is only a cue: the monitor reads the committed chain and tells
// every block from the last one it told up to the committed tip, so a
// subscriber sees each block once, in height order, even when several
// blocks were flushed at once. When the block last told is no longer on the
// best chain (a reorg), the told blocks the chain lost are forgotten and the
// new branch is told from the fork point up. A cue whose hash is among the
// last `dedupe_window` blocks told is dropped without reading the chain.
//
// Subscribers get (tip, height, hash) messages, then one (end): on
// terminate, or when the monitor exits for any reason (an attached functor
// sends it), so nobody waits for tips forever. A subscriber that comes after
// TERMINATED gets (end) at once; one that dies is dropped. Messages in the
// wrong state are logged and ignored.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <vector>

#include "actors/actors.hpp"
#include "storage/chain_store.hpp"

namespace hallmark {

struct chain_monitor_config {
  /// How often the committed tip is read.
  std::chrono::milliseconds poll_interval{60'000};
  /// Blocks told last whose hash, seen again as a tip, is dropped at once
  /// (TEOS keeps 10).
  size_t dedupe_window = 10;
  /// Blocks told that are remembered to find the fork point of a reorg;
  /// a deeper reorg is told from the oldest of them.
  size_t history = 1000;
  caf::error validate() const;
};

/// The monitor's life cycle.
enum class monitor_phase : uint8_t { idle, listening, active, terminated };

/// "IDLE", "LISTENING", "ACTIVE" or "TERMINATED".
const char* to_string(monitor_phase x);

/// A block as the monitor tells it.
struct told_block {
  uint64_t height = 0;
  hash256 hash{};
  bool operator==(const told_block&) const = default;
};

/// The subscribers, shared with the functor that tells them END when the
/// monitor exits (the actor's state is gone by then).
struct monitor_audience {
  std::vector<caf::actor> actors;
  bool ended = false;
  /// Sends (end) to every subscriber, once.
  void end();
};

struct chain_monitor_state {
  // Not an aggregate: CAF would try to build it from the actor pointer.
  chain_monitor_state() = default;
  static inline const char* name = "chain_monitor";

  const chain_store* chain = nullptr;
  chain_monitor_config cfg;
  monitor_phase phase = monitor_phase::idle;
  /// The chain as told (or buffered), oldest first; back() is the head.
  std::deque<told_block> told;
  /// Blocks waiting for ACTIVE.
  std::deque<told_block> buffer;
  std::shared_ptr<monitor_audience> audience;
  /// When the running poll timer is due.
  std::chrono::steady_clock::time_point next_poll;
  /// A tip after TERMINATED was logged (later ones are not).
  bool late_tip_logged = false;
};

/// @param chain the chain environment, read with chain_reader.
/// @param cfg poll interval and windows; validated by the caller.
chain_monitor_actor::behavior_type
chain_monitor(chain_monitor_actor::stateful_pointer<chain_monitor_state> self,
              const chain_store* chain, chain_monitor_config cfg);

} // namespace hallmark
