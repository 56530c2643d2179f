#include "actors/listener.hpp"

#include <algorithm>
#include <tuple>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/system_messages.hpp>
#include <caf/io/typed_broker.hpp>

#include "actors/broker_exit.hpp"
#include "core/log.hpp"
#include "messages/registration.hpp"

namespace hallmark {

bool host_log_limit::allow(const std::string& host, clock::time_point now) {
  auto [i, fresh] = hosts_.try_emplace(host, window{now, 0, 0});
  auto& w = i->second;
  // A minute over with nothing held back starts afresh; with lines held
  // back, the next ones join them until take_summaries sums them up.
  if (!fresh && w.held == 0 && now - w.start >= std::chrono::minutes{1})
    w = window{now, 0, 0};
  if (now - w.start < std::chrono::minutes{1} && w.logged < per_minute_) {
    ++w.logged;
    return true;
  }
  ++w.held;
  return false;
}

std::vector<std::pair<std::string, size_t>>
host_log_limit::take_summaries(clock::time_point now) {
  std::vector<std::pair<std::string, size_t>> out;
  for (auto i = hosts_.begin(); i != hosts_.end();) {
    auto& w = i->second;
    if (now - w.start < std::chrono::minutes{1}) {
      ++i;
      continue;
    }
    if (w.held > 0)
      out.emplace_back(i->first, w.held);
    i = hosts_.erase(i);
  }
  return out;
}

std::optional<caf::actor_addr> choose_handshake_eviction(
  const std::map<caf::actor_addr, listener_state::link>& inbound) {
  using link = listener_state::link;
  std::map<std::string, size_t> handshaking_of;
  for (auto& [a, l] : inbound)
    if (!l.handshaken)
      ++handshaking_of[l.host];
  const std::pair<const caf::actor_addr, link>* pick = nullptr;
  for (auto& entry : inbound) {
    auto& l = entry.second;
    if (l.handshaken)
      continue;
    if (pick == nullptr
        || std::tuple(handshaking_of[l.host], pick->second.accepted)
             > std::tuple(handshaking_of[pick->second.host], l.accepted))
      pick = &entry;
  }
  if (pick == nullptr)
    return std::nullopt;
  return pick->first;
}

std::optional<caf::actor_addr>
choose_eviction(const std::map<caf::actor_addr, listener_state::link>& inbound,
                const std::string& host,
                const std::function<bool(const std::string&)>& discouraged) {
  using link = listener_state::link;
  // A discouraged newcomer takes no handshaken link's slot.
  if (discouraged(host))
    return std::nullopt;
  std::map<std::string, size_t> links_of;
  std::vector<const std::pair<const caf::actor_addr, link>*> rest;
  for (auto& entry : inbound)
    if (entry.second.handshaken) {
      ++links_of[entry.second.host];
      rest.push_back(&entry);
    }
  // The longest-lived half is protected; of the rest, a discouraged host
  // first, then the host with the most links, youngest.
  std::sort(rest.begin(), rest.end(), [](auto* x, auto* y) {
    return x->second.accepted < y->second.accepted;
  });
  rest.erase(rest.begin(), rest.begin() + static_cast<long>(rest.size() / 2));
  auto rank = [&](const link& l) {
    return std::tuple(discouraged(l.host), links_of[l.host], l.accepted);
  };
  const std::pair<const caf::actor_addr, link>* pick = nullptr;
  for (auto* entry : rest)
    if (pick == nullptr || rank(entry->second) > rank(pick->second))
      pick = entry;
  if (pick == nullptr)
    return std::nullopt;
  return pick->first;
}

namespace {

using clock = std::chrono::steady_clock;

bool discouraged(listener_broker* self, const std::string& host) {
  return self->state.discouraged_until.count(host) > 0;
}

/// Logs a line about a link of `host` that is not (yet) a link: none for a
/// discouraged host, at most log_lines_per_host a minute for the others.
template <class... Ts>
void log_link(listener_broker* self, const std::string& host,
              fmt::format_string<Ts...> text, Ts&&... xs) {
  if (discouraged(self, host)
      || !self->state.log_limit.allow(host, self->clock().now()))
    return;
  log_info("listener", text, std::forward<Ts>(xs)...);
}

/// Ends the session `victim` and frees its slot; a handshaken one's key
/// may evict no one for a while.
void evict(listener_broker* self, const caf::actor_addr& victim,
           const std::string& why) {
  auto& st = self->state;
  auto i = st.inbound.find(victim);
  if (i == st.inbound.end())
    return;
  auto& l = i->second;
  if (l.handshaken) {
    log_info("listener", "evicting {}@{}: {}", to_hex(l.key).substr(0, 16),
             l.host, why);
    st.evicted[l.key] = self->clock().now();
  } else {
    log_link(self, l.host, "evicting a link from {} in the handshake: {}",
             l.host, why);
  }
  st.inbound.erase(i);
  if (auto session = caf::actor_cast<caf::actor>(victim))
    self->send_exit(session, caf::exit_reason::user_shutdown);
}

/// Handshake slots: the free authenticated ones plus the allowance.
size_t handshake_slots(const listener_state& st) {
  size_t handshaken = 0;
  for (auto& [a, l] : st.inbound)
    if (l.handshaken)
      ++handshaken;
  auto free = st.cfg.max_inbound > handshaken ? st.cfg.max_inbound - handshaken
                                              : 0;
  return free + st.cfg.handshake_allowance;
}

/// A new connection: a session in a handshake slot, or closed.
void accept(listener_broker* self, caf::io::connection_handle hdl) {
  auto& st = self->state;
  auto host = self->remote_addr(hdl);
  auto remote = host + ":" + std::to_string(self->remote_port(hdl));
  auto now = unix_now();
  for (auto i = st.discouraged_until.begin(); i != st.discouraged_until.end();)
    i = i->second <= now ? st.discouraged_until.erase(i) : std::next(i);
  // A host's links in the handshake, at most max_handshaking_per_host:
  // its oldest one gives way.
  std::optional<caf::actor_addr> oldest;
  size_t own = 0, handshaking = 0;
  for (auto& [a, l] : st.inbound) {
    if (l.handshaken)
      continue;
    ++handshaking;
    if (l.host != host)
      continue;
    ++own;
    if (!oldest || l.accepted < st.inbound[*oldest].accepted)
      oldest = a;
  }
  if (oldest && own >= st.cfg.max_handshaking_per_host) {
    evict(self, *oldest, "too many links of its host in the handshake");
    --handshaking;
  }
  if (handshaking >= handshake_slots(st)) {
    auto victim = choose_handshake_eviction(st.inbound);
    if (!victim) {
      log_link(self, host, "refusing {}: no handshake slot free", remote);
      self->close(hdl);
      return;
    }
    evict(self, *victim, "the handshake slots are full");
  }
  auto session = self->fork(peer_session, hdl, st.deps,
                            std::optional<public_key>{}, remote);
  self->monitor(session);
  self->link_to(session);
  st.sessions.insert(session.address());
  st.inbound.emplace(
    session.address(),
    listener_state::link{host, self->clock().now(), false, {}});
}

/// A session finished its handshake with `key`: an authenticated slot, or
/// why not.
caf::result<bool> admit(listener_broker* self, const public_key& key) {
  auto& st = self->state;
  auto i = st.inbound.find(
    caf::actor_cast<caf::actor_addr>(self->current_sender()));
  if (i == st.inbound.end())
    return make_error(ec::io, "the link was evicted in the handshake");
  auto& host = i->second.host;
  size_t handshaken = 0;
  for (auto& [a, l] : st.inbound)
    if (l.handshaken)
      ++handshaken;
  if (handshaken >= st.cfg.max_inbound) {
    auto memory = std::chrono::seconds{st.cfg.eviction_memory_seconds};
    for (auto e = st.evicted.begin(); e != st.evicted.end();)
      e = self->clock().now() - e->second >= memory ? st.evicted.erase(e)
                                                    : std::next(e);
    if (auto e = st.evicted.find(key); e != st.evicted.end())
      return make_error(
        ec::pool_full,
        fmt::format("inbound slots full, and this key was "
                    "evicted {} s ago",
                    std::chrono::duration_cast<std::chrono::seconds>(
                      self->clock().now() - e->second)
                      .count()));
    auto victim = choose_eviction(st.inbound, host, [&](const std::string& h) {
      return discouraged(self, h);
    });
    if (!victim)
      return make_error(ec::pool_full,
                        discouraged(self, host)
                          ? "inbound slots full, and its host is discouraged"
                          : "inbound slots full");
    evict(self, *victim,
          "the inbound slots are full and " + to_hex(key).substr(0, 16)
            + " finished its handshake");
  }
  i->second.handshaken = true;
  i->second.key = key;
  return true;
}

} // namespace

listener_broker_actor::behavior_type
listener(listener_broker* self, listener_config cfg, session_deps deps,
         std::vector<caf::io::doorman_ptr> doormen) {
  close_mailbox_on_exit(self);
  for (auto& d : doormen)
    self->add_doorman(std::move(d));
  self->state.cfg = std::move(cfg);
  self->state.log_limit = host_log_limit{self->state.cfg.log_lines_per_host};
  self->state.deps = std::move(deps);
  self->state.deps.listener = caf::actor_cast<listener_actor>(self);
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    st.sessions.erase(msg.source);
    auto i = st.inbound.find(msg.source);
    if (i == st.inbound.end())
      return;
    auto l = i->second;
    st.inbound.erase(i);
    if (l.handshaken)
      return; // its session logged its end
    log_link(self, l.host, "a link from {} ended before it was linked: {}",
             l.host,
             msg.reason ? message_of(msg.reason) : std::string{"closed"});
    // A session that ended by its peer's fault (bad frames, a failed
    // handshake) discourages the host: its key, if it had one, was charged
    // at the connector. Timeouts, closed links and configuration
    // mismatches do not.
    if (!discourages(msg.reason))
      return;
    if (st.discouraged_until.count(l.host) == 0)
      log_info("listener", "host {} discouraged for {} s: a link misbehaved",
               l.host, st.cfg.discourage_seconds);
    st.discouraged_until[l.host] = unix_now() + st.cfg.discourage_seconds;
  });
  // Sessions are linked to the listener so they end with it; their own
  // ends must not end it.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    if (self->state.sessions.count(msg.source) == 0
        && msg.reason == caf::exit_reason::user_shutdown)
      self->quit(msg.reason);
  });
  self->delayed_send(self, std::chrono::seconds{10}, atom::tick_v);
  return {
    [=](const caf::io::new_connection_msg& msg) { accept(self, msg.handle); },
    [=](atom::up, const public_key& key) { return admit(self, key); },
    [=](const caf::io::acceptor_closed_msg&) {
      log_warning("listener", "a listening socket closed");
    },
    [=](atom::tick) {
      for (auto& [host, n] :
           self->state.log_limit.take_summaries(self->clock().now()))
        log_info("listener", "… and {} more from {}", n, host);
      self->delayed_send(self, std::chrono::seconds{10}, atom::tick_v);
    },
  };
}

caf::expected<bound_listeners>
bind_listeners(caf::actor_system& sys, const std::vector<std::string>& addrs) {
  bound_listeners out;
  for (auto& a : addrs) {
    auto parsed = parse_listener(a);
    if (!parsed)
      return make_error(ec::bad_config, "cannot parse listen address '" + a
                                          + "' (host:port or [v6]:port)");
    auto doorman = sys.middleman().backend().new_tcp_doorman(
      parsed->second, parsed->first.c_str(), true);
    if (!doorman)
      return make_error(ec::io, "cannot listen on " + a + ": "
                                  + caf::to_string(doorman.error()));
    auto port = (*doorman)->port();
    auto host = parsed->first.find(':') != std::string::npos
                  ? "[" + parsed->first + "]"
                  : parsed->first;
    out.addresses.push_back(host + ":" + std::to_string(port));
    out.doormen.push_back(std::move(*doorman));
  }
  return out;
}

listener_actor spawn_listener(caf::actor_system& sys, bound_listeners bound,
                              listener_config cfg, session_deps deps) {
  return caf::actor_cast<listener_actor>(sys.middleman().spawn_broker(
    listener, cfg, std::move(deps), std::move(bound.doormen)));
}

} // namespace hallmark
