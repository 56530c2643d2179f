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

std::optional<caf::actor_addr>
choose_eviction(const std::map<caf::actor_addr, listener_state::link>& inbound,
                const std::string& host,
                const std::function<bool(const std::string&)>& discouraged) {
  using link = listener_state::link;
  if (discouraged(host))
    return std::nullopt; // served only when there is room
  std::map<std::string, size_t> links_of, handshaking_of;
  for (auto& [a, l] : inbound) {
    ++links_of[l.host];
    if (!l.handshaken)
      ++handshaking_of[l.host];
  }
  // 1. Still in the handshake: the host with the most such links, oldest.
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
  if (pick != nullptr)
    return pick->first;
  // 2. Handshaken: the longest-lived half is protected; of the rest, a
  // discouraged host first, then the host with the most links, youngest.
  std::vector<const std::pair<const caf::actor_addr, link>*> rest;
  for (auto& entry : inbound)
    rest.push_back(&entry);
  std::sort(rest.begin(), rest.end(), [](auto* x, auto* y) {
    return x->second.accepted < y->second.accepted;
  });
  rest.erase(rest.begin(), rest.begin() + static_cast<long>(rest.size() / 2));
  auto rank = [&](const link& l) {
    return std::tuple(discouraged(l.host), links_of[l.host], l.accepted);
  };
  for (auto* entry : rest)
    if (pick == nullptr || rank(entry->second) > rank(pick->second))
      pick = entry;
  if (pick != nullptr)
    return pick->first;
  return std::nullopt;
}

namespace {

/// Ends the session `victim` and frees its slot.
void evict(listener_broker* self, const caf::actor_addr& victim,
           const std::string& why) {
  auto& st = self->state;
  auto i = st.inbound.find(victim);
  if (i == st.inbound.end())
    return;
  log_info("listener", "evicting a link from {} ({}): {}", i->second.host,
           i->second.handshaken ? "linked" : "in the handshake", why);
  st.inbound.erase(i);
  if (auto session = caf::actor_cast<caf::actor>(victim))
    self->send_exit(session, caf::exit_reason::user_shutdown);
}

} // namespace

listener_actor::behavior_type
listener(listener_broker* self, listener_config cfg, session_deps deps,
         std::vector<caf::io::doorman_ptr> doormen) {
  close_mailbox_on_exit(self);
  for (auto& d : doormen)
    self->add_doorman(std::move(d));
  self->state.cfg = std::move(cfg);
  self->state.deps = std::move(deps);
  self->state.deps.listener = listener_actor{self};
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    st.sessions.erase(msg.source);
    auto i = st.inbound.find(msg.source);
    if (i == st.inbound.end())
      return;
    auto host = i->second.host;
    st.inbound.erase(i);
    // A session that ended by its peer's fault (bad frames, a failed
    // handshake) discourages the host: its key, if it had one, was charged
    // at the connector. Timeouts, closed links and configuration
    // mismatches do not.
    if (!discourages(msg.reason))
      return;
    if (st.discouraged_until.count(host) == 0)
      log_info("listener", "host {} discouraged for {} s: a link misbehaved",
               host, st.cfg.discourage_seconds);
    st.discouraged_until[host] = unix_now() + st.cfg.discourage_seconds;
  });
  // Sessions are linked to the listener so they end with it; their own
  // ends must not end it.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    if (self->state.sessions.count(msg.source) == 0
        && msg.reason == caf::exit_reason::user_shutdown)
      self->quit(msg.reason);
  });
  return {
    [=](const caf::io::new_connection_msg& msg) {
      auto& st = self->state;
      auto host = self->remote_addr(msg.handle);
      auto remote = host + ":" + std::to_string(self->remote_port(msg.handle));
      auto now = unix_now();
      for (auto i = st.discouraged_until.begin();
           i != st.discouraged_until.end();)
        i = i->second <= now ? st.discouraged_until.erase(i) : std::next(i);
      auto discouraged = [&](const std::string& h) {
        return st.discouraged_until.count(h) > 0;
      };
      // A host's links in the handshake, at most max_handshaking_per_host:
      // its oldest one gives way.
      std::optional<caf::actor_addr> oldest;
      size_t handshaking = 0;
      for (auto& [a, l] : st.inbound)
        if (l.host == host && !l.handshaken) {
          ++handshaking;
          if (!oldest || l.accepted < st.inbound[*oldest].accepted)
            oldest = a;
        }
      if (oldest && handshaking >= st.cfg.max_handshaking_per_host)
        evict(self, *oldest, "too many links of its host in the handshake");
      if (st.inbound.size() >= st.cfg.max_inbound) {
        auto victim = choose_eviction(st.inbound, host, discouraged);
        if (!victim) {
          log_info("listener", "refusing {}: {} inbound links already{}",
                   remote, st.inbound.size(),
                   discouraged(host) ? " and its host is discouraged" : "");
          self->close(msg.handle);
          return;
        }
        evict(self, *victim, "the inbound slots are full");
      }
      auto session = self->fork(peer_session, msg.handle, st.deps,
                                std::optional<public_key>{}, remote);
      self->monitor(session);
      self->link_to(session);
      st.sessions.insert(session.address());
      st.inbound.emplace(
        session.address(),
        listener_state::link{host, std::chrono::steady_clock::now(), false});
    },
    [=](atom::up, const public_key&) -> caf::result<bool> {
      auto& st = self->state;
      auto i = st.inbound.find(
        caf::actor_cast<caf::actor_addr>(self->current_sender()));
      if (i == st.inbound.end())
        return make_error(ec::io, "the link was evicted in the handshake");
      i->second.handshaken = true;
      return true;
    },
    [=](const caf::io::acceptor_closed_msg&) {
      log_warning("listener", "a listening socket closed");
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
  return sys.middleman().spawn_broker(listener, cfg, std::move(deps),
                                      std::move(bound.doormen));
}

} // namespace hallmark
