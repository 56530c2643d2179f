#include "actors/peer_session.hpp"
#include "core/metrics.hpp"

#include <sys/socket.h>

#include <caf/io/broker.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/broker_exit.hpp"
#include "actors/peer_session_serve.hpp"
#include "core/log.hpp"

namespace hallmark {

namespace {

using namespace peer_session_detail;
using caf::io::connection_handle;
using caf::io::receive_policy;
using behavior_type = peer_session_broker_actor::behavior_type;

/// What the next bytes of the connection are: a frame's 4-byte length
/// (nullopt), or a body of that many bytes.
using next_read = std::optional<uint32_t>;

behavior_type handshaking(self_ptr self, next_read next);
behavior_type admitting(self_ptr self, next_read next);
behavior_type linked(self_ptr self, next_read next);

/// Ends the TCP connection at once, dropping what CAF still holds to write.
/// CAF's own close is graceful: it keeps the socket in the network loop
/// until its last bytes are written, and `~actor_system` waits for that
/// loop to empty. A dial into a host that never answers (the hello waiting
/// for a connection that is never made), or a peer that stops reading,
/// would then hold the node's stop until TCP gives up, minutes later.
/// `hdl`'s id is the socket (CAF 0.17's default multiplexer); the socket
/// is still open here, the session's scribe holds it.
void abort_connection(self_ptr self) {
  ::shutdown(static_cast<int>(self->state.hdl.id()), SHUT_RDWR);
}

/// Ends the link. `fault` marks misbehaviour: the session then exits with
/// that error, which the listener counts against the peer's host.
void close_link(self_ptr self, const std::string& why, ec fault = ec::none) {
  auto& st = self->state;
  if (st.closed)
    return;
  st.closed = true;
  // A dial whose connection was never made has nothing worth flushing.
  if (!st.inbound && !st.heard)
    abort_connection(self);
  // An inbound link that never became a link is the listener's to log
  // (rate-limited per host: a flood of garbage must not flood the log).
  if (!st.inbound || !st.deps.listener || st.linked)
    log_info("peer_session", "{}: link closed: {}", st.label, why);
  auto pending = std::move(st.pending);
  st.pending.clear();
  for (auto& [id, p] : pending)
    p.deliver(make_error(ec::io, "link closed: " + why));
  self->close(st.hdl);
  if (fault == ec::none)
    self->quit();
  else
    self->quit(make_error(fault, why));
}

// -- frames
// --------------------------------------------------------------------

void on_linked_frame(self_ptr self, byte_view frame);

/// ADMITTED: the link is up. Tells the connector, then reads the frames
/// that waited.
void go_linked(self_ptr self) {
  auto& st = self->state;
  peer_link link;
  link.session = caf::actor_cast<peer_session_actor>(self);
  link.key = st.peer;
  link.inbound = st.inbound;
  link.address = st.address;
  link.version = st.version;
  st.linked = true;
  log_info("peer_session", "{}: linked ({}, protocol {})", st.label,
           link.inbound ? "inbound" : "outbound", link.version);
  self->send(st.deps.connector, atom::up_v, std::move(link));
  st.last_heard = self->clock().now();
  self->become(linked(self, st.admit_next));
  auto held = std::move(st.held_frames);
  st.held_frames.clear();
  st.held_bytes = 0;
  for (auto& frame : held) {
    if (st.closed)
      return;
    on_linked_frame(self, frame);
  }
}

/// A refusal at admission: nobody's fault, the link just ends (with the
/// refusal as its reason, for the listener's log; a refusal never
/// discourages).
void refused(self_ptr self, const caf::error& err) {
  auto code = code_of(err);
  close_link(self, "not admitted: " + message_of(err),
             code == ec::none || fault_of(code) == fault::peer ? ec::io : code);
}

/// ADMITTING: asks the connector whether the key may link and, for an
/// inbound link, the listener for an authenticated slot.
void admit(self_ptr self) {
  auto& st = self->state;
  auto to_listener = [=] {
    auto& st = self->state;
    if (!st.inbound || !st.deps.listener) {
      go_linked(self);
      return;
    }
    self
      ->request(st.deps.listener, std::chrono::seconds{30}, atom::up_v, st.peer)
      .then([=](bool) { go_linked(self); },
            [=](caf::error& err) { refused(self, err); });
  };
  self
    ->request(st.deps.connector, std::chrono::seconds{30}, atom::up_v, st.peer)
    .then([=](bool) { to_listener(); },
          [=](caf::error& err) { refused(self, err); });
}

/// ADMITTING: a frame that came before the link is up waits for it; the
/// peer may send some (it is linked at its end), not a flood.
void hold_frame(self_ptr self, byte_view frame) {
  auto& st = self->state;
  st.held_bytes += frame.size();
  if (st.held_bytes > 2 * max_link_frame) {
    close_link(self, "too much sent before the link was admitted",
               ec::too_large);
    return;
  }
  st.held_frames.emplace_back(frame.begin(), frame.end());
}

/// A handshake frame; becomes LINKED when the handshake is established.
void on_handshake_frame(self_ptr self, byte_view frame) {
  auto& st = self->state;
  auto step = st.hs->receive(frame);
  if (!step.send.empty())
    write_frame(self, step.send);
  if (step.error) {
    // No key is proven yet, so none is charged: the link ends with the
    // error, and the listener judges the address by it (discourages()).
    close_link(self, "handshake: " + message_of(step.error),
               code_of(step.error));
    return;
  }
  if (!step.established)
    return;
  st.peer = st.hs->peer();
  st.proven = true;
  st.tx = st.hs->take_sealer();
  st.rx = st.hs->take_opener();
  st.version = st.hs->version();
  st.label = to_hex(st.peer).substr(0, 16) + "@" + st.address;
  st.hs.reset();
  self->become(admitting(self, std::nullopt));
  admit(self);
}

/// An encrypted frame: one Envelope.
void on_linked_frame(self_ptr self, byte_view frame) {
  auto& st = self->state;
  st.last_heard = self->clock().now();
  auto plain = st.rx.open(frame);
  if (!plain) {
    charge(self, st.deps.limits.bad_frame_points,
           "undecryptable frame: " + message_of(plain.error()));
    close_link(self, message_of(plain.error()), code_of(plain.error()));
    return;
  }
  st.last_frame_bytes = frame.size();
  auto bytes = encoded::copy_of(*plain);
  auto env = bytes ? wire::decode_envelope(*bytes, max_link_plaintext)
                   : caf::expected<wire::envelope>{bytes.error()};
  if (!env) {
    auto why = "undecodable envelope: " + message_of(env.error());
    charge(self, st.deps.limits.bad_frame_points, why);
    close_link(self, why, ec::malformed);
    return;
  }
  on_envelope(self, std::move(*env));
}

/// New bytes in a phase: a frame's length (then the phase reads the body)
/// or its body (then the phase reads the next length, and `on_frame` has
/// the body). `phase` builds the phase's behaviour for the next read.
void on_bytes(self_ptr self, const caf::io::new_data_msg& msg, next_read next,
              size_t cap, behavior_type (*phase)(self_ptr, next_read),
              void (*on_frame)(self_ptr, byte_view)) {
  auto& st = self->state;
  st.heard = true;
  byte_view data{reinterpret_cast<const uint8_t*>(msg.buf.data()),
                 msg.buf.size()};
  metrics::node().peer_bytes_in.add(data.size());
  if (!next) {
    auto len = get_u32(data.data());
    if (len == 0 || len > cap) {
      charge(self, st.deps.limits.bad_frame_points,
             "frame length " + std::to_string(len) + " outside 1.."
               + std::to_string(cap));
      close_link(self, "frame length " + std::to_string(len),
                 len == 0 ? ec::malformed : ec::too_large);
      return;
    }
    self->configure_read(st.hdl, receive_policy::exactly(len));
    self->become(phase(self, len));
    return;
  }
  self->configure_read(st.hdl, receive_policy::exactly(4));
  self->become(phase(self, std::nullopt));
  on_frame(self, data);
}

// -- the node's requests
// -------------------------------------------------------

/// Sends `request` with a fresh id; its response, as the kind `Reply`, is
/// turned into the domain value `T` by `to_domain`.
template <class Reply, class T, class F>
caf::result<T> ask_peer(self_ptr self, wire::body request, const char* what,
                        F to_domain) {
  auto& st = self->state;
  auto rp = self->make_response_promise<T>();
  auto id = st.next_id++;
  if (auto err = send_envelope(self, {id, std::move(request)})) {
    rp.deliver(std::move(err));
    return rp;
  }
  auto deliver = [rp, what, to_domain](caf::expected<wire::body> x) mutable {
    auto reply = x ? wire::reply_as<Reply>(std::move(*x), what)
                   : caf::expected<Reply>{x.error()};
    if (reply)
      rp.deliver(to_domain(std::move(*reply)));
    else
      rp.deliver(std::move(reply.error()));
  };
  st.pending.emplace(id, peer_session_state::pending_request{
                           self->clock().now() + st.deps.limits.request_timeout,
                           std::move(deliver)});
  return rp;
}

void schedule_tick(self_ptr self) {
  self->delayed_send(self, std::chrono::seconds{1}, atom::tick_v);
}

caf::error not_linked() {
  return make_error(ec::io, "the link is not up yet");
}

// -- the phases
// ----------------------------------------------------------------

/// A phase before LINKED: `own` handles the connection's events and the
/// timer; the node's requests are refused (nobody holds the session before
/// it reports `up`) and relays dropped. A new request kind of
/// peer_session_actor gets its refusal here, once for both phases.
template <class... Own>
behavior_type not_linked_phase(Own... own) {
  return {
    std::move(own)...,
    [](atom::info) -> caf::result<peer_info> { return not_linked(); },
    [](atom::blocks, uint64_t, uint32_t) -> caf::result<std::vector<encoded>> {
      return not_linked();
    },
    [](atom::hashes, uint64_t, uint32_t) -> caf::result<std::vector<hash256>> {
      return not_linked();
    },
    [](atom::headers, uint64_t, uint32_t) -> caf::result<std::vector<header>> {
      return not_linked();
    },
    [](atom::prove, const state_request&) -> caf::result<state_reply> {
      return not_linked();
    },
    [](atom::registr, const registration&)
      -> caf::result<std::vector<registration>> { return not_linked(); },
    [](atom::relay, const new_block&) {},
    [](atom::relay, const new_records&) {},
    [](atom::relay, const registration&) {},
  };
}

/// HANDSHAKE: plaintext frames up to 4 KiB, within the handshake's
/// deadline.
behavior_type handshaking(self_ptr self, next_read next) {
  return not_linked_phase(
    [=](caf::io::new_data_msg& msg) {
      on_bytes(self, msg, next, max_handshake_frame, handshaking,
               on_handshake_frame);
    },
    [=](const caf::io::connection_closed_msg&) {
      close_link(self, "peer closed the connection");
    },
    [=](atom::tick) {
      if (self->clock().now() > self->state.handshake_deadline) {
        close_link(self, "handshake took too long", ec::io);
        return;
      }
      schedule_tick(self);
    });
}

/// ADMITTING: encrypted frames up to 5 MB are read and held until the link
/// is admitted.
behavior_type admitting(self_ptr self, next_read next) {
  self->state.admit_next = next;
  return not_linked_phase(
    [=](caf::io::new_data_msg& msg) {
      on_bytes(self, msg, next, max_link_frame, admitting, hold_frame);
    },
    [=](const caf::io::connection_closed_msg&) {
      close_link(self, "peer closed the connection");
    },
    [=](atom::tick) { schedule_tick(self); });
}

/// LINKED: encrypted Envelopes up to 5 MB.
behavior_type linked(self_ptr self, next_read next) {
  return {
    [=](caf::io::new_data_msg& msg) {
      on_bytes(self, msg, next, max_link_frame, linked, on_linked_frame);
    },
    [=](const caf::io::connection_closed_msg&) {
      close_link(self, "peer closed the connection");
    },
    [=](atom::tick) {
      auto& st = self->state;
      auto now = self->clock().now();
      if (now - st.last_heard > st.deps.limits.idle_timeout) {
        close_link(
          self, "nothing heard for "
                  + std::to_string(st.deps.limits.idle_timeout.count() / 1000)
                  + " s");
        return;
      }
      for (auto i = st.pending.begin(); i != st.pending.end();) {
        if (now > i->second.deadline) {
          auto deliver = std::move(i->second.deliver);
          i = st.pending.erase(i);
          deliver(make_error(ec::io, "peer did not answer in time"));
        } else {
          ++i;
        }
      }
      send_held_replies(self);
      schedule_tick(self);
    },
    [=](atom::info) {
      return ask_peer<wire::info, peer_info>(
        self, wire::info_request{}, "an info request", [](wire::info x) {
          return peer_info{std::move(x.chain), x.height, x.tip, x.work, x.base};
        });
    },
    [=](atom::blocks, uint64_t from, uint32_t count) {
      return ask_peer<wire::blocks, std::vector<encoded>>(
        self, wire::blocks_request{from, count}, "a blocks request",
        [](wire::blocks x) { return std::move(x.list); });
    },
    [=](atom::hashes, uint64_t from, uint32_t count) {
      return ask_peer<wire::hashes, std::vector<hash256>>(
        self, wire::hashes_request{from, count}, "a hashes request",
        [](wire::hashes x) { return std::move(x.list); });
    },
    [=](atom::headers, uint64_t from, uint32_t count) {
      return ask_peer<wire::headers, std::vector<header>>(
        self, wire::headers_request{from, count}, "a headers request",
        [](wire::headers x) { return std::move(x.list); });
    },
    [=](atom::prove, const state_request& r) {
      trie::state_key start;
      trie::state_key end;
      std::copy(r.start.begin(), r.start.end(), start.begin());
      std::copy(r.end.begin(), r.end.end(), end.begin());
      if (r.from == hash256{})
        return ask_peer<wire::state_range, state_reply>(
          self,
          wire::state_range_request{r.to, start, end, r.key_limit,
                                    r.byte_limit},
          "a state range request", [self](wire::state_range x) {
            return state_reply{
              std::make_shared<const trie::range_proof>(std::move(x.proof)),
              nullptr, self->state.last_frame_bytes};
          });
      return ask_peer<wire::state_change, state_reply>(
        self,
        wire::state_change_request{r.from, r.to, start, end, r.key_limit,
                                   r.byte_limit},
        "a state change request", [self](wire::state_change x) {
          state_reply out;
          out.bytes = self->state.last_frame_bytes;
          if (auto* c = std::get_if<trie::change_proof>(&x.proof))
            out.change = std::make_shared<const trie::change_proof>(
              std::move(*c));
          else
            out.range = std::make_shared<const trie::range_proof>(
              std::move(std::get<trie::range_proof>(x.proof)));
          return out;
        });
    },
    [=](atom::registr, registration& r) {
      return ask_peer<wire::peers, std::vector<registration>>(
        self, wire::register_request{std::move(r)}, "a registration",
        [](wire::peers x) { return std::move(x.list); });
    },
    [=](atom::relay, new_block& x) {
      send_envelope(self, {0, wire::block{std::move(x.block)}});
    },
    [=](atom::relay, new_records& x) {
      send_envelope(self, {0, wire::records{std::move(x.list)}});
    },
    [=](atom::relay, registration& r) {
      send_envelope(self, {0, wire::announce{std::move(r)}});
    },
  };
}

} // namespace

bool discourages(const caf::error& reason) {
  return fault_of(reason) == fault::peer && code_of(reason) != ec::wrong_key;
}

behavior_type peer_session(self_ptr self, connection_handle hdl,
                           session_deps deps,
                           std::optional<public_key> expected,
                           std::string address) {
  close_mailbox_on_exit(self);
  // The node stops (the connector or listener exits): the link ends at
  // once, whatever the peer still has to read.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    if (msg.reason == caf::exit_reason::normal)
      return;
    abort_connection(self);
    self->quit(msg.reason);
  });
  auto& st = self->state;
  st.deps = std::move(deps);
  st.hdl = hdl;
  st.address = std::move(address);
  st.label = "?@" + st.address;
  st.inbound = !expected.has_value();
  st.handshake_deadline = self->clock().now()
                          + st.deps.limits.handshake_timeout;
  if (expected) {
    st.peer = *expected;
    st.hs.emplace(handshake::initiator(*st.deps.settings, *expected));
    write_frame(self, st.hs->hello());
  } else {
    st.hs.emplace(handshake::responder(*st.deps.settings));
  }
  self->configure_read(hdl, receive_policy::exactly(4));
  schedule_tick(self);
  return handshaking(self, std::nullopt);
}

behavior_type dialled_peer_session(self_ptr self, int fd, session_deps deps,
                                   public_key expected, std::string address) {
  auto hdl = self->add_scribe(fd);
  return peer_session(self, hdl, std::move(deps), expected, std::move(address));
}

} // namespace hallmark
