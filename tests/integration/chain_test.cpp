// Crash safety, forced reorgs, competing branches and hostile input, each
// against real node processes.
#include "tests/integration/harness.hpp"

#include <random>
#include <sys/socket.h>
#include <sys/un.h>

using namespace hallmark::test;

namespace {

std::string asset_of(const node& n, const std::string& fingerprint) {
  return run_json({"asset", "register", "--datadir", n.datadir(), "--name",
                   "work " + fingerprint, "--fingerprint",
                   fingerprint})["asset_id"];
}

std::vector<std::string> issue(const node& n, const std::string& asset,
                               int count) {
  auto j = run_json({"issue", "--datadir", n.datadir(), "--asset", asset,
                     "--count", std::to_string(count)});
  return j["items"].get<std::vector<std::string>>();
}

bool item_settled(const node& n, const std::string& item) {
  auto r = run({"item", "--datadir", n.datadir(), item, "--json"});
  if (r.code != 0)
    return false;
  for (auto& e : r.js()["provenance"])
    if (e["height"].is_null())
      return false;
  return true;
}

/// Everything a reorg must leave as it was.
json snapshot(const node& n, const std::vector<std::string>& items,
              const std::vector<std::string>& owners) {
  json out;
  auto s = n.status();
  out["height"] = s["height"];
  out["tip"] = s["tip"];
  out["work"] = s["cumulative_work"];
  for (auto& i : items)
    out["items"].push_back(run_json({"item", "--datadir", n.datadir(), i}));
  for (auto& o : owners)
    out["owners"].push_back(run_json({"owner", "--datadir", n.datadir(), o}));
  for (uint64_t h = 0; h <= s["height"].get<uint64_t>(); ++h)
    out["blocks"].push_back(
      run_json({"block", "--datadir", n.datadir(), std::to_string(h)})["hash"]);
  return out;
}

} // namespace

TEST_CASE("kill -9 during production loses no accepted record") {
  temp_dir dir;
  node a{dir, "a"};
  a.start(true);
  auto bob = run_json({"keys", "new", "--out", dir / "bob.key"});
  std::vector<std::string> items;
  std::vector<std::string> transfers;
  for (int round = 0; round < 4; ++round) {
    auto asset = asset_of(a, "crash-" + std::to_string(round));
    auto batch = issue(a, asset, 25);
    items.insert(items.end(), batch.begin(), batch.end());
  }
  // Transfers of items that may still be pending, accepted all the same.
  for (int i = 0; i < 5; ++i) {
    auto t = run_json({"transfer", "--datadir", a.datadir(), "--item",
                       items[static_cast<size_t>(i)], "--to",
                       bob["public_key"]});
    transfers.push_back(t["record"]);
  }
  a.kill9();
  a.start(true);
  auto tip = a.status();
  // The tip names a block that is stored whole.
  auto blk = run_json({"block", "--datadir", a.datadir(),
                       std::to_string(tip["height"].get<uint64_t>())});
  CHECK(blk["hash"] == tip["tip"]);
  for (auto& item : items)
    CHECK(run({"item", "--datadir", a.datadir(), item, "--json"}).code == 0);
  a.settle();
  for (auto& item : items)
    CHECK(item_settled(a, item));
  for (auto& t : transfers) {
    auto r = run_json({"record", "--datadir", a.datadir(), t});
    CHECK(!r["height"].is_null());
  }
  auto bobs = run_json({"owner", "--datadir", a.datadir(), bob["public_key"]});
  CHECK(bobs["items"].size() == 5);
}

TEST_CASE("a forced reorg of 10 blocks leaves the same tip and indexes") {
  temp_dir dir;
  node a{dir, "a", {"empty_block_interval_s = 0"}};
  a.start(true);
  auto bob = run_json({"keys", "new", "--out", dir / "bob.key"});
  std::vector<std::string> items;
  for (int round = 0; round < 3; ++round) {
    auto batch = issue(a, asset_of(a, "reorg-" + std::to_string(round)), 4);
    items.insert(items.end(), batch.begin(), batch.end());
    run_json({"transfer", "--datadir", a.datadir(), "--item", batch[0], "--to",
              bob["public_key"]});
  }
  REQUIRE(a.wait_for([](const json& s) { return s["height"] >= 16; }));
  a.settle();
  CHECK(a.stop() == 0);
  a.start(false); // freeze the chain
  auto before = snapshot(a, items, {a.public_key(), bob["public_key"]});
  auto r = run_json({"admin", "reorg", "--datadir", a.datadir(), "10"});
  CHECK(r["height"] == before["height"]);
  CHECK(r["tip"] == before["tip"]);
  auto after = snapshot(a, items, {a.public_key(), bob["public_key"]});
  CHECK(after == before);
  auto deep = run(
    {"admin", "reorg", "--datadir", a.datadir(), "1000", "--json"});
  CHECK(deep.code != 0);
  CHECK(deep.err.find("reorg") != std::string::npos);
  CHECK(snapshot(a, items, {a.public_key(), bob["public_key"]}) == before);
}

TEST_CASE("a competing branch with more work replaces the tip") {
  temp_dir dir;
  node a{dir, "a"};
  node b{dir, "b", {"empty_block_interval_s = 0"}};
  a.start(true);
  // Anchored at genesis, so the batch stays valid on the other branch.
  auto asset = asset_of(a, "branch");
  auto items = issue(a, asset, 2);
  REQUIRE(a.wait_for([](const json& s) { return s["height"] >= 1; }));
  a.settle();
  CHECK(a.stop() == 0);
  a.start(false);
  auto a_tip = a.status();

  b.start(true);
  auto target = a_tip["height"].get<uint64_t>() + 5;
  REQUIRE(b.wait_for([&](const json& s) { return s["height"] >= target; }));
  CHECK(b.stop() == 0);
  b.start(false);
  auto b_tip = b.status();
  auto file = dir / "branch.blocks";
  auto exp = run({"block", "export", "--datadir", b.datadir(), "--from", "1",
                  "--out", file});
  INFO(exp.err);
  REQUIRE(exp.code == 0);

  // Fed through the same path a peer's blocks take.
  auto imp = run_json({"block", "import", "--datadir", a.datadir(), file});
  CHECK(imp["tip"] == b_tip["tip"]);
  auto now = a.status();
  CHECK(now["tip"] == b_tip["tip"]);
  CHECK(now["height"] == b_tip["height"]);
  CHECK(now["cumulative_work"] == b_tip["cumulative_work"]);
  // A's unwound records went back to its reservoir ...
  CHECK(now["pending_records"].get<uint64_t>() >= 2);
  auto pending = run_json({"item", "--datadir", a.datadir(), items[0]});
  CHECK(pending["provenance"][0]["height"].is_null());
  // ... and are mined again on top of the new tip.
  CHECK(a.stop() == 0);
  a.start(true);
  a.settle();
  REQUIRE(item_settled(a, items[0]));
  auto again = run_json({"item", "--datadir", a.datadir(), items[0]});
  CHECK(again["provenance"][0]["height"].get<uint64_t>()
        > b_tip["height"].get<uint64_t>());
  // Importing the shorter chain again changes nothing.
  auto same = run_json({"block", "import", "--datadir", a.datadir(), file});
  CHECK(a.status()["tip"] != b_tip["tip"]);
  (void)same;
}

TEST_CASE("garbage on the admin socket closes that connection only") {
  temp_dir dir;
  node a{dir, "a"};
  a.start(false);
  std::mt19937 rng{42};
  for (int attempt = 0; attempt < 3; ++attempt) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    auto path = a.datadir() + "/admin.sock";
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
            == 0);
    std::vector<uint8_t> junk(4096);
    for (auto& x : junk)
      x = static_cast<uint8_t>(rng());
    if (attempt == 1) { // a well-formed length with garbage inside
      junk[0] = 64;
      junk[1] = junk[2] = junk[3] = 0;
    }
    if (attempt == 2) { // an oversized frame
      junk[0] = junk[1] = junk[2] = 0xff;
      junk[3] = 0x7f;
    }
    CHECK(::write(fd, junk.data(), junk.size()) > 0);
    char buf[256];
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (::read(fd, buf, sizeof(buf)) > 0) {
    }
    ::close(fd);
    CHECK(a.status()["chain"] == "devnet");
  }
}

TEST_CASE("a data directory of another chain is refused") {
  temp_dir dir;
  node a{dir, "a"};
  a.start(false);
  CHECK(a.stop() == 0);
  {
    std::ofstream conf{a.datadir() + "/hallmark.conf", std::ios::app};
    conf << "chain = testnet\n";
  }
  auto r = run({"run", "--datadir", a.datadir()}, 30s);
  CHECK(r.code != 0);
  CHECK(r.err.find("devnet") != std::string::npos);
}
