// node/records: the record model, signing bytes, ids, field and signature
// rules, and the free-issue proof of work.
#include <doctest/doctest.h>

#include <cstring>

#include "core/records.hpp"
#include "tests/unit/helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;

namespace {

// The fixed inputs of the pinned record vectors: owner key from the seed
// 0x01..0x20, new owner from 0x21..0x40.
asset vector_asset() {
  return make_asset("Hallmark test vector",
                    vec_of("hallmark/vector/fingerprint/1"),
                    {{"artist", "Ada"}, {"year", "2026"}}, seeded_key(0x01));
}

issue vector_issue() {
  return make_issue(asset_id(vector_asset()), 7, seeded_key(0x01));
}

transfer vector_transfer() {
  return make_transfer(record_id(vector_issue()),
                       seeded_key(0x21).public_key_bytes(), seeded_key(0x01));
}

bool starts_with(byte_view bytes, std::string_view tag) {
  return bytes.size() >= tag.size()
         && std::memcmp(bytes.data(), tag.data(), tag.size()) == 0;
}

} // namespace

TEST_SUITE_BEGIN("records");

// -- pinned vectors -----------------------------------------------------------
// Fixed bytes to fixed ids. The values were computed once by this code and
// checked against an independent implementation (Python's hashlib BLAKE2b and
// the `cryptography` package's Ed25519, from the layouts in records.cpp).
// A change here changes every id on every chain: it is a hard fork.

TEST_CASE("vector: keys of the fixed seeds") {
  CHECK(hex(seeded_key(0x01).public_key_bytes())
        == "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664");
  CHECK(hex(seeded_key(0x21).public_key_bytes())
        == "e7f162a10bec559afea195e4dce84b69568d5d2cb0963eb446c0685e2b17f2f0");
}

TEST_CASE("vector: asset id and asset record id") {
  auto a = vector_asset();
  CHECK(hex(asset_id(a))
        == "2152bb4f13e36de7c359ac6ef48f1acd18dce166443c5e4f9563921db9413db6");
  CHECK(hex(record_id(a))
        == "cdea305310bef993f881b25b27b95f22f39dc4200b9e44c266ba6cc3dc4211b2");
}

TEST_CASE("vector: issue record id") {
  auto i = vector_issue();
  CHECK(hex(i.sig)
        == "a84d8ef604581b419ecca70f6309775985c0a43479d96e2694ac34cfabefda89"
           "e351cf8ce7b76d85b06a97cd60b17a7084a0811ee9329d93de6ede0ed9eda103");
  CHECK(hex(record_id(i))
        == "8fd0611078ac3af9a85c0e62ff3241458781145e6d29e5658077f716d932bd08");
}

TEST_CASE("vector: transfer record id, without and with countersignature") {
  auto t = vector_transfer();
  CHECK(hex(record_id(t))
        == "39be9c83412dbdc0e4b48e6140e7b33aadf284fbe0039d86d3369220fb15fe7e");
  countersign(t, seeded_key(0x21));
  CHECK(hex(record_id(t))
        == "d7ebb16b2f37608332d58c80bb2055eadb9a1cd3b5057d743d2cecbd0ae88b07");
}

TEST_CASE("vector: issue batch record id") {
  issue_batch b;
  b.issues = {vector_issue()};
  b.anchor = devnet().genesis_hash;
  b.work_nonce = 5;
  CHECK(hex(payment_id(b))
        == "6ed3fd58cbc2dd39e53a0b5b4319c9e3b76ae9b6be9258759f60e88624734c86");
  CHECK(hex(record_id(b))
        == "979534f66ce5b5b5c7b6de4089f3d4d498ef9151b1e72babf71687e3bef78f42");
}

// -- layout -------------------------------------------------------------------

TEST_CASE("issue signing bytes: tag, asset id, owner, little-endian nonce") {
  auto i = vector_issue();
  auto sb = signing_bytes(i);
  CHECK(starts_with(sb, "hm-issue"));
  CHECK(std::memcmp(sb.data() + 8, i.asset_id.data(), 32) == 0);
  CHECK(std::memcmp(sb.data() + 40, i.owner.data(), 32) == 0);
  CHECK(get_u64(sb.data() + 72) == 7);
  CHECK(record_id(i) == hasher{}.add(sb).add(i.sig).finish());
}

TEST_CASE("transfer signing bytes: tag, link, owner, new owner") {
  auto t = vector_transfer();
  auto sb = signing_bytes(t);
  CHECK(starts_with(sb, "hm-xfer1"));
  CHECK(std::memcmp(sb.data() + 8, t.link.data(), 32) == 0);
  CHECK(std::memcmp(sb.data() + 40, t.owner.data(), 32) == 0);
  CHECK(std::memcmp(sb.data() + 72, t.new_owner.data(), 32) == 0);
  auto cb = countersigning_bytes(t);
  CHECK(starts_with(cb, "hm-csign"));
  CHECK(std::memcmp(cb.data() + 8, sb.data(), sb.size()) == 0);
  CHECK(std::memcmp(cb.data() + 112, t.sig.data(), 64) == 0);
  const uint8_t no_countersig[] = {0};
  CHECK(record_id(t)
        == hasher{}.add(sb).add(t.sig).add(no_countersig).finish());
}

TEST_CASE("asset signing bytes: length-framed fields and the registrant") {
  auto kp = seeded_key(0x01);
  auto a = make_asset("ab", {0xf0}, {{"k", "v"}}, kp);
  auto sb = signing_bytes(a);
  std::vector<uint8_t> want = {'h', 'm', '-', 'a', 's',  's', 'e',
                               't', 2,   0,   0,   0,    'a', 'b', // name
                               1,   0,   0,   0,   0xf0,           // fp
                               1,   0,   0,   0,                   // count
                               1,   0,   0,   0,   'k',            // key
                               1,   0,   0,   0,   'v'};           // value
  want.insert(want.end(), kp.public_key_bytes().begin(),
              kp.public_key_bytes().end());
  CHECK(sb == want);
  CHECK(record_id(a) == hasher{}.add(sb).add(a.sig).finish());
}

TEST_CASE("asset signing bytes frame fields so shifted bytes differ") {
  auto kp = seeded_key(0x01);
  auto a = make_asset("ab", vec_of("c"), {}, kp);
  auto b = make_asset("a", vec_of("bc"), {}, kp);
  CHECK(signing_bytes(a) != signing_bytes(b));
  auto m1 = make_asset("n", vec_of("f"), {{"ab", "c"}}, kp);
  auto m2 = make_asset("n", vec_of("f"), {{"a", "bc"}}, kp);
  CHECK(signing_bytes(m1) != signing_bytes(m2));
}

TEST_CASE("asset id is BLAKE2b of the fingerprint alone") {
  auto a = make_asset("one", vec_of("same fingerprint"), {}, seeded_key(1));
  auto b = make_asset("two", vec_of("same fingerprint"), {{"x", "y"}},
                      seeded_key(2));
  CHECK(asset_id(a) == blake2b(bytes_of("same fingerprint")));
  CHECK(asset_id(a) == asset_id(b));
  CHECK(record_id(a) != record_id(b));
}

TEST_CASE("every signed field changes the record id") {
  auto base = vector_issue();
  auto id = record_id(base);
  auto changed = [&](auto mutate) {
    auto i = base;
    mutate(i);
    return record_id(i) != id;
  };
  CHECK(changed([](issue& i) { i.asset_id[0] ^= 1; }));
  CHECK(changed([](issue& i) { i.owner[31] ^= 1; }));
  CHECK(changed([](issue& i) { i.nonce += 1; }));
  CHECK(changed([](issue& i) { i.sig[63] ^= 1; }));

  auto t = vector_transfer();
  auto tid = record_id(t);
  auto t2 = t;
  t2.new_owner[0] ^= 1;
  CHECK(record_id(t2) != tid);
  t2 = t;
  t2.link[5] ^= 1;
  CHECK(record_id(t2) != tid);
  t2 = t;
  t2.countersig = signature{};
  CHECK(record_id(t2) != tid);
}

TEST_CASE("batch id covers its issues, anchor and work nonce") {
  auto kp = seeded_key(1);
  issue_batch b;
  b.issues = {make_issue(label_hash("a"), 1, kp),
              make_issue(label_hash("a"), 2, kp)};
  b.anchor = label_hash("anchor");
  auto id = record_id(b);
  auto pay = payment_id(b);
  auto c = b;
  c.work_nonce = 1;
  CHECK(record_id(c) != id);
  CHECK(payment_id(c) == pay); // the work does not enter the payment id
  c = b;
  c.anchor[0] ^= 1;
  CHECK(record_id(c) != id);
  CHECK(payment_id(c) == pay);
  c = b;
  std::swap(c.issues[0], c.issues[1]);
  CHECK(payment_id(c) != pay); // order matters
  CHECK(record_id(c) != id);
  CHECK(leaf_id(record{b}) == id);
}

TEST_CASE("kind_name, record_count and leaf_id per kind") {
  auto kp = seeded_key(1);
  record a = make_asset("n", vec_of("f"), {}, kp);
  issue_batch batch;
  batch.issues = {make_issue(label_hash("x"), 1, kp),
                  make_issue(label_hash("x"), 2, kp),
                  make_issue(label_hash("x"), 3, kp)};
  record b = batch;
  record t = make_transfer(label_hash("l"), seeded_key(2).public_key_bytes(),
                           kp);
  CHECK(std::string{kind_name(a)} == "asset");
  CHECK(std::string{kind_name(b)} == "issues");
  CHECK(std::string{kind_name(t)} == "transfer");
  CHECK(record_count(a) == 1);
  CHECK(record_count(b) == 3);
  CHECK(record_count(t) == 1);
  CHECK(leaf_id(a) == record_id(std::get<asset>(a)));
  CHECK(leaf_id(b) == record_id(batch));
  CHECK(leaf_id(t) == record_id(std::get<transfer>(t)));
}

// -- free-issue work ----------------------------------------------------------

TEST_CASE("batch_difficulty discounts larger batches") {
  CHECK(batch_difficulty(1000, 0) == 1); // never below 1
  CHECK(batch_difficulty(1000, 1) == 1000);
  CHECK(batch_difficulty(1000, 2) == 1900);
  CHECK(batch_difficulty(1000, 10) == 9500);
  CHECK(batch_difficulty(1000, 11) == 9900);
  CHECK(batch_difficulty(1000, 50) == 45000);
  CHECK(batch_difficulty(1000, 51) == 43350);
  CHECK(batch_difficulty(1000, 100) == 85000);
  CHECK(batch_difficulty(4, 3) == 11); // 4 × 3 × 0.95 = 11.4, floored
  CHECK(batch_difficulty(0, 5) == 1);
  CHECK(batch_difficulty(1, 1) == 1);
  CHECK(batch_difficulty(UINT64_MAX, 100) == UINT64_MAX); // saturates
  // 2^62 × 4 × 95 % overflows 64 bits on the way but not in the result.
  CHECK(batch_difficulty(uint64_t{1} << 62, 4) == 17524406870024074035ULL);
}

TEST_CASE("meets_difficulty compares the top 64 bits to the target") {
  hash256 h{};
  CHECK(meets_difficulty(h, UINT64_MAX)); // zero meets everything
  h.fill(0xff);
  CHECK(meets_difficulty(h, 0));
  CHECK(meets_difficulty(h, 1));
  CHECK_FALSE(meets_difficulty(h, 2));
  // Target of difficulty 2 is 0x7fff…ff on the top 64 bits.
  hash256 at_target{};
  at_target[0] = 0x7f;
  for (int i = 1; i < 32; ++i)
    at_target[i] = 0xff; // bits below the top 64 do not count
  CHECK(meets_difficulty(at_target, 2));
  hash256 above_target{};
  above_target[0] = 0x80;
  CHECK_FALSE(meets_difficulty(above_target, 2));
  // Big-endian reading: a high first byte fails where a high last byte of
  // the top 64 bits passes.
  hash256 low{};
  low[7] = 0xff;
  CHECK(meets_difficulty(low, 1ULL << 48));
  hash256 high{};
  high[0] = 0x01;
  CHECK_FALSE(meets_difficulty(high, 1ULL << 56));
}

TEST_CASE("solve_batch finds work that meets the difficulty") {
  auto kp = seeded_key(1);
  issue_batch b;
  b.issues = {make_issue(label_hash("asset"), 1, kp)};
  b.anchor = label_hash("anchor");
  REQUIRE(solve_batch(b, 256, 1'000'000));
  CHECK(
    meets_difficulty(work_hash(payment_id(b), b.anchor, b.work_nonce), 256));
  // The found nonce is the first one to meet it.
  for (uint64_t n = 0; n < b.work_nonce; ++n)
    CHECK_FALSE(meets_difficulty(work_hash(payment_id(b), b.anchor, n), 256));
  issue_batch c = b;
  c.work_nonce = 0;
  CHECK_FALSE(solve_batch(c, UINT64_MAX, 0));
  CHECK(c.work_nonce == 0);
}

TEST_CASE("work_hash is BLAKE2b of payment, anchor and nonce") {
  auto pay = label_hash("pay");
  auto anchor = label_hash("anchor");
  CHECK(work_hash(pay, anchor, 9)
        == hasher{}.add(pay).add(anchor).add_u64(9).finish());
  CHECK(work_hash(pay, anchor, 9) != work_hash(pay, anchor, 10));
  CHECK(work_hash(pay, anchor, 9) != work_hash(anchor, pay, 9));
}

// -- field rules --------------------------------------------------------------

TEST_CASE("check_fields: asset name, fingerprint and metadata sizes") {
  auto kp = seeded_key(1);
  auto ok = [](const asset& a) { return !check_fields(record{a}); };
  auto bad = [](const asset& a) { return code(check_fields(record{a})); };
  CHECK(ok(make_asset("n", vec_of("f"), {}, kp)));
  CHECK(ok(make_asset(std::string(64, 'n'), vec_of("f"), {}, kp)));
  CHECK(bad(make_asset(std::string(65, 'n'), vec_of("f"), {}, kp))
        == ec::bad_record);
  CHECK(bad(make_asset("", vec_of("f"), {}, kp)) == ec::bad_record);
  CHECK(ok(make_asset("n", std::vector<uint8_t>(1024, 7), {}, kp)));
  CHECK(bad(make_asset("n", std::vector<uint8_t>(1025, 7), {}, kp))
        == ec::bad_record);
  CHECK(bad(make_asset("n", {}, {}, kp)) == ec::bad_record);
  // Metadata counts key\0value\0: 1 + 1 + 2045 + 1 = 2048 exactly.
  std::vector<meta_entry> full = {{"k", std::string(2045, 'v')}};
  CHECK(ok(make_asset("n", vec_of("f"), full, kp)));
  full[0].value.push_back('v');
  CHECK(bad(make_asset("n", vec_of("f"), full, kp)) == ec::bad_record);
  std::vector<meta_entry> many(512, meta_entry{"k", "v"}); // 4 × 512 = 2048
  CHECK(ok(make_asset("n", vec_of("f"), many, kp)));
  many.push_back({"k", ""});
  CHECK(bad(make_asset("n", vec_of("f"), many, kp)) == ec::bad_record);
}

TEST_CASE("check_fields: metadata keys non-empty, no NUL anywhere") {
  auto kp = seeded_key(1);
  auto bad = [&](std::vector<meta_entry> m) {
    return code(check_fields(record{make_asset("n", vec_of("f"), m, kp)}));
  };
  CHECK(bad({{"k", ""}}) == ec::none); // an empty value is fine
  CHECK(bad({{"", "v"}}) == ec::bad_record);
  CHECK(bad({{std::string("a\0b", 3), "v"}}) == ec::bad_record);
  CHECK(bad({{"k", std::string("v\0", 2)}}) == ec::bad_record);
}

TEST_CASE("check_fields: an issue batch holds 1 to 100 distinct issues") {
  auto kp = seeded_key(1);
  auto aid = label_hash("asset");
  issue_batch b;
  CHECK(code(check_fields(record{b})) == ec::bad_record);
  for (uint64_t n = 0; n < 100; ++n)
    b.issues.push_back(make_issue(aid, n, kp));
  CHECK_FALSE(check_fields(record{b}));
  b.issues.push_back(make_issue(aid, 100, kp));
  CHECK(code(check_fields(record{b})) == ec::bad_record);
  issue_batch dup;
  dup.issues = {make_issue(aid, 1, kp), make_issue(aid, 2, kp),
                make_issue(aid, 1, kp)};
  CHECK(code(check_fields(record{dup})) == ec::duplicate);
  // Same nonce for another owner or asset is a different issue.
  issue_batch distinct;
  distinct.issues = {make_issue(aid, 1, kp), make_issue(aid, 1, seeded_key(2)),
                     make_issue(label_hash("other"), 1, kp)};
  CHECK_FALSE(check_fields(record{distinct}));
}

TEST_CASE("check_fields: a transfer needs a non-zero link") {
  auto kp = seeded_key(1);
  auto to = seeded_key(2).public_key_bytes();
  CHECK_FALSE(check_fields(record{make_transfer(label_hash("l"), to, kp)}));
  CHECK(code(check_fields(record{make_transfer(hash256{}, to, kp)}))
        == ec::bad_record);
}

// -- signature rules ----------------------------------------------------------

TEST_CASE("check_signatures accepts what make_* signed") {
  auto kp = seeded_key(1);
  CHECK_FALSE(check_signatures(record{vector_asset()}));
  issue_batch b;
  b.issues = {make_issue(label_hash("a"), 1, kp),
              make_issue(label_hash("a"), 2, seeded_key(2))};
  CHECK_FALSE(check_signatures(record{b}));
  auto t = vector_transfer();
  CHECK_FALSE(check_signatures(record{t}));
  countersign(t, seeded_key(0x21));
  CHECK_FALSE(check_signatures(record{t}));
}

TEST_CASE("check_signatures refuses any changed asset field") {
  auto a = vector_asset();
  auto refused = [](asset x) {
    return code(check_signatures(record{x})) == ec::bad_signature;
  };
  auto x = a;
  x.name += "!";
  CHECK(refused(x));
  x = a;
  x.fingerprint.push_back(0);
  CHECK(refused(x));
  x = a;
  x.metadata[1].value = "2027";
  CHECK(refused(x));
  x = a;
  x.metadata.pop_back();
  CHECK(refused(x));
  x = a;
  x.registrant = seeded_key(2).public_key_bytes();
  CHECK(refused(x));
  x = a;
  x.sig[10] ^= 1;
  CHECK(refused(x));
}

TEST_CASE("check_signatures refuses a batch with one bad issue") {
  auto kp = seeded_key(1);
  issue_batch b;
  for (uint64_t n = 0; n < 5; ++n)
    b.issues.push_back(make_issue(label_hash("a"), n, kp));
  b.issues[3].nonce = 99;
  CHECK(code(check_signatures(record{b})) == ec::bad_signature);
  b.issues[3] = make_issue(label_hash("a"), 3, kp);
  b.issues[4].owner = seeded_key(2).public_key_bytes();
  CHECK(code(check_signatures(record{b})) == ec::bad_signature);
  // Anchor and work are not signed: changing them keeps signatures valid.
  b.issues[4] = make_issue(label_hash("a"), 4, kp);
  b.anchor = label_hash("x");
  b.work_nonce = 12345;
  CHECK_FALSE(check_signatures(record{b}));
}

TEST_CASE("check_signatures refuses bad transfer signatures") {
  auto t = vector_transfer();
  auto x = t;
  x.new_owner = seeded_key(3).public_key_bytes();
  CHECK(code(check_signatures(record{x})) == ec::bad_signature);
  x = t;
  x.owner = seeded_key(0x21).public_key_bytes();
  CHECK(code(check_signatures(record{x})) == ec::bad_signature);
  // A countersignature by someone other than the new owner.
  x = t;
  countersign(x, seeded_key(3));
  CHECK(code(check_signatures(record{x})) == ec::bad_signature);
  // A countersignature over another transfer.
  x = t;
  countersign(x, seeded_key(0x21));
  auto y = make_transfer(label_hash("other"),
                         seeded_key(0x21).public_key_bytes(), seeded_key(1));
  y.countersig = x.countersig;
  CHECK(code(check_signatures(record{y})) == ec::bad_signature);
  // A valid countersignature cannot be moved into the owner's signature.
  x.sig = *x.countersig;
  CHECK(code(check_signatures(record{x})) == ec::bad_signature);
}

TEST_CASE("make_issue and make_transfer fill the signer's key") {
  auto kp = seeded_key(5);
  auto i = make_issue(label_hash("a"), 3, kp);
  CHECK(i.owner == kp.public_key_bytes());
  CHECK(i.asset_id == label_hash("a"));
  CHECK(i.nonce == 3);
  CHECK(verify(i.sig, signing_bytes(i), kp.public_key_bytes()));
  auto to = seeded_key(6).public_key_bytes();
  auto t = make_transfer(label_hash("l"), to, kp);
  CHECK(t.owner == kp.public_key_bytes());
  CHECK(t.new_owner == to);
  CHECK(t.link == label_hash("l"));
  CHECK_FALSE(t.countersig.has_value());
  countersign(t, seeded_key(6));
  REQUIRE(t.countersig.has_value());
  CHECK(verify(*t.countersig, countersigning_bytes(t), to));
}

TEST_SUITE_END();
