// What every broker (peer session, listener, admin) must do so that it can
// be destroyed once it exits.
//
// CAF 0.17.6's `abstract_broker::cleanup` skips `scheduled_actor::cleanup`,
// the step that closes an exiting actor's mailbox and drops (or, for
// requests, answers with an error) what still waits in it. A broker's
// mailbox therefore stays open after it exits: messages keep arriving —
// its own one-second `tick`, whose sender is the broker itself, replies of
// block_processor to requests made just before the exit — and they stay
// until the broker object is destroyed. The tick is a strong reference from
// the broker's mailbox to the broker, so it never is: the broker leaks, and
// with it every sender in its mailbox. One of them is the detached
// block_processor, whose thread waits until its actor object is destroyed,
// and `~actor_system` waits for that thread: the node logged "stopped" and
// never exited.
#pragma once

#include <caf/detail/sync_request_bouncer.hpp>
#include <caf/error.hpp>

namespace hallmark {

/// Makes `self` close its mailbox when it exits and drop what waits there,
/// answering requests with the exit reason, as CAF does for every actor but
/// a broker. Call it once, when the broker starts.
template <class Broker>
void close_mailbox_on_exit(Broker* self) {
  // Runs in the broker's cleanup, on its own thread (the mailbox's reader).
  self->attach_functor([self](const caf::error& reason) {
    auto& box = self->mailbox();
    if (box.closed())
      return;
    box.close();
    self->get_normal_queue().flush_cache();
    self->get_urgent_queue().flush_cache();
    caf::detail::sync_request_bouncer bounce{reason};
    while (box.queue().new_round(1000, bounce).consumed_items) {
      // Drops a round of messages each time.
    }
  });
}

} // namespace hallmark
