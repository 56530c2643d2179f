// messages/codec: encode/decode of blocks, records and record lists; limits;
// malformed bytes give ec::malformed or ec::too_large, never a crash.
#include <doctest/doctest.h>

#include <random>

#include "messages/codec.hpp"
#include "messages/codec_capnp.hpp"
#include "tests/unit/helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;

namespace {

asset sample_asset() {
  return make_asset("Sunflowers", vec_of("fingerprint of sunflowers"),
                    {{"artist", "Vincent"}, {"year", "1888"}, {"note", ""}},
                    seeded_key(1));
}

issue_batch sample_batch() {
  auto kp = seeded_key(1);
  issue_batch b;
  auto aid = asset_id(sample_asset());
  for (uint64_t n = 0; n < 3; ++n)
    b.issues.push_back(make_issue(aid, n, kp));
  b.anchor = devnet().genesis_hash;
  b.work_nonce = 0xfedcba9876543210ULL;
  return b;
}

transfer sample_transfer(bool countersigned) {
  auto t = make_transfer(label_hash("link"), seeded_key(2).public_key_bytes(),
                         seeded_key(1));
  if (countersigned)
    countersign(t, seeded_key(2));
  return t;
}

block sample_block() {
  block b;
  b.hdr.version = block_version;
  b.hdr.height = 42;
  b.hdr.previous = label_hash("previous");
  b.hdr.timestamp = 1767225642;
  b.hdr.difficulty = 12345;
  b.hdr.producer = seeded_key(3).public_key_bytes();
  b.hdr.nonce = UINT64_MAX - 1;
  b.records = {sample_asset(), sample_batch(), sample_transfer(false),
               sample_transfer(true)};
  b.hdr.merkle_root = merkle_root(leaf_ids(b));
  return b;
}

void check_same_asset(const asset& x, const asset& y) {
  CHECK(x.name == y.name);
  CHECK(x.fingerprint == y.fingerprint);
  REQUIRE(x.metadata.size() == y.metadata.size());
  for (size_t i = 0; i < x.metadata.size(); ++i) {
    CHECK(x.metadata[i].key == y.metadata[i].key);
    CHECK(x.metadata[i].value == y.metadata[i].value);
  }
  CHECK(x.registrant == y.registrant);
  CHECK(x.sig == y.sig);
}

void check_same_record(const record& x, const record& y) {
  REQUIRE(x.index() == y.index());
  // Ids cover every field of issues and transfers; a batch id covers its
  // issues' ids, anchor and work nonce.
  CHECK(leaf_id(x) == leaf_id(y));
  if (auto a = std::get_if<asset>(&x))
    check_same_asset(*a, std::get<asset>(y));
  if (auto t = std::get_if<transfer>(&x))
    CHECK(t->countersig.has_value()
          == std::get<transfer>(y).countersig.has_value());
  if (auto b = std::get_if<issue_batch>(&x))
    CHECK(b->issues.size() == std::get<issue_batch>(y).issues.size());
}

void check_same_header(const header& x, const header& y) {
  CHECK(x.version == y.version);
  CHECK(x.height == y.height);
  CHECK(x.previous == y.previous);
  CHECK(x.merkle_root == y.merkle_root);
  CHECK(x.state_root == y.state_root);
  CHECK(x.timestamp == y.timestamp);
  CHECK(x.difficulty == y.difficulty);
  CHECK(x.producer == y.producer);
  CHECK(x.nonce == y.nonce);
  CHECK(block_hash(x) == block_hash(y));
}

/// A Cap'n Proto message built by `f` from a root builder of type S.
template <class S, class F>
encoded build(F&& f) {
  capnp::MallocMessageBuilder mb;
  f(mb.initRoot<S>());
  return freeze(mb);
}

/// The first `words` words of `e`.
encoded prefix(const encoded& e, size_t words) {
  return encoded{std::vector<uint64_t>(e.words(), e.words() + words)};
}

} // namespace

TEST_SUITE_BEGIN("codec");

// -- encoded ------------------------------------------------------------------

TEST_CASE("encoded: empty, copy_of, equality, shared on copy") {
  encoded none;
  CHECK(none.empty());
  CHECK(none.size() == 0);
  CHECK(none.bytes().empty());
  CHECK(none.words() == nullptr);

  const uint8_t raw[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  auto e = encoded::copy_of(raw);
  REQUIRE(e);
  CHECK(e->size() == 16);
  CHECK(e->word_count() == 2);
  CHECK(std::vector<uint8_t>(e->bytes().begin(), e->bytes().end())
        == std::vector<uint8_t>(std::begin(raw), std::end(raw)));
  CHECK(reinterpret_cast<uintptr_t>(e->words()) % alignof(uint64_t) == 0);

  auto copy = *e;
  CHECK(copy == *e);
  CHECK(copy.words() == e->words()); // one shared buffer

  auto other = encoded::copy_of(byte_view{raw, 8});
  REQUIRE(other);
  CHECK_FALSE(*other == *e);
  CHECK(encoded{} == encoded{std::vector<uint64_t>{}});

  CHECK(code(encoded::copy_of(byte_view{raw, 7})) == ec::malformed);
  CHECK(code(encoded::copy_of(byte_view{raw, 9})) == ec::malformed);
  auto zero = encoded::copy_of(byte_view{});
  REQUIRE(zero);
  CHECK(zero->empty());
}

TEST_CASE("encoded::copy_of accepts bytes at any alignment") {
  auto e = encode(record{sample_transfer(true)});
  std::vector<uint8_t> shifted(e.size() + 1);
  std::memcpy(shifted.data() + 1, e.bytes().data(), e.size());
  auto copy = encoded::copy_of(byte_view{shifted.data() + 1, e.size()});
  REQUIRE(copy);
  CHECK(*copy == e);
  auto r = decode_record(*copy);
  REQUIRE(r);
  check_same_record(*r, record{sample_transfer(true)});
}

// -- round trips --------------------------------------------------------------

TEST_CASE("records round-trip through encode and decode_record") {
  for (const record& r :
       {record{sample_asset()}, record{sample_batch()},
        record{sample_transfer(false)}, record{sample_transfer(true)}}) {
    CAPTURE(kind_name(r));
    auto e = encode(r);
    CHECK(e.size() % 8 == 0);
    auto back = decode_record(e);
    REQUIRE_MESSAGE(back, (back ? "" : message_of(back.error())));
    check_same_record(r, *back);
    CHECK(encode(*back) == e); // re-encoding is stable
    CHECK_FALSE(check_signatures(*back));
  }
}

TEST_CASE("asset with no metadata and binary fingerprint round-trips") {
  std::vector<uint8_t> fp(256);
  for (size_t i = 0; i < fp.size(); ++i)
    fp[i] = static_cast<uint8_t>(i); // includes NUL bytes
  record r = make_asset("x", fp, {}, seeded_key(1));
  auto back = decode_record(encode(r));
  REQUIRE(back);
  check_same_record(r, *back);
}

// Found by tests/fuzz/record.cpp: Cap'n Proto Text may hold NUL bytes, and
// the encoder used to write text up to the first one, so a record re-encoded
// (into a block, say) lost bytes its signature and id cover.
TEST_CASE("text with NUL bytes survives encoding whole") {
  using namespace std::string_literals;
  record r = make_asset("Sun\0flowers"s, vec_of("fp"),
                        {{"artist"s, "Vin\0cent"s}}, seeded_key(1));
  auto e = encode(r);
  auto back = decode_record(e);
  REQUIRE(back);
  check_same_record(r, *back);
  CHECK(std::get<asset>(*back).name.size() == 11);
  CHECK(encode(*back) == e);
  CHECK_FALSE(check_signatures(*back));
  block b = sample_block();
  b.records = {r};
  auto bb = decode_block(encode(b));
  REQUIRE(bb);
  CHECK(leaf_ids(*bb) == leaf_ids(b));
}

TEST_CASE("blocks round-trip through encode and decode_block") {
  auto b = sample_block();
  auto e = encode(b);
  auto back = decode_block(e);
  REQUIRE_MESSAGE(back, (back ? "" : message_of(back.error())));
  check_same_header(b.hdr, back->hdr);
  REQUIRE(back->records.size() == b.records.size());
  for (size_t i = 0; i < b.records.size(); ++i)
    check_same_record(b.records[i], back->records[i]);
  CHECK(merkle_root(leaf_ids(*back)) == b.hdr.merkle_root);
  CHECK(encode(*back) == e);

  block empty;
  empty.hdr = genesis_header(devnet());
  auto g = decode_block(encode(empty));
  REQUIRE(g);
  CHECK(g->records.empty());
  CHECK(block_hash(g->hdr) == devnet().genesis_hash);
}

TEST_CASE("record lists round-trip through decode_records") {
  std::vector<record> rs = {sample_asset(), sample_transfer(true),
                            sample_batch()};
  auto back = decode_records(encode(rs));
  REQUIRE(back);
  REQUIRE(back->size() == rs.size());
  for (size_t i = 0; i < rs.size(); ++i)
    check_same_record(rs[i], (*back)[i]);
  auto none = decode_records(encode(std::vector<record>{}));
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("an empty countersignature field means none") {
  auto e = build<schema::Record>([](schema::Record::Builder r) {
    write(r, record{sample_transfer(false)});
    r.getTransfer().setCountersignature(kj::ArrayPtr<const kj::byte>{});
  });
  auto back = decode_record(e);
  REQUIRE(back);
  CHECK_FALSE(std::get<transfer>(*back).countersig.has_value());
  CHECK(leaf_id(*back) == record_id(sample_transfer(false)));
}

// -- limits -------------------------------------------------------------------

TEST_CASE("empty and oversized messages are refused before parsing") {
  CHECK(code(decode_block(encoded{})) == ec::malformed);
  CHECK(code(decode_record(encoded{})) == ec::malformed);
  CHECK(code(decode_records(encoded{})) == ec::malformed);

  auto e = encode(sample_block());
  CHECK(code(decode_block(e, read_limits{e.size()})) == ec::none);
  CHECK(code(decode_block(e, read_limits{e.size() - 8})) == ec::too_large);
  auto r = encode(record{sample_asset()});
  CHECK(code(decode_record(r, read_limits{r.size() - 1})) == ec::too_large);
  CHECK(code(decode_records(encode(std::vector<record>{sample_asset()}),
                            read_limits{16}))
        == ec::too_large);
}

TEST_CASE("a record above 64 KiB is too large for decode_record") {
  auto a = sample_asset();
  a.fingerprint.assign(70 * 1024, 0x55);
  auto e = encode(record{a});
  CHECK(e.size() > record_limits.max_bytes);
  CHECK(code(decode_record(e)) == ec::too_large);
}

TEST_CASE("the nesting limit is applied") {
  auto e = encode(sample_block());
  CHECK(code(decode_block(e, read_limits{block_limits.max_bytes, 1}))
        == ec::malformed);
  CHECK(code(decode_block(e, read_limits{block_limits.max_bytes, 16}))
        == ec::none);
}

TEST_CASE("more than 10000 records are too large") {
  auto list = build<schema::RecordList>([](schema::RecordList::Builder l) {
    l.initRecords(max_block_records + 1);
  });
  CHECK(code(decode_records(list)) == ec::too_large);
  auto blk = build<schema::Block>([](schema::Block::Builder b) {
    write(b, block{});
    b.initRecords(max_block_records + 1);
  });
  CHECK(code(decode_block(blk)) == ec::too_large);
}

TEST_CASE("field sizes above the record limits are bad records") {
  SUBCASE("asset name of 65 bytes") {
    auto a = sample_asset();
    a.name.assign(65, 'n');
    CHECK(code(decode_record(encode(record{a}))) == ec::bad_record);
  }
  SUBCASE("fingerprint of 1025 bytes") {
    auto a = sample_asset();
    a.fingerprint.assign(1025, 1);
    CHECK(code(decode_record(encode(record{a}))) == ec::bad_record);
  }
  SUBCASE("1025 metadata entries") {
    auto a = sample_asset();
    a.metadata.assign(1025, meta_entry{"k", ""});
    CHECK(code(decode_record(encode(record{a}))) == ec::bad_record);
  }
  SUBCASE("101 issues in a batch") {
    issue_batch b;
    b.issues.assign(101, sample_batch().issues[0]);
    CHECK(code(decode_record(encode(record{b}))) == ec::bad_record);
  }
}

TEST_CASE("limits at their bounds still decode") {
  auto a = sample_asset();
  a.name.assign(64, 'n');
  a.fingerprint.assign(1024, 1);
  CHECK(code(decode_record(encode(record{a}))) == ec::none);
  issue_batch b;
  b.issues.assign(100, sample_batch().issues[0]);
  CHECK(code(decode_record(encode(record{b}))) == ec::none);
}

// -- malformed input ----------------------------------------------------------

TEST_CASE("fixed-size fields of the wrong size are malformed") {
  std::vector<uint8_t> short_bytes(31, 1);
  kj::ArrayPtr<const kj::byte> b31{short_bytes.data(), short_bytes.size()};
  std::vector<uint8_t> long_bytes(65, 1);
  kj::ArrayPtr<const kj::byte> b65{long_bytes.data(), long_bytes.size()};

  auto record_with = [](auto mutate) {
    return build<schema::Record>([&](schema::Record::Builder r) { mutate(r); });
  };
  SUBCASE("asset registrant") {
    auto e = record_with([&](schema::Record::Builder r) {
      write(r, record{sample_asset()});
      r.getAsset().setRegistrant(b31);
    });
    CHECK(code(decode_record(e)) == ec::malformed);
  }
  SUBCASE("asset signature") {
    auto e = record_with([&](schema::Record::Builder r) {
      write(r, record{sample_asset()});
      r.getAsset().setSignature(b65);
    });
    CHECK(code(decode_record(e)) == ec::malformed);
  }
  SUBCASE("missing asset signature") {
    auto e = record_with([&](schema::Record::Builder r) {
      write(r, record{sample_asset()});
      r.getAsset().disownSignature();
    });
    CHECK(code(decode_record(e)) == ec::malformed);
  }
  SUBCASE("issue owner") {
    auto e = record_with([&](schema::Record::Builder r) {
      write(r, record{sample_batch()});
      r.getIssues().getIssues()[1].setOwner(b31);
    });
    CHECK(code(decode_record(e)) == ec::malformed);
  }
  SUBCASE("issue asset id") {
    auto e = record_with([&](schema::Record::Builder r) {
      write(r, record{sample_batch()});
      r.getIssues().getIssues()[0].setAssetId(b65);
    });
    CHECK(code(decode_record(e)) == ec::malformed);
  }
  SUBCASE("batch anchor") {
    auto e = record_with([&](schema::Record::Builder r) {
      write(r, record{sample_batch()});
      r.getIssues().setAnchor(b31);
    });
    CHECK(code(decode_record(e)) == ec::malformed);
  }
  SUBCASE("transfer link") {
    auto e = record_with([&](schema::Record::Builder r) {
      write(r, record{sample_transfer(false)});
      r.getTransfer().setLink(b31);
    });
    CHECK(code(decode_record(e)) == ec::malformed);
  }
  SUBCASE("transfer new owner") {
    auto e = record_with([&](schema::Record::Builder r) {
      write(r, record{sample_transfer(false)});
      r.getTransfer().setNewOwner(b65);
    });
    CHECK(code(decode_record(e)) == ec::malformed);
  }
  SUBCASE("countersignature of 31 bytes") {
    auto e = record_with([&](schema::Record::Builder r) {
      write(r, record{sample_transfer(true)});
      r.getTransfer().setCountersignature(b31);
    });
    CHECK(code(decode_record(e)) == ec::malformed);
  }
  SUBCASE("header previous hash") {
    auto e = build<schema::Block>([&](schema::Block::Builder b) {
      write(b, sample_block());
      b.getHeader().setPrevious(b31);
    });
    CHECK(code(decode_block(e)) == ec::malformed);
  }
  SUBCASE("header producer") {
    auto e = build<schema::Block>([&](schema::Block::Builder b) {
      write(b, sample_block());
      b.getHeader().setProducer(b65);
    });
    CHECK(code(decode_block(e)) == ec::malformed);
  }
  SUBCASE("missing header") {
    auto e = build<schema::Block>(
      [&](schema::Block::Builder b) { b.initRecords(0); });
    CHECK(code(decode_block(e)) == ec::malformed);
  }
  SUBCASE("a bad record inside a block") {
    auto e = build<schema::Block>([&](schema::Block::Builder b) {
      write(b, sample_block());
      b.getRecords()[2].getTransfer().setOwner(b31);
    });
    CHECK(code(decode_block(e)) == ec::malformed);
  }
  SUBCASE("a bad record inside a record list") {
    auto e = build<schema::RecordList>([&](schema::RecordList::Builder l) {
      auto rs = l.initRecords(2);
      write(rs[0], record{sample_asset()});
      write(rs[1], record{sample_transfer(false)});
      rs[1].getTransfer().setSignature(b31);
    });
    CHECK(code(decode_records(e)) == ec::malformed);
  }
}

TEST_CASE("an unknown record kind is malformed") {
  auto e = encode(record{sample_transfer(false)});
  // Flat layout: segment table (1 word), root pointer (1 word), then the
  // Record struct whose data word starts with the union discriminant.
  std::vector<uint8_t> bytes(e.bytes().begin(), e.bytes().end());
  REQUIRE(get_u16(bytes.data() + 16) == 2); // Transfer
  put_u16(bytes.data() + 16, 7);
  auto patched = encoded::copy_of(bytes);
  REQUIRE(patched);
  CHECK(code(decode_record(*patched)) == ec::malformed);
}

TEST_CASE("every truncation of a valid message is refused") {
  auto blk = encode(sample_block());
  for (size_t w = 0; w < blk.word_count(); ++w) {
    CAPTURE(w);
    CHECK(code(decode_block(prefix(blk, w))) == ec::malformed);
  }
  auto rec = encode(record{sample_asset()});
  for (size_t w = 0; w < rec.word_count(); ++w) {
    CAPTURE(w);
    CHECK(code(decode_record(prefix(rec, w))) == ec::malformed);
  }
  auto list = encode(std::vector<record>{sample_batch(), sample_asset()});
  for (size_t w = 0; w < list.word_count(); ++w) {
    CAPTURE(w);
    CHECK(code(decode_records(prefix(list, w))) == ec::malformed);
  }
}

TEST_CASE("garbage words are refused without a crash") {
  std::mt19937_64 rng{20260101};
  for (int round = 0; round < 500; ++round) {
    std::vector<uint64_t> words(1 + rng() % 64);
    for (auto& w : words)
      w = rng();
    encoded e{std::move(words)};
    auto b = decode_block(e);
    auto r = decode_record(e);
    auto l = decode_records(e);
    // Random segment tables almost never describe the bytes that follow.
    CHECK_FALSE(b);
    CHECK_FALSE(r);
    CHECK_FALSE(l);
    if (!b)
      CHECK((code(b) == ec::malformed || code(b) == ec::too_large));
    if (!r)
      CHECK((code(r) == ec::malformed || code(r) == ec::too_large));
  }
  // A segment table claiming a huge segment.
  std::vector<uint64_t> huge = {0xffffffff00000000ULL, 0};
  CHECK(code(decode_block(encoded{huge})) == ec::malformed);
  // A segment table claiming many segments.
  std::vector<uint64_t> many = {0x00000000ffffffffULL, 0};
  CHECK(code(decode_record(encoded{many})) == ec::malformed);
}

TEST_CASE("mutated valid messages decode or fail cleanly") {
  // Flipping bits of a valid block exercises pointers, list sizes and
  // lengths; whatever decodes must re-encode, whatever fails must say
  // malformed, too_large or bad_record.
  auto blk = encode(sample_block());
  auto rec = encode(record{sample_batch()});
  std::mt19937_64 rng{42};
  size_t decoded = 0;
  size_t refused = 0;
  for (int round = 0; round < 2000; ++round) {
    auto& base = round % 2 == 0 ? blk : rec;
    std::vector<uint8_t> bytes(base.bytes().begin(), base.bytes().end());
    auto flips = 1 + rng() % 4;
    for (size_t f = 0; f < flips; ++f)
      bytes[rng() % bytes.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    auto e = *encoded::copy_of(bytes);
    if (round % 2 == 0) {
      auto b = decode_block(e);
      if (b) {
        ++decoded;
        CHECK(decode_block(encode(*b)));
      } else {
        ++refused;
        auto c = code(b);
        CHECK(
          (c == ec::malformed || c == ec::too_large || c == ec::bad_record));
      }
    } else {
      auto r = decode_record(e);
      if (r) {
        ++decoded;
        CHECK(decode_record(encode(*r)));
      } else {
        ++refused;
        auto c = code(r);
        CHECK(
          (c == ec::malformed || c == ec::too_large || c == ec::bad_record));
      }
    }
  }
  CHECK(decoded > 0);
  CHECK(refused > 0);
}

TEST_CASE("a message of one type read as another fails or decodes cleanly") {
  auto blk = encode(sample_block());
  auto as_record = decode_record(blk);
  if (!as_record)
    CHECK(
      (code(as_record) == ec::malformed || code(as_record) == ec::bad_record));
  auto rec = encode(record{sample_transfer(true)});
  auto as_block = decode_block(rec);
  CHECK_FALSE(as_block); // a 64-byte signature lands on the producer key
  auto as_list = decode_records(rec);
  if (!as_list)
    CHECK((code(as_list) == ec::malformed || code(as_list) == ec::bad_record));
}

TEST_CASE("guarded turns a Cap'n Proto exception into ec::malformed") {
  auto err = guarded(
    []() -> caf::error { KJ_FAIL_REQUIRE("simulated decode failure"); });
  CHECK(code(err) == ec::malformed);
  CHECK(message_of(err).find("simulated decode failure") != std::string::npos);
  auto fine = guarded([]() -> caf::expected<int> { return 3; });
  REQUIRE(fine);
  CHECK(*fine == 3);
}

TEST_SUITE_END();
