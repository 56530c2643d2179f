// Helpers of the benchmarks that run `hallmark` processes: start, ask,
// measure and stop them. Header-only.
#pragma once

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace hallmark::bench {

inline std::string self_dir() {
  return std::filesystem::canonical("/proc/self/exe").parent_path().string();
}

/// What a benchmark that runs nodes is told: how much (`count_flag`, e.g.
/// --records), the hallmark binary (--hallmark, beside the benchmark's
/// build by default) and the first port (--port).
struct run_options {
  size_t count = 0;
  std::string bin = self_dir() + "/../cli/hallmark";
  int port = 0;
  /// Serving nodes (--peers K), for a benchmark that takes them.
  size_t peers = 1;
  /// --assume-valid, for a benchmark that takes it.
  bool assume_valid = false;
};

/// The options a benchmark takes beyond the count, the binary and the port.
struct run_flags {
  bool peers = false;
  bool assume_valid = false;
};

/// Parses `argv` over `defaults`; on a bad option or value, says how to
/// call `name` on stderr and returns none (the benchmark exits with 2).
inline std::optional<run_options>
parse_run_options(int argc, char** argv, const char* name,
                  const std::string& count_flag, size_t min_count,
                  run_options defaults, run_flags takes = {}) {
  auto opts = defaults;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == count_flag && i + 1 < argc)
      opts.count = std::strtoull(argv[++i], nullptr, 10);
    else if (arg == "--hallmark" && i + 1 < argc)
      opts.bin = argv[++i];
    else if (arg == "--port" && i + 1 < argc)
      opts.port = std::atoi(argv[++i]);
    else if (takes.peers && arg == "--peers" && i + 1 < argc)
      opts.peers = std::strtoull(argv[++i], nullptr, 10);
    else if (takes.assume_valid && arg == "--assume-valid")
      opts.assume_valid = true;
    else {
      std::fprintf(stderr,
                   "usage: %s [%s N]%s%s [--hallmark PATH] [--port P]\n", name,
                   count_flag.c_str(), takes.peers ? " [--peers K]" : "",
                   takes.assume_valid ? " [--assume-valid]" : "");
      return std::nullopt;
    }
  }
  if (opts.count < min_count || opts.port < 1 || opts.port > 65535
      || opts.peers < 1 || opts.peers > 16
      || !std::filesystem::exists(opts.bin)) {
    std::fprintf(stderr,
                 "%s: needs %s >= %zu, a port, and the hallmark binary (%s)\n",
                 name, count_flag.c_str(), min_count, opts.bin.c_str());
    return std::nullopt;
  }
  return opts;
}

/// Starts `bin args...` with stdout and stderr to `log`; returns the pid.
inline pid_t start(const std::string& bin, std::vector<std::string> args,
                   const std::string& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  args.insert(args.begin(), bin);
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0)
    pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

inline int run_to_end(const std::string& bin, std::vector<std::string> args,
                      const std::string& log) {
  auto pid = start(bin, std::move(args), log);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// `hallmark status --json`'s height, or -1.
inline long long height_of(const std::string& bin, const std::string& datadir,
                           const std::string& scratch) {
  auto out = scratch + "/status.json";
  std::filesystem::remove(out);
  if (run_to_end(bin, {"status", "--datadir", datadir, "--json"}, out) != 0)
    return -1;
  std::ifstream in{out};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  std::smatch m;
  if (!std::regex_search(text, m, std::regex{"\"height\":([0-9]+)"}))
    return -1;
  return std::stoll(m[1]);
}

inline std::string key_of(const std::string& bin, const std::string& datadir,
                          const std::string& scratch) {
  auto out = scratch + "/key.json";
  std::filesystem::remove(out);
  run_to_end(bin, {"keys", "show", "--datadir", datadir, "--json"}, out);
  std::ifstream in{out};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  std::smatch m;
  if (!std::regex_search(text, m,
                         std::regex{"\"public_key\":\"([0-9a-f]{64})\""}))
    return {};
  return m[1];
}

/// A field of /proc/PID/status in MiB (VmHWM: peak resident set; RssAnon,
/// RssFile: its anonymous and file-backed parts now).
inline double status_mb(pid_t pid, const std::string& field) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0)
      return std::stod(line.substr(field.size() + 1)) / 1024.0;
  return 0;
}

inline double peak_rss_mb(pid_t pid) {
  return status_mb(pid, "VmHWM");
}

inline void stop(pid_t pid) {
  if (pid <= 0)
    return;
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 200; ++i) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds{100});
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

/// CPU time (user + system) `pid` has used, in seconds.
inline double cpu_seconds(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  // Fields after the command name, which is in parentheses.
  auto close = text.rfind(')');
  if (close == std::string::npos)
    return 0;
  std::istringstream rest{text.substr(close + 2)};
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i == 14 || i == 15)
      ticks += std::stod(field);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

} // namespace hallmark::bench
