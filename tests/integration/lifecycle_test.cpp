// A record's whole life through the real binary: register, issue, transfer,
// countersigned transfer, provenance; and that it survives a restart.
#include "tests/integration/harness.hpp"

using namespace hallmark::test;

TEST_CASE("a record's whole life: register, issue, transfer, provenance") {
  temp_dir dir;
  node a{dir, "a"};
  a.start(true);
  auto node_key = a.public_key();
  auto bob = run_json({"keys", "new", "--out", dir / "bob.key"});
  auto carol = run_json({"keys", "new", "--out", dir / "carol.key"});
  std::string bob_pk = bob["public_key"];
  std::string carol_pk = carol["public_key"];

  auto reg = run_json({"asset", "register", "--datadir", a.datadir(), "--name",
                       "Sunflowers", "--fingerprint", "sha256:1234abcd",
                       "--meta", "artist=Vincent", "--meta", "year=1888"});
  std::string asset = reg["asset_id"];
  CHECK(asset.size() == 64);

  auto issued = run_json(
    {"issue", "--datadir", a.datadir(), "--asset", asset, "--count", "3"});
  REQUIRE(issued["items"].size() == 3);
  std::string item = issued["items"][0];

  // Pending at first or already in a block: either way the issue is listed.
  auto pending = run_json({"item", "--datadir", a.datadir(), item});
  CHECK(pending["owner"] == node_key);

  settled_item(a, item);
  auto t1 = run_json(
    {"transfer", "--datadir", a.datadir(), "--item", item, "--to", bob_pk});
  std::string rec1 = t1["record"];
  auto t2 = run_json({"transfer", "--datadir", a.datadir(), "--item", item,
                      "--to", carol_pk, "--key", dir / "bob.key",
                      "--countersign-key", dir / "carol.key"});
  std::string rec2 = t2["record"];

  auto j = settled_item(a, item);
  CHECK(j["owner"] == carol_pk);
  REQUIRE(j["provenance"].size() == 3);
  CHECK(j["provenance"][0]["record"] == rec2);
  CHECK(j["provenance"][0]["owner"] == carol_pk);
  CHECK(j["provenance"][1]["record"] == rec1);
  CHECK(j["provenance"][1]["owner"] == bob_pk);
  CHECK(j["provenance"][2]["record"] == item);
  CHECK(j["provenance"][2]["kind"] == "issue");
  CHECK(j["provenance"][2]["owner"] == node_key);
  CHECK(j["provenance"][0]["height"].get<uint64_t>()
        >= j["provenance"][2]["height"].get<uint64_t>());

  auto carol_items = run_json({"owner", "--datadir", a.datadir(), carol_pk});
  CHECK(carol_items["items"] == json::array({item}));
  auto node_items = run_json({"owner", "--datadir", a.datadir(), node_key});
  CHECK(node_items["items"].size() == 2);

  auto rec = run_json({"record", "--datadir", a.datadir(), rec2});
  CHECK(rec["kind"] == "transfer");
  CHECK(rec["item"] == item);
  auto blk = run_json({"block", "--datadir", a.datadir(),
                       std::to_string(rec["height"].get<uint64_t>())});
  bool found = false;
  for (auto& r : blk["records"])
    found = found || r["id"] == rec2;
  CHECK(found);
  auto by_hash = run_json(
    {"block", "--datadir", a.datadir(), blk["hash"].get<std::string>()});
  CHECK(by_hash["height"] == blk["height"]);

  // Everything survives a clean restart.
  auto before = a.status();
  CHECK(a.stop() == 0);
  a.start(false);
  auto after = a.status();
  CHECK(after["height"] == before["height"]);
  CHECK(after["tip"] == before["tip"]);
  CHECK(run_json({"item", "--datadir", a.datadir(), item}) == j);
}

TEST_CASE("refused records get a reason and a non-zero exit") {
  temp_dir dir;
  node a{dir, "a"};
  a.start(true);
  auto bob = run_json({"keys", "new", "--out", dir / "bob.key"});
  std::string asset = run_json({"asset", "register", "--datadir", a.datadir(),
                                "--name", "A", "--fingerprint",
                                "fp-1"})["asset_id"];
  // The same fingerprint again: a duplicate.
  auto dup = run({"asset", "register", "--datadir", a.datadir(), "--name", "B",
                  "--fingerprint", "fp-1", "--json"});
  CHECK(dup.code != 0);
  CHECK(dup.err.find("duplicate") != std::string::npos);
  // Someone else than the registrant cannot issue the asset.
  auto foreign = run({"issue", "--datadir", a.datadir(), "--asset", asset,
                      "--key", dir / "bob.key", "--json"});
  CHECK(foreign.code != 0);
  CHECK(foreign.err.find("not_owner") != std::string::npos);
  std::string item = run_json(
    {"issue", "--datadir", a.datadir(), "--asset", asset})["items"][0];
  // Bob does not own the item: he cannot transfer it.
  auto theft = run({"transfer", "--datadir", a.datadir(), "--item", item,
                    "--to", bob["public_key"], "--key", dir / "bob.key",
                    "--json"});
  CHECK(theft.code != 0);
  CHECK(theft.err.find("not_owner") != std::string::npos);
  // Unknown item.
  auto unknown = run(
    {"item", "--datadir", a.datadir(), std::string(64, 'a'), "--json"});
  CHECK(unknown.code != 0);
  CHECK(unknown.err.find("not_found") != std::string::npos);
}

TEST_CASE("wrong arguments and no running node give one clear line") {
  temp_dir dir;
  auto bad = run({"status"});
  CHECK(bad.code == 2);
  CHECK(!bad.err.empty());
  auto nothing = run({"status", "--datadir", dir / "none", "--json"});
  CHECK(nothing.code != 0);
  CHECK(nothing.err.find("no node") != std::string::npos);
  auto verb = run({"frobnicate"});
  CHECK(verb.code == 2);
  node a{dir, "a"};
  auto twice = run({"init", "--datadir", a.datadir(), "--chain", "devnet"});
  CHECK(twice.code != 0);
  auto bad_hex = run({"item", "--datadir", a.datadir(), "xyz", "--json"});
  CHECK(bad_hex.code != 0);
  // A node refusing its configuration exits with the reason, never hangs.
  for (auto& extra :
       std::vector<std::vector<std::string>>{{"--peer", "garbage"},
                                             {"--listen", "999.1.1.1:5"},
                                             {"--listen", "127.0.0.1:70000"}}) {
    std::vector<std::string> args{"run", "--datadir", a.datadir()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run(args, 30s);
    CHECK(r.code == 1);
    CHECK(r.err.find(extra[1]) != std::string::npos);
  }
  auto loud = run({"run", "--datadir", a.datadir(), "--log-level", "loud"});
  CHECK(loud.code == 2);
}

TEST_CASE("--log-level drops the records below it") {
  temp_dir dir;
  node quiet{dir, "quiet"};
  quiet.start(false, {"--log-level", "warning"});
  CHECK(quiet.stop() == 0);
  CHECK(quiet.log().find(" info ") == std::string::npos);
  node chatty{dir, "chatty"};
  chatty.start(false);
  CHECK(chatty.stop() == 0);
  CHECK(chatty.log().find(" info  node: ") != std::string::npos);
}
