#include "actors/reservoir.hpp"

#include <algorithm>

#include <caf/typed_event_based_actor.hpp>

#include "core/log.hpp"

namespace hallmark {

namespace {

using self_ptr = reservoir_actor::stateful_pointer<reservoir_state>;
using entry = reservoir_state::entry;

} // namespace

caf::error admit(const entry& e, reservoir_state::indexes& idx,
                 const chain_view& view, const chain_params& params,
                 const reservoir_config& cfg, bool check_signatures) {
  if (auto err = check_fields(e.rec))
    return err;
  if (check_signatures)
    if (auto err = hallmark::check_signatures(e.rec))
      return err;
  auto b = std::get_if<issue_batch>(&e.rec);
  auto t = std::get_if<transfer>(&e.rec);
  if (b && idx.issue_count + b->issues.size() > cfg.max_issues)
    return make_error(ec::pool_full, "the reservoir holds "
                                       + std::to_string(cfg.max_issues)
                                       + " issues already");
  if (t && idx.transfer_count + 1 > cfg.max_transactions)
    return make_error(ec::pool_full, "the reservoir holds "
                                       + std::to_string(cfg.max_transactions)
                                       + " transfers already");
  idx.state.rebase(view);
  auto m = idx.state.mark();
  if (auto err = apply_record(e.rec, 0, idx.state, params)) {
    idx.state.rollback(m);
    return err;
  }
  if (auto a = std::get_if<asset>(&e.rec)) {
    idx.assets.emplace(asset_id(*a), e.id);
  } else if (b) {
    for (uint16_t sub = 0; sub < b->issues.size(); ++sub) {
      idx.issues.emplace(record_id(b->issues[sub]), std::make_pair(e.id, sub));
      ++idx.issued[b->issues[sub].asset_id];
    }
    idx.issue_count += b->issues.size();
  } else {
    idx.spent.emplace(t->link, e.id);
    ++idx.transfer_count;
  }
  return {};
}

namespace {

/// Undoes what admit() added to the indexes for `e` (used when a submission
/// fails part way; the pending state rolls back by its journal).
void unadmit(const entry& e, reservoir_state::indexes& idx) {
  if (auto a = std::get_if<asset>(&e.rec)) {
    idx.assets.erase(asset_id(*a));
  } else if (auto b = std::get_if<issue_batch>(&e.rec)) {
    for (auto& i : b->issues) {
      auto iid = record_id(i);
      idx.issues.erase(iid);
      if (--idx.issued[i.asset_id] == 0)
        idx.issued.erase(i.asset_id);
    }
    idx.issue_count -= b->issues.size();
  } else {
    auto& t = std::get<transfer>(e.rec);
    idx.spent.erase(t.link);
    --idx.transfer_count;
  }
}

std::vector<entry*> in_order(self_ptr self) {
  std::vector<entry*> out;
  for (auto& [id, e] : self->state.pending)
    out.push_back(&e);
  std::sort(out.begin(), out.end(),
            [](auto* x, auto* y) { return x->seq < y->seq; });
  return out;
}

/// Admits every pending entry again against the current chain, in order;
/// drops (and forgets durably) those that no longer fit.
void revalidate(self_ptr self) {
  auto& st = self->state;
  st.idx = {};
  chain_reader view{*st.chain};
  std::vector<hash256> dropped;
  for (auto* e : in_order(self)) {
    if (auto err = admit(*e, st.idx, view, st.chain->params(), st.cfg, false)) {
      if (code_of(err) == ec::storage) {
        // The chain could not be read: nothing is known to be invalid.
        log_error("reservoir", "{}", message_of(err));
        return;
      }
      if (code_of(err) != ec::duplicate)
        log_info("reservoir", "dropped {} {}: {}", kind_name(e->rec),
                 to_hex(e->id), message_of(err));
      dropped.push_back(e->id);
    }
  }
  for (auto& id : dropped)
    st.pending.erase(id);
  if (!dropped.empty())
    if (auto err = st.local->remove_pending(dropped))
      log_error("reservoir", "cannot forget dropped records: {}",
                message_of(err));
}

void remove(self_ptr self, const std::vector<hash256>& ids) {
  auto& st = self->state;
  std::vector<hash256> gone;
  for (auto& id : ids)
    if (st.pending.erase(id))
      gone.push_back(id);
  if (!gone.empty())
    if (auto err = st.local->remove_pending(gone))
      log_error("reservoir", "cannot forget records: {}", message_of(err));
}

void expire(self_ptr self) {
  auto& st = self->state;
  auto now = st.cfg.clock();
  std::vector<hash256> old;
  for (auto& [id, e] : st.pending) {
    auto age = now > e.accepted_at ? now - e.accepted_at : 0;
    if (auto a = std::get_if<asset>(&e.rec)) {
      if (age > st.cfg.asset_expiry_s && !st.idx.issued.count(asset_id(*a)))
        old.push_back(id);
    } else if (age > st.cfg.pending_expiry_s) {
      old.push_back(id);
    }
  }
  if (old.empty())
    return;
  log_info("reservoir", "{} pending records expired", old.size());
  remove(self, old);
  revalidate(self);
}

caf::expected<std::vector<hash256>> submit(self_ptr self, const encoded& raw) {
  auto& st = self->state;
  auto records = decode_records(raw);
  if (!records)
    return records.error();
  if (records->empty())
    return make_error(ec::bad_request, "no records submitted");
  chain_reader view{*st.chain};
  auto now = st.cfg.clock();
  std::vector<entry> admitted;
  std::vector<hash256> ids;
  // All or nothing: a refusal takes back the pending state and the indexes
  // of the records admitted before it.
  auto mark = st.idx.state.mark();
  auto take_back = [&] {
    st.idx.state.rollback(mark);
    for (auto& a : admitted)
      unadmit(a, st.idx);
  };
  for (auto& r : *records) {
    entry e;
    e.id = leaf_id(r);
    e.rec = std::move(r);
    e.raw = encode(e.rec);
    e.accepted_at = now;
    e.seq = st.next_seq + static_cast<int64_t>(admitted.size());
    caf::error err;
    if (st.pending.count(e.id))
      err = make_error(ec::duplicate, std::string{kind_name(e.rec)} + " "
                                        + to_hex(e.id) + " is already pending");
    else
      err = admit(e, st.idx, view, st.chain->params(), st.cfg, true);
    if (err) {
      take_back();
      return err;
    }
    ids.push_back(e.id);
    admitted.push_back(std::move(e));
  }
  std::vector<std::tuple<hash256, uint64_t, encoded>> rows;
  for (auto& e : admitted)
    rows.emplace_back(e.id, e.accepted_at, e.raw);
  if (auto err = st.local->put_pending(rows)) {
    take_back();
    return err;
  }
  st.next_seq += static_cast<int64_t>(admitted.size());
  for (auto& e : admitted)
    st.pending.emplace(e.id, std::move(e));
  return ids;
}

/// Up to `max` records for a block, in an order that applies: assets just
/// before the first batch issuing them, transfers after their link.
std::vector<encoded> take(self_ptr self, uint32_t max) {
  auto& st = self->state;
  std::vector<encoded> out;
  std::unordered_map<hash256, bool, hash256_hasher> included;
  size_t count = 0;
  size_t bytes = 0;
  const size_t byte_budget = max_block_bytes - 64 * 1024;
  auto fits = [&](size_t n, size_t b) {
    return count + n <= max && bytes + b <= byte_budget;
  };
  auto add = [&](const entry& e) {
    out.push_back(e.raw);
    included[e.id] = true;
    count += record_count(e.rec);
    bytes += e.raw.size();
  };
  for (auto* e : in_order(self)) {
    if (std::holds_alternative<asset>(e->rec))
      continue; // goes in with its first issue
    if (auto b = std::get_if<issue_batch>(&e->rec)) {
      std::vector<const entry*> assets;
      size_t extra_bytes = 0;
      for (auto& i : b->issues) {
        auto p = st.idx.assets.find(i.asset_id);
        if (p == st.idx.assets.end() || included.count(p->second))
          continue;
        auto& a = st.pending.at(p->second);
        if (std::find(assets.begin(), assets.end(), &a) == assets.end()) {
          assets.push_back(&a);
          extra_bytes += a.raw.size();
        }
      }
      if (!fits(b->issues.size() + assets.size(), e->raw.size() + extra_bytes))
        continue;
      for (auto* a : assets)
        add(*a);
      add(*e);
      continue;
    }
    auto& t = std::get<transfer>(e->rec);
    // A pending link must already be in this block.
    bool link_pending = st.idx.state.holds_record(t.link);
    if (link_pending) {
      auto issue = st.idx.issues.find(t.link);
      auto holder = issue != st.idx.issues.end() ? issue->second.first : t.link;
      if (!included.count(holder))
        continue;
    }
    if (!fits(1, e->raw.size()))
      continue;
    add(*e);
  }
  return out;
}

std::vector<pending_record> lookup(self_ptr self, const hash256& id) {
  auto& st = self->state;
  if (auto p = st.pending.find(id); p != st.pending.end())
    return {pending_record{id, p->second.raw, 0, p->second.accepted_at}};
  if (auto i = st.idx.issues.find(id); i != st.idx.issues.end()) {
    auto& e = st.pending.at(i->second.first);
    return {pending_record{id, e.raw, i->second.second, e.accepted_at}};
  }
  if (auto a = st.idx.assets.find(id); a != st.idx.assets.end()) {
    auto& e = st.pending.at(a->second);
    return {pending_record{e.id, e.raw, 0, e.accepted_at}};
  }
  return {};
}

void load(self_ptr self) {
  auto& st = self->state;
  std::vector<entry> loaded;
  auto err = st.local->for_each_pending(
    [&](const hash256& id, uint64_t at, encoded raw) {
      auto r = decode_record(raw, submission_limits);
      if (!r)
        return;
      entry e;
      e.id = id;
      e.rec = std::move(*r);
      e.raw = std::move(raw);
      e.accepted_at = at;
      loaded.push_back(std::move(e));
    });
  if (err)
    log_error("reservoir", "cannot read the pending records: {}",
              message_of(err));
  // Admission order: acceptance time, then dependencies (assets, issues,
  // transfers by the length of their pending chain are handled by retries).
  std::stable_sort(loaded.begin(), loaded.end(), [](auto& x, auto& y) {
    if (x.accepted_at != y.accepted_at)
      return x.accepted_at < y.accepted_at;
    return x.rec.index() < y.rec.index();
  });
  chain_reader view{*st.chain};
  std::vector<hash256> dropped;
  // Transfers of one second may depend on each other in any order: retry
  // until nothing more is admitted.
  bool progress = true;
  while (progress && !loaded.empty()) {
    progress = false;
    std::vector<entry> again;
    for (auto& e : loaded) {
      if (auto err = admit(e, st.idx, view, st.chain->params(), st.cfg, true)) {
        if (code_of(err) == ec::storage) {
          // The chain could not be read: keep every stored record.
          log_error("reservoir", "{}", message_of(err));
          return;
        }
        again.push_back(std::move(e));
        continue;
      }
      progress = true;
      e.seq = st.next_seq++;
      auto id = e.id;
      st.pending.emplace(id, std::move(e));
    }
    loaded = std::move(again);
  }
  for (auto& e : loaded)
    dropped.push_back(e.id);
  if (!dropped.empty()) {
    log_info("reservoir", "{} stored records are no longer valid",
             dropped.size());
    if (auto err = st.local->remove_pending(dropped))
      log_error("reservoir", "cannot forget records: {}", message_of(err));
  }
  if (!st.pending.empty())
    log_info("reservoir", "restored {} pending records", st.pending.size());
}

} // namespace

reservoir_actor::behavior_type reservoir(self_ptr self,
                                         const chain_store* chain,
                                         local_store* local,
                                         reservoir_config cfg) {
  auto& st = self->state;
  st.chain = chain;
  st.local = local;
  st.cfg = cfg;
  if (!st.cfg.clock)
    st.cfg.clock = unix_now;
  load(self);
  self->delayed_send(self, std::chrono::milliseconds{cfg.expiry_check_ms},
                     atom::expire_v);
  return {
    [=](atom::submit, const encoded& raw,
        const caf::actor_addr& origin) -> caf::result<std::vector<hash256>> {
      if (self->state.cfg.state_syncing)
        return make_error(ec::state_syncing,
                          "this node is state-syncing: records wait until "
                          "it holds the whole state");
      auto ids = submit(self, raw);
      if (!ids)
        return ids.error();
      // Admitted for the first time (a duplicate is refused): published
      // once, to go to every link but its origin.
      if (self->state.relay)
        self->send(self->state.relay, atom::relay_v, new_records{raw}, origin);
      return std::move(*ids);
    },
    [=](atom::subscribe, relay_actor& r) { self->state.relay = std::move(r); },
    [=](atom::take, uint32_t max) -> std::vector<encoded> {
      return take(self, max);
    },
    [=](atom::lookup, const hash256& id) -> std::vector<pending_record> {
      return lookup(self, id);
    },
    [=](atom::after, const hash256& link) -> std::vector<pending_record> {
      auto& st = self->state;
      std::vector<pending_record> out;
      auto at = link;
      for (size_t guard = 0; guard < st.pending.size(); ++guard) {
        auto s = st.idx.spent.find(at);
        if (s == st.idx.spent.end())
          break;
        auto& e = st.pending.at(s->second);
        out.push_back(pending_record{e.id, e.raw, 0, e.accepted_at});
        at = e.id;
      }
      return out;
    },
    [=](atom::synced) { self->state.cfg.state_syncing = false; },
    [=](atom::status) -> reservoir_status {
      auto& st = self->state;
      reservoir_status out;
      out.pending = st.pending.size();
      out.assets = st.idx.assets.size();
      out.issues = st.idx.issue_count;
      out.transfers = st.idx.transfer_count;
      return out;
    },
    [=](atom::applied, const std::vector<hash256>& ids) {
      remove(self, ids);
      revalidate(self);
    },
    [=](atom::unwound, const std::vector<encoded>& records) {
      auto& st = self->state;
      auto now = st.cfg.clock();
      std::vector<std::tuple<hash256, uint64_t, encoded>> rows;
      // Unwound records are older than anything pending: they go first.
      int64_t seq = st.min_seq - static_cast<int64_t>(records.size());
      st.min_seq = seq;
      for (auto& raw : records) {
        auto r = decode_record(raw, submission_limits);
        if (!r)
          continue;
        entry e;
        e.id = leaf_id(*r);
        e.rec = std::move(*r);
        e.raw = raw;
        e.accepted_at = now;
        e.seq = seq++;
        if (st.pending.count(e.id))
          continue;
        rows.emplace_back(e.id, e.accepted_at, e.raw);
        st.pending.emplace(e.id, std::move(e));
      }
      if (auto err = st.local->put_pending(rows))
        log_error("reservoir", "cannot store unwound records: {}",
                  message_of(err));
      revalidate(self);
      log_info("reservoir",
               "took back {} records of unwound blocks; {} pending",
               rows.size(), st.pending.size());
    },
    [=](atom::expire) {
      expire(self);
      self->delayed_send(
        self, std::chrono::milliseconds{self->state.cfg.expiry_check_ms},
        atom::expire_v);
    },
  };
}

} // namespace hallmark
