// The fixed identities and settings the handshake and frame-opener fuzzers
// (and the seeds made for them, tests/fuzz/seeds.cpp) run with.
#pragma once

#include <array>

#include "core/crypto.hpp"
#include "messages/handshake.hpp"

namespace hallmark::fuzz {

inline const key_pair& initiator_key() {
  static const key_pair k = [] {
    std::array<uint8_t, 32> seed{};
    seed.fill(0x11);
    return key_pair::from_seed(seed);
  }();
  return k;
}

inline const key_pair& responder_key() {
  static const key_pair k = [] {
    std::array<uint8_t, 32> seed{};
    seed.fill(0x22);
    return key_pair::from_seed(seed);
  }();
  return k;
}

inline handshake_settings settings(const key_pair& identity) {
  return handshake_settings{"devnet", identity, protocol_version_min,
                            protocol_version_max};
}

} // namespace hallmark::fuzz
