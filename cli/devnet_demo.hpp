// `hallmark devnet`'s demo: a scripted walk of records through the running
// nodes, on its own thread, one journal line per step. Records enter at node
// 1 (node 0 when it is alone), away from the producer:
//
//   1. node 1 links to the producer; every node links to every other
//      (waited for up to 15 s, then it goes on)
//   2. an asset, registered by node 1's identity
//   3. 3 items issued; the issues reach a block
//   4. the first item to a fresh key (bob); it reaches a block
//   5. bob's transfer to another fresh key (carol), countersigned by her
//   6. every node shows carol as the owner, in blocks
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cli/devnet_supervisor.hpp"
#include "core/error.hpp"

namespace hallmark {

/// The demo, run once on its own thread.
class devnet_demo {
public:
  enum class outcome { running, completed, failed, interrupted };

  /// @param nodes the started nodes; they must outlive the demo.
  /// @param stopping set once the devnet stops: the demo ends at its next
  ///        wait, as interrupted.
  devnet_demo(const std::vector<devnet_node>& nodes, devnet_journal& journal,
              const std::atomic<bool>& stopping);
  devnet_demo(const devnet_demo&) = delete;
  devnet_demo& operator=(const devnet_demo&) = delete;
  /// Joins the thread; set `stopping` first or this waits for the demo.
  ~devnet_demo();

  /// Starts the demo's thread.
  void start();

  /// Waits for the demo's thread to end.
  void join();

  /// How the demo went, so far.
  outcome result() const { return outcome_; }

  /// The summary's line: `demo: completed`, `demo: failed: REASON` or
  /// `demo: stopped before it completed`.
  std::string summary() const;

private:
  void run();
  caf::error steps();
  caf::error link_up(const devnet_node& entry, const devnet_node& producer);
  bool wait_until(const std::function<bool()>& ready,
                  std::chrono::seconds limit) const;
  caf::error wait_or_fail(const std::function<bool()>& ready,
                          std::chrono::seconds limit, ec code,
                          const std::string& what) const;
  caf::expected<int64_t> wait_in_block(const devnet_node& n,
                                       const hash256& item,
                                       const std::string& what) const;

  const std::vector<devnet_node>& nodes_;
  devnet_journal& journal_;
  const std::atomic<bool>& stopping_;
  std::thread thread_;
  std::atomic<outcome> outcome_{outcome::running};
  mutable std::mutex mutex_;
  std::string failure_; ///< why it failed, under mutex_
};

} // namespace hallmark
