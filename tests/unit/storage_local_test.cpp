// storage/local_store: pending records and their growth.
#include <doctest/doctest.h>

#include <algorithm>

#include "storage/local_store.hpp"
#include "tests/unit/storage_helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;

TEST_SUITE_BEGIN("storage");

namespace {

struct pending_entry {
  hash256 id;
  uint64_t at;
  encoded rec;
};

std::vector<pending_entry> pending_of(const local_store& ls) {
  std::vector<pending_entry> out;
  auto err = ls.for_each_pending(
    [&](const hash256& id, uint64_t at, encoded rec) {
      out.push_back({id, at, std::move(rec)});
    });
  REQUIRE_FALSE(err);
  return out;
}

} // namespace

TEST_CASE("local_store keeps pending records across reopening") {
  temp_dir dir;
  auto kp = seeded_key(1);
  record r1 = make_asset("a", vec_of("fp:a"), {}, kp);
  record r2 = make_transfer(label_hash("l"), seeded_key(2).public_key_bytes(),
                            kp);
  issue_batch batch;
  batch.issues = {make_issue(label_hash("x"), 1, kp)};
  record r3 = batch;
  auto id1 = leaf_id(r1), id2 = leaf_id(r2), id3 = leaf_id(r3);
  {
    auto ls = local_store::open(dir.sub("local"));
    REQUIRE(ls);
    CHECK(pending_of(**ls).empty());
    REQUIRE_FALSE((*ls)->put_pending({{id1, 100, encode(r1)},
                                      {id2, 200, encode(r2)},
                                      {id3, 300, encode(r3)}}));
    auto all = pending_of(**ls);
    REQUIRE(all.size() == 3);
    // Keys are ids, so entries come back in id order.
    CHECK(std::is_sorted(all.begin(), all.end(),
                         [](auto& x, auto& y) { return x.id < y.id; }));
    for (auto& e : all) {
      auto want = e.id == id1   ? std::pair{100, encode(r1)}
                  : e.id == id2 ? std::pair{200, encode(r2)}
                                : std::pair{300, encode(r3)};
      CHECK(e.at == static_cast<uint64_t>(want.first));
      CHECK(e.rec == want.second);
      auto back = decode_record(e.rec);
      REQUIRE(back);
      CHECK(leaf_id(*back) == e.id);
    }
    REQUIRE_FALSE((*ls)->remove_pending({id2, label_hash("never stored")}));
    auto left = pending_of(**ls);
    REQUIRE(left.size() == 2);
    for (auto& e : left)
      CHECK(e.id != id2);
    // Putting an id again replaces its entry.
    REQUIRE_FALSE((*ls)->put_pending({{id1, 111, encode(r1)}}));
  }
  auto ls = local_store::open(dir.sub("local"));
  REQUIRE(ls);
  auto all = pending_of(**ls);
  REQUIRE(all.size() == 2);
  for (auto& e : all) {
    CHECK((e.id == id1 || e.id == id3));
    if (e.id == id1)
      CHECK(e.at == 111);
  }
  REQUIRE_FALSE((*ls)->remove_pending({id1, id3}));
  CHECK(pending_of(**ls).empty());
  REQUIRE_FALSE((*ls)->put_pending({}));
  REQUIRE_FALSE((*ls)->remove_pending({}));
  CHECK(pending_of(**ls).empty());
}

TEST_CASE("local_store skips a pending row that does not decode") {
  temp_dir dir;
  auto kp = seeded_key(1);
  record r = make_asset("a", vec_of("fp:a"), {}, kp);
  auto id = leaf_id(r);
  auto bad = label_hash("bad");
  {
    auto ls = local_store::open(dir.sub("local"));
    REQUIRE(ls);
    REQUIRE_FALSE((*ls)->put_pending({{id, 100, encode(r)}}));
  }
  {
    // A row of five bytes: shorter than its accepted-at time.
    auto e = lmdb::env::open(dir.sub("local"), 4, local_map_size);
    REQUIRE(e);
    REQUIRE_FALSE(e->write([&](lmdb::write_txn& txn) {
      auto t = lmdb::raw_table::open(txn, "pending", lmdb::table_kind::plain);
      if (!t)
        return t.error();
      return t->put(txn, bad, bytes_of("short"));
    }));
  }
  auto ls = local_store::open(dir.sub("local"));
  REQUIRE(ls);
  auto all = pending_of(**ls);
  REQUIRE(all.size() == 1);
  CHECK(all[0].id == id);
  // It can be removed like any other.
  REQUIRE_FALSE((*ls)->remove_pending({bad}));
}

TEST_CASE("local_store on a tiny map grows it; every record lands") {
  temp_dir dir;
  std::vector<std::tuple<hash256, uint64_t, encoded>> rows;
  for (int i = 0; i < 2000; ++i) {
    record r = storage::bulky_asset(std::to_string(i));
    rows.emplace_back(leaf_id(r), i, encode(r));
  }
  {
    auto ls = local_store::open(dir.sub("local"), storage::mib);
    REQUIRE(ls);
    // Half in single-record transactions, half in one larger than the map.
    for (size_t i = 0; i < 1000; ++i)
      REQUIRE_FALSE((*ls)->put_pending({rows[i]}));
    REQUIRE_FALSE((*ls)->put_pending({rows.begin() + 1000, rows.end()}));
  }
  auto ls = local_store::open(dir.sub("local"), storage::mib);
  REQUIRE(ls);
  auto all = pending_of(**ls);
  REQUIRE(all.size() == rows.size());
  std::sort(rows.begin(), rows.end(),
            [](auto& x, auto& y) { return std::get<0>(x) < std::get<0>(y); });
  for (size_t i = 0; i < rows.size(); ++i) {
    CHECK(all[i].id == std::get<0>(rows[i]));
    CHECK(all[i].at == std::get<1>(rows[i]));
    CHECK(all[i].rec == std::get<2>(rows[i]));
  }
}

TEST_SUITE_END();
