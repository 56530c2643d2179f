#include "actors/progress.hpp"

#include <algorithm>
#include <unistd.h>

#include "core/log.hpp"

namespace hallmark {

namespace {

/// Writes `text` to stderr as it is (no log prefix, no newline).
void write_stderr(std::string_view text) {
  auto rc = ::write(STDERR_FILENO, text.data(), text.size());
  (void)rc;
}

constexpr std::string_view clear_line = "\r\033[K";

} // namespace

progress_figures figures_of(const fetch_report& r, double seconds) {
  auto secs = std::max(0.001, seconds);
  progress_figures out;
  out.records_per_s = static_cast<double>(r.records) / secs;
  auto left = r.target > r.height ? r.target - r.height : 0;
  // Blocks applied in this fetch so far: the rate the rest will come at.
  auto done = r.height + 1 > r.start ? r.height + 1 - r.start : 0;
  if (left > 0 && done > 0)
    out.eta_s = secs / static_cast<double>(done) * static_cast<double>(left);
  return out;
}

std::string progress_line(const fetch_report& r, double seconds) {
  auto f = figures_of(r, seconds);
  // Blocks relayed while the fetch runs may take the tip past its target.
  return fmt::format(
    "sync: height {} of {}, {:.0f} records/s, ETA {}, {} peer{}", r.height,
    std::max(r.target, r.height), f.records_per_s,
    f.eta_s > 0 || r.height >= r.target ? fmt::format("{:.0f} s", f.eta_s)
                                        : std::string{"unknown"},
    r.peers, r.peers == 1 ? "" : "s");
}

progress_display::progress_display(bool terminal) : terminal_(terminal) {}

void progress_display::begin(uint64_t now_ms) {
  started_ms_ = now_ms;
}

void progress_display::report(const fetch_report& r, uint64_t now_ms) {
  bool last = r.done || r.failure;
  if (!last && now_ms - last_ms_ < 2000)
    return;
  last_ms_ = now_ms;
  auto line = progress_line(r, (now_ms - started_ms_) / 1000.0);
  if (terminal_ && !last) {
    write_stderr(std::string{clear_line} + line);
    return;
  }
  if (terminal_)
    write_stderr(clear_line);
  log_info("connector", "{}", line);
}

bool stderr_is_terminal() {
  return ::isatty(STDERR_FILENO) != 0;
}

} // namespace hallmark
