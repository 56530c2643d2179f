// The state sync client against real nodes: a fresh node started with
// --state-sync fetches headers, then the state at a target root from
// several peers, checks every proof, and goes on with block sync.
// Ports 19910–19929.
#include "tests/integration/harness.hpp"

using namespace hallmark::test;

namespace {

/// An asset with `batches` × 100 items issued on `a`, all in blocks;
/// returns the items.
std::vector<std::string> fill(const node& a, int batches,
                              const std::string& name) {
  auto asset = run_json({"asset", "register", "--datadir", a.datadir(),
                         "--name", name, "--fingerprint",
                         "fp:" + name})["asset_id"]
                 .get<std::string>();
  std::vector<std::string> items;
  for (int b = 0; b < batches; ++b) {
    auto issued = run_json(
      {"issue", "--datadir", a.datadir(), "--asset", asset, "--count", "100"});
    for (auto& i : issued["items"])
      items.push_back(i.get<std::string>());
  }
  settled_item(a, items.back());
  a.settle();
  return items;
}

json sync_status(const node& n) {
  auto s = n.status();
  return s.contains("state_sync") ? s["state_sync"] : json{};
}

bool sync_done(const json& s) {
  return s.contains("state_sync") && s["state_sync"]["phase"] == "done";
}

/// Waits until `b` is at `a`'s height and returns it.
uint64_t caught_up(const node& a, const node& b) {
  uint64_t h = 0;
  for (int i = 0; i < 600; ++i) {
    h = a.height();
    if (b.height() == h)
      return h;
    std::this_thread::sleep_for(100ms);
  }
  FAIL(b.datadir() << " did not reach height " << h);
  return h;
}

std::string root_at(const node& n, uint64_t height) {
  return run_json({"state", "root", "--datadir", n.datadir(), "--height",
                   std::to_string(height), "--json"})["state_root"]
    .get<std::string>();
}

} // namespace

TEST_CASE("state sync: from three peers while one sends bad proofs; it is "
          "charged, the sync finishes from the others, and the node follows "
          "new blocks with its peers' root") {
  temp_dir dir;
  node a{dir, "a", {"empty_block_interval_s = 1"}};
  a.start(true, {"--listen", "127.0.0.1:19910"});
  auto items = fill(a, 3, "three");
  // One item changes hands, so its history begins before the synced state.
  auto bob = run_json({"keys", "new", "--out", dir / "bob.key"});
  std::string moved = items[0];
  run_json({"transfer", "--datadir", a.datadir(), "--item", moved, "--to",
            bob["public_key"].get<std::string>()});
  auto moved_at = settled_item(a, moved)["provenance"][0]["height"]
                    .get<uint64_t>();
  // Far enough past it that the target (3 blocks behind) is too.
  REQUIRE(
    a.wait_for([&](const json& st) { return st["height"] >= moved_at + 6; }));

  auto peer_a = a.public_key() + "@127.0.0.1:19910";
  node b{dir, "b"};
  node c{dir, "c"};
  node liar{dir, "liar"};
  liar.set_env("HALLMARK_TEST_CORRUPT_STATE_PROOFS=1");
  b.start(false, {"--listen", "127.0.0.1:19911", "--peer", peer_a});
  c.start(false, {"--listen", "127.0.0.1:19912", "--peer", peer_a});
  liar.start(false, {"--listen", "127.0.0.1:19913", "--peer", peer_a});
  caught_up(a, b);
  caught_up(a, c);
  caught_up(a, liar);

  node s{dir, "s"};
  s.start(false, {"--state-sync", "--state-sync-depth", "3", "--peer",
                  b.public_key() + "@127.0.0.1:19911", "--peer",
                  c.public_key() + "@127.0.0.1:19912", "--peer",
                  liar.public_key() + "@127.0.0.1:19913"});
  REQUIRE(s.wait_for(sync_done, 90s));
  auto progress = sync_status(s);
  CHECK(progress["keys"].get<uint64_t>() >= 301); // the asset, 300 items
  CHECK(progress["target_height"].get<uint64_t>() > 0);
  CHECK(progress["bytes"].get<uint64_t>() > 0);
  // The liar was asked (every peer takes requests) and charged.
  CHECK(progress["bad_proofs"].get<uint64_t>() >= 1);
  CHECK(s.log().find("charged, asking others") != std::string::npos);
  auto peers = run_json({"peers", "--datadir", s.datadir(), "--json"});
  bool charged = false;
  for (auto& p : peers["peers"])
    if (p["key"] == liar.public_key())
      charged = p["score"].get<int64_t>() > 0 || !p["banned_until"].is_null();
  CHECK(charged);

  // It follows new blocks, and its root is its peers' at every height.
  auto more = fill(a, 1, "later");
  auto h = caught_up(a, s);
  CHECK(root_at(s, h) == root_at(a, h));
  auto target = progress["target_height"].get<uint64_t>();
  CHECK(h > target);

  // Queries work from the synced state.
  auto it = run_json({"item", "--datadir", s.datadir(), items[5]});
  CHECK(it["owner"] == a.public_key());
  auto later = run_json({"item", "--datadir", s.datadir(), more[0]});
  CHECK(later["provenance"][0]["kind"] == "issue");
  auto gone = run_json({"item", "--datadir", s.datadir(), moved});
  CHECK(gone["owner"] == bob["public_key"]);
  CHECK(gone["history_from"].get<uint64_t>() == target);
  auto mine = run_json({"owner", "--datadir", s.datadir(), a.public_key()});
  CHECK(mine["items"].size() == items.size() - 1 + more.size());
  auto rec = run_json({"record", "--datadir", s.datadir(), items[5]});
  CHECK(rec["kind"] == "issue");
  CHECK(rec["record"].is_null());
  CHECK(rec["state_base"].get<uint64_t>() == target);
  auto text = run({"record", "--datadir", s.datadir(), items[5]});
  CHECK(text.code == 0);
  CHECK(text.out.find("not kept here") != std::string::npos);
  // Below and at the sync's height: the header, and why nothing more.
  auto old = run({"block", "--datadir", s.datadir(), "1", "--json"});
  CHECK(old.code == 0);
  CHECK(old.js()["records"].is_null());
  CHECK(old.out.find("only the header is kept") != std::string::npos);
  CHECK(root_at(s, target) == progress["target_root"]);
  auto export_old = run({"block", "export", "--datadir", s.datadir(), "--from",
                         std::to_string(target), "--out", dir / "old.blocks"});
  CHECK(export_old.code == 1);
  CHECK(export_old.err.find("export from " + std::to_string(target + 1))
        != std::string::npos);
  auto gone_record = run({"record", "--datadir", s.datadir(), moved});
  CHECK(gone_record.code == 1); // the issue, no longer the item's latest
  CHECK(gone_record.err.find("with a state sync") != std::string::npos);
  // A new block's records are whole.
  auto fresh = run_json({"record", "--datadir", s.datadir(), more[0]});
  CHECK(!fresh.contains("state_base"));
  CHECK(fresh["owner"] == a.public_key());
}

TEST_CASE("state sync: the target moves while it runs, kill -9 in the "
          "middle resumes from what was held, and the root ends as the "
          "peers'") {
  temp_dir dir;
  node a{dir, "a", {"empty_block_interval_s = 1"}};
  // Slow answers from every server (3 s each, one at a time), so that new
  // blocks arrive while the sync runs and it can be stopped in the middle.
  a.set_env("HALLMARK_TEST_STATE_SERVE_DELAY_MS=3000");
  a.start(true, {"--listen", "127.0.0.1:19920"});
  fill(a, 3, "resume");
  node b{dir, "b"};
  b.set_env("HALLMARK_TEST_STATE_SERVE_DELAY_MS=3000");
  b.start(false, {"--listen", "127.0.0.1:19921", "--peer",
                  a.public_key() + "@127.0.0.1:19920"});
  caught_up(a, b);

  node s{dir, "s"};
  s.start(false, {"--state-sync", "--state-sync-depth", "2", "--peer",
                  b.public_key() + "@127.0.0.1:19921"});
  REQUIRE(s.wait_for(
    [](const json& st) {
      return st.contains("state_sync")
             && st["state_sync"]["target_height"].get<uint64_t>() > 0;
    },
    60s));
  auto first = sync_status(s);
  // What the node holds is partial: questions about it wait.
  auto during = run({"owner", "--datadir", s.datadir(), a.public_key()});
  CHECK(during.code == 1);
  CHECK(during.err.find("state-syncing") != std::string::npos);
  // New state while the sync runs: the target moves to a root whose state
  // differs, and what is held is brought there by change proofs.
  fill(a, 1, "meanwhile");
  REQUIRE(s.wait_for(
    [&](const json& st) {
      return st.contains("state_sync")
             && st["state_sync"]["target_root"] != first["target_root"]
             && st["state_sync"]["keys"].get<uint64_t>() > 1;
    },
    60s));
  auto before = sync_status(s);
  REQUIRE(before["phase"] == "ranges");
  CHECK(before["retargets"].get<uint64_t>() >= 1);
  auto held = before["keys"].get<uint64_t>();
  CHECK(held > 0);
  s.kill9();

  // Restarted without the flag: a sync under way resumes regardless.
  s.start(false, {"--peer", b.public_key() + "@127.0.0.1:19921"});
  auto resumed = sync_status(s);
  CHECK(resumed["resumed_keys"].get<uint64_t>() >= held);
  REQUIRE(s.wait_for(sync_done, 120s));
  auto after = sync_status(s);
  CHECK(after["keys"].get<uint64_t>() >= 401); // the assets, 400 items
  CHECK(s.log().find("resuming:") != std::string::npos);
  auto h = caught_up(a, s);
  CHECK(root_at(s, h) == root_at(a, h));
  CHECK(s.stop() == 0);
}

TEST_CASE("state sync: a node with a chain does not state-sync; it says so") {
  temp_dir dir;
  node a{dir, "a", {"empty_block_interval_s = 1"}};
  a.start(true, {"--listen", "127.0.0.1:19925"});
  REQUIRE(a.wait_for([](const json& st) { return st["height"] >= 1; }));
  CHECK(a.stop() == 0);
  a.start(false, {"--state-sync"});
  CHECK(!a.status().contains("state_sync"));
  CHECK(a.log().find("state sync not needed") != std::string::npos);
}
