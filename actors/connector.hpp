// connector: keeps the node linked to its peers and on the best chain.
//
// bitmarkd's state machine, with most-cumulative-work fork choice:
//
//   CONNECTING ──(live links ≥ min_clients)──▶ HIGHEST_BLOCK
//        ▲                                        │ info from every link;
//        │ (too few links)                        │ best = most work, then
//        │                                        │ smaller tip hash
//   SAMPLING ◀──(not behind)──────────────────────┤
//    │   ▲                                        ▼ (best has more work)
//    │   └──── REBUILD ◀──(done)── FETCH_BLOCKS ◀── FORK_DETECT
//    │                               │ (upstream fails: charge it,
//    │                               │  fail over to the next best)
//    └─(behind for sample_limit cycles)──▶ HIGHEST_BLOCK
//
// FORK_DETECT compares our block hashes with the upstream's, stepping back
// exponentially (1, 2, 4, … blocks) from the lower of the two tips to the
// last common block; FETCH_BLOCKS has the prefetcher bring the upstream's
// blocks from there. Static peers (--peer KEY@HOST:PORT) are always dialled;
// dynamic peers come from the announcer and are chosen at key-space offsets
// from our own key. Links are scored by key: a peer reaching ban_points is
// cut off and its key refused for ban_seconds (kept in the local store, so
// a restart keeps it); `hallmark peers ban|unban` do the same by hand.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "actors/actors.hpp"
#include "actors/peer_session.hpp"
#include "actors/progress.hpp"
#include "storage/local_store.hpp"

namespace hallmark {

struct static_peer {
  public_key key{};
  std::string host;
  uint16_t port = 0;
};

/// Parses "PUBKEY@HOST:PORT" (PUBKEY 64 hex, HOST v4 or [v6]).
caf::expected<static_peer> parse_static_peer(std::string_view text);

struct connector_config {
  std::vector<static_peer> static_peers;
  /// Live links needed before looking for the highest block.
  size_t min_clients = 5;
  /// Dynamic (announced) peers dialled at most.
  size_t max_dynamic = 25;
  std::chrono::milliseconds cycle{15'000};
  /// Cycles behind a better peer before a new HIGHEST_BLOCK round.
  uint32_t sample_limit = 6;
  int32_t ban_points = 100;
  uint64_t ban_seconds = 3600;
  /// Longest wait for prefetch progress before failing over.
  std::chrono::milliseconds stall{60'000};
  /// Upstreams a block fetch takes ranges from at once (the chosen
  /// upstream and up to sync_peers - 1 more).
  size_t sync_peers = 3;
  /// The block assumed valid (zero: none): a fetch that has not reached it
  /// checks the upstream's headers lead to it, and skips the signatures of
  /// its ancestors.
  hash256 assume_valid{};
  /// Deepest fork followed (block_processor's reorg window): a heavier
  /// branch forking deeper is reported, not fetched.
  uint64_t reorg_window = 100;
  /// Where bans persist (the local store's `bans` table); null: they do
  /// not outlive the process.
  local_store* bans = nullptr;
  /// Our listener addresses, sent in registrations; empty: none sent.
  std::vector<std::string> listeners;
  /// Links a peer's registration is relayed to, at most, chosen at random
  /// from the live links but its origin (gossip, as Bitcoin relays `addr`
  /// to a few peers): flooding every registration to every link cost
  /// N² · links frames per announcement period, most of a mesh's traffic
  /// at 64 nodes. Every node announces itself again each period, so one
  /// that a relay misses is heard of the next time. Blocks and records
  /// still go to every link.
  size_t announcement_fanout = 8;
  /// A state sync runs (actors/state_sync.hpp): no block fetch begins
  /// until it says it is done (atom::synced).
  bool state_syncing = false;
};

struct connector_state {
  // Not an aggregate: CAF would try to build it from the actor pointer.
  connector_state() = default;
  static inline const char* name = "connector";

  enum class phase {
    connecting,
    highest_block,
    fork_detect,
    fetch_blocks,
    rebuild,
    sampling
  };

  struct peer_entry {
    std::vector<std::string> addresses;
    bool is_static = false;
    bool inbound = false;
    peer_session_actor session;
    bool have_info = false;
    uint64_t height = 0;
    hash256 tip{};
    work_t work = 0;
    /// It serves blocks from base + 1 only (a state sync began its chain).
    uint64_t base = 0;
    uint64_t last_seen = 0;
    int64_t score = 0;
    uint64_t banned_until = 0;
    std::chrono::steady_clock::time_point next_dial{};
    /// Not chosen as upstream before this (it failed or stalled us), unless
    /// no other peer has more work.
    std::chrono::steady_clock::time_point avoid_until{};
    std::chrono::milliseconds backoff{0};
    /// Dials made: each tries the next of `addresses`.
    size_t dials = 0;
    /// This peer's branch forks deeper than the reorg window: not chosen
    /// as upstream before this time (it is checked again then).
    std::chrono::steady_clock::time_point deep_fork_until{};
  };

  /// The heavier branch last refused as too deep (for status and the log).
  struct deep_fork {
    public_key peer{};
    uint64_t fork_height = 0;
    uint64_t depth = 0;
    uint64_t tip_height = 0;
  };

  connector_config cfg;
  session_deps deps;
  std::optional<key_pair> identity; ///< always set once spawned
  prefetcher_actor prefetch;
  phase state = phase::connecting;
  std::map<public_key, peer_entry> peers;
  std::optional<public_key> upstream;
  uint32_t samples_behind = 0;
  /// When every linked peer was last asked for its info.
  std::chrono::steady_clock::time_point last_info_round{};
  /// Our tip's height when the fork detection began.
  uint64_t our_height = 0;
  std::optional<deep_fork> refused_fork;
  /// A failure of this node (storage) pauses fetching until then, with a
  /// backoff doubling from one cycle to a minute.
  std::chrono::steady_clock::time_point fetch_paused_until{};
  std::chrono::milliseconds fetch_backoff{0};
  std::string fetch_error;
  uint64_t target = 0;
  uint64_t last_progress_ms = 0;
  /// The fetch under way: when it began and its last report.
  uint64_t fetch_started_ms = 0;
  std::optional<fetch_report> last_report;
  /// Shows the fetch's progress; the connector only feeds it.
  progress_display progress{stderr_is_terminal()};
  bool probing = false;
  std::vector<registration> candidates;
  /// Picks the links a registration is relayed to.
  std::minstd_rand rng{std::random_device{}()};
};

const char* to_string(connector_state::phase p);

/// @param cfg peers, timers, limits and where bans persist.
/// @param deps what each dialled session needs (its connector is this one);
///        its `processor` answers our tip.
/// @param identity our key: a link to it is refused, and registrations we
///        send are signed with it.
connector_actor::behavior_type
connector(connector_actor::stateful_pointer<connector_state> self,
          connector_config cfg, session_deps deps, key_pair identity);

} // namespace hallmark
