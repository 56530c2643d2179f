#include "core/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace hallmark {

namespace {

spdlog::level::level_enum to_spdlog(log_level level) {
  switch (level) {
  case log_level::debug:
    return spdlog::level::debug;
  case log_level::info:
    return spdlog::level::info;
  case log_level::warning:
    return spdlog::level::warn;
  case log_level::error:
    return spdlog::level::err;
  }
  return spdlog::level::info;
}

/// The process's one logger: stderr, one line per record, UTC stamps. Made
/// on first use, so it exists before any actor logs and outlives them all.
spdlog::logger& logger() {
  static auto instance = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto l = std::make_shared<spdlog::logger>("hallmark", std::move(sink));
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %v", spdlog::pattern_time_type::utc);
    l->set_level(spdlog::level::info);
    l->flush_on(spdlog::level::debug);
    return l;
  }();
  return *instance;
}

} // namespace

void set_log_level(log_level level) {
  logger().set_level(to_spdlog(level));
}

std::optional<log_level> parse_log_level(std::string_view text) {
  if (text == "debug")
    return log_level::debug;
  if (text == "info")
    return log_level::info;
  if (text == "warning" || text == "warn")
    return log_level::warning;
  if (text == "error")
    return log_level::error;
  return std::nullopt;
}

bool log_enabled(log_level level) {
  return logger().should_log(to_spdlog(level));
}

void log_line(log_level level, std::string_view component,
              std::string_view message) {
  static constexpr const char* names[] = {"debug", "info", "warn", "error"};
  logger().log(to_spdlog(level), "{:5} {}: {}", names[static_cast<int>(level)],
               component, message);
}

namespace {

int64_t clock_offset_from_environment() {
  auto text = std::getenv("HALLMARK_CLOCK_OFFSET");
  if (text == nullptr || *text == '\0')
    return 0;
  char* end = nullptr;
  auto x = std::strtoll(text, &end, 10);
  return end != nullptr && *end == '\0' ? x : 0;
}

} // namespace

uint64_t unix_now() {
  static const int64_t offset = clock_offset_from_environment();
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  return static_cast<uint64_t>(now + offset);
}

} // namespace hallmark
