// The connector's peer table, for actors/connector.cpp: the clock it reads,
// links (dialling, registering, asking for info), scores and bans, and the
// table `hallmark peers` shows. Internal to the connector: nothing else
// includes it.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "actors/connector.hpp"

namespace hallmark::connector_links {

using self_ptr = connector_actor::stateful_pointer<connector_state>;
using phase = connector_state::phase;
using peer_entry = connector_state::peer_entry;

/// The actor clock (simulated in the deterministic tests).
std::chrono::steady_clock::time_point now_of(self_ptr self);

/// now_of in milliseconds since the clock's epoch.
uint64_t now_ms(self_ptr self);

/// Moves the state machine to `p`, logging the change.
void set_phase(self_ptr self, phase p);

/// Peers with a live session.
size_t live_links(self_ptr self);

/// Asks a linked peer for its info; updates its entry. A reply of another
/// chain, or one that does not decode, is charged.
void refresh_info(self_ptr self, const public_key& key);

/// Sends our registration over a new outbound link; the reply's peers go
/// to the announcer.
void register_with(self_ptr self, const public_key& key);

/// Dials every static peer, and the dynamic peers chosen at key-space
/// offsets from our own key, that are not linked, banned or backing off.
void maintain_links(self_ptr self);

/// Bans `key` until unix second `until`: stored, its link cut, and a fetch
/// from it dropped.
void ban(self_ptr self, const public_key& key, uint64_t until);

/// Charges `key` `points` for `reason`; bans it at ban_points.
void charge(self_ptr self, const public_key& key, int32_t points,
            const std::string& reason);

/// Every known peer, as `hallmark peers` shows it.
std::vector<peer_status> peer_table(self_ptr self);

} // namespace hallmark::connector_links
