#include "actors/prefetcher.hpp"

#include <caf/typed_event_based_actor.hpp>

#include "core/log.hpp"

namespace hallmark {

namespace {

using self_ptr = prefetcher_actor::stateful_pointer<prefetcher_state>;

/// Ends the fetch and tells the connector why; `why` keeps its code, which
/// says whose fault the failure was.
void fail(self_ptr self, caf::error why) {
  auto& st = self->state;
  if (!st.active)
    return;
  st.active = false;
  ++st.generation;
  fetch_report r;
  r.height = st.deliver_next == 0 ? 0 : st.deliver_next - 1;
  r.target = st.target;
  r.records = st.records;
  r.failure = std::move(why);
  self->send(st.connector, atom::progress_v, r);
}

size_t average(const prefetcher_state& st) {
  if (st.seen_blocks == 0)
    return st.cfg.initial_block_size;
  return std::max<size_t>(1, st.seen_bytes / st.seen_blocks);
}

void pump(self_ptr self);

/// Hands ready batches to block_processor in height order.
void deliver(self_ptr self) {
  auto& st = self->state;
  while (st.active && st.applying < st.cfg.max_applying) {
    auto i = st.ready.find(st.deliver_next);
    if (i == st.ready.end())
      return;
    auto blocks = std::move(i->second);
    st.ready.erase(i);
    size_t bytes = 0;
    for (auto& b : blocks)
      bytes += b.size();
    auto count = blocks.size();
    auto first = st.deliver_next;
    st.deliver_next += count;
    bool more = st.deliver_next <= st.target;
    ++st.applying;
    auto gen = st.generation;
    self
      ->request(st.processor, std::chrono::minutes{10}, atom::blocks_v,
                std::move(blocks), more)
      .then(
        [=](apply_report& r) {
          auto& st = self->state;
          if (gen != st.generation)
            return;
          --st.applying;
          st.cached_bytes -= std::min(st.cached_bytes, bytes);
          st.records += r.records;
          fetch_report rep;
          rep.height = r.height;
          rep.target = st.target;
          rep.records = st.records;
          rep.done = first + count > st.target;
          if (rep.done)
            st.active = false;
          self->send(st.connector, atom::progress_v, rep);
          if (st.active) {
            deliver(self);
            pump(self);
          }
        },
        [=](caf::error& err) {
          if (gen != self->state.generation)
            return;
          --self->state.applying;
          fail(self, annotate(err, "blocks from upstream refused: "));
        });
  }
}

void request_blocks(self_ptr self, uint64_t from, uint32_t count);

void on_blocks(self_ptr self, uint64_t from, uint32_t asked,
               std::vector<encoded> blocks) {
  auto& st = self->state;
  if (blocks.empty()) {
    // It claimed that height, but may have reorganised or not committed
    // it yet: not its fault (ec::not_found is policy), the connector
    // fails over to another peer.
    fail(self, make_error(ec::not_found, "upstream has no block at height "
                                           + std::to_string(from)));
    return;
  }
  if (blocks.size() > asked) {
    fail(self,
         make_error(ec::malformed, "upstream sent more blocks than asked"));
    return;
  }
  size_t bytes = 0;
  for (auto& b : blocks)
    bytes += b.size();
  st.seen_bytes += bytes;
  st.seen_blocks += blocks.size();
  // Replace the estimate with what arrived.
  st.cached_bytes -= std::min(st.cached_bytes, st.estimates[from]);
  st.estimates.erase(from);
  st.cached_bytes += bytes;
  auto got = static_cast<uint32_t>(blocks.size());
  st.ready.emplace(from, std::move(blocks));
  if (got < asked) {
    // A byte-capped reply: ask for the rest at once.
    auto rest = from + got;
    auto n = asked - got;
    st.estimates[rest] = n * average(st);
    st.cached_bytes += st.estimates[rest];
    request_blocks(self, rest, n);
  }
  deliver(self);
  pump(self);
}

/// Sends requests while the cache bound allows.
void pump(self_ptr self) {
  auto& st = self->state;
  while (st.active && st.next <= st.target
         && st.requests < st.cfg.max_requests) {
    auto avg = average(st);
    auto room = st.cfg.cache_bytes > st.cached_bytes
                  ? st.cfg.cache_bytes - st.cached_bytes
                  : 0;
    uint64_t n = std::min<uint64_t>({st.target - st.next + 1, st.cfg.max_batch,
                                     std::max<uint64_t>(room / avg, 0)});
    if (n == 0) {
      // Nothing fits; if nothing is under way either, take one block.
      if (st.requests > 0 || st.applying > 0 || !st.ready.empty())
        return;
      n = 1;
    }
    auto from = st.next;
    st.next += n;
    st.estimates[from] = n * avg;
    st.cached_bytes += n * avg;
    request_blocks(self, from, static_cast<uint32_t>(n));
  }
}

/// Asks the upstream for `count` blocks from `from`; the reply goes to
/// on_blocks unless a reset came in between.
void request_blocks(self_ptr self, uint64_t from, uint32_t count) {
  auto& st = self->state;
  ++st.requests;
  auto gen = st.generation;
  self
    ->request(st.session, std::chrono::seconds{90}, atom::blocks_v, from, count)
    .then(
      [=](std::vector<encoded>& blocks) {
        if (gen != self->state.generation)
          return;
        --self->state.requests;
        on_blocks(self, from, count, std::move(blocks));
      },
      [=](caf::error& err) {
        if (gen != self->state.generation)
          return;
        --self->state.requests;
        fail(self, annotate(err, "blocks from upstream: "));
      });
}

} // namespace

prefetcher_actor::behavior_type prefetcher(self_ptr self,
                                           block_processor_actor processor,
                                           connector_actor connector,
                                           prefetcher_config cfg) {
  self->state.processor = std::move(processor);
  self->state.connector = std::move(connector);
  self->state.cfg = cfg;
  return {
    [=](atom::fetch, peer_session_actor session, uint64_t from,
        uint64_t target) {
      auto& st = self->state;
      ++st.generation;
      st.session = std::move(session);
      st.next = from;
      st.deliver_next = from;
      st.target = target;
      st.requests = 0;
      st.applying = 0;
      st.cached_bytes = 0;
      st.records = 0;
      st.ready.clear();
      st.estimates.clear();
      st.active = from <= target;
      pump(self);
    },
    [=](atom::reset) {
      auto& st = self->state;
      ++st.generation;
      st.active = false;
      st.ready.clear();
      st.estimates.clear();
      st.cached_bytes = 0;
      st.requests = 0;
      st.applying = 0;
    },
  };
}

} // namespace hallmark
