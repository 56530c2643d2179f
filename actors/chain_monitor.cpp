#include "actors/chain_monitor.hpp"

#include <algorithm>
#include <optional>

#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/error.hpp"
#include "core/log.hpp"

namespace hallmark {

caf::error chain_monitor_config::validate() const {
  if (poll_interval.count() < 1)
    return make_error(ec::bad_config, "poll interval must be positive");
  if (dedupe_window < 1 || history < dedupe_window)
    return make_error(ec::bad_config,
                      "the monitor's history must hold its dedupe window");
  return {};
}

const char* to_string(monitor_phase x) {
  switch (x) {
  case monitor_phase::idle:
    return "IDLE";
  case monitor_phase::listening:
    return "LISTENING";
  case monitor_phase::active:
    return "ACTIVE";
  case monitor_phase::terminated:
    return "TERMINATED";
  default:
    return "UNKNOWN";
  }
}

void monitor_audience::end() {
  if (ended)
    return;
  ended = true;
  for (auto& a : actors)
    caf::anon_send(a, atom::end_v);
  actors.clear();
}

namespace {

using self_ptr = chain_monitor_actor::stateful_pointer<chain_monitor_state>;
using steady = std::chrono::steady_clock;

constexpr const char* component = "chain_monitor";

void ignored(self_ptr self, const char* what) {
  log_warning(component, "{} ignored in state {}", what,
              to_string(self->state.phase));
}

/// Starts the next poll timer.
void schedule_poll(self_ptr self) {
  auto& st = self->state;
  st.next_poll = steady::now() + st.cfg.poll_interval;
  self->delayed_send(self, st.cfg.poll_interval, atom::tick_v);
}

/// The hash is among the last blocks told.
bool recently_told(const chain_monitor_state& st, const hash256& hash) {
  auto n = std::min(st.cfg.dedupe_window, st.told.size());
  return std::any_of(st.told.end() - static_cast<std::ptrdiff_t>(n),
                     st.told.end(),
                     [&](const told_block& b) { return b.hash == hash; });
}

/// Tells a block to every subscriber now, or keeps it for ACTIVE.
void enqueue(self_ptr self, const told_block& b) {
  auto& st = self->state;
  st.told.push_back(b);
  while (st.told.size() > st.cfg.history)
    st.told.pop_front();
  if (st.phase == monitor_phase::listening) {
    st.buffer.push_back(b);
    return;
  }
  for (auto& a : st.audience->actors)
    caf::anon_send(a, atom::tip_v, b.height, b.hash);
}

/// The blocks to tell to bring the told chain to the committed tip of
/// `view`; forgets told blocks that a reorg took off the best chain.
std::vector<told_block> catch_up(chain_monitor_state& st,
                                 const chain_view& view) {
  auto top = view.tip();
  if (st.told.empty())
    return {{top.height, top.hash}};
  auto on_best_chain = [&](const told_block& b) {
    if (b.height > top.height)
      return false;
    auto h = view.hash_at(b.height);
    return h && *h == b.hash;
  };
  uint64_t from = 0; // first height to tell
  if (on_best_chain(st.told.back())) {
    from = st.told.back().height + 1;
  } else {
    auto lost_from = st.told.back().height;
    auto lost = st.told.size();
    while (!st.told.empty() && !on_best_chain(st.told.back())) {
      lost_from = st.told.back().height;
      st.told.pop_back();
    }
    lost -= st.told.size();
    // A fork deeper than the history is told from the oldest block lost.
    from = st.told.empty() ? lost_from : st.told.back().height + 1;
    log_info(component,
             "reorg: {} told blocks left the best chain; "
             "telling heights {} to {}",
             lost, from, top.height);
    if (from > top.height)
      log_warning(component,
                  "the chain shrank to height {} without a new "
                  "branch",
                  top.height);
  }
  std::vector<told_block> out;
  for (auto h = from; h <= top.height; ++h) {
    auto hash = h == top.height ? std::optional{top.hash} : view.hash_at(h);
    if (!hash) {
      log_error(component, "no block at height {} below the tip {}", h,
                top.height);
      break;
    }
    out.push_back({h, *hash});
  }
  return out;
}

/// A tip was seen (by push, or `cue` empty: by polling).
void see(self_ptr self, const std::optional<told_block>& cue) {
  auto& st = self->state;
  if (cue && recently_told(st, cue->hash))
    return;
  std::vector<told_block> fresh;
  {
    chain_reader view{*st.chain};
    // A failed read answers "absent", which catch_up would take for a
    // reorg: the told blocks are kept as they were.
    auto told = st.told;
    fresh = catch_up(st, view);
    if (auto err = view.failure()) {
      st.told = std::move(told);
      log_error(component, "cannot read the chain: {}", message_of(err));
      return;
    }
  }
  for (auto& b : fresh)
    enqueue(self, b);
}

} // namespace

chain_monitor_actor::behavior_type chain_monitor(self_ptr self,
                                                 const chain_store* chain,
                                                 chain_monitor_config cfg) {
  auto& st = self->state;
  st.chain = chain;
  st.cfg = cfg;
  st.audience = std::make_shared<monitor_audience>();
  // END is never lost: whatever ends the actor, subscribers hear of it.
  self->attach_functor(
    [audience = st.audience](const caf::error&) { audience->end(); });
  self->set_down_handler([=](const caf::down_msg& msg) {
    auto& xs = self->state.audience->actors;
    xs.erase(std::remove_if(
               xs.begin(), xs.end(),
               [&](const caf::actor& a) { return a.address() == msg.source; }),
             xs.end());
  });
  return {
    [=](atom::tip, uint64_t height, hash256 hash) {
      auto& st = self->state;
      switch (st.phase) {
      case monitor_phase::listening:
      case monitor_phase::active:
        see(self, told_block{height, hash});
        return;
      case monitor_phase::terminated:
        // The final flush at shutdown pushes one: expected, logged once.
        if (!st.late_tip_logged)
          log_info(component, "tips after TERMINATED are dropped");
        st.late_tip_logged = true;
        return;
      default:
        ignored(self, "tip");
      }
    },
    [=](atom::subscribe, caf::actor& who) {
      auto& st = self->state;
      if (!who)
        return;
      if (st.phase == monitor_phase::terminated) {
        caf::anon_send(who, atom::end_v);
        return;
      }
      auto& xs = st.audience->actors;
      if (std::find(xs.begin(), xs.end(), who) != xs.end())
        return;
      self->monitor(who);
      xs.push_back(std::move(who));
    },
    [=](atom::listen) {
      auto& st = self->state;
      if (st.phase != monitor_phase::idle) {
        ignored(self, "listen");
        return;
      }
      st.phase = monitor_phase::listening;
      // The committed tip is where telling starts: it is never told itself.
      chain_reader view{*st.chain};
      auto top = view.tip();
      if (auto err = view.failure()) {
        log_error(component, "cannot read the tip: {}", message_of(err));
      } else {
        st.told.push_back({top.height, top.hash});
        log_info(component, "listening from height {}, polling every {} ms",
                 top.height, st.cfg.poll_interval.count());
      }
      schedule_poll(self);
    },
    [=](atom::activate) {
      auto& st = self->state;
      if (st.phase != monitor_phase::listening) {
        ignored(self, "activate");
        return;
      }
      st.phase = monitor_phase::active;
      auto waiting = std::move(st.buffer);
      st.buffer.clear();
      for (auto& b : waiting)
        for (auto& a : st.audience->actors)
          caf::anon_send(a, atom::tip_v, b.height, b.hash);
    },
    [=](atom::terminate) {
      auto& st = self->state;
      if (st.phase == monitor_phase::terminated) {
        ignored(self, "terminate");
        return;
      }
      st.phase = monitor_phase::terminated;
      st.buffer.clear();
      st.audience->end();
      log_info(component, "terminated");
    },
    [=](atom::tick) {
      auto& st = self->state;
      switch (st.phase) {
      case monitor_phase::listening:
      case monitor_phase::active:
        break;
      case monitor_phase::terminated:
        return; // the last timer: polling ends here
      default:
        ignored(self, "tick");
        return;
      }
      // The timer's own tick starts the next; one sent by hand early in the
      // interval (a test) only polls, so no second timer is started.
      if (steady::now() + st.cfg.poll_interval / 2 >= st.next_poll)
        schedule_poll(self);
      see(self, std::nullopt);
    },
    [=](atom::status) -> std::string { return to_string(self->state.phase); },
  };
}

} // namespace hallmark
