#include "cli/devnet_supervisor.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <thread>

#include <fmt/core.h>

#include "client/admin_client.hpp"
#include "core/error.hpp"
#include "node/config.hpp"

namespace fs = std::filesystem;

namespace hallmark {

namespace {

using namespace std::chrono_literals;

/// How long a node may take to answer on its admin socket after its start.
constexpr auto start_limit = 30s;
/// How long every node together may take to exit after SIGTERM: twice what
/// a node's shutdown watchdog allows.
constexpr auto stop_limit = 10s;
/// How long one status or peers question may take.
constexpr std::chrono::seconds poll_timeout{2};

/// The producer's timers: an empty block every 5 s keeps tips moving,
/// records wait at most half a second.
constexpr uint64_t producer_empty_block_interval_s = 5;
constexpr uint64_t producer_min_block_interval_ms = 500;

volatile std::sig_atomic_t signals_received = 0;

extern "C" void on_stop_signal(int) {
  signals_received = signals_received + 1;
}

/// Binds 127.0.0.1:`port` as the node's listener will (SO_REUSEADDR) and
/// returns the socket; port 0 lets the kernel pick.
caf::expected<int> bind_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return make_error(ec::io, std::string{"cannot create a socket: "}
                                + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    auto err = make_error(ec::io, fmt::format("cannot listen on 127.0.0.1:{}: "
                                              "{}",
                                              port, std::strerror(errno)));
    ::close(fd);
    return err;
  }
  return fd;
}

int code_of_status(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

} // namespace

// -- the journal --------------------------------------------------------------

void devnet_journal::add(const std::string& line) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(steady::now()
                                                            - start_)
             .count();
  std::lock_guard<std::mutex> guard{mutex_};
  lines_.push_back(fmt::format("[{:>3}s] {}", s, line));
}

std::vector<std::string> devnet_journal::since(size_t& from) {
  std::lock_guard<std::mutex> guard{mutex_};
  std::vector<std::string> out;
  for (; from < lines_.size(); ++from)
    out.push_back(lines_[from]);
  return out;
}

std::vector<std::string> devnet_journal::last(size_t count) {
  std::lock_guard<std::mutex> guard{mutex_};
  auto first = lines_.size() > count ? lines_.size() - count : 0;
  return {lines_.begin() + static_cast<std::ptrdiff_t>(first), lines_.end()};
}

// -- asking a node ------------------------------------------------------------

node_view look_at(const devnet_node& n) {
  node_view v;
  v.key = n.key;
  auto reply = ask_node(n.datadir, [](admin_client& c) {
    capnp::MallocMessageBuilder msg;
    msg.initRoot<schema::Request>().setStatus();
    return c.call(msg, schema::Reply::STATUS, poll_timeout);
  });
  if (!reply)
    return v;
  auto st = reply->root().getStatus();
  v.up = true;
  v.height = st.getHeight();
  v.tip = hex_of(st.getTip());
  v.state = st.getConnectorState().cStr();
  v.links = st.getPeers();
  v.pending = st.getPendingRecords();
  return v;
}

std::optional<json> peers_of(const devnet_node& n) {
  auto reply = ask_node(n.datadir, [](admin_client& c) {
    capnp::MallocMessageBuilder msg;
    msg.initRoot<schema::Request>().setPeers();
    return c.call(msg, schema::Reply::PEERS, poll_timeout);
  });
  if (!reply)
    return std::nullopt;
  return peers_json(reply->root().getPeers());
}

bool tips_agree(const std::vector<node_view>& views) {
  for (auto& v : views)
    if (!v.up || v.tip != views.front().tip)
      return false;
  return true;
}

// -- signals and ports --------------------------------------------------------

void catch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

int stop_signals() {
  return signals_received;
}

caf::expected<std::vector<uint16_t>> pick_ports(const devnet_config& cfg) {
  auto try_range = [&](uint32_t base) -> caf::expected<std::vector<uint16_t>> {
    std::vector<uint16_t> ports;
    for (uint32_t i = 0; i < 2 * cfg.nodes; ++i) {
      auto port = static_cast<uint16_t>(base + i);
      auto fd = bind_loopback(port);
      if (!fd)
        return fd.error();
      ::close(*fd);
      ports.push_back(port);
    }
    return ports;
  };
  if (cfg.base_port != 0) {
    auto ports = try_range(cfg.base_port);
    if (!ports)
      return make_error(ec::io, message_of(ports.error())
                                  + "; pick another --base-port");
    return ports;
  }
  if (auto ports = try_range(devnet_default_base_port))
    return ports;
  // Hold every socket until all are picked, so the ports differ.
  std::vector<int> held;
  std::vector<uint16_t> ports;
  caf::error failure;
  for (uint32_t i = 0; i < 2 * cfg.nodes && !failure; ++i) {
    auto fd = bind_loopback(0);
    if (!fd) {
      failure = fd.error();
      break;
    }
    held.push_back(*fd);
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    if (::getsockname(*fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      failure = make_error(ec::io,
                           std::string{"getsockname: "} + std::strerror(errno));
    else
      ports.push_back(ntohs(addr.sin_port));
  }
  for (auto fd : held)
    ::close(fd);
  if (failure)
    return failure;
  return ports;
}

// -- the processes ------------------------------------------------------------

devnet_supervisor::devnet_supervisor(std::string dir, devnet_journal& journal,
                                     const std::atomic<bool>& stopping)
    : dir_(std::move(dir)), journal_(journal), stopping_(stopping) {}

devnet_supervisor::~devnet_supervisor() {
  stop();
}

caf::error devnet_supervisor::init_nodes(const std::vector<uint16_t>& ports) {
  auto nodes = ports.size() / 2;
  for (unsigned i = 0; i < nodes; ++i) {
    node_config nc;
    nc.datadir = dir_ + "/node-" + std::to_string(i);
    nc.chain = devnet_chain;
    nc.http_listen = "127.0.0.1:" + std::to_string(ports[nodes + i]);
    if (i == 0) {
      nc.produce = true;
      nc.empty_block_interval_s = producer_empty_block_interval_s;
      nc.min_block_interval_ms = producer_min_block_interval_ms;
    }
    auto identity = init_datadir(nc);
    if (!identity)
      return identity.error();
    devnet_node n;
    n.index = i;
    n.datadir = nc.datadir;
    n.identity = *identity;
    n.key = to_hex(identity->public_key_bytes());
    n.port = ports[i];
    n.http_port = ports[nodes + i];
    nodes_.push_back(std::move(n));
  }
  return {};
}

caf::error
devnet_supervisor::start(const std::function<void(const devnet_node&)>& ready) {
  // The producer first: the others name it as their static peer.
  auto& producer = nodes_[0];
  auto peer_arg = producer.key + "@" + producer.address();
  if (auto err = spawn(producer, {"run", "--datadir", producer.datadir,
                                  "--produce", "--listen", producer.address()}))
    return err;
  if (auto err = wait_ready(producer))
    return err;
  ready(producer);
  for (size_t i = 1; i < nodes_.size(); ++i)
    if (auto err = spawn(nodes_[i],
                         {"run", "--datadir", nodes_[i].datadir, "--listen",
                          nodes_[i].address(), "--peer", peer_arg}))
      return err;
  for (size_t i = 1; i < nodes_.size(); ++i) {
    if (auto err = wait_ready(nodes_[i]))
      return err;
    ready(nodes_[i]);
  }
  return {};
}

caf::error devnet_supervisor::spawn(devnet_node& n,
                                    const std::vector<std::string>& args) {
  // Everything the child needs is made before fork().
  std::error_code fe;
  auto self = fs::read_symlink("/proc/self/exe", fe).string();
  std::vector<std::string> argv_s{self.empty() ? "hallmark" : self};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  auto log = n.log_path();
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                      0600);
  if (log_fd < 0)
    return make_error(ec::io,
                      "cannot open " + log + ": " + std::strerror(errno));
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  auto parent = ::getpid();
  auto pid = ::fork();
  if (pid == 0) {
    // The child: async-signal-safe calls only until exec.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent)
      ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    if (null_fd >= 0)
      ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv("/proc/self/exe", argv.data());
    const char msg[] = "hallmark devnet: cannot exec /proc/self/exe\n";
    [[maybe_unused]] auto w = ::write(STDERR_FILENO, msg, sizeof(msg) - 1);
    ::_exit(127);
  }
  auto fork_errno = errno;
  ::close(log_fd);
  if (null_fd >= 0)
    ::close(null_fd);
  if (pid < 0)
    return make_error(ec::io,
                      std::string{"cannot fork: "} + std::strerror(fork_errno));
  n.pid = pid;
  return {};
}

caf::error devnet_supervisor::wait_ready(const devnet_node& n) {
  auto deadline = steady::now() + start_limit;
  while (steady::now() < deadline) {
    if (stop_signals() > 0)
      return make_error(ec::shutting_down, "interrupted while starting");
    if (look_at(n).up)
      return {};
    reap_exited();
    if (n.pid < 0)
      return make_error(ec::io,
                        fmt::format("node {} exited at start (code "
                                    "{}); see {}",
                                    n.index, n.exit_code, n.log_path()));
    std::this_thread::sleep_for(100ms);
  }
  return make_error(ec::io,
                    fmt::format("node {} did not answer within {} s; "
                                "see {}",
                                n.index, start_limit.count(), n.log_path()));
}

void devnet_supervisor::reaped(devnet_node& n, int status) {
  n.pid = -1;
  n.exit_code = code_of_status(status);
}

void devnet_supervisor::reap_exited() {
  for (auto& n : nodes_) {
    int status = 0;
    if (n.pid <= 0 || ::waitpid(n.pid, &status, WNOHANG) != n.pid)
      continue;
    reaped(n, status);
    if (!stopping_)
      journal_.add(fmt::format("node {} exited unexpectedly (code {}); see "
                               "{}",
                               n.index, n.exit_code, n.log_path()));
  }
}

bool devnet_supervisor::any_alive() const {
  for (auto& n : nodes_)
    if (n.pid > 0)
      return true;
  return false;
}

bool devnet_supervisor::all_alive() const {
  for (auto& n : nodes_)
    if (n.pid <= 0)
      return false;
  return true;
}

std::vector<node_view> devnet_supervisor::look_at_all() const {
  std::vector<node_view> views;
  for (auto& n : nodes_)
    views.push_back(look_at(n));
  return views;
}

void devnet_supervisor::stop() {
  for (auto& n : nodes_)
    if (n.pid > 0)
      ::kill(n.pid, SIGTERM);
  auto start = steady::now();
  auto deadline = start + stop_limit;
  while (any_alive() && steady::now() < deadline) {
    for (auto& n : nodes_) {
      int status = 0;
      if (n.pid > 0 && ::waitpid(n.pid, &status, WNOHANG) == n.pid) {
        reaped(n, status);
        n.stop_seconds = std::chrono::duration<double>(steady::now() - start)
                           .count();
        journal_.add(fmt::format("node {} stopped (exit {}) in {:.1f} s",
                                 n.index, n.exit_code, n.stop_seconds));
      }
    }
    std::this_thread::sleep_for(20ms);
  }
  for (auto& n : nodes_) {
    if (n.pid <= 0)
      continue;
    ::kill(n.pid, SIGKILL);
    int status = 0;
    ::waitpid(n.pid, &status, 0);
    reaped(n, status);
    n.killed = true;
    journal_.add(fmt::format("node {} did not stop within {} s: killed",
                             n.index, stop_limit.count()));
  }
}

bool devnet_supervisor::stopped_cleanly() const {
  for (auto& n : nodes_)
    if (n.killed || (n.stop_seconds >= 0 && n.exit_code != 0))
      return false;
  return true;
}

} // namespace hallmark
