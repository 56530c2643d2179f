// bench/netsim: a network of N nodes, each in a network namespace of its
// own on one bridge (tests/netsim/netsim.hpp), node i's only static peer
// node (i-1)/2, node 0 producing a block every 2 s, all started within 3 s.
// Needs root.
//
//   netsim [--nodes N] [--seed S] [--steady SECONDS] [--hallmark PATH]
//          [--workdir DIR]
//
// Prints the time until every node has 8 links and is on the producer's
// tip, how long a block takes to reach every node, the `status` latency
// on the admin socket while the network runs and the stop time, each
// beside its aim. Exits 1 if the run missed an aim.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "core/error.hpp"
#include "tests/netsim/netsim.hpp"

int main(int argc, char** argv) {
  namespace netsim = hallmark::netsim;
  netsim::options opts;
  opts.nodes = 64;
  opts.bin = (std::filesystem::canonical("/proc/self/exe").parent_path() / ".."
              / "cli" / "hallmark")
               .lexically_normal()
               .string();
  opts.log = &std::cerr;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "netsim: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--nodes")
      opts.nodes = std::strtoull(next().c_str(), nullptr, 10);
    else if (arg == "--seed")
      opts.seed = std::strtoull(next().c_str(), nullptr, 10);
    else if (arg == "--steady")
      opts.steady = std::chrono::seconds{
        std::strtoll(next().c_str(), nullptr, 10)};
    else if (arg == "--hallmark")
      opts.bin = next();
    else if (arg == "--workdir")
      opts.workdir = next();
    else {
      std::fprintf(stderr,
                   "usage: netsim [--nodes N] [--seed S] [--steady SECONDS] "
                   "[--hallmark PATH] [--workdir DIR]\n");
      return 2;
    }
  }
  auto f = netsim::run(opts);
  if (!f) {
    std::fprintf(stderr, "netsim: %s\n",
                 hallmark::message_of(f.error()).c_str());
    return 2;
  }
  netsim::print(std::cout, opts, *f);
  return f->problems.empty() ? 0 : 1;
}
