// `hallmark devnet`'s node processes: their data directories (made as `init`
// makes one), their ports, starting them, watching them and stopping them;
// and the two questions the devnet asks a node (status and peers).
//
// Processes: each node runs in its own process group, so Ctrl-C on a terminal
// reaches devnet alone, which reads the final state before it stops the nodes;
// each node has PR_SET_PDEATHSIG = SIGTERM, so a devnet that dies takes its
// nodes with it. Stopping sends SIGTERM to every node and journals how long
// each took to exit; a node stops within 5 s (its shutdown watchdog sees to
// it), and one still running after 10 s is killed and counted as a failure.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "cli/devnet.hpp"
#include "client/render.hpp"
#include "core/crypto.hpp"

namespace hallmark {

using steady = std::chrono::steady_clock;

/// The devnet's lines: demo steps and events, each stamped with the seconds
/// since the start. Written by the demo thread and the main thread; printed
/// by the main thread only.
class devnet_journal {
public:
  explicit devnet_journal(steady::time_point start) : start_(start) {}

  /// Adds one line, stamped.
  void add(const std::string& line);

  /// Lines from `from` on; moves `from` past them.
  std::vector<std::string> since(size_t& from);

  /// The last `count` lines.
  std::vector<std::string> last(size_t count);

private:
  steady::time_point start_;
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

/// One node of the devnet and its process.
struct devnet_node {
  unsigned index = 0;
  std::string datadir;
  std::string key; ///< hex of the identity's public key
  key_pair identity = key_pair::generate();
  uint16_t port = 0;
  uint16_t http_port = 0; ///< its HTTP API and status page
  pid_t pid = -1;         ///< -1 once reaped
  int exit_code = -1;     ///< after it was reaped: exit code, or 128 + signal
  /// Seconds from SIGTERM to its exit, once stop() reaped it; -1 before.
  double stop_seconds = -1;
  bool killed = false; ///< stop() had to SIGKILL it

  std::string log_path() const { return datadir + "/node.log"; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
  /// The status page's address.
  std::string page() const {
    return "http://127.0.0.1:" + std::to_string(http_port) + "/";
  }
};

/// One node's answer to a status question.
struct node_view {
  bool up = false; ///< it answered
  std::string key;
  uint64_t height = 0;
  std::string tip;
  std::string state;
  uint32_t links = 0;
  uint64_t pending = 0;
};

/// Asks `n` for its status, waiting at most 2 s; `up` is false without an
/// answer.
node_view look_at(const devnet_node& n);

/// Asks `n` for its peers (as peers_json), waiting at most 2 s.
std::optional<json> peers_of(const devnet_node& n);

/// Whether every node answered and all are on the same tip.
bool tips_agree(const std::vector<node_view>& views);

/// Installs handlers that count SIGINT and SIGTERM, without SA_RESTART so
/// sleeps and waits wake; ignores SIGPIPE.
void catch_stop_signals();

/// SIGINT and SIGTERM received so far: the first stops the devnet, the
/// second skips the wait for agreeing tips.
int stop_signals();

/// The ports of N nodes, 2N of them: node i's peer port at i, its HTTP port
/// at N + i. base_port + i when given (each must be free); else 19500 + i
/// when those are free, else ports the kernel picks.
caf::expected<std::vector<uint16_t>> pick_ports(const devnet_config& cfg);

/// The node processes of one devnet. Never leaves a node behind: the
/// destructor stops what still runs.
class devnet_supervisor {
public:
  /// @param dir where the nodes' directories go (DIR/node-I).
  /// @param journal where events (a node that exits, stops) are told.
  /// @param stopping set once the devnet is stopping; a node that exits
  ///        before is reported as unexpected.
  devnet_supervisor(std::string dir, devnet_journal& journal,
                    const std::atomic<bool>& stopping);
  devnet_supervisor(const devnet_supervisor&) = delete;
  devnet_supervisor& operator=(const devnet_supervisor&) = delete;
  ~devnet_supervisor();

  /// Makes one data directory per node, as `hallmark init` does, on the
  /// devnet chain; node 0 produces, with fast block timers.
  /// @param ports pick_ports's: N peer ports, then N HTTP ports.
  caf::error init_nodes(const std::vector<uint16_t>& ports);

  /// Starts node 0, waits until it answers, then starts the others (node 0
  /// their static peer) and waits for each.
  /// @param ready told each node once it answers, in order.
  /// @returns why a node did not start (its log is named); the nodes
  ///          started are left running.
  caf::error start(const std::function<void(const devnet_node&)>& ready);

  /// Reaps the nodes that exited, without waiting.
  void reap_exited();

  /// SIGTERM to every node, 10 s for all to exit, then SIGKILL.
  void stop();

  /// Whether every node that stop() stopped exited by itself with code 0.
  bool stopped_cleanly() const;

  /// Whether any node still runs.
  bool any_alive() const;

  /// Whether every node still runs.
  bool all_alive() const;

  /// Every node's status (look_at), in order.
  std::vector<node_view> look_at_all() const;

  const std::vector<devnet_node>& nodes() const { return nodes_; }

private:
  caf::error spawn(devnet_node& n, const std::vector<std::string>& args);
  caf::error wait_ready(const devnet_node& n);
  void reaped(devnet_node& n, int status);

  std::string dir_;
  devnet_journal& journal_;
  const std::atomic<bool>& stopping_;
  std::vector<devnet_node> nodes_;
};

} // namespace hallmark
