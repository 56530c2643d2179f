#include "actors/listener.hpp"

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/system_messages.hpp>
#include <caf/io/typed_broker.hpp>

#include "core/log.hpp"
#include "messages/registration.hpp"

namespace hallmark {

listener_actor::behavior_type
listener(listener_broker* self, listener_config cfg, session_deps deps,
         std::vector<caf::io::doorman_ptr> doormen) {
  for (auto& d : doormen)
    self->add_doorman(std::move(d));
  self->state.cfg = std::move(cfg);
  self->state.deps = std::move(deps);
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    auto i = st.inbound.find(msg.source);
    if (i == st.inbound.end())
      return;
    auto host = i->second;
    st.inbound.erase(i);
    // A session that ended in misbehaviour exits with its error.
    if (!msg.reason || msg.reason == caf::exit_reason::user_shutdown
        || code_of(msg.reason) == ec::none)
      return;
    if (++st.strikes[host] >= st.cfg.strikes) {
      st.strikes.erase(host);
      st.banned_until[host] = unix_now() + st.cfg.ban_seconds;
      log_warning("listener", "host {} misbehaved {} times: refused for {} s",
                  host, st.cfg.strikes, st.cfg.ban_seconds);
    }
  });
  // Sessions are linked to the listener so they end with it; their own
  // ends must not end it.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    if (self->state.inbound.count(msg.source) == 0
        && msg.reason == caf::exit_reason::user_shutdown)
      self->quit(msg.reason);
  });
  return {
    [=](const caf::io::new_connection_msg& msg) {
      auto& st = self->state;
      auto host = self->remote_addr(msg.handle);
      auto remote = host + ":" + std::to_string(self->remote_port(msg.handle));
      if (auto b = st.banned_until.find(host); b != st.banned_until.end()) {
        if (b->second > unix_now()) {
          self->close(msg.handle);
          return;
        }
        st.banned_until.erase(b);
      }
      if (st.inbound.size() >= st.cfg.max_inbound) {
        log_warning("listener", "refusing {}: {} inbound links already", remote,
                    st.inbound.size());
        self->close(msg.handle);
        return;
      }
      auto session = self->fork(peer_session, msg.handle, st.deps,
                                std::optional<public_key>{}, remote);
      self->monitor(session);
      self->link_to(session);
      st.inbound.emplace(session.address(), host);
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
