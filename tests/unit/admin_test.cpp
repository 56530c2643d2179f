// The admin broker's framing and phases, over a real Unix socket: a bad
// frame gets an error reply and the connection is closed; refused requests
// leave it open, and requests queued behind one another are answered in
// order. The request parser (messages/admin_request) on its own: every
// kind decodes to what it was made of, refusals carry the code that decides
// whether the connection stays, and frames are sized from their prefix.
#include <doctest/doctest.h>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>

#include "actors/admin.hpp"
#include "messages/admin.capnp.h"
#include "messages/admin_request.hpp"
#include "messages/codec_capnp.hpp"
#include "tests/unit/helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;

namespace {

/// A client connection to the admin socket with a receive timeout.
class admin_client {
public:
  explicit admin_client(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
            == 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~admin_client() { ::close(fd_); }

  void send_raw(const std::vector<uint8_t>& bytes) {
    REQUIRE(::write(fd_, bytes.data(), bytes.size())
            == static_cast<ssize_t>(bytes.size()));
  }

  /// Reads exactly `n` bytes; false at EOF or timeout.
  bool read_exact(uint8_t* out, size_t n) {
    while (n > 0) {
      auto got = ::read(fd_, out, n);
      if (got <= 0)
        return false;
      out += got;
      n -= static_cast<size_t>(got);
    }
    return true;
  }

  /// The next reply's error code and message; fails the test if the next
  /// reply is not an error.
  std::pair<uint8_t, std::string> read_error() {
    uint8_t len[4];
    REQUIRE(read_exact(len, 4));
    std::vector<uint8_t> body(get_u32(len));
    REQUIRE(read_exact(body.data(), body.size()));
    auto e = encoded::copy_of(byte_view{body.data(), body.size()});
    REQUIRE(static_cast<bool>(e));
    capnp::FlatArrayMessageReader reader{words_of(*e)};
    auto reply = reader.getRoot<schema::Reply>();
    REQUIRE(reply.which() == schema::Reply::ERROR);
    return {reply.getError().getCode(), reply.getError().getMessage()};
  }

  /// True once the broker has closed the connection.
  bool closed() {
    uint8_t x;
    return ::read(fd_, &x, 1) == 0;
  }

private:
  int fd_ = -1;
};

/// One framed Request, as the CLI sends it.
template <class Fill>
std::vector<uint8_t> frame(Fill fill) {
  capnp::MallocMessageBuilder msg;
  fill(msg.initRoot<schema::Request>());
  auto words = capnp::messageToFlatArray(msg);
  auto bytes = words.asBytes();
  std::vector<uint8_t> out(4);
  put_u32(out.data(), static_cast<uint32_t>(bytes.size()));
  out.insert(out.end(), bytes.begin(), bytes.end());
  return out;
}

struct admin_fixture {
  admin_fixture() : sys(configured(cfg)) {
    auto spawned = spawn_admin(sys, path, admin_deps{});
    REQUIRE_MESSAGE(static_cast<bool>(spawned),
                    (spawned ? "" : message_of(spawned.error())));
    admin = *spawned;
  }
  ~admin_fixture() {
    caf::anon_send_exit(admin, caf::exit_reason::user_shutdown);
  }

  static caf::actor_system_config& configured(caf::actor_system_config& c) {
    c.load<caf::io::middleman>();
    c.set("logger.file-verbosity", caf::atom("quiet"));
    c.set("logger.console-verbosity", caf::atom("quiet"));
    return c;
  }

  temp_dir dir;
  std::string path = dir.sub("admin.sock");
  caf::actor_system_config cfg;
  caf::actor_system sys;
  admin_actor admin;
};

} // namespace

TEST_CASE_FIXTURE(admin_fixture, "admin: a bad frame length ends the "
                                 "connection after an error reply") {
  admin_client c{path};
  c.send_raw({3, 0, 0, 0}); // not a whole number of words
  auto [code, text] = c.read_error();
  CHECK(code == static_cast<uint8_t>(ec::malformed));
  CHECK(text.find("bad frame length 3") != std::string::npos);
  CHECK(c.closed());
}

TEST_CASE_FIXTURE(admin_fixture, "admin: an undecodable request ends the "
                                 "connection after an error reply") {
  admin_client c{path};
  // One word whose segment table claims a segment of 0xffffffff words.
  c.send_raw({8, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff});
  auto [code, text] = c.read_error();
  CHECK(code == static_cast<uint8_t>(ec::malformed));
  CHECK(text.find("undecodable") != std::string::npos);
  CHECK(c.closed());
}

TEST_CASE_FIXTURE(admin_fixture, "admin: refused requests leave the "
                                 "connection open and queue in order") {
  admin_client c{path};
  // Two requests in one write: the second waits while the first is served.
  auto bytes = frame([](schema::Request::Builder r) {
    uint8_t short_key[3] = {1, 2, 3};
    r.setOwner(kj::arrayPtr(short_key, 3));
  });
  auto watch = frame([](schema::Request::Builder r) { r.setWatch(); });
  bytes.insert(bytes.end(), watch.begin(), watch.end());
  c.send_raw(bytes);
  auto [code1, text1] = c.read_error();
  CHECK(code1 == static_cast<uint8_t>(ec::bad_request));
  CHECK(text1 == "a public key must have 32 bytes");
  auto [code2, text2] = c.read_error();
  CHECK(code2 == static_cast<uint8_t>(ec::bad_request));
  CHECK(text2 == "this node has no chain monitor");
}

TEST_CASE("admin requests: every kind decodes to the values it was made of") {
  using namespace request;
  hash256 id;
  id.fill(7);
  auto list = encode(std::vector<record>{});
  std::vector<admin_request> all = {status{},
                                    submit{list},
                                    item{id},
                                    owner{id},
                                    block_by_height{9},
                                    block_by_hash{id},
                                    record_by_id{id},
                                    reorg{3},
                                    import_blocks{{list, list}},
                                    export_blocks{5, 6},
                                    stop{},
                                    peers{},
                                    watch{},
                                    ban{id, 60},
                                    unban{id},
                                    state_proof{id},
                                    asset_by_id{id}};
  // Every kind of request is in the list above.
  CHECK(all.size() == std::variant_size_v<admin_request>);
  for (auto& req : all) {
    CAPTURE(req.index());
    auto body = encode_admin_request(req);
    REQUIRE(body);
    auto back = decode_admin_request(*body);
    REQUIRE(back);
    CHECK(back->index() == req.index());
    auto again = encode_admin_request(*back);
    REQUIRE(again);
    CHECK(*again == *body);
  }
  auto back = decode_admin_request(*encode_admin_request(reorg{3}));
  CHECK(std::get<reorg>(*back).depth == 3);
  back = decode_admin_request(*encode_admin_request(export_blocks{5, 6}));
  CHECK(std::get<export_blocks>(*back).from == 5);
  CHECK(std::get<export_blocks>(*back).count == 6);
  back = decode_admin_request(*encode_admin_request(item{id}));
  CHECK(std::get<item>(*back).id == id);
  back = decode_admin_request(*encode_admin_request(asset_by_id{id}));
  CHECK(std::get<asset_by_id>(*back).id == id);
}

TEST_CASE("admin requests: refusals say whether the connection may stay") {
  auto request_of = [](auto fill) {
    capnp::MallocMessageBuilder msg;
    fill(msg.initRoot<schema::Request>());
    return freeze(msg);
  };
  // An id of the wrong size is answered; the connection stays.
  auto short_id = decode_admin_request(request_of([](auto r) {
    uint8_t three[3] = {1, 2, 3};
    r.setRecord(kj::arrayPtr(three, 3));
  }));
  REQUIRE_FALSE(short_id);
  CHECK(code_of(short_id.error()) == ec::bad_request);
  CHECK(message_of(short_id.error()) == "a record id must have 32 bytes");
  // A block that is not whole words, and bytes that do not decode, end it.
  auto ragged = decode_admin_request(request_of([](auto r) {
    uint8_t five[5] = {1, 2, 3, 4, 5};
    r.initImportBlocks(1).set(0, kj::arrayPtr(five, 5));
  }));
  REQUIRE_FALSE(ragged);
  CHECK(code_of(ragged.error()) == ec::malformed);
  auto garbage = decode_admin_request(encoded{{~uint64_t{0}, ~uint64_t{0}}});
  REQUIRE_FALSE(garbage);
  CHECK(code_of(garbage.error()) == ec::malformed);
  CHECK(code_of(decode_admin_request(encoded{}).error()) == ec::malformed);
}

TEST_CASE("admin requests: a frame's size is known once its length is in") {
  auto body = *encode_admin_request(request::status{});
  auto frame = admin_frame(body);
  REQUIRE(frame.size() == admin_frame_prefix + body.size());
  CHECK(*admin_frame_size(byte_view{frame.data(), 3}) == 0);
  CHECK(*admin_frame_size(byte_view{frame.data(), frame.size() - 1}) == 0);
  CHECK(*admin_frame_size(frame) == frame.size());
  for (uint32_t bad : {0u, 3u, uint32_t(max_admin_frame + 8)}) {
    uint8_t len[4];
    put_u32(len, bad);
    auto size = admin_frame_size(byte_view{len, 4});
    REQUIRE_FALSE(size);
    CHECK(code_of(size.error()) == ec::malformed);
    CHECK(message_of(size.error())
          == "bad frame length " + std::to_string(bad));
  }
}
