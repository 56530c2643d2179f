// announcer: the table of known peers, from signed registrations.
//
// A peer's registration reaches us two ways: `registr`, sent by the peer
// itself over its link (so its key must be the link's authenticated key),
// and `announce`, relayed by any peer (its signature proves who made it; no
// link binding). Both are checked by node/registration.hpp's rules against
// our chain and the injected clock (at most expire_after_s old, at most
// max_future_s ahead) and then enter the table under this rule, bitmarkd's:
//
//   unknown key ........................ stored, persisted, relayed
//   known key, timestamp at least
//   min_update_s newer ................. replaces the row, persisted, relayed
//   known key, anything else ........... ignored (not stored, not relayed)
//
// so a flood of one registration ends at every node that has already seen
// it. "Relayed" means the connector gets (relay, registration, origin), the
// link it came from (null for our own), and passes it to every other link.
// Every change of the table also hands the connector the whole table as its
// dial candidates. A `registr` is answered with one random other known peer
// that listens somewhere (never the registrant, never us), or nothing.
//
// Our own key is never stored. The table holds at most max_peers rows; a
// new key beyond that evicts the row with the oldest timestamp (or is
// itself dropped if it is the oldest). Rows older than expire_after_s go on
// every message and every timer tick, and from local_store with them.
//
// Timers: the first tick after first_announce_ms, then one every
// announce_every_ms. A tick expires old rows and, if we listen anywhere,
// relays a fresh registration of ourselves. Only ticks the announcer sent
// itself re-arm the timer, so an extra tick sent from outside (a test) adds
// no second timer chain.
//
// State at start: the peer table of local_store, minus rows that no longer
// pass the checks (expired, other chain, our own key, undecodable), which
// are removed from the store; the connector gets the restored table at once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "actors/actors.hpp"
#include "core/crypto.hpp"
#include "storage/local_store.hpp"

namespace hallmark {

struct announcer_config {
  /// Our chain's name; registrations of other chains are refused.
  std::string chain;
  /// Delay of the first announcement of ourselves.
  uint64_t first_announce_ms = 120'000;
  /// Period of our announcements (and of expiry by timer).
  uint64_t announce_every_ms = 660'000;
  /// Age (by the registration's timestamp) at which a row expires; older
  /// registrations are refused.
  uint64_t expire_after_s = 3300;
  /// An update of a known key under this much newer is ignored.
  uint64_t min_update_s = 420;
  /// How far ahead of our clock a timestamp may be.
  uint64_t max_future_s = 300;
  /// Most rows the table holds.
  size_t max_peers = 1000;
  /// Changes to the table are written to the local store together, in one
  /// transaction at most this long after the first (0: each at once, in
  /// its own); what still waits is written when the announcer exits. One
  /// fsync per registration was, at 64 nodes, most of the disk's work.
  uint64_t persist_delay_ms = 1000;
  /// Seconds since the Unix epoch; tests inject their own.
  std::function<uint64_t()> clock;
  /// Our own listener addresses, as announced; none means we do not
  /// announce ourselves.
  std::vector<std::string> listeners;

  /// This configuration with every timer divided by `divisor`, a chain's
  /// `timer_divisor` (DESIGN.md "devnet timers": 60 on devnet, so the first
  /// announcement comes after 2 s, then every 11 s, expiry after 55 s,
  /// updates under 7 s ignored). max_future_s, a clock-skew allowance
  /// rather than a timer, stays.
  announcer_config scaled(uint32_t divisor) const;

  /// ec::bad_config if a value is out of range or one of our own listeners
  /// would not pass check_registration.
  caf::error validate() const;
};

struct announcer_state {
  // Not an aggregate: CAF would try to build it from the actor pointer.
  announcer_state() = default;
  static inline const char* name = "announcer";

  std::optional<key_pair> identity; ///< always set once spawned
  local_store* local = nullptr;
  connector_actor connector;
  announcer_config cfg;
  /// Known peers by identity key.
  std::map<public_key, registration> peers;
  /// Changes not written to the local store yet: a row to store, or none
  /// to remove it.
  std::map<public_key, std::optional<registration>> unsaved;
  /// Picks the peer a registrant is told of; seeded from our key, so a run
  /// is deterministic given the clock and the messages.
  std::mt19937_64 rng;
};

/// @param identity our Ed25519 identity: signs our announcements, and
///        registrations of this key are never stored.
/// @param local the durable home of the peer table (its `peers` rows); may be
///        null, then nothing persists.
/// @param connector gets the dial candidates and the relays; may be null.
/// @param cfg timers, limits, chain and our listeners; `clock` defaults to
///        the wall clock.
announcer_actor::behavior_type
announcer(announcer_actor::stateful_pointer<announcer_state> self,
          key_pair identity, local_store* local, connector_actor connector,
          announcer_config cfg);

} // namespace hallmark
