#include "actors/announcer.hpp"

#include <algorithm>
#include <chrono>

#include <caf/typed_event_based_actor.hpp>

#include "core/error.hpp"
#include "core/log.hpp"

namespace hallmark {

announcer_config announcer_config::scaled(uint32_t divisor) const {
  auto out = *this;
  divisor = std::max<uint32_t>(divisor, 1);
  out.first_announce_ms /= divisor;
  out.announce_every_ms /= divisor;
  out.expire_after_s /= divisor;
  out.min_update_s /= divisor;
  return out;
}

caf::error announcer_config::validate() const {
  auto bad = [](std::string what) {
    return make_error(ec::bad_config, "announcer: " + std::move(what));
  };
  if (chain.empty() || chain.size() > max_registration_chain_bytes)
    return bad("chain name must be 1 to "
               + std::to_string(max_registration_chain_bytes) + " bytes");
  if (announce_every_ms == 0)
    return bad("announce_every_ms must be positive");
  if (expire_after_s == 0)
    return bad("expire_after_s must be positive");
  if (announce_every_ms / 1000 >= expire_after_s)
    return bad("announce_every_ms must be shorter than expire_after_s, or "
               "our own registration expires between announcements");
  if (min_update_s >= expire_after_s)
    return bad("min_update_s must be shorter than expire_after_s");
  if (max_peers == 0)
    return bad("max_peers must be positive");
  if (listeners.size() > max_listeners)
    return bad("at most " + std::to_string(max_listeners) + " listeners");
  for (auto& l : listeners)
    if (l.size() > max_listener_bytes || !parse_listener(l))
      return bad("listener '" + l + "' is not host:port or [v6]:port");
  return {};
}

namespace {

using self_ptr = announcer_actor::stateful_pointer<announcer_state>;

const public_key& own_key(self_ptr self) {
  return self->state.identity->public_key_bytes();
}

/// Publishes a registration that was new or a real update, with the link
/// it came from (null: our own), so it goes to every other link.
void relay(self_ptr self, const registration& r,
           const caf::actor_addr& origin) {
  if (self->state.connector)
    self->send(self->state.connector, atom::relay_v, r, origin);
}

/// Hands the connector the whole table as dial candidates.
void tell_connector(self_ptr self) {
  auto& st = self->state;
  if (!st.connector)
    return;
  std::vector<registration> candidates;
  candidates.reserve(st.peers.size());
  for (auto& [key, r] : st.peers)
    candidates.push_back(r);
  self->send(st.connector, atom::candidates_v, std::move(candidates));
}

/// Writes the table's waiting changes to the local store, in one
/// transaction.
void write_unsaved(self_ptr self) {
  auto& st = self->state;
  if (!st.local || st.unsaved.empty())
    return;
  std::vector<registration> puts;
  std::vector<public_key> removes;
  for (auto& [key, row] : st.unsaved)
    if (row)
      puts.push_back(*row);
    else
      removes.push_back(key);
  st.unsaved.clear();
  if (auto err = st.local->write_peers(puts, removes))
    log_error("announcer", "cannot store {} peers and forget {}: {}",
              puts.size(), removes.size(), message_of(err));
}

/// Queues a change of `key`'s row (`row`, or none to remove it) for the
/// local store: written at once, or with the others after persist_delay_ms.
void save(self_ptr self, const public_key& key,
          std::optional<registration> row) {
  auto& st = self->state;
  if (!st.local)
    return;
  bool first = st.unsaved.empty();
  st.unsaved[key] = std::move(row);
  if (st.cfg.persist_delay_ms == 0)
    write_unsaved(self);
  else if (first)
    self->delayed_send(self, std::chrono::milliseconds{st.cfg.persist_delay_ms},
                       atom::flush_v);
}

void persist(self_ptr self, const registration& r) {
  save(self, r.key, r);
}

void forget(self_ptr self, const public_key& key) {
  save(self, key, std::nullopt);
}

caf::error check(self_ptr self, const registration& r) {
  auto& cfg = self->state.cfg;
  return check_registration(r, cfg.chain, cfg.clock(), cfg.expire_after_s,
                            cfg.max_future_s);
}

bool expired(const announcer_config& cfg, const registration& r, uint64_t now) {
  return now > r.timestamp && now - r.timestamp > cfg.expire_after_s;
}

/// Drops rows older than expire_after_s; tells the connector if any went.
void expire(self_ptr self) {
  auto& st = self->state;
  auto now = st.cfg.clock();
  size_t gone = 0;
  for (auto i = st.peers.begin(); i != st.peers.end();) {
    if (expired(st.cfg, i->second, now)) {
      forget(self, i->first);
      i = st.peers.erase(i);
      ++gone;
    } else {
      ++i;
    }
  }
  if (gone > 0) {
    log_info("announcer", "{} peers expired; {} known", gone, st.peers.size());
    tell_connector(self);
  }
}

/// Evicts rows with the oldest timestamps until at most `room` remain.
void shrink_to(self_ptr self, size_t room) {
  auto& st = self->state;
  while (st.peers.size() > room) {
    auto oldest = std::min_element(
      st.peers.begin(), st.peers.end(),
      [](auto& x, auto& y) { return x.second.timestamp < y.second.timestamp; });
    forget(self, oldest->first);
    st.peers.erase(oldest);
  }
}

/// Whether `r` would not change the table by the update rule: its key is
/// known with a registration no older than this one, or with one less than
/// min_update_s older. Such a registration is dropped before its signature
/// is checked: every peer's announcement reaches us once over each link,
/// and checking every copy cost more than anything else an idle node did.
bool no_news(self_ptr self, const registration& r) {
  auto& st = self->state;
  auto known = st.peers.find(r.key);
  // A row that expired is no news to keep: anything replaces it.
  if (known == st.peers.end() || expired(st.cfg, known->second, st.cfg.clock()))
    return false;
  auto before = known->second.timestamp;
  return r.timestamp <= before || r.timestamp - before < st.cfg.min_update_s;
}

/// Enters a checked registration by the update rule; true if the table
/// changed (then it is persisted and the connector told).
bool admit(self_ptr self, const registration& r) {
  auto& st = self->state;
  if (r.key == own_key(self))
    return false;
  auto known = st.peers.find(r.key);
  if (known != st.peers.end()) {
    auto before = known->second.timestamp;
    if (r.timestamp <= before || r.timestamp - before < st.cfg.min_update_s)
      return false;
    known->second = r;
  } else {
    if (st.peers.size() >= st.cfg.max_peers) {
      auto oldest = std::min_element(
        st.peers.begin(), st.peers.end(), [](auto& x, auto& y) {
          return x.second.timestamp < y.second.timestamp;
        });
      if (r.timestamp < oldest->second.timestamp)
        return false;
      shrink_to(self, st.cfg.max_peers - 1);
    }
    st.peers.emplace(r.key, r);
    log_info("announcer", "new peer {} at {}; {} known", short_key(r.key),
             r.listeners.empty() ? std::string{"(no listener)"}
                                 : r.listeners.front(),
             st.peers.size());
  }
  persist(self, r);
  tell_connector(self);
  return true;
}

/// A checked registration from the link `origin`: enters the table by the
/// update rule and, if it changed the table, is published once.
void take(self_ptr self, const registration& r, const caf::actor_addr& origin) {
  expire(self);
  if (admit(self, r))
    relay(self, r, origin);
}

/// One random known peer that listens somewhere, other than `registrant`.
std::vector<registration> other_peer(self_ptr self,
                                     const public_key& registrant) {
  auto& st = self->state;
  std::vector<const registration*> pool;
  for (auto& [key, r] : st.peers)
    if (key != registrant && !r.listeners.empty())
      pool.push_back(&r);
  if (pool.empty())
    return {};
  return {*pool[st.rng() % pool.size()]};
}

void announce_self(self_ptr self) {
  auto& st = self->state;
  if (st.cfg.listeners.empty())
    return;
  relay(self,
        make_registration(st.cfg.chain, st.cfg.listeners, st.cfg.clock(),
                          *st.identity),
        caf::actor_addr{});
}

/// Restores the table from local_store, removing rows that no longer pass.
/// @returns the store's error if the table could not be read.
caf::error load(self_ptr self) {
  auto& st = self->state;
  if (!st.local)
    return {};
  std::vector<public_key> dropped;
  auto err = st.local->for_each_peer(
    [&](const public_key& key, caf::expected<registration> r) {
      if (!r || key == own_key(self) || check(self, *r)) {
        dropped.push_back(key);
        return;
      }
      st.peers.emplace(key, std::move(*r));
    });
  if (err)
    return err;
  for (auto& key : dropped)
    forget(self, key);
  shrink_to(self, st.cfg.max_peers);
  if (!st.peers.empty() || !dropped.empty())
    log_info("announcer", "restored {} peers, dropped {}", st.peers.size(),
             dropped.size());
  return {};
}

void arm_timer(self_ptr self, uint64_t ms) {
  self->delayed_send(self, std::chrono::milliseconds{ms}, atom::tick_v);
}

} // namespace

announcer_actor::behavior_type announcer(self_ptr self, key_pair identity,
                                         local_store* local,
                                         connector_actor connector,
                                         announcer_config cfg) {
  auto& st = self->state;
  st.identity = std::move(identity);
  st.local = local;
  st.connector = std::move(connector);
  st.cfg = std::move(cfg);
  if (!st.cfg.clock)
    st.cfg.clock = unix_now;
  st.rng.seed(get_u64(own_key(self).data()));
  if (auto err = load(self))
    log_error("announcer", "cannot read the peer table: {}", message_of(err));
  tell_connector(self);
  arm_timer(self, st.cfg.first_announce_ms);
  // What waits for the store is written before the announcer ends.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    if (msg.reason == caf::exit_reason::normal)
      return;
    write_unsaved(self);
    self->quit(msg.reason);
  });
  return {
    [=](
      atom::registr, const registration& r, const public_key& link_key,
      const caf::actor_addr& origin) -> caf::result<std::vector<registration>> {
      if (r.key != link_key)
        return make_error(ec::wrong_key, "registration of " + to_hex(r.key)
                                           + " over the link of "
                                           + to_hex(link_key));
      if (r.key == own_key(self))
        return make_error(ec::wrong_key, "registration of our own key");
      if (auto err = check(self, r))
        return err;
      take(self, r, origin);
      return other_peer(self, r.key);
    },
    [=](atom::announce, const registration& r, const caf::actor_addr& origin) {
      if (r.key == own_key(self))
        return; // our own, back from the flood
      if (no_news(self, r))
        return;
      if (auto err = check(self, r))
        return;
      take(self, r, origin);
    },
    [=](atom::peers) -> std::vector<registration> {
      expire(self);
      std::vector<registration> out;
      out.reserve(self->state.peers.size());
      for (auto& [key, r] : self->state.peers)
        out.push_back(r);
      return out;
    },
    [=](atom::flush) { write_unsaved(self); },
    [=](atom::tick) {
      expire(self);
      announce_self(self);
      if (self->current_sender().get() == self->ctrl())
        arm_timer(self, self->state.cfg.announce_every_ms);
    },
  };
}

} // namespace hallmark
