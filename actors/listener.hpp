// listener: binds the node's peer addresses (IPv4 and IPv6), accepts links
// up to a cap and hands each to its own peer_session broker.
#pragma once

#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/io/doorman.hpp>

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

/// Serves the bound sockets: each accepted link gets a peer_session.
caf::actor spawn_listener(caf::actor_system& sys, bound_listeners bound,
                          listener_config cfg, session_deps deps);

} // namespace hallmark
