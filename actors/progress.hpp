// progress: the sync progress line. The connector keeps the fetch's state
// and feeds this display every fetch_report the prefetcher sends; the
// display alone decides how progress is shown. On a terminal, stderr holds
// one line redrawn in place (at most every 2 s); elsewhere, and for the
// last report of a fetch (done or failed), the line goes to the log.
#pragma once

#include <cstdint>
#include <string>

#include "actors/actors.hpp"

namespace hallmark {

/// A fetch's rate and time left, from a report `seconds` into it: records
/// applied a second, and the seconds left at the rate blocks arrived so far
/// (0: not known yet).
struct progress_figures {
  double records_per_s = 0;
  double eta_s = 0;
};
progress_figures figures_of(const fetch_report& r, double seconds);

/// "sync: height H of T, R records/s, ETA S s, N peers" for a fetch
/// `seconds` old.
std::string progress_line(const fetch_report& r, double seconds);

/// Shows a fetch's progress on stderr or in the log.
class progress_display {
public:
  /// @param terminal redraw one line on stderr (true when it is a tty).
  explicit progress_display(bool terminal);

  /// A fetch starts at `now_ms` (milliseconds on a steady clock).
  void begin(uint64_t now_ms);

  /// Shows `r`, received at `now_ms`, unless a line was shown less than 2 s
  /// ago and `r` is not the last of its fetch.
  void report(const fetch_report& r, uint64_t now_ms);

private:
  bool terminal_;
  uint64_t started_ms_ = 0;
  uint64_t last_ms_ = 0;
};

/// Whether stderr is a terminal.
bool stderr_is_terminal();

} // namespace hallmark
