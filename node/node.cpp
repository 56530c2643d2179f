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

/// Every actor's configuration, derived from the node's configuration and
/// the chain's network defaults in this one place, and validated before
/// the first actor is spawned.
struct actor_configs {
  size_t verifiers = 1;
  block_processor_config processor;
  reservoir_config pool;
  chain_monitor_config monitor;
  producer_config maker;
  std::vector<static_peer> static_peers;
  connector_config links;
  announcer_config registry;
  listener_config doors;
};

/// `cfg`'s value, or the chain's default where it is 0.
uint64_t or_default(uint64_t value, uint64_t chain_default) {
  return value > 0 ? value : chain_default;
}

caf::expected<actor_configs>
derive_configs(const node_config& cfg, const chain_params& params,
               const std::vector<std::string>& listeners) {
  actor_configs out;
  auto cores = std::max(1u, std::thread::hardware_concurrency());
  out.verifiers = cfg.verify_threads ? cfg.verify_threads : cores;
  auto& bp = out.processor;
  bp.reorg_window = cfg.reorg_window;
  bp.flush_blocks = cfg.flush_blocks;
  bp.flush_interval_ms = cfg.flush_interval_ms;
  bp.flush_records = cfg.flush_records;
  if (auto err = bp.validate())
    return err;
  auto& pool = out.pool;
  pool.pending_expiry_s = cfg.pending_expiry_s;
  pool.asset_expiry_s = cfg.asset_expiry_s;
  pool.max_issues = cfg.max_pending_issues;
  pool.max_transactions = cfg.max_pending_transactions;
  pool.expiry_check_ms = std::min<uint64_t>(
    60'000, std::min(cfg.pending_expiry_s, cfg.asset_expiry_s) * 250);
  out.monitor.poll_interval = std::chrono::milliseconds{params.monitor_poll_ms};
  out.maker.min_block_interval_ms = cfg.min_block_interval_ms;
  out.maker.empty_block_interval_s = cfg.empty_block_interval_s;
  for (auto& text : cfg.peers) {
    auto sp = parse_static_peer(text);
    if (!sp)
      return sp.error();
    out.static_peers.push_back(*sp);
  }
  auto& c = out.links;
  c.static_peers = out.static_peers;
  c.min_clients = or_default(cfg.min_clients, params.min_clients);
  c.max_dynamic = cfg.max_dynamic;
  c.cycle = std::chrono::milliseconds{
    or_default(cfg.cycle_ms, params.connector_cycle_ms)};
  c.ban_seconds = cfg.ban_seconds;
  c.reorg_window = cfg.reorg_window;
  c.stall = std::chrono::milliseconds{
    or_default(cfg.stall_ms, params.stall_ms)};
  c.listeners = listeners;
  announcer_config a;
  a.chain = cfg.chain;
  a.listeners = listeners;
  out.registry = a.scaled(params.timer_divisor);
  if (auto err = out.registry.validate())
    return err;
  out.doors.max_inbound = cfg.max_inbound;
  out.doors.max_handshaking_per_host = cfg.max_handshaking_per_host;
  out.doors.discourage_seconds = cfg.ban_seconds;
  return out;
}

/// The running actors of a node.
struct node_actors {
  std::vector<verifier_actor> verifiers;
  block_processor_actor processor;
  reservoir_actor pool;
  chain_monitor_actor monitor;
  producer_actor maker; ///< invalid unless producing
  connector_actor links;
  announcer_actor registry;
  std::optional<listener_actor> doors; ///< if bound anywhere
  std::optional<admin_actor> admin;
};

/// Spawns and wires every actor, in dependency order. The chain monitor is
/// left listening (buffering tips) until everything is wired; the admin
/// socket comes last, so the CLI finds a node only once it is whole.
/// @returns the actors, and an error if the admin socket could not be
/// opened (the other actors then run, and must be stopped).
std::pair<node_actors, caf::error>
build(caf::actor_system& sys, const node_config& cfg, actor_configs& ac,
      chain_store* chain, local_store* local, const key_pair& identity,
      std::optional<bound_listeners> bound) {
  node_actors a;
  for (size_t i = 0; i < ac.verifiers; ++i)
    a.verifiers.push_back(sys.spawn(verifier));
  a.processor = sys.spawn<caf::detached>(block_processor, chain, ac.processor,
                                         a.verifiers);
  a.pool = sys.spawn(reservoir, chain, local, ac.pool);
  caf::anon_send(a.processor, atom::subscribe_v, a.pool);
  a.monitor = sys.spawn(chain_monitor, chain, ac.monitor);
  caf::anon_send(a.processor, atom::subscribe_v,
                 caf::actor_cast<caf::actor>(a.monitor));
  caf::anon_send(a.monitor, atom::listen_v);
  if (cfg.produce)
    a.maker = sys.spawn(producer, a.processor, a.pool,
                        identity.public_key_bytes(), ac.maker);
  session_deps sdeps;
  sdeps.chain = chain;
  sdeps.processor = a.processor;
  sdeps.pool = a.pool;
  sdeps.settings = handshake_settings{cfg.chain, identity};
  ac.links.bans = local;
  a.links = sys.spawn(connector, ac.links, sdeps, identity);
  sdeps.connector = a.links;
  // What block_processor and the reservoir accept for the first time goes
  // to every link but its origin.
  caf::anon_send(a.processor, atom::subscribe_v, relay_actor{a.links});
  caf::anon_send(a.pool, atom::subscribe_v, relay_actor{a.links});
  a.registry = sys.spawn(announcer, identity, local, a.links, ac.registry);
  caf::anon_send(a.links, atom::subscribe_v, a.registry);
  sdeps.announcer = a.registry;
  if (bound && !bound->addresses.empty())
    a.doors = spawn_listener(sys, std::move(*bound), ac.doors, sdeps);
  admin_deps deps;
  deps.connector = a.links;
  deps.chain = chain;
  deps.processor = a.processor;
  deps.monitor = a.monitor;
  deps.pool = a.pool;
  deps.producer = a.maker;
  deps.identity = identity.public_key_bytes();
  deps.chain_name = cfg.chain;
  auto admin = spawn_admin(sys, cfg.socket_path(), deps);
  caf::anon_send(a.monitor, atom::activate_v);
  if (!admin)
    return {std::move(a), admin.error()};
  a.admin = *admin;
  return {std::move(a), caf::error{}};
}

/// Stops every actor in order: the monitor first (so `watch` clients hear
/// END while the admin socket still serves them), then everything that
/// takes requests or makes blocks, then the writer flushes, then the rest.
/// @returns false if the final flush failed.
bool stop(caf::actor_system& sys, node_actors& a) {
  caf::anon_send(a.monitor, atom::terminate_v);
  {
    caf::scoped_actor self{sys};
    self->request(a.monitor, std::chrono::seconds{10}, atom::status_v)
      .receive([](std::string&) {}, [](caf::error&) {});
  }
  auto exit = [](const auto& hdl) {
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  };
  if (a.admin)
    exit(*a.admin);
  if (a.doors)
    exit(*a.doors);
  exit(a.links);
  exit(a.registry);
  if (a.maker)
    exit(a.maker);
  bool flushed = true;
  {
    caf::scoped_actor self{sys};
    self->request(a.processor, std::chrono::seconds{120}, atom::stop_v)
      .receive(
        [&](uint64_t height) {
          log_info("node", "chain flushed at height {}", height);
        },
        [&](caf::error& err) {
          log_error("node", "final flush failed: {}", message_of(err));
          flushed = false;
        });
  }
  exit(a.pool);
  exit(a.monitor);
  exit(a.processor);
  for (auto& v : a.verifiers)
    exit(v);
  sys.await_all_actors_done();
  return flushed;
}

/// Blocks SIGINT and SIGTERM in this thread and every thread started after
/// (CAF's), so that only sigwait takes them; ignores SIGPIPE.
sigset_t block_stop_signals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return stop_signals;
}

} // namespace

int run_node(const node_config& cfg, const key_pair& identity) {
  auto fail = [](const caf::error& err) {
    log_error("node", "{}", message_of(err));
    return 1;
  };
  if (auto err = cfg.validate())
    return fail(err);
  dir_lock lock{cfg.lock_path()};
  if (!lock.held()) {
    log_error("node", "another hallmark node is running on {}", cfg.datadir);
    return 1;
  }
  auto stop_signals = block_stop_signals();
  auto params = find_chain(cfg.chain);
  auto chain = chain_store::open(
    cfg.chain_dir(), *params, cfg.map_size_mb << 20,
    cfg.map_max_mb > 0 ? cfg.map_max_mb << 20 : lmdb::default_map_ceiling);
  if (!chain) {
    log_error("node", "{}: {}", cfg.chain_dir(), message_of(chain.error()));
    return 1;
  }
  auto local = local_store::open(cfg.local_dir());
  if (!local) {
    log_error("node", "{}: {}", cfg.local_dir(), message_of(local.error()));
    return 1;
  }
  caf::actor_system_config sys_cfg;
  sys_cfg.load<caf::io::middleman>();
  sys_cfg.set(
    "scheduler.max-threads",
    static_cast<size_t>(std::max(1u, std::thread::hardware_concurrency())));
  caf::actor_system sys{sys_cfg};
  // Everything that can refuse the configuration is checked, and the peer
  // addresses bound, before the first actor is spawned: returning after
  // that would leave actors the system waits for.
  auto bound = bind_listeners(sys, cfg.listen);
  if (!bound)
    return fail(bound.error());
  auto configs = derive_configs(cfg, *params, bound->addresses);
  if (!configs)
    return fail(configs.error());
  auto listening = bound->addresses;
  auto [actors, admin_error] = build(sys, cfg, *configs, chain->get(),
                                     local->get(), identity, std::move(*bound));
  int exit_code = 0;
  if (admin_error) {
    log_error("node", "{}", message_of(admin_error));
    exit_code = 1;
  } else {
    auto top = chain_reader{**chain}.tip();
    std::string on;
    for (auto& a : listening)
      on += (on.empty() ? "" : ", ") + a;
    log_info("node",
             "{} node {} ready: height {} tip {}{}; admin socket {}; "
             "peers on {}",
             cfg.chain, to_hex(identity.public_key_bytes()), top.height,
             to_hex(top.hash), cfg.produce ? ", producing" : "",
             cfg.socket_path(), on.empty() ? "nothing" : on);
    int sig = 0;
    sigwait(&stop_signals, &sig);
    log_info("node", "{} received: stopping",
             sig == SIGINT ? "SIGINT" : "SIGTERM");
  }
  if (!stop(sys, actors))
    exit_code = 1;
  ::unlink(cfg.socket_path().c_str());
  log_info("node", "stopped");
  return exit_code;
}

} // namespace hallmark
