#include "actors/admin.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <variant>

#include <caf/actor_system.hpp>
#include <caf/io/middleman.hpp>

#include "actors/admin_broker.hpp"
#include "actors/admin_changes.hpp"
#include "actors/admin_queries.hpp"
#include "actors/broker_exit.hpp"
#include "core/log.hpp"
#include "messages/admin_request.hpp"
#include "messages/codec_capnp.hpp"

namespace hallmark {

namespace {

using caf::io::connection_handle;

void send_frame(admin_broker* self, connection_handle hdl,
                capnp::MessageBuilder& msg) {
  auto words = capnp::messageToFlatArray(msg);
  auto bytes = words.asBytes();
  uint8_t len[4];
  put_u32(len, static_cast<uint32_t>(bytes.size()));
  self->write(hdl, 4, len);
  self->write(hdl, bytes.size(), bytes.begin());
  self->flush(hdl);
}

// -- watch: a connection that streams tips ------------------------------------

/// The connection is WATCHING from here on: it carries one Reply.tip per new
/// tip, then Reply.end, and no other reply.
void serve_watch(admin_broker* self, connection_handle hdl) {
  auto& st = self->state;
  if (!st.deps.monitor) {
    respond_error(
      self, hdl, make_error(ec::bad_request, "this node has no chain monitor"));
    return;
  }
  if (!st.subscribed) {
    self->send(st.deps.monitor, atom::subscribe_v,
               caf::actor_cast<caf::actor>(self));
    st.subscribed = true;
  }
  st.conns[hdl].phase = admin_phase::watching;
}

/// Writes a reply to every watching connection.
void tell_watchers(admin_broker* self, const reply_builder& fill) {
  for (auto& [hdl, c] : self->state.conns) {
    if (c.phase != admin_phase::watching)
      continue;
    capnp::MallocMessageBuilder msg;
    fill(msg.initRoot<schema::Reply>());
    send_frame(self, hdl, msg);
  }
}

/// Reply.end to every watcher, then closes their connections.
void end_watch(admin_broker* self) {
  tell_watchers(self, [](schema::Reply::Builder r) { r.setEnd(); });
  auto& conns = self->state.conns;
  for (auto i = conns.begin(); i != conns.end();) {
    if (i->second.phase != admin_phase::watching) {
      ++i;
      continue;
    }
    self->close(i->first);
    i = conns.erase(i);
  }
}

// -- requests ----------------------------------------------------------------

/// One callable of several lambdas, for std::visit.
template <class... Fs>
struct overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
overloaded(Fs...) -> overloaded<Fs...>;

/// Hands a decoded request to the function that serves it.
void dispatch(admin_broker* self, connection_handle hdl, admin_request req) {
  using namespace request;
  // While a state sync runs, the chain holds part of the state: what reads
  // it, or submits against it, would answer wrong; refused, saying why.
  if (self->state.deps.state_syncing) {
    bool reads_state = std::holds_alternative<submit>(req)
                       || std::holds_alternative<item>(req)
                       || std::holds_alternative<owner>(req)
                       || std::holds_alternative<record_by_id>(req)
                       || std::holds_alternative<state_proof>(req)
                       || std::holds_alternative<asset_by_id>(req)
                       || std::holds_alternative<block_by_height>(req)
                       || std::holds_alternative<block_by_hash>(req)
                       || std::holds_alternative<export_blocks>(req);
    if (reads_state) {
      respond_error(self, hdl,
                    make_error(ec::state_syncing,
                               "this node is state-syncing and holds only "
                               "part of the state; `hallmark status` shows "
                               "its progress: ask again when it is done"));
      return;
    }
  }
  auto serve = overloaded{
    [&](status&) { serve_status(self, hdl); },
    [&](submit& x) { serve_submit(self, hdl, std::move(x.records)); },
    [&](item& x) { serve_item(self, hdl, x.id); },
    [&](owner& x) { serve_owner(self, hdl, x.key); },
    [&](block_by_height& x) { serve_block(self, hdl, x.height, std::nullopt); },
    [&](block_by_hash& x) { serve_block(self, hdl, std::nullopt, x.hash); },
    [&](record_by_id& x) { serve_record(self, hdl, x.id); },
    [&](reorg& x) { serve_reorg(self, hdl, x.depth); },
    [&](import_blocks& x) { serve_import(self, hdl, std::move(x.blocks)); },
    [&](export_blocks& x) { serve_export(self, hdl, x.from, x.count); },
    [&](peers&) { serve_peers(self, hdl); },
    [&](ban& x) { serve_ban(self, hdl, x.key, x.seconds); },
    [&](unban& x) { serve_unban(self, hdl, x.key); },
    [&](state_proof& x) { serve_state_proof(self, hdl, x.item); },
    [&](asset_by_id& x) { serve_asset(self, hdl, x.id); },
    [&](watch&) { serve_watch(self, hdl); },
    [&](stop&) { serve_stop(self, hdl); }};
  std::visit(serve, req);
}

/// Serves the next complete frame of a connection, if it is IDLE. A bad
/// length or an undecodable request (ec::malformed) closes the connection
/// after its error reply; any other refusal leaves it open.
void process(admin_broker* self, connection_handle hdl) {
  auto& conns = self->state.conns;
  auto c = conns.find(hdl);
  if (c == conns.end() || c->second.phase != admin_phase::idle)
    return;
  auto& buf = c->second.buf;
  auto size = admin_frame_size(buf);
  if (!size) {
    c->second.phase = admin_phase::closing;
    respond_error(self, hdl, size.error());
    return;
  }
  if (*size == 0)
    return;
  auto body = encoded::copy_of(
    byte_view{buf.data() + admin_frame_prefix, *size - admin_frame_prefix});
  buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*size));
  c->second.phase = admin_phase::serving;
  auto req = body ? decode_admin_request(*body)
                  : caf::expected<admin_request>{body.error()};
  if (!req) {
    if (code_of(req.error()) == ec::malformed)
      c->second.phase = admin_phase::closing;
    respond_error(self, hdl, req.error());
    return;
  }
  dispatch(self, hdl, std::move(*req));
}

} // namespace

void respond(admin_broker* self, connection_handle hdl,
             const reply_builder& fill) {
  auto& conns = self->state.conns;
  auto c = conns.find(hdl);
  if (c == conns.end())
    return; // the client left
  capnp::MallocMessageBuilder msg;
  fill(msg.initRoot<schema::Reply>());
  send_frame(self, hdl, msg);
  if (c->second.phase == admin_phase::closing) {
    self->close(hdl);
    conns.erase(c);
    return;
  }
  c->second.phase = admin_phase::idle;
  process(self, hdl);
}

void respond_error(admin_broker* self, connection_handle hdl,
                   const caf::error& err) {
  auto code = code_of(err);
  auto text = message_of(err);
  if (code == ec::none)
    code = ec::bad_request;
  respond(self, hdl, [&](schema::Reply::Builder r) {
    auto e = r.initError();
    e.setCode(static_cast<uint8_t>(code));
    e.setMessage(text);
  });
}

void set_tip(schema::Reply::Builder r, uint64_t height, const hash256& hash) {
  auto t = r.initTip();
  t.setHeight(height);
  t.setHash(data_of(hash));
}

admin_broker_actor::behavior_type admin(admin_broker* self, int fd,
                                        admin_deps deps) {
  close_mailbox_on_exit(self);
  self->state.deps = std::move(deps);
  self->add_doorman(fd);
  // Watchers hear END however the broker ends.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    end_watch(self);
    self->quit(std::move(msg.reason));
  });
  return {
    [=](const caf::io::new_connection_msg& msg) {
      self->state.conns.emplace(msg.handle, admin_connection{});
      self->configure_read(msg.handle, caf::io::receive_policy::at_most(65536));
    },
    [=](caf::io::new_data_msg& msg) {
      auto& conns = self->state.conns;
      auto c = conns.find(msg.handle);
      if (c == conns.end())
        return;
      auto& buf = c->second.buf;
      // A client may queue requests while one is served, but not more
      // than one frame's worth.
      if (buf.size() + msg.buf.size() > max_admin_frame + 4) {
        log_warning("admin", "a client sent more than it may queue; "
                             "closing its connection");
        self->close(msg.handle);
        conns.erase(c);
        return;
      }
      buf.insert(buf.end(), msg.buf.begin(), msg.buf.end());
      process(self, msg.handle);
    },
    [=](const caf::io::connection_closed_msg& msg) {
      self->state.conns.erase(msg.handle);
    },
    [=](const caf::io::acceptor_closed_msg&) {
      log_warning("admin", "admin socket closed");
    },
    [=](atom::tip, uint64_t height, const hash256& hash) {
      tell_watchers(
        self, [&](schema::Reply::Builder r) { set_tip(r, height, hash); });
    },
    [=](atom::synced) { self->state.deps.state_syncing = false; },
    [=](atom::end) {
      // A watch after this subscribes again and hears END at once.
      self->state.subscribed = false;
      end_watch(self);
    },
  };
}

caf::expected<admin_actor>
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
  return sys.middleman().spawn_broker(admin, fd, std::move(deps));
}

} // namespace hallmark
