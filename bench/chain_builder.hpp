// Shared by the benchmarks: timing, the Ed25519 verification limit on all
// cores, and a devnet chain of signed records built in memory.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "core/chain.hpp"
#include "core/memory_state.hpp"
#include "messages/codec.hpp"

namespace hallmark::bench {

using clock_type = std::chrono::steady_clock;

inline double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

inline unsigned cores() {
  return std::max(1u, std::thread::hardware_concurrency());
}

/// Runs f(i) for i in [0, n) on every core.
template <class F>
inline void parallel_for(size_t n, F f) {
  std::vector<std::thread> threads;
  std::atomic<size_t> next{0};
  for (unsigned t = 0; t < cores(); ++t)
    threads.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < n;)
        f(i);
    });
  for (auto& t : threads)
    t.join();
}

/// Ed25519 verifications per second across all cores.
inline double verify_limit() {
  auto key = key_pair::generate();
  std::vector<std::array<uint8_t, 104>> messages(4096);
  std::vector<signature> sigs(messages.size());
  for (size_t i = 0; i < messages.size(); ++i) {
    messages[i].fill(static_cast<uint8_t>(i));
    put_u64(messages[i].data(), i);
    sigs[i] = key.sign(messages[i]);
  }
  std::atomic<uint64_t> done{0};
  std::atomic<bool> stop{false};
  auto t0 = clock_type::now();
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < cores(); ++t)
    threads.emplace_back([&, t] {
      uint64_t n = 0;
      for (size_t i = t; !stop.load(std::memory_order_relaxed); ++i, ++n)
        if (!verify(sigs[i % sigs.size()], messages[i % messages.size()],
                    key.public_key_bytes()))
          std::abort();
      done += n;
    });
  std::this_thread::sleep_for(std::chrono::seconds{3});
  stop = true;
  for (auto& t : threads)
    t.join();
  return static_cast<double>(done.load()) / seconds_since(t0);
}

/// Mines `b` on `parent`, with the state root `state` gives it (and notes
/// it in `state`).
inline block seal(block b, const chain_params& params, const header& parent,
                  memory_state& state) {
  b.hdr.height = parent.height + 1;
  auto root = state.apply(b);
  if (!root)
    std::abort(); // the builder made a block that breaks a rule
  b.hdr.state_root = *root;
  b.hdr.previous = block_hash(parent);
  b.hdr.merkle_root = merkle_root(leaf_ids(b));
  b.hdr.timestamp = parent.timestamp + 1;
  b.hdr.difficulty = params.min_difficulty;
  mine(b.hdr, UINT64_MAX);
  state.seal(b.hdr);
  return b;
}

/// A devnet chain holding `records` signed records: issue batches of 100,
/// then a transfer of each issued item.
inline std::vector<encoded> build_chain(const chain_params& params,
                                        size_t records) {
  auto owner = key_pair::generate();
  auto buyer = key_pair::generate();
  std::vector<encoded> out;
  header parent = genesis_header(params);
  memory_state state{params};
  auto a = make_asset("bench", {1, 2, 3}, {}, owner);
  auto aid = asset_id(a);
  size_t items = records / 2;
  size_t per_block = max_block_records;
  uint64_t nonce = 0;
  // First block: the asset, then blocks of issues and of transfers.
  std::vector<hash256> issued;
  bool asset_done = false;
  while (issued.size() < items) {
    block b;
    if (!asset_done) {
      b.records.push_back(a);
      asset_done = true;
    }
    size_t want = std::min(items - issued.size(), per_block - 100);
    size_t batches = (want + 99) / 100;
    std::vector<issue_batch> made(batches);
    auto anchor = block_hash(parent);
    auto base = nonce;
    parallel_for(batches, [&](size_t k) {
      auto n = std::min<size_t>(100, want - k * 100);
      for (size_t i = 0; i < n; ++i)
        made[k].issues.push_back(make_issue(aid, base + k * 100 + i, owner));
      made[k].anchor = anchor;
      solve_batch(made[k], batch_difficulty(params.issue_difficulty, n),
                  UINT64_MAX);
    });
    nonce += batches * 100;
    for (auto& m : made) {
      for (auto& i : m.issues)
        issued.push_back(record_id(i));
      b.records.push_back(std::move(m));
    }
    b = seal(std::move(b), params, parent, state);
    parent = b.hdr;
    out.push_back(encode(b));
  }
  for (size_t first = 0; first < issued.size(); first += per_block) {
    size_t n = std::min(per_block, issued.size() - first);
    block b;
    b.records.resize(n);
    parallel_for(n, [&](size_t i) {
      b.records[i] = make_transfer(issued[first + i], buyer.public_key_bytes(),
                                   owner);
    });
    b = seal(std::move(b), params, parent, state);
    parent = b.hdr;
    out.push_back(encode(b));
  }
  return out;
}

} // namespace hallmark::bench
