// One-line log records on stderr through spdlog:
// "TIME LEVEL component: message", TIME in UTC with milliseconds. Records
// below the level set with set_log_level (default info) are dropped before
// they are formatted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/core.h>

namespace hallmark {

enum class log_level { debug, info, warning, error };

/// `text` safe to show on a terminal: control characters (C0 with the
/// newline, DEL, and C1 — U+0080..U+009F, which start escape sequences)
/// become `\xNN` or `\uNNNN`, and bytes that are not UTF-8 `\xNN`; with
/// `backslash`, a backslash becomes `\\` too, so the escapes read back
/// unambiguously. Used for every log line and the CLI's human form.
std::string escape_controls(std::string_view text, bool backslash = false);

/// Writes one line, `message` passed through escape_controls; lines from
/// different actors never interleave.
void log_line(log_level level, std::string_view component,
              std::string_view message);

/// Drops records below `level` from now on (`--log-level`).
void set_log_level(log_level level);

/// "debug", "info", "warning" (or "warn"), "error"; nothing otherwise.
std::optional<log_level> parse_log_level(std::string_view text);

/// Whether a record of `level` would be written.
bool log_enabled(log_level level);

/// Formats and writes one record of `level`, if that level is written.
template <class... Ts>
void log_at(log_level level, std::string_view component,
            fmt::format_string<Ts...> f, Ts&&... xs) {
  if (log_enabled(level))
    log_line(level, component, fmt::format(f, std::forward<Ts>(xs)...));
}

template <class... Ts>
void log_debug(std::string_view c, fmt::format_string<Ts...> f, Ts&&... xs) {
  log_at(log_level::debug, c, f, std::forward<Ts>(xs)...);
}

template <class... Ts>
void log_info(std::string_view c, fmt::format_string<Ts...> f, Ts&&... xs) {
  log_at(log_level::info, c, f, std::forward<Ts>(xs)...);
}

template <class... Ts>
void log_warning(std::string_view c, fmt::format_string<Ts...> f, Ts&&... xs) {
  log_at(log_level::warning, c, f, std::forward<Ts>(xs)...);
}

template <class... Ts>
void log_error(std::string_view c, fmt::format_string<Ts...> f, Ts&&... xs) {
  log_at(log_level::error, c, f, std::forward<Ts>(xs)...);
}

/// Seconds since the Unix epoch on this node's clock: the system clock,
/// moved by HALLMARK_CLOCK_OFFSET seconds (a signed integer, read once)
/// when that variable is set. The offset plays a machine whose clock is
/// wrong, for the skewed-clock tests (docs/hacking.md); operators leave it
/// unset. Every consensus and peer timestamp reads this clock.
uint64_t unix_now();

} // namespace hallmark
