// peer_session: one CAF broker per TCP link to a peer.
//
//   accepted / dialed
//        │ handshake frames (plaintext, ≤ 4 KiB each; node/handshake.hpp)
//        ▼
//   HANDSHAKE ──(established)──▶ LINKED ──(close, error, misbehaviour)──▶ gone
//        │                          │
//        └─(reject, timeout, bad)───┘
//
// Reads frames header first (4-byte little-endian length), then the body,
// refusing a length above the phase's cap before reading it. Once linked,
// every frame is one secretstream-encrypted Envelope (messages/wire.capnp):
// it answers the peer's requests (info, blocks, hashes, register, ping),
// hands broadcasts to the reservoir, block_processor and announcer, relays
// what they accept through the connector, and forwards requests of local
// actors, matching responses by id. Misbehaviour is charged to the peer at
// the connector; a bad frame ends the link.
//
// Local actors talk to a session with:
//   (atom::request, encoded Envelope) -> encoded Envelope   (id assigned here)
//   (atom::send, encoded Envelope)                          (one-way)
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <caf/fwd.hpp>
#include <caf/io/fwd.hpp>

#include "actors/actors.hpp"
#include "messages/handshake.hpp"
#include "storage/chain_store.hpp"

namespace hallmark {

struct session_limits {
  /// Blocks in one `blocks` reply, at most ...
  uint32_t max_blocks = 500;
  /// ... and bytes in one reply (below the 5 MB frame cap).
  size_t max_reply_bytes = 4'500'000;
  /// Hashes in one `hashes` reply.
  uint32_t max_hashes = 2000;
  /// Time to finish the handshake.
  std::chrono::milliseconds handshake_timeout{10'000};
  /// Time a peer has to answer one of our requests.
  std::chrono::milliseconds request_timeout{60'000};
  /// Misbehaviour points (the connector bans at 100).
  int32_t bad_frame_points = 100;
  int32_t bad_block_points = 50;
  int32_t bad_records_points = 10;
};

struct session_deps {
  const chain_store* chain = nullptr;
  block_processor_actor processor;
  reservoir_actor pool;
  connector_actor connector;
  announcer_actor announcer;                  ///< may be invalid
  std::optional<handshake_settings> settings; ///< always set
  session_limits limits;
};

/// Runs a link. For an outbound link `expected` is the key the dialed node
/// must prove; for an inbound one it is empty.
/// @param hdl the connection, already accepted or connected.
/// @param address the remote end, "host:port", for logs and scoring.
caf::behavior peer_session(caf::io::broker* self,
                           caf::io::connection_handle hdl, session_deps deps,
                           std::optional<public_key> expected,
                           std::string address);

} // namespace hallmark
