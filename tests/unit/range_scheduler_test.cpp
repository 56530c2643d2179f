// net/range_scheduler.hpp without a scheduler or a clock: answers shuffled
// and dropped, a peer gone mid-fetch, late answers after a reset.
#include <algorithm>
#include <random>
#include <set>

#include <doctest/doctest.h>

#include "net/range_scheduler.hpp"

namespace {

using namespace hallmark;
using net::range_scheduler;

/// Heights [from, from + count).
struct span {
  uint64_t from = 0;
  uint32_t count = 0;
  bool operator<(const span& o) const { return from < o.from; }
  bool operator==(const span& o) const = default;
};

public_key peer(uint8_t n) {
  public_key k{};
  k[0] = n;
  return k;
}

const public_key a = peer(1);
const public_key b = peer(2);
const public_key c = peer(3);

} // namespace

TEST_CASE("range_scheduler: the least loaded peer with room is asked, "
          "within both caps") {
  range_scheduler<span> s{3, 2};
  for (uint64_t h = 0; h < 10; ++h)
    s.add({h * 10, 10});
  std::vector<public_key> ready{a, b};
  // a, then b (fewer under way), then a again (asked longest ago).
  auto x = s.take(*s.pick(ready));
  auto y = s.take(*s.pick(ready));
  auto z = s.take(*s.pick(ready));
  CHECK(x.peer == a);
  CHECK(y.peer == b);
  CHECK(z.peer == a);
  // Lowest heights first.
  CHECK(x.range.from == 0);
  CHECK(y.range.from == 10);
  CHECK(z.range.from == 20);
  // Three under way: the total cap.
  CHECK_FALSE(s.pick(ready));
  s.settle(y.id);
  // b has room again; a is at its cap of two.
  CHECK(s.pick(ready) == b);
  CHECK(s.pick({a}) == std::nullopt);
  CHECK(s.load(a) == 2);
  CHECK(s.load(b) == 0);
  CHECK(s.in_flight() == 2);
}

TEST_CASE("range_scheduler: answers in any order settle once each") {
  range_scheduler<span> s{8, 8};
  std::vector<net::ask<span>> asked;
  for (uint64_t h = 0; h < 8; ++h)
    asked.push_back(s.start(h % 2 ? a : b, span{h, 1}));
  std::mt19937 rng{7};
  std::shuffle(asked.begin(), asked.end(), rng);
  std::set<uint64_t> got;
  for (auto& q : asked) {
    auto done = s.settle(q.id);
    REQUIRE(done);
    CHECK(done->range == q.range);
    CHECK(done->peer == q.peer);
    got.insert(done->range.from);
    // The same answer twice: the second is nobody's.
    CHECK_FALSE(s.settle(q.id));
  }
  CHECK(got.size() == 8);
  CHECK(s.in_flight() == 0);
  CHECK(s.load(a) == 0);
}

TEST_CASE("range_scheduler: a failed range is asked again, first") {
  range_scheduler<span> s{4, 4};
  s.add({100, 10});
  s.add({110, 10});
  auto x = s.take(a);
  CHECK(x.range.from == 100);
  CHECK(s.failed(x.id) == a);
  // Failed once only; a late answer to it is nobody's.
  CHECK_FALSE(s.failed(x.id));
  CHECK_FALSE(s.settle(x.id));
  CHECK(s.queued() == 2);
  auto again = s.take(*s.pick({b}));
  CHECK(again.peer == b);
  CHECK(again.range.from == 100);
}

TEST_CASE("range_scheduler: a dead peer's ranges go to the others; its "
          "late answers settle to nothing") {
  range_scheduler<span> s{6, 3};
  for (uint64_t h = 0; h < 6; ++h)
    s.add({h, 1});
  std::vector<net::ask<span>> asked;
  while (auto p = s.pick({a, b}))
    asked.push_back(s.take(*p));
  REQUIRE(asked.size() == 6);
  auto lost = s.drop(a);
  CHECK(lost.size() == 3);
  CHECK(s.load(a) == 0);
  CHECK(s.queued() == 3);
  for (auto& q : asked)
    if (q.peer == a)
      CHECK_FALSE(s.settle(q.id)); // it answered after all: too late
  // b's requests still count; a new peer takes the rest.
  CHECK(s.in_flight() == 3);
  std::set<uint64_t> retaken;
  while (s.has_queued()) {
    auto p = s.pick({c});
    REQUIRE(p);
    retaken.insert(s.take(*p).range.from);
  }
  std::set<uint64_t> were;
  for (auto& r : lost)
    were.insert(r.from);
  CHECK(retaken == were);
}

TEST_CASE("range_scheduler: after a reset, late answers settle to nothing") {
  range_scheduler<span> s{4, 4};
  s.add({0, 5});
  auto before = s.take(a);
  s.reset();
  CHECK(s.in_flight() == 0);
  CHECK_FALSE(s.has_queued());
  CHECK(s.load(a) == 0);
  s.add({50, 5});
  auto after = s.take(a);
  CHECK(after.id != before.id);
  CHECK_FALSE(s.settle(before.id));
  CHECK_FALSE(s.failed(before.id));
  CHECK(s.in_flight() == 1);
  CHECK(s.settle(after.id)->range.from == 50);
}

TEST_CASE("range_scheduler: shuffled, dropped and failed answers lose and "
          "repeat no range") {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    std::mt19937 rng{seed};
    range_scheduler<span> s{5, 2};
    const uint64_t ranges = 40;
    for (uint64_t h = 0; h < ranges; ++h)
      s.add({h, 1});
    std::vector<public_key> ready{a, b, c};
    std::vector<net::ask<span>> out;
    std::multiset<uint64_t> done;
    for (int step = 0; step < 10'000 && done.size() < ranges; ++step) {
      while (s.has_queued())
        if (auto p = s.pick(ready))
          out.push_back(s.take(*p));
        else
          break;
      if (out.empty())
        continue;
      std::shuffle(out.begin(), out.end(), rng);
      auto q = out.back();
      out.pop_back();
      switch (rng() % 6) {
      case 0: // fails: asked again later
        s.failed(q.id);
        break;
      case 1: // its peer dies, then comes back
        s.drop(q.peer);
        CHECK_FALSE(s.settle(q.id));
        break;
      default:
        if (auto got = s.settle(q.id))
          done.insert(got->range.from);
      }
    }
    INFO("seed " << seed);
    CHECK(done.size() == ranges);
    CHECK(std::set<uint64_t>(done.begin(), done.end()).size() == ranges);
    // Every range done once: nothing waits, nothing is under way, and no
    // request still held settles.
    CHECK(s.in_flight() == 0);
    CHECK_FALSE(s.has_queued());
    for (auto& q : out)
      CHECK_FALSE(s.settle(q.id));
  }
}
