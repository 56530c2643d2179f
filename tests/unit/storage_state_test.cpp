// The state trie in the chain store: every block's header carries the root
// of the state after it, the writer refuses a block whose root differs,
// unwinding restores the state, the trie and the root exactly, and the
// state's changes are kept for state_history blocks.
#include <doctest/doctest.h>

#include "core/memory_state.hpp"
#include "core/state_proof.hpp"
#include "messages/envelope.hpp"
#include "storage/chain_store.hpp"
#include "storage/state_view.hpp"
#include "tests/unit/helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;

namespace {

/// The state table's key/values.
std::map<trie::state_key, std::vector<uint8_t>>
state_of(const chain_store& store) {
  chain_reader r{store};
  std::map<trie::state_key, std::vector<uint8_t>> out;
  auto err = r.state_scan()(trie::min_key(),
                            [&](const trie::state_key& k, byte_view v) {
                              out[k] = {v.begin(), v.end()};
                              return true;
                            });
  REQUIRE_FALSE(err);
  return out;
}

struct fixture : three_people {
  test_store s;

  issue_batch batch(std::vector<issue> issues) {
    return make_batch(std::move(issues), s.tip().hash,
                      s.params().issue_difficulty);
  }

  /// The asset, two issues, a transfer: a state of three keys.
  void setup() {
    s.push({art});
    s.push({batch({first, second})});
    s.push({give(first_id, alice, bob)});
  }
};

} // namespace

TEST_SUITE_BEGIN("storage");

TEST_CASE_FIXTURE(fixture, "each header's state root is the root of the "
                           "state after its block") {
  chain_reader empty{s.store()};
  CHECK(empty.state_root() == hash256{});
  setup();
  auto state = state_of(s.store());
  CHECK(state.size() == 3);
  chain_reader r{s.store()};
  CHECK(r.state_root() == trie::root_of(state));
  CHECK(r.tip().hdr.state_root == r.state_root());
  // The values say what the queries need.
  auto item = trie::decode_item_value(state.at(trie::item_key(first_id)));
  REQUIRE(item);
  CHECK(item->owner == bob.public_key_bytes());
  CHECK(item->kind == record_kind::transfer);
  CHECK(item->height == 3);
  CHECK(item->asset == art_id);
  auto a = trie::decode_asset_value(state.at(trie::asset_key(art_id)));
  REQUIRE(a);
  CHECK(a->registrant == alice.public_key_bytes());
  CHECK(a->height == 1);
  // An empty block keeps the root.
  auto before = r.state_root();
  s.push();
  CHECK(s.tip().hdr.state_root == before);
}

TEST_CASE_FIXTURE(fixture, "a block whose state root is not the state's "
                           "after it is refused as bad_state_root") {
  setup();
  auto before = s.snapshot();
  auto b = s.next({give(second_id, alice, carol)});
  b.hdr.state_root[5] ^= 1;
  REQUIRE(mine(b.hdr, 10'000'000));
  chain_writer w{s.store()};
  auto err = w.apply(b, encode(b), test_now());
  CHECK(code(err) == ec::bad_state_root);
  CHECK(fault_of(err) == fault::peer);
  CHECK(w.pending_blocks() == 0);
  CHECK_FALSE(w.commit());
  CHECK(s.snapshot() == before);
  // A zero root, as a node before state roots made, is refused too.
  auto z = s.next({give(second_id, alice, carol)});
  z.hdr.state_root = {};
  REQUIRE(mine(z.hdr, 10'000'000));
  CHECK(code(s.apply(z)) == ec::bad_state_root);
}

TEST_CASE_FIXTURE(fixture, "unwinding restores the state, the trie and the "
                           "root exactly") {
  s.push({art});
  s.push({batch({first, second})});
  auto before = s.snapshot();
  auto root = s.tip().hdr.state_root;
  auto to_bob = give(first_id, alice, bob);
  s.push({to_bob, give(second_id, alice, carol)});
  s.push({give(record_id(to_bob), bob, carol)});
  CHECK(s.tip().hdr.state_root != root);
  s.unwind();
  s.unwind();
  CHECK(s.snapshot() == before);
  chain_reader r{s.store()};
  CHECK(r.state_root() == root);
  // Down to genesis: nothing left.
  s.unwind();
  s.unwind();
  CHECK(state_of(s.store()).empty());
  CHECK(chain_reader{s.store()}.state_root() == hash256{});
}

TEST_CASE_FIXTURE(fixture, "the store's roots match a chain built in "
                           "memory") {
  header_chain mem{devnet()};
  auto b1 = extend(mem, {art});
  REQUIRE_FALSE(s.apply(b1));
  auto b2 = extend(mem, {make_batch({first, second}, block_hash(b1.hdr),
                                    devnet().issue_difficulty)});
  REQUIRE_FALSE(s.apply(b2));
  auto b3 = extend(mem, {give(first_id, alice, bob)});
  REQUIRE_FALSE(s.apply(b3));
  CHECK(mem.state.root() == chain_reader{s.store()}.state_root());
  CHECK(b3.hdr.state_root == mem.state.root());
}

TEST_CASE("the state's changes are kept for state_history blocks, and "
          "unwinding further is refused clearly") {
  temp_dir dir;
  auto opened = chain_store::open(dir.sub("chain"), devnet(), 64 << 20,
                                  lmdb::default_map_ceiling, 3);
  REQUIRE(opened);
  auto& store = **opened;
  three_people p;
  auto push = [&](std::vector<record> records) {
    chain_reader r{store};
    auto tip = r.tip();
    block draft;
    draft.hdr.height = tip.height + 1;
    draft.hdr.previous = tip.hash;
    draft.records = records;
    hash256 root;
    {
      chain_writer w{store};
      auto x = w.state_root_after(draft);
      REQUIRE(x);
      root = *x;
    }
    auto b = make_block(devnet(), tip.hdr, r.ancestors(), records, 0, root);
    chain_writer w{store};
    REQUIRE_FALSE(w.apply(b, encode(b), test_now()));
    REQUIRE_FALSE(w.commit());
  };
  push({p.art});
  for (int i = 0; i < 5; ++i)
    push({});
  chain_reader r{store};
  CHECK(r.state_undo_at(6).has_value());
  CHECK(r.state_undo_at(4).has_value());
  CHECK_FALSE(r.state_undo_at(3).has_value());
  CHECK_FALSE(r.state_undo_at(1).has_value());
  chain_writer w{store};
  for (int i = 0; i < 3; ++i)
    REQUIRE(w.unwind_tip());
  auto deeper = w.unwind_tip();
  CHECK(code(deeper) == ec::storage);
  CHECK(message_of(deeper.error()).find("no longer kept") != std::string::npos);
  CHECK(code(chain_store::open(dir.sub("other"), devnet(), 64 << 20,
                               lmdb::default_map_ceiling, 0))
        == ec::bad_config);
}

TEST_CASE("a data directory of schema 1 migrates when it has no records, "
          "and is refused clearly when it has") {
  for (bool with_records : {false, true}) {
    CAPTURE(with_records);
    test_store s;
    if (with_records)
      s.push({three_people{}.art});
    else
      s.push();
    auto& t = s.store().tables();
    REQUIRE_FALSE(s.store().env().write([&](lmdb::write_txn& txn) {
      // Schema 1 indexed the items in a table of their own.
      auto items = lmdb::raw_table::open(txn, "items", lmdb::table_kind::plain);
      if (!items)
        return items.error();
      if (with_records)
        if (auto err = items->put(txn, label_hash("item"),
                                  std::vector<uint8_t>(96, 1)))
          return err;
      return t.meta.put(txn, lmdb::schema_key, uint32_t{1});
    }));
    s.close();
    auto r = chain_store::open(s.chain_dir(), s.params(), 64 << 20);
    if (!with_records) {
      CHECK(r);
      continue;
    }
    CHECK(code(r) == ec::storage);
    CHECK(message_of(r.error()).find("predate state roots")
          != std::string::npos);
  }
}

TEST_CASE_FIXTURE(fixture, "a data directory of schema 2 migrates to 3: its "
                           "items and assets tables go, and lookups read the "
                           "state") {
  setup(); // the third block gives the first item to bob
  auto before = s.snapshot();
  REQUIRE_FALSE(s.store().env().write([&](lmdb::write_txn& txn) {
    for (auto name : {"items", "assets"}) {
      auto table = lmdb::raw_table::open(txn, name, lmdb::table_kind::plain);
      if (!table)
        return table.error();
      if (auto err = table->put(txn, label_hash(name),
                                std::vector<uint8_t>(40, 1)))
        return err;
    }
    return s.store().tables().meta.put(txn, lmdb::schema_key, uint32_t{2});
  }));
  s.reopen();
  CHECK(s.snapshot() == before); // schema 3 again, and neither table
  {
    auto txn = s.store().env().begin_write();
    REQUIRE(txn);
    CHECK(*s.store().tables().meta.get(*txn, lmdb::schema_key) == 3u);
    // The tables are gone: opened again (in a transaction dropped after),
    // they are new and empty.
    for (auto name : {"items", "assets"}) {
      auto table = lmdb::raw_table::open(*txn, name, lmdb::table_kind::plain);
      REQUIRE(table);
      CHECK(*table->count(*txn) == 0);
    }
  }
  chain_reader r{s.store()};
  CHECK(r.find_item(first_id)->owner == bob.public_key_bytes());
  CHECK(r.find_item(first_id)->latest == record_id(give(first_id, alice, bob)));
  CHECK(r.find_item(second_id)->owner == alice.public_key_bytes());
  CHECK(r.find_asset(art_id)->first == 1);
  CHECK(r.find_asset(art_id)->second == record_id(art));
  CHECK_FALSE(r.find_item(label_hash("nothing")).has_value());
  CHECK_FALSE(r.failure());
}

TEST_CASE_FIXTURE(fixture, "an issue whose item exists is a duplicate even "
                           "when its record is not stored") {
  setup();
  // After a state sync only the item's latest record is kept: the issue's
  // own record is gone. Here it is removed by hand.
  REQUIRE_FALSE(s.store().env().write([&](lmdb::write_txn& txn) {
    auto gone = s.store().tables().records.del(txn, first_id);
    return gone ? caf::error{} : gone.error();
  }));
  auto again = s.next({batch({first})});
  CHECK(code(s.apply(again)) == ec::duplicate);
}

namespace {

/// An ordered scan over a copy of a state.
trie::range_scan
scan_of(const std::map<trie::state_key, std::vector<uint8_t>>& m) {
  return [&m](const trie::state_key& from,
              const std::function<bool(const trie::state_key&, byte_view)>& f) {
    for (auto i = m.lower_bound(from); i != m.end(); ++i)
      if (!f(i->first, i->second))
        break;
    return caf::error{};
  };
}

/// `p` through the wire: encoded in an Envelope and decoded again.
template <class Body>
Body through_wire(Body x) {
  auto bytes = wire::encode(wire::envelope{7, x});
  REQUIRE(bytes);
  auto back = wire::decode_envelope(*bytes, 5u << 20);
  REQUIRE(back);
  CHECK(back->id == 7);
  auto* y = std::get_if<Body>(&back->what);
  REQUIRE(y);
  return *y;
}

} // namespace

TEST_CASE_FIXTURE(fixture, "a server proves ranges at the tip's root and at "
                           "recent roots, and the proofs survive the wire") {
  setup();
  auto old_root = s.tip().hdr.state_root;
  auto old_state = state_of(s.store());
  // More keys, and changes to old ones.
  std::vector<issue> more;
  for (uint64_t n = 10; n < 60; ++n)
    more.push_back(make_issue(art_id, n, alice));
  s.push({batch(more)});
  s.push({give(second_id, alice, carol)});
  auto tip_root = s.tip().hdr.state_root;
  auto tip_state = state_of(s.store());
  REQUIRE(tip_state.size() == 53);
  for (auto [root, state] :
       {std::pair{tip_root, tip_state}, std::pair{old_root, old_state}}) {
    auto v = state_view::at(s.store(), root);
    REQUIRE(v);
    auto whole = (*v)->prove_range(trie::min_key(), trie::max_key(), 2048,
                                   trie::max_proof_bytes);
    REQUIRE(whole);
    CHECK(whole->entries.size() == state.size());
    auto wired = through_wire(wire::state_range{*whole}).proof;
    CHECK(trie::verify_range(root, trie::min_key(), trie::max_key(), wired)
          == caf::error{});
    // In chunks: each verifies, and together they are the state.
    std::map<trie::state_key, std::vector<uint8_t>> got;
    auto start = trie::min_key();
    while (true) {
      auto p = (*v)->prove_range(start, trie::max_key(), 7,
                                 trie::max_proof_bytes);
      REQUIRE(p);
      auto q = through_wire(wire::state_range{*p}).proof;
      REQUIRE(trie::verify_range(root, start, trie::max_key(), q)
              == caf::error{});
      for (auto& [k, val] : q.entries)
        got[k] = val;
      if (!q.truncated)
        break;
      start = *trie::next_key(q.entries.back().first);
    }
    CHECK(got == state);
  }
  // A change proof from the old root to the tip's, applied to the old
  // state, verifies and gives the tip's state.
  auto v = state_view::at(s.store(), tip_root);
  REQUIRE(v);
  auto c = (*v)->prove_change(old_root, trie::min_key(), trie::max_key(), 2048,
                              trie::max_proof_bytes);
  REQUIRE(c);
  auto wired = through_wire(wire::state_change{*c});
  auto* ch = std::get_if<trie::change_proof>(&wired.proof);
  REQUIRE(ch);
  CHECK(ch->changes.size() == 51); // 50 new items, one transferred
  CHECK(trie::verify_change(tip_root, trie::min_key(), trie::max_key(),
                            scan_of(old_state), *ch)
        == caf::error{});
  // A root no recent block has: not found, said plainly.
  hash256 nowhere;
  nowhere.fill(0x5a);
  auto none = state_view::at(s.store(), nowhere);
  CHECK(code(none) == ec::not_found);
  // From a root the history does not reach: a range proof instead.
  auto r = (*v)->prove_change(nowhere, trie::min_key(), trie::max_key(), 2048,
                              trie::max_proof_bytes);
  REQUIRE(r);
  CHECK(std::holds_alternative<trie::range_proof>(*r));
}

TEST_CASE("state proofs off the wire are read within their limits") {
  trie::range_proof p;
  trie::state_key k{};
  for (size_t i = 0; i <= trie::max_proof_keys; ++i) {
    k[32] = static_cast<uint8_t>(i);
    k[31] = static_cast<uint8_t>(i >> 8);
    p.entries.emplace_back(k, std::vector<uint8_t>(72, 1));
  }
  auto bytes = wire::encode(wire::envelope{1, wire::state_range{p}});
  REQUIRE(bytes);
  CHECK(code(wire::decode_envelope(*bytes, 5u << 20)) == ec::malformed);
  // A node whose child ids do not match its mask.
  trie::proof_node n;
  n.kids.emplace_back(3, hash256{});
  trie::range_proof q;
  q.proof.push_back(n);
  auto good = wire::encode(wire::envelope{1, wire::state_range{q}});
  REQUIRE(good);
  CHECK(wire::decode_envelope(*good, 5u << 20));
}

TEST_SUITE_END();
