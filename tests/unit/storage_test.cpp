// storage/chain_store: applying and unwinding blocks, every state rule
// through chain_writer, and what transactions publish. Opening and the
// stored bytes are in storage_format_test.cpp, the LMDB layer in
// storage_lmdb_test.cpp, map growth in storage_growth_test.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <optional>

#include "storage/chain_store.hpp"
#include "tests/unit/helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;

namespace {

std::vector<hash256> sorted(std::vector<hash256> xs) {
  std::sort(xs.begin(), xs.end());
  return xs;
}

/// A devnet store with three people and one registered work.
class fixture : public three_people {
public:
  explicit fixture(const chain_params& p = devnet()) : s(p) {}

  test_store s;

  /// A batch of `issues` with enough work, anchored at the tip (or `anchor`).
  issue_batch batch(std::vector<issue> issues,
                    std::optional<hash256> anchor = std::nullopt) {
    return make_batch(std::move(issues), anchor ? *anchor : s.tip().hash,
                      s.params().issue_difficulty);
  }

  /// Height 1 registers `art`, height 2 issues `first` and `second` to alice.
  void setup() {
    s.push({art});
    s.push({batch({first, second})});
  }

  /// A block on the tip holding `records` is well-formed and signed, yet
  /// refused with `want`, and the store is exactly as before.
  void expect_refused(std::vector<record> records, ec want) {
    auto before = s.snapshot();
    auto tip = s.tip();
    auto b = s.next(std::move(records));
    REQUIRE_FALSE(check_block(b));
    REQUIRE_FALSE(check_signatures(b, 0, b.records.size()));
    chain_writer w{s.store()};
    auto err = w.apply(b, encode(b), test_now());
    CHECK_MESSAGE(code(err) == want, message_of(err));
    CHECK(w.pending_blocks() == 0);
    CHECK(w.tip().hash == tip.hash);
    CHECK_FALSE(w.commit());
    CHECK(s.tip().hash == tip.hash);
    CHECK(s.snapshot() == before);
  }
};

} // namespace

TEST_SUITE_BEGIN("storage");

// -- applying -----------------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "applying an asset indexes it") {
  auto b = s.push({art});
  chain_reader r{s.store()};
  auto tip = r.tip();
  CHECK(tip.height == 1);
  CHECK(tip.hash == block_hash(b.hdr));
  CHECK(tip.work == 2 * work_t{s.params().min_difficulty});
  CHECK(r.height_of(tip.hash) == uint64_t{1});
  auto found = r.find_asset(art_id);
  REQUIRE(found);
  CHECK(found->first == 1);
  CHECK(found->second == record_id(art));
  auto loc = r.find_record(record_id(art));
  REQUIRE(loc);
  CHECK(loc->height == 1);
  CHECK(loc->index == 0);
  CHECK(loc->kind == record_kind::asset);
  CHECK(loc->owner == alice.public_key_bytes());
  CHECK(loc->item == hash256{});
  CHECK(loc->link == hash256{});
  CHECK_FALSE(r.find_item(record_id(art)).has_value());
  CHECK(r.items_of(alice.public_key_bytes()).empty());
  auto body = r.body_at(1);
  REQUIRE(body);
  CHECK(*body == encode(b));
}

TEST_CASE_FIXTURE(fixture,
                  "applying issues creates items owned by the issuer") {
  setup();
  chain_reader r{s.store()};
  CHECK(r.tip().height == 2);
  for (auto [id, sub] : {std::pair{first_id, 0}, std::pair{second_id, 1}}) {
    auto loc = r.find_record(id);
    REQUIRE(loc);
    CHECK(loc->height == 2);
    CHECK(loc->index == 0);
    CHECK(loc->sub == sub);
    CHECK(loc->kind == record_kind::issue);
    CHECK(loc->item == id);
    CHECK(loc->owner == alice.public_key_bytes());
    CHECK(loc->link == hash256{});
    auto item = r.find_item(id);
    REQUIRE(item);
    CHECK(item->latest == id);
    CHECK(item->owner == alice.public_key_bytes());
    CHECK(item->asset == art_id);
    auto prov = r.provenance(id);
    REQUIRE(prov.size() == 1);
    CHECK(prov[0].first == id);
  }
  CHECK(sorted(r.items_of(alice.public_key_bytes()))
        == sorted({first_id, second_id}));
  CHECK(r.items_of(bob.public_key_bytes()).empty());
  CHECK(r.provenance(label_hash("no item")).empty());
}

TEST_CASE_FIXTURE(fixture, "applying transfers moves items and their history") {
  setup();
  auto t1 = give(first_id, alice, bob);
  s.push({t1});
  auto t1_id = record_id(t1);
  {
    chain_reader r{s.store()};
    auto item = r.find_item(first_id);
    REQUIRE(item);
    CHECK(item->latest == t1_id);
    CHECK(item->owner == bob.public_key_bytes());
    CHECK(item->asset == art_id);
    CHECK(r.items_of(alice.public_key_bytes())
          == std::vector<hash256>{second_id});
    CHECK(r.items_of(bob.public_key_bytes()) == std::vector<hash256>{first_id});
    auto loc = r.find_record(t1_id);
    REQUIRE(loc);
    CHECK(loc->height == 3);
    CHECK(loc->kind == record_kind::transfer);
    CHECK(loc->item == first_id);
    CHECK(loc->owner == bob.public_key_bytes());
    CHECK(loc->link == first_id);
  }
  // bob → carol → alice on the first item, alice → bob on the second, all in
  // one block; the second transfer links to the first in the same block.
  auto t2 = give(t1_id, bob, carol);
  auto t3 = give(record_id(t2), carol, alice);
  auto t4 = give(second_id, alice, bob);
  countersign(t4, bob);
  s.push({t2, t3, t4});
  chain_reader r{s.store()};
  CHECK(r.tip().height == 4);
  CHECK(r.tip().work == 5 * work_t{s.params().min_difficulty});
  auto item = r.find_item(first_id);
  REQUIRE(item);
  CHECK(item->latest == record_id(t3));
  CHECK(item->owner == alice.public_key_bytes());
  CHECK(r.items_of(alice.public_key_bytes()) == std::vector<hash256>{first_id});
  CHECK(r.items_of(bob.public_key_bytes()) == std::vector<hash256>{second_id});
  CHECK(r.items_of(carol.public_key_bytes()).empty());
  auto loc3 = r.find_record(record_id(t3));
  REQUIRE(loc3);
  CHECK(loc3->index == 1);
  CHECK(loc3->link == record_id(t2));
  auto prov = r.provenance(first_id);
  REQUIRE(prov.size() == 4);
  CHECK(prov[0].first == record_id(t3));
  CHECK(prov[1].first == record_id(t2));
  CHECK(prov[2].first == t1_id);
  CHECK(prov[3].first == first_id);
  CHECK(prov[3].second.kind == record_kind::issue);
  CHECK(prov[0].second.owner == alice.public_key_bytes());
  CHECK(prov[1].second.owner == carol.public_key_bytes());
  CHECK(prov[2].second.owner == bob.public_key_bytes());
}

TEST_CASE_FIXTURE(fixture, "asset, issue and transfer can share one block") {
  auto b = s.push({art, batch({first}), give(first_id, alice, carol)});
  chain_reader r{s.store()};
  CHECK(r.find_asset(art_id).has_value());
  auto item = r.find_item(first_id);
  REQUIRE(item);
  CHECK(item->owner == carol.public_key_bytes());
  CHECK(r.items_of(carol.public_key_bytes()) == std::vector<hash256>{first_id});
  CHECK(r.items_of(alice.public_key_bytes()).empty());
  auto issue_loc = r.find_record(first_id);
  REQUIRE(issue_loc);
  CHECK(issue_loc->index == 1);
  CHECK(issue_loc->height == b.hdr.height);
}

TEST_CASE_FIXTURE(fixture, "empty blocks extend the chain") {
  for (int i = 1; i <= 5; ++i) {
    s.push();
    CHECK(s.tip().height == static_cast<uint64_t>(i));
  }
  chain_reader r{s.store()};
  for (uint64_t h = 0; h <= 5; ++h) {
    auto hash = r.hash_at(h);
    REQUIRE(hash);
    CHECK(r.height_of(*hash) == h);
    auto hdr = r.header_at(h);
    REQUIRE(hdr);
    CHECK(block_hash(*hdr) == *hash);
    CHECK(r.work_at(h) == work_t{(h + 1) * 4});
  }
}

// -- refused blocks -----------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "refused: an asset already registered") {
  setup();
  auto again = make_asset("Another name", art.fingerprint, {}, bob);
  expect_refused({again}, ec::duplicate);
  expect_refused({art}, ec::duplicate);
}

TEST_CASE_FIXTURE(fixture, "refused: one asset twice in a block") {
  auto twin = make_asset("Twin", art.fingerprint, {}, bob);
  expect_refused({art, twin}, ec::duplicate);
}

TEST_CASE_FIXTURE(fixture, "refused: an issue of an unknown asset") {
  setup();
  auto stray = make_issue(label_hash("unregistered"), 1, alice);
  expect_refused({batch({stray})}, ec::unknown_asset);
  // The asset registered later in the same block does not count either.
  auto late = make_asset("Late", vec_of("fp:late"), {}, alice);
  auto early = make_issue(asset_id(late), 1, alice);
  expect_refused({batch({early}), late}, ec::unknown_asset);
}

TEST_CASE_FIXTURE(fixture, "refused: an issue by someone not the registrant") {
  setup();
  expect_refused({batch({make_issue(art_id, 3, bob)})}, ec::not_owner);
  // One bad issue spoils its whole batch.
  expect_refused(
    {batch({make_issue(art_id, 3, alice), make_issue(art_id, 4, bob)})},
    ec::not_owner);
}

TEST_CASE_FIXTURE(fixture, "refused: an issue that already exists") {
  setup();
  expect_refused({batch({first})}, ec::duplicate);
  auto third = make_issue(art_id, 3, alice);
  expect_refused({batch({third}), batch({third}, s.params().genesis_hash)},
                 ec::duplicate);
}

TEST_CASE_FIXTURE(fixture, "refused: an anchor that is no block") {
  setup();
  auto third = make_issue(art_id, 3, alice);
  expect_refused({batch({third}, label_hash("no such block"))}, ec::bad_anchor);
  expect_refused({batch({third}, hash256{})}, ec::bad_anchor);
}

TEST_CASE_FIXTURE(fixture, "refused: free-issue work that is too little") {
  setup();
  auto third = make_issue(art_id, 3, alice);
  auto weak = with_too_little_work(batch({third}), s.params().issue_difficulty);
  expect_refused({weak}, ec::bad_proof);
  // Work done for one anchor does not carry over to another.
  auto moved = batch({third});
  moved.anchor = s.params().genesis_hash;
  if (!meets_difficulty(
        work_hash(payment_id(moved), moved.anchor, moved.work_nonce),
        batch_difficulty(s.params().issue_difficulty, 1)))
    expect_refused({moved}, ec::bad_proof);
  // A bigger batch needs more work than a single issue's.
  std::vector<issue> many;
  for (uint64_t n = 10; n < 30; ++n)
    many.push_back(make_issue(art_id, n, alice));
  issue_batch big;
  big.issues = many;
  big.anchor = s.tip().hash;
  auto need = batch_difficulty(s.params().issue_difficulty, many.size());
  REQUIRE(need > s.params().issue_difficulty);
  auto payment = payment_id(big);
  for (;; ++big.work_nonce) {
    auto h = work_hash(payment, big.anchor, big.work_nonce);
    if (meets_difficulty(h, s.params().issue_difficulty)
        && !meets_difficulty(h, need))
      break;
  }
  expect_refused({big}, ec::bad_proof);
}

TEST_CASE("refused: an anchor older than the anchor window") {
  fixture f{narrow_anchor_params()};
  f.setup(); // anchors of height 2's batch: height 1, one back
  f.s.push();
  chain_reader r{f.s.store()};
  auto at = [&](uint64_t h) { return *r.hash_at(h); };
  auto third = make_issue(f.art_id, 3, f.alice);
  // The next block is height 4: heights 2 and 3 are within two blocks.
  f.expect_refused({f.batch({third}, at(1))}, ec::bad_anchor);
  f.expect_refused({f.batch({third}, at(0))}, ec::bad_anchor);
  f.s.push({f.batch({third}, at(2))});
  auto fourth = make_issue(f.art_id, 4, f.alice);
  // Height 5 now: height 3 is two back, the tip (4) one back.
  f.s.push({f.batch({fourth}, at(3))});
  auto fifth = make_issue(f.art_id, 5, f.alice);
  f.s.push({f.batch({fifth}, f.s.tip().hash)});
  CHECK(f.s.tip().height == 6);
}

TEST_CASE_FIXTURE(fixture, "refused: a double spend across blocks") {
  setup();
  s.push({give(first_id, alice, bob)});
  expect_refused({give(first_id, alice, carol)}, ec::double_spend);
  // Even the new owner cannot spend the old link.
  expect_refused({give(first_id, bob, carol)}, ec::double_spend);
}

TEST_CASE_FIXTURE(fixture, "refused: a double spend inside one block") {
  setup();
  expect_refused({give(first_id, alice, bob), give(first_id, alice, carol)},
                 ec::double_spend);
  // Also after a hop: alice → bob, bob → carol, alice → carol again.
  auto t1 = give(first_id, alice, bob);
  expect_refused(
    {t1, give(record_id(t1), bob, carol), give(first_id, alice, carol)},
    ec::double_spend);
}

TEST_CASE_FIXTURE(fixture, "refused: the same transfer twice") {
  setup();
  auto t = give(first_id, alice, bob);
  expect_refused({t, t}, ec::duplicate);
  s.push({t});
  expect_refused({t}, ec::duplicate);
}

TEST_CASE_FIXTURE(fixture, "refused: a transfer by someone not the owner") {
  setup();
  expect_refused({give(first_id, carol, bob)}, ec::not_owner);
  expect_refused({give(first_id, bob, bob)}, ec::not_owner);
  // After alice gives it away, she is no longer the owner of its latest
  // record.
  auto t = give(first_id, alice, bob);
  s.push({t});
  expect_refused({give(record_id(t), alice, carol)}, ec::not_owner);
}

TEST_CASE_FIXTURE(fixture, "refused: a transfer of an unknown link") {
  setup();
  expect_refused({give(label_hash("nothing"), alice, bob)}, ec::unknown_link);
  // An asset record is no item.
  expect_refused({give(record_id(art), alice, bob)}, ec::unknown_link);
  // A batch's id is not an item either: items are the issues.
  auto b = batch({make_issue(art_id, 9, alice)});
  s.push({b});
  expect_refused({give(record_id(b), alice, bob)}, ec::unknown_link);
}

TEST_CASE_FIXTURE(fixture, "refused: a bad record after good ones drops all") {
  setup();
  auto other = make_asset("Haystacks", vec_of("fp:haystacks"), {}, bob);
  auto bobs = make_issue(asset_id(other), 1, bob);
  expect_refused({other, batch({bobs}), give(first_id, alice, carol),
                  give(label_hash("nothing"), alice, bob)},
                 ec::unknown_link);
  chain_reader r{s.store()};
  CHECK_FALSE(r.find_asset(asset_id(other)).has_value());
  CHECK_FALSE(r.find_record(record_id(bobs)).has_value());
  CHECK(r.find_item(first_id)->owner == alice.public_key_bytes());
}

TEST_CASE_FIXTURE(fixture, "refused: headers that do not fit the tip") {
  setup();
  auto before = s.snapshot();
  auto& p = s.params();
  chain_reader r{s.store()};
  auto tip = r.tip();
  auto apply = [&](const block& b) {
    chain_writer w{s.store()};
    auto err = w.apply(b, encode(b), test_now());
    CHECK(w.pending_blocks() == 0);
    return code(err);
  };
  SUBCASE("parent is an older block") {
    auto g = genesis_header(p);
    header_chain chain{p};
    auto b = make_block(p, g, chain.lookup(), {});
    CHECK(apply(b) == ec::unknown_parent);
  }
  SUBCASE("parent is unknown") {
    auto b = s.next();
    b.hdr.previous = label_hash("stranger");
    REQUIRE(mine(b.hdr, 10'000'000));
    CHECK(apply(b) == ec::unknown_parent);
  }
  SUBCASE("wrong height") {
    auto b = s.next();
    b.hdr.height += 1;
    REQUIRE(mine(b.hdr, 10'000'000));
    CHECK(apply(b) == ec::bad_block);
  }
  SUBCASE("wrong difficulty") {
    auto b = s.next();
    b.hdr.difficulty *= 2;
    REQUIRE(mine(b.hdr, 10'000'000));
    REQUIRE_FALSE(check_block(b));
    CHECK(apply(b) == ec::bad_difficulty);
  }
  SUBCASE("timestamp too far ahead") {
    auto b = make_block(p, tip.hdr, r.ancestors(), {},
                        test_now() + p.max_future_seconds + 1);
    CHECK(apply(b) == ec::future_timestamp);
  }
  SUBCASE("timestamp not after the median") {
    auto b = make_block(p, tip.hdr, r.ancestors(), {},
                        median_time_past(tip.height + 1, r.ancestors()));
    CHECK(apply(b) == ec::bad_timestamp);
  }
  CHECK(s.snapshot() == before);
}

TEST_CASE_FIXTURE(fixture, "a writer goes on after a refused block") {
  setup();
  auto bad = s.next({give(label_hash("nothing"), alice, bob)});
  auto good = s.next({give(first_id, alice, bob)});
  chain_writer w{s.store()};
  CHECK(code(w.apply(bad, encode(bad), test_now())) == ec::unknown_link);
  CHECK_FALSE(w.apply(good, encode(good), test_now()));
  CHECK(w.pending_blocks() == 1);
  REQUIRE_FALSE(w.commit());
  chain_reader r{s.store()};
  CHECK(r.tip().hash == block_hash(good.hdr));
  CHECK(r.find_item(first_id)->owner == bob.public_key_bytes());
}

TEST_CASE_FIXTURE(fixture, "a refused block is taken back alone: the blocks "
                           "before it in the transaction stay") {
  setup();
  auto good = s.next({give(first_id, alice, bob)});
  chain_writer w{s.store()};
  REQUIRE_FALSE(w.apply(good, encode(good), test_now()));
  // Its first transfer is written before the second breaks a rule (the
  // state root is never reached).
  auto tip = w.tip();
  auto bad = make_block(
    s.params(), tip.hdr, w.ancestors(),
    {give(second_id, alice, carol), give(label_hash("nothing"), alice, bob)});
  CHECK(code(w.apply(bad, encode(bad), test_now())) == ec::unknown_link);
  CHECK(w.pending_blocks() == 1);
  CHECK(w.tip().hash == block_hash(good.hdr));
  // The same transfer again: refused as a duplicate had it stayed, and
  // its state root would not match.
  // (Its root is a trial in the writer, taken back too.)
  auto next = make_block_on(w, s.params(), {give(second_id, alice, carol)});
  REQUIRE_FALSE(w.apply(next, encode(next), test_now()));
  CHECK(w.pending_blocks() == 2);
  REQUIRE_FALSE(w.commit());
  chain_reader r{s.store()};
  CHECK(r.tip().hash == block_hash(next.hdr));
  CHECK(r.find_item(first_id)->owner == bob.public_key_bytes());
  CHECK(r.find_item(second_id)->owner == carol.public_key_bytes());
}

// -- unwinding ----------------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "unwind_tip restores every index exactly") {
  auto s0 = s.snapshot();
  auto b1 = s.push({art});
  auto s1 = s.snapshot();
  auto b2 = s.push({batch({first, second})});
  auto s2 = s.snapshot();
  auto t1 = give(first_id, alice, bob);
  auto t2 = give(record_id(t1), bob, carol);
  auto t3 = give(second_id, alice, carol);
  countersign(t3, carol);
  auto other = make_asset("Haystacks", vec_of("fp:haystacks"), {}, bob);
  auto bobs = make_issue(asset_id(other), 1, bob);
  auto b3 = s.push(
    {t1, t2, t3, other, batch({bobs}), give(record_id(bobs), bob, alice)});
  auto s3 = s.snapshot();
  REQUIRE(s3 != s2);

  auto u3 = s.unwind();
  CHECK(block_hash(u3.hdr) == block_hash(b3.hdr));
  CHECK(leaf_ids(u3) == leaf_ids(b3));
  CHECK(s.snapshot() == s2);
  CHECK(s.tip().hash == block_hash(b2.hdr));

  // Applying it again gives the very same state.
  REQUIRE_FALSE(s.apply(b3));
  CHECK(s.snapshot() == s3);

  s.unwind();
  CHECK(s.snapshot() == s2);
  auto u2 = s.unwind();
  CHECK(block_hash(u2.hdr) == block_hash(b2.hdr));
  CHECK(s.snapshot() == s1);
  auto u1 = s.unwind();
  CHECK(block_hash(u1.hdr) == block_hash(b1.hdr));
  CHECK(s.snapshot() == s0);
  CHECK(s.tip().height == 0);
}

TEST_CASE_FIXTURE(fixture, "genesis cannot be unwound") {
  chain_writer w{s.store()};
  auto b = w.unwind_tip();
  CHECK(code(b) == ec::reorg_too_deep);
}

TEST_CASE_FIXTURE(fixture, "an unwound block no longer anchors free issues") {
  setup();
  auto anchor_block = s.push();
  auto anchor = block_hash(anchor_block.hdr);
  auto third = make_issue(art_id, 3, alice);
  auto b = batch({third}, anchor);
  s.unwind();
  expect_refused({b}, ec::bad_anchor);
}

TEST_CASE_FIXTURE(fixture, "after an unwind another branch can be applied") {
  setup();
  auto s2 = s.snapshot();
  s.push({give(first_id, alice, bob)});
  chain_writer w{s.store()};
  REQUIRE(w.unwind_tip());
  CHECK(w.pending_blocks() == -1);
  // The competing spend of the same item is valid on the other branch.
  auto tip = w.tip();
  auto fork = make_block_on(w, s.params(), {give(first_id, alice, carol)},
                            tip.hdr.timestamp + 5);
  CHECK_FALSE(w.apply(fork, encode(fork), test_now()));
  CHECK(w.pending_blocks() == 0);
  REQUIRE_FALSE(w.commit());
  chain_reader r{s.store()};
  CHECK(r.tip().hash == block_hash(fork.hdr));
  CHECK(r.find_item(first_id)->owner == carol.public_key_bytes());
  CHECK(r.items_of(bob.public_key_bytes()).empty());
  CHECK(s.snapshot() != s2);
}

// -- transactions -------------------------------------------------------------

TEST_CASE_FIXTURE(fixture, "a writer dropped without commit changes nothing") {
  auto before = s.snapshot();
  {
    chain_writer w{s.store()};
    auto b = make_block_on(w, s.params(), {art});
    REQUIRE_FALSE(w.apply(b, encode(b), test_now()));
    CHECK(w.pending_blocks() == 1);
    CHECK(w.tip().height == 1); // the writer sees its own changes
    CHECK(w.find_asset(art_id).has_value());
    chain_reader r{s.store()}; // readers do not
    CHECK(r.tip().height == 0);
    CHECK_FALSE(r.find_asset(art_id).has_value());
  }
  CHECK(s.snapshot() == before);
  CHECK(s.tip().height == 0);
}

TEST_CASE_FIXTURE(fixture, "commit publishes to new readers only") {
  chain_reader old{s.store()};
  chain_writer w{s.store()};
  auto b1 = make_block_on(w, s.params(), {art});
  REQUIRE_FALSE(w.apply(b1, encode(b1), test_now()));
  auto b2 = make_block_on(w, s.params(), {});
  REQUIRE_FALSE(w.apply(b2, encode(b2), test_now()));
  CHECK(w.pending_blocks() == 2);
  REQUIRE_FALSE(w.commit());
  CHECK(old.tip().height == 0); // a snapshot stays a snapshot
  CHECK_FALSE(old.find_asset(art_id).has_value());
  chain_reader fresh{s.store()};
  CHECK(fresh.tip().height == 2);
  CHECK(fresh.tip().hash == block_hash(b2.hdr));
  CHECK(fresh.find_asset(art_id).has_value());
}

TEST_SUITE_END();
