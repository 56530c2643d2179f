#include "core/crypto.hpp"

#include <cstring>
#include <mutex>
#include <stdexcept>

#include <sodium.h>

namespace hallmark {

static_assert(sizeof(crypto_generichash_state) <= 384);

void crypto_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0)
      throw std::runtime_error("libsodium failed to initialise");
  });
}

hash256 blake2b(byte_view data) {
  hash256 out;
  crypto_generichash(out.data(), out.size(), data.data(), data.size(), nullptr,
                     0);
  return out;
}

hasher::hasher() {
  crypto_generichash_init(reinterpret_cast<crypto_generichash_state*>(state_),
                          nullptr, 0, 32);
}

hasher& hasher::add(byte_view data) {
  crypto_generichash_update(reinterpret_cast<crypto_generichash_state*>(state_),
                            data.data(), data.size());
  return *this;
}

hasher& hasher::add_u8(uint8_t x) {
  return add(byte_view{&x, 1});
}

hasher& hasher::add_u16(uint16_t x) {
  uint8_t buf[2];
  put_u16(buf, x);
  return add(buf);
}

hasher& hasher::add_u32(uint32_t x) {
  uint8_t buf[4];
  put_u32(buf, x);
  return add(buf);
}

hasher& hasher::add_u64(uint64_t x) {
  uint8_t buf[8];
  put_u64(buf, x);
  return add(buf);
}

hasher& hasher::add_sized(byte_view data) {
  add_u32(static_cast<uint32_t>(data.size()));
  return add(data);
}

hash256 hasher::finish() {
  hash256 out;
  crypto_generichash_final(reinterpret_cast<crypto_generichash_state*>(state_),
                           out.data(), out.size());
  return out;
}

key_pair key_pair::generate() {
  crypto_init();
  key_pair kp;
  crypto_sign_keypair(kp.public_.data(), kp.secret_.data());
  return kp;
}

key_pair key_pair::from_seed(byte_view seed) {
  crypto_init();
  if (seed.size() != crypto_sign_SEEDBYTES)
    throw std::invalid_argument("an Ed25519 seed has 32 bytes");
  key_pair kp;
  crypto_sign_seed_keypair(kp.public_.data(), kp.secret_.data(), seed.data());
  return kp;
}

key_pair::~key_pair() {
  sodium_memzero(secret_.data(), secret_.size());
}

std::array<uint8_t, 32> key_pair::seed() const {
  std::array<uint8_t, 32> out;
  crypto_sign_ed25519_sk_to_seed(out.data(), secret_.data());
  return out;
}

signature key_pair::sign(byte_view message) const {
  signature sig;
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(),
                       secret_.data());
  return sig;
}

bool verify(const signature& sig, byte_view message, const public_key& key) {
  return crypto_sign_verify_detached(sig.data(), message.data(), message.size(),
                                     key.data())
         == 0;
}

std::string short_key(const public_key& key) {
  return to_hex(byte_view{key.data(), 8});
}

std::string to_hex(byte_view data) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.resize(data.size() * 2);
  for (size_t i = 0; i < data.size(); ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 0x0f];
  }
  return out;
}

std::optional<std::vector<uint8_t>> from_hex(std::string_view text) {
  if (text.size() % 2 != 0)
    return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  };
  std::vector<uint8_t> out(text.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    auto hi = nibble(text[2 * i]);
    auto lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

void put_u16(uint8_t* out, uint16_t x) {
  out[0] = static_cast<uint8_t>(x);
  out[1] = static_cast<uint8_t>(x >> 8);
}

void put_u32(uint8_t* out, uint32_t x) {
  for (int i = 0; i < 4; ++i)
    out[i] = static_cast<uint8_t>(x >> (8 * i));
}

void put_u64(uint8_t* out, uint64_t x) {
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<uint8_t>(x >> (8 * i));
}

uint16_t get_u16(const uint8_t* in) {
  return static_cast<uint16_t>(in[0] | in[1] << 8);
}

uint32_t get_u32(const uint8_t* in) {
  uint32_t x = 0;
  for (int i = 3; i >= 0; --i)
    x = x << 8 | in[i];
  return x;
}

uint64_t get_u64(const uint8_t* in) {
  uint64_t x = 0;
  for (int i = 7; i >= 0; --i)
    x = x << 8 | in[i];
  return x;
}

} // namespace hallmark
