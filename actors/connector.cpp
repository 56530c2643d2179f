#include "actors/connector.hpp"
#include "actors/connector_links.hpp"
#include "actors/deadline.hpp"

#include <algorithm>
#include <limits>

#include <caf/io/middleman.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/prefetcher.hpp"
#include "core/log.hpp"

namespace hallmark {

namespace {

using namespace connector_links;

/// The prefetcher's settings.
const prefetcher_config fetch_settings{};

/// The linked peer with the most work (then the smaller tip hash), passing
/// over peers that recently failed us while another one is there, and
/// those that do not serve the block after `height` (a state sync began
/// their chain above it).
std::optional<public_key> best_peer(self_ptr self, uint64_t height) {
  auto& st = self->state;
  auto now = now_of(self);
  std::optional<public_key> best;
  for (bool avoid : {true, false}) {
    for (auto& [k, p] : st.peers) {
      if (!p.session || !p.have_info || p.banned_until > unix_now()
          || p.deep_fork_until > now || p.base > height)
        continue;
      if (avoid && p.avoid_until > now)
        continue;
      if (!best)
        best = k;
      auto& b = st.peers[*best];
      if (p.work > b.work || (p.work == b.work && p.tip < b.tip))
        best = k;
    }
    if (best)
      return best;
  }
  return best;
}

/// The upstream failed or stalled: choose another for a while.
void fail_over(self_ptr self, const public_key& key) {
  auto& st = self->state;
  st.peers[key].avoid_until = now_of(self) + 20 * st.cfg.cycle;
  self->send(st.prefetch, atom::reset_v);
  st.probing = false;
  set_phase(self, phase::highest_block);
}

/// Peer `key`'s live link as the rest of the node sees it.
peer_link link_of(const public_key& key, const connector_state::peer_entry& p) {
  return peer_link{p.session, key, p.inbound,
                   p.addresses.empty() ? std::string{} : p.addresses.front(),
                   0};
}

/// Up to `sync_peers` links to fetch (fork, target] from: the upstream
/// first, then the peers that reach the target and can serve the blocks
/// after `fork`, most work first. One on another branch is found out by
/// the prefetcher's link check and left out of the fetch.
std::vector<peer_link> fetch_sources(self_ptr self, uint64_t fork) {
  auto& st = self->state;
  auto now = now_of(self);
  std::vector<peer_link> out;
  out.push_back(link_of(*st.upstream, st.peers[*st.upstream]));
  std::vector<std::pair<work_t, public_key>> others;
  for (auto& [k, p] : st.peers)
    if (k != *st.upstream && p.session && p.have_info
        && p.banned_until <= unix_now() && p.avoid_until <= now
        && p.deep_fork_until <= now && p.base <= fork + 1
        && p.height >= st.target)
      others.emplace_back(p.work, k);
  std::sort(others.begin(), others.end(),
            [](auto& x, auto& y) { return x.first > y.first; });
  for (auto& [work, k] : others) {
    if (out.size() >= std::max<size_t>(1, st.cfg.sync_peers))
      break;
    out.push_back(link_of(k, st.peers[k]));
  }
  return out;
}

void start_fetch(self_ptr self, uint64_t fork) {
  auto& st = self->state;
  auto& up = st.peers[*st.upstream];
  st.target = up.height;
  hash256 parent{};
  auto assume = st.cfg.assume_valid;
  {
    chain_reader view{*st.deps.chain};
    if (auto h = view.hash_at(fork))
      parent = *h;
    // Once on our chain, nothing below it is left to assume.
    if (assume != hash256{} && view.height_of(assume))
      assume = hash256{};
  }
  auto sources = fetch_sources(self, fork);
  st.last_progress_ms = now_ms(self);
  st.fetch_started_ms = st.last_progress_ms;
  st.last_report = fetch_report{};
  st.last_report->height = fork;
  st.last_report->target = st.target;
  st.last_report->start = fork + 1;
  st.last_report->peers = static_cast<uint32_t>(sources.size());
  st.progress.begin(st.last_progress_ms);
  log_info("connector", "fetching blocks {}..{} from {} and {} more peers",
           fork + 1, st.target, short_key(*st.upstream), sources.size() - 1);
  self->send(st.prefetch, atom::fetch_v, std::move(sources), fork + 1,
             st.target, parent, assume);
  set_phase(self, phase::fetch_blocks);
}

/// A heavier branch of `key`'s forks `depth` blocks below our tip, deeper
/// than the reorg window: local policy refuses it, and the peer did nothing
/// wrong. Passes over that peer for 40 cycles, then checks again; logs
/// once per fork.
void refuse_deep_fork(self_ptr self, const public_key& key,
                      uint64_t fork_height, uint64_t depth) {
  auto& st = self->state;
  auto& p = st.peers[key];
  p.deep_fork_until = now_of(self) + 40 * st.cfg.cycle;
  set_phase(self, phase::highest_block);
  auto& known = st.refused_fork;
  bool news = !known || known->peer != key || known->fork_height != fork_height;
  known = connector_state::deep_fork{key, fork_height, depth, p.height};
  if (!news)
    return;
  log_warning("connector",
              "peer {} has a heavier branch to height {} forking at height "
              "{}, {} blocks below our tip: deeper than reorg_window ({}), "
              "so not followed. If this node was cut off, restart it with "
              "--reorg-window {} or more to follow it; otherwise it may be "
              "an attack",
              short_key(key), p.height, fork_height, depth, st.cfg.reorg_window,
              depth);
}

/// FORK_DETECT: compares hashes at `height` with the upstream, stepping
/// back `step` (doubling) until they agree.
void probe(self_ptr self, uint64_t height, uint64_t step) {
  auto& st = self->state;
  if (!st.upstream || !st.peers[*st.upstream].session) {
    st.probing = false;
    set_phase(self, phase::highest_block);
    return;
  }
  std::optional<hash256> ours;
  {
    chain_reader view{*st.deps.chain};
    ours = view.hash_at(height);
  }
  auto up = *st.upstream;
  self
    // A frozen upstream must not hold fork detection longer than a stalled
    // fetch: the same limit, then another peer.
    ->request(st.peers[up].session, st.cfg.stall, atom::hashes_v, height,
              uint32_t{1})
    .then(
      [=](std::vector<hash256>& theirs) {
        auto& st = self->state;
        if (theirs.size() > 1) {
          st.probing = false;
          charge(self, up, 20, "more hashes than asked");
          fail_over(self, up);
          return;
        }
        if (theirs.empty()) {
          // It claimed that height but may have reorganised or not
          // committed it yet: not charged, another peer is tried.
          st.probing = false;
          log_info("connector",
                   "upstream {} has no hash at height {}; failing over",
                   short_key(up), height);
          fail_over(self, up);
          return;
        }
        if (ours && *ours == theirs.front()) {
          st.probing = false;
          auto depth = st.our_height > height ? st.our_height - height : 0;
          if (depth > st.cfg.reorg_window) {
            refuse_deep_fork(self, up, height, depth);
            return;
          }
          start_fetch(self, height);
          return;
        }
        if (height == 0) {
          st.probing = false;
          charge(self, up, st.cfg.ban_points, "another genesis block");
          set_phase(self, phase::highest_block);
          return;
        }
        probe(self, height > step ? height - step : 0, step * 2);
      },
      [=](caf::error& err) {
        self->state.probing = false;
        if (fault_of(err) == fault::peer)
          charge(self, up, 20, "hashes request failed: " + message_of(err));
        else
          log_warning("connector",
                      "upstream {} did not answer a hashes "
                      "request ({}); failing over",
                      short_key(up), message_of(err));
        fail_over(self, up);
      });
}

/// Decides, given our tip, what the machine does this cycle.
void step(self_ptr self, chain_tip ours) {
  auto& st = self->state;
  work_t our_work = ours.work;
  auto links = live_links(self);
  auto behind = [&](const peer_entry& p) {
    return p.work > our_work || (p.work == our_work && p.tip < ours.hash);
  };
  switch (st.state) {
  case phase::connecting:
    if (links >= st.cfg.min_clients)
      set_phase(self, phase::highest_block);
    return;
  case phase::highest_block: {
    if (links < st.cfg.min_clients) {
      set_phase(self, phase::connecting);
      return;
    }
    if (now_of(self) < st.fetch_paused_until)
      return; // this node failed; retried after the pause
    if (st.cfg.state_syncing)
      return; // blocks wait until the state sync is done
    auto best = best_peer(self, ours.height);
    if (!best) {
      // Peers ahead that cannot serve our next block: say what to do.
      for (auto& [k, p] : st.peers)
        if (p.session && p.have_info && p.base > ours.height
            && p.work > our_work) {
          st.fetch_error = "the peers ahead of this node began their chains "
                           "with a state sync (peer "
                           + short_key(k) + " at height "
                           + std::to_string(p.base)
                           + ") and do not serve older blocks: start this "
                             "node with --state-sync, or give it a peer "
                             "that keeps every block";
          return;
        }
      return; // infos are on their way
    }
    if (!behind(st.peers[*best])) {
      set_phase(self, phase::sampling);
      return;
    }
    st.upstream = best;
    set_phase(self, phase::fork_detect);
    if (!st.probing) {
      st.probing = true;
      st.our_height = ours.height;
      probe(self, std::min(ours.height, st.peers[*best].height), 1);
    }
    return;
  }
  case phase::fork_detect:
    return; // the probe moves on by itself
  case phase::fetch_blocks: {
    // Nothing applied and nothing arrived for this long. A request the
    // prefetcher still waits for is given its own timeout first (it then
    // leaves that link out and asks the others): a slow link, or a range
    // held up by one, is not a stalled fetch.
    auto limit = std::max<std::chrono::milliseconds>(
      st.cfg.stall, fetch_settings.request_timeout + std::chrono::seconds{5});
    if (now_ms(self) - st.last_progress_ms
        > static_cast<uint64_t>(limit.count())) {
      // Slow is not wrong (a busy or far peer, or our own link): no
      // charge, another peer serves the rest from what is applied.
      log_warning("connector",
                  "upstream {} made no progress for {} ms; "
                  "failing over",
                  short_key(*st.upstream), limit.count());
      fail_over(self, *st.upstream);
    }
    return;
  }
  case phase::rebuild:
    self->request(st.deps.processor, std::chrono::seconds{60}, atom::flush_v)
      .then([=](uint64_t) { set_phase(self, phase::sampling); },
            [=](caf::error&) { set_phase(self, phase::sampling); });
    return;
  case phase::sampling: {
    if (links < st.cfg.min_clients) {
      set_phase(self, phase::connecting);
      return;
    }
    auto best = best_peer(self, ours.height);
    if (best && behind(st.peers[*best]))
      ++st.samples_behind;
    else
      st.samples_behind = 0;
    if (st.samples_behind >= st.cfg.sample_limit) {
      st.samples_behind = 0;
      set_phase(self, phase::highest_block);
    }
    return;
  }
  }
}

/// Passes something accepted here to every live link but `origin`, or to
/// `most` of them chosen at random.
template <class Item>
void fan_out(self_ptr self, Item x, const caf::actor_addr& origin,
             size_t most = std::numeric_limits<size_t>::max()) {
  auto& st = self->state;
  std::vector<peer_session_actor> links;
  for (auto& [key, p] : st.peers)
    if (p.session && p.session.address() != origin)
      links.push_back(p.session);
  if (links.size() > most) {
    std::shuffle(links.begin(), links.end(), st.rng);
    links.resize(most);
  }
  for (auto& link : links)
    self->send(link, atom::relay_v, x);
}

} // namespace

const char* to_string(connector_state::phase p) {
  switch (p) {
  case phase::connecting:
    return "Connecting";
  case phase::highest_block:
    return "HighestBlock";
  case phase::fork_detect:
    return "ForkDetect";
  case phase::fetch_blocks:
    return "FetchBlocks";
  case phase::rebuild:
    return "Rebuild";
  case phase::sampling:
    return "Sampling";
  default:
    return "unknown";
  }
}

connector_actor::behavior_type connector(self_ptr self, connector_config cfg,
                                         session_deps deps, key_pair identity) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.deps = std::move(deps);
  st.deps.connector = connector_actor{self};
  st.identity = identity;
  st.prefetch = self->spawn<caf::linked>(prefetcher, st.deps.processor,
                                         connector_actor{self}, fetch_settings);
  if (st.cfg.bans) {
    auto stored = st.cfg.bans->bans();
    if (!stored)
      log_warning("connector", "stored bans not read: {}",
                  message_of(stored.error()));
    else
      for (auto& [key, until] : *stored) {
        if (until > unix_now())
          st.peers[key].banned_until = until;
        else if (auto err = st.cfg.bans->remove_ban(key))
          log_warning("connector", "an expired ban is not removed: {}",
                      message_of(err));
      }
  }
  for (auto& sp : st.cfg.static_peers) {
    // A node never dials its own key: it would only refuse itself.
    if (sp.key == st.identity->public_key_bytes()) {
      log_warning("connector",
                  "--peer {}@{}:{} is this node's own key: not dialled",
                  short_key(sp.key), sp.host, sp.port);
      continue;
    }
    auto& p = st.peers[sp.key];
    p.is_static = true;
    auto host = sp.host.find(':') != std::string::npos ? "[" + sp.host + "]"
                                                       : sp.host;
    p.addresses.push_back(host + ":" + std::to_string(sp.port));
  }
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    for (auto& [key, p] : st.peers)
      if (p.session && p.session.address() == msg.source) {
        p.session = peer_session_actor{};
        p.have_info = false;
        log_info("connector", "link to {} down", short_key(key));
        // A fetch under way goes on without it: the prefetcher watches its
        // links, gives the ranges it held to the others, and fails the
        // fetch only when none is left.
        if (st.upstream == key && st.state == phase::fork_detect) {
          self->send(st.prefetch, atom::reset_v);
          st.probing = false;
          set_phase(self, phase::highest_block);
        }
      }
  });
  // Sessions are linked to us so they end with us; their own ends (seen
  // by the down handler) must not end us.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    auto& st = self->state;
    if (msg.source == st.prefetch.address() || !msg.source) {
      self->quit(msg.reason);
      return;
    }
    for (auto& [key, p] : st.peers)
      if (p.session && p.session.address() == msg.source)
        return;
    if (msg.reason == caf::exit_reason::user_shutdown
        || msg.reason == caf::exit_reason::kill)
      self->quit(msg.reason);
  });
  self->send(self, atom::tick_v);
  return {
    [=](atom::up, const public_key& key) -> caf::result<bool> {
      // Asked before the link counts as up: a banned key is refused at the
      // handshake, before it is logged as linked or served.
      auto& st = self->state;
      if (key == st.identity->public_key_bytes())
        return make_error(ec::wrong_key, "a link to this node itself");
      auto i = st.peers.find(key);
      if (i != st.peers.end() && i->second.banned_until > unix_now()) {
        log_info("connector", "refusing banned peer {}", short_key(key));
        return make_error(ec::wrong_key,
                          "key " + short_key(key) + " is banned here");
      }
      return true;
    },
    [=](atom::up, peer_link& link) {
      auto& st = self->state;
      auto& p = st.peers[link.key];
      if (link.key == st.identity->public_key_bytes()) {
        self->send_exit(link.session, caf::exit_reason::user_shutdown);
        return;
      }
      if (p.banned_until > unix_now()) {
        // Banned since it was admitted.
        log_info("connector", "refusing banned peer {}", short_key(link.key));
        self->send_exit(link.session, caf::exit_reason::user_shutdown);
        return;
      }
      if (p.session) {
        // Two links to one peer (both dialled): keep the one dialled by
        // the smaller key, which both ends agree on.
        bool keep_new = (link.inbound
                         == (st.identity->public_key_bytes() > link.key));
        if (!keep_new) {
          self->send_exit(link.session, caf::exit_reason::user_shutdown);
          return;
        }
        self->send_exit(p.session, caf::exit_reason::user_shutdown);
      }
      p.session = link.session;
      p.inbound = link.inbound;
      p.last_seen = unix_now();
      self->monitor(link.session);
      self->link_to(link.session);
      refresh_info(self, link.key);
      if (!link.inbound)
        register_with(self, link.key);
    },
    [=](atom::relay, new_block& x, const caf::actor_addr& origin) {
      fan_out(self, std::move(x), origin);
    },
    [=](atom::relay, new_records& x, const caf::actor_addr& origin) {
      fan_out(self, std::move(x), origin);
    },
    [=](atom::relay, registration& x, const caf::actor_addr& origin) {
      // To a few links, not all (connector_config::announcement_fanout).
      fan_out(self, std::move(x), origin, self->state.cfg.announcement_fanout);
    },
    [=](atom::misbehave, const public_key& key, int32_t points,
        const std::string& reason) {
      // Our own key is never charged (a link to ourselves is refused, not
      // punished).
      if (points > 0 && key != self->state.identity->public_key_bytes())
        charge(self, key, points, reason);
    },
    [=](atom::candidates, std::vector<registration>& regs) {
      auto& st = self->state;
      st.candidates = std::move(regs);
      for (auto& r : st.candidates) {
        if (r.key == st.identity->public_key_bytes())
          continue;
        auto& p = st.peers[r.key];
        if (!p.is_static)
          p.addresses = r.listeners;
      }
    },
    [=](atom::synced) { self->state.cfg.state_syncing = false; },
    [=](atom::peers) { return peer_table(self); },
    [=](atom::links) {
      std::vector<peer_link> out;
      for (auto& [key, p] : self->state.peers)
        if (p.session && now_of(self) >= p.avoid_until)
          out.push_back(link_of(key, p));
      return out;
    },
    [=](atom::ban, const public_key& key,
        uint64_t seconds) -> caf::result<std::vector<peer_status>> {
      auto& st = self->state;
      if (key == st.identity->public_key_bytes())
        return make_error(ec::bad_request, "that is this node's own key");
      auto span = seconds > 0 ? seconds : st.cfg.ban_seconds;
      log_warning("connector", "peer {} banned for {} s by the operator",
                  short_key(key), span);
      ban(self, key, unix_now() + span);
      return peer_table(self);
    },
    [=](atom::unban,
        const public_key& key) -> caf::result<std::vector<peer_status>> {
      auto& st = self->state;
      auto i = st.peers.find(key);
      if (i == st.peers.end() || i->second.banned_until <= unix_now())
        return make_error(ec::not_found,
                          "peer " + short_key(key) + " is not banned");
      auto& p = i->second;
      p.banned_until = 0;
      p.score = 0;
      p.next_dial = {};
      if (st.cfg.bans)
        if (auto err = st.cfg.bans->remove_ban(key))
          log_warning("connector",
                      "the ban of {} is not removed from the "
                      "store: {}",
                      short_key(key), message_of(err));
      log_info("connector", "peer {} unbanned by the operator", short_key(key));
      return peer_table(self);
    },
    [=](atom::status) -> connector_status {
      auto& st = self->state;
      auto now = now_of(self);
      connector_status s;
      s.state = to_string(st.state);
      s.fetch_error = st.fetch_error;
      s.links = live_links(self);
      if (st.state == phase::fetch_blocks && st.last_report) {
        auto& r = *st.last_report;
        auto elapsed = now_ms(self) - st.fetch_started_ms;
        auto f = figures_of(r, static_cast<double>(elapsed) / 1000.0);
        s.fetching = true;
        s.fetch_from = r.start;
        s.fetch_height = r.height;
        s.fetch_target = r.target;
        s.fetch_records_per_s = static_cast<uint64_t>(f.records_per_s);
        s.fetch_eta_s = static_cast<uint64_t>(f.eta_s);
        s.fetch_peers = r.peers;
        s.fetch_elapsed_ms = elapsed;
      }
      for (auto& [k, p] : st.peers)
        if (p.session && p.have_info && p.deep_fork_until <= now)
          s.target = std::max(s.target, p.height);
      if (auto& f = st.refused_fork) {
        auto p = st.peers.find(f->peer);
        // Shown while that peer is linked and passed over.
        if (p != st.peers.end() && p->second.session
            && p->second.deep_fork_until > now) {
          s.deep_fork_peer = f->peer;
          s.deep_fork_height = f->fork_height;
          s.deep_fork_depth = f->depth;
          s.deep_fork_tip_height = f->tip_height;
        }
      }
      return s;
    },
    [=](atom::tick) {
      auto& st = self->state;
      maintain_links(self);
      // A peer's info at most once a second: every cycle on mainnet (15 s),
      // every fourth on devnet (250 ms), whose nodes would otherwise spend
      // most of their idle time asking. New tips arrive by relay anyway.
      auto now = now_of(self);
      if (now - st.last_info_round >= std::chrono::seconds{1}) {
        st.last_info_round = now;
        for (auto& [key, p] : st.peers)
          if (p.session)
            refresh_info(self, key);
      }
      self->request(st.deps.processor, std::chrono::seconds{30}, atom::tip_v)
        .then([=](chain_tip& ours) { step(self, ours); },
              [=](caf::error& err) {
                note_if_late("connector", "block_processor's tip", err);
              });
      self->delayed_send(self, st.cfg.cycle, atom::tick_v);
    },
    [=](atom::subscribe, announcer_actor& a) {
      self->state.deps.announcer = std::move(a);
    },
    [=](atom::progress, const fetch_report& r) {
      auto& st = self->state;
      if (st.state != phase::fetch_blocks)
        return;
      st.last_progress_ms = now_ms(self);
      if (r.arrival)
        return;
      if (r.source_only) {
        // One upstream left the fetch; the others serve its ranges. It is
        // charged only for what it did wrong, and passed over for a while.
        auto why = message_of(r.failure);
        if (st.last_report)
          st.last_report->peers = r.peers;
        auto& p = st.peers[r.source];
        p.avoid_until = now_of(self) + 20 * st.cfg.cycle;
        if (fault_of(r.failure) == fault::peer)
          charge(self, r.source, st.cfg.ban_points / 2, why);
        else
          log_info("connector", "{} left out of the fetch, not charged: {}",
                   short_key(r.source), why);
        return;
      }
      st.progress.report(r, st.last_progress_ms);
      st.last_report = r;
      if (r.failure || r.done)
        st.last_report.reset();
      if (r.failure) {
        auto why = message_of(r.failure);
        auto whose = fault_of(r.failure);
        // The last upstream serving it, or the one whose blocks failed.
        auto who = r.source != public_key{} ? r.source : *st.upstream;
        log_warning("connector", "fetch from {} failed ({} fault): {}",
                    short_key(who), to_string(whose), why);
        // Only what the upstream did wrong is charged to it; a failure of
        // this node, or one that is nobody's fault yet, only moves on.
        if (whose == fault::peer)
          charge(self, who, st.cfg.ban_points / 2, why);
        if (code_of(r.failure) == ec::storage || whose == fault::not_yet) {
          // Our storage failed (a full disk), or the blocks are not valid
          // yet (ahead of our clock): another peer would fail the same
          // way, so pause, then try again (there may be room, or the
          // clock may have caught up, by then).
          st.fetch_backoff = std::min<std::chrono::milliseconds>(
            std::max(st.cfg.cycle, st.fetch_backoff * 2),
            std::chrono::minutes{1});
          st.fetch_paused_until = now_of(self) + st.fetch_backoff;
          st.fetch_error = why;
          log_warning("connector", "fetching paused for {} ms: {}",
                      st.fetch_backoff.count(), why);
          // The upstream did nothing wrong: not passed over either.
          self->send(st.prefetch, atom::reset_v);
          st.probing = false;
          set_phase(self, phase::highest_block);
          return;
        }
        fail_over(self, who);
        return;
      }
      st.fetch_backoff = std::chrono::milliseconds{0};
      st.fetch_error.clear();
      if (r.done)
        set_phase(self, phase::rebuild);
    },
  };
}

} // namespace hallmark
