#include "actors/admin.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <set>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/io/broker.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/system_messages.hpp>

#include "core/log.hpp"
#include "messages/admin.capnp.h"
#include "messages/codec_capnp.hpp"

namespace hallmark {

namespace {

using caf::io::broker;
using caf::io::connection_handle;

struct connection {
  std::vector<uint8_t> buf;
  bool busy = false;
  bool closing = false;
};

struct admin_state {
  admin_deps deps;
  std::map<connection_handle, connection> conns;
  /// Connections that asked to `watch`: each tip goes to all of them.
  std::set<connection_handle> watchers;
  bool subscribed = false; ///< to the chain monitor, at the first watch
};

using reply_builder = std::function<void(schema::Reply::Builder)>;

kj::ArrayPtr<const kj::byte> data_of(byte_view x) {
  return {x.data(), x.size()};
}

void send_frame(broker* self, connection_handle hdl,
                capnp::MessageBuilder& msg) {
  auto words = capnp::messageToFlatArray(msg);
  auto bytes = words.asBytes();
  uint8_t len[4];
  put_u32(len, static_cast<uint32_t>(bytes.size()));
  self->write(hdl, 4, len);
  self->write(hdl, bytes.size(), bytes.begin());
  self->flush(hdl);
}

void process(broker* self, std::shared_ptr<admin_state> st,
             connection_handle hdl);

/// Sends one reply and moves on to the connection's next request.
void respond(broker* self, std::shared_ptr<admin_state> st,
             connection_handle hdl, const reply_builder& fill) {
  auto c = st->conns.find(hdl);
  if (c == st->conns.end())
    return; // the client left
  capnp::MallocMessageBuilder msg;
  fill(msg.initRoot<schema::Reply>());
  send_frame(self, hdl, msg);
  c->second.busy = false;
  if (c->second.closing) {
    self->close(hdl);
    st->conns.erase(c);
    return;
  }
  process(self, st, hdl);
}

void respond_error(broker* self, std::shared_ptr<admin_state> st,
                   connection_handle hdl, const caf::error& err) {
  auto code = code_of(err);
  auto text = message_of(err);
  if (code == ec::none)
    code = ec::bad_request;
  respond(self, st, hdl, [&](schema::Reply::Builder r) {
    auto e = r.initError();
    e.setCode(static_cast<uint8_t>(code));
    e.setMessage(text);
  });
}

void set_tip(schema::Reply::Builder r, const apply_report& rep) {
  auto t = r.initTip();
  t.setHeight(rep.height);
  t.setHash(data_of(rep.tip));
}

// -- requests ----------------------------------------------------------------

void finish_status(broker* self, std::shared_ptr<admin_state> st,
                   connection_handle hdl, const chain_tip& tip,
                   const reservoir_status& pool, const connector_status& net);

void do_status(broker* self, std::shared_ptr<admin_state> st,
               connection_handle hdl) {
  auto& d = st->deps;
  auto fail = [=](caf::error& err) { respond_error(self, st, hdl, err); };
  self->request(d.processor, std::chrono::seconds{30}, atom::tip::value)
    .then(
      [=](chain_tip& tip) {
        self
          ->request(st->deps.pool, std::chrono::seconds{30},
                    atom::status::value)
          .then(
            [=](reservoir_status& pool) {
              if (!st->deps.connector) {
                finish_status(self, st, hdl, tip, pool, connector_status{});
                return;
              }
              self
                ->request(st->deps.connector, std::chrono::seconds{30},
                          atom::status::value)
                .then(
                  [=](connector_status& net) {
                    finish_status(self, st, hdl, tip, pool, net);
                  },
                  fail);
            },
            fail);
      },
      fail);
}

void finish_status(broker* self, std::shared_ptr<admin_state> st,
                   connection_handle hdl, const chain_tip& tip,
                   const reservoir_status& pool, const connector_status& net) {
  respond(self, st, hdl, [&](schema::Reply::Builder r) {
    auto s = r.initStatus();
    s.setChain(st->deps.chain_name);
    s.setHeight(tip.height);
    s.setTip(data_of(tip.hash));
    s.setTipTimestamp(tip.hdr.timestamp);
    s.setPublicKey(data_of(st->deps.identity));
    s.setCumulativeWork(to_decimal(tip.work));
    s.setNextDifficulty(tip.next_difficulty);
    s.setIssueDifficulty(st->deps.chain->params().issue_difficulty);
    s.setPendingRecords(pool.pending);
    s.setProducing(static_cast<bool>(st->deps.producer));
    s.setVersion(HALLMARK_VERSION);
    s.setAnchorWindow(
      static_cast<uint32_t>(st->deps.chain->params().anchor_window));
    s.setConnectorState(net.state);
    s.setPeers(static_cast<uint32_t>(net.links));
    s.setSyncTarget(net.target);
  });
}

void do_submit(broker* self, std::shared_ptr<admin_state> st,
               connection_handle hdl, schema::RecordList::Reader list) {
  capnp::MallocMessageBuilder copy;
  copy.setRoot(list);
  auto raw = freeze(copy);
  // Submitted here, so no origin: the reservoir publishes what it admits to
  // every link.
  self
    ->request(st->deps.pool, std::chrono::seconds{60}, atom::submit_v,
              std::move(raw), caf::actor_addr{})
    .then(
      [=](std::vector<hash256>& ids) {
        respond(self, st, hdl, [&](schema::Reply::Builder r) {
          auto out = r.initSubmitted(static_cast<unsigned>(ids.size()));
          for (unsigned i = 0; i < ids.size(); ++i)
            out.set(i, data_of(ids[i]));
        });
      },
      [=](caf::error& err) { respond_error(self, st, hdl, err); });
}

void do_peers(broker* self, std::shared_ptr<admin_state> st,
              connection_handle hdl) {
  if (!st->deps.connector) {
    respond(self, st, hdl, [](schema::Reply::Builder r) { r.initPeers(0); });
    return;
  }
  self
    ->request(st->deps.connector, std::chrono::seconds{30}, atom::peers::value)
    .then(
      [=](std::vector<peer_status>& peers) {
        respond(self, st, hdl, [&](schema::Reply::Builder r) {
          auto list = r.initPeers(static_cast<unsigned>(peers.size()));
          for (unsigned i = 0; i < peers.size(); ++i) {
            auto& p = peers[i];
            auto out = list[i];
            out.setKey(data_of(p.key));
            auto addrs = out.initAddresses(
              static_cast<unsigned>(p.addresses.size()));
            for (unsigned j = 0; j < p.addresses.size(); ++j)
              addrs.set(j, p.addresses[j]);
            out.setIsStatic(p.is_static);
            out.setInbound(p.inbound);
            out.setLink(p.link);
            out.setHeight(p.height);
            out.setTip(data_of(p.tip));
            out.setLastSeen(p.last_seen);
            out.setScore(p.score);
          }
        });
      },
      [=](caf::error& err) { respond_error(self, st, hdl, err); });
}

struct prov_entry {
  hash256 id;
  std::string kind;
  public_key owner;
  int64_t height;
};

/// Replies with an item: its chain history (newest first) topped by its
/// pending transfers.
void finish_item(broker* self, std::shared_ptr<admin_state> st,
                 connection_handle hdl, hash256 item, hash256 asset,
                 std::vector<prov_entry> history) {
  auto latest = history.front().id;
  self
    ->request(st->deps.pool, std::chrono::seconds{30}, atom::after::value,
              latest)
    .then(
      [=](std::vector<pending_record>& pending) mutable {
        std::vector<prov_entry> all;
        for (auto i = pending.rbegin(); i != pending.rend(); ++i) {
          auto r = decode_record(i->record);
          if (!r || !std::holds_alternative<transfer>(*r))
            continue;
          all.push_back(
            {i->id, "transfer", std::get<transfer>(*r).new_owner, -1});
        }
        all.insert(all.end(), history.begin(), history.end());
        respond(self, st, hdl, [&](schema::Reply::Builder r) {
          auto out = r.initItem();
          out.setItemId(data_of(item));
          out.setAssetId(data_of(asset));
          out.setOwner(data_of(all.front().owner));
          auto list = out.initProvenance(static_cast<unsigned>(all.size()));
          for (unsigned i = 0; i < all.size(); ++i) {
            list[i].setRecordId(data_of(all[i].id));
            list[i].setKind(all[i].kind);
            list[i].setOwner(data_of(all[i].owner));
            list[i].setHeight(all[i].height);
          }
        });
      },
      [=](caf::error& err) { respond_error(self, st, hdl, err); });
}

void do_item(broker* self, std::shared_ptr<admin_state> st,
             connection_handle hdl, hash256 item) {
  std::vector<prov_entry> history;
  hash256 asset{};
  {
    chain_reader view{*st->deps.chain};
    if (auto s = view.find_item(item)) {
      asset = s->asset;
      for (auto& [id, loc] : view.provenance(item))
        history.push_back({id, to_string(loc.kind), loc.owner,
                           static_cast<int64_t>(loc.height)});
    }
    if (auto err = view.failure())
      return respond_error(self, st, hdl, err);
  }
  if (!history.empty()) {
    finish_item(self, st, hdl, item, asset, std::move(history));
    return;
  }
  // Not on chain: perhaps an issue still pending.
  self
    ->request(st->deps.pool, std::chrono::seconds{30}, atom::lookup::value,
              item)
    .then(
      [=](std::vector<pending_record>& found) {
        if (!found.empty()) {
          auto r = decode_record(found.front().record);
          if (r && std::holds_alternative<issue_batch>(*r)) {
            auto& b = std::get<issue_batch>(*r);
            if (found.front().sub < b.issues.size()) {
              auto& i = b.issues[found.front().sub];
              finish_item(self, st, hdl, item, i.asset_id,
                          {{item, "issue", i.owner, -1}});
              return;
            }
          }
        }
        respond_error(self, st, hdl,
                      make_error(ec::not_found, "no item " + to_hex(item)
                                                  + " on chain or pending"));
      },
      [=](caf::error& err) { respond_error(self, st, hdl, err); });
}

void do_record(broker* self, std::shared_ptr<admin_state> st,
               connection_handle hdl, hash256 id) {
  std::optional<record_location> loc;
  std::optional<encoded> rec;
  {
    chain_reader view{*st->deps.chain};
    loc = view.find_record(id);
    if (auto err = view.failure())
      return respond_error(self, st, hdl, err);
    if (loc) {
      auto body = view.body_at(loc->height);
      if (auto err = view.failure())
        return respond_error(self, st, hdl, err);
      auto b = body ? decode_block(*body)
                    : caf::expected<block>{
                      make_error(ec::storage, "block body missing")};
      if (!b || loc->index >= b->records.size()) {
        respond_error(self, st, hdl,
                      make_error(ec::storage, "record's block is unreadable"));
        return;
      }
      rec = encode(b->records[loc->index]);
    }
  }
  if (loc) {
    respond(self, st, hdl, [&](schema::Reply::Builder r) {
      auto out = r.initRecord();
      out.setRecordId(data_of(id));
      out.setRecord(data_of(rec->bytes()));
      out.setHeight(static_cast<int64_t>(loc->height));
      if (loc->kind != record_kind::asset)
        out.setItemId(data_of(loc->item));
      out.setSub(loc->sub);
      out.setKind(to_string(loc->kind));
    });
    return;
  }
  self
    ->request(st->deps.pool, std::chrono::seconds{30}, atom::lookup::value, id)
    .then(
      [=](std::vector<pending_record>& found) {
        if (found.empty()) {
          respond_error(self, st, hdl,
                        make_error(ec::not_found, "no record " + to_hex(id)
                                                    + " on chain or pending"));
          return;
        }
        auto& p = found.front();
        auto r = decode_record(p.record);
        std::string kind = "asset";
        hash256 item{};
        if (r && std::holds_alternative<issue_batch>(*r)) {
          kind = p.id == leaf_id(*r) ? "issues" : "issue";
          item = p.id;
        } else if (r && std::holds_alternative<transfer>(*r)) {
          kind = "transfer";
        }
        respond(self, st, hdl, [&](schema::Reply::Builder out_reply) {
          auto out = out_reply.initRecord();
          out.setRecordId(data_of(id));
          out.setRecord(data_of(p.record.bytes()));
          out.setHeight(-1);
          if (kind == "issue")
            out.setItemId(data_of(item));
          out.setSub(p.sub);
          out.setKind(kind);
        });
      },
      [=](caf::error& err) { respond_error(self, st, hdl, err); });
}

void do_block(broker* self, std::shared_ptr<admin_state> st,
              connection_handle hdl, std::optional<uint64_t> height,
              std::optional<hash256> hash) {
  chain_reader view{*st->deps.chain};
  if (hash)
    height = view.height_of(*hash);
  auto body = height ? view.body_at(*height) : std::nullopt;
  auto h = height ? view.hash_at(*height) : std::nullopt;
  if (auto err = view.failure())
    return respond_error(self, st, hdl, err);
  if (!body || !h) {
    respond_error(self, st, hdl,
                  make_error(ec::not_found, "no such block on the best chain"));
    return;
  }
  respond(self, st, hdl, [&](schema::Reply::Builder r) {
    auto out = r.initBlock();
    out.setHash(data_of(*h));
    out.setBlock(data_of(body->bytes()));
  });
}

void do_export(broker* self, std::shared_ptr<admin_state> st,
               connection_handle hdl, uint64_t from, uint32_t count) {
  std::vector<encoded> bodies;
  size_t bytes = 0;
  {
    chain_reader view{*st->deps.chain};
    for (uint64_t h = from; h < from + std::min<uint32_t>(count, 1000); ++h) {
      auto body = view.body_at(h);
      if (!body || bytes + body->size() > max_admin_frame - 1024 * 1024)
        break;
      bytes += body->size();
      bodies.push_back(std::move(*body));
    }
    if (auto err = view.failure())
      return respond_error(self, st, hdl, err);
  }
  respond(self, st, hdl, [&](schema::Reply::Builder r) {
    auto out = r.initBlocks(static_cast<unsigned>(bodies.size()));
    for (unsigned i = 0; i < bodies.size(); ++i)
      out.set(i, data_of(bodies[i].bytes()));
  });
}

// -- watch: a connection that streams tips ------------------------------------

/// The connection stays busy from here on: it carries one Reply.tip per new
/// tip, then Reply.end, and no other reply.
void do_watch(broker* self, std::shared_ptr<admin_state> st,
              connection_handle hdl) {
  if (!st->deps.monitor) {
    respond_error(
      self, st, hdl,
      make_error(ec::bad_request, "this node has no chain monitor"));
    return;
  }
  if (!st->subscribed) {
    self->send(st->deps.monitor, atom::subscribe::value,
               caf::actor_cast<caf::actor>(self));
    st->subscribed = true;
  }
  st->watchers.insert(hdl);
}

/// Writes a reply to every watching connection still open.
void tell_watchers(broker* self, std::shared_ptr<admin_state> st,
                   const reply_builder& fill) {
  for (auto i = st->watchers.begin(); i != st->watchers.end();) {
    if (st->conns.count(*i) == 0) {
      i = st->watchers.erase(i); // the client left
      continue;
    }
    capnp::MallocMessageBuilder msg;
    fill(msg.initRoot<schema::Reply>());
    send_frame(self, *i, msg);
    ++i;
  }
}

/// Reply.end to every watcher, then closes their connections.
void end_watch(broker* self, std::shared_ptr<admin_state> st) {
  tell_watchers(self, st, [](schema::Reply::Builder r) { r.setEnd(); });
  for (auto hdl : st->watchers) {
    self->close(hdl);
    st->conns.erase(hdl);
  }
  st->watchers.clear();
}

void dispatch(broker* self, std::shared_ptr<admin_state> st,
              connection_handle hdl, schema::Request::Reader req) {
  auto fail = [=](caf::error& err) { respond_error(self, st, hdl, err); };
  auto reply_tip = [=](apply_report& rep) {
    respond(self, st, hdl, [&](schema::Reply::Builder r) { set_tip(r, rep); });
  };
  auto id32 = [&](capnp::Data::Reader d,
                  const char* what) -> std::optional<hash256> {
    if (d.size() != 32) {
      respond_error(
        self, st, hdl,
        make_error(ec::bad_request, std::string{what} + " must have 32 bytes"));
      return std::nullopt;
    }
    hash256 out;
    std::memcpy(out.data(), d.begin(), 32);
    return out;
  };
  switch (req.which()) {
  case schema::Request::STATUS:
    do_status(self, st, hdl);
    return;
  case schema::Request::SUBMIT:
    do_submit(self, st, hdl, req.getSubmit());
    return;
  case schema::Request::ITEM:
    if (auto id = id32(req.getItem(), "an item id"))
      do_item(self, st, hdl, *id);
    return;
  case schema::Request::OWNER: {
    auto key = id32(req.getOwner(), "a public key");
    if (!key)
      return;
    std::vector<hash256> items;
    {
      chain_reader view{*st->deps.chain};
      items = view.items_of(*key);
      if (auto err = view.failure())
        return respond_error(self, st, hdl, err);
    }
    respond(self, st, hdl, [&](schema::Reply::Builder r) {
      auto out = r.initOwner();
      out.setOwner(data_of(*key));
      auto list = out.initItems(static_cast<unsigned>(items.size()));
      for (unsigned i = 0; i < items.size(); ++i)
        list.set(i, data_of(items[i]));
    });
    return;
  }
  case schema::Request::BLOCK_BY_HEIGHT:
    do_block(self, st, hdl, req.getBlockByHeight(), std::nullopt);
    return;
  case schema::Request::BLOCK_BY_HASH:
    if (auto h = id32(req.getBlockByHash(), "a block hash"))
      do_block(self, st, hdl, std::nullopt, *h);
    return;
  case schema::Request::RECORD:
    if (auto id = id32(req.getRecord(), "a record id"))
      do_record(self, st, hdl, *id);
    return;
  case schema::Request::REORG:
    self
      ->request(st->deps.processor, std::chrono::minutes{10},
                atom::reorg::value, req.getReorg())
      .then(reply_tip, fail);
    return;
  case schema::Request::IMPORT_BLOCKS: {
    std::vector<encoded> blocks;
    for (auto d : req.getImportBlocks()) {
      auto e = encoded::copy_of(byte_view{d.begin(), d.size()});
      if (!e) {
        respond_error(self, st, hdl, e.error());
        return;
      }
      blocks.push_back(std::move(*e));
    }
    self
      ->request(st->deps.processor, std::chrono::minutes{10},
                atom::blocks::value, std::move(blocks), false)
      .then(reply_tip, fail);
    return;
  }
  case schema::Request::EXPORT_BLOCKS: {
    auto range = req.getExportBlocks();
    do_export(self, st, hdl, range.getFrom(), range.getCount());
    return;
  }
  case schema::Request::PEERS:
    do_peers(self, st, hdl);
    return;
  case schema::Request::WATCH:
    do_watch(self, st, hdl);
    return;
  case schema::Request::STOP:
    log_info("admin", "stop requested over the admin socket");
    respond(self, st, hdl, [](schema::Reply::Builder r) { r.setStopping(); });
    ::kill(::getpid(), SIGTERM);
    return;
  default:
    respond_error(self, st, hdl,
                  make_error(ec::bad_request, "unknown request kind"));
  }
}

/// Serves the next complete frame of a connection, if it is not busy.
void process(broker* self, std::shared_ptr<admin_state> st,
             connection_handle hdl) {
  auto c = st->conns.find(hdl);
  if (c == st->conns.end() || c->second.busy)
    return;
  auto& buf = c->second.buf;
  if (buf.size() < 4)
    return;
  auto len = get_u32(buf.data());
  if (len > max_admin_frame || len % 8 != 0 || len == 0) {
    c->second.busy = true;
    c->second.closing = true;
    respond_error(
      self, st, hdl,
      make_error(ec::malformed, "bad frame length " + std::to_string(len)));
    return;
  }
  if (buf.size() < 4 + size_t{len})
    return;
  auto frame = encoded::copy_of(byte_view{buf.data() + 4, len});
  buf.erase(buf.begin(), buf.begin() + 4 + len);
  c->second.busy = true;
  try {
    capnp::FlatArrayMessageReader reader{words_of(*frame),
                                         reader_options({max_admin_frame})};
    dispatch(self, st, hdl, reader.getRoot<schema::Request>());
  } catch (const kj::Exception& e) {
    c = st->conns.find(hdl);
    if (c != st->conns.end() && c->second.busy) {
      c->second.closing = true;
      respond_error(
        self, st, hdl,
        make_error(ec::malformed, std::string{"undecodable request: "}
                                    + e.getDescription().cStr()));
    }
  }
}

caf::behavior admin_broker(broker* self, int fd, admin_deps deps) {
  auto st = std::make_shared<admin_state>();
  st->deps = std::move(deps);
  self->add_doorman(fd);
  // Watchers hear END however the broker ends.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    end_watch(self, st);
    self->quit(std::move(msg.reason));
  });
  return {
    [=](const caf::io::new_connection_msg& msg) {
      st->conns.emplace(msg.handle, connection{});
      self->configure_read(msg.handle, caf::io::receive_policy::at_most(65536));
    },
    [=](caf::io::new_data_msg& msg) {
      auto c = st->conns.find(msg.handle);
      if (c == st->conns.end())
        return;
      auto& buf = c->second.buf;
      // A client may queue requests while one is served, but not more
      // than one frame's worth.
      if (buf.size() + msg.buf.size() > max_admin_frame + 4) {
        log_warning("admin", "a client sent more than it may queue; "
                             "closing its connection");
        self->close(msg.handle);
        st->conns.erase(c);
        return;
      }
      buf.insert(buf.end(), msg.buf.begin(), msg.buf.end());
      process(self, st, msg.handle);
    },
    [=](const caf::io::connection_closed_msg& msg) {
      st->conns.erase(msg.handle);
    },
    [=](const caf::io::acceptor_closed_msg&) {
      log_warning("admin", "admin socket closed");
    },
    // From the chain monitor, for `watch`.
    [=](atom::tip, uint64_t height, const hash256& hash) {
      tell_watchers(self, st, [&](schema::Reply::Builder r) {
        auto t = r.initTip();
        t.setHeight(height);
        t.setHash(data_of(hash));
      });
    },
    [=](atom::end) {
      // A watch after this subscribes again and hears END at once.
      st->subscribed = false;
      end_watch(self, st);
    },
  };
}

} // namespace

caf::expected<caf::actor>
spawn_admin(caf::actor_system& sys, const std::string& path, admin_deps deps) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path))
    return make_error(ec::io, "admin socket path too long: " + path
                                + " (use a shorter --datadir)");
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return make_error(ec::io, std::string{"socket: "} + std::strerror(errno));
  ::unlink(path.c_str()); // stale from a killed node; the lock file guards
  auto old = ::umask(0177);
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old);
  if (rc != 0 || ::chmod(path.c_str(), 0600) != 0 || ::listen(fd, 16) != 0) {
    auto err = make_error(ec::io, "cannot listen on " + path + ": "
                                    + std::strerror(errno));
    ::close(fd);
    return err;
  }
  return sys.middleman().spawn_broker(admin_broker, fd, std::move(deps));
}

} // namespace hallmark
