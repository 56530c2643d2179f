#include "client/admin_client.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/error.hpp"
#include "messages/codec_capnp.hpp"
#include "node/config.hpp"

namespace hallmark {

namespace {

caf::error not_running(const std::string& datadir) {
  // Suggest `run` only where a node could run: a directory `init` made.
  node_config where;
  where.datadir = datadir;
  struct stat st;
  if (::stat(where.config_path().c_str(), &st) != 0)
    return make_error(ec::not_running,
                      "no node is running at " + datadir
                        + ": it is not a Hallmark data directory (no "
                          "hallmark.conf; `hallmark init --datadir DIR` "
                          "makes one)");
  return make_error(ec::not_running,
                    "no node is running at " + datadir
                      + " (start it with `hallmark run --datadir " + datadir
                      + "`)");
}

caf::error socket_error(const std::string& what) {
  return make_error(ec::io, what + ": " + std::strerror(errno));
}

/// Writes all of `data`, retrying on EINTR; never raises SIGPIPE.
caf::error send_all(int fd, byte_view data) {
  size_t done = 0;
  while (done < data.size()) {
    auto n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EPIPE || errno == ECONNRESET)
        return make_error(ec::io, "the node closed the admin connection");
      return socket_error("cannot write to the admin socket");
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

caf::error set_timeout(int fd, std::chrono::seconds timeout) {
  timeval tv{};
  tv.tv_sec = timeout.count();
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0
      || ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
    return socket_error("cannot set the admin socket's timeout");
  return {};
}

/// Reads exactly `size` bytes; a timeout or an early end is an error.
caf::error receive_all(int fd, uint8_t* out, size_t size,
                       std::chrono::seconds timeout) {
  size_t done = 0;
  while (done < size) {
    auto n = ::recv(fd, out + done, size - done, 0);
    if (n == 0)
      return make_error(ec::io,
                        "the node closed the admin connection before replying");
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return make_error(ec::io, "no reply from the node within "
                                    + std::to_string(timeout.count()) + " s");
      return socket_error("cannot read from the admin socket");
    }
    done += static_cast<size_t>(n);
  }
  return {};
}

} // namespace

// -- admin_reply --------------------------------------------------------------

admin_reply::admin_reply(encoded bytes) : bytes_(std::move(bytes)) {
  reader_ = std::make_unique<capnp::FlatArrayMessageReader>(
    words_of(bytes_), reader_options({max_admin_frame}));
  root_ = reader_->getRoot<schema::Reply>();
}

// -- admin_client -------------------------------------------------------------

admin_client::admin_client(int fd, std::string datadir)
    : fd_(fd), datadir_(std::move(datadir)) {}

admin_client::admin_client(admin_client&& other) noexcept
    : fd_(other.fd_), datadir_(std::move(other.datadir_)) {
  other.fd_ = -1;
}

admin_client& admin_client::operator=(admin_client&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = other.fd_;
    datadir_ = std::move(other.datadir_);
    other.fd_ = -1;
  }
  return *this;
}

admin_client::~admin_client() {
  if (fd_ >= 0)
    ::close(fd_);
}

caf::expected<admin_client> admin_client::connect(const std::string& datadir) {
  node_config cfg;
  cfg.datadir = datadir;
  auto path = cfg.socket_path();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path))
    return make_error(ec::io, "the socket path " + path + " is longer than "
                                + std::to_string(sizeof(addr.sun_path) - 1)
                                + " bytes; use a shorter --datadir");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return socket_error("cannot create a socket");
  admin_client client{fd, datadir};
  if (auto err = set_timeout(fd, admin_reply_timeout))
    return err;
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    // A missing socket, or one left behind by a node that is gone.
    if (errno == ENOENT || errno == ECONNREFUSED || errno == ENOTDIR)
      return not_running(datadir);
    return socket_error("cannot connect to " + path);
  }
  return client;
}

caf::expected<admin_reply> admin_client::call(capnp::MessageBuilder& request,
                                              schema::Reply::Which expected,
                                              std::chrono::seconds timeout) {
  if (auto err = set_timeout(fd_, timeout))
    return err;
  if (auto err = send_request(request))
    return err;
  auto reply = read_reply(timeout);
  if (!reply)
    return reply.error();
  if (reply->root().which() != expected)
    return make_error(
      ec::bad_request,
      "the node answered with an unexpected reply (kind "
        + std::to_string(static_cast<int>(reply->root().which())) + ")");
  return reply;
}

caf::error admin_client::send_request(capnp::MessageBuilder& request) {
  auto flat = capnp::messageToFlatArray(request);
  auto body = flat.asBytes();
  if (body.size() > max_admin_frame)
    return make_error(ec::too_large,
                      "request of " + std::to_string(body.size())
                        + " bytes exceeds the admin frame limit of "
                        + std::to_string(max_admin_frame));
  uint8_t head[4];
  put_u32(head, static_cast<uint32_t>(body.size()));
  if (auto err = send_all(fd_, byte_view{head, 4}))
    return err;
  return send_all(fd_, byte_view{body.begin(), body.size()});
}

caf::expected<admin_reply>
admin_client::read_reply(std::chrono::seconds timeout) {
  if (auto err = set_timeout(fd_, timeout))
    return err;
  uint8_t head[4];
  if (auto err = receive_all(fd_, head, 4, timeout))
    return err;
  auto size = get_u32(head);
  if (size == 0 || size > max_admin_frame || size % 8 != 0)
    return make_error(ec::malformed, "the node sent a reply frame of "
                                       + std::to_string(size) + " bytes");
  std::vector<uint64_t> words(size / 8);
  if (auto err = receive_all(fd_, reinterpret_cast<uint8_t*>(words.data()),
                             size, timeout))
    return err;
  return guarded([&]() -> caf::expected<admin_reply> {
    admin_reply reply{encoded{std::move(words)}};
    auto root = reply.root();
    if (root.which() == schema::Reply::ERROR) {
      auto error = root.getError();
      // Code 0 would read as "no error"; the node must not send it.
      auto code = error.getCode() == 0 ? ec::bad_request
                                       : static_cast<ec>(error.getCode());
      return make_error(code, std::string{error.getMessage().cStr()});
    }
    return reply;
  });
}

caf::expected<admin_reply> admin_client::status() {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Request>().setStatus();
  return call(msg, schema::Reply::STATUS);
}

caf::expected<admin_reply>
admin_client::submit(const std::vector<record>& records) {
  capnp::MallocMessageBuilder msg;
  auto list = msg.initRoot<schema::Request>().initSubmit().initRecords(
    static_cast<unsigned>(records.size()));
  for (unsigned i = 0; i < records.size(); ++i)
    write(list[i], records[i]);
  return call(msg, schema::Reply::SUBMITTED);
}

caf::expected<admin_reply> admin_client::item(const hash256& item_id) {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Request>().setItem(data_of(item_id));
  return call(msg, schema::Reply::ITEM);
}

caf::expected<admin_reply> admin_client::owner(const public_key& key) {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Request>().setOwner(data_of(key));
  return call(msg, schema::Reply::OWNER);
}

caf::expected<admin_reply> admin_client::block_by_height(uint64_t height) {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Request>().setBlockByHeight(height);
  return call(msg, schema::Reply::BLOCK);
}

caf::expected<admin_reply> admin_client::block_by_hash(const hash256& hash) {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Request>().setBlockByHash(data_of(hash));
  return call(msg, schema::Reply::BLOCK);
}

caf::expected<admin_reply> admin_client::record_info(const hash256& record_id) {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Request>().setRecord(data_of(record_id));
  return call(msg, schema::Reply::RECORD);
}

caf::expected<admin_reply> admin_client::asset(const hash256& asset_id) {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Request>().setAsset(data_of(asset_id));
  return call(msg, schema::Reply::RECORD);
}

caf::expected<admin_reply> admin_client::reorg(uint32_t depth) {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Request>().setReorg(depth);
  return call(msg, schema::Reply::TIP, admin_apply_timeout);
}

caf::expected<admin_reply>
admin_client::import_blocks(const std::vector<std::vector<uint8_t>>& blocks) {
  capnp::MallocMessageBuilder msg;
  auto list = msg.initRoot<schema::Request>().initImportBlocks(
    static_cast<unsigned>(blocks.size()));
  for (unsigned i = 0; i < blocks.size(); ++i)
    list.set(i, data_of(blocks[i]));
  return call(msg, schema::Reply::TIP, admin_apply_timeout);
}

caf::expected<admin_reply> admin_client::export_blocks(uint64_t from,
                                                       uint32_t count) {
  capnp::MallocMessageBuilder msg;
  auto range = msg.initRoot<schema::Request>().initExportBlocks();
  range.setFrom(from);
  range.setCount(count);
  return call(msg, schema::Reply::BLOCKS);
}

caf::error admin_client::watch() {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Request>().setWatch();
  return send_request(msg);
}

caf::expected<admin_reply> admin_client::stop() {
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Request>().setStop();
  return call(msg, schema::Reply::STOPPING);
}

} // namespace hallmark
