// The shutdown watchdog: it ends a shutdown that does not finish in time,
// with the exit code the final flush decides, and stays quiet otherwise.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>

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
