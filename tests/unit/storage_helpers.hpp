// Helpers of the storage tests that fill maps: bulky records and chains, and
// chain stores with a chosen map. Header-only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "storage/chain_store.hpp"
#include "tests/unit/helpers.hpp"

namespace hallmark::test::storage {

constexpr uint64_t mib = uint64_t{1} << 20;

/// An asset of about 1.2 KiB (a 1000-byte fingerprint), fixed by `label`.
inline asset bulky_asset(const std::string& label) {
  std::vector<uint8_t> fingerprint(1000, static_cast<uint8_t>(label.size()));
  fingerprint.insert(fingerprint.end(), label.begin(), label.end());
  return make_asset("work " + label, fingerprint, {}, seeded_key(0x11));
}

/// `n` blocks of 20 bulky assets (about 25 KiB of body each), built in
/// memory from devnet's genesis.
inline std::vector<block> bulky_chain(size_t n) {
  header_chain c{devnet()};
  std::vector<block> out;
  for (size_t h = 0; h < n; ++h) {
    std::vector<record> assets;
    for (int i = 0; i < 20; ++i)
      assets.push_back(
        bulky_asset(std::to_string(h) + "/" + std::to_string(i)));
    out.push_back(extend(c, std::move(assets)));
  }
  return out;
}

/// A devnet chain store in `dir` whose map starts at `map` bytes and grows
/// up to `ceiling`.
inline std::unique_ptr<chain_store> open_store(const temp_dir& dir,
                                               uint64_t map, uint64_t ceiling) {
  auto s = chain_store::open(dir.sub("chain"), devnet(), map, ceiling);
  REQUIRE_MESSAGE(s, (s ? "" : message_of(s.error())));
  return std::move(*s);
}

} // namespace hallmark::test::storage
