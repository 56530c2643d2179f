// Registration between the C++ model and its Cap'n Proto struct
// (messages/wire.capnp), for code that builds or reads an Envelope.
#pragma once

#include "messages/registration.hpp"
#include "messages/wire.capnp.h"

namespace hallmark {

/// Fills a Registration struct.
void write(schema::Registration::Builder out, const registration& r);

/// Reads a Registration struct: key exactly 32 bytes and signature exactly
/// 64 (else ec::malformed); chain at most max_registration_chain_bytes, at
/// most max_listeners listeners, each at most max_listener_bytes (else
/// ec::too_large). Does not check the signature or the addresses. Throws
/// kj::Exception on malformed input: call it inside `guarded`.
caf::expected<registration> read(schema::Registration::Reader in);

} // namespace hallmark
