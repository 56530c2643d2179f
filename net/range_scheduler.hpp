// range_scheduler: which peer is asked for which range, for every fetch
// that spreads ranges over several peers — blocks by height (the
// prefetcher) and state by key (state_sync).
//
//   add(range) ──▶ queue ──pick(ready) + take(peer)──▶ in flight (by id)
//                    ▲                                   │
//                    ├──────── failed(id) ◀──────────────┤ an error, a timeout
//                    ├──────── drop(peer) ◀──────────────┤ the peer is gone
//                    │                                   ▼
//                    │                              settle(id): the answer
//   reset(): queue and in flight emptied; every id given out before it
//            settles to nothing, so a late answer is ignored.
//
// Plain C++: no actor, no clock, no I/O. The caller sends the requests and
// hands each answer (or failure) back by its id. Caps: `max_in_flight`
// requests at once over all peers, `per_peer` per peer. A request goes to
// the ready peer with the fewest requests under way, then to the one
// asked longest ago (libtorrent's piece picker spreads requests the same
// way). Queued ranges are taken in `Compare` order: the lowest heights
// first for blocks (what delivery in order waits for), continuations
// before new ranges for state (actors/state_sync.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "core/crypto.hpp"

namespace hallmark::net {

/// A request the scheduler handed out: its id, the peer asked, the range.
template <class Range>
struct ask {
  uint64_t id = 0;
  public_key peer{};
  Range range{};
};

template <class Range, class Compare = std::less<Range>>
class range_scheduler {
public:
  /// @param max_in_flight requests under way at most, over all peers.
  /// @param per_peer requests under way at most, per peer.
  range_scheduler(size_t max_in_flight, size_t per_peer)
      : max_in_flight_(max_in_flight), per_peer_(per_peer) {
    // nop
  }

  /// Queues `r` to be asked of a peer.
  void add(Range r) { queue_.insert(std::move(r)); }

  /// Whether ranges wait to be asked.
  bool has_queued() const { return !queue_.empty(); }

  /// How many wait.
  size_t queued() const { return queue_.size(); }

  /// The queued range that goes next (has_queued() must hold).
  const Range& front() const { return *queue_.begin(); }

  /// Requests under way, over all peers.
  size_t in_flight() const { return in_flight_.size(); }

  /// Requests under way of `peer`.
  size_t load(const public_key& peer) const {
    auto i = peers_.find(peer);
    return i == peers_.end() ? 0 : i->second.load;
  }

  /// Whether another request may go out at all (the total cap).
  bool has_room() const { return in_flight_.size() < max_in_flight_; }

  /// The peer of `ready` to ask next: the fewest requests under way, then
  /// the one asked longest ago (then the first in `ready`); none when the
  /// total cap is reached or every ready peer is at `per_peer`.
  std::optional<public_key> pick(const std::vector<public_key>& ready) const {
    if (!has_room())
      return std::nullopt;
    std::optional<public_key> best;
    size_t best_load = 0;
    uint64_t best_asked = 0;
    for (auto& key : ready) {
      auto i = peers_.find(key);
      size_t n = i == peers_.end() ? 0 : i->second.load;
      uint64_t asked = i == peers_.end() ? 0 : i->second.last_asked;
      if (n >= per_peer_)
        continue;
      if (!best || n < best_load || (n == best_load && asked < best_asked)) {
        best = key;
        best_load = n;
        best_asked = asked;
      }
    }
    return best;
  }

  /// Takes the first queued range off the queue (has_queued() must hold),
  /// for the caller to complete and hand to start().
  Range pop() {
    auto r = *queue_.begin();
    queue_.erase(queue_.begin());
    return r;
  }

  /// Empties the queue; what is under way stays.
  void clear_queued() { queue_.clear(); }

  /// Calls `f(range)` for every range under way.
  template <class F>
  void for_each_in_flight(F f) const {
    for (auto& [id, e] : in_flight_)
      f(e.range);
  }

  /// Takes the first queued range (has_queued() must hold) and records it
  /// as asked of `peer`.
  ask<Range> take(const public_key& peer) { return start(peer, pop()); }

  /// Records `r`, made on the spot rather than queued, as asked of `peer`.
  ask<Range> start(const public_key& peer, Range r) {
    auto id = next_id_++;
    auto& p = peers_[peer];
    ++p.load;
    p.last_asked = id;
    in_flight_.emplace(id, entry{peer, r});
    return ask<Range>{id, peer, std::move(r)};
  }

  /// The answer to request `id` came: takes it off the books and returns
  /// what was asked, or none if it is no longer under way (reset, failed,
  /// its peer dropped): a late answer, to be ignored.
  std::optional<ask<Range>> settle(uint64_t id) {
    auto i = in_flight_.find(id);
    if (i == in_flight_.end())
      return std::nullopt;
    ask<Range> out{id, i->second.peer, std::move(i->second.range)};
    in_flight_.erase(i);
    release(out.peer);
    return out;
  }

  /// Request `id` failed: its range is queued again, for any peer. The
  /// peer it was asked of, or none if it was no longer under way.
  std::optional<public_key> failed(uint64_t id) {
    auto done = settle(id);
    if (!done)
      return std::nullopt;
    add(std::move(done->range));
    return done->peer;
  }

  /// `peer` is gone: its requests are given up (their answers, if any
  /// come, settle to nothing) and their ranges queued again. Returns those
  /// ranges.
  std::vector<Range> drop(const public_key& peer) {
    std::vector<Range> out;
    for (auto i = in_flight_.begin(); i != in_flight_.end();) {
      if (i->second.peer != peer) {
        ++i;
        continue;
      }
      out.push_back(i->second.range);
      add(std::move(i->second.range));
      i = in_flight_.erase(i);
    }
    peers_.erase(peer);
    return out;
  }

  /// Forgets everything queued and under way. Ids keep counting up, so an
  /// answer to a request made before settles to nothing.
  void reset() {
    queue_.clear();
    in_flight_.clear();
    peers_.clear();
  }

private:
  struct entry {
    public_key peer;
    Range range;
  };
  struct peer_load {
    size_t load = 0;
    uint64_t last_asked = 0; ///< the id of its last request
  };

  void release(const public_key& peer) {
    auto i = peers_.find(peer);
    if (i != peers_.end() && i->second.load > 0)
      --i->second.load;
  }

  size_t max_in_flight_;
  size_t per_peer_;
  std::multiset<Range, Compare> queue_;
  std::map<uint64_t, entry> in_flight_;
  std::map<public_key, peer_load> peers_;
  uint64_t next_id_ = 1;
};

} // namespace hallmark::net
