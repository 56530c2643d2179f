// state_sync: the state sync client (docs/state.md, "the client"). A node
// started with --state-sync on an empty chain does not replay blocks from
// genesis; it
//
//   1. fetches the best header chain first, checking every header's proof
//      of work, link, difficulty and timestamp (peers: the connector's live
//      links, asked for their `info`);
//   2. picks a target `depth` blocks behind that chain's tip: its header's
//      state root is what the state must hash to;
//   3. fetches the state's key ranges from several peers at once, from a
//      work queue with priorities (continuations of a truncated reply, then
//      new ranges, then ranges to bring to a newer root), each reply a range
//      or change proof verified against the root asked for before a byte of
//      it is stored;
//   4. follows new blocks: when the header chain has moved `retarget_blocks`
//      past the target, the target moves and every range held at an older
//      root is brought up to date with a change proof;
//   5. finishes when the key space is held at the target root and the
//      stored trie's root is the target's: the target becomes the tip, and
//      block sync (the connector) goes on from there.
//
// A peer that sends a proof that does not verify, or headers that break a
// rule, is charged (the connector's `misbehave`); a peer that cannot serve
// (no such root, a timeout) is only left alone for a while. Either way the
// work goes back on the queue for another peer, and each peer's pause
// doubles from `backoff_min` to `backoff_max`. Everything fetched is
// persisted as it is verified (storage/sync_store.hpp): a restart, even
// after kill -9, resumes with what is held.
//
// The actor is detached (its own thread): it is the chain's only writer
// while it runs, and its LMDB write transactions wait for no scheduler
// thread. The node spawns block_processor, the reservoir, the connector and
// the admin as state-syncing; they leave the chain alone (and refuse what
// reads the state) until this actor tells them `synced`, once the whole
// state is held and the chain's tip moved to the target.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "actors/actors.hpp"
#include "core/state_proof.hpp"
#include "net/range_scheduler.hpp"
#include "storage/sync_store.hpp"

namespace hallmark {

struct state_sync_config {
  /// The target is this many blocks behind the best header (≥ 1): deep
  /// enough that it is rarely reorganised away, well inside the servers'
  /// state history (128 blocks) so change proofs reach it.
  uint64_t depth = 32;
  /// The target moves when the best header is this many blocks past
  /// target + depth (the node sets a quarter of the depth, at least 1).
  uint64_t retarget_blocks = 8;
  /// ... and at most this often, unless it would leave the servers' state
  /// history (half of 128 blocks behind).
  std::chrono::milliseconds retarget_interval{10'000};
  /// Requests in flight at most, and per peer.
  size_t max_requests = 8;
  size_t max_per_peer = 2;
  /// Ranges the key space is first cut into.
  size_t initial_ranges = 16;
  /// Headers asked for at once.
  uint32_t header_batch = 2000;
  /// A peer's pause after a failure doubles from ... to ...
  std::chrono::milliseconds backoff_min{1000};
  std::chrono::milliseconds backoff_max{30'000};
  /// How long a request may take.
  std::chrono::milliseconds request_timeout{60'000};
  std::chrono::milliseconds tick{500};
  /// Points charged for a proof or headers that do not verify.
  int32_t bad_proof_points = 50;
  caf::error validate() const;
};

struct state_sync_state {
  // Not an aggregate: CAF would try to build it from the actor pointer.
  state_sync_state() = default;
  static inline const char* name = "state_sync";

  /// A piece of work: [start, end] at the target root, fetched whole
  /// (`from` zero) or brought from root `from` by a change proof.
  struct work {
    int priority = 1; ///< 0 continuation, 1 new range, 2 to a newer root
    trie::state_key start{};
    trie::state_key end{};
    hash256 from{};
    bool operator<(const work& o) const {
      return std::tie(priority, start) < std::tie(o.priority, o.start);
    }
  };

  struct peer {
    peer_session_actor session;
    std::string address;
    bool have_info = false;
    bool asking_info = false;
    peer_info info;
    std::chrono::steady_clock::time_point info_at{};
    std::chrono::steady_clock::time_point retry_at{};
    std::chrono::milliseconds backoff{0};
  };

  /// A piece of work as asked: at the target root of the time (zero while
  /// queued). Ordered as its work.
  struct request {
    work item;
    hash256 root{};
    bool operator<(const request& o) const { return item < o.item; }
  };

  state_sync_config cfg;
  const chain_store* store = nullptr;
  std::unique_ptr<sync_store> sync;
  connector_actor connector;
  block_processor_actor processor;
  /// Told `synced` when the sync is done.
  std::vector<sync_listener_actor> listeners;

  std::map<public_key, peer> peers;
  tip_entry headers{}; ///< the header chain's last header
  work_t headers_work = 0;
  bool fetching_headers = false;
  std::optional<sync_target> target;
  bool targeted = false; ///< a target was chosen in this run
  /// The work queue and the requests under way, by peer
  /// (net/range_scheduler.hpp); late answers settle to nothing.
  net::range_scheduler<request> schedule{8, 2};
  bool finished = false;
  bool finishing = false;
  /// The best peer was asked whether the target is still on its chain;
  /// it said yes (reset when the target moves).
  bool confirming = false;
  bool confirmed = false;

  // progress
  uint64_t keys = 0;
  uint64_t resumed_keys = 0;
  uint64_t received_keys = 0;
  uint64_t replies = 0; ///< verified and stored
  std::chrono::steady_clock::time_point last_retarget{};
  /// Why the sync is not moving, for status (empty: it is).
  std::string error;
  /// After this node failed to store a range: no request before this.
  std::chrono::steady_clock::time_point paused_until{};
  std::chrono::milliseconds storage_backoff{0};
  uint64_t bytes = 0;
  uint64_t retargets = 0;
  uint64_t bad_proofs = 0;
  std::chrono::steady_clock::time_point began{};
  std::chrono::steady_clock::time_point finished_at{};
  uint64_t final_ranges = 0;
  std::chrono::steady_clock::time_point last_log{};
};

/// Spawned detached, only when a state sync is to run or resume. Those that
/// wait for it subscribe (atom::subscribe) and hear `synced` once.
state_sync_actor::behavior_type
state_sync(state_sync_actor::stateful_pointer<state_sync_state> self,
           const chain_store* store, connector_actor connector,
           block_processor_actor processor, state_sync_config cfg);

} // namespace hallmark
