// actors/chain_monitor: TEOS's ChainMonitor tests, plus gaps and reorgs, on a
// real actor system. Subscribers are scoped actors that record what reaches
// their mailbox. Before a test says "nothing more was told" it asks the
// monitor for its status: the monitor sends a tip before it handles the next
// message, so once the status reply is in, every tip it sent is in the
// subscriber's mailbox.
#include <doctest/doctest.h>

#include <chrono>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/chain_monitor.hpp"
#include "tests/unit/helpers.hpp"

namespace hallmark {

// For doctest's messages.
std::ostream& operator<<(std::ostream& os, const told_block& b) {
  return os << b.height << ":" << to_hex(b.hash).substr(0, 8);
}

std::ostream& operator<<(std::ostream& os, const std::vector<told_block>& xs) {
  os << "[";
  for (auto& x : xs)
    os << " " << x;
  return os << " ]";
}

} // namespace hallmark

using namespace hallmark;
using namespace hallmark::test;
using namespace std::chrono_literals;

namespace {

/// Polling every hour: in these tests only ticks sent by hand poll, except
/// where a test asks for a fast timer.
chain_monitor_config slow_polling() {
  chain_monitor_config c;
  c.poll_interval = std::chrono::hours{1};
  return c;
}

caf::actor_system_config& quiet(caf::actor_system_config& cfg) {
  cfg.set("scheduler.max-threads", size_t{2});
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  return cfg;
}

/// A subscriber: a scoped actor and what it heard so far.
class recorder {
public:
  // Hidden: the system does not wait for it when it shuts down.
  explicit recorder(caf::actor_system& sys) : self_(sys, true) {}

  caf::actor handle() const { return caf::actor{self_}; }

  /// Takes what is in the mailbox now.
  void take() {
    for (bool more = true; more;)
      self_->receive(
        [&](atom::tip, uint64_t height, hash256 hash) {
          tips.push_back({height, hash});
          if (ended)
            tip_after_end = true;
        },
        [&](atom::end) {
          ++ends;
          ended = true;
        },
        caf::after(std::chrono::seconds{0}) >> [&] { more = false; });
  }

  /// Waits (at most `limit`) until `n` tips have come.
  bool wait_for(size_t n, std::chrono::milliseconds limit = 5000ms) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (tips.size() < n && std::chrono::steady_clock::now() < deadline)
      self_->receive(
        [&](atom::tip, uint64_t height, hash256 hash) {
          tips.push_back({height, hash});
        },
        [&](atom::end) {
          ++ends;
          ended = true;
        },
        caf::after(std::chrono::milliseconds{20}) >> [] {});
    return tips.size() >= n;
  }

  /// Waits (at most `limit`) for END, taking tips on the way.
  bool wait_for_end(std::chrono::milliseconds limit = 5000ms) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!ended && std::chrono::steady_clock::now() < deadline)
      self_->receive(
        [&](atom::tip, uint64_t height, hash256 hash) {
          tips.push_back({height, hash});
        },
        [&](atom::end) {
          ++ends;
          ended = true;
        },
        caf::after(std::chrono::milliseconds{20}) >> [] {});
    return ended;
  }

  std::vector<uint64_t> heights() const {
    std::vector<uint64_t> out;
    for (auto& t : tips)
      out.push_back(t.height);
    return out;
  }

  std::vector<told_block> tips;
  int ends = 0;
  bool ended = false;
  bool tip_after_end = false;

private:
  caf::scoped_actor self_;
};

/// A test chain and a monitor over it. Members are ordered so the store
/// outlives the actor system.
class monitor_fixture {
public:
  explicit monitor_fixture(chain_monitor_config c = slow_polling())
      : sys(quiet(cfg)) {
    REQUIRE_FALSE(c.validate());
    monitor = sys.spawn(chain_monitor, &chain.store(), c);
  }

  ~monitor_fixture() {
    caf::anon_send_exit(monitor, caf::exit_reason::kill);
    sys.await_all_actors_done();
  }

  /// The monitor's state, after everything sent to it before.
  std::string status() {
    caf::scoped_actor self{sys};
    std::string out;
    self->request(monitor, caf::infinite, atom::status_v)
      .receive([&](std::string& s) { out = std::move(s); },
               [&](caf::error& err) { FAIL(to_string(err)); });
    return out;
  }

  void subscribe(recorder& r) {
    caf::anon_send(monitor, atom::subscribe_v, r.handle());
  }

  /// IDLE -> LISTENING, once the monitor has read the tip it starts from
  /// (blocks committed after that are told).
  void listen() {
    caf::anon_send(monitor, atom::listen_v);
    REQUIRE(status() == "LISTENING");
  }

  /// IDLE -> LISTENING -> ACTIVE.
  void start() {
    caf::anon_send(monitor, atom::listen_v);
    caf::anon_send(monitor, atom::activate_v);
    REQUIRE(status() == "ACTIVE");
  }

  /// Tells the monitor a tip, as block_processor does.
  void push(const told_block& b) {
    caf::anon_send(monitor, atom::tip_v, b.height, b.hash);
  }

  void poll() { caf::anon_send(monitor, atom::tick_v); }

  /// Commits a block on the store's tip; returns it as the monitor tells it.
  told_block grow() {
    auto b = chain.push();
    return {b.hdr.height, block_hash(b.hdr)};
  }

  /// Commits a block on the tip that differs from what grow() would make.
  told_block grow_other() {
    block b;
    {
      chain_reader view{chain.store()};
      auto top = view.tip();
      b = make_block(chain.params(), top.hdr, view.ancestors(), {},
                     top.hdr.timestamp + 2);
    }
    auto err = chain.apply(b);
    REQUIRE_MESSAGE(!err, message_of(err));
    return {b.hdr.height, block_hash(b.hdr)};
  }

  test_store chain;
  caf::actor_system_config cfg;
  caf::actor_system sys;
  chain_monitor_actor monitor;
};

} // namespace

TEST_CASE("chain_monitor: starts IDLE and follows its life cycle") {
  monitor_fixture f;
  CHECK(f.status() == "IDLE");
  // Wrong-state messages are ignored, not fatal.
  caf::anon_send(f.monitor, atom::activate_v);
  f.poll();
  f.push(f.grow());
  CHECK(f.status() == "IDLE");
  caf::anon_send(f.monitor, atom::listen_v);
  CHECK(f.status() == "LISTENING");
  caf::anon_send(f.monitor, atom::listen_v);
  CHECK(f.status() == "LISTENING");
  caf::anon_send(f.monitor, atom::activate_v);
  CHECK(f.status() == "ACTIVE");
  caf::anon_send(f.monitor, atom::listen_v);
  caf::anon_send(f.monitor, atom::activate_v);
  CHECK(f.status() == "ACTIVE");
  caf::anon_send(f.monitor, atom::terminate_v);
  CHECK(f.status() == "TERMINATED");
  caf::anon_send(f.monitor, atom::terminate_v);
  caf::anon_send(f.monitor, atom::activate_v);
  CHECK(f.status() == "TERMINATED");
}

TEST_CASE("chain_monitor: two subscribers hear the same tips in order") {
  monitor_fixture f;
  recorder a{f.sys}, b{f.sys};
  f.subscribe(a);
  f.subscribe(b);
  f.start();
  std::vector<told_block> made;
  for (int i = 0; i < 5; ++i) {
    made.push_back(f.grow());
    f.push(made.back());
  }
  f.status();
  a.take();
  b.take();
  CHECK(a.tips == made);
  CHECK(b.tips == made);
  CHECK(a.heights() == std::vector<uint64_t>{1, 2, 3, 4, 5});
}

TEST_CASE("chain_monitor: a known hash is not told again") {
  monitor_fixture f;
  recorder r{f.sys};
  f.subscribe(r);
  // The tip at listen is where telling starts: it is never told.
  auto genesis = told_block{0, f.chain.tip().hash};
  f.start();
  f.push(genesis);
  auto one = f.grow();
  f.push(one);
  f.push(one);
  f.push(genesis);
  f.push(one);
  f.status();
  r.take();
  CHECK(r.tips == std::vector<told_block>{one});
}

TEST_CASE("chain_monitor: polling tells nothing while the tip stays, then "
          "exactly the new tip") {
  monitor_fixture f;
  recorder r{f.sys};
  f.subscribe(r);
  f.start();
  for (int i = 0; i < 3; ++i)
    f.poll();
  f.status();
  r.take();
  CHECK(r.tips.empty());
  auto one = f.grow();
  f.poll();
  f.poll();
  f.status();
  r.take();
  CHECK(r.tips == std::vector<told_block>{one});
}

TEST_CASE("chain_monitor: the poll timer finds a tip nobody pushed") {
  chain_monitor_config c;
  c.poll_interval = 50ms;
  monitor_fixture f{c};
  recorder r{f.sys};
  f.subscribe(r);
  f.start();
  auto one = f.grow();
  REQUIRE(r.wait_for(1));
  auto two = f.grow();
  REQUIRE(r.wait_for(2));
  std::this_thread::sleep_for(200ms); // a few more polls: nothing new
  f.status();
  r.take();
  CHECK(r.tips == std::vector<told_block>{one, two});
}

TEST_CASE("chain_monitor: tips wait while LISTENING and come in order on "
          "ACTIVE") {
  monitor_fixture f;
  recorder r{f.sys};
  f.subscribe(r);
  f.listen();
  std::vector<told_block> made;
  for (int i = 0; i < 3; ++i) {
    made.push_back(f.grow());
    f.push(made.back());
    f.poll();
  }
  CHECK(f.status() == "LISTENING");
  r.take();
  CHECK(r.tips.empty());
  caf::anon_send(f.monitor, atom::activate_v);
  CHECK(f.status() == "ACTIVE");
  r.take();
  CHECK(r.tips == made);
}

TEST_CASE("chain_monitor: a tip seen by push and by poll is told once") {
  monitor_fixture f;
  recorder r{f.sys};
  f.subscribe(r);
  f.start();
  auto one = f.grow();
  f.push(one);
  f.poll();
  auto two = f.grow();
  f.poll();
  f.push(two);
  f.status();
  r.take();
  CHECK(r.tips == std::vector<told_block>{one, two});
}

TEST_CASE("chain_monitor: order holds across LISTENING and ACTIVE") {
  monitor_fixture f;
  recorder r{f.sys};
  f.subscribe(r);
  f.listen();
  std::vector<told_block> made;
  for (int i = 0; i < 2; ++i) {
    made.push_back(f.grow());
    f.push(made.back());
  }
  caf::anon_send(f.monitor, atom::activate_v);
  for (int i = 0; i < 2; ++i) {
    made.push_back(f.grow());
    f.push(made.back());
  }
  f.status();
  r.take();
  CHECK(r.tips == made);
}

TEST_CASE("chain_monitor: after terminate only END is told") {
  monitor_fixture f;
  recorder r{f.sys};
  f.subscribe(r);
  SUBCASE("from ACTIVE") {
    f.start();
    auto one = f.grow();
    f.push(one);
    caf::anon_send(f.monitor, atom::terminate_v);
    f.push(f.grow());
    f.poll();
    f.status();
    r.take();
    CHECK(r.tips == std::vector<told_block>{one});
  }
  SUBCASE("from LISTENING: the buffer is dropped") {
    f.listen();
    f.push(f.grow());
    caf::anon_send(f.monitor, atom::terminate_v);
    caf::anon_send(f.monitor, atom::activate_v);
    f.push(f.grow());
    f.status();
    r.take();
    CHECK(r.tips.empty());
  }
  CHECK(r.ends == 1);
  CHECK_FALSE(r.tip_after_end);
  // A subscriber that comes late hears END at once.
  recorder late{f.sys};
  f.subscribe(late);
  f.status();
  late.take();
  CHECK(late.ends == 1);
  CHECK(late.tips.empty());
}

TEST_CASE("chain_monitor: END when the monitor exits for any reason") {
  monitor_fixture f;
  recorder r{f.sys};
  f.subscribe(r);
  f.start();
  auto one = f.grow();
  f.push(one);
  f.status();
  caf::anon_send_exit(f.monitor, caf::exit_reason::kill);
  REQUIRE(r.wait_for_end());
  r.take();
  CHECK(r.tips == std::vector<told_block>{one});
  CHECK(r.ends == 1);
}

TEST_CASE("chain_monitor: a subscriber that dies is dropped") {
  monitor_fixture f;
  recorder stays{f.sys};
  f.subscribe(stays);
  {
    recorder goes{f.sys};
    f.subscribe(goes);
    f.start();
    f.push(f.grow());
    f.status();
  }
  auto two = f.grow();
  f.push(two);
  f.status();
  stays.take();
  CHECK(stays.heights() == std::vector<uint64_t>{1, 2});
}

TEST_CASE("chain_monitor: a jump of several blocks tells each block between") {
  monitor_fixture f;
  recorder r{f.sys};
  f.subscribe(r);
  f.start();
  auto one = f.grow();
  f.push(one);
  std::vector<told_block> made{one};
  for (int i = 0; i < 4; ++i)
    made.push_back(f.grow());
  SUBCASE("pushed") {
    f.push(made.back());
  }
  SUBCASE("polled") {
    f.poll();
  }
  SUBCASE("an older push: the committed tip counts") {
    f.push(made[2]);
  }
  f.status();
  r.take();
  CHECK(r.tips == made);
  CHECK(r.heights() == std::vector<uint64_t>{1, 2, 3, 4, 5});
}

TEST_CASE("chain_monitor: a reorg tells the new branch from the fork") {
  monitor_fixture f;
  recorder r{f.sys};
  f.subscribe(r);
  f.start();
  std::vector<told_block> old_branch;
  for (int i = 0; i < 5; ++i) {
    old_branch.push_back(f.grow());
    f.push(old_branch.back());
  }
  f.status();
  r.take();
  REQUIRE(r.tips == old_branch);
  r.tips.clear();
  // Fork at height 2: unwind 5, 4, 3; a longer branch of 4 blocks.
  for (int i = 0; i < 3; ++i)
    f.chain.unwind();
  std::vector<told_block> new_branch;
  for (int i = 0; i < 4; ++i)
    new_branch.push_back(f.grow_other());
  REQUIRE(new_branch.front().height == 3);
  REQUIRE(new_branch.front().hash != old_branch[2].hash);
  SUBCASE("pushed") {
    f.push(new_branch.back());
  }
  SUBCASE("polled") {
    f.poll();
  }
  f.status();
  r.take();
  CHECK(r.tips == new_branch);
  // The old branch coming back is told again, from the same fork.
  r.tips.clear();
  for (int i = 0; i < 4; ++i)
    f.chain.unwind();
  std::vector<told_block> back;
  for (int i = 0; i < 5; ++i)
    back.push_back(f.grow());
  CHECK(back.front() == old_branch[2]);
  f.push(back.back());
  f.status();
  r.take();
  CHECK(r.tips == back);
}
