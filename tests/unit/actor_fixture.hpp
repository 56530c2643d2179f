// The one actor-test fixture: an actor system on CAF's deterministic test
// coordinator (optionally with CAF's test multiplexer for brokers), a scoped
// actor to talk from, and the bookkeeping every actor test needs. Every
// message runs on the test thread inside `run()`; timers fire only when the
// test moves the simulated clock with `advance()`.
//
// A fixture whose actors use objects it owns (stores, logs) puts those in a
// base class listed before `actor_harness`, so they are built first and
// destroyed last, after every actor is gone.
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <doctest/doctest.h>

#include "storage/local_store.hpp"
#include "tests/unit/helpers.hpp"

namespace caf::io::network {
class test_multiplexer;
} // namespace caf::io::network

namespace hallmark::test {

/// The value or the error `handle` (a request of `self`'s) got; fails the
/// test if no reply is in `self`'s mailbox.
template <class T, class ResponseHandle>
caf::expected<T> reply_of(caf::scoped_actor& self, ResponseHandle& handle) {
  REQUIRE_MESSAGE(!self->mailbox().empty(), "the actor did not reply");
  std::optional<T> value;
  caf::error err;
  handle.receive([&](T& x) { value = std::move(x); },
                 [&](caf::error& e) { err = std::move(e); });
  if (value)
    return std::move(*value);
  REQUIRE(err);
  return err;
}

/// A local store in its own temporary directory, reopened on demand. As a
/// base listed before `actor_harness`, it outlives every actor.
struct local_in_temp_dir {
  local_in_temp_dir() : local(open_local()) {}

  /// Closes and opens the local store again (no actor may be using it).
  void reopen_local() {
    local.reset();
    local = open_local();
  }

  temp_dir local_dir;
  std::unique_ptr<local_store> local;

private:
  std::unique_ptr<local_store> open_local() {
    auto l = local_store::open(local_dir.sub("local"));
    REQUIRE_MESSAGE(static_cast<bool>(l), (l ? "" : message_of(l.error())));
    return std::move(*l);
  }
};

/// Whether the harness loads CAF's middleman on its test multiplexer.
enum class with_network : bool { no, yes };

class actor_harness {
public:
  explicit actor_harness(with_network net = with_network::no);
  ~actor_harness();

  actor_harness(const actor_harness&) = delete;
  actor_harness& operator=(const actor_harness&) = delete;

  /// Runs every actor (and, with a network, every I/O event) until idle.
  void run();

  /// Advances the simulated clock, firing due timers, and runs until idle.
  void advance(caf::timespan t);

  /// Remembers `h` so the fixture ends it; returns `h`.
  template <class Handle>
  Handle keep(Handle h) {
    spawned_.push_back(caf::actor_cast<caf::actor>(h));
    return h;
  }

  /// Kills one actor and lets it go.
  template <class Handle>
  void stop(const Handle& h) {
    caf::anon_send_exit(h, caf::exit_reason::kill);
    run();
  }

  /// Ends every kept actor; the destructor calls it too.
  void stop_all();

  /// Sends a request from `self`, runs until idle and returns the reply.
  template <class T, class Handle, class... Ts>
  caf::expected<T> ask(const Handle& dest, Ts&&... xs) {
    auto handle = self->request(dest, caf::infinite, std::forward<Ts>(xs)...);
    run();
    return reply_of<T>(self, handle);
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  /// CAF's test multiplexer when built `with_network::yes`, else null.
  caf::io::network::test_multiplexer* mpx = nullptr;
  caf::scoped_actor self;

private:
  std::vector<caf::actor> spawned_;
};

} // namespace hallmark::test
