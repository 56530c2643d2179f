// The shutdown watchdog: it ends a shutdown that does not finish in time,
// with the exit code the final flush decides, and stays quiet otherwise;
// the final flush is waited for as long as the watchdog allows.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include "node/final_flush.hpp"
#include "node/watchdog.hpp"

using namespace hallmark;
using namespace std::chrono_literals;

namespace {

/// A watchdog whose deadline reports the code instead of ending the process.
struct fired {
  std::promise<int> code;
  shutdown_watchdog::exit_fn fn() {
    return [this](int c) { code.set_value(c); };
  }
};

} // namespace

TEST_CASE("watchdog: a shutdown that finishes in time ends nothing") {
  fired f;
  auto result = f.code.get_future();
  {
    shutdown_watchdog dog{200ms, "", f.fn()};
    dog.step("stopping intake");
    dog.waiting_for({"connector"});
    dog.stopped("connector");
    dog.flushed();
    dog.finish();
  }
  CHECK(result.wait_for(300ms) == std::future_status::timeout);
}

TEST_CASE("watchdog: at the deadline, exit 1 unless the chain was flushed") {
  SUBCASE("not flushed") {
    fired f;
    auto result = f.code.get_future();
    shutdown_watchdog dog{50ms, "", f.fn()};
    dog.step("flushing the chain (block_processor)");
    dog.waiting_for({"block_processor"});
    REQUIRE(result.wait_for(5s) == std::future_status::ready);
    CHECK(result.get() == 1);
  }
  SUBCASE("flushed") {
    fired f;
    auto result = f.code.get_future();
    shutdown_watchdog dog{50ms, "", f.fn()};
    dog.flushed();
    dog.step("tearing down the actor system");
    REQUIRE(result.wait_for(5s) == std::future_status::ready);
    CHECK(result.get() == 0);
  }
}

TEST_CASE("watchdog: the time left is the deadline less a margin, with a "
          "floor") {
  shutdown_watchdog dog{4000ms, "", [](int) {}};
  auto left = dog.left(400ms);
  CHECK(left <= 3600ms);
  CHECK(left > 3000ms);
  CHECK(dog.left(10s) == 50ms);
  CHECK(dog.left(10s, 7ms) == 7ms);
  dog.finish();
}

namespace {

/// A block_processor stand-in, on a thread of its own, that answers `stop`
/// with height 7 after `busy` (committing the batches it took before).
/// `busy` is an argument of the spawn, not a capture: CAF 0.17.6 spawning a
/// function of no arguments binds a null shared_ptr, which UBSan reports.
caf::actor slow_processor(caf::actor_system& sys,
                          std::chrono::milliseconds busy) {
  return sys.spawn<caf::detached>(
    [](caf::event_based_actor*, std::chrono::milliseconds wait) {
      return caf::behavior{[wait](atom::stop) -> uint64_t {
        std::this_thread::sleep_for(wait);
        return 7;
      }};
    },
    busy);
}

} // namespace

TEST_CASE("final flush: a slow flush that ends before the deadline counts") {
  // A stop during `block import`: block_processor answers only once the
  // batch it took is committed, 800 ms into a 1000 ms limit. The old
  // request gave up 400 ms before the deadline and called the chain not
  // flushed (exit 1) although it was.
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  shutdown_watchdog dog{1000ms, "", [](int) {}};
  CHECK(final_flush_limit(dog) >= 1000ms);
  auto processor = slow_processor(sys, 800ms);
  caf::scoped_actor self{sys};
  auto since = std::chrono::steady_clock::now();
  CHECK(final_flush(self, processor, dog));
  // It waited past where the old request gave up (600 ms).
  CHECK(std::chrono::steady_clock::now() - since >= 800ms);
  dog.finish();
  caf::anon_send_exit(processor, caf::exit_reason::user_shutdown);
}

TEST_CASE("final flush: one that has not answered by the deadline is not "
          "counted, and the watchdog exits with 1") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  fired f;
  auto result = f.code.get_future();
  shutdown_watchdog dog{300ms, "", f.fn()};
  auto processor = slow_processor(sys, 1000ms);
  caf::scoped_actor self{sys};
  CHECK_FALSE(final_flush(self, processor, dog));
  REQUIRE(result.wait_for(0ms) == std::future_status::ready);
  CHECK(result.get() == 1);
  caf::anon_send_exit(processor, caf::exit_reason::user_shutdown);
}
