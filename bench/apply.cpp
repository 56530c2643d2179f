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
#include "bench/chain_builder.hpp"
#include "storage/chain_store.hpp"

using namespace hallmark;
using namespace hallmark::bench;

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
    auto store = chain_store::open(dir.string(), params, uint64_t{64} << 20);
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
      std::vector<encoded> batch(
        chain.begin() + static_cast<long>(i),
        chain.begin()
          + static_cast<long>(std::min(chain.size(), i + per_batch)));
      bool more = i + per_batch < chain.size();
      self->send(processor, atom::blocks_v, std::move(batch), more);
    }
    uint64_t height = 0;
    bool failed = false;
    for (size_t i = 0; i < batches; ++i)
      self->receive([&](apply_report& r) { height = r.height; },
                    [&](caf::error& err) {
                      std::fprintf(stderr, "apply: %s\n",
                                   message_of(err).c_str());
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
