// listener: binds the node's peer addresses (IPv4 and IPv6), accepts links
// and hands each to its own peer_session broker.
//
// Misbehaviour is charged to keys (at the connector); an address is at most
// *discouraged*, never refused for what others at it did (many honest
// nodes may share one address).
//
// Slots. A new link first holds only a *handshake slot*: there are as many
// as there are free authenticated slots, plus `handshake_allowance`; one
// host holds at most `max_handshaking_per_host` of them (one more ends its
// own oldest), and the handshake deadline (session_limits::
// handshake_timeout) bounds how long any is held. When they are all taken,
// the new link ends the link in the handshake from the host with the most
// such links, oldest first, whoever the newcomer is; a handshaken link is
// never ended for a link that has not proven a key. So sockets that never
// handshake cannot displace linked peers, nor keep an honest node out.
//
// Eviction. Once its handshake is done, a link asks for one of the
// `max_inbound` *authenticated slots*. When they are full, it takes the
// slot of the least useful link (after Bitcoin Core's
// AttemptToEvictConnection): a handshaken link outside the protected
// longest-lived half, from a discouraged host first, then from the host
// with the most links, youngest first. It is refused instead (closed,
// nobody charged) when its host is discouraged, or when its key was
// evicted within `eviction_memory_seconds`: an evicted peer that redials
// at once must not evict the next one (honest churn would never settle);
// its dialer backs off.
//
// Logs. Lines about one link that never became a link (garbage, a refused
// or failed handshake) are at most `log_lines_per_host` per host a minute,
// then one line "… and K more from HOST"; none for a host already
// discouraged.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/io/doorman.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/peer_session.hpp"

namespace hallmark {

struct listener_config {
  /// Handshaken inbound links at most; one more evicts one (the rule
  /// above).
  size_t max_inbound = 125;
  /// Links from one host still in the handshake, at most.
  size_t max_handshaking_per_host = 2;
  /// Links in the handshake beyond the free authenticated slots, at most.
  size_t handshake_allowance = 8;
  /// How long a host stays discouraged after one of its links misbehaved,
  /// in seconds.
  uint64_t discourage_seconds = 3600;
  /// How long an evicted key may evict no one, in seconds.
  uint64_t eviction_memory_seconds = 600;
  /// Lines about links that never became links, per host and minute.
  size_t log_lines_per_host = 5;
};

/// Rate-limits log lines by host: at most `per_minute` lines per host in a
/// minute; the rest are counted, and summed up once the minute is over.
class host_log_limit {
public:
  using clock = std::chrono::steady_clock;

  /// @param per_minute lines per host and minute.
  explicit host_log_limit(size_t per_minute = 5) : per_minute_(per_minute) {}

  /// Whether a line about `host` may be logged at `now`; if not, it is
  /// counted for the summary.
  bool allow(const std::string& host, clock::time_point now);

  /// The hosts whose minute is over with lines held back, each with how
  /// many; they start afresh.
  std::vector<std::pair<std::string, size_t>>
  take_summaries(clock::time_point now);

private:
  struct window {
    clock::time_point start;
    size_t logged = 0;
    size_t held = 0;
  };
  size_t per_minute_;
  std::map<std::string, window> hosts_;
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
    /// It holds an authenticated slot (else a handshake slot).
    bool handshaken = false;
    /// Its proven key, once handshaken.
    public_key key{};
  };

  listener_config cfg;
  session_deps deps;
  /// Live inbound sessions holding a slot.
  std::map<caf::actor_addr, link> inbound;
  /// Every session forked and not yet gone (evicted ones too).
  std::set<caf::actor_addr> sessions;
  /// Discouraged hosts and the unix second that ends.
  std::map<std::string, uint64_t> discouraged_until;
  /// Keys evicted lately, and when.
  std::map<public_key, std::chrono::steady_clock::time_point> evicted;
  /// Lines about links that never became links.
  host_log_limit log_limit;
};

/// The link in the handshake to end so that a new link fits when the
/// handshake slots are all taken: from the host with the most such links,
/// oldest first; nothing if no link is in the handshake.
/// @param inbound the live links.
std::optional<caf::actor_addr> choose_handshake_eviction(
  const std::map<caf::actor_addr, listener_state::link>& inbound);

/// The handshaken link to end so that a link from `host` that has just
/// finished its handshake gets an authenticated slot, by the rule at the
/// top of this file; nothing: refuse the new link instead.
/// @param inbound the live links (the authenticated slots are full).
/// @param discouraged whether a host is discouraged now.
std::optional<caf::actor_addr>
choose_eviction(const std::map<caf::actor_addr, listener_state::link>& inbound,
                const std::string& host,
                const std::function<bool(const std::string&)>& discouraged);

/// The listener's whole interface: listener_actor and its own timer (the
/// log summaries).
using listener_broker_actor = listener_actor::extend<
  caf::reacts_to<atom::tick>>;

using listener_broker = caf::stateful_actor<
  listener_state, typed_broker_of<listener_broker_actor>::type>;

/// Serves `doormen`: each accepted link gets a peer_session forked from this
/// broker (in a handshake slot, ending another link in the handshake when
/// they are all taken), linked to it (so sessions end with it) and
/// monitored (so a session that ends in misbehaviour discourages its
/// host); a session that finished its handshake asks for an authenticated
/// slot (`up`).
/// @param cfg the slots, the eviction rule and the log limit.
/// @param deps what each session is given.
/// @param doormen the listening sockets, bound by bind_listeners.
listener_broker_actor::behavior_type
listener(listener_broker* self, listener_config cfg, session_deps deps,
         std::vector<caf::io::doorman_ptr> doormen);

/// Serves the bound sockets: each accepted link gets a peer_session.
listener_actor spawn_listener(caf::actor_system& sys, bound_listeners bound,
                              listener_config cfg, session_deps deps);

} // namespace hallmark
