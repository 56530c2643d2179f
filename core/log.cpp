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

namespace {

/// The length of the UTF-8 sequence at `text[i]`, or 0 if it is not one
/// (a stray continuation byte, a bad lead, a cut or overlong sequence).
size_t utf8_length(std::string_view text, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  auto c = at(i);
  size_t n = c < 0x80                 ? 1
             : c >= 0xc2 && c <= 0xdf ? 2
             : c >= 0xe0 && c <= 0xef ? 3
             : c >= 0xf0 && c <= 0xf4 ? 4
                                      : 0;
  if (n == 0 || i + n > text.size())
    return 0;
  for (size_t k = 1; k < n; ++k)
    if ((at(i + k) & 0xc0) != 0x80)
      return 0;
  if ((c == 0xe0 && at(i + 1) < 0xa0) || (c == 0xf0 && at(i + 1) < 0x90)
      || (c == 0xf4 && at(i + 1) > 0x8f) || (c == 0xed && at(i + 1) > 0x9f))
    return 0;
  return n;
}

} // namespace

std::string escape_controls(std::string_view text, bool backslash) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    auto n = utf8_length(text, i);
    if (n == 0 || c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c); // a control, or not UTF-8
      ++i;
    } else if (n == 2 && c == 0xc2
               && static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      out += fmt::format("\\u{:04x}", // U+0080..U+009F, the C1 controls
                         static_cast<unsigned char>(text[i + 1]));
      i += 2;
    } else if (backslash && c == '\\') {
      out += "\\\\";
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

void log_line(log_level level, std::string_view component,
              std::string_view message) {
  static constexpr const char* names[] = {"debug", "info", "warn", "error"};
  // A message may quote what a peer or a client sent: one record stays one
  // line, and no byte of it drives the terminal that shows the log.
  logger().log(to_spdlog(level), "{:5} {}: {}", names[static_cast<int>(level)],
               component, escape_controls(message));
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
