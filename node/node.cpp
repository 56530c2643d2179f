#include "node/node.hpp"

#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <netdb.h>
#include <optional>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
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
#include "actors/state_server.hpp"
#include "actors/state_sync.hpp"
#include "actors/verifier.hpp"
#include "core/log.hpp"
#include "messages/registration.hpp"
#include "node/final_flush.hpp"
#include "node/watchdog.hpp"

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

/// What a file of status `st` is, for a message: "a directory", ….
std::string kind_of(const struct stat& st) {
  switch (st.st_mode & S_IFMT) {
  case S_IFDIR:
    return "a directory";
  case S_IFREG:
    return "a regular file";
  case S_IFLNK:
    return "a symbolic link";
  case S_IFIFO:
    return "a named pipe";
  default:
    return "not a socket";
  }
}

/// The admin socket's path must be free or hold a socket (one a killed
/// node left is replaced): anything else there is the operator's, and the
/// node does not remove it.
caf::error check_socket_path(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 || S_ISSOCK(st.st_mode))
    return {};
  return make_error(ec::io, path + " is " + kind_of(st)
                              + ", not the admin socket: move it away (the "
                                "node makes its socket there)");
}

/// A store directory that exists was made by an earlier run, which left
/// its data in `data.mdb`: if that file is gone or empty, the store was
/// lost, and opening it would silently start a new one (a new chain from
/// genesis). Only a missing directory is a store to create.
/// @param what "chain" or "local", for the message.
caf::error check_store_dir(const std::string& dir, const std::string& what) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0)
    return {}; // not made yet: the first run makes it
  auto data = dir + "/data.mdb";
  std::string problem;
  if (::stat(data.c_str(), &st) != 0)
    problem = "is missing";
  else if (st.st_size == 0)
    problem = "is empty (0 bytes)";
  else
    return {};
  return make_error(ec::storage,
                    data + " " + problem + ": the " + what
                      + " store this data directory held is gone; restore "
                        "it from a backup (or remove "
                      + dir + " to start it anew"
                      + (what == "chain" ? ", from genesis" : "") + ")");
}

/// A store's error, said once with the store's directory: "DIR: …",
/// unless the message names a file in it already.
std::string in_store(const std::string& dir, const caf::error& err) {
  auto text = message_of(err);
  if (text.rfind(dir + "/", 0) == 0)
    return text;
  return dir + ": " + text;
}

/// Why binding `address` (HOST:PORT, as given) fails, found by binding a
/// plain socket there as the listener does: "cannot listen on HOST:PORT:
/// address already in use". Empty if it binds now.
std::string why_not_listening(const std::string& address) {
  auto parsed = parse_listener(address);
  if (!parsed)
    return {};
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  auto port = std::to_string(parsed->second);
  if (int rc = ::getaddrinfo(parsed->first.c_str(), port.c_str(), &hints,
                             &found);
      rc != 0)
    return "cannot listen on " + address + ": " + ::gai_strerror(rc);
  std::string why;
  for (auto ai = found; ai != nullptr && why.empty(); ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                      ai->ai_protocol);
    if (fd < 0)
      continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      std::string text = std::strerror(errno);
      if (!text.empty())
        text[0] = static_cast<char>(std::tolower(text[0]));
      why = "cannot listen on " + address + ": " + text;
    }
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return why;
}

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
  state_sync_config sync;
  state_server_config server;
  session_limits limits;
};

/// `cfg`'s value, or the chain's default where it is 0.
uint64_t or_default(uint64_t value, uint64_t chain_default) {
  return value > 0 ? value : chain_default;
}

/// A testing aid, devnet only (docs/hacking.md): the delay in milliseconds
/// (at most 10 000) the environment variable `var` asks `what` to be served
/// with; zero when unset or on another chain.
std::chrono::milliseconds test_delay(const node_config& cfg, const char* var,
                                     const char* what) {
  auto x = std::getenv(var);
  if (x == nullptr || cfg.chain != devnet_chain)
    return std::chrono::milliseconds{0};
  auto ms = std::min<uint64_t>(std::strtoull(x, nullptr, 10), 10'000);
  if (ms > 0)
    log_warning("node", "{}: {} are served {} ms late (testing)", var, what,
                ms);
  return std::chrono::milliseconds{ms};
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
  c.sync_peers = cfg.sync_peers;
  if (cfg.assume_valid != "0")
    if (auto h = from_hex_fixed<32>(cfg.assume_valid))
      c.assume_valid = *h;
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
  out.doors.max_handshaking_per_host = or_default(
    cfg.max_handshaking_per_host, params.max_handshaking_per_host);
  out.doors.discourage_seconds = cfg.ban_seconds;
  out.sync.depth = cfg.state_sync_depth;
  out.sync.retarget_blocks = std::max<uint64_t>(1, cfg.state_sync_depth / 4);
  // A testing aid, devnet only (docs/hacking.md).
  if (auto x = std::getenv("HALLMARK_TEST_CORRUPT_STATE_PROOFS");
      x != nullptr && std::string_view{x} == "1") {
    if (cfg.chain == devnet_chain) {
      out.server.corrupt_proofs = true;
      log_warning("node", "HALLMARK_TEST_CORRUPT_STATE_PROOFS: this node "
                          "serves corrupt state proofs (testing)");
    } else {
      log_warning("node", "HALLMARK_TEST_CORRUPT_STATE_PROOFS is for devnet "
                          "only; ignored");
    }
  }
  out.server.serve_delay = test_delay(cfg, "HALLMARK_TEST_STATE_SERVE_DELAY_MS",
                                      "state proofs");
  out.limits.serve_delay = test_delay(cfg, "HALLMARK_TEST_BLOCK_SERVE_DELAY_MS",
                                      "blocks");
  if (auto err = out.sync.validate())
    return err;
  return out;
}

/// Whether this run state-syncs: a sync under way resumes whatever the
/// configuration says (its chain is not one blocks can be applied to); a
/// new one starts when asked for on an empty chain.
bool wants_state_sync(const node_config& cfg, const chain_store& chain) {
  auto prog = sync_store{chain}.load();
  if (prog && prog->syncing) {
    if (!cfg.state_sync)
      log_info("node", "a state sync is under way in this data directory: "
                       "resuming it");
    return true;
  }
  if (!cfg.state_sync)
    return false;
  auto top = chain_reader{chain}.tip();
  if (top.height > 0) {
    log_info("node",
             "state sync not needed: the chain is at height {}; "
             "syncing blocks",
             top.height);
    return false;
  }
  return true;
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
  state_server_actor state;
  state_sync_actor sync;               ///< invalid unless a state sync runs
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
  // Detached: verification gets threads of its own, so a batch being
  // verified never holds the scheduler's workers that the admin's questions
  // (reservoir, connector) need.
  for (size_t i = 0; i < ac.verifiers; ++i)
    a.verifiers.push_back(sys.spawn<caf::detached>(verifier));
  ac.processor.board = std::make_shared<tip_board>();
  // A state sync under way always resumes; a new one starts only on an
  // empty chain. While it runs, blocks wait (block_processor, connector).
  bool syncing = wants_state_sync(cfg, *chain);
  ac.processor.state_syncing = syncing;
  ac.links.state_syncing = syncing;
  ac.pool.state_syncing = syncing;
  a.processor = sys.spawn<caf::detached>(block_processor, chain, ac.processor,
                                         a.verifiers);
  // Detached: it commits accepted records to the local store (an fsync)
  // before it answers, which must not hold the scheduler's workers.
  a.pool = sys.spawn<caf::detached>(reservoir, chain, local, ac.pool);
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
  // Detached: building proofs (and views of earlier roots) is long work
  // that must not hold the scheduler's workers.
  a.state = sys.spawn<caf::detached>(state_server, chain, ac.server);
  sdeps.state = a.state;
  sdeps.processor = a.processor;
  sdeps.pool = a.pool;
  sdeps.settings = handshake_settings{cfg.chain, identity};
  sdeps.limits = ac.limits;
  ac.links.bans = local;
  a.links = sys.spawn(connector, ac.links, sdeps, identity);
  sdeps.connector = a.links;
  // What block_processor and the reservoir accept for the first time goes
  // to every link but its origin.
  caf::anon_send(a.processor, atom::subscribe_v, relay_actor{a.links});
  caf::anon_send(a.pool, atom::subscribe_v, relay_actor{a.links});
  if (syncing) {
    a.sync = sys.spawn<caf::detached>(state_sync, chain, a.links, a.processor,
                                      ac.sync);
    // They wait for the state sync to end; the admin subscribes below.
    for (auto l : {caf::actor_cast<sync_listener_actor>(a.processor),
                   caf::actor_cast<sync_listener_actor>(a.pool),
                   caf::actor_cast<sync_listener_actor>(a.links)})
      caf::anon_send(a.sync, atom::subscribe_v, l);
  }
  // Detached: it commits the peer table to the local store (an fsync) as
  // registrations arrive, which must not hold the scheduler's workers.
  a.registry = sys.spawn<caf::detached>(announcer, identity, local, a.links,
                                        ac.registry);
  caf::anon_send(a.links, atom::subscribe_v, a.registry);
  sdeps.announcer = a.registry;
  if (bound && !bound->addresses.empty())
    a.doors = spawn_listener(sys, std::move(*bound), ac.doors, sdeps);
  admin_deps deps;
  deps.connector = a.links;
  deps.chain = chain;
  deps.processor = a.processor;
  deps.monitor = a.monitor;
  deps.sync = a.sync;
  deps.state_syncing = syncing;
  deps.pool = a.pool;
  deps.producer = a.maker;
  deps.identity = identity.public_key_bytes();
  deps.chain_name = cfg.chain;
  deps.board = ac.processor.board;
  auto admin = spawn_admin(sys, cfg.socket_path(), deps);
  if (a.sync && admin)
    caf::anon_send(a.sync, atom::subscribe_v,
                   caf::actor_cast<sync_listener_actor>(*admin));
  caf::anon_send(a.monitor, atom::activate_v);
  if (!admin)
    return {std::move(a), admin.error()};
  a.admin = *admin;
  return {std::move(a), caf::error{}};
}

/// How long a stop may take in all: the watchdog ends the process after
/// it, so that a stop never takes more than 5 s.
constexpr std::chrono::milliseconds shutdown_limit{4000};
/// How long each step before the flush may wait for its actors.
constexpr std::chrono::milliseconds monitor_limit{500};
constexpr std::chrono::milliseconds intake_limit{1000};
constexpr std::chrono::milliseconds producer_limit{500};

/// Stops the actors of `a` in order, each step waiting a bounded time for
/// the actors it stops (monitored from the start), telling `dog` where it
/// is. An actor that does not stop in its step is logged and left behind;
/// the watchdog ends the process if that keeps the system from ending.
class stopper {
public:
  stopper(caf::actor_system& sys, shutdown_watchdog& dog)
      : self_(sys), dog_(dog) {
    // nop
  }

  /// Monitors `hdl` (if valid) under `name`.
  template <class Handle>
  void watch(const Handle& hdl, std::string name) {
    if (!hdl)
      return;
    self_->monitor(hdl);
    running_.emplace(hdl.address(), std::move(name));
  }

  /// Sends `hdl` an exit (user_shutdown), if it is valid.
  template <class Handle>
  void exit(const Handle& hdl) {
    if (hdl)
      caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  }

  /// Waits until none of `hdls` runs or `limit` passes; logs those that
  /// still run then.
  void await(const std::vector<caf::actor_addr>& hdls,
             std::chrono::milliseconds limit) {
    auto until = std::chrono::steady_clock::now() + limit;
    auto pending = [&] {
      std::vector<std::string> names;
      for (auto& h : hdls)
        if (auto i = running_.find(h); i != running_.end())
          names.push_back(i->second);
      return names;
    };
    for (auto names = pending(); !names.empty(); names = pending()) {
      dog_.waiting_for(names);
      auto now = std::chrono::steady_clock::now();
      if (now >= until) {
        std::string list;
        for (auto& n : names)
          list += (list.empty() ? "" : ", ") + n;
        log_warning("node", "{} did not stop within {} ms; going on", list,
                    limit.count());
        return;
      }
      self_->receive(
        [&](caf::down_msg& down) {
          if (auto i = running_.find(down.source); i != running_.end()) {
            dog_.stopped(i->second);
            running_.erase(i);
          }
        },
        caf::after(until - now) >> [] {});
    }
  }

  caf::scoped_actor& self() { return self_; }

  /// The names of the actors not known to have stopped.
  std::vector<std::string> still_running() const {
    std::vector<std::string> names;
    for (auto& [addr, name] : running_)
      names.push_back(name);
    return names;
  }

private:
  caf::scoped_actor self_;
  shutdown_watchdog& dog_;
  std::map<caf::actor_addr, std::string> running_;
};

template <class... Handles>
std::vector<caf::actor_addr> addresses(const Handles&... hdls) {
  std::vector<caf::actor_addr> out;
  (out.push_back(hdls ? hdls.address() : caf::actor_addr{}), ...);
  return out;
}

/// Stops every actor in order, none waited for without a bound:
///   0. the chain monitor ends its watchers (`watch` clients hear END while
///      the admin socket still serves them);
///   1. intake: the admin broker, the listener, the connector (the peer
///      sessions and the prefetcher are linked to these two) and the
///      announcer;
///   2. the producer;
///   3. block_processor flushes (`atom::stop`) and refuses further blocks;
///   4. the reservoir, the chain monitor, block_processor, the verifiers.
/// @returns whether the final flush committed (false if it failed or did
/// not answer in time), and the actors not known to have stopped.
std::pair<bool, std::vector<std::string>>
stop(caf::actor_system& sys, node_actors& a, shutdown_watchdog& dog) {
  stopper s{sys, dog};
  if (a.admin)
    s.watch(*a.admin, "admin");
  if (a.doors)
    s.watch(*a.doors, "listener");
  s.watch(a.links, "connector");
  s.watch(a.registry, "announcer");
  s.watch(a.state, "state_server");
  s.watch(a.sync, "state_sync");
  s.watch(a.maker, "producer");
  s.watch(a.processor, "block_processor");
  s.watch(a.pool, "reservoir");
  s.watch(a.monitor, "chain_monitor");
  for (size_t i = 0; i < a.verifiers.size(); ++i)
    s.watch(a.verifiers[i], "verifier " + std::to_string(i));

  dog.step("ending the chain monitor's watchers");
  dog.waiting_for({"chain_monitor"});
  caf::anon_send(a.monitor, atom::terminate_v);
  s.self()
    ->request(a.monitor, monitor_limit, atom::status_v)
    .receive([](std::string&) {},
             [](caf::error& err) {
               log_warning("node", "chain monitor: {}", message_of(err));
             });

  dog.step("stopping intake (admin, listener, connector, announcer)");
  std::vector<caf::actor_addr> intake;
  if (a.admin) {
    s.exit(*a.admin);
    intake.push_back(a.admin->address());
  }
  if (a.doors) {
    s.exit(*a.doors);
    intake.push_back(a.doors->address());
  }
  s.exit(a.links);
  s.exit(a.registry);
  s.exit(a.state);
  s.exit(a.sync);
  for (auto& x : addresses(a.links, a.registry, a.state, a.sync))
    intake.push_back(x);
  s.await(intake, intake_limit);

  dog.step("stopping the producer");
  s.exit(a.maker);
  s.await(addresses(a.maker), producer_limit);

  dog.step("flushing the chain (block_processor)");
  dog.waiting_for({"block_processor"});
  bool flushed = final_flush(s.self(), a.processor, dog);

  dog.step("stopping the reservoir, block_processor and the verifiers");
  std::vector<caf::actor_addr> rest = addresses(a.pool, a.monitor, a.processor);
  s.exit(a.pool);
  s.exit(a.monitor);
  s.exit(a.processor);
  for (auto& v : a.verifiers) {
    s.exit(v);
    rest.push_back(v.address());
  }
  s.await(rest, dog.left(std::chrono::milliseconds{100}));
  return {flushed, s.still_running()};
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

int run_node(const node_config& cfg, const key_pair& identity,
             const service_maker& make_service) {
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
  for (auto err : {check_socket_path(cfg.socket_path()),
                   check_store_dir(cfg.chain_dir(), "chain"),
                   check_store_dir(cfg.local_dir(), "local")})
    if (err)
      return fail(err);
  auto stop_signals = block_stop_signals();
  auto params = find_chain(cfg.chain);
  // State changes are kept for more blocks than any reorg this node
  // accepts, so every accepted reorg can unwind the state.
  auto chain = chain_store::open(
    cfg.chain_dir(), *params, cfg.map_size_mb << 20,
    cfg.map_max_mb > 0 ? cfg.map_max_mb << 20 : lmdb::default_map_ceiling,
    std::max(default_state_history, cfg.reorg_window + 1));
  if (!chain) {
    log_error("node", "{}", in_store(cfg.chain_dir(), chain.error()));
    return 1;
  }
  auto local = local_store::open(cfg.local_dir());
  if (!local) {
    log_error("node", "{}", in_store(cfg.local_dir(), local.error()));
    return 1;
  }
  std::unique_ptr<node_service> service;
  if (make_service) {
    auto made = make_service();
    if (!made)
      return fail(made.error());
    service = std::move(*made);
  }
  caf::actor_system_config sys_cfg;
  sys_cfg.load<caf::io::middleman>();
  sys_cfg.set(
    "scheduler.max-threads",
    static_cast<size_t>(std::max(1u, std::thread::hardware_concurrency())));
  // CAF's workers poll for work after each job: 100 tries at once, then 500
  // tries 50 µs apart (25 ms awake per wake-up), then sleep on a condition
  // variable that new work signals, waking every 10 ms to steal. An idle
  // node's timers wake a worker a few times a second, so that polling was
  // most of its CPU; and every 50 µs nap is a context switch: at 64 nodes on
  // one machine the workers' naps were half of all context switches, and
  // the CPU they took delayed every answer. The workers now spin the first
  // 100 tries, then sleep until work comes (a condition variable that new
  // work signals at once), waking every 100 ms to steal.
  sys_cfg.set("work-stealing.moderate-poll-attempts", size_t{0});
  sys_cfg.set("work-stealing.relaxed-sleep-duration",
              caf::timespan{100'000'000});
  int exit_code = 0;
  // Armed when the shutdown begins; outlives the actor system, whose
  // teardown it watches too.
  std::optional<shutdown_watchdog> dog;
  {
    caf::actor_system sys{sys_cfg};
    // Everything that can refuse the configuration is checked, and the peer
    // addresses bound, before the first actor is spawned: returning after
    // that would leave actors the system waits for.
    auto bound = bind_listeners(sys, cfg.listen);
    if (!bound) {
      // CAF says only "cannot_open_port": ask the kernel why, binding the
      // address the listener could not bind as it would have.
      auto said = message_of(bound.error());
      for (auto& address : cfg.listen)
        if (said.find("cannot listen on " + address + ":") != std::string::npos)
          if (auto why = why_not_listening(address); !why.empty())
            return fail(make_error(ec::io, why));
      return fail(bound.error());
    }
    auto configs = derive_configs(cfg, *params, bound->addresses);
    if (!configs)
      return fail(configs.error());
    auto listening = bound->addresses;
    auto [actors, admin_error] = build(sys, cfg, *configs, chain->get(),
                                       local->get(), identity,
                                       std::move(*bound));
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
      if (service)
        service->start();
      int sig = 0;
      sigwait(&stop_signals, &sig);
      log_info("node", "{} received: stopping",
               sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    dog.emplace(shutdown_limit, cfg.socket_path());
    if (service) {
      dog->step("stopping the HTTP server");
      service->stop();
    }
    auto [flushed, running] = stop(sys, actors, *dog);
    if (!flushed)
      exit_code = 1;
    actors = node_actors{};
    dog->step("waiting for every actor to end (the peer sessions and the "
              "prefetcher too)");
    dog->waiting_for(std::move(running));
    sys.await_all_actors_done();
    // No actor runs: the stores can close before the system goes.
    dog->step("closing the stores");
    chain->reset();
    local->reset();
    dog->step("tearing down the actor system (the middleman, the "
              "scheduler, detached threads)");
  }
  ::unlink(cfg.socket_path().c_str());
  log_info("node", "stopped");
  dog->finish();
  return exit_code;
}

} // namespace hallmark
