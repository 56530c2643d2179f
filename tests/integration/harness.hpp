// Runs real `hallmark` processes for integration tests: one-shot commands
// with their output, and nodes in the background with their own data
// directories on loopback, each bounded in time and cleaned up.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

extern char** environ;

namespace hallmark::test {

using json = nlohmann::json;
using namespace std::chrono_literals;

inline std::string hallmark_bin() {
  if (auto p = std::getenv("HALLMARK_BIN"))
    return p;
  return "hallmark";
}

/// A fresh directory under /tmp, removed with everything in it.
class temp_dir {
public:
  temp_dir() {
    std::string tmpl = "/tmp/hm-it-XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const {
    return path_ + "/" + name;
  }

private:
  std::string path_;
};

struct result {
  int code = -1;
  std::string out;
  std::string err;
  json js() const {
    auto j = json::parse(out, nullptr, false);
    if (j.is_discarded())
      FAIL_CHECK("not JSON: " << out << " / stderr: " << err);
    return j;
  }
};

/// Runs `hallmark args...` to completion (at most `limit`), capturing output.
inline result run(const std::vector<std::string>& args,
                  std::chrono::seconds limit = 120s) {
  int out_pipe[2], err_pipe[2];
  REQUIRE(::pipe2(out_pipe, O_CLOEXEC) == 0);
  REQUIRE(::pipe2(err_pipe, O_CLOEXEC) == 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  std::vector<std::string> argv_s{hallmark_bin()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  auto rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  REQUIRE(rc == 0);
  result r;
  auto deadline = std::chrono::steady_clock::now() + limit;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open = 2;
  while (open > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - std::chrono::steady_clock::now())
                  .count();
    if (left <= 0) {
      ::kill(pid, SIGKILL);
      FAIL_CHECK("hallmark " << args[0] << " did not finish in time");
      break;
    }
    if (::poll(fds, 2, static_cast<int>(left)) <= 0)
      continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP)))
        continue;
      char buf[4096];
      auto n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
        continue;
      }
      (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0)
      ::close(f.fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

/// Runs a command expected to succeed with --json; returns its JSON.
inline json run_json(std::vector<std::string> args) {
  args.push_back("--json");
  auto r = run(args);
  INFO("hallmark " << args[0] << " stderr: " << r.err);
  REQUIRE(r.code == 0);
  return r.js();
}

/// `hallmark args...` in the background, its stdout and stderr going to
/// files in `dir`; waited for at most a limit, killed if still running when
/// the object goes.
class background {
public:
  background(const temp_dir& dir, const std::string& name,
             const std::vector<std::string>& args)
      : out_path_(dir / (name + ".out")), err_path_(dir / (name + ".err")) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<std::string> argv_s{hallmark_bin()};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    auto rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    REQUIRE(rc == 0);
  }

  background(const background&) = delete;
  background& operator=(const background&) = delete;

  ~background() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  /// Waits at most `limit` for the exit; its code, or nothing if it still
  /// runs.
  std::optional<int> wait(std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (code_)
        return code_;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        code_ = WIFEXITED(status) ? WEXITSTATUS(status)
                                  : 128 + WTERMSIG(status);
        return code_;
      }
      if (std::chrono::steady_clock::now() >= deadline)
        return std::nullopt;
      std::this_thread::sleep_for(20ms);
    }
  }

  /// Sends `sig` and waits at most 10 s for the exit; SIGKILL after that.
  int stop(int sig = SIGTERM) {
    if (pid_ > 0)
      ::kill(pid_, sig);
    if (auto code = wait(10s))
      return *code;
    FAIL_CHECK("hallmark did not exit on signal " << sig);
    ::kill(pid_, SIGKILL);
    return wait(10s).value_or(-1);
  }

  /// What it printed so far.
  std::string out() const { return slurp(out_path_); }
  std::string err() const { return slurp(err_path_); }

private:
  static std::string slurp(const std::string& path) {
    std::ifstream in{path};
    return {std::istreambuf_iterator<char>{in}, {}};
  }

  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
  std::optional<int> code_;
};

/// A node process in the background.
class node {
public:
  /// `hallmark init` in a fresh directory, plus extra config lines.
  explicit node(const temp_dir& dir, const std::string& name,
                std::vector<std::string> config = {})
      : datadir_(dir / name) {
    auto r = run({"init", "--datadir", datadir_, "--chain", "devnet", "--json",
                  "--http-listen", ""});
    INFO(r.err);
    REQUIRE(r.code == 0);
    public_key_ = r.js()["public_key"];
    // Fast test timers: a block every 200 ms when records wait.
    config.insert(config.begin(), "min_block_interval_ms = 200");
    std::ofstream conf{datadir_ + "/hallmark.conf", std::ios::app};
    for (auto& line : config)
      conf << line << "\n";
  }

  ~node() {
    if (pid_ > 0)
      stop();
  }

  const std::string& datadir() const { return datadir_; }
  const std::string& public_key() const { return public_key_; }
  std::string log() const {
    std::ifstream in{datadir_ + "/node.log"};
    return {std::istreambuf_iterator<char>{in}, {}};
  }

  /// Adds "NAME=VALUE" to the environment of every later start.
  void set_env(std::string assignment) {
    env_.push_back(std::move(assignment));
  }

  /// Starts `hallmark run` with `extra` arguments (such as --listen and
  /// --peer); waits until its admin socket answers.
  void start(bool produce, const std::vector<std::string>& extra = {}) {
    REQUIRE(pid_ <= 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    auto log_path = datadir_ + "/node.log";
    posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<std::string> argv_s{hallmark_bin(), "run", "--datadir",
                                    datadir_};
    if (produce)
      argv_s.push_back("--produce");
    argv_s.insert(argv_s.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : argv_s)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (auto e = environ; *e != nullptr; ++e)
      envp.push_back(*e);
    for (auto& e : env_)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    REQUIRE(posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp.data())
            == 0);
    posix_spawn_file_actions_destroy(&fa);
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (run({"status", "--datadir", datadir_, "--json"}).code == 0)
        return;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL("node exited at start: " << log());
      }
      std::this_thread::sleep_for(100ms);
    }
    FAIL("node did not answer within 30 s: " << log());
  }

  /// SIGTERM, then waits (at most 60 s) for a clean exit; returns its code.
  int stop() {
    if (pid_ <= 0)
      return -1;
    ::kill(pid_, SIGTERM);
    return reap(60s);
  }

  /// Sends `sig` (SIGSTOP freezes the process, SIGCONT thaws it).
  void signal(int sig) {
    if (pid_ > 0)
      ::kill(pid_, sig);
  }

  /// SIGKILL: no chance to flush anything.
  void kill9() {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGKILL);
    reap(10s);
  }

  json status() const { return run_json({"status", "--datadir", datadir_}); }

  uint64_t height() const { return status()["height"].get<uint64_t>(); }

  /// Waits until `pred(status)` holds, at most `limit`.
  template <class Pred>
  bool wait_for(Pred pred, std::chrono::seconds limit = 60s) const {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = run({"status", "--datadir", datadir_, "--json"});
      if (r.code == 0 && pred(r.js()))
        return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  /// Waits until nothing is pending and returns the height.
  uint64_t settle(std::chrono::seconds limit = 60s) const {
    REQUIRE(
      wait_for([](const json& s) { return s["pending_records"] == 0; }, limit));
    return height();
  }

private:
  int reap(std::chrono::seconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(50ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    FAIL_CHECK("node did not stop in time: " << log());
    return -1;
  }

  std::string datadir_;
  std::string public_key_;
  std::vector<std::string> env_;
  pid_t pid_ = -1;
};

/// Waits until every record of `item`'s provenance on `n` is in a block;
/// returns the item's JSON.
inline json settled_item(const node& n, const std::string& item) {
  json j;
  for (int i = 0; i < 300; ++i) {
    auto r = run({"item", "--datadir", n.datadir(), item, "--json"});
    if (r.code == 0) {
      j = r.js();
      bool all = true;
      for (auto& e : j["provenance"])
        all = all && !e["height"].is_null();
      if (all)
        return j;
    }
    std::this_thread::sleep_for(100ms);
  }
  FAIL("item " << item << " never reached a block on " << n.datadir() << ": "
               << j.dump());
  return j;
}

/// A loopback port nothing listens on now (the kernel's pick).
inline uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

/// `key`'s entry in `hallmark peers --json` of `n`, or null.
inline json peer_entry(const node& n, const std::string& key) {
  auto peers = run_json({"peers", "--datadir", n.datadir()});
  for (auto& p : peers["peers"])
    if (p["key"] == key)
      return p;
  return nullptr;
}

/// Registers an asset on `n` and issues `batches` batches of 100 of its
/// items there (about 130 KB of chain a batch), then waits for them to be
/// in blocks.
inline void fill_chain(const node& n, int batches) {
  std::string asset = run_json({"asset", "register", "--datadir", n.datadir(),
                                "--name", "bulk", "--fingerprint",
                                "bulk-1"})["asset_id"];
  for (int i = 0; i < batches; ++i)
    run_json(
      {"issue", "--datadir", n.datadir(), "--asset", asset, "--count", "100"});
  n.settle();
}

} // namespace hallmark::test
