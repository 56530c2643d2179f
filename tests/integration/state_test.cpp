// State sync's server side against a real node: a peer asks for range
// proofs of the state at a header's root over the encrypted link and checks
// them against that root. Ports 19900–19909.
#include "tests/integration/harness.hpp"
#include "tests/integration/raw_peer.hpp"

#include <fstream>

#include "core/state_proof.hpp"
#include "messages/envelope.hpp"

using namespace hallmark::test;
using hallmark::key_pair;

namespace {

/// The node's answer to a state request, decoded.
hallmark::wire::body ask_state(raw_peer& p, uint64_t id,
                               const hallmark::wire::body& request) {
  auto bytes = hallmark::wire::encode(hallmark::wire::envelope{id, request});
  REQUIRE(bytes);
  p.send_plain(*bytes);
  for (int i = 0; i < 50; ++i) {
    auto e = p.read_envelope(10'000);
    REQUIRE(e);
    auto env = hallmark::wire::decode_envelope(*e, 5u << 20);
    REQUIRE(env);
    if (env->id == id && hallmark::wire::is_response(env->what))
      return env->what;
  }
  FAIL("no answer to state request " << id);
  return {};
}

} // namespace

TEST_CASE("state: a peer proves its state at a header's root, in chunks, "
          "and refuses a root it does not have") {
  temp_dir dir;
  node a{dir, "a", {"empty_block_interval_s = 0"}};
  a.start(true, {"--listen", "127.0.0.1:19900"});
  auto asset = run_json({"asset", "register", "--datadir", a.datadir(),
                         "--name", "State", "--fingerprint",
                         "fp:state"})["asset_id"]
                 .get<std::string>();
  auto items = run_json({"issue", "--datadir", a.datadir(), "--asset", asset,
                         "--count", "20"})["items"];
  for (auto& i : items)
    settled_item(a, i.get<std::string>());
  auto tip = a.status()["height"].get<uint64_t>();
  auto blk = run_json({"block", "--datadir", a.datadir(), std::to_string(tip)});
  auto root = *hallmark::from_hex_fixed<32>(
    blk["state_root"].get<std::string>());
  CHECK(root != hallmark::hash256{});

  raw_peer p{19900};
  REQUIRE(p.connected());
  REQUIRE(!p.handshake_with(*hallmark::from_hex_fixed<32>(a.public_key()),
                            key_pair::generate()));
  namespace trie = hallmark::trie;
  std::vector<trie::entry> got;
  auto start = trie::min_key();
  uint64_t id = 1;
  while (true) {
    hallmark::wire::state_range_request r;
    r.root = root;
    r.start = start;
    r.key_limit = 6;
    auto answer = ask_state(p, id++, r);
    auto* range = std::get_if<hallmark::wire::state_range>(&answer);
    REQUIRE(range);
    CHECK(trie::verify_range(root, start, trie::max_key(), range->proof)
          == caf::error{});
    CHECK(range->proof.entries.size() <= 6);
    got.insert(got.end(), range->proof.entries.begin(),
               range->proof.entries.end());
    if (!range->proof.truncated)
      break;
    start = *trie::next_key(range->proof.entries.back().first);
  }
  CHECK(got.size() == 21); // the asset and its 20 items
  for (auto& [k, v] : got)
    CHECK(trie::valid_entry(k, v));

  // A root that is no recent block's: refused, with the reason.
  hallmark::wire::state_range_request bad;
  bad.root.fill(0x5a);
  auto answer = ask_state(p, id++, bad);
  auto* no = std::get_if<hallmark::wire::refusal>(&answer);
  REQUIRE(no);
  CHECK(no->code == hallmark::ec::not_found);
  CHECK(no->reason.find("not the state of any of the last")
        != std::string::npos);
  // A light client's proof: asked of the node, checked offline.
  auto item = items[0].get<std::string>();
  auto proof = run({"state", "proof", item, "--datadir", a.datadir()});
  REQUIRE(proof.code == 0);
  auto file = dir / "proof.json";
  {
    std::ofstream out{file};
    out << proof.out;
  }
  auto ok = run({"state", "verify", file});
  CHECK(ok.code == 0);
  CHECK(ok.out.find("valid: item " + item + " is owned by")
        != std::string::npos);
  auto doc = json::parse(proof.out);
  CHECK(doc["state"]["owner"] == a.public_key());
  // A copy for readers that says something else than what is proved.
  {
    auto lie = json::parse(proof.out);
    lie["state"]["owner"] = std::string(64, '0');
    std::ofstream out{file};
    out << lie.dump();
  }
  auto lying = run({"state", "verify", file});
  CHECK(lying.code == 1);
  CHECK(lying.out.find("invalid: \"state\"") != std::string::npos);
  // Not JSON at all: the same one line.
  {
    std::ofstream out{file};
    out << "garbage";
  }
  auto junk = run({"state", "verify", file});
  CHECK(junk.code == 1);
  CHECK(junk.out.find("invalid:") != std::string::npos);
  // Another owner written in: the proof no longer holds.
  auto value = doc["value"].get<std::string>();
  value[70] = value[70] == '0' ? '1' : '0';
  doc["value"] = value;
  {
    std::ofstream out{file};
    out << doc.dump();
  }
  auto forged = run({"state", "verify", file});
  CHECK(forged.code == 1);
  CHECK(forged.out.find("invalid") != std::string::npos);
  // An item that does not exist: a valid proof of its absence.
  auto none = run(
    {"state", "proof", std::string(64, 'e'), "--datadir", a.datadir()});
  REQUIRE(none.code == 0);
  {
    std::ofstream out{file};
    out << none.out;
  }
  auto absent = run({"state", "verify", file, "--json"});
  CHECK(absent.code == 0);
  CHECK(absent.js()["valid"] == true);
  CHECK(absent.js()["state"].is_null());
  auto root_now = run_json(
    {"state", "root", "--datadir", a.datadir(), "--json"});
  CHECK(root_now["state_root"].get<std::string>().size() == 64);

  // The link stays up: asking was not an offence.
  hallmark::wire::state_range_request again;
  again.root = root;
  CHECK(std::holds_alternative<hallmark::wire::state_range>(
    ask_state(p, id++, again)));
}
