// The network simulator: N `hallmark` nodes, each in a network namespace of
// its own on one bridge, as an operator's small network would run them.
//
//   hub namespace:  br0 ─┬─ v0 ═══ eth0 (host 0: 10.77.0.1, the producer)
//                        ├─ v1 ═══ eth0 (host 1: 10.77.0.2)
//                        └─ …
//
// Node i's only static peer is node (i−1)/2 (a binary tree); node 0
// produces a block every `block_interval`. The simulator runs in the root
// namespace: it reads each node's admin socket (a Unix socket in its data
// directory) in-process, and each node's `/api/events` over a TCP socket
// opened inside that node's namespace (setns), timestamping every event on
// one clock. Needs root (namespaces, veth, bridge).
//
// Every run has its own namespace names (`hmsim-PID-*`); what a killed
// earlier run left (namespaces, and the nodes still running in them) is
// removed first. The logs of a failed run are kept.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace hallmark::netsim {

struct options {
  /// Hosts, one node each (2 to 250).
  size_t nodes = 16;
  /// Seeds the order the nodes start in and the status poll's order.
  uint64_t seed = 1;
  /// The `hallmark` executable.
  std::string bin;
  /// Data directories and logs go here ("": a new directory under /tmp).
  std::string workdir;
  /// The producer's block interval.
  std::chrono::milliseconds block_interval{2000};
  /// The nodes are started within this span, in seeded order.
  std::chrono::milliseconds start_spread{3000};
  /// Longest wait, from the last node's "ready" line, for every node to
  /// have its links and the producer's tip.
  std::chrono::seconds settle_limit{90};
  /// How long the network runs on the tip while blocks and `status`
  /// latency are measured.
  std::chrono::seconds steady{20};
  /// Links every node should have (at most nodes − 1 count).
  size_t links_wanted = 8;
  /// Progress lines, if set.
  std::ostream* log = nullptr;
};

/// Figures of one run. Times are from the last node's "ready" line, on the
/// simulator's clock.
struct figures {
  size_t nodes = 0;
  /// From the first to the last node's "ready" line.
  double ready_spread_s = 0;
  /// Until every node had min(links_wanted, nodes − 1) links; none if never.
  std::optional<double> mesh_s;
  /// Until every node was on the producer's tip; none if never.
  std::optional<double> tip_s;
  /// For blocks made once every node was on the tip: from the producer's
  /// event to the last node's, in ms.
  size_t blocks = 0;
  double block_p50_ms = 0;
  double block_p99_ms = 0;
  double block_max_ms = 0;
  /// `status` round trips on the admin socket while the network ran.
  size_t status_calls = 0;
  size_t status_failures = 0;
  /// The worst node's p99 and its index, and the longest single call.
  double status_p99_ms = 0;
  size_t status_p99_node = 0;
  double status_max_ms = 0;
  /// Over every call to every node.
  double status_p50_ms = 0;
  double status_p99_all_ms = 0;
  /// From SIGTERM to the last node's exit.
  double stop_s = 0;
  /// Nodes whose shutdown watchdog ended them, that exited with an error,
  /// or that had to be killed.
  size_t stopped_by_watchdog = 0;
  size_t exit_failures = 0;
  size_t killed = 0;
  /// What went wrong, one line each; empty when the run met every aim.
  std::vector<std::string> problems;
  /// Where the logs are, when they were kept.
  std::string kept_logs;
};

/// Runs the scenario. An error when the network cannot be built (not
/// root, no `ip`, a node that does not start); a network that misbehaves
/// is a run whose `problems` say how.
caf::expected<figures> run(const options& opts);

/// The figures as lines of "name value (aim)".
void print(std::ostream& out, const options& opts, const figures& f);

} // namespace hallmark::netsim
