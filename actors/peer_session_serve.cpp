// What a linked peer_session does with the Envelopes its peer sends: it
// answers the requests (info, blocks, hashes, register, ping) from this
// node's committed chain, hands state sync requests to the state server, hands
// broadcasts on (blocks to block_processor, records to the reservoir,
// registrations to the announcer) and delivers responses to the node's own
// requests; and how it writes frames.
#include "actors/peer_session_serve.hpp"
#include "core/metrics.hpp"

#include <caf/io/broker.hpp>

#include "core/log.hpp"

namespace hallmark::peer_session_detail {

void write_frame(self_ptr self, byte_view bytes) {
  auto& st = self->state;
  uint8_t len[4];
  put_u32(len, static_cast<uint32_t>(bytes.size()));
  self->write(st.hdl, 4, len);
  self->write(st.hdl, bytes.size(), bytes.data());
  self->flush(st.hdl);
  metrics::node().peer_bytes_out.add(4 + bytes.size());
}

/// Seals and sends one encoded Envelope of kind `kind`.
caf::error send_plain(self_ptr self, const encoded& plain, const char* kind) {
  auto& st = self->state;
  auto sealed = st.tx.seal(plain.bytes());
  if (sealed.empty()) {
    log_warning("peer_session", "{}: {} of {} bytes not sent (too large)",
                st.label, kind, plain.size());
    return make_error(ec::too_large, std::string{kind} + " too large to send");
  }
  write_frame(self, sealed);
  return {};
}

/// Encodes, seals and sends one Envelope.
caf::error send_envelope(self_ptr self, wire::envelope env) {
  auto& st = self->state;
  auto plain = wire::encode(env);
  if (!plain) {
    log_warning("peer_session", "{}: {} not sent: {}", st.label,
                wire::kind_name(env.what), message_of(plain.error()));
    return plain.error();
  }
  return send_plain(self, *plain, wire::kind_name(env.what));
}

/// Charges the peer's key, once the handshake has proven it. Before, there
/// is no key to charge: an inbound link that fails by its peer's fault
/// ends with that error, and the listener discourages its address.
void charge(self_ptr self, int32_t points, const std::string& reason) {
  auto& st = self->state;
  if (!st.proven || points <= 0)
    return;
  self->send(st.deps.connector, atom::misbehave_v, st.peer, points, reason);
}

namespace {

void reply(self_ptr self, uint64_t id, wire::body what) {
  send_envelope(self, {id, std::move(what)});
}

void refuse(self_ptr self, uint64_t id, const caf::error& err) {
  reply(self, id, wire::refusal{code_of(err), message_of(err)});
}

/// Logs a chain read that failed and answers the request with ec::storage.
void refuse_storage(self_ptr self, uint64_t id, const caf::error& err) {
  log_error("peer_session", "{}: {}", self->state.label, message_of(err));
  refuse(self, id, make_error(ec::storage, message_of(err)));
}

// -- the peer's requests -----------------------------------------------------

void serve_blocks(self_ptr self, uint64_t id, wire::blocks_request r) {
  auto& st = self->state;
  wire::blocks out;
  size_t bytes = 0;
  caf::error failed;
  {
    chain_reader view{*st.deps.chain};
    auto n = std::min(r.count, st.deps.limits.max_blocks);
    for (uint64_t h = r.from; h < r.from + n; ++h) {
      auto body = view.body_at(h);
      if (!body)
        break;
      if (!out.list.empty()
          && bytes + body->size() > st.deps.limits.max_reply_bytes)
        break;
      bytes += body->size();
      out.list.push_back(std::move(*body));
    }
    failed = view.failure();
  }
  if (failed)
    return refuse_storage(self, id, failed);
  if (auto delay = st.deps.limits.serve_delay; delay.count() > 0) {
    st.held_replies.push_back(
      {self->clock().now() + delay, id, std::move(out)});
    return;
  }
  reply(self, id, std::move(out));
}

/// Answers a request for one thing per height (`hashes`, `headers`): from
/// `from`, at most `n`, up to the committed tip, as `Reply`.
template <class Reply, class Lookup>
void serve_per_height(self_ptr self, uint64_t id, uint64_t from, uint32_t n,
                      Lookup lookup) {
  Reply out;
  caf::error failed;
  {
    chain_reader view{*self->state.deps.chain};
    auto top = view.height();
    for (uint64_t h = from; h < from + n && h <= top; ++h) {
      auto x = lookup(view, h);
      if (!x)
        break;
      out.list.push_back(*x);
    }
    failed = view.failure();
  }
  if (failed)
    return refuse_storage(self, id, failed);
  reply(self, id, std::move(out));
}

void serve_hashes(self_ptr self, uint64_t id, wire::hashes_request r) {
  serve_per_height<wire::hashes>(
    self, id, r.from, std::min(r.count, self->state.deps.limits.max_hashes),
    [](const chain_view& v, uint64_t h) { return v.hash_at(h); });
}

void serve_headers(self_ptr self, uint64_t id, wire::headers_request r) {
  serve_per_height<wire::headers>(
    self, id, r.from, std::min(r.count, self->state.deps.limits.max_headers),
    [](const chain_view& v, uint64_t h) { return v.header_at(h); });
}

/// Answers `info` with the committed tip, read like `hashes` and `blocks`
/// are served: never block_processor's open, uncommitted one, which a
/// follower would then ask for blocks and hashes this node cannot serve
/// yet.
void serve_info(self_ptr self, uint64_t id) {
  auto& st = self->state;
  tip_info tip;
  uint64_t base = 0;
  caf::error failed;
  {
    chain_reader view{*st.deps.chain};
    tip = view.tip();
    if (auto b = view.state_base())
      base = b->height;
    failed = view.failure();
  }
  if (failed)
    return refuse_storage(self, id, failed);
  reply(self, id,
        wire::info{st.deps.settings->chain, HALLMARK_VERSION, tip.height,
                   tip.hash, tip.work, base});
}

/// A state sync request: the state server answers it off the network
/// thread, and its answer (the proof, or why not) goes back as it is.
void serve_state(self_ptr self, const wire::envelope& env) {
  auto& st = self->state;
  auto id = env.id;
  if (!st.deps.state) {
    refuse(self, id,
           make_error(ec::bad_request, "this node does not serve state sync"));
    return;
  }
  auto raw = wire::encode(env);
  if (!raw) {
    refuse(self, id, raw.error());
    return;
  }
  self
    ->request(st.deps.state, std::chrono::seconds{60}, atom::prove_v,
              std::move(*raw))
    .then([=](encoded& answer) { send_plain(self, answer, "a state proof"); },
          [=](caf::error& err) {
            refuse(self, id,
                   make_error(ec::internal,
                              "state sync request failed: " + message_of(err)));
          });
}

/// A block broadcast: block_processor applies it and, if it joined the best
/// chain, publishes it with this link as its origin.
void take_block(self_ptr self, caf::expected<encoded> bytes) {
  auto& st = self->state;
  if (!bytes) {
    charge(self, st.deps.limits.bad_block_points,
           "block broadcast of a bad size");
    return;
  }
  self
    ->request(st.deps.processor, std::chrono::seconds{60}, atom::block_v,
              std::move(*bytes), self->address())
    .then([](apply_report&) {},
          [=](caf::error& err) {
            if (fault_of(err) == fault::peer)
              charge(self, self->state.deps.limits.bad_block_points,
                     "invalid block: " + message_of(err));
          });
}

/// A records broadcast: the reservoir admits and publishes them.
void take_records(self_ptr self, encoded list) {
  auto& st = self->state;
  self
    ->request(st.deps.pool, std::chrono::seconds{60}, atom::submit_v,
              std::move(list), self->address())
    .then([](std::vector<hash256>&) {},
          [=](caf::error& err) {
            if (fault_of_pending(code_of(err)) == fault::peer)
              charge(self, self->state.deps.limits.bad_records_points,
                     "invalid records: " + message_of(err));
          });
}

/// A registration: the link's own (`id` ≠ 0, answered with peers) or a
/// relayed announcement (`id` = 0).
void take_registration(self_ptr self, uint64_t id,
                       caf::expected<registration> reg) {
  auto& st = self->state;
  if (!reg) {
    if (id != 0)
      refuse(self, id, reg.error());
    charge(self, st.deps.limits.bad_records_points,
           "bad registration: " + message_of(reg.error()));
    return;
  }
  if (!st.deps.announcer) {
    if (id != 0)
      refuse(self, id, make_error(ec::bad_request, "no announcer"));
    return;
  }
  if (id == 0) {
    self->send(st.deps.announcer, atom::announce_v, std::move(*reg),
               self->address());
    return;
  }
  self
    ->request(st.deps.announcer, std::chrono::seconds{30}, atom::registr_v,
              std::move(*reg), st.peer, self->address())
    .then(
      [=](std::vector<registration>& others) {
        reply(self, id, wire::peers{std::move(others)});
      },
      [=](caf::error& err) {
        refuse(self, id, err);
        // A registration too old or too new for our clock, or of another
        // chain, is not the peer's fault (our clock may be the wrong one).
        if (fault_of(err) == fault::peer)
          charge(self, self->state.deps.limits.bad_records_points,
                 "refused registration: " + message_of(err));
      });
}

/// A response: to the request of ours with its id, if it still waits.
void take_response(self_ptr self, uint64_t id, wire::body what) {
  auto& st = self->state;
  auto p = st.pending.find(id);
  if (p == st.pending.end())
    return; // a late answer to a request that timed out: not an offence
  auto deliver = std::move(p->second.deliver);
  st.pending.erase(p);
  deliver(std::move(what));
}

} // namespace

/// One decoded Envelope from the peer.
void on_envelope(self_ptr self, wire::envelope env) {
  auto& st = self->state;
  auto id = env.id;
  auto& what = env.what;
  if (wire::is_response(what)) {
    take_response(self, id, std::move(what));
    return;
  }
  if (std::holds_alternative<wire::info_request>(what))
    serve_info(self, id);
  else if (auto* b = std::get_if<wire::blocks_request>(&what))
    serve_blocks(self, id, *b);
  else if (auto* h = std::get_if<wire::hashes_request>(&what))
    serve_hashes(self, id, *h);
  else if (auto* hs = std::get_if<wire::headers_request>(&what))
    serve_headers(self, id, *hs);
  else if (std::holds_alternative<wire::ping>(what))
    reply(self, id, wire::pong{});
  else if (std::holds_alternative<wire::state_range_request>(what)
           || std::holds_alternative<wire::state_change_request>(what))
    serve_state(self, env);
  else if (auto* r = std::get_if<wire::register_request>(&what))
    take_registration(self, id, std::move(r->reg));
  else if (auto* a = std::get_if<wire::announce>(&what))
    take_registration(self, 0, std::move(a->reg));
  else if (auto* rs = std::get_if<wire::records>(&what))
    take_records(self, std::move(rs->list));
  else if (auto* bl = std::get_if<wire::block>(&what))
    take_block(self, std::move(bl->bytes));
  else
    charge(self, st.deps.limits.bad_records_points,
           std::string{"unexpected envelope kind "} + wire::kind_name(what));
}

void send_held_replies(self_ptr self) {
  auto& held = self->state.held_replies;
  auto now = self->clock().now();
  auto due = std::partition(held.begin(), held.end(),
                            [&](auto& h) { return h.due > now; });
  std::vector<peer_session_state::held_reply> out(
    std::make_move_iterator(due), std::make_move_iterator(held.end()));
  held.erase(due, held.end());
  for (auto& h : out)
    reply(self, h.id, std::move(h.body));
}

} // namespace hallmark::peer_session_detail
