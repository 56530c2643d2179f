#include "core/log.hpp"

#include <chrono>
#include <ctime>
#include <string>
#include <unistd.h>

namespace hallmark {

void log_line(log_level level, std::string_view component,
              std::string_view message) {
  static constexpr const char* names[] = {"debug", "info", "warn", "error"};
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              now.time_since_epoch())
              .count()
            % 1000;
  std::tm tm;
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  auto line = fmt::format("{}.{:03d}Z {:5} {}: {}\n", stamp, ms,
                          names[static_cast<int>(level)], component, message);
  // One write(2) per line keeps lines whole across threads.
  auto rc = ::write(STDERR_FILENO, line.data(), line.size());
  (void)rc;
}

uint64_t unix_now() {
  return static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::system_clock::now().time_since_epoch())
      .count());
}

} // namespace hallmark
