// The peer_session's traffic with its peer once linked, for
// actors/peer_session.cpp: frames out, and the Envelopes that come in
// (requests answered from the committed chain, broadcasts handed on,
// responses delivered). Internal to the session: nothing else includes it.
#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>

#include "actors/peer_session.hpp"
#include "messages/envelope.hpp"

namespace hallmark::peer_session_detail {

using self_ptr = peer_session_broker*;

/// Writes one frame: its 4-byte little-endian length, then `bytes`.
void write_frame(self_ptr self, byte_view bytes);

/// Encodes, seals and sends one Envelope; the error if it could not.
caf::error send_envelope(self_ptr self, wire::envelope env);

/// Charges the peer's key `points` for `reason`, once the handshake has
/// proven it; before, there is no key to charge.
void charge(self_ptr self, int32_t points, const std::string& reason);

/// One decoded Envelope from the peer: a request is answered, a broadcast
/// handed on, a response delivered to the request of ours it answers.
void on_envelope(self_ptr self, wire::envelope env);

/// Sends the `blocks` replies held back by `serve_delay` that are due
/// (testing only; the session's timer calls it).
void send_held_replies(self_ptr self);

} // namespace hallmark::peer_session_detail
