#include "messages/handshake.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <tuple>
#include <utility>
#include <variant>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <fmt/format.h>
#include <sodium.h>

#include "core/error.hpp"
#include "messages/codec.hpp"
#include "messages/handshake_frames.hpp"
#include "messages/wire.capnp.h"

namespace hallmark {

namespace {

using secretstream_state = crypto_secretstream_xchacha20poly1305_state;
using kx_secret = std::array<uint8_t, crypto_kx_SECRETKEYBYTES>;
using session_key = std::array<uint8_t, crypto_kx_SESSIONKEYBYTES>;

static_assert(handshake_magic == schema::MAGIC);
static_assert(link_frame_overhead
              == crypto_secretstream_xchacha20poly1305_ABYTES);
static_assert(crypto_kx_SESSIONKEYBYTES
              == crypto_secretstream_xchacha20poly1305_KEYBYTES);
static_assert(kx_key{}.size() == crypto_kx_PUBLICKEYBYTES);
static_assert(stream_header{}.size()
              == crypto_secretstream_xchacha20poly1305_HEADERBYTES);
static_assert(max_handshake_frame % 8 == 0);

template <class T>
void wipe(T& x) {
  sodium_memzero(&x, sizeof(x));
}

/// Wipes its arrays when the scope ends, however it ends.
template <class... Ts>
class wipe_on_exit {
public:
  explicit wipe_on_exit(Ts&... xs) : xs_(xs...) {}
  ~wipe_on_exit() {
    std::apply([](auto&... xs) { (wipe(xs), ...); }, xs_);
  }
  wipe_on_exit(const wipe_on_exit&) = delete;
  wipe_on_exit& operator=(const wipe_on_exit&) = delete;

private:
  std::tuple<Ts&...> xs_;
};

byte_view bytes_of(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

std::string short_hex(const public_key& key) {
  return to_hex(key).substr(0, 16);
}

std::string range_text(uint16_t lo, uint16_t hi) {
  return fmt::format("{}..{}", lo, hi);
}

// -- transcripts -------------------------------------------------------------

hash256 transcript1(const hello_msg& h, uint16_t version,
                    const public_key& responder, const kx_key& ephemeral,
                    const stream_header& header) {
  return hasher{}
    .add(bytes_of("hm-hs-t1"))
    .add_u64(h.magic)
    .add_u16(h.min_version)
    .add_u16(h.max_version)
    .add_sized(bytes_of(h.chain))
    .add(h.key)
    .add(h.ephemeral)
    .add(h.responder_key)
    .add_u16(version)
    .add(responder)
    .add(ephemeral)
    .add(header)
    .finish();
}

hash256 transcript2(const hash256& t1, const stream_header& header) {
  return hasher{}.add(bytes_of("hm-hs-t2")).add(t1).add(header).finish();
}

} // namespace

// -- frame_sealer / frame_opener ---------------------------------------------

struct frame_sealer::stream {
  secretstream_state state;
  ~stream() { wipe(state); }
};

frame_sealer::frame_sealer() = default;
frame_sealer::frame_sealer(std::unique_ptr<stream> s) : stream_(std::move(s)) {}
frame_sealer::frame_sealer(frame_sealer&& other) noexcept = default;
frame_sealer& frame_sealer::operator=(frame_sealer&& other) noexcept = default;
frame_sealer::~frame_sealer() = default;

std::vector<uint8_t> frame_sealer::seal(byte_view plaintext) {
  if (!stream_ || plaintext.size() > max_link_plaintext)
    return {};
  std::vector<uint8_t> out(plaintext.size() + link_frame_overhead);
  crypto_secretstream_xchacha20poly1305_push(
    &stream_->state, out.data(), nullptr, plaintext.data(), plaintext.size(),
    nullptr, 0, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
  return out;
}

struct frame_opener::stream {
  secretstream_state state;
  ~stream() { wipe(state); }
};

frame_opener::frame_opener() = default;
frame_opener::frame_opener(std::unique_ptr<stream> s) : stream_(std::move(s)) {}
frame_opener::frame_opener(frame_opener&& other) noexcept = default;
frame_opener& frame_opener::operator=(frame_opener&& other) noexcept = default;
frame_opener::~frame_opener() = default;

caf::expected<std::vector<uint8_t>> frame_opener::open(byte_view ciphertext) {
  if (!stream_ && !failure_)
    return make_error(ec::malformed, "no link stream to open frames");
  if (!stream_)
    return make_error(code_of(failure_),
                      "link frame refused: " + message_of(failure_));
  auto fail = [&](ec code, std::string reason) {
    failure_ = make_error(code, reason);
    stream_.reset(); // wipes the stream state
    return make_error(code, std::move(reason));
  };
  if (ciphertext.size() < link_frame_overhead)
    return fail(ec::malformed,
                fmt::format("link frame of {} bytes, shorter than the {}-byte "
                            "authenticator",
                            ciphertext.size(), link_frame_overhead));
  if (ciphertext.size() > max_link_frame)
    return fail(ec::too_large, fmt::format("link frame of {} bytes, at most {}",
                                           ciphertext.size(), max_link_frame));
  std::vector<uint8_t> out(ciphertext.size() - link_frame_overhead);
  unsigned char tag = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(
        &stream_->state, out.data(), nullptr, &tag, ciphertext.data(),
        ciphertext.size(), nullptr, 0)
      != 0)
    return fail(ec::bad_signature,
                "link frame fails authentication (tampered, truncated, "
                "replayed, reordered or after a dropped frame)");
  if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
    return fail(ec::malformed,
                fmt::format("link frame with stream tag {}, expected a plain "
                            "message",
                            static_cast<unsigned>(tag)));
  return out;
}

// -- handshake_settings ------------------------------------------------------

caf::error handshake_settings::validate() const {
  if (chain.empty() || chain.size() > 255)
    return make_error(
      ec::bad_config,
      fmt::format("a chain name has 1..255 bytes, not {}", chain.size()));
  if (min_version < 1 || min_version > max_version)
    return make_error(ec::bad_config,
                      "protocol versions must satisfy 1 <= min <= max, not "
                        + range_text(min_version, max_version));
  return caf::none;
}

const char* to_string(handshake_phase x) {
  switch (x) {
  case handshake_phase::start:
    return "start";
  case handshake_phase::awaiting_welcome:
    return "awaiting_welcome";
  case handshake_phase::awaiting_hello:
    return "awaiting_hello";
  case handshake_phase::awaiting_proof:
    return "awaiting_proof";
  case handshake_phase::established:
    return "established";
  case handshake_phase::failed:
    return "failed";
  default:
    return "unknown";
  }
}

// -- handshake ---------------------------------------------------------------

struct handshake::state {
  explicit state(handshake_settings s) : settings(std::move(s)) {}
  ~state() { forget_secrets(); }

  void forget_secrets() {
    wipe(ephemeral_secret);
    wipe(rx);
  }

  handshake_settings settings;
  handshake_phase phase = handshake_phase::start;
  /// The Hello: the one sent (initiator) or received (responder).
  hello_msg hello;
  /// This side's crypto_kx ephemeral key pair.
  kx_key ephemeral{};
  kx_secret ephemeral_secret{};
  /// Responder: the receive key, kept from Hello until the Proof.
  session_key rx{};
  /// Responder: T1, kept from Hello until the Proof.
  hash256 t1{};
  uint16_t version = 0;
  public_key peer{};
  frame_sealer sealer;
  frame_opener opener;
  caf::error failure;

  /// Fails with `code`; `reason` is for us, `remote` (if not empty) for the
  /// peer in a Reject.
  step fail(ec code, std::string reason, std::string_view remote = {}) {
    forget_secrets();
    sealer = frame_sealer{};
    opener = frame_opener{};
    phase = handshake_phase::failed;
    failure = make_error(code, std::move(reason));
    step out;
    if (!remote.empty())
      out.send = encode_reject(code, remote);
    out.error = failure;
    return out;
  }

  /// Fails with `code` and tells the peer the same reason.
  step refuse(ec code, const std::string& reason) {
    return fail(code, reason, reason);
  }

  step on_reject(const reject_msg& m) {
    auto code = m.code == 0 ? ec::malformed : static_cast<ec>(m.code);
    return fail(code, fmt::format("peer refused: {} ({} {})",
                                  printable(m.reason, max_reject_reason),
                                  static_cast<unsigned>(m.code),
                                  to_string(static_cast<ec>(m.code))));
  }

  step on_hello(hello_msg m);
  step on_welcome(const welcome_msg& m);
  step on_proof(const proof_msg& m);
};

handshake::step handshake::state::on_hello(hello_msg m) {
  auto& own = settings.identity.public_key_bytes();
  if (m.magic != handshake_magic)
    return refuse(ec::malformed,
                  fmt::format("not a Hallmark peer: magic {:#018x}", m.magic));
  if (m.chain != settings.chain)
    return fail(ec::wrong_chain,
                fmt::format("peer is on chain '{}', we are on '{}'",
                            printable(m.chain, 64), settings.chain),
                fmt::format("you are on chain '{}', we are on '{}'",
                            printable(m.chain, 64), settings.chain));
  if (m.responder_key != own)
    return fail(ec::wrong_key,
                fmt::format("peer expects responder key {}, ours is {}",
                            to_hex(m.responder_key), to_hex(own)),
                fmt::format("wrong responder key: this node is not {}...",
                            short_hex(m.responder_key)));
  if (m.key == own)
    return refuse(ec::wrong_key,
                  "peer presents our own identity key (a link to ourselves?)");
  auto lo = std::max(m.min_version, settings.min_version);
  auto hi = std::min(m.max_version, settings.max_version);
  if (lo > hi)
    return fail(
      ec::wrong_version,
      fmt::format("peer speaks protocol versions {}, we speak {}",
                  range_text(m.min_version, m.max_version),
                  range_text(settings.min_version, settings.max_version)),
      fmt::format("you speak protocol versions {}, we speak {}",
                  range_text(m.min_version, m.max_version),
                  range_text(settings.min_version, settings.max_version)));
  crypto_kx_keypair(ephemeral.data(), ephemeral_secret.data());
  session_key tx{};
  wipe_on_exit tx_guard{tx};
  auto derived = crypto_kx_server_session_keys(
    rx.data(), tx.data(), ephemeral.data(), ephemeral_secret.data(),
    m.ephemeral.data());
  wipe(ephemeral_secret);
  if (derived != 0)
    return refuse(ec::malformed, "unusable Hello ephemeral key");
  auto push = std::make_unique<frame_sealer::stream>();
  welcome_msg w;
  crypto_secretstream_xchacha20poly1305_init_push(&push->state, w.header.data(),
                                                  tx.data());
  w.version = hi;
  w.key = own;
  w.ephemeral = ephemeral;
  t1 = transcript1(m, w.version, w.key, w.ephemeral, w.header);
  w.sig = settings.identity.sign(t1);
  sealer = frame_sealer{std::move(push)};
  version = w.version;
  peer = m.key;
  hello = std::move(m);
  phase = handshake_phase::awaiting_proof;
  return step{encode_welcome(w), caf::none, false};
}

handshake::step handshake::state::on_welcome(const welcome_msg& m) {
  if (m.version < settings.min_version || m.version > settings.max_version)
    return refuse(
      ec::wrong_version,
      fmt::format("the Welcome chose protocol version {}, the "
                  "initiator speaks {}",
                  m.version,
                  range_text(settings.min_version, settings.max_version)));
  if (m.key != peer)
    return fail(ec::wrong_key,
                fmt::format("peer answered as {}, we dialed {}", to_hex(m.key),
                            to_hex(peer)),
                fmt::format("wrong responder: the initiator dialed {}...",
                            short_hex(peer)));
  auto t = transcript1(hello, m.version, m.key, m.ephemeral, m.header);
  if (!verify(m.sig, t, peer))
    return refuse(ec::bad_signature,
                  "the Welcome's signature does not verify under the "
                  "responder's key");
  session_key rx_key{};
  session_key tx{};
  wipe_on_exit keys_guard{rx_key, tx};
  auto derived = crypto_kx_client_session_keys(
    rx_key.data(), tx.data(), ephemeral.data(), ephemeral_secret.data(),
    m.ephemeral.data());
  wipe(ephemeral_secret);
  if (derived != 0)
    return refuse(ec::malformed, "unusable Welcome ephemeral key");
  auto pull = std::make_unique<frame_opener::stream>();
  if (crypto_secretstream_xchacha20poly1305_init_pull(
        &pull->state, m.header.data(), rx_key.data())
      != 0)
    return refuse(ec::malformed, "unusable Welcome stream header");
  auto push = std::make_unique<frame_sealer::stream>();
  proof_msg p;
  crypto_secretstream_xchacha20poly1305_init_push(&push->state, p.header.data(),
                                                  tx.data());
  p.sig = settings.identity.sign(transcript2(t, p.header));
  sealer = frame_sealer{std::move(push)};
  opener = frame_opener{std::move(pull)};
  version = m.version;
  phase = handshake_phase::established;
  return step{encode_proof(p), caf::none, true};
}

handshake::step handshake::state::on_proof(const proof_msg& m) {
  if (!verify(m.sig, transcript2(t1, m.header), peer))
    return refuse(ec::bad_signature,
                  "the Proof's signature does not verify under the "
                  "initiator's key");
  wipe_on_exit rx_guard{rx};
  auto pull = std::make_unique<frame_opener::stream>();
  if (crypto_secretstream_xchacha20poly1305_init_pull(
        &pull->state, m.header.data(), rx.data())
      != 0)
    return refuse(ec::malformed, "unusable Proof stream header");
  opener = frame_opener{std::move(pull)};
  phase = handshake_phase::established;
  return step{{}, caf::none, true};
}

handshake::handshake(std::unique_ptr<state> s) : state_(std::move(s)) {}
handshake::handshake(handshake&&) noexcept = default;
handshake& handshake::operator=(handshake&&) noexcept = default;
handshake::~handshake() = default;

handshake handshake::initiator(handshake_settings s,
                               const public_key& expected_responder) {
  crypto_init();
  auto st = std::make_unique<state>(std::move(s));
  st->phase = handshake_phase::start;
  st->peer = expected_responder;
  return handshake{std::move(st)};
}

handshake handshake::responder(handshake_settings s) {
  crypto_init();
  auto st = std::make_unique<state>(std::move(s));
  st->phase = handshake_phase::awaiting_hello;
  return handshake{std::move(st)};
}

std::vector<uint8_t> handshake::hello() {
  auto& st = *state_;
  if (st.phase != handshake_phase::start)
    return {};
  crypto_kx_keypair(st.ephemeral.data(), st.ephemeral_secret.data());
  st.hello.magic = handshake_magic;
  st.hello.min_version = st.settings.min_version;
  st.hello.max_version = st.settings.max_version;
  st.hello.chain = st.settings.chain;
  st.hello.key = st.settings.identity.public_key_bytes();
  st.hello.ephemeral = st.ephemeral;
  st.hello.responder_key = st.peer;
  st.phase = handshake_phase::awaiting_welcome;
  return encode_hello(st.hello);
}

handshake::step handshake::receive(byte_view frame) {
  auto& st = *state_;
  switch (st.phase) {
  case handshake_phase::start:
    return st.fail(ec::malformed,
                   "a handshake frame arrived before the Hello was sent");
  case handshake_phase::established:
    // The streams stay as they are: the broker closes the link.
    return step{{},
                make_error(ec::malformed,
                           "a handshake frame arrived after the handshake"),
                false};
  case handshake_phase::failed:
    return step{
      {},
      make_error(ec::malformed, "a handshake frame arrived after the handshake "
                                "failed ("
                                  + message_of(st.failure) + ")"),
      false};
  default:
    break;
  }
  auto msg = decode_frame(frame);
  if (!msg) {
    auto reason = "bad handshake frame: " + message_of(msg.error());
    return st.refuse(code_of(msg.error()), reason);
  }
  if (auto* reject = std::get_if<reject_msg>(&*msg))
    return st.on_reject(*reject);
  auto expected = "";
  switch (st.phase) {
  case handshake_phase::awaiting_hello:
    if (auto* m = std::get_if<hello_msg>(&*msg))
      return st.on_hello(std::move(*m));
    expected = "Hello";
    break;
  case handshake_phase::awaiting_welcome:
    if (auto* m = std::get_if<welcome_msg>(&*msg))
      return st.on_welcome(*m);
    expected = "Welcome";
    break;
  case handshake_phase::awaiting_proof:
    if (auto* m = std::get_if<proof_msg>(&*msg))
      return st.on_proof(*m);
    expected = "Proof";
    break;
  default:
    break;
  }
  return st.refuse(ec::malformed, fmt::format("expected a {} frame, got a {}",
                                              expected, kind_name(*msg)));
}

handshake_phase handshake::phase() const {
  return state_->phase;
}

bool handshake::established() const {
  return state_->phase == handshake_phase::established;
}

const caf::error& handshake::failure() const {
  return state_->failure;
}

uint16_t handshake::version() const {
  return state_->version;
}

const public_key& handshake::peer() const {
  return state_->peer;
}

frame_sealer handshake::take_sealer() {
  if (!established())
    return {};
  return std::move(state_->sealer);
}

frame_opener handshake::take_opener() {
  if (!established())
    return {};
  return std::move(state_->opener);
}

} // namespace hallmark
