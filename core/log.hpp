// One-line log records on stderr: "TIME LEVEL component: message".
#pragma once

#include <string_view>

#include <fmt/core.h>

namespace hallmark {

enum class log_level { debug, info, warning, error };

/// Writes one line; lines from different actors never interleave.
void log_line(log_level level, std::string_view component,
              std::string_view message);

template <class... Ts>
void log_info(std::string_view component, fmt::format_string<Ts...> f,
              Ts&&... xs) {
  log_line(log_level::info, component, fmt::format(f, std::forward<Ts>(xs)...));
}

template <class... Ts>
void log_warning(std::string_view component, fmt::format_string<Ts...> f,
                 Ts&&... xs) {
  log_line(log_level::warning, component,
           fmt::format(f, std::forward<Ts>(xs)...));
}

template <class... Ts>
void log_error(std::string_view component, fmt::format_string<Ts...> f,
               Ts&&... xs) {
  log_line(log_level::error, component,
           fmt::format(f, std::forward<Ts>(xs)...));
}

/// Seconds since the Unix epoch.
uint64_t unix_now();

} // namespace hallmark
