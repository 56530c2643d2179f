#include "actors/deadline.hpp"

#include <caf/sec.hpp>

#include "core/log.hpp"
#include "core/metrics.hpp"

namespace hallmark {

bool missed_deadline(const caf::error& err) {
  return err == caf::sec::request_timeout;
}

void note_if_late(const char* asker, const std::string& what,
                  const caf::error& err) {
  if (!missed_deadline(err))
    return;
  metrics::node().requests_late.add();
  log_warning(asker, "{} got no answer in time", what);
}

} // namespace hallmark
