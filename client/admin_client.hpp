// The client side of the admin socket (messages/admin.capnp): a blocking Unix
// stream connection to DATADIR/admin.sock that sends one Request frame and
// reads one Reply frame per call. A frame is a 4-byte little-endian length,
// then that many bytes of a flat-array Cap'n Proto message, at most 16 MiB.
//
// Every failure is an `ec`: not_running when nothing listens on the socket,
// io for socket trouble and timeouts, malformed for an unreadable reply, and
// the node's own code when it answers with Reply.error.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <caf/expected.hpp>

#include "core/crypto.hpp"
#include "core/records.hpp"
#include "messages/admin.capnp.h"
#include "messages/codec.hpp"

namespace hallmark {

/// Largest frame either side sends over the admin socket.

/// How long the client waits for one reply before giving up.
constexpr std::chrono::seconds admin_reply_timeout{120};

/// The wait for requests that apply blocks (reorg, importBlocks): a little
/// longer than the node's own 10-minute limit, so its error arrives first.
constexpr std::chrono::seconds admin_apply_timeout{11 * 60};

/// One Reply message, owning its word-aligned bytes and its reader.
class admin_reply {
public:
  /// Builds a reader with explicit limits over `bytes`.
  explicit admin_reply(encoded bytes);

  schema::Reply::Reader root() const { return root_; }

private:
  encoded bytes_;
  std::unique_ptr<capnp::FlatArrayMessageReader> reader_;
  schema::Reply::Reader root_;
};

/// A connection to a running node's admin socket.
class admin_client {
public:
  /// Connects to DATADIR/admin.sock; fails with ec::not_running if no node
  /// listens there.
  static caf::expected<admin_client> connect(const std::string& datadir);

  admin_client(admin_client&& other) noexcept;
  admin_client& operator=(admin_client&& other) noexcept;
  admin_client(const admin_client&) = delete;
  admin_client& operator=(const admin_client&) = delete;
  ~admin_client();

  /// Sends `request` (root schema::Request) and reads its reply. A
  /// Reply.error becomes an error with the node's code and message; a reply
  /// of another kind than `expected` becomes ec::bad_request; no reply
  /// within `timeout` becomes ec::io.
  caf::expected<admin_reply>
  call(capnp::MessageBuilder& request, schema::Reply::Which expected,
       std::chrono::seconds timeout = admin_reply_timeout);

  // -- one call per Request kind ----------------------------------------------

  /// Reply.status.
  caf::expected<admin_reply> status();
  /// Reply.submitted: the record ids, in order.
  caf::expected<admin_reply> submit(const std::vector<record>& records);
  /// Reply.item: owner and provenance, newest first.
  caf::expected<admin_reply> item(const hash256& item_id);
  /// Reply.owner: the items a key owns.
  caf::expected<admin_reply> owner(const public_key& key);
  /// Reply.block.
  caf::expected<admin_reply> block_by_height(uint64_t height);
  /// Reply.block.
  caf::expected<admin_reply> block_by_hash(const hash256& hash);
  /// Reply.record.
  caf::expected<admin_reply> record_info(const hash256& record_id);
  /// Reply.record of the asset's registration.
  caf::expected<admin_reply> asset(const hash256& asset_id);
  /// Reply.tip, after unwinding and re-applying `depth` blocks.
  caf::expected<admin_reply> reorg(uint32_t depth);
  /// Reply.tip, after applying encoded Blocks.
  caf::expected<admin_reply>
  import_blocks(const std::vector<std::vector<uint8_t>>& blocks);
  /// Reply.blocks: encoded Blocks from height `from`, at most `count`.
  caf::expected<admin_reply> export_blocks(uint64_t from, uint32_t count);
  /// Reply.stopping.
  caf::expected<admin_reply> stop();

  // -- a stream of replies (watch) --------------------------------------------

  /// Sends Request.watch; the node answers with one Reply.tip per new tip,
  /// then Reply.end. Read them with read_reply() when fd() is readable.
  caf::error watch();

  /// Sends one Request frame.
  caf::error send_request(capnp::MessageBuilder& request);

  /// Reads one Reply frame, waiting at most `timeout` for it; a Reply.error
  /// becomes an error with the node's code, the connection closing ec::io.
  caf::expected<admin_reply>
  read_reply(std::chrono::seconds timeout = admin_reply_timeout);

  /// The socket, to wait on with poll().
  int fd() const { return fd_; }

private:
  admin_client(int fd, std::string datadir);

  int fd_ = -1;
  std::string datadir_;
};

/// One request on a connection of its own: connects to the node at
/// `datadir`, calls `call(client)` (one of admin_client's requests) and
/// returns its reply; the connection closes on return.
template <class Call>
caf::expected<admin_reply> ask_node(const std::string& datadir, Call call) {
  auto client = admin_client::connect(datadir);
  if (!client)
    return client.error();
  return call(*client);
}

} // namespace hallmark
