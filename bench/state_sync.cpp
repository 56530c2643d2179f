// bench/state_sync: a fresh node fetches the state of a devnet chain whose
// records create N items, by state sync (`hallmark run --state-sync`), from
// node A over the encrypted loopback link; then another fresh node syncs the
// same chain from A by replaying its blocks, as bench/sync measures. All
// three are real `hallmark run` processes, A not producing.
//
//   state_sync [--items N] [--hallmark PATH] [--port P]
//
// Last line:
//   state_sync items_per_s=X replay_records_per_s=Y speedup=X/Y
//              wire_bytes_ratio=W peak_rss_mb=M
// where X is the state's key/values over the seconds from the state-syncing
// node's start until its `hallmark status` says phase "done", Y the chain's
// records over the seconds from the replaying node's start until its tip is
// A's (both on this program's clock, polled every 100 ms, so process start,
// linking and headers count in both), W the proof bytes the state sync
// received over the raw key/value bytes (33 a key, 105 an item's value, 72
// an asset's), and M the state-syncing node's peak resident memory (VmHWM,
// read just before it is stopped). The lines before it give the aims each
// figure is held to and whether it met them.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/chain_builder.hpp"
#include "bench/process.hpp"
#include "core/log.hpp"
#include "storage/chain_store.hpp"

using namespace hallmark;
using namespace hallmark::bench;

namespace {

/// Assets the items are issued of, round-robin by batch.
constexpr size_t asset_count = 4;
/// Bytes of a state key, an item's value, an asset's value (docs/state.md).
constexpr size_t key_bytes = 33;
constexpr size_t item_value_bytes = 105;
constexpr size_t asset_value_bytes = 72;
/// The state-syncing node's target is this many blocks behind A's tip.
constexpr int depth = 2;

/// The aims (issue text): what each figure of the last line is held to.
constexpr double speedup_aim = 10;      // at least
constexpr double wire_ratio_aim = 1.3;  // at most
constexpr double peak_rss_aim_mb = 128; // at most

/// A devnet chain whose records create `items` items: the first block
/// registers `asset_count` assets, then issue batches of 100 fill blocks of
/// up to 10 000 records, then `depth` empty blocks, so that the state at
/// the state sync's target holds every item.
std::vector<encoded> build_item_chain(const chain_params& params,
                                      size_t items) {
  auto owner = key_pair::generate();
  std::vector<encoded> out;
  header parent = genesis_header(params);
  memory_state state{params};
  std::vector<hash256> assets;
  block first;
  for (size_t i = 0; i < asset_count; ++i) {
    auto a = make_asset("bench " + std::to_string(i),
                        {1, 2, 3, static_cast<uint8_t>(i)}, {}, owner);
    assets.push_back(asset_id(a));
    first.records.push_back(std::move(a));
  }
  size_t issued = 0;
  uint64_t nonce = 0;
  bool first_block = true;
  while (issued < items) {
    block b = first_block ? std::move(first) : block{};
    size_t room = max_block_records - (first_block ? 100 : 0);
    first_block = false;
    size_t want = std::min(items - issued, room);
    size_t batches = (want + max_batch_issues - 1) / max_batch_issues;
    std::vector<issue_batch> made(batches);
    auto anchor = block_hash(parent);
    auto base = nonce;
    parallel_for(batches, [&](size_t k) {
      auto n = std::min(max_batch_issues, want - k * max_batch_issues);
      auto& aid = assets[(base / max_batch_issues + k) % assets.size()];
      for (size_t i = 0; i < n; ++i)
        made[k].issues.push_back(
          make_issue(aid, base + k * max_batch_issues + i, owner));
      made[k].anchor = anchor;
      solve_batch(made[k], batch_difficulty(params.issue_difficulty, n),
                  UINT64_MAX);
    });
    nonce += batches * max_batch_issues;
    issued += want;
    for (auto& m : made)
      b.records.push_back(std::move(m));
    b = seal(std::move(b), params, parent, state);
    parent = b.hdr;
    out.push_back(encode(b));
  }
  for (int i = 0; i < depth; ++i) {
    auto b = seal(block{}, params, parent, state);
    parent = b.hdr;
    out.push_back(encode(b));
  }
  return out;
}

/// `hallmark status --json` of `datadir`, or null.
nlohmann::json status_of(const std::string& bin, const std::string& datadir,
                         const std::string& scratch) {
  auto out = scratch + "/status.json";
  std::filesystem::remove(out);
  if (run_to_end(bin, {"status", "--datadir", datadir, "--json"}, out) != 0)
    return nullptr;
  std::ifstream in{out};
  return nlohmann::json::parse(in, nullptr, false);
}

template <class T>
T field_or(const nlohmann::json& j, const char* key, T fallback) {
  auto f = j.find(key);
  if (f == j.end() || f->is_null())
    return fallback;
  return f->get<T>();
}

const char* met(bool ok) {
  return ok ? "met" : "NOT met";
}

} // namespace

int main(int argc, char** argv) {
  run_options defaults;
  defaults.count = 1'000'000;
  defaults.port = 19980;
  auto opts = parse_run_options(argc, argv, "state_sync", "--items", 1,
                                defaults);
  if (!opts)
    return 2;
  size_t items = opts->count;
  std::string bin = opts->bin;
  int port = opts->port;
  crypto_init();
  auto& params = *find_chain("devnet");
  auto dir = std::filesystem::temp_directory_path()
             / ("hallmark-bench-state-sync-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto a_dir = (dir / "a").string();
  auto s_dir = (dir / "s").string(); // state sync
  auto r_dir = (dir / "r").string(); // block replay
  auto scratch = dir.string();

  std::printf("building a devnet chain of %zu items of %zu assets ...\n", items,
              asset_count);
  std::fflush(stdout);
  auto built = clock_type::now();
  auto chain = build_item_chain(params, items);
  size_t records = 0;
  size_t chain_bytes = 0;
  for (auto& e : chain) {
    records += record_count(*decode_block(e));
    chain_bytes += e.size();
  }
  std::printf("built %zu blocks, %zu records, %.1f MiB in %.1f s\n",
              chain.size(), records,
              static_cast<double>(chain_bytes) / (1 << 20),
              seconds_since(built));
  std::fflush(stdout);
  size_t keys_expected = items + asset_count;
  size_t raw_bytes = keys_expected * key_bytes + items * item_value_bytes
                     + asset_count * asset_value_bytes;

  for (auto* d : {&a_dir, &s_dir, &r_dir})
    if (run_to_end(
          bin,
          {"init", "--datadir", *d, "--chain", "devnet", "--http-listen", ""},
          scratch + "/init.log")
        != 0) {
      std::fprintf(stderr, "state_sync: hallmark init failed\n");
      return 1;
    }
  // Node A holds the chain before it starts; a writer commits every 16
  // blocks so that no transaction holds the whole state.
  {
    auto store = chain_store::open(a_dir + "/chain", params,
                                   uint64_t{64} << 20);
    if (!store) {
      std::fprintf(stderr, "state_sync: %s\n",
                   message_of(store.error()).c_str());
      return 1;
    }
    for (size_t first = 0; first < chain.size(); first += 16) {
      chain_writer w{**store};
      for (size_t i = first; i < std::min(chain.size(), first + 16); ++i)
        if (auto err = w.apply(*decode_block(chain[i]), chain[i], unix_now())) {
          std::fprintf(stderr, "state_sync: %s\n", message_of(err).c_str());
          return 1;
        }
      if (auto err = w.commit()) {
        std::fprintf(stderr, "state_sync: %s\n", message_of(err).c_str());
        return 1;
      }
    }
  }
  auto a_key = key_of(bin, a_dir, scratch);
  auto listen = "127.0.0.1:" + std::to_string(port);
  auto a = start(bin, {"run", "--datadir", a_dir, "--listen", listen},
                 a_dir + "/node.log");
  auto target = static_cast<long long>(chain.size());
  for (int i = 0; i < 100 && height_of(bin, a_dir, scratch) < target; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  if (height_of(bin, a_dir, scratch) < target) {
    stop(a);
    std::fprintf(stderr, "state_sync: node A did not come up; logs in %s\n",
                 dir.c_str());
    return 1;
  }
  std::printf("node A ready: serves %zu blocks, %zu records, %zu state "
              "keys on %s (not producing)\n",
              chain.size(), records, keys_expected, listen.c_str());
  std::fflush(stdout);

  // State sync: node S from its start until its status says "done".
  auto peer = a_key + "@" + listen;
  auto t0 = clock_type::now();
  auto s = start(bin,
                 {"run", "--datadir", s_dir, "--state-sync",
                  "--state-sync-depth", std::to_string(depth), "--peer", peer},
                 s_dir + "/node.log");
  nlohmann::json progress;
  std::string phase;
  double state_s = 0;
  auto last_print = clock_type::now();
  while (seconds_since(t0) < 1800) {
    auto j = status_of(bin, s_dir, scratch);
    if (j.is_object() && j.contains("state_sync")) {
      progress = j["state_sync"];
      auto now_phase = field_or<std::string>(progress, "phase", "");
      if (now_phase != phase || seconds_since(last_print) >= 10) {
        std::printf("  %5.1f s  state sync: %s, headers %llu/%llu, target "
                    "%llu, %llu keys, %llu bytes, %llu keys/s\n",
                    seconds_since(t0), now_phase.c_str(),
                    field_or<unsigned long long>(progress, "headers", 0),
                    field_or<unsigned long long>(progress, "best_height", 0),
                    field_or<unsigned long long>(progress, "target_height", 0),
                    field_or<unsigned long long>(progress, "keys", 0),
                    field_or<unsigned long long>(progress, "bytes", 0),
                    field_or<unsigned long long>(progress, "keys_per_s", 0));
        std::fflush(stdout);
        last_print = clock_type::now();
        phase = now_phase;
      }
      if (phase == "done") {
        state_s = seconds_since(t0);
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  // After the state, block sync takes S to A's tip.
  long long s_height = -1;
  if (phase == "done")
    for (int i = 0; i < 300 && s_height < target; ++i) {
      s_height = height_of(bin, s_dir, scratch);
      if (s_height < target)
        std::this_thread::sleep_for(std::chrono::milliseconds{100});
    }
  // The sync's own clock, to set beside ours; read again to see whether it
  // stopped at "done".
  auto elapsed_ms = field_or<unsigned long long>(progress, "elapsed_ms", 0);
  auto later = status_of(bin, s_dir, scratch);
  unsigned long long elapsed_later_ms = 0;
  if (later.is_object() && later.contains("state_sync"))
    elapsed_later_ms = field_or<unsigned long long>(later["state_sync"],
                                                    "elapsed_ms", 0);
  auto rss = peak_rss_mb(s);
  std::printf("node S at the end: peak %.0f MiB; resident %.0f MiB = "
              "anonymous %.0f + file-backed (LMDB map) %.0f\n",
              rss, status_mb(s, "VmRSS"), status_mb(s, "RssAnon"),
              status_mb(s, "RssFile"));
  stop(s);
  if (phase != "done") {
    stop(a);
    std::fprintf(stderr,
                 "state_sync: node S's state sync did not finish (phase "
                 "\"%s\"); logs in %s\n",
                 phase.c_str(), dir.c_str());
    return 1;
  }
  auto keys = field_or<unsigned long long>(progress, "keys", 0);
  auto bytes = field_or<unsigned long long>(progress, "bytes", 0);
  std::printf("node S state-synced %llu keys, %llu bytes of proofs in %.2f s "
              "(from its start to phase done; the sync's own elapsed_ms "
              "%llu, %llu a moment later), %llu retargets, %llu bad proofs; "
              "then its tip reached %lld of %lld\n",
              keys, bytes, state_s, elapsed_ms, elapsed_later_ms,
              field_or<unsigned long long>(progress, "retargets", 0),
              field_or<unsigned long long>(progress, "bad_proofs", 0), s_height,
              target);
  std::fflush(stdout);
  bool ok = true;
  if (keys != keys_expected) {
    std::fprintf(stderr,
                 "state_sync: node S holds %llu keys, the state has %zu\n",
                 keys, keys_expected);
    ok = false;
  }
  if (s_height < target) {
    std::fprintf(stderr,
                 "state_sync: node S's tip reached %lld of %lld after the "
                 "state sync\n",
                 s_height, target);
    ok = false;
  }

  // Block replay: node R from its start until its tip is A's.
  auto t1 = clock_type::now();
  auto r = start(bin, {"run", "--datadir", r_dir, "--peer", peer},
                 r_dir + "/node.log");
  long long h = -1;
  last_print = clock_type::now();
  while (seconds_since(t1) < 3600) {
    h = height_of(bin, r_dir, scratch);
    if (h >= target)
      break;
    if (seconds_since(last_print) >= 10) {
      std::printf("  %5.1f s  block replay: height %lld of %lld\n",
                  seconds_since(t1), h, target);
      std::fflush(stdout);
      last_print = clock_type::now();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  auto replay_s = seconds_since(t1);
  stop(r);
  stop(a);
  if (h < target) {
    std::fprintf(stderr,
                 "state_sync: node R reached %lld of %lld; logs in %s\n", h,
                 target, dir.c_str());
    return 1;
  }
  std::printf("node R replayed %zu records in %.2f s (from its start to A's "
              "tip)\n",
              records, replay_s);
  if (!ok) {
    std::fprintf(stderr, "state_sync: logs in %s\n", dir.c_str());
    return 1;
  }
  std::filesystem::remove_all(dir);

  auto state_rate = static_cast<double>(keys) / state_s;
  auto replay_rate = static_cast<double>(records) / replay_s;
  auto speedup = state_rate / replay_rate;
  auto wire_ratio = static_cast<double>(bytes) / static_cast<double>(raw_bytes);
  std::printf("raw key/values: %zu keys x %zu + %zu items x %zu + %zu assets "
              "x %zu = %zu bytes\n",
              keys_expected, key_bytes, items, item_value_bytes, asset_count,
              asset_value_bytes, raw_bytes);
  std::printf("aim speedup >= %.0f: %.2f, %s\n", speedup_aim, speedup,
              met(speedup >= speedup_aim));
  std::printf("aim wire_bytes_ratio <= %.1f: %.3f, %s\n", wire_ratio_aim,
              wire_ratio, met(wire_ratio <= wire_ratio_aim));
  std::printf("aim peak_rss_mb <= %.0f: %.0f, %s\n", peak_rss_aim_mb, rss,
              met(rss <= peak_rss_aim_mb));
  std::printf("state_sync items_per_s=%.0f replay_records_per_s=%.0f "
              "speedup=%.2f wire_bytes_ratio=%.3f peak_rss_mb=%.0f\n",
              state_rate, replay_rate, speedup, wire_ratio, rss);
  return 0;
}
