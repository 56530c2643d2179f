// peer_session: one CAF typed broker per TCP link to a peer.
//
//   accepted / dialed
//        │ handshake frames (plaintext, ≤ 4 KiB each; messages/handshake.hpp)
//        ▼
//   HANDSHAKE ──(established)──▶ ADMITTING ──(admitted)──▶ LINKED
//        │                           │                       │
//        └─(reject, timeout, bad)────┴─(refused)─────────────┴──▶ gone
//                                            (close, error, misbehaviour)
//
// ADMITTING: the handshake proved the peer's key; the connector refuses a
// banned key (or our own), then, for an inbound link, the listener grants
// it an authenticated slot or refuses it (actors/listener.hpp). Only then
// is the link "linked" (logged, told to the connector, served); frames the
// peer sends meanwhile wait, unread by anyone.
//
// Each phase is its own behaviour, and within a phase so is each half of a
// frame: the 4-byte little-endian length (refused above the phase's cap
// before the body is read), then the body. Once linked, every frame is one
// secretstream-encrypted Envelope (messages/wire.capnp, codec in
// messages/envelope.hpp), and nothing outside the session (this file and
// actors/peer_session_serve.*) sees one: the session answers the peer's
// requests (info, blocks, hashes, register, ping), hands broadcasts to
// block_processor, the reservoir and the announcer with itself as their
// origin, and turns the node's domain
// requests and relays (peer_session_actor in actors/actors.hpp) into
// Envelopes, matching responses by id. Misbehaviour is charged to the peer
// at the connector; a bad frame ends the link.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/io/fwd.hpp>
#include <caf/io/system_messages.hpp>
#include <caf/io/typed_broker.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/actors.hpp"
#include "messages/envelope.hpp"
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
  /// Headers in one `headers` reply.
  uint32_t max_headers = 2000;
  /// Time to finish the handshake.
  std::chrono::milliseconds handshake_timeout{10'000};
  /// Time a peer has to answer one of our requests.
  std::chrono::milliseconds request_timeout{60'000};
  /// A linked peer that sends nothing for this long is gone (a live one
  /// asks for our info every connector cycle): the link closes, nobody is
  /// charged.
  std::chrono::milliseconds idle_timeout{180'000};
  /// Misbehaviour points (the connector bans at 100).
  int32_t bad_frame_points = 100;
  int32_t bad_block_points = 50;
  int32_t bad_records_points = 10;
  /// Testing only (devnet, HALLMARK_TEST_BLOCK_SERVE_DELAY_MS): `blocks`
  /// replies are held at least this long, sent by the 1 s timer; 0: at
  /// once.
  std::chrono::milliseconds serve_delay{0};
};

struct session_deps {
  const chain_store* chain = nullptr;
  block_processor_actor processor;
  reservoir_actor pool;
  connector_actor connector;
  announcer_actor announcer; ///< may be invalid
  /// The listener that accepted the link (told when it is linked); invalid
  /// for links we dial.
  listener_actor listener;
  std::optional<handshake_settings> settings; ///< always set
  /// Answers state sync requests; invalid: refused as bad_request.
  state_server_actor state;
  session_limits limits;
};

/// The session's whole interface: peer_session_actor, CAF's I/O events and
/// its own timer. Only the session's spawner sees it; everyone else holds a
/// peer_session_actor.
using peer_session_broker_actor = peer_session_actor::extend<
  caf::reacts_to<caf::io::new_data_msg>,
  caf::reacts_to<caf::io::connection_closed_msg>, caf::reacts_to<atom::tick>>;

template <class Handle>
struct typed_broker_of;

template <class... Sigs>
struct typed_broker_of<caf::typed_actor<Sigs...>> {
  using type = caf::io::typed_broker<Sigs...>;
};

struct peer_session_state;

using peer_session_broker = caf::stateful_actor<
  peer_session_state, typed_broker_of<peer_session_broker_actor>::type>;

struct peer_session_state {
  // Not an aggregate: CAF would try to build it from the actor pointer.
  peer_session_state() = default;
  static inline const char* name = "peer_session";

  /// A request of ours to the peer, waiting for its response.
  struct pending_request {
    std::chrono::steady_clock::time_point deadline;
    /// Gets the response's body, or why none came.
    std::function<void(caf::expected<wire::body>)> deliver;
  };

  session_deps deps;
  caf::io::connection_handle hdl;
  std::string address;
  std::string label; ///< "key@host:port" once linked, "?@host:port" before
  bool inbound = false;
  std::optional<handshake> hs; ///< during HANDSHAKE only
  frame_sealer tx;
  frame_opener rx;
  public_key peer{};
  /// The handshake proved `peer`: only then can misbehaviour be charged.
  bool proven = false;
  std::chrono::steady_clock::time_point handshake_deadline;
  /// When the last frame came (LINKED).
  std::chrono::steady_clock::time_point last_heard;
  uint64_t next_id = 1;
  /// Bytes of the last frame read (with its framing), for state_reply.
  uint64_t last_frame_bytes = 0;
  std::map<uint64_t, pending_request> pending;
  /// ADMITTING: the protocol version the handshake chose ...
  uint16_t version = 0;
  /// ... what the connection's next bytes are ...
  std::optional<uint32_t> admit_next;
  /// ... and the frames that came meanwhile, read once LINKED.
  std::vector<std::vector<uint8_t>> held_frames;
  size_t held_bytes = 0;
  /// LINKED was reached (the connector knows the link).
  bool linked = false;
  /// Bytes came from the peer: the connection was made (a dialled
  /// session's may still be under way until then, actors/dialer.hpp).
  bool heard = false;
  /// The link is closing: nothing more is read.
  bool closed = false;
  /// Replies held back by `serve_delay` (testing only), oldest first.
  struct held_reply {
    std::chrono::steady_clock::time_point due;
    uint64_t id = 0;
    wire::blocks body;
  };
  std::vector<held_reply> held_replies;
};

/// Whether an inbound session that ended with `reason` before its peer
/// proved a key discourages the peer's address: only what the peer did
/// wrong does (garbage, a bad frame, a forged proof). Another chain, or
/// another key than the one the dialer expected (a peer that made a new
/// key, a typo, a node listed as its own peer), is a configuration
/// mismatch; a timeout or a closed link is nobody's fault.
/// @param reason the session's exit reason.
bool discourages(const caf::error& reason);

/// Runs a link. For an outbound link `expected` is the key the dialed node
/// must prove; for an inbound one it is empty.
/// @param hdl the connection, already accepted or connected.
/// @param address the remote end, "host:port", for logs and scoring.
peer_session_broker_actor::behavior_type
peer_session(peer_session_broker* self, caf::io::connection_handle hdl,
             session_deps deps, std::optional<public_key> expected,
             std::string address);

/// Runs a link we dial over `fd`, a socket whose connection may still be
/// under way (actors/dialer.hpp): the session takes the socket, its hello
/// goes out once the connection is made, and a connection that fails or
/// hangs ends the session (closed, or the handshake deadline).
/// @param expected the key the dialled node must prove.
peer_session_broker_actor::behavior_type
dialled_peer_session(peer_session_broker* self, int fd, session_deps deps,
                     public_key expected, std::string address);

} // namespace hallmark
