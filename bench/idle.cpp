// bench/idle: what a node costs while nothing happens. Starts N devnet
// nodes (devnet's timers are the fastest: a connector cycle every 250 ms),
// not producing, first without peers, then linked in a star to node 0, and
// measures their CPU time from /proc over a window.
//
//   idle [--nodes N] [--seconds S] [--hallmark PATH] [--port P]
//
// Last line:
//   idle nodes=N cpu_percent_alone=X cpu_percent_linked=Y limit_percent=1.0
// where X and Y are the mean share of one core per node, and 1.0 the
// budget an idle node is held to (32 of them must fit a 2-core laptop).
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/process.hpp"

using namespace hallmark::bench;

namespace {

struct options {
  int nodes = 8;
  int seconds = 20;
  std::string bin = self_dir() + "/../cli/hallmark";
  int port = 19950;
};

/// Mean share of one core per process over `seconds`, in percent.
double cpu_percent(const std::vector<pid_t>& pids, int seconds) {
  double before = 0;
  for (auto p : pids)
    before += cpu_seconds(p);
  std::this_thread::sleep_for(std::chrono::seconds{seconds});
  double after = 0;
  for (auto p : pids)
    after += cpu_seconds(p);
  return 100.0 * (after - before) / seconds / static_cast<double>(pids.size());
}

/// Starts `o.nodes` nodes in `dir`; with `linked`, each listens and every
/// node but 0 has node 0 as its peer. Waits until all answer.
std::vector<pid_t> start_nodes(const options& o, const std::string& dir,
                               bool linked) {
  std::vector<pid_t> pids;
  std::string first_key;
  for (int i = 0; i < o.nodes; ++i) {
    auto datadir = dir + "/node-" + std::to_string(i);
    if (!std::filesystem::exists(datadir))
      run_to_end(o.bin,
                 {"init", "--datadir", datadir, "--chain", "devnet",
                  "--http-listen", ""},
                 dir + "/init.log");
    std::vector<std::string> args{"run", "--datadir", datadir};
    if (linked) {
      args.push_back("--listen");
      args.push_back("127.0.0.1:" + std::to_string(o.port + i));
      if (i > 0) {
        args.push_back("--peer");
        args.push_back(first_key + "@127.0.0.1:" + std::to_string(o.port));
      }
    }
    pids.push_back(start(o.bin, args, datadir + "/node.log"));
    for (int t = 0; t < 100 && height_of(o.bin, datadir, dir) < 0; ++t)
      std::this_thread::sleep_for(std::chrono::milliseconds{100});
    if (i == 0)
      first_key = key_of(o.bin, datadir, dir);
  }
  return pids;
}

/// Starts the nodes, lets them settle, measures and stops them.
double measure(const options& o, const std::string& dir, bool linked) {
  auto pids = start_nodes(o, dir, linked);
  // Past the start; linked nodes also handshake and sync first.
  std::this_thread::sleep_for(std::chrono::seconds{linked ? 5 : 2});
  auto cpu = cpu_percent(pids, o.seconds);
  for (auto p : pids)
    stop(p);
  std::printf("%d nodes %s: %.2f%% of a core each\n", o.nodes,
              linked ? "linked to node 0" : "without peers", cpu);
  return cpu;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--nodes" && i + 1 < argc)
      o.nodes = std::atoi(argv[++i]);
    else if (arg == "--seconds" && i + 1 < argc)
      o.seconds = std::atoi(argv[++i]);
    else if (arg == "--hallmark" && i + 1 < argc)
      o.bin = argv[++i];
    else if (arg == "--port" && i + 1 < argc)
      o.port = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: idle [--nodes N] [--seconds S] "
                           "[--hallmark PATH] [--port P]\n");
      return 2;
    }
  }
  if (o.nodes < 2 || o.nodes > 64 || o.seconds < 1
      || !std::filesystem::exists(o.bin)) {
    std::fprintf(stderr,
                 "idle: needs 2..64 --nodes, --seconds >= 1 and the "
                 "hallmark binary (%s)\n",
                 o.bin.c_str());
    return 2;
  }
  auto dir = std::filesystem::temp_directory_path()
             / ("hallmark-idle-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);

  auto cpu_alone = measure(o, dir.string(), false);
  auto cpu_linked = measure(o, dir.string(), true);
  std::filesystem::remove_all(dir);
  std::printf("idle nodes=%d cpu_percent_alone=%.2f cpu_percent_linked=%.2f "
              "limit_percent=1.0\n",
              o.nodes, cpu_alone, cpu_linked);
  return 0;
}
