#include "actors/block_processor.hpp"
#include "core/metrics.hpp"

#include <algorithm>
#include <cstring>

#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/verifier.hpp"
#include "core/log.hpp"

namespace hallmark {

caf::error block_processor_config::validate() const {
  if (reorg_window < 1)
    return make_error(ec::bad_config, "reorg_window must be at least 1");
  if (flush_blocks < 1 || flush_interval_ms < 1)
    return make_error(ec::bad_config, "flush policy must be positive");
  return {};
}

namespace {

using self_ptr = block_processor_actor::stateful_pointer<block_processor_state>;

void collect_leaves(const block& b, std::vector<hash256>& out) {
  for (auto& r : b.records)
    out.push_back(leaf_id(r));
}

chain_writer& writer(self_ptr self) {
  auto& st = self->state;
  if (!st.writer)
    st.writer = std::make_unique<chain_writer>(*st.store);
  return *st.writer;
}

/// The tip `v` holds, with what the next block must carry.
caf::expected<chain_tip> tip_of(const chain_view& v,
                                const chain_params& params) {
  chain_tip out;
  auto top = v.tip();
  out.height = top.height;
  out.hash = top.hash;
  out.hdr = top.hdr;
  out.work = top.work;
  auto anc = v.ancestors();
  out.next_difficulty = next_difficulty(params, top.height + 1, anc);
  out.median_time_past = median_time_past(top.height + 1, anc);
  if (auto err = v.failure())
    return err;
  return out;
}

/// ec::state_syncing while a state sync writes the chain.
caf::error refuse_while_syncing(self_ptr self) {
  if (self->state.cfg.state_syncing)
    return make_error(ec::state_syncing,
                      "this node is state-syncing; blocks wait until it is "
                      "done");
  return {};
}

/// Puts the committed tip on the board, if there is one.
void publish_tip(self_ptr self) {
  auto& board = self->state.cfg.board;
  if (!board)
    return;
  chain_reader r{*self->state.store};
  if (auto tip = tip_of(r, self->state.store->params()))
    board->publish(*tip);
}

/// Commits the open transaction and tells subscribers what changed.
caf::error flush(self_ptr self) {
  auto& st = self->state;
  if (!st.writer) {
    // The tip may have moved without this actor: a state sync finished.
    chain_reader r{*st.store};
    auto top = r.tip();
    if (!r.failure() && top.hash != st.last_tip) {
      st.last_tip = top.hash;
      publish_tip(self);
      for (auto& sub : st.tip_subscribers)
        caf::anon_send(sub, atom::tip_v, top.height, top.hash);
    }
    return {};
  }
  auto w = std::move(st.writer);
  auto top = w->tip();
  auto n = w->pending_blocks();
  auto started = std::chrono::steady_clock::now();
  if (auto err = w->commit()) {
    log_error("block_processor", "flush failed: {}", message_of(err));
    st.applied_ids.clear();
    st.unwound_records.clear();
    return err;
  }
  if (top.height != st.last_log_height) {
    log_info("block_processor", "tip {} {} ({:+} blocks)", top.height,
             to_hex(top.hash), n);
    st.last_log_height = top.height;
  }
  if (top.hash != st.last_tip) {
    st.last_tip = top.hash;
    publish_tip(self);
    for (auto& sub : st.tip_subscribers)
      caf::anon_send(sub, atom::tip_v, top.height, top.hash);
  }
  for (auto& sub : st.subscribers) {
    if (!st.unwound_records.empty())
      self->send(sub, atom::unwound_v, st.unwound_records);
    if (!st.applied_ids.empty())
      self->send(sub, atom::applied_v, st.applied_ids);
  }
  st.applied_ids.clear();
  st.unwound_records.clear();
  auto& counted = metrics::node();
  counted.flush_seconds.observe_since(started);
  counted.blocks_applied.add(st.blocks_since_flush);
  counted.records_applied.add(st.records_since_flush);
  st.records_since_flush = 0;
  st.blocks_since_flush = 0;
  // The pages read through the map stay resident until the kernel needs
  // them, and count as this process's memory: let them go at each commit,
  // so a long sync keeps a flat footprint (they stay in the page cache).
  st.store->env().release_resident();
  return {};
}

/// Whether the open transaction holds enough to commit now (the flush
/// policy's size bounds; the interval is a tick).
bool flush_due(const block_processor_state& st) {
  return st.records_since_flush >= st.cfg.flush_records
         || (st.writer
             && st.writer->pending_blocks()
                  >= static_cast<int64_t>(st.cfg.flush_blocks));
}

void drop_held(self_ptr self, const hash256& hash) {
  auto& st = self->state;
  auto i = st.held.find(hash);
  if (i == st.held.end())
    return;
  st.held_bytes -= i->second.raw.size();
  auto range = st.children.equal_range(i->second.b.hdr.previous);
  for (auto j = range.first; j != range.second; ++j)
    if (j->second == hash) {
      st.children.erase(j);
      break;
    }
  st.held.erase(i);
}

/// Held descendants of `hash` that have no held children: branch tips.
std::vector<hash256> leaves_from(self_ptr self, const hash256& hash) {
  auto& st = self->state;
  std::vector<hash256> out;
  std::vector<hash256> stack{hash};
  while (!stack.empty()) {
    auto h = stack.back();
    stack.pop_back();
    auto range = st.children.equal_range(h);
    if (range.first == range.second) {
      if (st.held.count(h))
        out.push_back(h);
      continue;
    }
    for (auto j = range.first; j != range.second; ++j)
      stack.push_back(j->second);
  }
  return out;
}

/// Unwinds `count` blocks into `unwound` (tip first).
caf::error unwind(self_ptr self, uint64_t count,
                  std::vector<std::pair<block, encoded>>& unwound) {
  auto& w = writer(self);
  for (uint64_t i = 0; i < count; ++i) {
    auto top = w.tip();
    auto body = w.body_at(top.height);
    auto b = w.unwind_tip();
    if (!b)
      return b.error();
    unwound.emplace_back(std::move(*b), std::move(*body));
  }
  return {};
}

/// Keeps a block whose parent is not the tip, evicting the oldest held
/// blocks when over the byte bound.
void hold(self_ptr self, const hash256& hash, block b, encoded raw) {
  auto& st = self->state;
  while (!st.held.empty() && st.held_bytes + raw.size() > st.cfg.held_bytes) {
    // Evict the lowest block: the least likely to matter.
    auto victim = std::min_element(
      st.held.begin(), st.held.end(), [](auto& x, auto& y) {
        return x.second.b.hdr.height < y.second.b.hdr.height;
      });
    drop_held(self, victim->first);
  }
  st.held_bytes += raw.size();
  st.children.emplace(b.hdr.previous, hash);
  st.held.emplace(
    hash, block_processor_state::held_block{std::move(b), std::move(raw)});
}

/// Considers the held branch ending at `leaf`: if it joins the best chain
/// and has more work (ties broken by the smaller tip hash), switches to it.
caf::error consider_branch(self_ptr self, const hash256& leaf,
                           apply_report& report) {
  auto& st = self->state;
  std::vector<hash256> branch; // tip first
  auto h = leaf;
  while (true) {
    auto i = st.held.find(h);
    if (i == st.held.end())
      break;
    branch.push_back(h);
    h = i->second.b.hdr.previous;
  }
  auto& w = writer(self);
  auto fork = w.height_of(h);
  if (!fork)
    return {}; // an orphan branch: wait for its parent
  auto top = w.tip();
  auto fork_work = w.work_at(*fork);
  if (!fork_work)
    return make_error(ec::storage, "no header at the fork's height "
                                     + std::to_string(*fork));
  work_t work = *fork_work;
  for (auto& x : branch)
    work += st.held[x].b.hdr.difficulty;
  // Most work wins; equal work goes to the smaller tip hash, a total order
  // every node agrees on whatever it saw first.
  bool better = work > top.work || (work == top.work && leaf < top.hash);
  if (!better)
    return {};
  auto depth = top.height - *fork;
  if (depth > st.cfg.reorg_window)
    return make_error(ec::reorg_too_deep,
                      "a branch with more work forks " + std::to_string(depth)
                        + " blocks back, beyond the reorg window of "
                        + std::to_string(st.cfg.reorg_window));
  // Commit what is applied so far, so a bad branch costs nothing else.
  if (auto err = flush(self))
    return err;
  std::vector<std::pair<block, encoded>> unwound;
  if (auto err = unwind(self, depth, unwound)) {
    st.writer.reset();
    return err;
  }
  auto now = unix_now();
  std::vector<hash256> ids;
  for (auto i = branch.rbegin(); i != branch.rend(); ++i) {
    auto& hb = st.held[*i];
    if (auto err = st.writer->apply(hb.b, hb.raw, now)) {
      // The branch is invalid from here on: forget it and keep our chain.
      st.writer.reset();
      for (auto j = i; j != branch.rend(); ++j)
        drop_held(self, *j);
      return err;
    }
    collect_leaves(hb.b, ids);
    report.records += record_count(hb.b);
    st.records_since_flush += record_count(hb.b);
    ++st.blocks_since_flush;
  }
  metrics::node().blocks_unwound.add(unwound.size());
  for (auto i = unwound.rbegin(); i != unwound.rend(); ++i)
    for (auto& r : i->first.records)
      st.unwound_records.push_back(encode(r));
  for (auto& x : branch)
    drop_held(self, x);
  // Unwound blocks become a held side branch: the chain may swing back.
  for (auto& [b, raw] : unwound) {
    auto hash = block_hash(b.hdr);
    hold(self, hash, std::move(b), std::move(raw));
  }
  st.applied_ids.insert(st.applied_ids.end(), ids.begin(), ids.end());
  report.unwound += depth;
  report.applied += branch.size();
  if (depth > 0)
    log_info("block_processor",
             "reorg: unwound {} blocks from height {}, "
             "applied {} of a branch with more work",
             depth, top.height, branch.size());
  else
    log_info("block_processor", "applied {} held blocks whose parent arrived",
             branch.size());
  return flush(self);
}

caf::error handle_block(self_ptr self, block& b, const encoded& raw,
                        apply_report& report) {
  auto& st = self->state;
  auto& w = writer(self);
  auto hash = block_hash(b.hdr);
  if (w.height_of(hash) || st.held.count(hash)) {
    ++report.known;
    return {};
  }
  auto top = w.tip();
  if (auto err = w.failure())
    return err; // not a block to hold: the chain could not be read
  if (b.hdr.previous == top.hash) {
    if (auto err = w.apply(b, raw, unix_now()))
      return err;
    collect_leaves(b, st.applied_ids);
    ++report.applied;
    report.records += record_count(b);
    st.records_since_flush += record_count(b);
    ++st.blocks_since_flush;
  } else {
    hold(self, hash, std::move(b), raw);
    ++report.held;
  }
  // Held blocks waiting for this one (or this one itself, if held) may now
  // form a branch with more work.
  for (auto& leaf : leaves_from(self, hash))
    if (auto err = consider_branch(self, leaf, report))
      return err;
  return {};
}

void schedule_flush(self_ptr self) {
  auto& st = self->state;
  if (st.flush_scheduled)
    return;
  st.flush_scheduled = true;
  self->delayed_send(self, std::chrono::milliseconds{st.cfg.flush_interval_ms},
                     atom::tick_v);
}

caf::error fill_tip(self_ptr self, apply_report& report) {
  auto& st = self->state;
  // Read through the open writer, or a snapshot: never open a write
  // transaction just to look.
  auto read = [&](const chain_view& view) {
    auto top = view.tip();
    report.height = top.height;
    report.tip = top.hash;
    return view.failure();
  };
  return st.writer ? read(*st.writer) : read(chain_reader{*st.store});
}

/// Flushes; the committed height, or why the flush failed.
caf::expected<uint64_t> flush_to_height(self_ptr self) {
  auto& st = self->state;
  if (auto err = flush(self))
    return err;
  chain_reader r{*st.store};
  auto height = r.tip().height;
  if (auto err = r.failure())
    return err;
  return height;
}

/// Applies verified batches at the front of the queue, in order.
void drain(self_ptr self) {
  auto& st = self->state;
  while (!st.queue.empty() && st.queue.front().waiting == 0) {
    auto bt = std::move(st.queue.front());
    st.queue.pop_front();
    apply_report report;
    report.known = bt.known;
    caf::error err;
    for (size_t i = 0; i < bt.good && !err; ++i) {
      auto height = (*bt.blocks)[i].hdr.height;
      if (auto e = handle_block(self, (*bt.blocks)[i], bt.raw[i], report))
        err = make_error(code_of(e), "block at height " + std::to_string(height)
                                       + ": " + message_of(e));
      // Bounds hold per block, not per batch: a batch of full blocks
      // would otherwise keep all their dirty pages until its end.
      else if (i + 1 < bt.good && flush_due(st))
        err = flush(self);
    }
    if (!err)
      err = bt.failure;
    // After stop nothing flushes again: commit what a batch accepted
    // before stop applies now.
    if (!bt.more || st.stopped || flush_due(st)) {
      if (auto ferr = flush(self); ferr && !err)
        err = ferr;
    } else if (st.writer) {
      schedule_flush(self);
    }
    // A storage failure (the writer's, or the tip's read) is the answer;
    // a failed writer is dropped with what it held.
    if (auto ferr = fill_tip(self, report))
      err = ferr;
    if (st.writer && st.writer->failure()) {
      err = st.writer->failure();
      st.writer.reset();
    }
    if (err) {
      bt.promise.deliver(err);
      continue;
    }
    // A new block that joined the best chain (a known one is skipped, a
    // held one waits): published once, to go to every link but its origin.
    if (bt.relay_from && report.applied > 0 && st.relay)
      self->send(st.relay, atom::relay_v, new_block{bt.raw.front()},
                 *bt.relay_from);
    bt.promise.deliver(report);
  }
  if (st.stop_reply && st.queue.empty()) {
    auto reply = std::move(*st.stop_reply);
    st.stop_reply.reset();
    auto height = flush_to_height(self);
    if (height)
      reply.deliver(*height);
    else
      reply.deliver(height.error());
  }
}

caf::expected<chain_tip> current_tip(self_ptr self) {
  auto& st = self->state;
  if (st.writer)
    return tip_of(*st.writer, st.store->params());
  chain_reader r{*st.store};
  return tip_of(r, st.store->params());
}

/// Queues a batch for verification and applies it in arrival order.
/// `relay_from`: the batch is one new block from that link (null actor_addr:
/// made here), published to the relay subscriber if it joins the best chain.
caf::result<apply_report>
take_batch(self_ptr self, std::vector<encoded> raw, bool more,
           std::optional<caf::actor_addr> relay_from) {
  auto& st = self->state;
  if (st.stopped)
    return make_error(ec::shutting_down, "node is stopping");
  if (auto err = refuse_while_syncing(self))
    return err;
  block_processor_state::batch bt;
  bt.id = st.next_batch++;
  bt.more = more;
  bt.relay_from = std::move(relay_from);
  bt.blocks = std::make_shared<std::vector<block>>();
  bt.blocks->reserve(raw.size());
  for (auto& r : raw) {
    auto b = decode_block(r);
    if (!b) {
      bt.failure = make_error(code_of(b.error()),
                              "block " + std::to_string(bt.blocks->size())
                                + " of the batch: " + message_of(b.error()));
      break;
    }
    bt.blocks->push_back(std::move(*b));
  }
  // Blocks already on the best chain (a peer resending, an export that
  // starts at genesis) are counted as known, not verified again. Ancestors
  // of the block assumed valid skip their signatures: the header chain told
  // by atom::assume leads from our chain to it.
  std::vector<bool> assumed;
  {
    std::optional<chain_reader> reader;
    if (!st.writer)
      reader.emplace(*st.store);
    const chain_view& view = st.writer
                               ? static_cast<const chain_view&>(*st.writer)
                               : *reader;
    size_t kept = 0;
    for (size_t i = 0; i < bt.blocks->size(); ++i) {
      auto& hdr = (*bt.blocks)[i].hdr;
      auto hash = block_hash(hdr);
      if (view.height_of(hash)) {
        ++bt.known;
        continue;
      }
      auto at = hdr.height - st.assumed_from;
      assumed.push_back(hdr.height >= st.assumed_from && at < st.assumed.size()
                        && st.assumed[at] == hash);
      if (kept != i) {
        (*bt.blocks)[kept] = std::move((*bt.blocks)[i]);
        raw[kept] = std::move(raw[i]);
      }
      ++kept;
    }
    bt.blocks->resize(kept);
  }
  bt.good = bt.blocks->size();
  raw.resize(bt.good);
  bt.raw = std::move(raw);
  auto jobs = split_jobs(bt.blocks, st.verifiers.size(), assumed);
  bt.waiting = jobs.size();
  auto promise = self->make_response_promise<apply_report>();
  bt.promise = promise;
  auto id = bt.id;
  st.queue.push_back(std::move(bt));
  for (size_t i = 0; i < jobs.size(); ++i) {
    auto on_verdict = [=](verify_verdict& v) {
      for (auto& q : self->state.queue) {
        if (q.id != id)
          continue;
        --q.waiting;
        if (!v.ok() && v.block_index < q.good) {
          q.good = v.block_index;
          q.failure = annotate(
            v.error, "block at height "
                       + std::to_string((*q.blocks)[v.block_index].hdr.height)
                       + ": ");
        }
      }
      drain(self);
    };
    auto on_error = [=](caf::error& err) {
      verify_verdict v{
        0, make_error(ec::internal, "verifier failed: " + caf::to_string(err))};
      on_verdict(v);
    };
    self
      ->request(st.verifiers[i % st.verifiers.size()], caf::infinite,
                atom::verify_v, std::move(jobs[i]))
      .then(on_verdict, on_error);
  }
  drain(self);
  return promise;
}

} // namespace

block_processor_actor::behavior_type
block_processor(self_ptr self, chain_store* store, block_processor_config cfg,
                std::vector<verifier_actor> verifiers) {
  auto& st = self->state;
  st.store = store;
  st.cfg = cfg;
  st.verifiers = std::move(verifiers);
  {
    auto top = chain_reader{*store}.tip();
    st.last_log_height = top.height;
    st.last_tip = top.hash;
  }
  publish_tip(self);
  return {
    [=](atom::blocks, std::vector<encoded>& raw,
        bool more) -> caf::result<apply_report> {
      return take_batch(self, std::move(raw), more, std::nullopt);
    },
    [=](atom::block, encoded& raw,
        caf::actor_addr& origin) -> caf::result<apply_report> {
      return take_batch(self, {std::move(raw)}, false, std::move(origin));
    },
    [=](atom::tip) -> caf::result<chain_tip> {
      auto tip = current_tip(self);
      if (!tip)
        return tip.error();
      return std::move(*tip);
    },
    [=](atom::prepare, encoded& raw) -> caf::result<hash256> {
      auto& st = self->state;
      if (st.stopped)
        return make_error(ec::shutting_down, "node is stopping");
      if (auto err = refuse_while_syncing(self))
        return err;
      auto b = decode_block(raw);
      if (!b)
        return b.error();
      auto& w = writer(self);
      auto root = w.state_root_after(*b);
      if (auto err = w.failure()) {
        st.writer.reset();
        return err;
      }
      if (!root)
        return root.error();
      return *root;
    },
    [=](atom::reorg, uint32_t n) -> caf::result<apply_report> {
      auto& st = self->state;
      if (st.stopped)
        return make_error(ec::shutting_down, "node is stopping");
      if (auto err = refuse_while_syncing(self))
        return err;
      if (n > st.cfg.reorg_window)
        return make_error(ec::reorg_too_deep,
                          "a forced reorg is limited to the reorg window ("
                            + std::to_string(st.cfg.reorg_window) + " blocks)");
      if (auto err = flush(self))
        return err;
      auto& w = writer(self);
      auto top = w.tip();
      if (auto err = w.failure()) {
        st.writer.reset();
        return err;
      }
      if (n > top.height)
        return make_error(ec::reorg_too_deep, "the chain has only "
                                                + std::to_string(top.height)
                                                + " blocks above genesis");
      std::vector<std::pair<block, encoded>> unwound;
      if (auto err = unwind(self, n, unwound)) {
        st.writer.reset();
        return err;
      }
      apply_report report;
      report.unwound = n;
      auto now = unix_now();
      for (auto i = unwound.rbegin(); i != unwound.rend(); ++i) {
        if (auto err = st.writer->apply(i->first, i->second, now)) {
          st.writer.reset();
          return err;
        }
        ++report.applied;
      }
      if (auto err = flush(self))
        return err;
      if (auto err = fill_tip(self, report))
        return err;
      log_info("block_processor", "forced reorg of {} blocks: tip {} {}", n,
               report.height, to_hex(report.tip));
      return report;
    },
    [=](atom::synced) { self->state.cfg.state_syncing = false; },
    [=](atom::flush) -> caf::result<uint64_t> {
      auto height = flush_to_height(self);
      if (!height)
        return height.error();
      return *height;
    },
    [=](atom::stop) -> caf::result<uint64_t> {
      auto& st = self->state;
      st.stopped = true;
      if (st.queue.empty()) {
        auto height = flush_to_height(self);
        if (!height)
          return height.error();
        return *height;
      }
      // Batches taken before stop are still with the verifiers: answered
      // when drain has applied and committed them.
      st.stop_reply = self->make_response_promise<uint64_t>();
      return *st.stop_reply;
    },
    [=](atom::subscribe, reservoir_actor& r) {
      self->state.subscribers.push_back(std::move(r));
    },
    [=](atom::subscribe, caf::actor& a) {
      self->state.tip_subscribers.push_back(std::move(a));
    },
    [=](atom::subscribe, relay_actor& r) { self->state.relay = std::move(r); },
    [=](atom::assume, uint64_t first, std::vector<hash256>& hashes) {
      auto& st = self->state;
      if (!hashes.empty())
        log_info("block_processor",
                 "signatures of blocks {}..{} are assumed valid (assume_valid "
                 "{} and its ancestors)",
                 first, first + hashes.size() - 1, to_hex(hashes.back()));
      st.assumed_from = first;
      st.assumed = std::move(hashes);
    },
    [=](atom::tick) {
      self->state.flush_scheduled = false;
      flush(self); // logs its failure and drops the writer
    },
  };
}

} // namespace hallmark
