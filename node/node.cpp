#include "node/node.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <thread>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/admin.hpp"
#include "actors/announcer.hpp"
#include "actors/block_processor.hpp"
#include "actors/chain_monitor.hpp"
#include "actors/connector.hpp"
#include "actors/listener.hpp"
#include "actors/producer.hpp"
#include "actors/reservoir.hpp"
#include "actors/verifier.hpp"
#include "core/log.hpp"

namespace hallmark {

namespace {

/// Holds DATADIR/lock for the node's life, so two nodes never share a
/// directory.
class dir_lock {
public:
  explicit dir_lock(const std::string& path) {
    fd_ = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (fd_ >= 0 && ::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~dir_lock() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  bool held() const { return fd_ >= 0; }

private:
  int fd_ = -1;
};

} // namespace

int run_node(const node_config& cfg, const key_pair& identity) {
  if (auto err = cfg.validate()) {
    log_error("node", "{}", message_of(err));
    return 1;
  }
  dir_lock lock{cfg.lock_path()};
  if (!lock.held()) {
    log_error("node", "another hallmark node is running on {}", cfg.datadir);
    return 1;
  }
  // Signals are taken by sigwait below; every thread CAF starts inherits
  // this mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto params = find_chain(cfg.chain);
  auto chain = chain_store::open(cfg.chain_dir(), *params,
                                 cfg.map_size_mb << 20);
  if (!chain) {
    log_error("node", "{}: {}", cfg.chain_dir(), message_of(chain.error()));
    return 1;
  }
  auto local = local_store::open(cfg.local_dir());
  if (!local) {
    log_error("node", "{}: {}", cfg.local_dir(), message_of(local.error()));
    return 1;
  }
  auto cores = std::max(1u, std::thread::hardware_concurrency());
  auto verify_threads = cfg.verify_threads ? cfg.verify_threads : cores;

  caf::actor_system_config sys_cfg;
  sys_cfg.load<caf::io::middleman>();
  sys_cfg.set("scheduler.max-threads", static_cast<size_t>(cores));
  caf::actor_system sys{sys_cfg};

  // Everything that can refuse the configuration is checked, and the peer
  // addresses bound, before the first actor is spawned: returning after
  // that would leave actors the system waits for.
  block_processor_config bp_cfg;
  bp_cfg.reorg_window = cfg.reorg_window;
  bp_cfg.flush_blocks = cfg.flush_blocks;
  bp_cfg.flush_interval_ms = cfg.flush_interval_ms;
  bp_cfg.flush_records = cfg.flush_records;
  if (auto err = bp_cfg.validate()) {
    log_error("node", "{}", message_of(err));
    return 1;
  }
  std::vector<static_peer> static_peers;
  for (auto& text : cfg.peers) {
    auto sp = parse_static_peer(text);
    if (!sp) {
      log_error("node", "{}", message_of(sp.error()));
      return 1;
    }
    static_peers.push_back(*sp);
  }
  auto bound = bind_listeners(sys, cfg.listen);
  if (!bound) {
    log_error("node", "{}", message_of(bound.error()));
    return 1;
  }
  announcer_config a_cfg;
  a_cfg.chain = cfg.chain;
  a_cfg.listeners = bound->addresses;
  if (cfg.chain == "devnet")
    a_cfg = a_cfg.devnet();
  if (auto err = a_cfg.validate()) {
    log_error("node", "{}", message_of(err));
    return 1;
  }

  std::vector<verifier_actor> verifiers;
  for (uint64_t i = 0; i < verify_threads; ++i)
    verifiers.push_back(sys.spawn(verifier));
  auto processor = sys.spawn<caf::detached>(block_processor, chain->get(),
                                            bp_cfg, verifiers);
  reservoir_config pool_cfg;
  pool_cfg.pending_expiry_s = cfg.pending_expiry_s;
  pool_cfg.asset_expiry_s = cfg.asset_expiry_s;
  pool_cfg.max_issues = cfg.max_pending_issues;
  pool_cfg.max_transactions = cfg.max_pending_transactions;
  pool_cfg.expiry_check_ms = std::min<uint64_t>(
    60'000, std::min(cfg.pending_expiry_s, cfg.asset_expiry_s) * 250);
  auto pool = sys.spawn(reservoir, chain->get(), local->get(), pool_cfg);
  caf::anon_send(processor, atom::subscribe::value, pool);
  // New tips, pushed by block_processor and polled; listening (buffering)
  // until every subscriber is wired, active from then on.
  chain_monitor_config mon_cfg;
  mon_cfg.poll_interval = cfg.chain == "devnet" ? std::chrono::seconds{1}
                                                : std::chrono::seconds{60};
  auto monitor = sys.spawn(chain_monitor, chain->get(), mon_cfg);
  caf::anon_send(processor, atom::subscribe::value,
                 caf::actor_cast<caf::actor>(monitor));
  caf::anon_send(monitor, atom::listen::value);
  producer_actor maker;
  if (cfg.produce) {
    producer_config p_cfg;
    p_cfg.min_block_interval_ms = cfg.min_block_interval_ms;
    p_cfg.empty_block_interval_s = cfg.empty_block_interval_s;
    maker = sys.spawn(producer, processor, pool, identity.public_key_bytes(),
                      p_cfg);
  }

  session_deps sdeps;
  sdeps.chain = chain->get();
  sdeps.processor = processor;
  sdeps.pool = pool;
  sdeps.settings = handshake_settings{cfg.chain, identity};
  connector_config c_cfg;
  c_cfg.static_peers = static_peers;
  c_cfg.min_clients = cfg.effective_min_clients();
  c_cfg.max_dynamic = cfg.max_dynamic;
  c_cfg.cycle = std::chrono::milliseconds{cfg.effective_cycle_ms()};
  c_cfg.ban_seconds = cfg.ban_seconds;
  c_cfg.listeners = bound->addresses;
  auto links = sys.spawn(connector, c_cfg, sdeps, identity);
  sdeps.connector = links;
  auto registry = sys.spawn(announcer, identity, local->get(), links, a_cfg);
  caf::anon_send(links, atom::subscribe::value, registry);
  sdeps.announcer = registry;
  listener_config l_cfg;
  l_cfg.max_inbound = cfg.max_inbound;
  l_cfg.ban_seconds = cfg.ban_seconds;
  std::optional<caf::actor> doors;
  if (!bound->addresses.empty())
    doors = spawn_listener(sys, std::move(*bound), l_cfg, sdeps);
  if (maker)
    caf::anon_send(maker, atom::subscribe::value,
                   caf::actor_cast<caf::actor>(links));

  admin_deps deps;
  deps.connector = links;
  deps.chain = chain->get();
  deps.processor = processor;
  deps.monitor = monitor;
  deps.pool = pool;
  deps.producer = maker;
  deps.identity = identity.public_key_bytes();
  deps.chain_name = cfg.chain;
  auto admin = spawn_admin(sys, cfg.socket_path(), deps);
  caf::anon_send(monitor, atom::activate::value);
  int exit_code = 0;
  if (!admin) {
    log_error("node", "{}", message_of(admin.error()));
    exit_code = 1;
  } else {
    auto top = chain_reader{**chain}.tip();
    std::string listening;
    for (auto& a : c_cfg.listeners)
      listening += (listening.empty() ? "" : ", ") + a;
    log_info("node",
             "{} node {} ready: height {} tip {}{}; admin socket {}; "
             "peers on {}",
             cfg.chain, to_hex(identity.public_key_bytes()), top.height,
             to_hex(top.hash), cfg.produce ? ", producing" : "",
             cfg.socket_path(), listening.empty() ? "nothing" : listening);
    int sig = 0;
    sigwait(&stop_signals, &sig);
    log_info("node", "{} received: stopping",
             sig == SIGINT ? "SIGINT" : "SIGTERM");
  }
  // The monitor ends first, so `watch` clients hear END while the admin
  // socket still serves them.
  caf::anon_send(monitor, atom::terminate::value);
  {
    caf::scoped_actor self{sys};
    self->request(monitor, std::chrono::seconds{10}, atom::status::value)
      .receive([](std::string&) {}, [](caf::error&) {});
  }
  // Stop in order: no new requests, no new blocks, then the writer flushes.
  if (admin)
    caf::anon_send_exit(*admin, caf::exit_reason::user_shutdown);
  if (doors)
    caf::anon_send_exit(*doors, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(links, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
  if (maker)
    caf::anon_send_exit(maker, caf::exit_reason::user_shutdown);
  {
    caf::scoped_actor self{sys};
    self->request(processor, std::chrono::seconds{120}, atom::stop::value)
      .receive(
        [&](uint64_t height) {
          log_info("node", "chain flushed at height {}", height);
        },
        [&](caf::error& err) {
          log_error("node", "final flush failed: {}", message_of(err));
          exit_code = 1;
        });
  }
  caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(monitor, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(processor, caf::exit_reason::user_shutdown);
  for (auto& v : verifiers)
    caf::anon_send_exit(v, caf::exit_reason::user_shutdown);
  sys.await_all_actors_done();
  ::unlink(cfg.socket_path().c_str());
  log_info("node", "stopped");
  return exit_code;
}

} // namespace hallmark
