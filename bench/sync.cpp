// bench/sync: node B syncs a devnet chain of N signed records from node A
// over the encrypted loopback link, from an empty data directory to A's tip.
// Both are real `hallmark run` processes.
//
//   sync [--records N] [--peers K] [--assume-valid] [--hallmark PATH]
//        [--port P]
//
// --peers K: K serving nodes (ports P..P+K-1), each with a copy of the
// chain, and B fetching from all of them (--sync-peers K).
// --assume-valid: B runs with --assume-valid set to the chain's tip.
//
// Last line:
//   sync records_per_s=X verify_limit_per_s=Y ratio=X/Y peak_rss_mb=M
//        anon_mb=A status_p99_ms=P
// where Y is libsodium's Ed25519 verification rate on all cores measured in
// the same run, M node B's peak resident memory (VmHWM), and P the 99th
// percentile of the time `hallmark status` took against B, polled every
// 100 ms while it synced (process start included; its idle time is printed
// before, as the limit to compare with).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench/chain_builder.hpp"
#include "bench/process.hpp"
#include "core/log.hpp"
#include "storage/chain_store.hpp"

using namespace hallmark;
using namespace hallmark::bench;

int main(int argc, char** argv) {
  run_options defaults;
  defaults.count = 200'000;
  defaults.port = 19900;
  auto opts = parse_run_options(argc, argv, "sync", "--records", 2, defaults,
                                run_flags{.peers = true, .assume_valid = true});
  if (!opts)
    return 2;
  size_t records = opts->count;
  std::string bin = opts->bin;
  int port = opts->port;
  crypto_init();
  auto& params = *find_chain("devnet");
  auto dir = std::filesystem::temp_directory_path()
             / ("hallmark-bench-sync-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto a_dir = (dir / "a").string();
  auto b_dir = (dir / "b").string();
  auto scratch = dir.string();

  std::printf("building a devnet chain of %zu records ...\n", records);
  std::fflush(stdout);
  auto chain = build_chain(params, records);
  size_t total = 0;
  for (auto& e : chain)
    total += record_count(*decode_block(e));

  // Node A holds the chain before it starts.
  if (run_to_end(
        bin,
        {"init", "--datadir", a_dir, "--chain", "devnet", "--http-listen", ""},
        scratch + "/init.log")
        != 0
      || run_to_end(bin,
                    {"init", "--datadir", b_dir, "--chain", "devnet",
                     "--http-listen", ""},
                    scratch + "/init.log")
           != 0) {
    std::fprintf(stderr, "sync: hallmark init failed\n");
    return 1;
  }
  {
    auto store = chain_store::open(a_dir + "/chain", params,
                                   uint64_t{64} << 20);
    if (!store) {
      std::fprintf(stderr, "sync: %s\n", message_of(store.error()).c_str());
      return 1;
    }
    chain_writer w{**store};
    for (auto& e : chain)
      if (auto err = w.apply(*decode_block(e), e, unix_now())) {
        std::fprintf(stderr, "sync: %s\n", message_of(err).c_str());
        return 1;
      }
    if (auto err = w.commit()) {
      std::fprintf(stderr, "sync: %s\n", message_of(err).c_str());
      return 1;
    }
  }
  // The other serving nodes hold a copy of A's chain under their own keys.
  std::vector<std::string> servers{a_dir};
  for (size_t k = 1; k < opts->peers; ++k) {
    auto s_dir = (dir / ("s" + std::to_string(k))).string();
    if (run_to_end(bin,
                   {"init", "--datadir", s_dir, "--chain", "devnet",
                    "--http-listen", ""},
                   scratch + "/init.log")
        != 0) {
      std::fprintf(stderr, "sync: hallmark init failed\n");
      return 1;
    }
    std::filesystem::create_directories(s_dir + "/chain");
    std::filesystem::copy_file(
      a_dir + "/chain/data.mdb", s_dir + "/chain/data.mdb",
      std::filesystem::copy_options::overwrite_existing);
    servers.push_back(s_dir);
  }
  std::vector<pid_t> serving;
  std::vector<std::string> b_args{"run", "--datadir", b_dir, "--sync-peers",
                                  std::to_string(opts->peers)};
  for (size_t k = 0; k < servers.size(); ++k) {
    auto listen = "127.0.0.1:" + std::to_string(port + static_cast<int>(k));
    auto key = key_of(bin, servers[k], scratch);
    serving.push_back(
      start(bin, {"run", "--datadir", servers[k], "--listen", listen},
            servers[k] + "/node.log"));
    b_args.push_back("--peer");
    b_args.push_back(key + "@" + listen);
  }
  for (auto& s_dir : servers)
    for (int i = 0; i < 100 && height_of(bin, s_dir, scratch) < 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
  auto target = static_cast<long long>(chain.size());
  if (opts->assume_valid) {
    // The tip is the block assumed valid: every signature below it is
    // skipped, every other rule still checked.
    auto tip = decode_block(chain.back());
    b_args.push_back("--assume-valid");
    b_args.push_back(to_hex(block_hash(tip->hdr)));
  }
  std::printf("%zu node(s) serve %zu blocks, %zu records from port %d%s\n",
              servers.size(), chain.size(), total, port,
              opts->assume_valid ? "; B assumes the tip valid" : "");
  std::fflush(stdout);

  auto t0 = clock_type::now();
  auto b = start(bin, b_args, b_dir + "/node.log");
  long long h = -1;
  double rss = 0;
  double anon = 0; // peaks of the parts, sampled with each poll
  double file = 0;
  std::vector<double> status_ms;
  while (seconds_since(t0) < 1800) {
    auto asked = clock_type::now();
    h = height_of(bin, b_dir, scratch);
    if (h >= 0)
      status_ms.push_back(seconds_since(asked) * 1000);
    rss = std::max(rss, peak_rss_mb(b));
    anon = std::max(anon, status_mb(b, "RssAnon"));
    file = std::max(file, status_mb(b, "RssFile"));
    if (h >= target)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  auto elapsed = seconds_since(t0);
  rss = std::max(rss, peak_rss_mb(b));
  // The same question to B once it is idle: the limit status_p99_ms is
  // compared with.
  std::vector<double> idle_ms;
  for (int i = 0; i < 20; ++i) {
    auto asked = clock_type::now();
    height_of(bin, b_dir, scratch);
    idle_ms.push_back(seconds_since(asked) * 1000);
  }
  std::printf("node B at the end: resident %.0f MiB = anonymous %.0f + "
              "file-backed (LMDB map) %.0f\n",
              status_mb(b, "VmRSS"), status_mb(b, "RssAnon"),
              status_mb(b, "RssFile"));
  stop(b);
  for (auto pid : serving)
    stop(pid);
  if (h < target) {
    std::fprintf(stderr, "sync: node B reached %lld of %lld; logs in %s\n", h,
                 target, dir.c_str());
    return 1;
  }
  {
    // How B fetched: its first fetch's line names the upstreams used.
    std::ifstream log{b_dir + "/node.log"};
    std::string line;
    while (std::getline(log, line))
      if (line.find("fetching blocks") != std::string::npos) {
        std::printf("node B: %s\n",
                    line.substr(line.find("fetching blocks")).c_str());
        break;
      }
  }
  std::filesystem::remove_all(dir);
  auto rate = static_cast<double>(total) / elapsed;
  std::printf(
    "node B synced %zu records in %.2f s (from its start to the tip)\n", total,
    elapsed);
  auto percentile = [](std::vector<double> xs, double q) {
    if (xs.empty())
      return 0.0;
    std::sort(xs.begin(), xs.end());
    auto i = static_cast<size_t>(q * static_cast<double>(xs.size() - 1));
    return xs[i];
  };
  std::printf("status while syncing: %zu polls, median %.0f ms, p99 %.0f ms, "
              "max %.0f ms; idle: median %.0f ms\n",
              status_ms.size(), percentile(status_ms, 0.5),
              percentile(status_ms, 0.99), percentile(status_ms, 1.0),
              percentile(idle_ms, 0.5));
  auto limit = verify_limit();
  std::printf("node B's peaks while syncing (sampled with each poll): "
              "anonymous %.0f MiB, file-backed %.0f MiB\n",
              anon, file);
  std::printf("sync records_per_s=%.0f verify_limit_per_s=%.0f ratio=%.2f "
              "peak_rss_mb=%.0f anon_mb=%.0f status_p99_ms=%.0f\n",
              rate, limit, rate / limit, rss, anon,
              percentile(status_ms, 0.99));
  return 0;
}
