// listener: binds the node's peer addresses (IPv4 and IPv6), accepts links
// and hands each to its own peer_session broker.
//
// Misbehaviour is charged to keys (at the connector); an address is at most
// *discouraged*, never refused for what others at it did (many honest
// nodes may share one address). When the inbound slots are full, a new link
// takes the slot of the least useful one (after Bitcoin Core's
// AttemptToEvictConnection):
//   1. a link that has not finished its handshake, from the host with the
//      most such links, oldest first;
//   2. else a handshaken link outside the protected longest-lived half,
//      from a discouraged host first, then from the host with the most
//      links, youngest first;
//   3. else (or when the new link's host is discouraged) the new link is
//      closed.
// A host has at most `max_handshaking_per_host` links in the handshake at
// once: one more takes the slot of its own oldest. The handshake deadline
// (session_limits::handshake_timeout) bounds how long a link may hold a
// slot without a key.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/io/doorman.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/peer_session.hpp"

namespace hallmark {

struct listener_config {
  /// Inbound links at most; one more evicts one (the rule above).
  size_t max_inbound = 125;
  /// Links from one host still in the handshake, at most.
  size_t max_handshaking_per_host = 2;
  /// How long a host stays discouraged after one of its links misbehaved,
  /// in seconds.
  uint64_t discourage_seconds = 3600;
};

/// Sockets bound and listening, not yet served.
struct bound_listeners {
  std::vector<caf::io::doorman_ptr> doormen;
  /// "host:port" of each, with the real port where 0 was asked for.
  std::vector<std::string> addresses;
};

/// Binds every address ("host:port" or "[v6]:port"), all or nothing.
caf::expected<bound_listeners>
bind_listeners(caf::actor_system& sys, const std::vector<std::string>& addrs);

struct listener_state {
  // Not an aggregate: CAF would try to build it from the actor pointer.
  listener_state() = default;
  static inline const char* name = "listener";

  /// One live inbound link.
  struct link {
    std::string host;
    std::chrono::steady_clock::time_point accepted;
    bool handshaken = false;
  };

  listener_config cfg;
  session_deps deps;
  /// Live inbound sessions holding a slot.
  std::map<caf::actor_addr, link> inbound;
  /// Every session forked and not yet gone (evicted ones too).
  std::set<caf::actor_addr> sessions;
  /// Discouraged hosts and the unix second that ends.
  std::map<std::string, uint64_t> discouraged_until;
};

/// The inbound link to end so that a new link from `host` fits, by the rule
/// at the top of this file; nothing: close the new link instead.
/// @param inbound the live links (the slots are full).
/// @param discouraged whether a host is discouraged now.
std::optional<caf::actor_addr>
choose_eviction(const std::map<caf::actor_addr, listener_state::link>& inbound,
                const std::string& host,
                const std::function<bool(const std::string&)>& discouraged);

using listener_broker = caf::stateful_actor<
  listener_state, typed_broker_of<listener_actor>::type>;

/// Serves `doormen`: each accepted link gets a peer_session forked from this
/// broker (after an eviction when the slots are full), linked to it (so
/// sessions end with it) and monitored (so a session that ends in
/// misbehaviour discourages its host).
/// @param cfg the inbound cap and the eviction rule.
/// @param deps what each session is given.
/// @param doormen the listening sockets, bound by bind_listeners.
listener_actor::behavior_type
listener(listener_broker* self, listener_config cfg, session_deps deps,
         std::vector<caf::io::doorman_ptr> doormen);

/// Serves the bound sockets: each accepted link gets a peer_session.
listener_actor spawn_listener(caf::actor_system& sys, bound_listeners bound,
                              listener_config cfg, session_deps deps);

} // namespace hallmark
