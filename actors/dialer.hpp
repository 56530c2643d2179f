// Dialling without waiting: a link's TCP connection is started here and
// finished by the network thread, so no actor waits on the network.
//
// CAF 0.17's `middleman::spawn_client` connects before it returns ("blocks
// the caller for the duration of the connection process"). Called by the
// connector, which runs on one of the scheduler's few workers, a dial to a
// host whose accept queue is full waited out TCP's SYN retries (1, 3, 7,
// 15, 31 s …) with that worker, and with two such dials the whole node
// stopped answering (docs/architecture.md, "Nothing waits on a worker").
// Here the socket is non-blocking and `connect` returns at once; the
// session broker owns the socket from then on (`add_scribe`), writes its
// hello when the connection is made, and its handshake deadline bounds
// the wait. A name (not an address) is resolved on a thread of its own
// by a one-shot resolver, for the same reason.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "actors/actors.hpp"

namespace hallmark {

/// Whether `host` is an IPv4 or IPv6 address (nothing to resolve).
bool is_address(std::string_view host);

/// Opens a non-blocking TCP socket and starts connecting it to `address`
/// (an IPv4 or IPv6 address, from is_address) on `port`; the socket, its
/// connection under way or made. ec::io if no socket can be made, the
/// address is not one, or the kernel refuses at once (no route).
caf::expected<int> start_connect(const std::string& address, uint16_t port);

/// Resolves one host name (getaddrinfo, blocking: spawn it detached), then
/// quits. Answers its addresses, IPv4 first; ec::io if there are none.
resolver_actor::behavior_type resolver(resolver_actor::pointer self);

} // namespace hallmark
