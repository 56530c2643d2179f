// The step of a node's shutdown that decides its exit code: the final flush
// (block_processor's `atom::stop`), waited for as long as the shutdown
// watchdog lets the process live.
//
// block_processor answers `stop` once the batches it took before it are
// committed: a `block import` request of 100 blocks or a sync batch can
// take seconds. A request that timed out before the watchdog's deadline
// would drop an answer that still came in time, and the node would call a
// flushed chain "not flushed" (and exit 1). So the request outlives the
// deadline: when the flush is that slow, the watchdog, which knows whether
// the answer came, ends the process with the true code.
#pragma once

#include <chrono>
#include <cstdint>

#include <caf/scoped_actor.hpp>
#include <caf/sec.hpp>

#include "actors/actors.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "node/watchdog.hpp"

namespace hallmark {

/// How long the final flush's request outlives the watchdog's deadline.
constexpr std::chrono::milliseconds flush_past_deadline{200};

/// How long the final flush may take from now: to the watchdog's deadline,
/// and flush_past_deadline beyond.
inline std::chrono::milliseconds
final_flush_limit(const shutdown_watchdog& dog) {
  return dog.left(-flush_past_deadline);
}

/// Asks `processor` to flush and stop (`atom::stop`), waits at most
/// final_flush_limit() for the committed height and logs the outcome:
/// "chain flushed at height H", "final flush failed: …" (an error), or
/// "final flush did not answer within N ms" (no answer; the watchdog has
/// then ended the process, unless a test keeps it alive).
/// @param self the shutdown's own actor.
/// @param processor block_processor, or an actor that answers like it.
/// @param dog told when the flush is done.
/// @returns whether the flush committed.
template <class Handle>
bool final_flush(caf::scoped_actor& self, const Handle& processor,
                 shutdown_watchdog& dog) {
  bool flushed = false;
  auto limit = final_flush_limit(dog);
  self->request(processor, limit, atom::stop_v)
    .receive(
      [&](uint64_t height) {
        log_info("node", "chain flushed at height {}", height);
        flushed = true;
        dog.flushed();
      },
      [&](caf::error& err) {
        if (err == caf::sec::request_timeout)
          log_error("node",
                    "final flush did not answer within {} ms: the chain is "
                    "not known to be flushed",
                    limit.count());
        else
          log_error("node", "final flush failed: {}", message_of(err));
      });
  return flushed;
}

} // namespace hallmark
