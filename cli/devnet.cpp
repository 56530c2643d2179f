// `hallmark devnet`, the command: its arguments, the nodes' directory and
// ports, then the run: the supervisor starts the nodes, the demo walks its
// records, the screen shows them until the end, and the end judges the tips.
#include "cli/devnet.hpp"

#include <sys/un.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include <fmt/core.h>

#include "cli/commands.hpp"
#include "cli/devnet_demo.hpp"
#include "cli/devnet_screen.hpp"
#include "cli/devnet_supervisor.hpp"
#include "core/error.hpp"
#include "node/config.hpp"

namespace fs = std::filesystem;

namespace hallmark {

std::string devnet_config::validate() const {
  if (nodes < 1 || nodes > devnet_max_nodes)
    return fmt::format("--nodes must be 1 to {}, got {}", devnet_max_nodes,
                       nodes);
  if (run_for_s > devnet_max_run_for_s)
    return fmt::format("--for must be 1 to {} seconds, got {}",
                       devnet_max_run_for_s, run_for_s);
  if (base_port != 0
      && (base_port > 65535 || base_port + 2 * nodes - 1 > 65535))
    return fmt::format("--base-port {} leaves no room for {} ports (node i "
                       "listens on base-port + i and serves HTTP on "
                       "base-port + nodes + i, at most 65535)",
                       base_port, 2 * nodes);
  return {};
}

namespace {

using namespace std::chrono_literals;

/// How long the end waits for the tips to agree before it judges them.
constexpr auto agreement_limit = 15s;

/// One run of the devnet: its nodes, its screen and its demo.
class devnet_run {
public:
  devnet_run(const devnet_config& cfg, const std::string& dir)
      : cfg_(cfg), dir_(dir), start_(steady::now()), journal_(start_),
        supervisor_(dir, journal_, stopping_),
        screen_(cfg, dir, start_, journal_, supervisor_),
        demo_(supervisor_.nodes(), journal_, stopping_) {}

  /// Stops the demo, then (the supervisor's destructor) every node.
  ~devnet_run() { stopping_ = true; }

  /// Starts the nodes on `ports`, runs until the end, stops them and
  /// prints the summary; returns the exit code.
  int run(const std::vector<uint16_t>& ports);

private:
  int finish();

  devnet_config cfg_;
  std::string dir_;
  steady::time_point start_;
  devnet_journal journal_;
  std::atomic<bool> stopping_{false};
  // Destroyed in reverse: the demo's thread ends before the nodes stop.
  devnet_supervisor supervisor_;
  devnet_screen screen_;
  devnet_demo demo_;
};

int devnet_run::run(const std::vector<uint16_t>& ports) {
  // A failure to start: one line with no error code; the destructor stops
  // what was started.
  auto fail = [&](const caf::error& err) {
    screen_.print_new_lines();
    fmt::print(stderr, "hallmark: {}\n", message_of(err));
    return exit_failed;
  };
  if (auto err = supervisor_.init_nodes(ports))
    return fail(err);
  screen_.say(
    fmt::format("devnet: {} nodes on 127.0.0.1 in {}", ports.size() / 2, dir_));
  auto started = supervisor_.start([&](const devnet_node& n) {
    if (n.index == 0)
      screen_.say(fmt::format("node 0 {} producing, listening on {}; status "
                              "page {}",
                              short_hex(n.key), n.address(), n.page()));
    else
      screen_.say(fmt::format("node {} {} listening on {}; static peer: "
                              "node 0; status page {}",
                              n.index, short_hex(n.key), n.address(),
                              n.page()));
  });
  if (started)
    return fail(started);
  demo_.start();

  auto deadline = cfg_.run_for_s > 0
                    ? start_ + std::chrono::seconds{cfg_.run_for_s}
                    : steady::time_point::max();
  auto next_table = steady::now();
  while (true) {
    if (stop_signals() > 0) {
      journal_.add("interrupted: stopping the nodes");
      break;
    }
    if (steady::now() >= deadline) {
      journal_.add(
        fmt::format("{} s passed: stopping the nodes", cfg_.run_for_s));
      break;
    }
    supervisor_.reap_exited();
    if (!supervisor_.any_alive()) {
      journal_.add("every node has exited");
      break;
    }
    if (steady::now() >= next_table) {
      screen_.draw(supervisor_.look_at_all());
      next_table += screen_.period();
    } else if (!screen_.tty()) {
      screen_.print_new_lines();
    }
    std::this_thread::sleep_for(100ms);
  }
  return finish();
}

int devnet_run::finish() {
  stopping_ = true;
  demo_.join();
  // A block may be on its way: give the tips a moment to agree. A second
  // signal skips the wait. Waiting helps only when every node still runs.
  auto signals_at_stop = stop_signals();
  auto views = supervisor_.look_at_all();
  if (!tips_agree(views) && supervisor_.all_alive()) {
    journal_.add(fmt::format("waiting up to {} s for the tips to agree",
                             agreement_limit.count()));
    if (!screen_.tty())
      screen_.print_new_lines();
    auto deadline = steady::now() + agreement_limit;
    while (!tips_agree(views) && steady::now() < deadline
           && stop_signals() == signals_at_stop) {
      std::this_thread::sleep_for(250ms);
      views = supervisor_.look_at_all();
    }
  }
  // Who is linked to whom, read while the nodes still run.
  std::vector<std::optional<json>> peers;
  for (auto& n : supervisor_.nodes())
    peers.push_back(peers_of(n));
  if (screen_.tty())
    screen_.draw(views);
  supervisor_.stop();
  screen_.print_new_lines();
  screen_.print_summary(views, peers);
  fmt::print("{}\n", demo_.summary());
  std::fflush(stdout);
  bool failed = demo_.result() == devnet_demo::outcome::failed;
  if (!supervisor_.stopped_cleanly()) {
    fmt::print("not every node stopped by itself with exit 0; see their "
               "logs\n");
    failed = true;
  }
  return tips_agree(views) && !failed ? exit_ok : exit_failed;
}

} // namespace

int run_devnet(const devnet_config& cfg) {
  // The nodes' directories: DIR/node-I, under a fresh /tmp directory unless
  // --dir names one. Checked before anything is created.
  bool temporary = cfg.dir.empty();
  std::string dir = "/tmp/hallmark-devnet-XXXXXX";
  std::error_code fe;
  if (!temporary) {
    dir = fs::absolute(cfg.dir, fe).lexically_normal().string();
    if (dir.size() > 1 && dir.back() == '/')
      dir.pop_back();
  }
  // The longest admin socket path must fit a Unix socket address.
  node_config longest;
  longest.datadir = dir + "/node-" + std::to_string(cfg.nodes - 1);
  if (longest.socket_path().size() >= sizeof(sockaddr_un{}.sun_path))
    return usage(fmt::format("devnet: --dir {} is too long: the admin socket "
                             "path {} must be under {} bytes",
                             dir, longest.socket_path(),
                             sizeof(sockaddr_un{}.sun_path)));
  // Failures before a node exists: one line, no error code.
  auto fail = [](const std::string& message) {
    fmt::print(stderr, "hallmark: {}\n", message);
    return exit_failed;
  };
  auto ports = pick_ports(cfg);
  if (!ports)
    return fail(message_of(ports.error()));
  if (temporary) {
    if (::mkdtemp(dir.data()) == nullptr)
      return fail(std::string{"cannot create a directory under /tmp: "}
                  + std::strerror(errno));
  } else {
    fs::create_directories(dir, fe);
    if (fe || !fs::is_directory(dir))
      return fail(fmt::format("cannot create {}: {}", dir,
                              fe ? fe.message() : "not a directory"));
  }
  catch_stop_signals();
  int code = exit_failed;
  {
    devnet_run net{cfg, dir};
    code = net.run(*ports);
  }
  // A temporary directory is kept when the run failed, for its logs.
  if (temporary) {
    if (code == exit_ok)
      fs::remove_all(dir, fe);
    else
      fmt::print("data and logs kept in {}\n", dir);
  }
  return code;
}

// -- the command --------------------------------------------------------------

namespace {

struct devnet_options {
  devnet_config cfg;
};

int devnet(const devnet_options& o) {
  if (auto problem = o.cfg.validate(); !problem.empty())
    return usage("devnet: " + problem);
  return run_devnet(o.cfg);
}

} // namespace

void add_devnet_command(CLI::App& app, command_table& commands) {
  auto [cmd, o] = commands.add<devnet_options>(
    &app, "devnet",
    "Run N nodes on loopback, one producing, and walk a record through them",
    devnet);
  cmd->add_option("--nodes", o->cfg.nodes, "Node processes, 1 to 16")
    ->required();
  cmd->add_option("--dir", o->cfg.dir,
                  "Directory for the nodes' data and logs, kept "
                  "(default: a fresh one under /tmp, removed)");
  // At least a second; at most 30 days, a bound that keeps the deadline
  // far from overflowing a clock.
  cmd
    ->add_option("--for", o->cfg.run_for_s,
                 "Seconds to run, 1 to 2592000 (30 days; default: until "
                 "Ctrl-C)")
    ->check(whole_number(1, devnet_max_run_for_s, "seconds"));
  cmd
    ->add_option("--base-port", o->cfg.base_port,
                 "Node i listens on base-port + i and serves its status "
                 "page on base-port + N + i (default: 19500 if free, else "
                 "free ports)")
    ->check(whole_number(1, 65535, "port"));
}

} // namespace hallmark
