// node/crypto: BLAKE2b, the incremental hasher, Ed25519 keys, hex and
// little-endian integers.
#include <doctest/doctest.h>

#include <stdexcept>

#include "core/crypto.hpp"
#include "tests/unit/helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;

TEST_SUITE_BEGIN("crypto");

TEST_CASE("blake2b-256 matches the reference vectors") {
  // Vector (1): BLAKE2b-256("abc"), RFC 7693 parameters with a 32-byte digest.
  CHECK(hex(blake2b(bytes_of("abc")))
        == "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  CHECK(hex(blake2b(byte_view{}))
        == "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  CHECK(hex(blake2b(bytes_of("The quick brown fox jumps over the lazy dog")))
        == "01718cec35cd3d796dd00020e0bfecb473ad23457d063b75eff29c0ffa2e58a9");
}

TEST_CASE("hasher fed piece by piece equals blake2b of the whole") {
  auto one_shot = blake2b(bytes_of("hello, hallmark"));
  CHECK(hasher{}.add(bytes_of("hello, hallmark")).finish() == one_shot);
  CHECK(hasher{}
          .add(bytes_of("hello"))
          .add(bytes_of(", "))
          .add(byte_view{})
          .add(bytes_of("hallmark"))
          .finish()
        == one_shot);
  CHECK(hasher{}.finish() == blake2b(byte_view{}));
}

TEST_CASE("hasher integer adds are little-endian") {
  const uint8_t u8[] = {0xab};
  const uint8_t u16[] = {0x34, 0x12};
  const uint8_t u32[] = {0x78, 0x56, 0x34, 0x12};
  const uint8_t u64[] = {0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01};
  CHECK(hasher{}.add_u8(0xab).finish() == blake2b(u8));
  CHECK(hasher{}.add_u16(0x1234).finish() == blake2b(u16));
  CHECK(hasher{}.add_u32(0x12345678).finish() == blake2b(u32));
  CHECK(hasher{}.add_u64(0x0123456789abcdefULL).finish() == blake2b(u64));
}

TEST_CASE("hasher add_sized prefixes a 4-byte little-endian length") {
  const uint8_t framed[] = {3, 0, 0, 0, 'a', 'b', 'c'};
  CHECK(hasher{}.add_sized(bytes_of("abc")).finish() == blake2b(framed));
  const uint8_t empty[] = {0, 0, 0, 0};
  CHECK(hasher{}.add_sized(byte_view{}).finish() == blake2b(empty));
  // Framing tells ("ab", "c") apart from ("a", "bc").
  CHECK(
    hasher{}.add_sized(bytes_of("ab")).add_sized(bytes_of("c")).finish()
    != hasher{}.add_sized(bytes_of("a")).add_sized(bytes_of("bc")).finish());
}

TEST_CASE("key_pair from the RFC 8032 test 1 seed") {
  auto seed = *from_hex_fixed<32>(
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  auto kp = key_pair::from_seed(seed);
  CHECK(hex(kp.public_key_bytes())
        == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  CHECK(kp.seed() == seed);
  auto sig = kp.sign(byte_view{});
  CHECK(hex(sig)
        == "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e0652249015"
           "55fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  CHECK(verify(sig, byte_view{}, kp.public_key_bytes()));
}

TEST_CASE("key_pair::from_seed is deterministic and refuses bad seeds") {
  auto a = seeded_key(1);
  auto b = seeded_key(1);
  auto c = seeded_key(2);
  CHECK(a.public_key_bytes() == b.public_key_bytes());
  CHECK(a.public_key_bytes() != c.public_key_bytes());
  CHECK(a.seed() == counting_seed(1));
  // Ed25519 signatures are deterministic.
  CHECK(a.sign(bytes_of("m")) == b.sign(bytes_of("m")));
  std::array<uint8_t, 31> short_seed{};
  std::array<uint8_t, 33> long_seed{};
  CHECK_THROWS_AS(key_pair::from_seed(short_seed), std::invalid_argument);
  CHECK_THROWS_AS(key_pair::from_seed(long_seed), std::invalid_argument);
}

TEST_CASE("key_pair::generate gives distinct keys that sign") {
  auto a = key_pair::generate();
  auto b = key_pair::generate();
  CHECK(a.public_key_bytes() != b.public_key_bytes());
  CHECK(key_pair::from_seed(a.seed()).public_key_bytes()
        == a.public_key_bytes());
  auto sig = a.sign(bytes_of("payload"));
  CHECK(verify(sig, bytes_of("payload"), a.public_key_bytes()));
  CHECK_FALSE(verify(sig, bytes_of("payload"), b.public_key_bytes()));
}

TEST_CASE("a copied key_pair signs like the original") {
  auto a = seeded_key(9);
  key_pair b = a;
  CHECK(b.public_key_bytes() == a.public_key_bytes());
  CHECK(b.sign(bytes_of("x")) == a.sign(bytes_of("x")));
  b = seeded_key(10);
  CHECK(b.public_key_bytes() == seeded_key(10).public_key_bytes());
}

TEST_CASE("verify refuses a changed message, key or signature") {
  auto kp = seeded_key(1);
  auto other = seeded_key(2);
  auto msg = vec_of("transfer item 42 to bob");
  auto sig = kp.sign(msg);
  CHECK(verify(sig, msg, kp.public_key_bytes()));
  SUBCASE("message") {
    msg[0] ^= 1;
    CHECK_FALSE(verify(sig, msg, kp.public_key_bytes()));
  }
  SUBCASE("truncated message") {
    msg.pop_back();
    CHECK_FALSE(verify(sig, msg, kp.public_key_bytes()));
  }
  SUBCASE("key") {
    CHECK_FALSE(verify(sig, msg, other.public_key_bytes()));
  }
  SUBCASE("signature, first half") {
    sig[3] ^= 0x40;
    CHECK_FALSE(verify(sig, msg, kp.public_key_bytes()));
  }
  SUBCASE("signature, second half") {
    sig[60] ^= 0x01;
    CHECK_FALSE(verify(sig, msg, kp.public_key_bytes()));
  }
  SUBCASE("all-zero signature and key") {
    CHECK_FALSE(verify(signature{}, msg, kp.public_key_bytes()));
    CHECK_FALSE(verify(sig, msg, public_key{}));
  }
}

TEST_CASE("to_hex writes lower-case pairs") {
  const uint8_t data[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  CHECK(to_hex(data) == "00017f80abff");
  CHECK(to_hex(byte_view{}) == "");
}

TEST_CASE("from_hex reads either case and refuses non-hex") {
  auto lower = from_hex("00017f80abff");
  REQUIRE(lower.has_value());
  CHECK(*lower == std::vector<uint8_t>{0x00, 0x01, 0x7f, 0x80, 0xab, 0xff});
  auto upper = from_hex("ABcdEF");
  REQUIRE(upper.has_value());
  CHECK(*upper == std::vector<uint8_t>{0xab, 0xcd, 0xef});
  auto empty = from_hex("");
  REQUIRE(empty.has_value());
  CHECK(empty->empty());
  CHECK_FALSE(from_hex("abc").has_value()); // odd length
  CHECK_FALSE(from_hex("0g").has_value());
  CHECK_FALSE(from_hex("g0").has_value());
  CHECK_FALSE(from_hex(" 0").has_value());
  CHECK_FALSE(from_hex("0x00").has_value());
  CHECK_FALSE(from_hex("@@").has_value()); // just below 'A'
  CHECK_FALSE(from_hex("``").has_value()); // just below 'a'
  CHECK_FALSE(from_hex("::").has_value()); // just above '9'
}

TEST_CASE("hex round-trips every byte value") {
  std::vector<uint8_t> all(256);
  for (size_t i = 0; i < all.size(); ++i)
    all[i] = static_cast<uint8_t>(i);
  auto text = to_hex(all);
  CHECK(text.size() == 512);
  auto back = from_hex(text);
  REQUIRE(back.has_value());
  CHECK(*back == all);
}

TEST_CASE("from_hex_fixed and to_fixed demand the exact size") {
  CHECK(from_hex_fixed<2>("abcd") == std::array<uint8_t, 2>{0xab, 0xcd});
  CHECK_FALSE(from_hex_fixed<2>("ab").has_value());
  CHECK_FALSE(from_hex_fixed<2>("abcdef").has_value());
  CHECK_FALSE(from_hex_fixed<2>("abcx").has_value());
  const uint8_t three[] = {1, 2, 3};
  CHECK(to_fixed<3>(three) == std::array<uint8_t, 3>{1, 2, 3});
  CHECK_FALSE(to_fixed<2>(three).has_value());
  CHECK_FALSE(to_fixed<4>(three).has_value());
}

TEST_CASE("little-endian integers have a fixed byte order") {
  uint8_t buf[8] = {};
  put_u16(buf, 0xbeef);
  CHECK(buf[0] == 0xef);
  CHECK(buf[1] == 0xbe);
  CHECK(get_u16(buf) == 0xbeef);

  put_u32(buf, 0xdeadbeef);
  CHECK(to_hex(byte_view{buf, 4}) == "efbeadde");
  CHECK(get_u32(buf) == 0xdeadbeefu);

  put_u64(buf, 0x0102030405060708ULL);
  CHECK(to_hex(byte_view{buf, 8}) == "0807060504030201");
  CHECK(get_u64(buf) == 0x0102030405060708ULL);
}

TEST_CASE("little-endian integers round-trip their extremes") {
  uint8_t buf[8];
  for (uint64_t x : {uint64_t{0}, uint64_t{1}, uint64_t{0x80}, uint64_t{0xffff},
                     uint64_t{0x80000000}, uint64_t{0xffffffff},
                     uint64_t{0x8000000000000000}, UINT64_MAX}) {
    put_u64(buf, x);
    CHECK(get_u64(buf) == x);
    put_u32(buf, static_cast<uint32_t>(x));
    CHECK(get_u32(buf) == static_cast<uint32_t>(x));
    put_u16(buf, static_cast<uint16_t>(x));
    CHECK(get_u16(buf) == static_cast<uint16_t>(x));
  }
  // Writes touch exactly their width.
  uint8_t guard[10];
  std::fill(std::begin(guard), std::end(guard), 0xaa);
  put_u16(guard + 1, 0);
  CHECK(guard[0] == 0xaa);
  CHECK(guard[3] == 0xaa);
  put_u32(guard + 1, 0);
  CHECK(guard[5] == 0xaa);
  put_u64(guard + 1, 0);
  CHECK(guard[0] == 0xaa);
  CHECK(guard[9] == 0xaa);
}

TEST_SUITE_END();
