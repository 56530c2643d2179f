// metrics: the node's own counters and histograms, which the actors count
// into as they work and GET /metrics reads (http/metrics.cpp).
// Everything here is lock-free: a counter or a histogram is a few relaxed
// atomics, cheap enough for the hot paths (every frame, every verify job).
//
// Names and units follow Prometheus's conventions (base units: seconds,
// bytes; `_total` for counters); docs/api.md lists every metric. The gauges
// (height, peers, pool sizes, sync progress) are not here: /metrics reads
// them from the node's status as `hallmark status` does.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace hallmark::metrics {

/// A count that only grows, from 0 at process start.
class counter {
public:
  void add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<uint64_t> value_{0};
};

/// Durations in fixed buckets (Prometheus histogram): the upper bounds are
/// `bounds` seconds; an observation above the last lands only in +Inf.
class histogram {
public:
  /// Upper bounds in seconds, ascending: 1 ms to 30 s, covering a verify
  /// job of one record to a flush on a slow disk.
  static constexpr std::array<double, 12> bounds{
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30};

  /// Adds one observation of `seconds`.
  void observe(double seconds);

  /// Adds the time from `start` to now.
  void observe_since(std::chrono::steady_clock::time_point start);

  /// Observations at or below bounds[i] (cumulative, as exposed).
  uint64_t cumulative(size_t i) const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  /// The sum of all observations, in seconds.
  double sum() const;

private:
  std::array<std::atomic<uint64_t>, bounds.size()> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

/// What the node counts. One per process (node()): a process runs one node.
struct registry {
  counter peer_bytes_in;    ///< peer-link bytes read, frames and lengths
  counter peer_bytes_out;   ///< peer-link bytes written
  counter blocks_applied;   ///< blocks committed to the chain's store
  counter records_applied;  ///< records in them
  counter blocks_unwound;   ///< blocks taken off the chain by reorgs
  counter peer_charges;     ///< misbehaviour charges against peers
  counter peer_bans;        ///< bans, by score or by the operator
  counter http_requests;    ///< HTTP requests answered
  counter http_refused;     ///< of them, answered 4xx or 5xx
  counter requests_late;    ///< requests that missed their deadline
  histogram flush_seconds;  ///< one commit of the chain's store
  histogram verify_seconds; ///< one verify job (a share of a batch)
};

/// The process's registry.
registry& node();

} // namespace hallmark::metrics
