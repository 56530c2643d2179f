#include "tests/netsim/netsim.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/core.h>

#include "client/admin_client.hpp"
#include "core/error.hpp"

namespace fs = std::filesystem;

namespace hallmark::netsim {

namespace {

using sim_clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr uint16_t peer_port = 9333;
constexpr uint16_t http_port = 8642;
constexpr const char* netns_dir = "/run/netns";
constexpr const char* prefix = "hmsim-";

double seconds_between(sim_clock::time_point a, sim_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double ms_between(sim_clock::time_point a, sim_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

/// Runs `argv` to its end, its output to `log` (or nowhere); the exit code,
/// or -1.
int run_to_end(const std::vector<std::string>& argv,
               const std::string& log = "/dev/null") {
  pid_t pid = ::fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  return {std::istreambuf_iterator<char>{in}, {}};
}

/// The pids of the processes in network namespace `ns` (as `ip netns pids`).
std::vector<pid_t> pids_in(const std::string& ns) {
  std::vector<pid_t> out;
  struct stat target;
  if (::stat((std::string{netns_dir} + "/" + ns).c_str(), &target) != 0)
    return out;
  std::error_code ec;
  for (auto& entry : fs::directory_iterator{"/proc", ec}) {
    auto name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit))
      continue;
    struct stat st;
    auto link = entry.path() / "ns" / "net";
    if (::stat(link.c_str(), &st) == 0 && st.st_ino == target.st_ino
        && st.st_dev == target.st_dev)
      out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

/// Removes namespace `ns`, killing what still runs in it.
void remove_namespace(const std::string& ns) {
  for (auto pid : pids_in(ns))
    ::kill(pid, SIGKILL);
  run_to_end({"ip", "netns", "del", ns});
}

/// Removes what runs of the simulator that are gone left behind.
void remove_leftovers(std::ostream* log) {
  std::error_code ec;
  std::vector<std::string> gone;
  for (auto& entry : fs::directory_iterator{netns_dir, ec}) {
    auto name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0)
      continue;
    auto rest = name.substr(std::strlen(prefix));
    auto pid = std::strtol(rest.c_str(), nullptr, 10);
    if (pid > 0 && (pid == ::getpid() || ::kill(pid, 0) == 0))
      continue;
    gone.push_back(name);
  }
  for (auto& ns : gone)
    remove_namespace(ns);
  if (log && !gone.empty())
    *log << "removed " << gone.size() << " namespaces a killed run left\n";
}

/// A node's host: its namespace, address and process.
struct host {
  size_t index = 0;
  std::string ns;
  std::string address; ///< 10.77.X.Y
  std::string datadir;
  std::string log;
  std::string key; ///< public key, hex
  pid_t pid = -1;
  int exit_status = 0;
  bool exited = false;
  std::optional<sim_clock::time_point> ready;
  std::optional<sim_clock::time_point> exited_at;
};

/// What the simulator has seen of one node, written by its threads.
struct seen {
  std::mutex mutex;
  /// Tip events: (height, hash, arrival).
  std::vector<std::tuple<uint64_t, std::string, sim_clock::time_point>> tips;
  uint32_t links = 0;
  std::vector<double> status_ms;
  size_t status_failures = 0;
  double status_max_ms = 0;
};

/// The kernel's neighbour (ARP) table is one for every namespace, with
/// one limit (gc_thresh3, 1024 by default): N hosts that all link to each
/// other on one bridge need N·(N−1) entries, which at 64 hosts overflows
/// it ("neighbor table overflow"), and SYNs to new neighbours are never
/// sent. N machines would have N tables. The limits are raised for the
/// run and put back after it.
class neighbour_limits {
public:
  explicit neighbour_limits(size_t hosts) {
    auto needed = static_cast<uint64_t>(hosts) * hosts * 2;
    for (auto name : {"gc_thresh1", "gc_thresh2", "gc_thresh3"}) {
      auto path = std::string{"/proc/sys/net/ipv4/neigh/default/"} + name;
      auto old = std::strtoull(read_file(path).c_str(), nullptr, 10);
      if (old == 0 || old >= needed)
        continue;
      saved_.emplace_back(path, old);
    }
    // Raised from the largest down, so thresh1 <= thresh2 <= thresh3 holds
    // at every step.
    for (auto i = saved_.rbegin(); i != saved_.rend(); ++i)
      write(i->first, needed);
  }
  neighbour_limits(const neighbour_limits&) = delete;
  neighbour_limits& operator=(const neighbour_limits&) = delete;
  ~neighbour_limits() {
    for (auto& [path, old] : saved_)
      write(path, old);
  }

private:
  static void write(const std::string& path, uint64_t value) {
    std::ofstream out{path};
    out << value << "\n";
  }

  std::vector<std::pair<std::string, uint64_t>> saved_;
};

/// The namespaces of one run; removed (with what runs in them) when it ends.
class network {
public:
  network() : tag_(prefix + std::to_string(::getpid())) {}
  network(const network&) = delete;
  network& operator=(const network&) = delete;
  ~network() {
    for (auto& ns : made_)
      remove_namespace(ns);
  }

  std::string hub() const { return tag_ + "-hub"; }
  std::string host_ns(size_t i) const { return tag_ + "-" + std::to_string(i); }

  caf::error build(size_t n) {
    if (auto err = add(hub()))
      return err;
    if (auto err = ip({"-n", hub(), "link", "add", "br0", "type", "bridge"}))
      return err;
    if (auto err = ip({"-n", hub(), "link", "set", "br0", "up"}))
      return err;
    for (size_t i = 0; i < n; ++i) {
      auto ns = host_ns(i);
      auto veth = "v" + std::to_string(i);
      if (auto err = add(ns))
        return err;
      for (auto& cmd : std::vector<std::vector<std::string>>{
             {"-n", hub(), "link", "add", veth, "type", "veth", "peer", "name",
              "eth0", "netns", ns},
             {"-n", hub(), "link", "set", veth, "master", "br0", "up"},
             {"-n", ns, "addr", "add", address_of(i) + "/16", "dev", "eth0"},
             {"-n", ns, "link", "set", "eth0", "up"},
             {"-n", ns, "link", "set", "lo", "up"}})
        if (auto err = ip(cmd))
          return err;
    }
    return {};
  }

  static std::string address_of(size_t i) {
    return fmt::format("10.77.{}.{}", i / 250, i % 250 + 1);
  }

private:
  caf::error add(const std::string& ns) {
    if (auto err = ip({"netns", "add", ns}))
      return err;
    made_.push_back(ns);
    return {};
  }

  static caf::error ip(std::vector<std::string> args) {
    args.insert(args.begin(), "ip");
    if (run_to_end(args) == 0)
      return {};
    std::string text;
    for (auto& a : args)
      text += (text.empty() ? "" : " ") + a;
    return make_error(ec::io, "'" + text + "' failed");
  }

  std::string tag_;
  std::vector<std::string> made_;
};

/// Starts `bin args` inside namespace `ns`, output to `log`. The node gets
/// SIGKILL if the simulator dies.
pid_t start_in(const std::string& ns, const std::string& bin,
               const std::vector<std::string>& args, const std::string& log) {
  int nsfd = ::open((std::string{netns_dir} + "/" + ns).c_str(),
                    O_RDONLY | O_CLOEXEC);
  if (nsfd < 0)
    return -1;
  std::vector<std::string> all{bin};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::setns(nsfd, CLONE_NEWNET) != 0)
      ::_exit(126);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(nsfd);
  return pid;
}

/// Follows one node's /api/events from inside its namespace, recording
/// each tip event's arrival, until `stop`.
void follow_events(const std::string& ns, seen& out,
                   const std::atomic<bool>& stop) {
  int nsfd = ::open((std::string{netns_dir} + "/" + ns).c_str(),
                    O_RDONLY | O_CLOEXEC);
  if (nsfd < 0 || ::setns(nsfd, CLONE_NEWNET) != 0) {
    if (nsfd >= 0)
      ::close(nsfd);
    return;
  }
  ::close(nsfd);
  static const std::regex tip_event{
    R"re(event: tip\ndata: \{"height":([0-9]+),"tip":"([0-9a-f]+)"\})re"};
  while (!stop) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(http_port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd);
      std::this_thread::sleep_for(100ms);
      continue;
    }
    auto request = fmt::format("GET /api/events HTTP/1.1\r\nHost: "
                               "127.0.0.1:{}\r\n\r\n",
                               http_port);
    (void)!::write(fd, request.data(), request.size());
    // The body is chunked; events never span two chunks in practice, but
    // the text is searched as a whole, chunk sizes and all, which a split
    // event only delays.
    std::string text;
    while (!stop) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0)
        continue;
      char buf[4096];
      auto n = ::read(fd, buf, sizeof(buf));
      if (n <= 0)
        break;
      auto now = sim_clock::now();
      text.append(buf, static_cast<size_t>(n));
      std::smatch m;
      while (std::regex_search(text, m, tip_event)) {
        {
          std::lock_guard<std::mutex> guard{out.mutex};
          out.tips.emplace_back(std::stoull(m[1]), m[2], now);
        }
        text.erase(0, static_cast<size_t>(m.position(0) + m.length(0)));
      }
      if (text.size() > 65536)
        text.erase(0, text.size() - 4096);
    }
    ::close(fd);
  }
}

/// Asks one node for its status over the admin socket; the round trip.
void poll_status(const host& h, seen& out) {
  auto began = sim_clock::now();
  auto reply = ask_node(h.datadir, [](admin_client& c) {
    capnp::MallocMessageBuilder msg;
    msg.initRoot<schema::Request>().setStatus();
    return c.call(msg, schema::Reply::STATUS, std::chrono::seconds{10});
  });
  auto ms = ms_between(began, sim_clock::now());
  std::lock_guard<std::mutex> guard{out.mutex};
  if (!reply) {
    ++out.status_failures;
    return;
  }
  out.links = reply->root().getStatus().getPeers();
  out.status_ms.push_back(ms);
  out.status_max_ms = std::max(out.status_max_ms, ms);
}

double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto i = static_cast<size_t>(p * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(i, xs.size() - 1)];
}

/// The first arrival at node `s` of a tip at `height` or above.
std::optional<sim_clock::time_point> arrival(seen& s, uint64_t height) {
  std::lock_guard<std::mutex> guard{s.mutex};
  for (auto& [h, hash, at] : s.tips)
    if (h >= height)
      return at;
  return std::nullopt;
}

/// Node `s`'s last tip hash.
std::string last_tip(seen& s) {
  std::lock_guard<std::mutex> guard{s.mutex};
  return s.tips.empty() ? std::string{} : std::get<1>(s.tips.back());
}

/// Reaps the nodes that ended; returns whether all have.
bool reap(std::vector<host>& hosts) {
  bool all = true;
  for (auto& h : hosts) {
    if (h.exited || h.pid <= 0)
      continue;
    int status = 0;
    auto r = ::waitpid(h.pid, &status, WNOHANG);
    if (r == h.pid) {
      h.exited = true;
      h.exit_status = status;
      h.exited_at = sim_clock::now();
    } else {
      all = false;
    }
  }
  return all;
}

/// Notes the nodes whose log now holds their "ready" line; how many have.
size_t note_ready(std::vector<host>& hosts) {
  size_t ready = 0;
  for (auto& h : hosts) {
    if (!h.ready && h.pid > 0
        && read_file(h.log).find(" ready: height") != std::string::npos)
      h.ready = sim_clock::now();
    ready += h.ready ? 1 : 0;
  }
  return ready;
}

caf::expected<std::string> key_of(const options& opts, const host& h) {
  auto out = h.datadir + ".key.json";
  if (run_to_end({opts.bin, "keys", "show", "--datadir", h.datadir, "--json"},
                 out)
      != 0)
    return make_error(ec::io, "cannot read the key of " + h.datadir);
  std::smatch m;
  auto text = read_file(out);
  if (!std::regex_search(text, m,
                         std::regex{"\"public_key\":\"([0-9a-f]{64})\""}))
    return make_error(ec::io, "no key in " + out);
  return m[1].str();
}

} // namespace

caf::expected<figures> run(const options& opts) {
  auto say = [&](const std::string& line) {
    if (opts.log)
      *opts.log << line << std::endl;
  };
  if (::geteuid() != 0)
    return make_error(ec::io, "the network simulator needs root (network "
                              "namespaces)");
  if (opts.nodes < 2 || opts.nodes > 250)
    return make_error(ec::bad_request, "2 to 250 nodes");
  if (!fs::exists(opts.bin))
    return make_error(ec::io, "no hallmark binary at " + opts.bin);
  if (run_to_end({"ip", "-V"}) != 0)
    return make_error(ec::io, "the 'ip' command (iproute2) is missing");
  fs::create_directories(netns_dir);
  remove_leftovers(opts.log);

  auto workdir = opts.workdir.empty()
                   ? fmt::format("/tmp/hallmark-netsim-{}", ::getpid())
                   : opts.workdir;
  fs::remove_all(workdir);
  fs::create_directories(workdir);
  neighbour_limits neighbours{opts.nodes};
  network net;
  if (auto err = net.build(opts.nodes))
    return err;
  say(fmt::format("{} hosts on one bridge; work in {}", opts.nodes, workdir));

  std::vector<host> hosts(opts.nodes);
  for (size_t i = 0; i < opts.nodes; ++i) {
    auto& h = hosts[i];
    h.index = i;
    h.ns = net.host_ns(i);
    h.address = network::address_of(i);
    h.datadir = fmt::format("{}/node{}", workdir, i);
    h.log = fmt::format("{}/node{}.log", workdir, i);
    if (run_to_end(
          {opts.bin, "init", "--datadir", h.datadir, "--chain", "devnet"},
          h.log)
        != 0)
      return make_error(ec::io, "init failed: see " + h.log);
    auto key = key_of(opts, h);
    if (!key)
      return key.error();
    h.key = *key;
  }

  // Start every node within start_spread, in seeded order.
  std::mt19937_64 rng{opts.seed};
  std::vector<size_t> order(opts.nodes);
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::shuffle(order.begin() + 1, order.end(), rng); // the producer first
  auto gap = opts.start_spread / static_cast<long>(opts.nodes);
  auto interval_s = std::max<int64_t>(
    1, std::chrono::duration_cast<std::chrono::seconds>(opts.block_interval)
         .count());
  for (auto i : order) {
    auto& h = hosts[i];
    std::vector<std::string> args{"run",
                                  "--datadir",
                                  h.datadir,
                                  "--listen",
                                  fmt::format("{}:{}", h.address, peer_port),
                                  "--http-listen",
                                  fmt::format("127.0.0.1:{}", http_port),
                                  "--map-size-mb",
                                  "8"};
    if (i == 0) {
      args.insert(args.end(),
                  {"--produce", "--empty-block-interval-s",
                   std::to_string(interval_s), "--min-block-interval-ms",
                   std::to_string(opts.block_interval.count())});
    } else {
      auto& up = hosts[(i - 1) / 2];
      args.insert(args.end(), {"--peer", fmt::format("{}@{}:{}", up.key,
                                                     up.address, peer_port)});
    }
    h.pid = start_in(h.ns, opts.bin, args, h.log);
    if (h.pid < 0)
      return make_error(ec::io, "cannot start node " + std::to_string(i));
    for (auto until = sim_clock::now() + gap; sim_clock::now() < until;) {
      note_ready(hosts);
      std::this_thread::sleep_for(std::min<sim_clock::duration>(gap, 20ms));
    }
  }

  std::vector<std::unique_ptr<seen>> views;
  for (size_t i = 0; i < opts.nodes; ++i)
    views.push_back(std::make_unique<seen>());
  std::atomic<bool> stop_threads{false};
  std::atomic<bool> measuring{false};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < opts.nodes; ++i)
    threads.emplace_back(follow_events, hosts[i].ns, std::ref(*views[i]),
                         std::cref(stop_threads));
  std::vector<size_t> poll_order = order;
  std::shuffle(poll_order.begin(), poll_order.end(), rng);
  threads.emplace_back([&] {
    while (!stop_threads) {
      auto began = sim_clock::now();
      for (auto i : poll_order) {
        if (stop_threads)
          break;
        if (hosts[i].ready && measuring)
          poll_status(hosts[i], *views[i]);
      }
      auto spent = sim_clock::now() - began;
      if (spent < 250ms)
        std::this_thread::sleep_for(250ms - spent);
    }
  });

  figures f;
  f.nodes = opts.nodes;
  auto fail = [&](std::string why) {
    say("problem: " + why);
    f.problems.push_back(std::move(why));
  };

  // Every node's "ready" line.
  auto ready_limit = sim_clock::now() + 60s;
  for (;;) {
    auto ready = note_ready(hosts);
    reap(hosts);
    bool died = std::any_of(hosts.begin(), hosts.end(),
                            [](auto& h) { return h.exited; });
    if (ready == hosts.size() || died || sim_clock::now() > ready_limit)
      break;
    std::this_thread::sleep_for(20ms);
  }
  sim_clock::time_point first_ready = sim_clock::time_point::max();
  sim_clock::time_point last_ready = sim_clock::time_point::min();
  for (auto& h : hosts) {
    if (!h.ready) {
      fail(fmt::format("node {} did not say ready (see {})", h.index, h.log));
      continue;
    }
    first_ready = std::min(first_ready, *h.ready);
    last_ready = std::max(last_ready, *h.ready);
  }
  measuring = true;
  auto wanted = std::min(opts.links_wanted, opts.nodes - 1);
  if (f.problems.empty()) {
    f.ready_spread_s = seconds_between(first_ready, last_ready);
    say(fmt::format("all {} nodes ready within {:.2f} s", opts.nodes,
                    f.ready_spread_s));
    // Links and the tip.
    auto settle_by = last_ready + opts.settle_limit;
    while (sim_clock::now() < settle_by && (!f.mesh_s || !f.tip_s)) {
      std::this_thread::sleep_for(10ms);
      auto now = sim_clock::now();
      if (!f.mesh_s) {
        bool all = std::all_of(views.begin(), views.end(), [&](auto& v) {
          std::lock_guard<std::mutex> guard{v->mutex};
          return v->links >= wanted;
        });
        if (all) {
          f.mesh_s = seconds_between(last_ready, now);
          say(fmt::format("every node has >= {} links after {:.2f} s", wanted,
                          *f.mesh_s));
        }
      }
      if (!f.tip_s) {
        auto tip = last_tip(*views[0]);
        bool all = !tip.empty()
                   && std::all_of(views.begin(), views.end(),
                                  [&](auto& v) { return last_tip(*v) == tip; });
        if (all) {
          f.tip_s = seconds_between(last_ready, now);
          say(fmt::format("every node on the producer's tip after {:.2f} s",
                          *f.tip_s));
        }
      }
      reap(hosts);
    }
    if (!f.mesh_s)
      fail(fmt::format("not every node had {} links within {} s", wanted,
                       opts.settle_limit.count()));
    if (!f.tip_s)
      fail(fmt::format("not every node reached the producer's tip within {} s",
                       opts.settle_limit.count()));
  }
  if (f.problems.empty()) {
    // The network on the tip: blocks and status latency.
    auto from = sim_clock::now();
    say(fmt::format("running {} s on the tip", opts.steady.count()));
    std::this_thread::sleep_for(opts.steady);
    // Give the last block a moment to arrive everywhere.
    std::this_thread::sleep_for(2s);
    std::vector<std::pair<uint64_t, sim_clock::time_point>> made;
    {
      std::lock_guard<std::mutex> guard{views[0]->mutex};
      for (auto& [h, hash, at] : views[0]->tips)
        if (at >= from && at <= from + opts.steady)
          made.emplace_back(h, at);
    }
    std::vector<double> reach;
    for (auto& [height, at] : made) {
      sim_clock::time_point last = at;
      bool everywhere = true;
      for (auto& v : views) {
        auto a = arrival(*v, height);
        if (!a) {
          everywhere = false;
          break;
        }
        last = std::max(last, *a);
      }
      if (!everywhere) {
        fail(fmt::format("block {} did not reach every node", height));
        continue;
      }
      reach.push_back(ms_between(at, last));
    }
    f.blocks = reach.size();
    f.block_p50_ms = percentile(reach, 0.5);
    f.block_p99_ms = percentile(reach, 0.99);
    f.block_max_ms = reach.empty()
                       ? 0
                       : *std::max_element(reach.begin(), reach.end());
    if (made.empty())
      fail("the producer made no block while the network ran");
  }
  measuring = false;
  std::vector<double> every_call;
  for (size_t i = 0; i < opts.nodes; ++i) {
    auto& v = *views[i];
    std::lock_guard<std::mutex> guard{v.mutex};
    every_call.insert(every_call.end(), v.status_ms.begin(), v.status_ms.end());
    f.status_calls += v.status_ms.size();
    f.status_failures += v.status_failures;
    f.status_max_ms = std::max(f.status_max_ms, v.status_max_ms);
    auto p99 = percentile(v.status_ms, 0.99);
    if (p99 > f.status_p99_ms) {
      f.status_p99_ms = p99;
      f.status_p99_node = i;
    }
  }

  f.status_p50_ms = percentile(every_call, 0.5);
  f.status_p99_all_ms = percentile(every_call, 0.99);
  // Stop: SIGTERM to every node at once.
  say("stopping every node");
  auto stop_began = sim_clock::now();
  for (auto& h : hosts)
    if (h.pid > 0 && !h.exited)
      ::kill(h.pid, SIGTERM);
  auto stop_limit = stop_began + 15s;
  while (!reap(hosts) && sim_clock::now() < stop_limit)
    std::this_thread::sleep_for(5ms);
  for (auto& h : hosts)
    if (!h.exited && h.pid > 0) {
      ::kill(h.pid, SIGKILL);
      ::waitpid(h.pid, nullptr, 0);
      h.exited = true;
      ++f.killed;
    }
  sim_clock::time_point last_exit = stop_began;
  for (auto& h : hosts) {
    if (h.exited_at)
      last_exit = std::max(last_exit, *h.exited_at);
    auto text = read_file(h.log);
    if (text.find("shutdown did not finish within") != std::string::npos)
      ++f.stopped_by_watchdog;
    if (h.exited_at
        && !(WIFEXITED(h.exit_status) && WEXITSTATUS(h.exit_status) == 0))
      ++f.exit_failures;
  }
  f.stop_s = seconds_between(stop_began, last_exit);
  stop_threads = true;
  for (auto& t : threads)
    t.join();

  if (f.stopped_by_watchdog > 0)
    fail(fmt::format("{} nodes were ended by their shutdown watchdog",
                     f.stopped_by_watchdog));
  if (f.exit_failures > 0)
    fail(fmt::format("{} nodes exited with an error", f.exit_failures));
  if (f.killed > 0)
    fail(fmt::format("{} nodes had to be killed", f.killed));
  if (!f.problems.empty()) {
    f.kept_logs = workdir;
  } else {
    std::error_code ec;
    fs::remove_all(workdir, ec);
  }
  return f;
}

void print(std::ostream& out, const options& opts, const figures& f) {
  auto opt = [](const std::optional<double>& x) {
    return x ? fmt::format("{:.2f} s", *x) : std::string{"never"};
  };
  out << fmt::format("netsim: {} nodes, seed {}, a block every {} ms\n",
                     f.nodes, opts.seed, opts.block_interval.count());
  out << fmt::format("  ready spread        {:.2f} s (first to last node's "
                     "ready line)\n",
                     f.ready_spread_s);
  out << fmt::format("  links >= {}          {} after the last ready (aim: "
                     "within 10 s)\n",
                     std::min(opts.links_wanted, f.nodes - 1), opt(f.mesh_s));
  out << fmt::format("  on the tip          {} after the last ready (aim: "
                     "within 10 s)\n",
                     opt(f.tip_s));
  out << fmt::format("  block to every node p50 {:.0f} ms, p99 {:.0f} ms, "
                     "max {:.0f} ms over {} blocks\n",
                     f.block_p50_ms, f.block_p99_ms, f.block_max_ms, f.blocks);
  out << fmt::format("  status latency      p99 {:.1f} ms (worst node, #{}), "
                     "all nodes p50 {:.1f} ms p99 {:.1f} ms, max {:.1f} ms, "
                     "{} calls, {} failed (aim: p99 < 100 ms on every "
                     "node)\n",
                     f.status_p99_ms, f.status_p99_node, f.status_p50_ms,
                     f.status_p99_all_ms, f.status_max_ms, f.status_calls,
                     f.status_failures);
  out << fmt::format("  stop                {:.2f} s for all, {} by the "
                     "watchdog, {} killed, {} exited with an error (aim: "
                     "within 2 s, none by the watchdog)\n",
                     f.stop_s, f.stopped_by_watchdog, f.killed,
                     f.exit_failures);
  for (auto& p : f.problems)
    out << "  problem: " << p << "\n";
  if (!f.kept_logs.empty())
    out << "  logs kept in " << f.kept_logs << "\n";
}

} // namespace hallmark::netsim
