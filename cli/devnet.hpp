// `hallmark devnet`: a network of real `hallmark run` processes on loopback,
// a demo driven through it, and a live status table until it stops.
//
//   devnet ─exec─▶ node-0  run --produce --listen 127.0.0.1:P0
//          ─exec─▶ node-1  run --listen 127.0.0.1:P1 --peer K0@127.0.0.1:P0
//          ─exec─▶ node-i  run --listen 127.0.0.1:Pi --peer K0@127.0.0.1:P0
//
// Only node 0 is a static peer of the others: the rest find each other by
// announcements. The demo's records enter at node 1, so they travel to the
// producer (node 0) and come back to every node in blocks.
//
// The parts, one file each:
//   devnet.cpp             the command: arguments, directory, ports, the run
//                          loop and the end
//   devnet_supervisor.*    the node processes: made, started, watched, stopped
//   devnet_screen.*        the live table, the journal lines, the summary
//   devnet_demo.*          the scripted record walk, on its own thread
#pragma once

#include <cstdint>
#include <string>

namespace hallmark {

/// What `hallmark devnet` was asked for.
struct devnet_config {
  /// Node processes, 1 to 16.
  uint32_t nodes = 3;
  /// Where the nodes' data directories go (DIR/node-I); kept afterwards.
  /// Empty: a fresh directory under /tmp, removed at the end.
  std::string dir;
  /// Seconds to run, at most devnet_max_run_for_s; 0 runs until SIGINT or
  /// SIGTERM.
  uint64_t run_for_s = 0;
  /// First peer port (node i listens on base_port + i); 0 takes 19500 when
  /// those ports are free, else ports the kernel picks.
  uint32_t base_port = 0;

  /// Names the first argument out of range, or returns an empty string.
  std::string validate() const;
};

/// The default first peer port.
constexpr uint32_t devnet_default_base_port = 19500;

/// Most nodes one devnet runs.
constexpr uint32_t devnet_max_nodes = 16;

/// The longest `--for`: 30 days.
constexpr uint64_t devnet_max_run_for_s = 30 * 86400;

/// Runs the devnet until `run_for_s` passes or a signal arrives, printing
/// the steps of the demo, the status table and a final summary.
/// @param cfg a configuration that passed validate().
/// @returns 0 when every node ended on the same tip and the demo did not
///          fail, 1 otherwise (including a failure to start), 2 for a
///          directory whose socket paths would be too long.
int run_devnet(const devnet_config& cfg);

} // namespace hallmark
