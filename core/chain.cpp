#include "core/chain.hpp"

#include <algorithm>
#include <cstring>

namespace hallmark {

namespace {

hash256 hash_from_hex(const char* text) {
  return *from_hex_fixed<32>(text);
}

// Genesis hashes are pinned: a change to the header layout, the hash or the
// genesis parameters changes them and fails tests/unit/chain_test.cpp.
const chain_params chains[] = {
  {"devnet", 4, 1, 200, 4, 1000, 300, 1767225600,
   hash_from_hex(
     "8a80cfea792deef45fa3493a70699fcbf07dabdbc4531176067da4eb81dfed55"),
   60, 1, 250, 1000, 3000, 32},
  {"testnet", 1u << 20, 60, 200, 1u << 12, 1440, 300, 1767225600,
   hash_from_hex(
     "7df4340d372a265ac30521b6a8587ded3b0527b0242ae52c598b9657998b6e89")},
  {"mainnet", 1u << 24, 120, 200, 1u << 16, 720, 300, 1767225600,
   hash_from_hex(
     "6e805b5ff09e482b4e335a2c9096e2b479272e4d456c2894ffe7ef616858dcbf")},
};

} // namespace

std::string to_decimal(work_t x) {
  if (x == 0)
    return "0";
  std::string out;
  while (x > 0) {
    out.push_back(static_cast<char>('0' + static_cast<int>(x % 10)));
    x /= 10;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::array<uint8_t, header_size> header_bytes(const header& h) {
  std::array<uint8_t, header_size> out;
  auto p = out.data();
  put_u16(p, h.version);
  p += 2;
  put_u64(p, h.height);
  p += 8;
  for (auto* field : {&h.previous, &h.merkle_root, &h.state_root}) {
    std::memcpy(p, field->data(), 32);
    p += 32;
  }
  put_u64(p, h.timestamp);
  p += 8;
  put_u64(p, h.difficulty);
  p += 8;
  std::memcpy(p, h.producer.data(), 32);
  p += 32;
  put_u64(p, h.nonce);
  return out;
}

std::optional<header> header_from_bytes(byte_view bytes) {
  if (bytes.size() != header_size)
    return std::nullopt;
  auto p = bytes.data();
  auto u64 = [&] {
    auto x = get_u64(p);
    p += 8;
    return x;
  };
  auto h32 = [&] {
    hash256 x;
    std::memcpy(x.data(), p, 32);
    p += 32;
    return x;
  };
  header h;
  h.version = get_u16(p);
  p += 2;
  h.height = u64();
  h.previous = h32();
  h.merkle_root = h32();
  h.state_root = h32();
  h.timestamp = u64();
  h.difficulty = u64();
  h.producer = h32();
  h.nonce = u64();
  return h;
}

hash256 block_hash(const header& h) {
  return blake2b(header_bytes(h));
}

hash256 merkle_root(std::vector<hash256> level) {
  if (level.empty())
    return hash256{};
  while (level.size() > 1) {
    size_t next = 0;
    for (size_t i = 0; i < level.size(); i += 2) {
      if (i + 1 < level.size())
        level[next++] = hasher{}.add(level[i]).add(level[i + 1]).finish();
      else
        level[next++] = level[i];
    }
    level.resize(next);
  }
  return level.front();
}

std::vector<hash256> leaf_ids(const block& b) {
  std::vector<hash256> out;
  out.reserve(b.records.size());
  for (auto& r : b.records)
    out.push_back(leaf_id(r));
  return out;
}

size_t record_count(const block& b) {
  size_t n = 0;
  for (auto& r : b.records)
    n += record_count(r);
  return n;
}

const chain_params* find_chain(std::string_view name) {
  for (auto& c : chains)
    if (c.name == name)
      return &c;
  return nullptr;
}

header genesis_header(const chain_params& params) {
  header h;
  h.height = 0;
  h.timestamp = params.genesis_timestamp;
  h.difficulty = params.min_difficulty;
  // The producer field of genesis spells the chain's name, so genesis
  // blocks of different chains never share a hash.
  std::memcpy(h.producer.data(), params.name.data(),
              std::min(params.name.size(), h.producer.size()));
  return h;
}

uint64_t next_difficulty(const chain_params& params, uint64_t height,
                         const header_lookup& ancestor) {
  if (height == 0)
    return params.min_difficulty;
  auto parent = ancestor(height - 1);
  if (height % params.retarget_interval != 0
      || height < params.retarget_interval)
    return parent.difficulty;
  auto first = ancestor(height - params.retarget_interval);
  uint64_t expected = params.target_spacing * (params.retarget_interval - 1);
  uint64_t actual = parent.timestamp > first.timestamp
                      ? parent.timestamp - first.timestamp
                      : 1;
  actual = std::clamp(actual, std::max<uint64_t>(expected / 4, 1),
                      expected * 4);
  auto scaled = static_cast<work_t>(parent.difficulty) * expected / actual;
  // expected / 4 rounds down, which alone would let a fast interval raise the
  // difficulty by a little more than four times.
  scaled = std::min(scaled, static_cast<work_t>(parent.difficulty) * 4);
  if (scaled > UINT64_MAX)
    scaled = UINT64_MAX;
  return std::max<uint64_t>(static_cast<uint64_t>(scaled),
                            params.min_difficulty);
}

uint64_t median_time_past(uint64_t height, const header_lookup& ancestor) {
  std::vector<uint64_t> times;
  for (uint64_t h = height; h > 0 && times.size() < 11; --h)
    times.push_back(ancestor(h - 1).timestamp);
  if (times.empty())
    return 0;
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

caf::error check_header(const header& h) {
  if (h.version != block_version)
    return make_error(ec::bad_block,
                      "unknown block version " + std::to_string(h.version));
  if (h.difficulty == 0)
    return make_error(ec::bad_difficulty, "difficulty must be at least 1");
  if (!meets_difficulty(block_hash(h), h.difficulty))
    return make_error(ec::bad_work, "block hash does not meet its difficulty");
  return {};
}

caf::error check_header_context(const chain_params& params, const header& h,
                                const header& parent,
                                const header_lookup& ancestor, uint64_t now) {
  if (h.height != parent.height + 1)
    return make_error(ec::bad_block, "height does not follow the parent's");
  if (h.previous != block_hash(parent))
    return make_error(ec::unknown_parent, "previous hash is not the parent's");
  auto want = next_difficulty(params, h.height, ancestor);
  if (h.difficulty != want)
    return make_error(ec::bad_difficulty,
                      "difficulty " + std::to_string(h.difficulty)
                        + " where the chain demands " + std::to_string(want));
  if (h.timestamp <= median_time_past(h.height, ancestor))
    return make_error(ec::bad_timestamp,
                      "timestamp not after the median of the last 11 blocks");
  if (h.timestamp > now + params.max_future_seconds)
    return make_error(ec::future_timestamp,
                      "timestamp " + std::to_string(h.timestamp)
                        + " is more than "
                        + std::to_string(params.max_future_seconds)
                        + " s ahead of this node's clock ("
                        + std::to_string(now) + "): not valid yet");
  return {};
}

caf::error check_block(const block& b) {
  if (auto err = check_header(b.hdr))
    return err;
  if (record_count(b) > max_block_records)
    return make_error(ec::too_large, "block holds more than 10000 records");
  for (auto& r : b.records)
    if (auto err = check_fields(r))
      return err;
  if (merkle_root(leaf_ids(b)) != b.hdr.merkle_root)
    return make_error(ec::bad_block, "merkle root does not match the records");
  return {};
}

caf::error check_signatures(const block& b, size_t first, size_t last) {
  last = std::min(last, b.records.size());
  for (size_t i = first; i < last; ++i)
    if (auto err = check_signatures(b.records[i]))
      return err;
  return {};
}

bool mine(header& h, uint64_t max_tries) {
  for (uint64_t i = 0; i < max_tries; ++i, ++h.nonce)
    if (meets_difficulty(block_hash(h), h.difficulty))
      return true;
  return false;
}

} // namespace hallmark
