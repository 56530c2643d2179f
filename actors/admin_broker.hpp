// admin_broker: the admin socket's typed broker (its protocol is described
// in actors/admin.hpp), its per-connection phases and the reply calls that
// the request handlers in admin_queries.cpp and admin_changes.cpp answer
// with. Only the admin's own files include this header.
//
// One connection:
//
//   accepted ──▶ IDLE ──(a whole frame)──▶ SERVING ──(reply)──▶ IDLE
//                 │                          │  │
//                 │ bad length               │  └─(watch)──▶ WATCHING
//                 ▼                          │ undecodable     │ END
//              CLOSING ◀─────────────────────┘                 ▼
//                 └──(error reply)──▶ closed ◀─────────────────┘
#pragma once

#include <functional>
#include <map>
#include <vector>

#include <caf/io/fwd.hpp>
#include <caf/io/system_messages.hpp>
#include <caf/io/typed_broker.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/admin.hpp"
#include "actors/deadline.hpp"
#include "actors/peer_session.hpp" // typed_broker_of
#include "messages/admin.capnp.h"
#include "messages/codec_capnp.hpp"

namespace hallmark {

/// Where one admin connection is (the diagram above).
enum class admin_phase {
  idle,     ///< waiting for a whole request frame
  serving,  ///< one request in flight; later frames wait in the buffer
  closing,  ///< its last reply (an error) goes out, then it is closed
  watching, ///< streams Reply.tip until Reply.end; no other reply
};

struct admin_connection {
  /// Bytes received and not yet served: at most one frame's worth.
  std::vector<uint8_t> buf;
  admin_phase phase = admin_phase::idle;
};

struct admin_state {
  // Not an aggregate: CAF would try to build it from the actor pointer.
  admin_state() = default;
  static inline const char* name = "admin";

  admin_deps deps;
  std::map<caf::io::connection_handle, admin_connection> conns;
  bool subscribed = false; ///< to the chain monitor, at the first watch
};

/// The broker's whole interface: admin_actor and CAF's I/O events. Only
/// spawn_admin sees it; the node and the chain monitor hold an admin_actor.
using admin_broker_actor = admin_actor::extend<
  caf::reacts_to<caf::io::new_connection_msg>,
  caf::reacts_to<caf::io::new_data_msg>,
  caf::reacts_to<caf::io::connection_closed_msg>,
  caf::reacts_to<caf::io::acceptor_closed_msg>>;

using admin_broker = caf::stateful_actor<
  admin_state, typed_broker_of<admin_broker_actor>::type>;

/// Fills in one Reply.
using reply_builder = std::function<void(schema::Reply::Builder)>;

/// Serves the listening socket `fd`.
/// @param fd a bound, listening Unix stream socket; the broker owns it.
/// @param deps the actors and the chain that requests are answered from.
admin_broker_actor::behavior_type admin(admin_broker* self, int fd,
                                        admin_deps deps);

/// Sends the one reply to the request that `hdl` has in flight and serves
/// its next request (or closes it, if it is CLOSING). Does nothing if the
/// client left meanwhile.
void respond(admin_broker* self, caf::io::connection_handle hdl,
             const reply_builder& fill);

/// Replies with Reply.error: the code of `err` (ec::bad_request if it has
/// none) and its message.
void respond_error(admin_broker* self, caf::io::connection_handle hdl,
                   const caf::error& err);

/// A response handler that answers the request of `hdl` with the error its
/// request to another actor failed with.
inline auto fail_with(admin_broker* self, caf::io::connection_handle hdl) {
  return [=](caf::error& err) {
    note_if_late("admin", "a request for a client of the admin socket", err);
    respond_error(self, hdl, err);
  };
}

/// Sets `r` to Reply.tip.
void set_tip(schema::Reply::Builder r, uint64_t height, const hash256& hash);

} // namespace hallmark
