// The state sync's storage: a state copied range by range from verified
// proofs, replaced where a newer proof says otherwise, finished only at the
// target root; the copy then takes the next block like the original and
// refuses to unwind below where the sync began.
#include <doctest/doctest.h>

#include "core/state_proof.hpp"
#include "storage/chain_store.hpp"
#include "storage/state_view.hpp"
#include "storage/sync_store.hpp"
#include "tests/unit/helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;

namespace {

struct fixture : three_people {
  test_store source;
  test_store copy;

  issue_batch batch(std::vector<issue> issues) {
    return make_batch(std::move(issues), source.tip().hash,
                      source.params().issue_difficulty);
  }

  /// The source's headers 1..tip, as a sync stores them.
  std::vector<header_entry> headers() {
    chain_reader r{source.store()};
    std::vector<header_entry> out;
    for (uint64_t h = 1; h <= r.height(); ++h)
      out.push_back(
        header_entry{*r.header_at(h), *r.hash_at(h), *r.work_at(h)});
    return out;
  }

  /// A range proof of [start, end] at the source's tip, `keys` at most.
  trie::range_proof prove(const trie::state_key& start,
                          const trie::state_key& end, size_t keys) {
    auto view = state_view::at(source.store(), source.tip().hdr.state_root);
    REQUIRE(view);
    auto p = (*view)->prove_range(start, end, keys, trie::max_proof_bytes);
    REQUIRE(p);
    REQUIRE_FALSE(
      trie::verify_range(source.tip().hdr.state_root, start, end, *p));
    return *p;
  }
};

} // namespace

TEST_SUITE_BEGIN("storage");

TEST_CASE_FIXTURE(fixture, "a state sync's store copies the state range by "
                           "range and finishes only at the target's root") {
  source.push({art});
  source.push({batch({first, second})});
  source.push({give(first_id, alice, bob)});
  auto top = source.tip();
  sync_target target{top.height, top.hash, top.hdr.state_root};

  sync_store sync{copy.store()};
  REQUIRE_FALSE(sync.begin());
  REQUIRE_FALSE(sync.put_headers(headers()));
  REQUIRE_FALSE(sync.set_target(target));
  auto h = sync.header_at(top.height);
  REQUIRE(h);
  REQUIRE(*h);
  CHECK((*h)->hash == top.hash);

  // Not there yet: finishing is refused and nothing moves.
  CHECK(sync.finish(target) == ec::bad_state_root);
  CHECK(copy.tip().height == 0);

  // Two keys, then the rest: the first reply is cut short.
  auto one = prove(trie::min_key(), trie::max_key(), 2);
  REQUIRE(one.truncated);
  auto hi = one.entries.back().first;
  auto n = sync.put_range(trie::min_key(), hi, target.root, one.entries);
  REQUIRE(n);
  CHECK(*n == 2);
  auto rest_start = *trie::next_key(hi);
  auto two = prove(rest_start, trie::max_key(), 2048);
  CHECK_FALSE(two.truncated);

  // A key that is not the state's, held from an earlier answer, goes when
  // a verified range says the range holds only what it lists.
  auto bogus_key = trie::item_key(hash256{0xee});
  trie::item_value v;
  v.owner = carol.public_key_bytes();
  auto bogus = std::vector<trie::entry>{{bogus_key, trie::encode(v)}};
  REQUIRE(sync.put_range(rest_start, trie::max_key(), hash256{0x01}, bogus));
  n = sync.put_range(rest_start, trie::max_key(), target.root, two.entries);
  REQUIRE(n);
  CHECK(*n == static_cast<int64_t>(two.entries.size()) - 1);

  auto prog = sync.load();
  REQUIRE(prog);
  CHECK(prog->syncing);
  CHECK(prog->keys == 3);
  CHECK(prog->root == target.root);
  REQUIRE(prog->ranges.size() == 2);
  CHECK(prog->ranges[0].start == trie::min_key());
  CHECK(prog->ranges[0].end == hi);
  CHECK(prog->ranges[1].end == trie::max_key());
  CHECK(prog->ranges[1].root == target.root);

  REQUIRE_FALSE(sync.finish(target));
  chain_reader r{copy.store()};
  CHECK(r.tip().hash == top.hash);
  CHECK(r.state_root() == top.hdr.state_root);
  REQUIRE(r.state_base());
  CHECK(r.state_base()->height == top.height);
  CHECK(r.height_of(top.hash) == top.height);
  // The indexes the rules and the queries read: the latest record only.
  auto item = r.find_item(first_id);
  REQUIRE(item);
  CHECK(item->owner == bob.public_key_bytes());
  auto latest = r.find_record(item->latest);
  REQUIRE(latest);
  CHECK(latest->index == unknown_position);
  CHECK(latest->kind == record_kind::transfer);
  CHECK(r.items_of(alice.public_key_bytes())
        == std::vector<hash256>{second_id});
  CHECK(r.find_asset(art_id));
  CHECK_FALSE(r.body_at(1));
  CHECK_FALSE(sync.load()->syncing);
}

TEST_CASE_FIXTURE(fixture, "a state-synced chain takes the next block like "
                           "the original and does not unwind below its base") {
  source.push({art});
  source.push({batch({first, second})});
  auto top = source.tip();
  sync_target target{top.height, top.hash, top.hdr.state_root};
  sync_store sync{copy.store()};
  REQUIRE_FALSE(sync.begin());
  REQUIRE_FALSE(sync.put_headers(headers()));
  auto all = prove(trie::min_key(), trie::max_key(), 2048);
  REQUIRE(
    sync.put_range(trie::min_key(), trie::max_key(), target.root, all.entries));
  REQUIRE_FALSE(sync.finish(target));
  // A second sync is refused: the chain is past genesis.
  CHECK(sync_store{copy.store()}.begin() == ec::bad_config);

  // The next block spends an item whose issue is known from the state.
  auto next = source.push({give(second_id, alice, carol)});
  REQUIRE_FALSE(copy.apply(next));
  CHECK(copy.tip().hash == source.tip().hash);
  CHECK(copy.tip().hdr.state_root == source.tip().hdr.state_root);
  // A double spend of what the state knows is refused as on the source.
  auto again = source.next({give(second_id, alice, bob)});
  CHECK(copy.apply(again) == ec::double_spend);

  copy.unwind();
  CHECK(copy.tip().height == top.height);
  chain_writer w{copy.store()};
  auto below = w.unwind_tip();
  REQUIRE_FALSE(below);
  CHECK(below.error() == ec::reorg_too_deep);
}

TEST_SUITE_END();
