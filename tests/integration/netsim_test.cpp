// The network simulator (tests/netsim) with 16 hosts: each node in a
// network namespace of its own on one bridge, node i's only static peer
// node (i-1)/2, node 0 producing. Needs root, as CI has; without it the
// test fails, it does not pass unrun. bench/netsim runs the same with 64
// hosts and prints the figures.
#include <sstream>

#include <doctest/doctest.h>

#include "core/error.hpp"
#include "tests/integration/harness.hpp"
#include "tests/netsim/netsim.hpp"

namespace hallmark::test {

TEST_CASE("netsim: 16 hosts mesh, follow the producer and stop by "
          "themselves") {
  netsim::options opts;
  opts.nodes = 16;
  opts.seed = 16;
  opts.bin = hallmark_bin();
  opts.steady = std::chrono::seconds{12};
  opts.settle_limit = std::chrono::seconds{60};
  std::ostringstream progress;
  opts.log = &progress;
  auto f = netsim::run(opts);
  REQUIRE_MESSAGE(f, (f ? "" : message_of(f.error())));
  std::ostringstream figures;
  netsim::print(figures, opts, *f);
  INFO(progress.str() << figures.str());
  MESSAGE(figures.str());
  CHECK(f->problems.empty());
  CHECK(f->mesh_s.has_value());
  CHECK(f->tip_s.has_value());
  CHECK(f->blocks > 0);
  CHECK(f->status_failures == 0);
  CHECK(f->stopped_by_watchdog == 0);
  CHECK(f->killed == 0);
}

} // namespace hallmark::test
