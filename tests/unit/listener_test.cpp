// The listener's eviction rule (actors/listener.hpp), as a pure function
// over the table of inbound links.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>

#include <caf/actor_addr.hpp>
#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>

#include "actors/listener.hpp"
#include "tests/unit/actor_fixture.hpp"

using namespace hallmark;
using namespace hallmark::test;

namespace {

using namespace std::chrono_literals;
using link = listener_state::link;
using link_table = std::map<caf::actor_addr, link>;

/// An actor that does nothing. It takes an argument: CAF 0.17.6 spawning a
/// function of no arguments binds a null shared_ptr, which UBSan reports.
caf::behavior idle(caf::event_based_actor*, size_t) {
  return {[](int) {}};
}

/// Inbound links with distinct addresses (real actors, so the addresses
/// are real), accepted one second apart from `t0`.
struct links : actor_harness {
  /// Adds a link from `host`, handshaken or not; returns its address.
  caf::actor_addr add(const std::string& host, bool handshaken) {
    auto a = keep(sys.spawn(idle, table.size())).address();
    table.emplace(
      a, link{host, t0 + std::chrono::seconds{table.size()}, handshaken});
    return a;
  }

  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  link_table table;
  std::set<std::string> discouraged;
  std::function<bool(const std::string&)> is_discouraged =
    [this](const std::string& h) { return discouraged.count(h) > 0; };
};

} // namespace

TEST_SUITE_BEGIN("listener");

TEST_CASE("eviction: when the handshake slots are taken, a link still in the "
          "handshake goes, from the host with the most such links, oldest "
          "first") {
  links l;
  l.add("10.0.0.1", true);
  l.add("10.0.0.1", true);
  l.add("10.0.0.2", false);
  auto older = l.add("10.0.0.3", false);
  l.add("10.0.0.3", false);
  CHECK(choose_handshake_eviction(l.table) == older);
}

TEST_CASE("eviction: a handshaken link is never ended for a link in the "
          "handshake") {
  links l;
  l.add("10.0.0.1", true);
  l.add("10.0.0.2", true);
  CHECK_FALSE(choose_handshake_eviction(l.table));
}

TEST_CASE("eviction: a handshaken newcomer ends the youngest link of the "
          "host with the most links, outside the protected older half") {
  links l;
  l.add("10.0.0.2", true);
  l.add("10.0.0.1", true);
  l.add("10.0.0.2", true);
  auto youngest = l.add("10.0.0.2", true);
  l.add("10.0.0.9", false); // in the handshake: not a candidate here
  CHECK(choose_eviction(l.table, "10.0.0.5", l.is_discouraged) == youngest);
}

TEST_CASE("eviction: a link of a discouraged host goes first; a discouraged "
          "newcomer takes no handshaken link's slot") {
  links l;
  l.add("10.0.0.1", true);
  l.add("10.0.0.1", true);
  l.add("10.0.0.2", true);
  auto mark = l.add("10.0.0.3", true);
  l.discouraged.insert("10.0.0.3");
  CHECK(choose_eviction(l.table, "10.0.0.5", l.is_discouraged) == mark);
  CHECK_FALSE(choose_eviction(l.table, "10.0.0.3", l.is_discouraged));
}

TEST_CASE("log limit: a few lines per host a minute, then one summary") {
  host_log_limit limit{3};
  auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  int allowed = 0;
  for (int i = 0; i < 1000; ++i)
    allowed += limit.allow("10.0.0.1", t0 + i * 10ms) ? 1 : 0;
  CHECK(allowed == 3);
  CHECK(limit.allow("10.0.0.2", t0));            // other hosts have their own
  CHECK(limit.take_summaries(t0 + 30s).empty()); // the minute is not over
  auto sums = limit.take_summaries(t0 + 61s);
  REQUIRE(sums.size() == 1);
  CHECK(sums[0] == std::pair<std::string, size_t>{"10.0.0.1", 997});
  // A new minute, new lines.
  CHECK(limit.allow("10.0.0.1", t0 + 62s));
}

TEST_SUITE_END();
