// Shared by the libFuzzer targets in this folder: invariant checks that
// abort (so libFuzzer records the input as a crash), the fuzzer's bytes as
// a word-aligned message, and deterministic randomness so that an input
// always replays the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <sodium.h>

#include "core/crypto.hpp"
#include "core/error.hpp"
#include "messages/codec.hpp"

/// Aborts, naming the broken invariant, unless `cond` holds.
#define HALLMARK_FUZZ_CHECK(cond)                                              \
  ((cond) ? void(0) : ::hallmark::fuzz::broken(#cond, __FILE__, __LINE__))

namespace hallmark::fuzz {

[[noreturn]] inline void broken(const char* what, const char* file, int line) {
  std::fprintf(stderr, "invariant broken at %s:%d: %s\n", file, line, what);
  std::abort();
}

/// The fuzzer's bytes as a message: every whole 8-byte word of them (the
/// decoders take whole words; a tail is dropped).
inline encoded words_of_input(const uint8_t* data, size_t size) {
  std::vector<uint64_t> words(size / 8);
  if (!words.empty())
    std::memcpy(words.data(), data, words.size() * 8);
  return encoded{std::move(words)};
}

/// True if `err` carries one of `codes`.
inline bool is_one_of(const caf::error& err, std::initializer_list<ec> codes) {
  for (auto c : codes)
    if (code_of(err) == c)
      return true;
  return false;
}

/// libsodium's randomness from a fixed seed that `reset` rewinds: key pairs,
/// ephemeral keys and stream headers come out the same on every run of an
/// input. Install before the first crypto_init().
class deterministic_random {
public:
  static void install() {
    static randombytes_implementation impl = {
      [] { return "hallmark-fuzz"; },
      [] { return next_u32(); },
      [] {},
      [](uint32_t upper) { return upper < 2 ? 0 : next_u32() % upper; },
      [](void* buf, size_t size) { fill(buf, size); },
      nullptr,
    };
    randombytes_set_implementation(&impl);
    crypto_init();
  }

  /// Starts the stream again from the seed.
  static void reset() { counter() = 0; }

private:
  static uint64_t& counter() {
    static uint64_t n = 0;
    return n;
  }
  static void fill(void* buf, size_t size) {
    unsigned char seed[randombytes_SEEDBYTES] = {};
    auto n = counter()++;
    std::memcpy(seed, &n, sizeof(n));
    randombytes_buf_deterministic(buf, size, seed);
  }
  static uint32_t next_u32() {
    uint32_t x;
    fill(&x, sizeof(x));
    return x;
  }
};

} // namespace hallmark::fuzz
