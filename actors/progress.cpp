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

std::string progress_line(const fetch_report& r, double seconds) {
  auto secs = std::max(0.001, seconds);
  auto rate = r.records / secs;
  auto left = r.target > r.height ? r.target - r.height : 0;
  auto done_blocks = r.height + 1;
  auto eta = left > 0 ? secs / static_cast<double>(done_blocks) * left : 0.0;
  return fmt::format("sync: height {} of {}, {:.0f} records/s, ETA {:.0f} s",
                     r.height, r.target, rate, eta);
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
