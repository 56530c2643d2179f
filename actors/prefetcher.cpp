#include "actors/prefetcher.hpp"

#include <caf/typed_event_based_actor.hpp>

#include "actors/deadline.hpp"
#include "core/log.hpp"

namespace hallmark {

namespace {

using self_ptr = prefetcher_actor::stateful_pointer<prefetcher_state>;
using span = prefetcher_state::span;

/// The source serving as `key`.
std::optional<size_t> source_of(const prefetcher_state& st,
                                const public_key& key) {
  for (size_t i = 0; i < st.sources.size(); ++i)
    if (st.sources[i].link.key == key)
      return i;
  return std::nullopt;
}

uint32_t live_sources(const prefetcher_state& st) {
  uint32_t n = 0;
  for (auto& s : st.sources)
    n += s.dropped ? 0 : 1;
  return n;
}

fetch_report report_of(const prefetcher_state& st) {
  fetch_report r;
  r.height = st.deliver_next == 0 ? 0 : st.deliver_next - 1;
  r.target = st.target;
  r.records = st.records;
  r.peers = live_sources(st);
  r.start = st.start;
  return r;
}

/// Ends the fetch and tells the connector why; `why` keeps its code, which
/// says whose fault the failure was, and `source` whose it was.
void fail(self_ptr self, caf::error why, const public_key& source) {
  auto& st = self->state;
  if (!st.active)
    return;
  st.active = false;
  ++st.generation;
  // What is still under way belongs to a fetch that is over: its answers
  // settle to nothing.
  st.schedule.reset();
  auto r = report_of(st);
  r.failure = std::move(why);
  r.source = source;
  self->send(st.connector, atom::progress_v, r);
}

/// Leaves link `i` out of the rest of the fetch; its ranges are asked of
/// the others (the caller queues them again). With none left, the
/// fetch fails.
void drop(self_ptr self, size_t i, caf::error why) {
  auto& st = self->state;
  auto& src = st.sources[i];
  if (src.dropped || !st.active)
    return;
  src.dropped = true;
  if (live_sources(st) == 0) {
    fail(self, std::move(why), src.link.key);
    return;
  }
  log_info("prefetcher", "upstream {} left out of the fetch: {}",
           short_key(src.link.key), message_of(why));
  auto r = report_of(st);
  r.failure = std::move(why);
  r.source = src.link.key;
  r.source_only = true;
  self->send(st.connector, atom::progress_v, r);
}

size_t average(const prefetcher_state& st) {
  if (st.seen_blocks == 0)
    return st.cfg.initial_block_size;
  return std::max<size_t>(1, st.seen_bytes / st.seen_blocks);
}

void pump(self_ptr self);

/// Checks that `blocks` are the heights from `first` on and each extends
/// the one before, starting from `parent`; on success `parent` is the last
/// block's hash.
caf::error check_links(const std::vector<encoded>& blocks, uint64_t first,
                       hash256& parent) {
  auto prev = parent;
  for (size_t i = 0; i < blocks.size(); ++i) {
    auto hdr = decode_block_header(blocks[i]);
    if (!hdr)
      return annotate(hdr.error(),
                      "block at height " + std::to_string(first + i) + ": ");
    if (hdr->height != first + i)
      return make_error(ec::malformed,
                        "sent height " + std::to_string(hdr->height)
                          + " for height " + std::to_string(first + i));
    if (hdr->previous != prev)
      // Another branch (or a reorganised chain): not a fault, the blocks
      // are asked of another link.
      return make_error(ec::not_found, "its block at height "
                                         + std::to_string(first + i)
                                         + " is on another branch");
    prev = block_hash(*hdr);
  }
  parent = prev;
  return {};
}

/// Hands ready batches to block_processor in height order.
void deliver(self_ptr self) {
  auto& st = self->state;
  while (st.active && st.applying < st.cfg.max_applying) {
    auto i = st.ready.find(st.deliver_next);
    if (i == st.ready.end())
      return;
    auto blocks = std::move(i->second.blocks);
    auto from_source = i->second.source;
    st.ready.erase(i);
    size_t bytes = 0;
    for (auto& b : blocks)
      bytes += b.size();
    auto count = blocks.size();
    auto first = st.deliver_next;
    if (auto err = check_links(blocks, first, st.parent)) {
      // Asked again of another link; its bytes wait as the estimate.
      st.estimates[first] = bytes;
      st.schedule.add(span{first, static_cast<uint32_t>(count)});
      drop(self, from_source, std::move(err));
      pump(self);
      return;
    }
    auto source_key = st.sources[from_source].link.key;
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
          auto rep = report_of(st);
          rep.height = r.height;
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
          fail(self, annotate(err, "blocks from upstream refused: "),
               source_key);
        });
  }
}

void request_blocks(self_ptr self, net::ask<span> ask);

void on_blocks(self_ptr self, size_t source, uint64_t from, uint32_t asked,
               std::vector<encoded> blocks) {
  auto& st = self->state;
  if (blocks.empty() || blocks.size() > asked) {
    st.schedule.add(span{from, asked});
    drop(self, source,
         blocks.empty()
           // It claimed that height, but may have reorganised or not
           // committed it yet: not its fault (ec::not_found is policy).
           ? make_error(ec::not_found, "upstream has no block at height "
                                         + std::to_string(from))
           : make_error(ec::malformed, "upstream sent more blocks than asked"));
    pump(self);
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
  st.ready.emplace(from, prefetcher_state::arrived{std::move(blocks), source});
  // A sign of life for the connector's stall check: the links answer even
  // while a range before this one is still awaited.
  auto alive = report_of(st);
  alive.arrival = true;
  self->send(st.connector, atom::progress_v, alive);
  if (got < asked) {
    // A byte-capped reply: the rest goes first.
    auto rest = from + got;
    auto n = asked - got;
    st.estimates[rest] = n * average(st);
    st.cached_bytes += st.estimates[rest];
    st.schedule.add(span{rest, n});
  }
  deliver(self);
  pump(self);
}

/// The links still in the fetch.
std::vector<public_key> live_keys(const prefetcher_state& st) {
  std::vector<public_key> out;
  for (auto& s : st.sources)
    if (!s.dropped)
      out.push_back(s.link.key);
  return out;
}

/// Sends requests while the cache bound and the links allow: ranges to
/// ask again first, then new ones.
void pump(self_ptr self) {
  auto& st = self->state;
  if (st.assume != hash256{})
    return; // the headers pass comes first
  while (st.active) {
    // The live link with the fewest requests under way and room for one
    // more; ranges to ask again go first, then new ones.
    auto source = st.schedule.pick(live_keys(st));
    if (!source)
      return;
    if (st.schedule.has_queued()) {
      request_blocks(self, st.schedule.take(*source));
      continue;
    }
    if (st.next > st.target)
      return;
    auto avg = average(st);
    auto room = st.cfg.cache_bytes > st.cached_bytes
                  ? st.cfg.cache_bytes - st.cached_bytes
                  : 0;
    // The cache is shared so that every link can have its requests under
    // way: one request takes at most its share.
    auto share = std::max<uint64_t>(
      1, st.cfg.cache_bytes
           / (avg * st.cfg.per_source_requests * live_sources(st)));
    uint64_t n = std::min<uint64_t>(
      {st.target - st.next + 1, st.cfg.max_batch, room / avg, share});
    if (n == 0) {
      // Nothing fits; if nothing is under way either, take one block.
      if (st.schedule.in_flight() > 0 || st.applying > 0 || !st.ready.empty())
        return;
      n = 1;
    }
    auto from = st.next;
    st.next += n;
    st.estimates[from] = n * avg;
    st.cached_bytes += n * avg;
    request_blocks(
      self, st.schedule.start(*source, span{from, static_cast<uint32_t>(n)}));
  }
}

/// Sends `ask` to its link; the reply goes to on_blocks unless the request
/// was given up or reset in between. A failed request is asked of another
/// link.
void request_blocks(self_ptr self, net::ask<span> ask) {
  auto& st = self->state;
  auto source = *source_of(st, ask.peer);
  auto [from, count] = ask.range;
  self
    ->request(st.sources[source].link.session, st.cfg.request_timeout,
              atom::blocks_v, from, count)
    .then(
      [=, id = ask.id](std::vector<encoded>& blocks) {
        if (self->state.schedule.settle(id))
          on_blocks(self, source, from, count, std::move(blocks));
      },
      [=, id = ask.id](caf::error& err) {
        if (!self->state.schedule.failed(id))
          return;
        note_if_late("prefetcher",
                     "blocks " + std::to_string(from) + "+"
                       + std::to_string(count) + " from "
                       + short_key(self->state.sources[source].link.key),
                     err);
        drop(self, source, annotate(err, "blocks from upstream: "));
        pump(self);
      });
}

/// Link `source` went down: its requests are given up and asked of the
/// others at once, not after their timeouts.
void source_down(self_ptr self, size_t source) {
  self->state.schedule.drop(self->state.sources[source].link.key);
  drop(self, source,
       make_error(ec::not_found, "the link to the upstream went down"));
  pump(self);
}

/// Stops watching the links of the fetch that ends.
void forget_sources(self_ptr self) {
  auto& st = self->state;
  for (auto& s : st.sources)
    self->demonitor(s.link.session.address());
  st.sources.clear();
  st.schedule.reset();
}

/// The headers pass before an assumed-valid fetch; then the blocks.
void fetch_headers(self_ptr self) {
  auto& st = self->state;
  auto from = st.start + st.assume_chain.size();
  auto done = [self](const char* why) {
    auto& st = self->state;
    if (why != nullptr) {
      log_info("prefetcher",
               "no assume_valid for this fetch: {}; every signature is "
               "checked",
               why);
      st.assume_chain.clear();
    } else {
      self->send(st.processor, atom::assume_v, st.start,
                 std::move(st.assume_chain));
      st.assume_chain.clear();
    }
    st.assume = hash256{};
    pump(self);
  };
  if (from > st.target) {
    done("the block assumed valid is not on the upstream's chain (to the "
         "fetch's target)");
    return;
  }
  auto gen = st.generation;
  auto count = static_cast<uint32_t>(
    std::min<uint64_t>(2000, st.target - from + 1));
  self
    ->request(st.sources.front().link.session, st.cfg.request_timeout,
              atom::headers_v, from, count)
    .then(
      [=](std::vector<header>& hs) {
        auto& st = self->state;
        if (gen != st.generation)
          return;
        if (hs.empty()) {
          done("the upstream sent no headers");
          return;
        }
        for (size_t i = 0; i < hs.size() && i < count; ++i) {
          if (hs[i].height != from + i || hs[i].previous != st.assume_tip) {
            done("the upstream's headers do not link to our chain");
            return;
          }
          st.assume_tip = block_hash(hs[i]);
          st.assume_chain.push_back(st.assume_tip);
          if (st.assume_tip == st.assume) {
            done(nullptr);
            return;
          }
        }
        fetch_headers(self);
      },
      [=](caf::error& err) {
        if (gen != self->state.generation)
          return;
        auto why = "headers request failed: " + message_of(err);
        done(why.c_str());
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
  self->state.schedule = net::range_scheduler<span>{cfg.max_requests,
                                                    cfg.per_source_requests};
  self->set_down_handler([=](caf::down_msg& msg) {
    auto& st = self->state;
    for (size_t i = 0; i < st.sources.size(); ++i)
      if (st.sources[i].link.session.address() == msg.source
          && !st.sources[i].dropped)
        source_down(self, i);
  });
  return {
    [=](atom::fetch, std::vector<peer_link>& links, uint64_t from,
        uint64_t target, hash256 parent, hash256 assume) {
      auto& st = self->state;
      ++st.generation;
      forget_sources(self);
      for (auto& l : links) {
        self->monitor(l.session);
        st.sources.push_back(prefetcher_state::source{std::move(l)});
      }
      st.start = from;
      st.next = from;
      st.deliver_next = from;
      st.target = target;
      st.parent = parent;
      st.applying = 0;
      st.cached_bytes = 0;
      st.records = 0;
      st.ready.clear();
      st.estimates.clear();
      st.active = from <= target && !st.sources.empty();
      st.assume = assume;
      st.assume_chain.clear();
      st.assume_tip = parent;
      if (st.active && assume != hash256{})
        fetch_headers(self);
      else
        pump(self);
    },
    [=](atom::reset) {
      auto& st = self->state;
      ++st.generation;
      st.active = false;
      forget_sources(self);
      st.ready.clear();
      st.estimates.clear();
      st.cached_bytes = 0;
      st.applying = 0;
    },
  };
}

} // namespace hallmark
