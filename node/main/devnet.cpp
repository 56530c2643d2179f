#include "node/main/devnet.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <sodium.h>

#include "core/error.hpp"
#include "core/keys.hpp"
#include "core/records.hpp"
#include "node/main/admin_client.hpp"
#include "node/main/commands.hpp"
#include "node/main/render.hpp"

namespace fs = std::filesystem;

namespace hallmark {

std::string devnet_config::validate() const {
  if (nodes < 1 || nodes > devnet_max_nodes)
    return fmt::format("--nodes must be 1 to {}, got {}", devnet_max_nodes,
                       nodes);
  if (base_port != 0 && (base_port > 65535 || base_port + nodes - 1 > 65535))
    return fmt::format("--base-port {} leaves no room for {} ports (node i "
                       "listens on base-port + i, at most 65535)",
                       base_port, nodes);
  return {};
}

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// -- timing -------------------------------------------------------------------

/// How long a node may take to answer on its admin socket after its start.
constexpr auto start_limit = 30s;
/// How long every node together may take to exit after SIGTERM.
constexpr auto stop_limit = 20s;
/// How long the end waits for the tips to agree before it judges them.
constexpr auto agreement_limit = 15s;
/// How long one demo step may wait for its record to reach a block.
constexpr auto step_limit = 60s;
/// How long one status question may take while the table is drawn.
constexpr std::chrono::seconds poll_timeout{2};
/// Table period on a terminal, and when the output is a file or pipe.
constexpr auto tty_period = 1s;
constexpr auto plain_period = 5s;

/// How long the demo waits for every node to link to every other.
constexpr auto mesh_limit = 15s;
/// Items the demo issues.
constexpr uint32_t demo_items = 3;

// -- signals ------------------------------------------------------------------

/// SIGINT and SIGTERM received; the first stops the devnet, the second skips
/// the wait for agreeing tips.
volatile std::sig_atomic_t signals_received = 0;

extern "C" void on_stop_signal(int) {
  signals_received = signals_received + 1;
}

/// Installs the handlers; no SA_RESTART, so sleeps and waits wake.
void catch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

// -- small helpers ------------------------------------------------------------

std::string short_hex(const std::string& hex) {
  return hex.size() > 16 ? hex.substr(0, 16) : hex;
}

std::string short_hex(const hash256& h) {
  return short_hex(to_hex(h));
}

bool stdout_is_tty() {
  return ::isatty(STDOUT_FILENO) == 1;
}

size_t terminal_rows() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
    return ws.ws_row;
  return 24;
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

/// The peer ports: base_port + i when given (each must be free); else 19500
/// + i when those are free, else ports the kernel picks.
caf::expected<std::vector<uint16_t>> pick_ports(const devnet_config& cfg) {
  auto try_range = [&](uint32_t base) -> caf::expected<std::vector<uint16_t>> {
    std::vector<uint16_t> ports;
    for (uint32_t i = 0; i < cfg.nodes; ++i) {
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
  for (uint32_t i = 0; i < cfg.nodes && !failure; ++i) {
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

// -- what the devnet shows ----------------------------------------------------

/// One node's answer to a status question.
struct node_view {
  bool up = false;
  std::string key;
  uint64_t height = 0;
  std::string tip;
  std::string state;
  uint32_t links = 0;
  uint64_t pending = 0;
};

/// The devnet's lines: demo steps and events, each stamped with the seconds
/// since the start. Written by the demo thread and the main thread; printed
/// by the main thread only.
class journal {
public:
  explicit journal(steady::time_point start) : start_(start) {}

  void add(const std::string& line) {
    auto s = std::chrono::duration_cast<std::chrono::seconds>(steady::now()
                                                              - start_)
               .count();
    std::lock_guard<std::mutex> guard{mutex_};
    lines_.push_back(fmt::format("[{:>3}s] {}", s, line));
  }

  /// Lines from `from` on; moves `from` past them.
  std::vector<std::string> since(size_t& from) {
    std::lock_guard<std::mutex> guard{mutex_};
    std::vector<std::string> out;
    for (; from < lines_.size(); ++from)
      out.push_back(lines_[from]);
    return out;
  }

  /// The last `count` lines.
  std::vector<std::string> last(size_t count) {
    std::lock_guard<std::mutex> guard{mutex_};
    auto first = lines_.size() > count ? lines_.size() - count : 0;
    return {lines_.begin() + static_cast<std::ptrdiff_t>(first), lines_.end()};
  }

private:
  steady::time_point start_;
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

/// One node of the devnet and its process.
struct devnet_node {
  unsigned index = 0;
  std::string datadir;
  std::string key; ///< hex of the identity's public key
  key_pair identity = key_pair::generate();
  uint16_t port = 0;
  pid_t pid = -1;     ///< -1 once reaped
  int exit_code = -1; ///< after it was reaped: exit code, or 128 + signal

  std::string log_path() const { return datadir + "/node.log"; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
};

int code_of_status(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// -- the devnet ---------------------------------------------------------------

enum class demo_outcome { running, completed, failed, interrupted };

class devnet {
public:
  devnet(const devnet_config& cfg, std::string dir)
      : cfg_(cfg), dir_(std::move(dir)), start_(steady::now()),
        journal_(start_), tty_(stdout_is_tty()) {}

  devnet(const devnet&) = delete;
  devnet& operator=(const devnet&) = delete;

  /// Never leaves a node behind, whatever path led here.
  ~devnet() {
    stopping_ = true;
    if (demo_thread_.joinable())
      demo_thread_.join();
    stop_nodes();
  }

  /// Starts the nodes on `ports`, runs until the end, stops them and
  /// prints the summary; returns the exit code.
  int run(const std::vector<uint16_t>& ports);

private:
  // -- processes --------------------------------------------------------------

  caf::error init_nodes(const std::vector<uint16_t>& ports);
  caf::error spawn(devnet_node& n, const std::vector<std::string>& args);
  caf::error wait_ready(devnet_node& n);
  void reap_exited();
  void stop_nodes();
  bool any_alive() const;

  // -- views ------------------------------------------------------------------

  node_view look_at(const devnet_node& n) const;
  std::vector<node_view> look_at_all() const;
  std::optional<json> peers_of(const devnet_node& n) const;
  void print_table_of(const std::vector<node_view>& views,
                      const std::string& indent) const;
  void draw(const std::vector<node_view>& views);
  void print_new_lines();
  void say(const std::string& line);

  // -- the demo ---------------------------------------------------------------

  void demo();
  caf::error demo_steps();
  bool wait_until(const std::function<bool()>& ready,
                  std::chrono::seconds limit);
  caf::expected<json> item_at(const devnet_node& n, const hash256& item) const;
  caf::expected<int64_t> wait_in_block(const devnet_node& n,
                                       const hash256& item,
                                       const std::string& what);

  // -- the end ----------------------------------------------------------------

  int finish();

  devnet_config cfg_;
  std::string dir_;
  steady::time_point start_;
  journal journal_;
  bool tty_;
  size_t printed_ = 0; ///< journal lines printed so far (plain output)
  bool drawn_ = false; ///< the terminal shows the table
  std::vector<devnet_node> nodes_;
  std::thread demo_thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<demo_outcome> demo_outcome_{demo_outcome::running};
  std::string demo_failure_;
  std::mutex demo_mutex_;
};

caf::error devnet::init_nodes(const std::vector<uint16_t>& ports) {
  for (unsigned i = 0; i < cfg_.nodes; ++i) {
    node_config nc;
    nc.datadir = dir_ + "/node-" + std::to_string(i);
    nc.chain = "devnet";
    if (i == 0) {
      // The producer: an empty block every 5 s keeps tips moving, records
      // wait at most half a second.
      nc.produce = true;
      nc.empty_block_interval_s = 5;
      nc.min_block_interval_ms = 500;
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
    nodes_.push_back(std::move(n));
  }
  return {};
}

caf::error devnet::spawn(devnet_node& n, const std::vector<std::string>& args) {
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

caf::error devnet::wait_ready(devnet_node& n) {
  auto deadline = steady::now() + start_limit;
  while (steady::now() < deadline) {
    if (signals_received > 0)
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

void devnet::reap_exited() {
  for (auto& n : nodes_) {
    if (n.pid <= 0)
      continue;
    int status = 0;
    if (::waitpid(n.pid, &status, WNOHANG) == n.pid) {
      n.pid = -1;
      n.exit_code = code_of_status(status);
      if (!stopping_)
        journal_.add(fmt::format("node {} exited unexpectedly (code {}); see "
                                 "{}",
                                 n.index, n.exit_code, n.log_path()));
    }
  }
}

bool devnet::any_alive() const {
  for (auto& n : nodes_)
    if (n.pid > 0)
      return true;
  return false;
}

void devnet::stop_nodes() {
  for (auto& n : nodes_)
    if (n.pid > 0)
      ::kill(n.pid, SIGTERM);
  auto deadline = steady::now() + stop_limit;
  while (any_alive() && steady::now() < deadline) {
    for (auto& n : nodes_) {
      int status = 0;
      if (n.pid > 0 && ::waitpid(n.pid, &status, WNOHANG) == n.pid) {
        n.pid = -1;
        n.exit_code = code_of_status(status);
        journal_.add(
          fmt::format("node {} stopped (exit {})", n.index, n.exit_code));
      }
    }
    std::this_thread::sleep_for(50ms);
  }
  for (auto& n : nodes_) {
    if (n.pid <= 0)
      continue;
    ::kill(n.pid, SIGKILL);
    int status = 0;
    ::waitpid(n.pid, &status, 0);
    n.pid = -1;
    n.exit_code = code_of_status(status);
    journal_.add(fmt::format("node {} did not stop within {} s: killed",
                             n.index, stop_limit.count()));
  }
}

// -- views --------------------------------------------------------------------

node_view devnet::look_at(const devnet_node& n) const {
  node_view v;
  v.key = n.key;
  auto client = admin_client::connect(n.datadir);
  if (!client)
    return v;
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Request>().setStatus();
  auto reply = client->call(msg, schema::Reply::STATUS, poll_timeout);
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

std::vector<node_view> devnet::look_at_all() const {
  std::vector<node_view> views;
  for (auto& n : nodes_)
    views.push_back(look_at(n));
  return views;
}

std::optional<json> devnet::peers_of(const devnet_node& n) const {
  auto client = admin_client::connect(n.datadir);
  if (!client)
    return std::nullopt;
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Request>().setPeers();
  auto reply = client->call(msg, schema::Reply::PEERS, poll_timeout);
  if (!reply)
    return std::nullopt;
  return peers_json(reply->root().getPeers());
}

void devnet::print_table_of(const std::vector<node_view>& views,
                            const std::string& indent) const {
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < views.size(); ++i) {
    auto& v = views[i];
    auto& n = nodes_[i];
    std::string role = i == 0 ? " (producer)" : "";
    if (!v.up) {
      auto state = n.pid > 0 ? std::string{"no answer"}
                             : fmt::format("exited ({})", n.exit_code);
      rows.push_back({std::to_string(i) + role, short_hex(n.key), "-", "-",
                      state, "-", "-"});
      continue;
    }
    rows.push_back({std::to_string(i) + role, short_hex(v.key),
                    std::to_string(v.height), short_hex(v.tip),
                    v.state.empty() ? "-" : v.state, std::to_string(v.links),
                    std::to_string(v.pending)});
  }
  print_table({"NODE", "KEY", "HEIGHT", "TIP", "STATE", "PEERS", "PENDING"},
              rows, indent);
}

void devnet::draw(const std::vector<node_view>& views) {
  auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(steady::now()
                                                                  - start_)
                   .count();
  auto until = cfg_.run_for_s > 0
                 ? fmt::format("{} s of {}", elapsed, cfg_.run_for_s)
                 : fmt::format("{} s", elapsed);
  if (!tty_) {
    print_new_lines();
    fmt::print("[{:>3}s] status\n", elapsed);
    print_table_of(views, "       ");
    std::fflush(stdout);
    return;
  }
  // Clear the screen, cursor home; the table, then as many journal lines as
  // fit below it.
  fmt::print("\033[H\033[2J");
  fmt::print("hallmark devnet: {} nodes on 127.0.0.1, {}; Ctrl-C stops\n",
             nodes_.size(), until);
  fmt::print("data and logs: {}/node-N/node.log\n\n", dir_);
  print_table_of(views, "");
  // The journal lines shown below count as printed.
  journal_.since(printed_);
  auto used = nodes_.size() + 5;
  auto rows = terminal_rows();
  auto room = rows > used + 1 ? rows - used - 1 : 5;
  fmt::print("\n");
  for (auto& line : journal_.last(room))
    fmt::print("{}\n", line);
  std::fflush(stdout);
  drawn_ = true;
}

void devnet::print_new_lines() {
  for (auto& line : journal_.since(printed_))
    fmt::print("{}\n", line);
  std::fflush(stdout);
}

void devnet::say(const std::string& line) {
  journal_.add(line);
  // On a terminal the next redraw shows it; before the first, print it.
  if (!tty_ || !drawn_)
    print_new_lines();
}

// -- the demo -----------------------------------------------------------------

bool devnet::wait_until(const std::function<bool()>& ready,
                        std::chrono::seconds limit) {
  auto deadline = steady::now() + limit;
  while (!stopping_) {
    if (ready())
      return true;
    if (steady::now() >= deadline)
      return false;
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

caf::expected<json> devnet::item_at(const devnet_node& n,
                                    const hash256& item) const {
  auto client = admin_client::connect(n.datadir);
  if (!client)
    return client.error();
  auto reply = client->item(item);
  if (!reply)
    return reply.error();
  return item_json(reply->root().getItem());
}

caf::expected<int64_t> devnet::wait_in_block(const devnet_node& n,
                                             const hash256& item,
                                             const std::string& what) {
  int64_t height = -1;
  auto ok = wait_until(
    [&] {
      auto j = item_at(n, item);
      if (!j || (*j)["provenance"].empty())
        return false;
      auto& newest = (*j)["provenance"][0];
      if (newest["height"].is_null())
        return false;
      height = newest["height"].get<int64_t>();
      return true;
    },
    step_limit);
  if (!ok)
    return make_error(ec::not_found,
                      fmt::format("{} did not reach a block within {} s", what,
                                  step_limit.count()));
  return height;
}

void devnet::demo() {
  auto err = demo_steps();
  if (!err) {
    demo_outcome_ = demo_outcome::completed;
    return;
  }
  if (stopping_) {
    demo_outcome_ = demo_outcome::interrupted;
    journal_.add("demo: interrupted");
    return;
  }
  {
    std::lock_guard<std::mutex> guard{demo_mutex_};
    demo_failure_ = message_of(err);
  }
  demo_outcome_ = demo_outcome::failed;
  journal_.add("demo failed: " + message_of(err));
}

caf::error devnet::demo_steps() {
  // Records enter at node 1, away from the producer, when there is one.
  auto& entry = nodes_.size() > 1 ? nodes_[1] : nodes_[0];
  auto& producer = nodes_[0];
  auto entry_name = fmt::format("node {}", entry.index);
  auto shout = [&](const std::string& line) { journal_.add(line); };

  // 1. The network: the entry linked to the producer, then (bounded) every
  // node linked to every other, the later links learned by announcement.
  if (entry.index != producer.index) {
    if (!wait_until(
          [&] {
            auto peers = peers_of(entry);
            if (!peers)
              return false;
            for (auto& p : (*peers)["peers"])
              if (p["key"] == producer.key && p["link"] == "up")
                return true;
            return false;
          },
          step_limit))
      return make_error(ec::io,
                        fmt::format("{} did not link to the producer within "
                                    "{} s",
                                    entry_name, step_limit.count()));
    shout(
      fmt::format("{} linked to the producer (its static peer)", entry_name));
  }
  if (nodes_.size() > 2) {
    auto mesh = [&] {
      for (auto& n : nodes_)
        if (look_at(n).links + 1 < nodes_.size())
          return false;
      return true;
    };
    if (wait_until(mesh, mesh_limit))
      shout(fmt::format("every node linked to the {} others: the links "
                        "beyond node 0 came from announcements",
                        nodes_.size() - 1));
    else if (!stopping_)
      shout(fmt::format("not every pair of nodes linked after {} s; going "
                        "on (see the PEERS column)",
                        mesh_limit.count()));
  }
  if (stopping_)
    return make_error(ec::shutting_down, "stopping");

  // 2. An asset, registered by the entry node's identity.
  std::string fingerprint = "sha256:e3b0c44298fc1c149afbf4c8996fb924";
  auto registered = make_asset(
    "Sunflowers", {fingerprint.begin(), fingerprint.end()},
    {{"artist", "Vincent"}, {"year", "1888"}}, entry.identity);
  {
    auto client = admin_client::connect(entry.datadir);
    if (!client)
      return client.error();
    if (auto reply = client->submit({registered}); !reply)
      return reply.error();
  }
  auto asset = asset_id(registered);
  shout(fmt::format("asset {} \"Sunflowers\" registered via {}",
                    short_hex(asset), entry_name));

  // 3. Items of it, with the free-issue work over the entry's tip.
  issue_batch batch;
  {
    auto client = admin_client::connect(entry.datadir);
    if (!client)
      return client.error();
    auto reply = client->status();
    if (!reply)
      return reply.error();
    auto st = reply->root().getStatus();
    auto tip = st.getTip();
    auto anchor = to_fixed<32>(byte_view{tip.begin(), tip.size()});
    if (!anchor)
      return make_error(ec::malformed, "the node sent a tip of "
                                         + std::to_string(tip.size())
                                         + " bytes");
    batch.anchor = *anchor;
    for (uint32_t i = 0; i < demo_items; ++i) {
      uint64_t nonce = 0;
      randombytes_buf(&nonce, sizeof(nonce));
      batch.issues.push_back(make_issue(asset, nonce, entry.identity));
    }
    auto difficulty = batch_difficulty(st.getIssueDifficulty(),
                                       batch.issues.size());
    if (!solve_batch(batch, difficulty, uint64_t{1} << 32))
      return make_error(ec::bad_proof, "found no free-issue proof");
  }
  {
    auto client = admin_client::connect(entry.datadir);
    if (!client)
      return client.error();
    if (auto reply = client->submit({batch}); !reply)
      return reply.error();
  }
  auto item = record_id(batch.issues[0]);
  std::string ids;
  for (auto& i : batch.issues)
    ids += (ids.empty() ? "" : ", ") + short_hex(record_id(i));
  shout(fmt::format("issued {} items via {}: {}", demo_items, entry_name, ids));
  auto height = wait_in_block(entry, item, "the issues");
  if (!height)
    return height.error();
  shout(fmt::format("the issues are in block {} (made by node 0, seen by {})",
                    *height, entry_name));

  // 4. The first item to a fresh key, signed by the issuer.
  auto bob = key_pair::generate();
  auto carol = key_pair::generate();
  auto latest_record = [&]() -> caf::expected<hash256> {
    auto j = item_at(entry, item);
    if (!j)
      return j.error();
    auto id = (*j)["provenance"][0]["record"].get<std::string>();
    if (auto x = from_hex_fixed<32>(id))
      return *x;
    return make_error(ec::malformed, "bad record id " + id);
  };
  auto link = latest_record();
  if (!link)
    return link.error();
  auto to_bob = make_transfer(*link, bob.public_key_bytes(), entry.identity);
  {
    auto client = admin_client::connect(entry.datadir);
    if (!client)
      return client.error();
    if (auto reply = client->submit({to_bob}); !reply)
      return reply.error();
  }
  shout(fmt::format("transferred item {} to bob {} via {}", short_hex(item),
                    short_hex(to_hex(bob.public_key_bytes())), entry_name));
  height = wait_in_block(entry, item, "the transfer to bob");
  if (!height)
    return height.error();
  shout(fmt::format("the transfer to bob is in block {}", *height));

  // 5. Bob to another fresh key, who countersigns.
  link = latest_record();
  if (!link)
    return link.error();
  auto to_carol = make_transfer(*link, carol.public_key_bytes(), bob);
  countersign(to_carol, carol);
  {
    auto client = admin_client::connect(entry.datadir);
    if (!client)
      return client.error();
    if (auto reply = client->submit({to_carol}); !reply)
      return reply.error();
  }
  shout(fmt::format("bob transferred it to carol {}, who countersigned",
                    short_hex(to_hex(carol.public_key_bytes()))));
  height = wait_in_block(entry, item, "the transfer to carol");
  if (!height)
    return height.error();
  shout(fmt::format("the transfer to carol is in block {}", *height));

  // 6. Every node tells the same story.
  auto carol_hex = to_hex(carol.public_key_bytes());
  auto everywhere = [&] {
    for (auto& n : nodes_) {
      auto j = item_at(n, item);
      if (!j || (*j)["owner"] != carol_hex
          || (*j)["provenance"][0]["height"].is_null())
        return false;
    }
    return true;
  };
  if (!wait_until(everywhere, 30s))
    return make_error(ec::not_found,
                      "not every node shows carol as the owner within 30 s");
  auto who = nodes_.size() == 1
               ? std::string{"the node shows"}
               : fmt::format("all {} nodes show", nodes_.size());
  shout(who + " carol as the owner, with 3 records of provenance in blocks");
  shout("demo complete; the nodes keep running until the end");
  return {};
}

// -- run and finish -----------------------------------------------------------

int devnet::run(const std::vector<uint16_t>& ports) {
  if (auto err = init_nodes(ports)) {
    fmt::print(stderr, "hallmark: {}\n", message_of(err));
    return 1;
  }
  say(fmt::format("devnet: {} nodes on 127.0.0.1 in {}", nodes_.size(), dir_));
  // The producer first: the others name it as their static peer.
  auto& producer = nodes_[0];
  auto peer_arg = producer.key + "@" + producer.address();
  auto fail = [&](const caf::error& err) {
    print_new_lines();
    fmt::print(stderr, "hallmark: {}\n", message_of(err));
    return 1; // the destructor stops what was started
  };
  if (auto err = spawn(producer, {"run", "--datadir", producer.datadir,
                                  "--produce", "--listen", producer.address()}))
    return fail(err);
  if (auto err = wait_ready(producer))
    return fail(err);
  say(fmt::format("node 0 {} producing, listening on {}",
                  short_hex(producer.key), producer.address()));
  for (size_t i = 1; i < nodes_.size(); ++i)
    if (auto err = spawn(nodes_[i],
                         {"run", "--datadir", nodes_[i].datadir, "--listen",
                          nodes_[i].address(), "--peer", peer_arg}))
      return fail(err);
  for (size_t i = 1; i < nodes_.size(); ++i) {
    if (auto err = wait_ready(nodes_[i]))
      return fail(err);
    say(fmt::format("node {} {} listening on {}; static peer: node 0", i,
                    short_hex(nodes_[i].key), nodes_[i].address()));
  }
  demo_thread_ = std::thread{[this] { demo(); }};

  auto deadline = cfg_.run_for_s > 0
                    ? start_ + std::chrono::seconds{cfg_.run_for_s}
                    : steady::time_point::max();
  auto period = tty_ ? tty_period : plain_period;
  auto next_table = steady::now();
  while (true) {
    if (signals_received > 0) {
      journal_.add("interrupted: stopping the nodes");
      break;
    }
    if (steady::now() >= deadline) {
      journal_.add(
        fmt::format("{} s passed: stopping the nodes", cfg_.run_for_s));
      break;
    }
    reap_exited();
    if (!any_alive()) {
      journal_.add("every node has exited");
      break;
    }
    if (steady::now() >= next_table) {
      draw(look_at_all());
      next_table += period;
    } else if (!tty_) {
      print_new_lines();
    }
    std::this_thread::sleep_for(100ms);
  }
  return finish();
}

int devnet::finish() {
  stopping_ = true;
  if (demo_thread_.joinable())
    demo_thread_.join();
  // A block may be on its way: give the tips a moment to agree. A second
  // signal skips the wait.
  auto agree = [](const std::vector<node_view>& views) {
    for (auto& v : views)
      if (!v.up || v.tip != views.front().tip)
        return false;
    return true;
  };
  auto signals_at_stop = signals_received;
  auto views = look_at_all();
  // Waiting helps only when every node still runs.
  bool all_running = true;
  for (auto& n : nodes_)
    all_running = all_running && n.pid > 0;
  if (!agree(views) && all_running) {
    journal_.add(fmt::format("waiting up to {} s for the tips to agree",
                             agreement_limit.count()));
    if (!tty_)
      print_new_lines();
    auto deadline = steady::now() + agreement_limit;
    while (!agree(views) && steady::now() < deadline
           && signals_received == signals_at_stop) {
      std::this_thread::sleep_for(250ms);
      views = look_at_all();
    }
  }
  // Who is linked to whom, read while the nodes still run.
  std::vector<std::optional<json>> peers;
  for (auto& n : nodes_)
    peers.push_back(peers_of(n));
  if (tty_)
    draw(views);
  stop_nodes();
  print_new_lines();

  auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(steady::now()
                                                                  - start_)
                   .count();
  fmt::print("\nsummary after {} s\n", elapsed);
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    auto& v = views[i];
    std::string links = "-";
    if (peers[i]) {
      size_t up = 0, learned = 0;
      for (auto& p : (*peers[i])["peers"]) {
        if (p["link"] != "up")
          continue;
        ++up;
        if (!p["static"].get<bool>())
          ++learned;
      }
      links = fmt::format("{} ({} not static)", up, learned);
    }
    rows.push_back({std::to_string(i), short_hex(nodes_[i].key),
                    v.up ? std::to_string(v.height) : "-",
                    v.up ? short_hex(v.tip) : "-", links});
  }
  print_table({"NODE", "KEY", "HEIGHT", "TIP", "LINKS"}, rows, "  ");
  bool tips_agree = agree(views);
  if (tips_agree) {
    fmt::print("all {} tips agree at height {}: {}\n", views.size(),
               views.front().height, views.front().tip);
  } else {
    std::string silent;
    for (size_t i = 0; i < views.size(); ++i)
      if (!views[i].up)
        silent += (silent.empty() ? "" : ", ") + std::to_string(i);
    if (silent.empty())
      fmt::print("the tips do not agree\n");
    else
      fmt::print("the tips do not agree: node {} did not answer\n", silent);
  }
  auto outcome = demo_outcome_.load();
  switch (outcome) {
  case demo_outcome::completed:
    fmt::print("demo: completed\n");
    break;
  case demo_outcome::failed: {
    std::lock_guard<std::mutex> guard{demo_mutex_};
    fmt::print("demo: failed: {}\n", demo_failure_);
    break;
  }
  case demo_outcome::interrupted:
  case demo_outcome::running:
  default:
    fmt::print("demo: stopped before it completed\n");
    break;
  }
  std::fflush(stdout);
  return tips_agree && outcome != demo_outcome::failed ? 0 : 1;
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
  if (longest.socket_path().size() >= sizeof(sockaddr_un{}.sun_path)) {
    fmt::print(stderr,
               "hallmark: devnet: --dir {} is too long: the admin socket path "
               "{} must be under {} bytes\n",
               dir, longest.socket_path(), sizeof(sockaddr_un{}.sun_path));
    return 2;
  }
  auto ports = pick_ports(cfg);
  if (!ports) {
    fmt::print(stderr, "hallmark: {}\n", message_of(ports.error()));
    return 1;
  }
  if (temporary) {
    if (::mkdtemp(dir.data()) == nullptr) {
      fmt::print(stderr,
                 "hallmark: cannot create a directory under /tmp: "
                 "{}\n",
                 std::strerror(errno));
      return 1;
    }
  } else {
    fs::create_directories(dir, fe);
    if (fe || !fs::is_directory(dir)) {
      fmt::print(stderr, "hallmark: cannot create {}: {}\n", dir,
                 fe ? fe.message() : "not a directory");
      return 1;
    }
  }
  catch_stop_signals();
  int code = 1;
  {
    devnet net{cfg, dir};
    code = net.run(*ports);
  }
  // A temporary directory is kept when the run failed, for its logs.
  if (temporary) {
    if (code == 0)
      fs::remove_all(dir, fe);
    else
      fmt::print("data and logs kept in {}\n", dir);
  }
  return code;
}

// -- the command --------------------------------------------------------------

void add_devnet_command(CLI::App& app, command_table& commands) {
  auto cfg = std::make_shared<devnet_config>();
  auto devnet = app.add_subcommand(
    "devnet", "Run N nodes on loopback, one producing, and walk a record "
              "through them");
  devnet->add_option("--nodes", cfg->nodes, "Node processes, 1 to 16")
    ->required();
  devnet->add_option("--dir", cfg->dir,
                     "Directory for the nodes' data and logs, kept "
                     "(default: a fresh one under /tmp, removed)");
  auto run_for = devnet->add_option("--for", cfg->run_for_s,
                                    "Seconds to run (default: until Ctrl-C)");
  devnet
    ->add_option("--base-port", cfg->base_port,
                 "Node i listens on base-port + i (default: 19500 if "
                 "free, else free ports)")
    ->check(CLI::Range(1u, 65535u));
  commands.add(devnet, [cfg, run_for] {
    if (run_for->count() > 0 && cfg->run_for_s == 0)
      return usage("devnet: --for must be at least 1 second (leave it out to "
                   "run until Ctrl-C)");
    if (auto problem = cfg->validate(); !problem.empty())
      return usage("devnet: " + problem);
    return run_devnet(*cfg);
  });
}

} // namespace hallmark
