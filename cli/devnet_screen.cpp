#include "cli/devnet_screen.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

#include <fmt/core.h>

namespace hallmark {

namespace {

using namespace std::chrono_literals;

/// Table period on a terminal, and when the output is a file or pipe.
constexpr auto tty_period = 1s;
constexpr auto plain_period = 5s;

size_t terminal_rows() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
    return ws.ws_row;
  return 24;
}

} // namespace

devnet_screen::devnet_screen(const devnet_config& cfg, std::string dir,
                             steady::time_point start, devnet_journal& journal,
                             const devnet_supervisor& nodes)
    : cfg_(cfg), dir_(std::move(dir)), start_(start), journal_(journal),
      nodes_(nodes), tty_(::isatty(STDOUT_FILENO) == 1) {}

std::chrono::seconds devnet_screen::period() const {
  return tty_ ? tty_period : plain_period;
}

int64_t devnet_screen::elapsed_s() const {
  return std::chrono::duration_cast<std::chrono::seconds>(steady::now()
                                                          - start_)
    .count();
}

void devnet_screen::print_table_of(const std::vector<node_view>& views,
                                   const std::string& indent) const {
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < views.size(); ++i) {
    auto& v = views[i];
    auto& n = nodes_.nodes()[i];
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

void devnet_screen::draw(const std::vector<node_view>& views) {
  auto elapsed = elapsed_s();
  if (!tty_) {
    print_new_lines();
    fmt::print("[{:>3}s] status\n", elapsed);
    print_table_of(views, "       ");
    std::fflush(stdout);
    return;
  }
  auto until = cfg_.run_for_s > 0
                 ? fmt::format("{} s of {}", elapsed, cfg_.run_for_s)
                 : fmt::format("{} s", elapsed);
  // Clear the screen, cursor home; the table, then as many journal lines as
  // fit below it.
  fmt::print("\033[H\033[2J");
  fmt::print("hallmark devnet: {} nodes on 127.0.0.1, {}; Ctrl-C stops\n",
             views.size(), until);
  fmt::print("data and logs: {}/node-N/node.log\n\n", dir_);
  print_table_of(views, "");
  // The journal lines shown below count as printed.
  journal_.since(printed_);
  auto used = views.size() + 5;
  auto rows = terminal_rows();
  auto room = rows > used + 1 ? rows - used - 1 : 5;
  fmt::print("\n");
  for (auto& line : journal_.last(room))
    fmt::print("{}\n", line);
  std::fflush(stdout);
  drawn_ = true;
}

void devnet_screen::print_new_lines() {
  for (auto& line : journal_.since(printed_))
    fmt::print("{}\n", line);
  std::fflush(stdout);
}

void devnet_screen::say(const std::string& line) {
  journal_.add(line);
  // On a terminal the next redraw shows it; before the first, print it.
  if (!tty_ || !drawn_)
    print_new_lines();
}

void devnet_screen::print_summary(
  const std::vector<node_view>& views,
  const std::vector<std::optional<json>>& peers) {
  fmt::print("\nsummary after {} s\n", elapsed_s());
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < views.size(); ++i) {
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
    rows.push_back({std::to_string(i), short_hex(nodes_.nodes()[i].key),
                    v.up ? std::to_string(v.height) : "-",
                    v.up ? short_hex(v.tip) : "-", links});
  }
  print_table({"NODE", "KEY", "HEIGHT", "TIP", "LINKS"}, rows, "  ");
  if (tips_agree(views)) {
    fmt::print("all {} tips agree at height {}: {}\n", views.size(),
               views.front().height, views.front().tip);
    return;
  }
  std::string silent;
  for (size_t i = 0; i < views.size(); ++i)
    if (!views[i].up)
      silent += (silent.empty() ? "" : ", ") + std::to_string(i);
  if (silent.empty())
    fmt::print("the tips do not agree\n");
  else
    fmt::print("the tips do not agree: node {} did not answer\n", silent);
}

} // namespace hallmark
