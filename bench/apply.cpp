// bench/apply: how fast a fresh node applies a devnet chain of N signed
// records, against libsodium's Ed25519 verification rate on all cores
// measured in the same run.
//
//   apply [--records N]      (default 200,000)
//
// Last line: apply records_per_s=X verify_limit_per_s=Y ratio=X/Y
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/block_processor.hpp"
#include "actors/verifier.hpp"
#include "storage/chain_store.hpp"

using namespace hallmark;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

unsigned cores() {
  return std::max(1u, std::thread::hardware_concurrency());
}

/// Runs f(i) for i in [0, n) on every core.
template <class F>
void parallel_for(size_t n, F f) {
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
double verify_limit() {
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

block seal(block b, const chain_params& params, const header& parent) {
  b.hdr.height = parent.height + 1;
  b.hdr.previous = block_hash(parent);
  b.hdr.merkle_root = merkle_root(leaf_ids(b));
  b.hdr.timestamp = parent.timestamp + 1;
  b.hdr.difficulty = params.min_difficulty;
  mine(b.hdr, UINT64_MAX);
  return b;
}

/// A devnet chain holding `records` signed records: issue batches of 100,
/// then a transfer of each issued item.
std::vector<encoded> build_chain(const chain_params& params, size_t records) {
  auto owner = key_pair::generate();
  auto buyer = key_pair::generate();
  std::vector<encoded> out;
  header parent = genesis_header(params);
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
    b = seal(std::move(b), params, parent);
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
    b = seal(std::move(b), params, parent);
    parent = b.hdr;
    out.push_back(encode(b));
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  size_t records = 200'000;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--records" && i + 1 < argc) {
      records = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: apply [--records N]\n");
      return 2;
    }
  }
  if (records < 2) {
    std::fprintf(stderr, "apply: --records must be at least 2\n");
    return 2;
  }
  crypto_init();
  auto& params = *find_chain("devnet");
  std::printf("building a devnet chain of %zu records ...\n", records);
  std::fflush(stdout);
  auto t_build = clock_type::now();
  auto chain = build_chain(params, records);
  size_t total = 0;
  size_t bytes = 0;
  for (auto& e : chain) {
    total += record_count(*decode_block(e));
    bytes += e.size();
  }
  std::printf("built %zu blocks, %zu records, %.1f MiB in %.1f s\n",
              chain.size(), total, bytes / 1048576.0, seconds_since(t_build));

  auto dir = std::filesystem::temp_directory_path()
             / ("hallmark-bench-apply-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  double rate = 0;
  {
    auto store = chain_store::open(dir.string(), params, uint64_t{8} << 30);
    if (!store) {
      std::fprintf(stderr, "apply: %s\n", message_of(store.error()).c_str());
      return 1;
    }
    caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", static_cast<size_t>(cores()));
    caf::actor_system sys{cfg};
    std::vector<verifier_actor> verifiers;
    for (unsigned i = 0; i < cores(); ++i)
      verifiers.push_back(sys.spawn(verifier));
    block_processor_config bp_cfg;
    auto processor = sys.spawn<caf::detached>(block_processor, store->get(),
                                              bp_cfg, verifiers);
    caf::scoped_actor self{sys};
    auto t0 = clock_type::now();
    // Batches of blocks as a peer sends them; all in flight at once, as
    // the prefetcher pipelines them.
    const size_t per_batch = 1;
    size_t batches = 0;
    for (size_t i = 0; i < chain.size(); i += per_batch, ++batches) {
      std::vector<encoded> batch(chain.begin() + static_cast<long>(i),
                                 chain.begin()
                                   + static_cast<long>(
                                     std::min(chain.size(), i + per_batch)));
      bool more = i + per_batch < chain.size();
      self->send(processor, atom::blocks::value, std::move(batch), more);
    }
    uint64_t height = 0;
    bool failed = false;
    for (size_t i = 0; i < batches; ++i)
      self->receive(
        [&](apply_report& r) { height = r.height; },
        [&](caf::error& err) {
          std::fprintf(stderr, "apply: %s\n", message_of(err).c_str());
          failed = true;
        });
    auto elapsed = seconds_since(t0);
    if (failed || height != chain.size()) {
      std::fprintf(stderr, "apply: chain ended at height %llu, not %zu\n",
                   static_cast<unsigned long long>(height), chain.size());
      return 1;
    }
    rate = static_cast<double>(total) / elapsed;
    std::printf("applied %zu records in %.2f s on %u cores\n", total, elapsed,
                cores());
    self->send_exit(processor, caf::exit_reason::user_shutdown);
    for (auto& v : verifiers)
      self->send_exit(v, caf::exit_reason::user_shutdown);
  }
  std::filesystem::remove_all(dir);
  auto limit = verify_limit();
  std::printf("apply records_per_s=%.0f verify_limit_per_s=%.0f ratio=%.2f\n",
              rate, limit, rate / limit);
  return 0;
}
