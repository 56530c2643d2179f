// What `hallmark devnet` shows: the status table of its nodes with the
// journal's lines (demo steps, events), and the summary at the end. On a
// terminal the table is redrawn in place with the latest lines under it;
// otherwise the lines are printed as they come and the table now and then
// between them.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "cli/devnet_supervisor.hpp"

namespace hallmark {

/// The devnet's output on stdout.
class devnet_screen {
public:
  /// @param cfg what the devnet was asked for (the header shows --for).
  /// @param dir the nodes' directory (the header names it).
  /// @param nodes the nodes, for their keys and how they exited.
  devnet_screen(const devnet_config& cfg, std::string dir,
                steady::time_point start, devnet_journal& journal,
                const devnet_supervisor& nodes);

  /// Whether stdout is a terminal.
  bool tty() const { return tty_; }

  /// How often the table is shown: every second on a terminal, every 5 s
  /// otherwise.
  std::chrono::seconds period() const;

  /// Adds a line to the journal; prints it at once unless the table on the
  /// terminal will show it.
  void say(const std::string& line);

  /// Prints the journal's lines not printed yet.
  void print_new_lines();

  /// Shows the status table: redraws the terminal, or prints the table
  /// after the new journal lines.
  void draw(const std::vector<node_view>& views);

  /// The summary after the nodes stopped: per node its height, tip and live
  /// links (how many not static), then whether the tips agree.
  /// @param views each node's last status; `peers` its last peers.
  void print_summary(const std::vector<node_view>& views,
                     const std::vector<std::optional<json>>& peers);

private:
  void print_table_of(const std::vector<node_view>& views,
                      const std::string& indent) const;
  int64_t elapsed_s() const;

  devnet_config cfg_;
  std::string dir_;
  steady::time_point start_;
  devnet_journal& journal_;
  const devnet_supervisor& nodes_;
  bool tty_;
  size_t printed_ = 0; ///< journal lines printed so far (plain output)
  bool drawn_ = false; ///< the terminal shows the table
};

} // namespace hallmark
