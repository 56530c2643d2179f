// storage/chain_store: opening a data directory (genesis, chain identity,
// schema), the stored bytes against the chart at the top of
// storage/chain_store.hpp, and what a value of the wrong size does.
#include <doctest/doctest.h>

#include <cstring>

#include "storage/chain_store.hpp"
#include "tests/unit/helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;

namespace {

std::vector<uint8_t> u64le(uint64_t x) {
  std::vector<uint8_t> out(8);
  put_u64(out.data(), x);
  return out;
}

std::vector<uint8_t> cat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (auto& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

template <size_t N>
std::vector<uint8_t> v(const std::array<uint8_t, N>& x) {
  return {x.begin(), x.end()};
}

std::vector<uint8_t> v(const encoded& x) {
  return {x.bytes().begin(), x.bytes().end()};
}

std::vector<uint8_t> native_key(uint64_t h) {
  std::vector<uint8_t> out(8);
  std::memcpy(out.data(), &h, 8);
  return out;
}

/// The value under `key` in one table of a dump; fails the test if absent.
std::vector<uint8_t> value_in(const store_dump& d, const std::string& table,
                              const std::vector<uint8_t>& key) {
  for (auto& [k, val] : d.at(table))
    if (k == key)
      return val;
  FAIL("no such key in " << table);
  return {};
}

/// A devnet store whose block 1 registers one asset.
struct one_asset {
  test_store s;
  key_pair alice = seeded_key(0x11);
  asset art = make_asset("Haystacks", vec_of("fp:haystacks"), {}, alice);
  one_asset() { s.push({art}); }

  /// Overwrites the bytes under `key` in `table`, committed.
  void corrupt(const lmdb::raw_table& table, lmdb::bytes key,
               std::string_view value) {
    REQUIRE_FALSE(s.store().env().write([&](lmdb::write_txn& txn) {
      return table.put(txn, key, bytes_of(value));
    }));
  }
};

} // namespace

TEST_SUITE_BEGIN("storage");

// -- opening ------------------------------------------------------------------

TEST_CASE("opening a new directory creates the genesis block") {
  test_store s;
  auto& p = s.params();
  chain_reader r{s.store()};
  auto tip = r.tip();
  CHECK(tip.height == 0);
  CHECK(tip.hash == p.genesis_hash);
  CHECK(tip.work == p.min_difficulty);
  CHECK(block_hash(tip.hdr) == p.genesis_hash);
  auto g = r.header_at(0);
  REQUIRE(g);
  CHECK(header_bytes(*g) == header_bytes(genesis_header(p)));
  CHECK(r.hash_at(0) == p.genesis_hash);
  CHECK(r.work_at(0) == work_t{p.min_difficulty});
  CHECK(r.height_of(p.genesis_hash) == uint64_t{0});
  CHECK_FALSE(r.header_at(1).has_value());
  CHECK_FALSE(r.hash_at(1).has_value());
  CHECK_FALSE(r.height_of(label_hash("nothing")).has_value());
  auto body = r.body_at(0);
  REQUIRE(body);
  auto gb = decode_block(*body);
  REQUIRE(gb);
  CHECK(gb->records.empty());
  CHECK(block_hash(gb->hdr) == p.genesis_hash);
  CHECK_FALSE(r.body_at(1).has_value());
  CHECK_FALSE(r.failure());
}

TEST_CASE("reopening a directory keeps its chain") {
  test_store s;
  s.push();
  auto b2 = s.push();
  auto before = s.snapshot();
  s.reopen();
  CHECK(s.snapshot() == before);
  auto tip = s.tip();
  CHECK(tip.height == 2);
  CHECK(tip.hash == block_hash(b2.hdr));
  s.push(); // and it still takes blocks
  CHECK(s.tip().height == 3);
  s.reopen();
  CHECK(s.tip().height == 3);
}

TEST_CASE("reopening with another chain fails with ec::wrong_chain") {
  test_store s;
  s.push();
  s.close();
  for (auto name : {"testnet", "mainnet"}) {
    CAPTURE(name);
    auto other = chain_store::open(s.chain_dir(), *find_chain(name), 64 << 20);
    CHECK(code(other) == ec::wrong_chain);
  }
  // A devnet whose genesis differs (another minimum difficulty) is another
  // chain too, even under the same name.
  chain_params forked = devnet();
  forked.min_difficulty = 8;
  forked.genesis_hash = block_hash(genesis_header(forked));
  REQUIRE(forked.genesis_hash != devnet().genesis_hash);
  CHECK(code(chain_store::open(s.chain_dir(), forked, 64 << 20))
        == ec::wrong_chain);
  // The refusals left the directory intact.
  s.reopen();
  CHECK(s.tip().height == 1);
}

TEST_CASE("params whose genesis does not match their pinned hash are refused") {
  temp_dir dir;
  chain_params broken = devnet();
  broken.genesis_timestamp += 1;
  CHECK(code(chain_store::open(dir.sub("chain"), broken, 64 << 20))
        == ec::wrong_chain);
}

TEST_CASE("a directory with a newer schema is refused and left alone") {
  test_store s;
  s.push();
  auto before = s.snapshot();
  REQUIRE_FALSE(s.store().env().write([&](lmdb::write_txn& txn) {
    return s.store().tables().meta.put(txn, lmdb::schema_key,
                                       chain_schema_version + 1);
  }));
  s.close();
  auto r = chain_store::open(s.chain_dir(), s.params(), 64 << 20);
  CHECK(code(r) == ec::storage);
  CHECK(message_of(r.error())
        == "data directory has schema 4, newer than this hallmark "
           "understands (3)");
  // Putting the version back opens it as it was.
  {
    auto e = lmdb::env::open(s.chain_dir(), 16, 64 << 20);
    REQUIRE(e);
    REQUIRE_FALSE(e->write([&](lmdb::write_txn& txn) {
      auto meta = lmdb::meta_table::open(txn);
      if (!meta)
        return meta.error();
      return meta->put(txn, lmdb::schema_key, chain_schema_version);
    }));
  }
  s.reopen();
  CHECK(s.snapshot() == before);
  CHECK(s.tip().height == 1);
}

// -- the stored bytes ---------------------------------------------------------

TEST_CASE("the stored bytes follow the chart") {
  test_store s;
  auto alice = seeded_key(0x11);
  auto bob = seeded_key(0x31);
  auto art = make_asset("Water Lilies", vec_of("fp:water-lilies"), {}, alice);
  auto art_id = asset_id(art);
  auto first = make_issue(art_id, 1, alice);
  auto first_id = record_id(first);
  auto b1 = s.push({art});
  auto batch = make_batch({first}, s.tip().hash, s.params().issue_difficulty);
  auto b2 = s.push({batch});
  auto give = make_transfer(first_id, bob.public_key_bytes(), alice);
  auto b3 = s.push({give});
  auto d = s.snapshot();
  auto key = [](std::string_view text) {
    return std::vector<uint8_t>{text.begin(), text.end()};
  };
  auto h3 = block_hash(b3.hdr);
  auto& p = s.params();

  // meta
  CHECK(value_in(d, "meta", key("schema")) == std::vector<uint8_t>{3, 0, 0, 0});
  CHECK(value_in(d, "meta", key("chain")) == key(p.name));
  CHECK(value_in(d, "meta", key("genesis")) == v(p.genesis_hash));
  CHECK(value_in(d, "meta", key("tip")) == cat({u64le(3), v(h3)}));
  CHECK(d.at("meta").size() == 4);

  // headers: header (162) | hash | work, low then high u64
  work_t work = 4 * work_t{p.min_difficulty};
  CHECK(value_in(d, "headers", native_key(3))
        == cat({v(header_bytes(b3.hdr)), v(h3), u64le(uint64_t(work)),
                u64le(uint64_t(work >> 64))}));
  // bodies, hashes
  CHECK(value_in(d, "bodies", native_key(2)) == v(encode(b2)));
  CHECK(value_in(d, "hashes", v(block_hash(b1.hdr))) == u64le(1));

  // records: height | index u32 | sub u16 | kind u8 | item | owner | link
  auto u32le = [](uint32_t x) {
    std::vector<uint8_t> out(4);
    put_u32(out.data(), x);
    return out;
  };
  auto loc = [&](uint64_t h, uint32_t index, uint16_t sub, uint8_t kind,
                 const hash256& item, const public_key& owner,
                 const hash256& link) {
    return cat({u64le(h),
                u32le(index),
                {static_cast<uint8_t>(sub), static_cast<uint8_t>(sub >> 8)},
                {kind},
                v(item),
                v(owner),
                v(link)});
  };
  auto a = alice.public_key_bytes();
  auto b = bob.public_key_bytes();
  CHECK(value_in(d, "records", v(record_id(art)))
        == loc(1, 0, 0, 0, hash256{}, a, hash256{}));
  CHECK(value_in(d, "records", v(first_id))
        == loc(2, 0, 0, 1, first_id, a, hash256{}));
  CHECK(value_in(d, "records", v(record_id(give)))
        == loc(3, 0, 0, 2, first_id, b, first_id));
  CHECK(value_in(d, "records", v(record_id(give))).size() == 111);

  // owners: one 32-byte duplicate per item
  CHECK(value_in(d, "owners", v(b)) == v(first_id));
  CHECK(d.at("owners").size() == 1);
  // state, the index of items and assets since schema 3: an item's key
  // holds latest | owner | asset | height u64 | kind u8, an asset's
  // record id | registrant | height u64
  auto item_key = trie::item_key(first_id);
  auto asset_key = trie::asset_key(art_id);
  CHECK(value_in(d, "state", {item_key.begin(), item_key.end()})
        == cat({v(record_id(give)), v(b), v(art_id), u64le(3), {2}}));
  CHECK(value_in(d, "state", {asset_key.begin(), asset_key.end()})
        == cat({v(record_id(art)), v(a), u64le(1)}));
}

// -- values of the wrong size -------------------------------------------------

TEST_CASE_FIXTURE(one_asset,
                  "a stored value of the wrong size fails the view, naming "
                  "its table") {
  corrupt(s.store().tables().records.raw(), record_id(art), "abc");
  chain_reader r{s.store()};
  CHECK(r.find_asset(asset_id(art)).has_value());
  CHECK_FALSE(r.failure());
  CHECK_FALSE(r.find_record(record_id(art)).has_value());
  auto err = r.failure();
  CHECK(code(err) == ec::storage);
  CHECK(message_of(err) == "table records: value of 3 bytes, expected 111");
  // A failed view answers nothing more, and keeps its first failure.
  CHECK_FALSE(r.find_asset(asset_id(art)).has_value());
  CHECK(r.tip().height == 0);
  CHECK(message_of(r.failure()) == message_of(err));
}

TEST_CASE_FIXTURE(one_asset,
                  "a state rule over a failed lookup returns the failure") {
  // The asset's entry is unreadable: an issue of it must not be refused as
  // "unknown asset", nor accepted, but fail with the storage error.
  corrupt(s.store().tables().state, trie::asset_key(asset_id(art)), "x");
  auto before = s.snapshot();
  auto batch = make_batch({make_issue(asset_id(art), 1, alice)}, s.tip().hash,
                          s.params().issue_difficulty);
  auto b = s.next({batch});
  auto empty = s.next(); // made before the writer below: one writer at once
  chain_writer w{s.store()};
  auto err = w.apply(b, encode(b), test_now());
  CHECK(code(err) == ec::storage);
  CHECK(message_of(err) == "table state: asset value of 1 bytes, expected 72");
  // The writer is failed: it refuses what follows, and commits nothing.
  CHECK(message_of(w.failure()) == message_of(err));
  CHECK(message_of(w.apply(empty, encode(empty), test_now()))
        == message_of(err));
  CHECK(message_of(w.commit()) == message_of(err));
  CHECK(s.snapshot() == before);
}

TEST_SUITE_END();
