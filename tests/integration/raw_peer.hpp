// A hand-driven peer for hostile-input tests: a blocking TCP client that
// speaks the link protocol (or deliberately does not) to a real node.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "messages/codec_capnp.hpp"
#include "messages/handshake.hpp"
#include "messages/wire.capnp.h"

namespace hallmark::test {

class raw_peer {
public:
  /// Connects to 127.0.0.1:`port`; from `source` (another loopback
  /// address, e.g. "127.0.0.2") when given.
  explicit raw_peer(uint16_t port, const char* source = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (source != nullptr) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &from.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0) {
        ::close(fd_);
        fd_ = -1;
        return;
      }
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  /// Adopts an accepted connection.
  struct adopt {
    int fd;
  };
  explicit raw_peer(adopt a) : fd_(a.fd) {}

  ~raw_peer() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  bool connected() const { return fd_ >= 0; }

  void send_raw(const std::vector<uint8_t>& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      auto n = ::send(fd_, bytes.data() + done, bytes.size() - done,
                      MSG_NOSIGNAL);
      if (n <= 0)
        return;
      done += static_cast<size_t>(n);
    }
  }

  void send_frame(byte_view body) {
    std::vector<uint8_t> bytes(4 + body.size());
    put_u32(bytes.data(), static_cast<uint32_t>(body.size()));
    std::copy(body.begin(), body.end(), bytes.begin() + 4);
    send_raw(bytes);
  }

  /// One frame's body, or nothing if the node closed the link or said
  /// nothing within `ms`.
  std::optional<std::vector<uint8_t>> read_frame(int ms = 5000) {
    uint8_t len[4];
    if (!read_exact(len, 4, ms))
      return std::nullopt;
    std::vector<uint8_t> body(get_u32(len));
    if (body.size() > max_link_frame
        || !read_exact(body.data(), body.size(), ms))
      return std::nullopt;
    return body;
  }

  /// True once the node has closed the connection (reads hit EOF), waiting
  /// at most `ms`; bytes sent before the close are skipped.
  bool closed_by_node(int ms = 5000) {
    auto deadline = std::chrono::steady_clock::now()
                    + std::chrono::milliseconds{ms};
    uint8_t buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0)
        continue;
      auto n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0)
        return true;
    }
    return false;
  }

  /// Runs the handshake as the dialing side; the error if it failed.
  caf::error handshake_with(const public_key& node_key, const key_pair& me,
                            const std::string& chain = "devnet") {
    auto hs = handshake::initiator(handshake_settings{chain, me}, node_key);
    send_frame(hs.hello());
    return complete(hs);
  }

  /// Runs the handshake as the accepting side, proving `me`.
  caf::error handshake_as(const key_pair& me,
                          const std::string& chain = "devnet") {
    auto hs = handshake::responder(handshake_settings{chain, me});
    return complete(hs);
  }

  /// Sends an encrypted Envelope built by `fill`.
  template <class F>
  void send_envelope(uint64_t id, F&& fill) {
    capnp::MallocMessageBuilder msg;
    auto env = msg.initRoot<schema::Envelope>();
    env.setId(id);
    fill(env);
    auto words = capnp::messageToFlatArray(msg);
    auto bytes = words.asBytes();
    send_frame(tx_.seal(byte_view{bytes.begin(), bytes.size()}));
  }

  /// Sends an encoded Envelope, encrypted.
  void send_plain(const encoded& e) { send_frame(tx_.seal(e.bytes())); }

  /// The next decrypted Envelope's bytes, or nothing.
  std::optional<encoded> read_envelope(int ms = 5000) {
    auto frame = read_frame(ms);
    if (!frame)
      return std::nullopt;
    auto plain = rx_.open(*frame);
    if (!plain)
      return std::nullopt;
    auto e = encoded::copy_of(*plain);
    if (!e)
      return std::nullopt;
    return *e;
  }

  /// Reads Envelopes until one answers request `id`.
  std::optional<encoded> response_to(uint64_t id, int ms = 5000) {
    for (int i = 0; i < 50; ++i) {
      auto e = read_envelope(ms);
      if (!e)
        return std::nullopt;
      capnp::FlatArrayMessageReader r{words_of(*e)};
      auto env = r.getRoot<schema::Envelope>();
      // The node's own requests to us number their ids independently.
      switch (env.which()) {
      case schema::Envelope::INFO:
      case schema::Envelope::BLOCKS:
      case schema::Envelope::HASHES:
      case schema::Envelope::PEERS:
      case schema::Envelope::ERROR:
      case schema::Envelope::PONG:
        if (env.getId() == id)
          return e;
        break;
      default:
        break;
      }
    }
    return std::nullopt;
  }

private:
  /// Feeds the node's handshake frames to `hs` until it is established.
  caf::error complete(handshake& hs) {
    while (!hs.established()) {
      auto frame = read_frame();
      if (!frame)
        return make_error(ec::io, "the other side closed the link");
      auto step = hs.receive(*frame);
      if (!step.send.empty())
        send_frame(step.send);
      if (step.error)
        return step.error;
    }
    tx_ = hs.take_sealer();
    rx_ = hs.take_opener();
    return {};
  }

  bool read_exact(uint8_t* out, size_t n, int ms) {
    size_t done = 0;
    while (done < n) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, ms) <= 0)
        return false;
      auto got = ::recv(fd_, out + done, n - done, 0);
      if (got <= 0)
        return false;
      done += static_cast<size_t>(got);
    }
    return true;
  }

  int fd_ = -1;
  frame_sealer tx_;
  frame_opener rx_;
};

} // namespace hallmark::test
