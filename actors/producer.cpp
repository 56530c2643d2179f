#include "actors/producer.hpp"

#include <caf/typed_event_based_actor.hpp>

#include "core/log.hpp"

namespace hallmark {

namespace {

using self_ptr = producer_actor::stateful_pointer<producer_state>;

void schedule(self_ptr self) {
  auto& st = self->state;
  auto ms = std::max<uint64_t>(st.cfg.min_block_interval_ms, 50);
  for (uint32_t i = 0; i < st.failures && ms < st.cfg.max_backoff_ms; ++i)
    ms *= 2;
  if (st.failures > 0)
    ms = std::min(ms, std::max<uint64_t>(st.cfg.max_backoff_ms, 50));
  self->delayed_send(self, std::chrono::milliseconds{ms}, atom::tick_v);
}

/// A block could not be made: logged when new or once a minute; the next
/// attempt backs off.
void failed(self_ptr self, const std::string& what) {
  auto& st = self->state;
  ++st.failures;
  auto now = unix_now();
  if (what != st.last_failure || now >= st.logged_at + 60) {
    log_warning("producer", "{} (attempt {}; retrying with backoff)", what,
                st.failures);
    st.last_failure = what;
    st.logged_at = now;
  }
  st.busy = false;
  schedule(self);
}

/// A block was made: the backoff ends.
void recovered(self_ptr self) {
  auto& st = self->state;
  if (st.failures > 0)
    log_info("producer", "making blocks again after {} failed attempts",
             st.failures);
  st.failures = 0;
  st.last_failure.clear();
}

void submit(self_ptr self) {
  auto& st = self->state;
  auto b = std::move(*st.candidate);
  st.candidate.reset();
  auto height = b.hdr.height;
  auto records = record_count(b);
  // Made here, so no origin: block_processor publishes it to every link.
  self
    ->request(st.processor, std::chrono::seconds{120}, atom::block_v, encode(b),
              caf::actor_addr{})
    .then(
      [=](apply_report& r) {
        auto& st = self->state;
        st.busy = false;
        if (r.applied > 0) {
          ++st.made;
          st.last_block_at = unix_now();
          recovered(self);
          log_info("producer", "made block {} with {} records", height,
                   records);
        }
        schedule(self);
      },
      [=](caf::error& err) {
        failed(self, "block " + std::to_string(height)
                       + " refused: " + message_of(err));
      });
}

/// Mines one step; submits when done, else continues with the next step.
void mine_step(self_ptr self) {
  auto& st = self->state;
  if (mine(st.candidate->hdr, st.cfg.hashes_per_step)) {
    submit(self);
    return;
  }
  // Let other messages in, then go on.
  self->send(self, atom::tick_v);
}

void build(self_ptr self, std::vector<encoded> raw, chain_tip tip) {
  auto& st = self->state;
  block b;
  for (auto& r : raw) {
    auto rec = decode_record(r, submission_limits);
    if (rec)
      b.records.push_back(std::move(*rec));
  }
  b.hdr.height = tip.height + 1;
  b.hdr.previous = tip.hash;
  b.hdr.merkle_root = merkle_root(leaf_ids(b));
  b.hdr.timestamp = std::max(unix_now(), tip.median_time_past + 1);
  b.hdr.difficulty = tip.next_difficulty;
  b.hdr.producer = st.key;
  b.hdr.nonce = 0;
  auto raw_block = encode(b);
  self
    ->request(st.processor, std::chrono::seconds{30}, atom::prepare_v,
              std::move(raw_block))
    .then(
      [=, b = std::move(b)](hash256& root) mutable {
        b.hdr.state_root = root;
        self->state.candidate = std::move(b);
        mine_step(self);
      },
      [=](caf::error& err) {
        failed(self, "block " + std::to_string(tip.height + 1)
                       + " not made: " + message_of(err));
      });
}

void consider(self_ptr self) {
  auto& st = self->state;
  st.busy = true;
  self
    ->request(st.pool, std::chrono::seconds{30}, atom::take_v,
              static_cast<uint32_t>(max_block_records))
    .then(
      [=](std::vector<encoded>& raw) {
        auto& st = self->state;
        auto due = unix_now()
                   >= st.last_block_at + st.cfg.empty_block_interval_s;
        if (raw.empty() && !due) {
          st.busy = false;
          schedule(self);
          return;
        }
        self->request(st.processor, std::chrono::seconds{30}, atom::tip_v)
          .then(
            [=](chain_tip& tip) mutable { build(self, std::move(raw), tip); },
            [=](caf::error& err) {
              self->state.busy = false;
              log_warning("producer", "no tip: {}", message_of(err));
              schedule(self);
            });
      },
      [=](caf::error& err) {
        self->state.busy = false;
        log_warning("producer", "reservoir did not answer: {}",
                    message_of(err));
        schedule(self);
      });
}

} // namespace

producer_actor::behavior_type producer(self_ptr self,
                                       block_processor_actor processor,
                                       reservoir_actor pool, public_key key,
                                       producer_config cfg) {
  auto& st = self->state;
  st.processor = std::move(processor);
  st.pool = std::move(pool);
  st.key = key;
  st.cfg = cfg;
  st.last_block_at = unix_now();
  schedule(self);
  return {
    [=](atom::tick) {
      auto& st = self->state;
      if (st.candidate) {
        mine_step(self);
        return;
      }
      if (!st.busy)
        consider(self);
    },
    [=](atom::status) -> uint64_t { return self->state.made; },
  };
}

} // namespace hallmark
