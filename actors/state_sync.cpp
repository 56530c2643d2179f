// state_sync: the state sync client (actors/state_sync.hpp).
#include "actors/state_sync.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include <caf/typed_event_based_actor.hpp>

#include "actors/deadline.hpp"
#include "core/log.hpp"

namespace hallmark {

namespace {

using self_ptr = state_sync_actor::stateful_pointer<state_sync_state>;
using work = state_sync_state::work;
using request = state_sync_state::request;

/// The actor clock (simulated in the deterministic tests).
std::chrono::steady_clock::time_point now_of(self_ptr self) {
  return self->clock().now();
}

/// Queues `item` to be asked of a peer.
void enqueue(self_ptr self, work item) {
  self->state.schedule.add(request{std::move(item), {}});
}

bool is_zero(const hash256& h) {
  return h == hash256{};
}

/// [kind ‖ byte 00…] to [kind ‖ byte ff…]: the key space cut in `n` pieces
/// per kind by the id's first byte.
std::vector<std::pair<trie::state_key, trie::state_key>>
initial_ranges(size_t n) {
  std::vector<std::pair<trie::state_key, trie::state_key>> out;
  auto per_kind = std::max<size_t>(1, std::min<size_t>(256, n / 2));
  for (uint8_t kind = 0; kind <= 1; ++kind)
    for (size_t i = 0; i < per_kind; ++i) {
      trie::state_key lo{};
      trie::state_key hi;
      hi.fill(0xff);
      lo[0] = hi[0] = kind;
      lo[1] = static_cast<uint8_t>(i * 256 / per_kind);
      hi[1] = static_cast<uint8_t>((i + 1) * 256 / per_kind - 1);
      out.emplace_back(lo, hi);
    }
  out.front().first = trie::min_key();
  out.back().second = trie::max_key();
  return out;
}

/// The fraction of the item keys' space that `ranges` cover (0 … 1), from
/// the first 8 bytes of the id: item ids are hashes, so evenly spread.
double item_coverage(const std::vector<synced_range>& ranges) {
  auto value = [](const trie::state_key& k) {
    double x = 0;
    for (size_t i = 1; i <= 8; ++i)
      x = x * 256 + k[i];
    return x;
  };
  double covered = 0;
  for (auto& r : ranges) {
    if (r.end[0] < 1 || r.start[0] > 1)
      continue;
    double lo = r.start[0] < 1 ? 0 : value(r.start);
    double hi = r.end[0] > 1 ? std::ldexp(1.0, 64) : value(r.end) + 1;
    covered += std::max(0.0, hi - lo);
  }
  return std::min(1.0, covered / std::ldexp(1.0, 64));
}

void tick(self_ptr self);
void dispatch(self_ptr self);
void check_done(self_ptr self);

state_sync_state::peer* find_peer(self_ptr self, const public_key& key) {
  auto i = self->state.peers.find(key);
  return i == self->state.peers.end() ? nullptr : &i->second;
}

/// Leaves a peer alone for a while, longer each time.
void back_off(self_ptr self, const public_key& key) {
  auto* p = find_peer(self, key);
  if (!p)
    return;
  auto& cfg = self->state.cfg;
  p->backoff = p->backoff.count() == 0
                 ? cfg.backoff_min
                 : std::min(cfg.backoff_max, p->backoff * 2);
  p->retry_at = now_of(self) + p->backoff;
}

/// Charges a peer for what it sent, and leaves it alone for a while.
void charge(self_ptr self, const public_key& key, const std::string& why) {
  auto& st = self->state;
  ++st.bad_proofs;
  log_warning("state_sync", "peer {} sent {}; charged, asking others",
              short_key(key), why);
  self->send(st.connector, atom::misbehave_v, key, st.cfg.bad_proof_points,
             "state sync: " + why);
  back_off(self, key);
}

// -- peers -------------------------------------------------------------------

void ask_info(self_ptr self, const public_key& key) {
  auto* p = find_peer(self, key);
  if (!p || p->asking_info)
    return;
  p->asking_info = true;
  self->request(p->session, std::chrono::seconds{10}, atom::info_v)
    .then(
      [=](peer_info& info) {
        if (auto* q = find_peer(self, key)) {
          q->asking_info = false;
          q->have_info = true;
          q->info = std::move(info);
          q->info_at = now_of(self);
        }
      },
      [=](caf::error&) {
        if (auto* q = find_peer(self, key)) {
          q->asking_info = false;
          q->info_at = now_of(self);
        }
      });
}

void refresh_peers(self_ptr self) {
  self->request(self->state.connector, std::chrono::seconds{5}, atom::links_v)
    .then(
      [=](std::vector<peer_link>& links) {
        auto& st = self->state;
        std::map<public_key, state_sync_state::peer> next;
        for (auto& l : links) {
          auto i = st.peers.find(l.key);
          if (i != st.peers.end() && i->second.session == l.session) {
            next.emplace(l.key, std::move(i->second));
            continue;
          }
          state_sync_state::peer p;
          p.session = l.session;
          p.address = l.address;
          next.emplace(l.key, std::move(p));
        }
        // A peer gone keeps its entry while requests to it are in flight
        // (they fail by themselves); it gets no new ones.
        for (auto& [key, p] : st.peers)
          if (st.schedule.load(key) > 0 && next.count(key) == 0) {
            p.retry_at = std::chrono::steady_clock::time_point::max();
            next.emplace(key, std::move(p));
          }
        st.peers = std::move(next);
        auto now = now_of(self);
        for (auto& [key, p] : st.peers)
          if (!p.asking_info && now - p.info_at > std::chrono::seconds{2})
            ask_info(self, key);
      },
      [=](caf::error&) {});
}

/// The peer that claims the most work, if any is ready.
std::optional<public_key> best_peer(self_ptr self) {
  std::optional<public_key> best;
  work_t most = 0;
  auto now = now_of(self);
  for (auto& [key, p] : self->state.peers)
    if (p.have_info && now >= p.retry_at && p.info.work > most) {
      most = p.info.work;
      best = key;
    }
  return best;
}

/// The best height peers claim; only those not left alone for a failure,
/// when `ready_only` (a peer that claims a chain it does not serve must not
/// hold the target back).
uint64_t best_height(self_ptr self, bool ready_only = false) {
  uint64_t h = 0;
  auto now = now_of(self);
  for (auto& [key, p] : self->state.peers)
    if (p.have_info && (!ready_only || now >= p.retry_at))
      h = std::max(h, p.info.height);
  return h;
}

// -- headers first -----------------------------------------------------------

/// Checks `hs` (from height `from`) against the header chain held and
/// stores what is new. @returns the error to charge the peer with, if any.
caf::error take_headers(self_ptr self, uint64_t from,
                        const std::vector<header>& hs, work_t claimed,
                        bool& stepped_back) {
  auto& st = self->state;
  auto& params = st.store->params();
  std::unordered_map<uint64_t, header_entry> batch;
  auto lookup = [&](uint64_t h) -> std::optional<header_entry> {
    if (auto i = batch.find(h); i != batch.end())
      return i->second;
    auto e = st.sync->header_at(h);
    if (!e || !*e)
      return std::nullopt;
    return **e;
  };
  std::vector<header_entry> fresh;
  std::optional<header_entry> parent;
  for (size_t i = 0; i < hs.size(); ++i) {
    auto& h = hs[i];
    if (h.height != from + i)
      return make_error(ec::malformed, "headers out of order");
    auto hash = block_hash(h);
    if (fresh.empty() && h.height <= st.headers.height) {
      auto held = lookup(h.height);
      if (held && held->hash == hash)
        continue; // the chain we hold
    }
    if (!parent) {
      parent = lookup(h.height - 1);
      if (!parent)
        return make_error(ec::internal, "header chain has a gap");
      if (h.previous != parent->hash) {
        if (h.height - 1 == 0)
          return make_error(ec::wrong_chain, "headers of another chain");
        // Another branch: look further back for where it forks.
        stepped_back = true;
        return {};
      }
    }
    if (auto err = check_header(h))
      return err;
    header_lookup ancestor = [&](uint64_t height) {
      auto e = lookup(height);
      return e ? e->hdr : header{};
    };
    if (auto err = check_header_context(params, h, parent->hdr, ancestor,
                                        unix_now()))
      return err;
    header_entry e{h, hash, parent->work + h.difficulty};
    batch[h.height] = e;
    fresh.push_back(e);
    parent = e;
  }
  if (fresh.empty())
    return {};
  // A branch replaces what is held only with more work: shown by these
  // headers, or claimed by the peer (a branch that forks further back than
  // one batch shows it only batches later; each header's work is real).
  if (fresh.back().work <= st.headers_work && claimed <= st.headers_work
      && fresh.front().hdr.height <= st.headers.height)
    return {};
  if (auto err = st.sync->put_headers(fresh)) {
    log_error("state_sync", "storing headers failed: {}", message_of(err));
    return {};
  }
  auto fork = fresh.front().hdr.height;
  st.headers = tip_entry{fresh.back().hdr.height, fresh.back().hash};
  st.headers_work = fresh.back().work;
  if (st.target && st.target->height >= fork) {
    log_warning("state_sync",
                "the target {} was on a branch now replaced; "
                "choosing another",
                st.target->height);
    st.target.reset();
  }
  return {};
}

void fetch_headers(self_ptr self, uint64_t from) {
  auto& st = self->state;
  auto best = best_peer(self);
  if (!best || st.fetching_headers)
    return;
  auto& p = st.peers[*best];
  if (p.info.work <= st.headers_work)
    return;
  st.fetching_headers = true;
  auto key = *best;
  auto claimed = p.info.work;
  self
    ->request(p.session, st.cfg.request_timeout, atom::headers_v, from,
              st.cfg.header_batch)
    .then(
      [=](std::vector<header>& hs) {
        auto& st = self->state;
        st.fetching_headers = false;
        if (st.finished)
          return;
        if (hs.empty()) {
          back_off(self, key); // it no longer has them: not its fault
          return;
        }
        bool stepped_back = false;
        auto err = take_headers(self, from, hs, claimed, stepped_back);
        if (err && fault_of(err) == fault::peer) {
          charge(self, key, "headers that break a rule: " + message_of(err));
          return;
        }
        if (err) {
          log_warning("state_sync", "headers from {}: {}", short_key(key),
                      message_of(err));
          back_off(self, key);
          return;
        }
        if (stepped_back) {
          auto back = from > st.cfg.header_batch ? from - st.cfg.header_batch
                                                 : 1;
          fetch_headers(self, back);
          return;
        }
        fetch_headers(self, st.headers.height + 1);
      },
      [=](caf::error& err) {
        self->state.fetching_headers = false;
        log_info("state_sync", "headers from {} failed: {}", short_key(key),
                 message_of(err));
        back_off(self, key);
      });
}

// -- the work queue ----------------------------------------------------------

/// Rebuilds the queue from what is held and what is in flight: a range
/// held at an older root is brought to the target by a change proof; a
/// range neither held nor in flight is fetched whole.
void plan(self_ptr self) {
  auto& st = self->state;
  auto prog = st.sync->load();
  if (!prog) {
    log_error("state_sync", "reading progress failed: {}",
              message_of(prog.error()));
    return;
  }
  st.schedule.clear_queued();
  std::vector<std::pair<trie::state_key, trie::state_key>> flying;
  st.schedule.for_each_in_flight([&](const request& rq) {
    flying.emplace_back(rq.item.start, rq.item.end);
  });
  auto covered = flying;
  auto overlaps_flight = [&](const synced_range& r) {
    for (auto& [lo, hi] : flying)
      if (!(hi < r.start || r.end < lo))
        return true;
    return false;
  };
  for (auto& r : prog->ranges) {
    covered.emplace_back(r.start, r.end);
    if (r.root != st.target->root && !overlaps_flight(r))
      enqueue(self, work{2, r.start, r.end, r.root});
  }
  if (covered.empty()) {
    for (auto& [lo, hi] : initial_ranges(st.cfg.initial_ranges))
      enqueue(self, work{1, lo, hi, {}});
    return;
  }
  std::sort(covered.begin(), covered.end());
  std::optional<trie::state_key> cur = trie::min_key();
  for (auto& [lo, hi] : covered) {
    if (!cur)
      break;
    if (lo > *cur)
      enqueue(self, work{1, *cur, *trie::prev_key(lo), {}});
    if (hi >= *cur)
      cur = trie::next_key(hi);
  }
  if (cur)
    enqueue(self, work{1, *cur, trie::max_key(), {}});
}

/// Moves the target when the header chain is far enough past it.
void retarget(self_ptr self) {
  auto& st = self->state;
  if (st.fetching_headers)
    return;
  auto best = best_height(self, true);
  if (best == 0 || st.headers.height < best)
    return; // the header chain is still being fetched
  if (st.headers.height == 0)
    return; // nothing but genesis: nothing to sync yet
  // A chain shorter than the depth: its first block, and block sync does
  // the rest.
  auto want = st.headers.height > st.cfg.depth
                ? st.headers.height - st.cfg.depth
                : uint64_t{1};
  // A peer whose own chain began with a state sync serves states from its
  // base on: when no peer reaches back to `want`, the nearest base that one
  // does.
  auto now = now_of(self);
  std::optional<uint64_t> lowest_base;
  for (auto& [key, p] : st.peers)
    if (p.have_info && now >= p.retry_at)
      lowest_base = std::min(lowest_base.value_or(p.info.base), p.info.base);
  if (lowest_base && *lowest_base > want)
    want = std::min(*lowest_base, st.headers.height);
  bool servable = !st.target
                  || (lowest_base && *lowest_base <= st.target->height);
  if (st.target && servable) {
    if (want < st.target->height + st.cfg.retarget_blocks)
      return;
    // Not more often than every retarget_interval, so a sync under a
    // stream of new blocks converges, unless the target is about to leave
    // the servers' state history.
    auto behind = st.headers.height - st.target->height;
    if (now_of(self) - st.last_retarget < st.cfg.retarget_interval
        && behind < default_state_history / 2)
      return;
  }
  auto e = st.sync->header_at(want);
  if (!e || !*e) {
    log_error("state_sync", "header {} missing", want);
    return;
  }
  sync_target t{want, (*e)->hash, (*e)->hdr.state_root};
  if (auto err = st.sync->set_target(t)) {
    log_error("state_sync", "storing the target failed: {}", message_of(err));
    return;
  }
  // A move, or a new target after the last one was found off the chain.
  if (st.targeted)
    ++st.retargets;
  st.targeted = true;
  log_info("state_sync", "target: height {}, state root {}", t.height,
           to_hex(t.root));
  st.target = t;
  st.confirmed = false;
  st.last_retarget = now_of(self);
  plan(self);
}

/// Whether `p` has the target's state: its chain reaches the target, and
/// did not begin above it (a state-synced peer's base).
bool serves_target(const state_sync_state& st,
                   const state_sync_state::peer& p) {
  return st.target && p.info.height >= st.target->height
         && p.info.base <= st.target->height;
}

/// The peers that may be asked now: their info known, not left alone for
/// a failure, serving the target.
std::vector<public_key> ready_peers(self_ptr self) {
  auto& st = self->state;
  auto now = now_of(self);
  std::vector<public_key> out;
  for (auto& [key, p] : st.peers)
    if (p.have_info && now >= p.retry_at && serves_target(st, p))
      out.push_back(key);
  return out;
}

void on_reply(self_ptr self, uint64_t id, const state_reply& rep);
void on_failure(self_ptr self, uint64_t id, const caf::error& err);

void dispatch(self_ptr self) {
  auto& st = self->state;
  if (!st.target || st.finished || st.finishing
      || now_of(self) < st.paused_until)
    return;
  while (st.schedule.has_queued()) {
    auto key = st.schedule.pick(ready_peers(self));
    if (!key)
      return;
    auto next = st.schedule.pop();
    next.root = st.target->root;
    auto ask = st.schedule.start(*key, std::move(next));
    auto id = ask.id;
    auto& item = ask.range.item;
    auto& p = st.peers[*key];
    state_request r;
    r.from = item.from;
    r.to = st.target->root;
    std::copy(item.start.begin(), item.start.end(), r.start.begin());
    std::copy(item.end.begin(), item.end.end(), r.end.begin());
    r.key_limit = static_cast<uint32_t>(trie::max_proof_keys);
    r.byte_limit = static_cast<uint32_t>(trie::max_proof_bytes);
    self->request(p.session, st.cfg.request_timeout, atom::prove_v, r)
      .then([=](state_reply& rep) { on_reply(self, id, rep); },
            [=](caf::error& err) { on_failure(self, id, err); });
  }
}

void on_failure(self_ptr self, uint64_t id, const caf::error& err) {
  // Asked again of another peer, unless it was given up already.
  auto peer = self->state.schedule.failed(id);
  if (!peer)
    return;
  note_if_late("state_sync", "a state range from " + short_key(*peer), err);
  // A refusal, a timeout, a link gone: not a fault to charge (a reply that
  // did not decode was charged by the session already).
  self->state.error = "peer " + short_key(*peer)
                      + " did not serve a range: " + message_of(err);
  log_info("state_sync", "{}", self->state.error);
  back_off(self, *peer);
  dispatch(self);
}

/// Why a proof's values cannot be the state's: a key of a kind that does
/// not exist or a value of the wrong shape.
std::optional<std::string> bad_values(const std::vector<trie::entry>& es) {
  for (auto& [k, v] : es)
    if (!trie::valid_entry(k, v))
      return "a value that is not a state value";
  return std::nullopt;
}

void on_reply(self_ptr self, uint64_t id, const state_reply& rep) {
  auto asked = self->state.schedule.settle(id);
  if (!asked)
    return;
  auto& st = self->state;
  st.bytes += rep.bytes;
  auto rq = &asked->range;
  auto& item = rq->item;
  auto refuse = [&](const std::string& why) {
    charge(self, asked->peer, why);
    enqueue(self, item);
    dispatch(self);
  };
  trie::state_key hi = item.end;
  caf::expected<int64_t> net{int64_t{0}};
  size_t received = 0;
  bool truncated = false;
  if (rep.change) {
    auto& c = *rep.change;
    if (is_zero(item.from))
      return refuse("a change proof for a range request");
    for (auto& [k, v] : c.changes)
      if (v && !trie::valid_entry(k, *v))
        return refuse("a value that is not a state value");
    if (auto err = trie::verify_change(rq->root, item.start, item.end,
                                       st.sync->local_scan(), c)) {
      if (code_of(err) != ec::bad_state_proof) {
        log_error("state_sync", "reading the state failed: {}",
                  message_of(err));
        enqueue(self, item);
        return;
      }
      return refuse("a change proof that does not verify: " + message_of(err));
    }
    truncated = c.truncated;
    if (truncated && !c.changes.empty())
      hi = c.changes.back().first;
    received = c.changes.size();
    net = st.sync->put_changes(item.start, hi, rq->root, c.changes);
  } else if (rep.range) {
    auto& r = *rep.range;
    if (auto why = bad_values(r.entries))
      return refuse(*why);
    if (auto err = trie::verify_range(rq->root, item.start, item.end, r))
      return refuse("a range proof that does not verify: " + message_of(err));
    truncated = r.truncated;
    if (truncated && !r.entries.empty())
      hi = r.entries.back().first;
    received = r.entries.size();
    net = st.sync->put_range(item.start, hi, rq->root, r.entries);
  } else {
    return refuse("an empty state reply");
  }
  if (!net) {
    // This node's own failure (a full disk): nobody is charged; requests
    // pause, longer each time, and status says why.
    st.error = "storing a range failed: " + message_of(net.error());
    log_error("state_sync", "{}", st.error);
    st.storage_backoff = st.storage_backoff.count() == 0
                           ? st.cfg.backoff_min
                           : std::min(st.cfg.backoff_max,
                                      st.storage_backoff * 2);
    st.paused_until = now_of(self) + st.storage_backoff;
    enqueue(self, item);
    return;
  }
  st.error.clear();
  st.storage_backoff = std::chrono::milliseconds{0};
  if (auto* p = find_peer(self, asked->peer))
    p->backoff = std::chrono::milliseconds{0};
  st.keys = static_cast<uint64_t>(static_cast<int64_t>(st.keys) + *net);
  st.received_keys += received;
  // Each reply touches pages of the map that are not read again soon: let
  // them go, so the node's resident size stays flat however large the
  // state (docs/state.md, "memory").
  if (++st.replies % 4 == 0)
    st.store->env().release_resident();
  if (truncated && hi < item.end)
    enqueue(self, work{0, *trie::next_key(hi), item.end, item.from});
  if (st.target && rq->root != st.target->root)
    enqueue(self, work{2, item.start, hi, rq->root});
  dispatch(self);
  check_done(self);
}

// -- the end -----------------------------------------------------------------

/// Before the target becomes the tip, the best peer must still have it on
/// its chain: a reorg since it was chosen would leave this node on a
/// branch it could never leave (nothing below the target to unwind).
void confirm_target(self_ptr self) {
  auto& st = self->state;
  if (st.confirming)
    return;
  auto best = best_peer(self);
  if (!best)
    return; // asked again next round
  st.confirming = true;
  auto target = *st.target;
  auto key = *best;
  self
    ->request(st.peers[key].session, st.cfg.request_timeout, atom::hashes_v,
              target.height, uint32_t{1})
    .then(
      [=](std::vector<hash256>& hs) {
        auto& st = self->state;
        st.confirming = false;
        if (!st.target || st.target->hash != target.hash)
          return; // moved meanwhile
        if (hs.size() == 1 && hs[0] == target.hash) {
          st.confirmed = true;
          check_done(self);
          return;
        }
        log_warning("state_sync",
                    "peer {} no longer has the target {} on its chain; "
                    "fetching its headers again",
                    short_key(key), target.height);
        st.target.reset();
        auto from = target.height > st.cfg.header_batch
                      ? target.height - st.cfg.header_batch
                      : 1;
        fetch_headers(self, from);
      },
      [=](caf::error& err) {
        self->state.confirming = false;
        log_info("state_sync", "peer {} did not confirm the target: {}",
                 short_key(key), message_of(err));
        back_off(self, key);
      });
}

void check_done(self_ptr self) {
  auto& st = self->state;
  if (!st.target || st.finished || st.finishing || st.schedule.has_queued()
      || st.schedule.in_flight() > 0)
    return;
  auto prog = st.sync->load();
  if (!prog) {
    log_error("state_sync", "reading progress failed: {}",
              message_of(prog.error()));
    return;
  }
  // Whole, and all at the target root?
  std::optional<trie::state_key> cur = trie::min_key();
  bool whole = true;
  for (auto& r : prog->ranges) {
    if (!cur || r.start != *cur || r.root != st.target->root) {
      whole = false;
      break;
    }
    cur = trie::next_key(r.end);
  }
  if (!whole || cur) {
    plan(self);
    dispatch(self);
    return;
  }
  if (prog->root != st.target->root) {
    // Every range verified, yet the whole differs: fetch it all again.
    log_error("state_sync",
              "the state held has root {}, not the target's {}; "
              "fetching every range again",
              to_hex(prog->root), to_hex(st.target->root));
    for (auto& r : prog->ranges)
      enqueue(self, work{1, r.start, r.end, {}});
    dispatch(self);
    return;
  }
  if (!st.confirmed) {
    confirm_target(self);
    return;
  }
  st.finishing = true;
  log_info("state_sync",
           "state complete at height {} ({} keys); moving the "
           "headers and the tip",
           st.target->height, prog->keys);
  if (auto err = st.sync->finish(*st.target)) {
    st.finishing = false;
    log_error("state_sync", "finishing failed: {}; trying again",
              message_of(err));
    return;
  }
  st.finishing = false;
  st.finished = true;
  st.finished_at = now_of(self);
  st.final_ranges = prog->ranges.size();
  st.keys = prog->keys;
  for (auto& l : st.listeners)
    self->send(l, atom::synced_v);
  auto secs = std::chrono::duration<double>(now_of(self) - st.began).count();
  log_info("state_sync",
           "state sync done: height {}, root {}, {} keys, {} bytes received, "
           "{:.1f} s; block sync goes on from here",
           st.target->height, to_hex(st.target->root), st.keys, st.bytes, secs);
  self->request(st.processor, std::chrono::seconds{30}, atom::flush_v)
    .then([](uint64_t) {}, [](caf::error&) {});
}

state_sync_status status_of(self_ptr self);

/// Every 10 s, a line of progress (status_of reads the store: not every
/// round).
void log_progress(self_ptr self) {
  auto& st = self->state;
  auto now = now_of(self);
  if (now - st.last_log < std::chrono::seconds{10})
    return;
  st.last_log = now;
  auto s = status_of(self);
  log_info("state_sync",
           "{}: headers {}/{}, target {}, ranges {} done {} left, {} keys, "
           "{} keys/s, eta {} s",
           s.phase, s.headers, s.best_height, s.target_height, s.ranges_done,
           s.ranges_left, s.keys, s.keys_per_s, s.eta_s);
}

state_sync_status status_of(self_ptr self) {
  auto& st = self->state;
  state_sync_status s;
  auto best = best_height(self);
  if (st.finished)
    s.phase = "done";
  else if (st.finishing)
    s.phase = "finishing";
  else if (st.target)
    s.phase = "ranges";
  else if (best == 0)
    s.phase = "peers";
  else
    s.phase = "headers";
  s.error = st.error;
  if (!st.finished && st.target && ready_peers(self).empty())
    s.error = "no linked peer can serve the target now"
              + (st.error.empty() ? std::string{}
                                  : " (last: " + st.error + ")");
  s.headers = st.headers.height;
  s.best_height = std::max(best, st.headers.height);
  if (st.target) {
    s.target_height = st.target->height;
    s.target_root = st.target->root;
  }
  s.keys = st.keys;
  s.resumed_keys = st.resumed_keys;
  s.bytes = st.bytes;
  s.retargets = st.retargets;
  s.bad_proofs = st.bad_proofs;
  auto elapsed = (st.finished ? st.finished_at : now_of(self)) - st.began;
  s.elapsed_ms = static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count());
  if (s.elapsed_ms > 0)
    s.keys_per_s = st.received_keys * 1000 / s.elapsed_ms;
  s.ranges_left = st.schedule.queued() + st.schedule.in_flight();
  if (st.finished) {
    s.ranges_done = st.final_ranges;
    return s;
  }
  if (auto prog = st.sync->load(); prog && st.target) {
    for (auto& r : prog->ranges)
      if (r.root == st.target->root)
        ++s.ranges_done;
    auto cov = item_coverage(prog->ranges);
    if (cov > 0.001 && s.keys_per_s > 0) {
      auto total = static_cast<double>(prog->keys) / cov;
      auto left = std::max(0.0, total - static_cast<double>(prog->keys));
      s.eta_s = static_cast<uint64_t>(left / static_cast<double>(s.keys_per_s))
                + 1;
    }
  }
  return s;
}

void tick(self_ptr self) {
  auto& st = self->state;
  if (st.finished)
    return;
  refresh_peers(self);
  if (!st.fetching_headers)
    fetch_headers(self, st.headers.height + 1);
  retarget(self);
  dispatch(self);
  check_done(self);
  log_progress(self);
  self->delayed_send(self, st.cfg.tick, atom::tick_v);
}

} // namespace

caf::error state_sync_config::validate() const {
  if (depth < 1)
    return make_error(ec::bad_config, "state sync depth must be at least 1");
  if (retarget_blocks < 1)
    return make_error(ec::bad_config,
                      "state sync retarget_blocks must be at least 1");
  if (max_requests < 1 || max_per_peer < 1 || initial_ranges < 2)
    return make_error(ec::bad_config, "state sync limits must be positive");
  return {};
}

state_sync_actor::behavior_type
state_sync(self_ptr self, const chain_store* store, connector_actor connector,
           block_processor_actor processor, state_sync_config cfg) {
  auto& st = self->state;
  st.cfg = cfg;
  st.schedule = net::range_scheduler<request>{cfg.max_requests,
                                              cfg.max_per_peer};
  st.store = store;
  st.sync = std::make_unique<sync_store>(*store);
  st.connector = std::move(connector);
  st.processor = std::move(processor);
  st.began = now_of(self);
  st.last_log = st.began;
  auto fail = [&](const caf::error& err) {
    log_error("state_sync", "cannot run: {}", message_of(err));
  };
  if (auto err = st.sync->begin()) {
    fail(err);
  } else if (auto prog = st.sync->load(); !prog) {
    fail(prog.error());
  } else {
    st.headers = prog->headers;
    if (auto e = st.sync->header_at(st.headers.height); e && *e)
      st.headers_work = (*e)->work;
    st.target = prog->target;
    st.targeted = st.target.has_value();
    st.keys = st.resumed_keys = prog->keys;
    if (st.target) {
      log_info("state_sync", "resuming: {} keys held, headers to {}, target {}",
               st.keys, st.headers.height, st.target->height);
      plan(self);
    } else {
      log_info("state_sync", "state sync begins: headers first");
    }
    self->send(self, atom::tick_v);
  }
  return {
    [=](atom::tick) { tick(self); },
    [=](atom::status) { return status_of(self); },
    [=](atom::subscribe, sync_listener_actor& l) {
      if (self->state.finished)
        self->send(l, atom::synced_v);
      else
        self->state.listeners.push_back(std::move(l));
    },
  };
}

} // namespace hallmark
