#include "actors/connector_links.hpp"
#include "core/metrics.hpp"

#include <algorithm>

#include <caf/io/middleman.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/deadline.hpp"
#include "actors/dialer.hpp"
#include "core/log.hpp"

namespace hallmark {

namespace connector_links {

namespace {

/// Chooses dynamic peers at key-space offsets from our own key: the next
/// 1 and 3, the previous 1 and 3, and 1/8 … 7/8 of the way round.
std::vector<public_key> choose_dynamic(self_ptr self) {
  auto& st = self->state;
  std::vector<public_key> ring;
  for (auto& r : st.candidates)
    if (r.key != st.identity->public_key_bytes())
      ring.push_back(r.key);
  std::sort(ring.begin(), ring.end());
  ring.erase(std::unique(ring.begin(), ring.end()), ring.end());
  std::vector<public_key> out;
  if (ring.empty())
    return out;
  auto n = static_cast<long>(ring.size());
  auto me = std::lower_bound(ring.begin(), ring.end(),
                             st.identity->public_key_bytes())
            - ring.begin();
  std::vector<long> offsets{0, 2, -1, -3};
  for (long k = 1; k < 8; ++k)
    offsets.push_back(k * n / 8);
  for (auto off : offsets) {
    auto idx = ((me + off) % n + n) % n;
    if (std::find(out.begin(), out.end(), ring[idx]) == out.end())
      out.push_back(ring[idx]);
    if (out.size() >= st.cfg.max_dynamic)
      break;
  }
  return out;
}

} // namespace

/// The actor clock (simulated in the deterministic tests).
std::chrono::steady_clock::time_point now_of(self_ptr self) {
  return self->clock().now();
}

uint64_t now_ms(self_ptr self) {
  return static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(
      now_of(self).time_since_epoch())
      .count());
}

void set_phase(self_ptr self, phase p) {
  auto& st = self->state;
  if (st.state == p)
    return;
  log_info("connector", "{} -> {}", to_string(st.state), to_string(p));
  st.state = p;
}

size_t live_links(self_ptr self) {
  size_t n = 0;
  for (auto& [k, p] : self->state.peers)
    if (p.session)
      ++n;
  return n;
}

/// Asks a linked peer for its info; updates its entry.
void refresh_info(self_ptr self, const public_key& key) {
  auto& st = self->state;
  auto i = st.peers.find(key);
  if (i == st.peers.end() || !i->second.session)
    return;
  auto session = i->second.session;
  self->request(session, std::chrono::seconds{30}, atom::info_v)
    .then(
      [=](peer_info& info) {
        auto& st = self->state;
        auto p = st.peers.find(key);
        if (p == st.peers.end() || p->second.session != session)
          return;
        if (info.chain != st.deps.settings->chain) {
          charge(self, key, st.cfg.ban_points,
                 "info reply of chain '" + info.chain + "'");
          return;
        }
        p->second.have_info = true;
        // The link works (it answered): dial it again at once if it drops.
        // A link closed right after its handshake (we are banned there)
        // keeps backing off.
        p->second.backoff = std::chrono::milliseconds{0};
        p->second.height = info.height;
        p->second.tip = info.tip;
        p->second.work = info.work;
        p->second.base = info.base;
        p->second.last_seen = unix_now();
      },
      [=](caf::error& err) {
        note_if_late("connector", "info request to " + short_key(key), err);
        // A reply that does not decode, or of another kind, is the peer's
        // doing; a refusal, a timeout or a closed link is not charged.
        if (code_of(err) == ec::malformed)
          charge(self, key, self->state.cfg.ban_points,
                 "bad info reply: " + message_of(err));
      });
}

/// Sends our registration over a new outbound link; the reply's peers go
/// to the announcer.
void register_with(self_ptr self, const public_key& key) {
  auto& st = self->state;
  if (st.cfg.listeners.empty() || !st.deps.announcer)
    return;
  auto i = st.peers.find(key);
  if (i == st.peers.end() || !i->second.session)
    return;
  auto reg = make_registration(st.deps.settings->chain, st.cfg.listeners,
                               unix_now(), *st.identity);
  auto origin = i->second.session.address();
  self
    ->request(i->second.session, std::chrono::seconds{30}, atom::registr_v, reg)
    .then(
      [=](std::vector<registration>& others) {
        for (auto& r : others)
          self->send(self->state.deps.announcer, atom::announce_v, r, origin);
      },
      [=](caf::error& err) {
        note_if_late("connector", "registration with " + short_key(key), err);
        log_info("connector", "registration with {} failed: {}", short_key(key),
                 message_of(err));
      });
}

/// Starts a link to `key` at `host` (an address) and `port`, the listener
/// `address` announced, without waiting for the connection
/// (actors/dialer.hpp).
void connect_to(self_ptr self, const public_key& key, const std::string& host,
                uint16_t port, const std::string& address) {
  auto fd = start_connect(host, port);
  if (!fd) {
    log_info("connector", "cannot dial {} at {}: {}", short_key(key), address,
             message_of(fd.error()));
    return;
  }
  auto session = self->system().middleman().spawn_broker(
    dialled_peer_session, *fd, self->state.deps, key, address);
  // Linked: the session ends when the connector does.
  self->link_to(session);
  log_info("connector", "dialling {} at {}", short_key(key), address);
}

void dial(self_ptr self, const public_key& key, peer_entry& p) {
  auto& st = self->state;
  auto now = now_of(self);
  if (p.session || now < p.next_dial || p.addresses.empty()
      || p.banned_until > unix_now())
    return;
  // Retry with backoff: one cycle, doubling to a minute; each try the next
  // of the peer's addresses.
  p.backoff = std::min<std::chrono::milliseconds>(
    std::max(st.cfg.cycle, p.backoff * 2), std::chrono::minutes{1});
  p.next_dial = now + p.backoff;
  auto address = p.addresses[p.dials++ % p.addresses.size()];
  auto parsed = parse_listener(address);
  if (!parsed)
    return;
  auto [host, port] = *parsed;
  if (is_address(host)) {
    connect_to(self, key, host, port, address);
    return;
  }
  // A name: resolved on a thread of its own, within the handshake's time.
  auto r = self->spawn<caf::detached>(resolver);
  self->request(r, st.deps.limits.handshake_timeout, atom::resolve_v, host)
    .then(
      [=](std::vector<std::string>& found) {
        // Not if it was linked or banned meanwhile.
        auto i = self->state.peers.find(key);
        if (i != self->state.peers.end() && !i->second.session
            && i->second.banned_until <= unix_now())
          connect_to(self, key, found.front(), port, address);
      },
      [=](caf::error& err) {
        log_info("connector", "cannot dial {} at {}: {}", short_key(key),
                 address, message_of(err));
      });
}

void maintain_links(self_ptr self) {
  auto& st = self->state;
  for (auto& [key, p] : st.peers)
    if (p.is_static)
      dial(self, key, p);
  for (auto& key : choose_dynamic(self)) {
    auto i = st.peers.find(key);
    if (i != st.peers.end())
      dial(self, key, i->second);
  }
}

/// Bans `key` until unix second `until`: persisted, its link cut.
void ban(self_ptr self, const public_key& key, uint64_t until) {
  auto& st = self->state;
  auto& p = st.peers[key];
  metrics::node().peer_bans.add();
  p.banned_until = until;
  p.score = 0;
  if (st.cfg.bans)
    if (auto err = st.cfg.bans->put_ban(key, until))
      log_warning("connector", "the ban of {} is not stored: {}",
                  short_key(key), message_of(err));
  if (p.session)
    self->send_exit(p.session, caf::exit_reason::user_shutdown);
  if (st.upstream == key
      && (st.state == phase::fetch_blocks || st.state == phase::fork_detect)) {
    self->send(st.prefetch, atom::reset_v);
    st.probing = false;
    set_phase(self, phase::highest_block);
  }
}

void charge(self_ptr self, const public_key& key, int32_t points,
            const std::string& reason) {
  auto& st = self->state;
  auto& p = st.peers[key];
  p.score += points;
  metrics::node().peer_charges.add();
  log_warning("connector", "peer {} charged {} ({}): {}", short_key(key),
              points, p.score, reason);
  if (p.score < st.cfg.ban_points)
    return;
  log_warning("connector", "peer {} banned for {} s", short_key(key),
              st.cfg.ban_seconds);
  ban(self, key, unix_now() + st.cfg.ban_seconds);
}

std::vector<peer_status> peer_table(self_ptr self) {
  auto& st = self->state;
  std::vector<peer_status> out;
  auto now = unix_now();
  for (auto& [key, p] : st.peers) {
    peer_status s;
    s.key = key;
    s.addresses = p.addresses;
    s.is_static = p.is_static;
    s.inbound = p.inbound;
    s.link = p.banned_until > now         ? "banned"
             : p.session                  ? "up"
             : p.next_dial > now_of(self) ? "connecting"
                                          : "down";
    s.height = p.height;
    s.tip = p.tip;
    s.last_seen = p.last_seen;
    s.score = p.score;
    s.banned_until = p.banned_until > now ? p.banned_until : 0;
    out.push_back(std::move(s));
  }
  return out;
}

} // namespace connector_links

caf::expected<static_peer> parse_static_peer(std::string_view text) {
  auto at = text.find('@');
  if (at == std::string_view::npos)
    return make_error(ec::bad_config, "a peer is PUBKEY@HOST:PORT, not '"
                                        + std::string{text} + "'");
  auto key = from_hex_fixed<32>(text.substr(0, at));
  if (!key)
    return make_error(ec::bad_config, "a peer's key is 64 hex characters");
  auto addr = parse_listener(text.substr(at + 1));
  if (!addr)
    return make_error(ec::bad_config, "cannot parse peer address '"
                                        + std::string{text.substr(at + 1)}
                                        + "'");
  return static_peer{*key, addr->first, addr->second};
}

} // namespace hallmark
