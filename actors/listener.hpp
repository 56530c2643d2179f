// listener: binds the node's peer addresses (IPv4 and IPv6), accepts links
// up to a cap and hands each to its own peer_session broker.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/io/doorman.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/peer_session.hpp"

namespace hallmark {

struct listener_config {
  /// Inbound links at most; more are closed at once.
  size_t max_inbound = 125;
  /// Links from one host that may end in misbehaviour (bad frames, failed
  /// handshakes) before the host is refused ...
  uint32_t strikes = 3;
  /// ... for this long.
  uint64_t ban_seconds = 3600;
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

  listener_config cfg;
  session_deps deps;
  /// Live inbound sessions and the host each came from.
  std::map<caf::actor_addr, std::string> inbound;
  /// Misbehaving links per host, below the ban.
  std::map<std::string, uint32_t> strikes;
  /// Refused hosts and the unix second their ban ends.
  std::map<std::string, uint64_t> banned_until;
};

using listener_broker = caf::stateful_actor<
  listener_state, typed_broker_of<listener_actor>::type>;

/// Serves `doormen`: each accepted link, unless its host is banned or the
/// inbound cap is reached, gets a peer_session forked from this broker,
/// linked to it (so sessions end with it) and monitored (so a session that
/// ends in misbehaviour is a strike against its host).
/// @param cfg the inbound cap and the ban rule.
/// @param deps what each session is given.
/// @param doormen the listening sockets, bound by bind_listeners.
listener_actor::behavior_type
listener(listener_broker* self, listener_config cfg, session_deps deps,
         std::vector<caf::io::doorman_ptr> doormen);

/// Serves the bound sockets: each accepted link gets a peer_session.
listener_actor spawn_listener(caf::actor_system& sys, bound_listeners bound,
                              listener_config cfg, session_deps deps);

} // namespace hallmark
