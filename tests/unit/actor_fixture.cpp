#include "tests/unit/actor_fixture.hpp"

#include <caf/atom.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/test_multiplexer.hpp>

namespace hallmark::test {

namespace {

caf::actor_system_config& deterministic(caf::actor_system_config& cfg,
                                        with_network net) {
  if (net == with_network::yes) {
    cfg.load<caf::io::middleman>();
    cfg.set("middleman.network-backend", caf::atom("testing"));
  }
  cfg.set("scheduler.policy", caf::atom("testing"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  return cfg;
}

} // namespace

actor_harness::actor_harness(with_network net)
    : sys(deterministic(cfg, net)),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
      self(sys, true) {
  if (net == with_network::yes)
    mpx = &dynamic_cast<caf::io::network::test_multiplexer&>(
      sys.middleman().backend());
}

actor_harness::~actor_harness() {
  stop_all();
}

void actor_harness::run() {
  if (mpx == nullptr) {
    sched.run();
    return;
  }
  while (sched.try_run_once() || mpx->try_exec_runnable() || mpx->read_data())
    ;
}

void actor_harness::advance(caf::timespan t) {
  sched.advance_time(t);
  run();
}

void actor_harness::stop_all() {
  for (auto& a : spawned_)
    caf::anon_send_exit(a, caf::exit_reason::kill);
  run();
  spawned_.clear();
}

} // namespace hallmark::test
