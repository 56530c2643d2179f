// Hashes, Ed25519 keys and signatures, hex: the primitives every record and
// block rule is written in. Thin over libsodium; no CAF here.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hallmark {

using byte_view = std::span<const uint8_t>;
using hash256 = std::array<uint8_t, 32>;
using public_key = std::array<uint8_t, 32>;
using signature = std::array<uint8_t, 64>;

/// Hashes a hash256 for unordered containers: its first 8 bytes.
struct hash256_hasher {
  size_t operator()(const hash256& h) const noexcept {
    size_t x;
    std::memcpy(&x, h.data(), sizeof(x));
    return x;
  }
};

/// Calls sodium_init once; safe to call from anywhere, any number of times.
void crypto_init();

/// BLAKE2b-256 of `data`.
hash256 blake2b(byte_view data);

/// Incremental BLAKE2b-256, for hashing a layout written field by field.
class hasher {
public:
  hasher();
  hasher& add(byte_view data);
  hasher& add_u8(uint8_t x);
  hasher& add_u16(uint16_t x);
  hasher& add_u32(uint32_t x);
  hasher& add_u64(uint64_t x);
  /// Adds a 4-byte little-endian length, then the bytes.
  hasher& add_sized(byte_view data);
  hash256 finish();

private:
  alignas(64) unsigned char state_[384];
};

/// An Ed25519 key pair; the 64-byte libsodium secret key holds the public key.
class key_pair {
public:
  /// A fresh random key pair.
  static key_pair generate();
  /// The key pair of a 32-byte seed.
  static key_pair from_seed(byte_view seed);

  const public_key& public_key_bytes() const { return public_; }
  std::array<uint8_t, 32> seed() const;
  signature sign(byte_view message) const;

  ~key_pair();
  key_pair(const key_pair&) = default;
  key_pair& operator=(const key_pair&) = default;

private:
  key_pair() = default;
  std::array<uint8_t, 64> secret_{};
  public_key public_{};
};

/// True if `sig` is `key`'s valid signature over `message`.
bool verify(const signature& sig, byte_view message, const public_key& key);

/// Lower-case hex of `data`.
std::string to_hex(byte_view data);

/// A key as logs and tables show it: the hex of its first 8 bytes.
std::string short_key(const public_key& key);

/// The bytes of even-length hex text, or nothing if it is not hex.
std::optional<std::vector<uint8_t>> from_hex(std::string_view text);

/// Parses exactly N bytes of hex.
template <size_t N>
std::optional<std::array<uint8_t, N>> from_hex_fixed(std::string_view text) {
  auto bytes = from_hex(text);
  if (!bytes || bytes->size() != N)
    return std::nullopt;
  std::array<uint8_t, N> out;
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

/// Copies a byte range of exactly N bytes into an array; nothing otherwise.
template <size_t N>
std::optional<std::array<uint8_t, N>> to_fixed(byte_view data) {
  if (data.size() != N)
    return std::nullopt;
  std::array<uint8_t, N> out;
  std::copy(data.begin(), data.end(), out.begin());
  return out;
}

/// Little-endian integer coding, for fixed layouts and LMDB values.
void put_u16(uint8_t* out, uint16_t x);
void put_u32(uint8_t* out, uint32_t x);
void put_u64(uint8_t* out, uint64_t x);
uint16_t get_u16(const uint8_t* in);
uint32_t get_u32(const uint8_t* in);
uint64_t get_u64(const uint8_t* in);

} // namespace hallmark
