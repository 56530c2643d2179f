// Waits that show: a request between actors (or to a peer's link) that
// misses its deadline is logged, one line naming who asked for what, and
// counted (`hallmark_requests_late_total` in /metrics). A part that stops
// answering then shows in the log of whoever waited for it, not only as
// a slow `status`.
#pragma once

#include <string>

#include <caf/error.hpp>

namespace hallmark {

/// Whether `err` says a request's deadline passed unanswered
/// (caf::sec::request_timeout).
bool missed_deadline(const caf::error& err);

/// If `err` is a missed deadline: logs "`asker`: `what` got no answer in
/// time" at warning level and counts it. Any other error is left to the
/// caller.
void note_if_late(const char* asker, const std::string& what,
                  const caf::error& err);

} // namespace hallmark
