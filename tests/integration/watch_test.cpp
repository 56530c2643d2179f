// `hallmark watch` against a producing node: every new tip once, in order,
// with no gaps, until the node ends the stream; a signal ends it cleanly.
#include "tests/integration/harness.hpp"

#include <sstream>

using namespace hallmark::test;

namespace {

/// The `{"height", "tip"}` lines `watch --json` printed.
std::vector<json> tips_of(const std::string& out) {
  std::vector<json> tips;
  std::istringstream in{out};
  for (std::string line; std::getline(in, line);) {
    auto j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("height") || !j.contains("tip")) {
      FAIL_CHECK("not a tip line: " << line);
      continue;
    }
    tips.push_back(std::move(j));
  }
  return tips;
}

} // namespace

TEST_CASE("watch prints each new tip once, in order, until the node stops") {
  temp_dir dir;
  // An empty block about every second.
  node a{dir, "a", {"empty_block_interval_s = 1"}};
  a.start(true);
  auto first = a.height();
  background watch{dir, "watch", {"watch", "--datadir", a.datadir(), "--json"}};
  REQUIRE(a.wait_for(
    [&](const json& s) { return s["height"].get<uint64_t>() >= first + 5; },
    60s));
  // Tips reach the watcher within a poll interval (1 s on devnet).
  auto last = a.height();
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto tips = tips_of(watch.out());
    if (!tips.empty() && tips.back()["height"].get<uint64_t>() >= last)
      break;
    std::this_thread::sleep_for(100ms);
  }
  auto tips = tips_of(watch.out());
  INFO("watch printed:\n" << watch.out() << "stderr: " << watch.err());
  REQUIRE(tips.size() >= 3);
  CHECK(tips.front()["height"].get<uint64_t>() <= first + 3);
  CHECK(tips.back()["height"].get<uint64_t>() >= last);
  for (size_t i = 1; i < tips.size(); ++i)
    CHECK(tips[i]["height"].get<uint64_t>()
          == tips[i - 1]["height"].get<uint64_t>() + 1);
  // Each is the block the node holds at that height.
  for (auto& t : tips) {
    auto b = run_json({"block", "--datadir", a.datadir(),
                       std::to_string(t["height"].get<uint64_t>())});
    CHECK(b["hash"] == t["tip"]);
  }
  // Stopping the node ends the stream: END, exit 0.
  CHECK(a.stop() == 0);
  auto code = watch.wait(15s);
  REQUIRE_MESSAGE(code.has_value(), "watch did not end with the node");
  CHECK(*code == 0);
  // Nothing printed twice, even at the end.
  auto all = tips_of(watch.out());
  for (size_t i = 1; i < all.size(); ++i)
    CHECK(all[i]["height"].get<uint64_t>()
          == all[i - 1]["height"].get<uint64_t>() + 1);
}

TEST_CASE("watch ends with exit 0 on SIGINT, and 3 without a node") {
  temp_dir dir;
  node a{dir, "a"};
  auto none = run({"watch", "--datadir", a.datadir(), "--json"});
  CHECK(none.code == 3);
  a.start(false);
  background watch{dir, "watch", {"watch", "--datadir", a.datadir()}};
  std::this_thread::sleep_for(500ms);
  REQUIRE_FALSE(watch.wait(0ms).has_value());
  CHECK(watch.stop(SIGINT) == 0);
  CHECK(watch.out().empty());
}
