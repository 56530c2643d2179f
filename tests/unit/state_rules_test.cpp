// core/state_rules: one contract suite, run against both states the rules
// are applied to: the chain (chain_writer, one block per group of records)
// and the chain plus pending records (state_overlay, as the reservoir keeps
// it). Then the cases where the two must differ.
#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <vector>

#include "core/state_overlay.hpp"
#include "core/state_rules.hpp"
#include "tests/unit/helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;

namespace {

/// The chain below both states, and what the tests ask of it.
class chain_below {
public:
  explicit chain_below(const chain_params& p) : s_(p) {}

  hash256 tip_hash() const { return s_.tip().hash; }
  uint64_t height() const { return s_.tip().height; }
  std::optional<hash256> hash_at(uint64_t h) const {
    chain_reader r{s_.store()};
    return r.hash_at(h);
  }
  const chain_params& params() const { return s_.params(); }

protected:
  mutable test_store s_;
};

/// Records applied to the chain: each group is one block on the tip.
class on_chain : public chain_below {
public:
  using chain_below::chain_below;

  /// Applies `records` as the next block; nothing changes on a refusal.
  caf::error add(std::vector<record> records) {
    return s_.apply(s_.next(std::move(records)));
  }

  /// An empty block on the tip.
  void advance() { s_.push(); }

  std::optional<item_state> item(const hash256& id) const {
    chain_reader r{s_.store()};
    return r.find_item(id);
  }
  std::optional<record_location> find(const hash256& id) const {
    chain_reader r{s_.store()};
    return r.find_record(id);
  }
};

/// Records admitted on top of the chain, as the reservoir admits them: each
/// group all or nothing, into one overlay that grows until `advance`.
class pending : public chain_below {
public:
  explicit pending(const chain_params& p) : chain_below(p) { rebase(); }

  caf::error add(std::vector<record> records) {
    rebase();
    auto m = overlay_.mark();
    for (uint32_t i = 0; i < records.size(); ++i)
      if (auto err = apply_record(records[i], i, overlay_, s_.params())) {
        overlay_.rollback(m);
        return err;
      }
    return {};
  }

  /// An empty block on the chain below; the pending records stay.
  void advance() {
    s_.push();
    rebase();
  }

  std::optional<item_state> item(const hash256& id) {
    rebase();
    return overlay_.find_item(id);
  }
  std::optional<record_location> find(const hash256& id) {
    rebase();
    return overlay_.find_record(id);
  }

private:
  void rebase() {
    base_ = std::make_unique<chain_reader>(s_.store());
    overlay_.rebase(*base_);
  }
  std::unique_ptr<chain_reader> base_;
  state_overlay overlay_;
};

/// Three people and one work, over a state `V`.
template <class V>
struct world : three_people {
  explicit world(const chain_params& p = devnet()) : v(p) {}
  V v;

  issue_batch batch(std::vector<issue> issues,
                    std::optional<hash256> anchor = std::nullopt) {
    return make_batch(std::move(issues), anchor ? *anchor : v.tip_hash(),
                      v.params().issue_difficulty);
  }
  /// Registers `art` and issues `first` to alice.
  void setup() {
    REQUIRE_FALSE(v.add({art}));
    REQUIRE_FALSE(v.add({batch({first})}));
  }
  ec refused(std::vector<record> records) { return code(v.add(records)); }
};

} // namespace

TEST_SUITE_BEGIN("state rules");

TEST_CASE_TEMPLATE("state rules: an asset is registered once", V, on_chain,
                   pending) {
  world<V> w;
  auto twin = make_asset("Twin", w.art.fingerprint, {}, w.bob);
  CHECK(w.refused({w.art, twin}) == ec::duplicate);
  CHECK_FALSE(w.v.find(record_id(w.art)));
  REQUIRE_FALSE(w.v.add({w.art}));
  auto loc = w.v.find(record_id(w.art));
  REQUIRE(loc);
  CHECK(loc->kind == record_kind::asset);
  CHECK(loc->owner == w.alice.public_key_bytes());
  CHECK(w.refused({twin}) == ec::duplicate);
  CHECK(w.refused({w.art}) == ec::duplicate);
}

TEST_CASE_TEMPLATE("state rules: issues need a registered asset and its "
                   "registrant",
                   V, on_chain, pending) {
  world<V> w;
  CHECK(w.refused({w.batch({w.first})}) == ec::unknown_asset);
  // An asset later in the same group does not count.
  CHECK(w.refused({w.batch({w.first}), w.art}) == ec::unknown_asset);
  REQUIRE_FALSE(w.v.add({w.art}));
  CHECK(w.refused({w.batch({make_issue(w.art_id, 3, w.bob)})})
        == ec::not_owner);
  // One bad issue spoils its whole batch, and nothing of it stays.
  auto good = make_issue(w.art_id, 4, w.alice);
  CHECK(w.refused({w.batch({good, make_issue(w.art_id, 5, w.bob)})})
        == ec::not_owner);
  CHECK_FALSE(w.v.item(record_id(good)));
  REQUIRE_FALSE(w.v.add({w.batch({w.first})}));
  auto item = w.v.item(w.first_id);
  REQUIRE(item);
  CHECK(item->latest == w.first_id);
  CHECK(item->owner == w.alice.public_key_bytes());
  CHECK(item->asset == w.art_id);
  CHECK(w.refused({w.batch({w.first})}) == ec::duplicate);
  auto third = make_issue(w.art_id, 3, w.alice);
  CHECK(w.refused({w.batch({third, third})}) == ec::duplicate);
  CHECK(w.refused({w.batch({third}), w.batch({third}, w.v.hash_at(0))})
        == ec::duplicate);
}

TEST_CASE_TEMPLATE("state rules: free issues need recent anchors and enough "
                   "work",
                   V, on_chain, pending) {
  world<V> w{narrow_anchor_params()};
  w.setup();
  auto third = make_issue(w.art_id, 3, w.alice);
  CHECK(w.refused({w.batch({third}, label_hash("no such block"))})
        == ec::bad_anchor);
  CHECK(w.refused({w.batch({third}, hash256{})}) == ec::bad_anchor);
  auto weak = with_too_little_work(w.batch({third}),
                                   w.v.params().issue_difficulty);
  CHECK(w.refused({weak}) == ec::bad_proof);
  // Three empty blocks later, with the next block at h + 1: an anchor two
  // blocks back is in the window, three back is not.
  for (int n = 0; n < 3; ++n)
    w.v.advance();
  auto h = w.v.height();
  CHECK(w.refused({w.batch({third}, w.v.hash_at(h - 2))}) == ec::bad_anchor);
  CHECK(w.refused({w.batch({third}, w.v.hash_at(0))}) == ec::bad_anchor);
  CHECK_FALSE(w.v.add({w.batch({third}, w.v.hash_at(h - 1))}));
}

TEST_CASE_TEMPLATE("state rules: transfers follow the item's latest record", V,
                   on_chain, pending) {
  world<V> w;
  w.setup();
  auto t1 = w.give(w.first_id, w.alice, w.bob);
  REQUIRE_FALSE(w.v.add({t1}));
  auto item = w.v.item(w.first_id);
  REQUIRE(item);
  CHECK(item->latest == record_id(t1));
  CHECK(item->owner == w.bob.public_key_bytes());
  auto loc = w.v.find(record_id(t1));
  REQUIRE(loc);
  CHECK(loc->kind == record_kind::transfer);
  CHECK(loc->item == w.first_id);
  CHECK(loc->link == w.first_id);
  CHECK(loc->owner == w.bob.public_key_bytes());
  // Spent links, by the old owner or the new one.
  CHECK(w.refused({w.give(w.first_id, w.alice, w.carol)}) == ec::double_spend);
  CHECK(w.refused({w.give(w.first_id, w.bob, w.carol)}) == ec::double_spend);
  CHECK(w.refused({t1}) == ec::duplicate);
  // Not the owner.
  CHECK(w.refused({w.give(record_id(t1), w.alice, w.carol)}) == ec::not_owner);
  // Unknown links: nothing, an asset record, a batch id.
  CHECK(w.refused({w.give(label_hash("nothing"), w.alice, w.bob)})
        == ec::unknown_link);
  CHECK(w.refused({w.give(record_id(w.art), w.alice, w.bob)})
        == ec::unknown_link);
  // Hops within one group, then a double spend inside it.
  auto t2 = w.give(record_id(t1), w.bob, w.carol);
  auto t3 = w.give(record_id(t2), w.carol, w.alice);
  CHECK(w.refused({t2, t3, w.give(record_id(t1), w.bob, w.alice)})
        == ec::double_spend);
  CHECK(w.refused({t2, t2}) == ec::duplicate);
  REQUIRE_FALSE(w.v.add({t2, t3}));
  item = w.v.item(w.first_id);
  REQUIRE(item);
  CHECK(item->latest == record_id(t3));
  CHECK(item->owner == w.alice.public_key_bytes());
}

TEST_CASE_TEMPLATE("state rules: a refused group leaves nothing behind", V,
                   on_chain, pending) {
  world<V> w;
  w.setup();
  auto other = make_asset("Haystacks", vec_of("fp:haystacks"), {}, w.bob);
  auto bobs = make_issue(asset_id(other), 1, w.bob);
  CHECK(w.refused({other, w.batch({bobs}), w.give(w.first_id, w.alice, w.carol),
                   w.give(label_hash("nothing"), w.alice, w.bob)})
        == ec::unknown_link);
  CHECK_FALSE(w.v.find(record_id(other)));
  CHECK_FALSE(w.v.item(record_id(bobs)));
  CHECK(w.v.item(w.first_id)->owner == w.alice.public_key_bytes());
  // And the same records are fine on their own.
  CHECK_FALSE(w.v.add({other, w.batch({bobs})}));
  CHECK(w.v.item(record_id(bobs))->owner == w.bob.public_key_bytes());
}

TEST_CASE("state rules: chain plus pending differs from the chain alone by "
          "the pending records") {
  world<on_chain> w; // only for its people and records
  test_store s;
  REQUIRE_FALSE(s.apply(s.next({w.art})));
  auto b = make_batch({w.first}, s.tip().hash, s.params().issue_difficulty);
  REQUIRE_FALSE(s.apply(s.next({b})));
  auto& params = s.params();
  auto base = std::make_unique<chain_reader>(s.store());
  state_overlay with_pending;
  with_pending.rebase(*base);
  auto t1 = w.give(w.first_id, w.alice, w.bob);
  REQUIRE_FALSE(apply_record(t1, 0, with_pending, params));
  CHECK(with_pending.holds_record(record_id(t1)));
  // A second spend of the same link is a double spend against chain plus
  // pending, yet valid against the chain alone, which has not seen t1.
  auto t2 = w.give(w.first_id, w.alice, w.carol);
  CHECK(code(apply_record(t2, 0, with_pending, params)) == ec::double_spend);
  {
    state_overlay chain_only;
    chain_only.rebase(*base);
    CHECK_FALSE(apply_record(t2, 0, chain_only, params));
  }
  // A transfer after the pending one: valid with the pending records, an
  // unknown link to the chain alone.
  auto t3 = w.give(record_id(t1), w.bob, w.carol);
  {
    state_overlay chain_only;
    chain_only.rebase(*base);
    CHECK(code(apply_record(t3, 0, chain_only, params)) == ec::unknown_link);
  }
  auto m = with_pending.mark();
  REQUIRE_FALSE(apply_record(t3, 0, with_pending, params));
  CHECK(with_pending.find_item(w.first_id)->owner
        == w.carol.public_key_bytes());
  // The chain never saw any of it; a rollback takes t3 back.
  CHECK(base->find_item(w.first_id)->owner == w.alice.public_key_bytes());
  with_pending.rollback(m);
  CHECK(with_pending.find_item(w.first_id)->owner == w.bob.public_key_bytes());
  CHECK_FALSE(with_pending.holds_record(record_id(t3)));
  with_pending.rollback(0);
  CHECK(with_pending.find_item(w.first_id)->owner
        == w.alice.public_key_bytes());
  // Once t1 is in a block, t2 is a double spend against the chain too.
  base.reset();
  REQUIRE_FALSE(s.apply(s.next({t1})));
  base = std::make_unique<chain_reader>(s.store());
  state_overlay chain_only;
  chain_only.rebase(*base);
  CHECK(code(apply_record(t2, 0, chain_only, params)) == ec::double_spend);
}

TEST_SUITE_END();
