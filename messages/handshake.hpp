// The link handshake and the frame cipher that follows it: a pure state
// machine (no actors, no sockets) that the peer_session broker feeds with the
// frames it reads and whose answers it writes. Schema: messages/wire.capnp.
//
// Roles. The *initiator* dialed the link and must already know the
// responder's Ed25519 identity; the *responder* accepted it and learns the
// initiator's identity from the Hello.
//
//   initiator                                  responder
//   ---------                                  ---------
//   [start]                                    [awaiting_hello]
//      | hello()                                  |
//      |---------------- Hello --------------->   | rule 2: checks, kx
//      v                                          | server keys,
//   [awaiting_welcome]                            | init_push(tx), sign T1
//      |   <------------ Welcome ---------------  v
//      | rule 3: checks, kx client keys,       [awaiting_proof]
//      | init_pull(rx, responder header),         |
//      | init_push(tx), sign T2                   |
//      |---------------- Proof --------------->   | rule 4: verify T2,
//      v                                          | init_pull(rx, header)
//   [established]                                 v
//                                              [established]
//
//   awaiting_* --- Reject received ------------------------> [failed]
//   awaiting_* --- bad frame (we answer with a Reject) ----> [failed]
//   [start] --- any frame (nothing sent) ------------------> [failed]
//   [established], [failed] --- any frame: ec::malformed, nothing sent,
//                               the phase stays
//
// Rules (every refusal is a pinned `ec` plus a reason text; "Reject" means
// the returned step carries an encoded Reject{code, reason} to send before
// closing the link):
//
// 0. Framing. A handshake frame is one encoded `Handshake` message (the
//    broker strips the 4-byte length prefix). A frame above
//    max_handshake_frame bytes is ec::too_large; an empty frame, one whose
//    size is not a multiple of 8, one that does not decode (a Cap'n Proto
//    FlatArrayMessageReader with traversal/nesting limits for
//    max_handshake_frame), has bytes after its message, has a union kind
//    unknown to us or the wrong kind for the state, or a key, ephemeral,
//    header or signature field of the wrong length, is ec::malformed.
// 1. Initiator -> Hello{magic = handshake_magic, minVersion, maxVersion,
//    chain, key = its Ed25519 identity, ephemeral = a fresh crypto_kx public
//    key, responderKey = the identity it expects}.
// 2. The responder refuses, with a Reject, in this order:
//    magic != handshake_magic (ec::malformed); chain != its chain
//    (ec::wrong_chain); responderKey != its identity (ec::wrong_key); key ==
//    its own identity, i.e. a link to itself (ec::wrong_key); no common
//    version (ec::wrong_version, naming both ranges); an unusable ephemeral
//    key (ec::malformed). Otherwise it picks the highest common version,
//    derives (rx, tx) = crypto_kx_server_session_keys(own ephemeral,
//    initiator ephemeral), starts its push stream with tx
//    (crypto_secretstream_xchacha20poly1305_init_push -> 24-byte header),
//    and sends Welcome{version, key, ephemeral, streamHeader, signature =
//    Ed25519(T1)}.
// 3. The initiator refuses, with a Reject, in this order: version outside its
//    range (ec::wrong_version); key != the expected responder
//    (ec::wrong_key); signature not valid for T1 under that key
//    (ec::bad_signature); an unusable ephemeral key or header
//    (ec::malformed). Otherwise it derives (rx, tx) =
//    crypto_kx_client_session_keys(...), starts its pull stream with the
//    responder's header and rx and its push stream with tx, sends
//    Proof{streamHeader, signature = Ed25519(T2)}, and is established.
// 4. The responder refuses a Proof whose signature is not valid for T2 under
//    the Hello's key (ec::bad_signature, Reject). Otherwise it starts its
//    pull stream with the initiator's header and rx; established.
// 5. A Reject received while waiting fails the handshake with the Reject's
//    code (code 0 becomes ec::malformed; a code we do not know is kept) and
//    "peer refused: <reason>"; the peer's reason is cut to printable ASCII
//    and 256 bytes. Nothing is sent.
//
// Transcripts (BLAKE2b-256 over these bytes; integers little-endian, keys
// and headers raw; the signature is over the 32-byte hash):
//
//   T1 = "hm-hs-t1" (8) | magic u64 | minVersion u16 | maxVersion u16
//        | chain length u32 | chain bytes | initiator key (32)
//        | initiator ephemeral (32) | responderKey (32) | chosen version u16
//        | responder key (32) | responder ephemeral (32)
//        | responder stream header (24)
//   T2 = "hm-hs-t2" (8) | T1 (32) | initiator stream header (24)
//
// Both fresh ephemeral keys are inside T1, so a Welcome or Proof recorded
// from an earlier handshake never verifies again (replay is ec::bad_signature)
// and the session keys are bound to both identities.
//
// Secrets: the ephemeral secret key is wiped once the session keys are
// derived, each session key once its stream is started, everything when the
// handshake fails or goes away (sodium_memzero).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/crypto.hpp"

namespace hallmark {

constexpr uint16_t protocol_version_min = 1;
constexpr uint16_t protocol_version_max = 1;

/// "HALLMARK" read as a little-endian u64; the first field of every Hello.
constexpr uint64_t handshake_magic = 0x4b52414d4c4c4148;

/// The largest handshake frame, in bytes (without the length prefix).
constexpr size_t max_handshake_frame = 4096;

/// The largest encrypted frame after the handshake, in ciphertext bytes.
constexpr size_t max_link_frame = 5'000'000;

/// Ciphertext bytes a sealed frame has beyond its plaintext
/// (crypto_secretstream_xchacha20poly1305_ABYTES).
constexpr size_t link_frame_overhead = 17;

/// The largest plaintext a frame_sealer seals.
constexpr size_t max_link_plaintext = max_link_frame - link_frame_overhead;

/// The longest reason text a Reject carries; longer ones are cut.
constexpr size_t max_reject_reason = 256;

/// Encrypts one direction of an established link: a libsodium
/// crypto_secretstream_xchacha20poly1305 push stream, every frame tagged
/// TAG_MESSAGE. Made by `handshake`; move-only (a copy would reuse nonces).
class frame_sealer {
public:
  /// A sealer without a stream; seal() refuses everything.
  frame_sealer();
  frame_sealer(frame_sealer&& other) noexcept;
  frame_sealer& operator=(frame_sealer&& other) noexcept;
  frame_sealer(const frame_sealer&) = delete;
  frame_sealer& operator=(const frame_sealer&) = delete;
  ~frame_sealer();

  /// True if the sealer has a stream.
  bool valid() const { return stream_ != nullptr; }

  /// The ciphertext of the next frame (plaintext + link_frame_overhead
  /// bytes). Empty, with the stream unchanged, if the sealer has no stream
  /// or `plaintext` is above max_link_plaintext; a sealed frame is never
  /// empty.
  /// @param plaintext the frame's bytes (may be empty).
  std::vector<uint8_t> seal(byte_view plaintext);

private:
  friend class handshake;
  struct stream;
  explicit frame_sealer(std::unique_ptr<stream> s);
  std::unique_ptr<stream> stream_;
};

/// Decrypts the other direction of an established link: the matching pull
/// stream. Any tampered, replayed, reordered, truncated or dropped frame fails
/// (secretstream's per-message nonce state), after which the opener wipes its
/// state and refuses everything with the first failure's code.
class frame_opener {
public:
  /// An opener without a stream; open() refuses everything.
  frame_opener();
  frame_opener(frame_opener&& other) noexcept;
  frame_opener& operator=(frame_opener&& other) noexcept;
  frame_opener(const frame_opener&) = delete;
  frame_opener& operator=(const frame_opener&) = delete;
  ~frame_opener();

  /// True if the opener has a stream and has not failed.
  bool valid() const { return stream_ != nullptr; }

  /// The plaintext of the next frame. Refuses a frame shorter than
  /// link_frame_overhead (ec::malformed), longer than max_link_frame
  /// (ec::too_large), one that fails authentication or is out of sequence
  /// (ec::bad_signature), or one not tagged TAG_MESSAGE (ec::malformed).
  /// @param ciphertext one frame's bytes, without the length prefix.
  caf::expected<std::vector<uint8_t>> open(byte_view ciphertext);

private:
  friend class handshake;
  struct stream;
  explicit frame_opener(std::unique_ptr<stream> s);
  std::unique_ptr<stream> stream_;
  caf::error failure_;
};

/// What a node brings to a handshake.
struct handshake_settings {
  std::string chain; ///< the chain's name, e.g. "devnet"
  key_pair identity; ///< the node's Ed25519 identity
  uint16_t min_version = protocol_version_min;
  uint16_t max_version = protocol_version_max;

  /// ec::bad_config unless the chain name is 1..255 bytes and
  /// 1 <= min_version <= max_version.
  caf::error validate() const;
};

/// Where a handshake is; see the diagram above.
enum class handshake_phase : uint8_t {
  start,            ///< initiator, Hello not yet taken
  awaiting_welcome, ///< initiator, Hello sent
  awaiting_hello,   ///< responder, nothing received yet
  awaiting_proof,   ///< responder, Welcome sent
  established,      ///< both streams ready
  failed,           ///< refused or rejected; the link must close
};

/// The name of a phase, e.g. "awaiting_proof".
const char* to_string(handshake_phase x);

/// One side of a link handshake; see the header comment for the protocol.
class handshake {
public:
  /// The side that dialed. Expects settings that validate().
  /// @param s this node's chain, identity and versions.
  /// @param expected_responder the identity the dialed node must prove.
  static handshake initiator(handshake_settings s,
                             const public_key& expected_responder);

  /// The side that accepted. Expects settings that validate().
  /// @param s this node's chain, identity and versions.
  static handshake responder(handshake_settings s);

  handshake(handshake&&) noexcept;
  handshake& operator=(handshake&&) noexcept;
  ~handshake();

  /// Initiator in phase start: the Hello frame to send first (the encoded
  /// Handshake message), moving to awaiting_welcome. Empty otherwise.
  std::vector<uint8_t> hello();

  /// What to do after a received frame.
  struct step {
    /// A frame to send now; empty for nothing.
    std::vector<uint8_t> send;
    /// Set if the handshake failed: send `send` (a Reject, if any), then
    /// close the link.
    caf::error error;
    /// True on the one step that establishes the link.
    bool established = false;
  };

  /// Feeds one received handshake frame.
  /// @param frame the bytes of one frame, without the length prefix.
  step receive(byte_view frame);

  handshake_phase phase() const;
  bool established() const;
  /// Why the handshake failed; none unless phase() is failed.
  const caf::error& failure() const;
  /// The negotiated protocol version; 0 before it is known.
  uint16_t version() const;
  /// The peer's identity: the expected responder, or the Hello's key once
  /// received (authenticated only once established).
  const public_key& peer() const;

  /// After established: the sending direction, once (then an invalid one).
  frame_sealer take_sealer();
  /// After established: the receiving direction, once (then an invalid one).
  frame_opener take_opener();

private:
  struct state;
  explicit handshake(std::unique_ptr<state> s);
  std::unique_ptr<state> state_;
};

} // namespace hallmark
