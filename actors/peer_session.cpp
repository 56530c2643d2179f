#include "actors/peer_session.hpp"

#include <map>

#include <caf/io/broker.hpp>
#include <caf/io/system_messages.hpp>
#include <caf/response_promise.hpp>

#include "core/log.hpp"
#include "messages/codec_capnp.hpp"
#include "messages/registration_capnp.hpp"
#include "messages/wire.capnp.h"

namespace hallmark {

namespace {

using caf::io::broker;
using caf::io::connection_handle;
using caf::io::receive_policy;

struct pending_request {
  caf::response_promise promise;
  std::chrono::steady_clock::time_point deadline;
};

struct session_state {
  session_deps deps;
  connection_handle hdl;
  std::string address;
  bool inbound = false;
  std::optional<handshake> hs;
  frame_sealer tx;
  frame_opener rx;
  bool linked = false;
  bool reading_header = true;
  bool closed = false;
  public_key peer{};
  std::chrono::steady_clock::time_point handshake_deadline;
  uint64_t next_id = 1;
  std::map<uint64_t, pending_request> pending;
};

using state_ptr = std::shared_ptr<session_state>;

kj::ArrayPtr<const kj::byte> data_of(byte_view x) {
  return {x.data(), x.size()};
}

std::string peer_name(const state_ptr& st) {
  auto hex = to_hex(st->peer);
  return (st->linked ? hex.substr(0, 16) : std::string{"?"}) + "@"
         + st->address;
}

void write_frame(broker* self, const state_ptr& st, byte_view bytes) {
  uint8_t len[4];
  put_u32(len, static_cast<uint32_t>(bytes.size()));
  self->write(st->hdl, 4, len);
  self->write(st->hdl, bytes.size(), bytes.data());
  self->flush(st->hdl);
}

/// Seals and sends one Envelope.
void send_envelope(broker* self, const state_ptr& st, byte_view plaintext) {
  if (st->closed || !st->linked)
    return;
  auto sealed = st->tx.seal(plaintext);
  if (sealed.empty()) {
    log_warning("peer_session", "{}: envelope of {} bytes not sent (too large)",
                peer_name(st), plaintext.size());
    return;
  }
  write_frame(self, st, sealed);
}

template <class F>
std::vector<uint8_t> build_envelope(uint64_t id, F&& fill) {
  capnp::MallocMessageBuilder msg;
  auto env = msg.initRoot<schema::Envelope>();
  env.setId(id);
  fill(env);
  auto words = capnp::messageToFlatArray(msg);
  auto bytes = words.asBytes();
  return {bytes.begin(), bytes.end()};
}

/// Ends the link. `fault` marks misbehaviour: the session then exits with
/// that error, which the listener counts against the peer's host.
void close_link(broker* self, const state_ptr& st, const std::string& why,
                ec fault = ec::none) {
  if (st->closed)
    return;
  st->closed = true;
  log_info("peer_session", "{}: link closed: {}", peer_name(st), why);
  for (auto& [id, p] : st->pending)
    p.promise.deliver(make_error(ec::io, "link closed: " + why));
  st->pending.clear();
  self->close(st->hdl);
  if (fault == ec::none)
    self->quit();
  else
    self->quit(make_error(fault, why));
}

void charge(broker* self, const state_ptr& st, int32_t points,
            const std::string& reason) {
  self->send(st->deps.connector, atom::misbehave::value, st->peer, st->address,
             points, reason);
}

void reply_error(broker* self, const state_ptr& st, uint64_t id, ec code,
                 const std::string& reason) {
  send_envelope(self, st, build_envelope(id, [&](schema::Envelope::Builder e) {
                  auto r = e.initError();
                  r.setCode(static_cast<uint8_t>(code));
                  r.setReason(reason);
                }));
}

/// Logs a chain read that failed and answers the request with ec::storage.
void refuse_storage(broker* self, const state_ptr& st, uint64_t id,
                    const caf::error& err) {
  log_error("peer_session", "{}: {}", peer_name(st), message_of(err));
  reply_error(self, st, id, ec::storage, message_of(err));
}

/// Serves `from..from+count` of our chain as `blocks`.
void serve_blocks(broker* self, const state_ptr& st, uint64_t id, uint64_t from,
                  uint32_t count) {
  std::vector<encoded> bodies;
  size_t bytes = 0;
  caf::error failed;
  {
    chain_reader view{*st->deps.chain};
    auto n = std::min(count, st->deps.limits.max_blocks);
    for (uint64_t h = from; h < from + n; ++h) {
      auto body = view.body_at(h);
      if (!body)
        break;
      if (!bodies.empty()
          && bytes + body->size() > st->deps.limits.max_reply_bytes)
        break;
      bytes += body->size();
      bodies.push_back(std::move(*body));
    }
    failed = view.failure();
  }
  if (failed)
    return refuse_storage(self, st, id, failed);
  send_envelope(self, st, build_envelope(id, [&](schema::Envelope::Builder e) {
                  auto list = e.initBlocks(
                    static_cast<unsigned>(bodies.size()));
                  for (unsigned i = 0; i < bodies.size(); ++i)
                    list.set(i, data_of(bodies[i].bytes()));
                }));
}

void serve_hashes(broker* self, const state_ptr& st, uint64_t id, uint64_t from,
                  uint32_t count) {
  std::vector<hash256> hashes;
  caf::error failed;
  {
    chain_reader view{*st->deps.chain};
    auto n = std::min(count, st->deps.limits.max_hashes);
    for (uint64_t h = from; h < from + n; ++h) {
      auto x = view.hash_at(h);
      if (!x)
        break;
      hashes.push_back(*x);
    }
    failed = view.failure();
  }
  if (failed)
    return refuse_storage(self, st, id, failed);
  send_envelope(self, st, build_envelope(id, [&](schema::Envelope::Builder e) {
                  auto list = e.initHashes(
                    static_cast<unsigned>(hashes.size()));
                  for (unsigned i = 0; i < hashes.size(); ++i)
                    list.set(i, data_of(hashes[i]));
                }));
}

void serve_info(broker* self, const state_ptr& st, uint64_t id) {
  self->request(st->deps.processor, std::chrono::seconds{30}, atom::tip::value)
    .then(
      [=](chain_tip& tip) {
        send_envelope(self, st,
                      build_envelope(id, [&](schema::Envelope::Builder e) {
                        auto info = e.initInfo();
                        info.setChain(st->deps.settings->chain);
                        info.setVersion(HALLMARK_VERSION);
                        info.setHeight(tip.height);
                        info.setTip(data_of(tip.hash));
                        info.setWork(tip.work);
                      }));
      },
      [=](caf::error& err) {
        reply_error(self, st, id, ec::storage, message_of(err));
      });
}

bool is_fault(ec code) {
  switch (code) {
  case ec::malformed:
  case ec::too_large:
  case ec::bad_signature:
  case ec::bad_record:
  case ec::bad_proof:
  case ec::bad_block:
  case ec::bad_work:
  case ec::bad_difficulty:
  case ec::self_link:
    return true;
  default:
    return false;
  }
}

/// A block broadcast: apply it; relay it on if it joined our chain.
void take_block(broker* self, const state_ptr& st, encoded env,
                encoded block_bytes) {
  self
    ->request(st->deps.processor, std::chrono::seconds{60}, atom::blocks::value,
              std::vector<encoded>{block_bytes}, false)
    .then(
      [=](apply_report& r) {
        if (r.applied > 0)
          self->send(st->deps.connector, atom::relay::value, env,
                     self->address());
      },
      [=](caf::error& err) {
        if (is_fault(code_of(err)))
          charge(self, st, st->deps.limits.bad_block_points,
                 "invalid block: " + message_of(err));
      });
}

/// A records broadcast: submit; relay what the reservoir accepted.
void take_records(broker* self, const state_ptr& st, encoded env,
                  encoded list) {
  self
    ->request(st->deps.pool, std::chrono::seconds{60}, atom::submit::value,
              list)
    .then(
      [=](std::vector<hash256>&) {
        self->send(st->deps.connector, atom::relay::value, env,
                   self->address());
      },
      [=](caf::error& err) {
        if (is_fault(code_of(err)))
          charge(self, st, st->deps.limits.bad_records_points,
                 "invalid records: " + message_of(err));
      });
}

void take_registration(broker* self, const state_ptr& st, uint64_t id,
                       caf::expected<registration> reg, bool relayed) {
  if (!reg) {
    if (id != 0)
      reply_error(self, st, id, code_of(reg.error()), message_of(reg.error()));
    charge(self, st, st->deps.limits.bad_records_points,
           "bad registration: " + message_of(reg.error()));
    return;
  }
  if (!st->deps.announcer) {
    if (id != 0)
      reply_error(self, st, id, ec::bad_request, "no announcer");
    return;
  }
  if (relayed) {
    self->send(st->deps.announcer, atom::announce::value, *reg);
    return;
  }
  self
    ->request(st->deps.announcer, std::chrono::seconds{30},
              atom::registr::value, *reg, st->peer)
    .then(
      [=](std::vector<registration>& others) {
        send_envelope(
          self, st, build_envelope(id, [&](schema::Envelope::Builder e) {
            auto list = e.initPeers(static_cast<unsigned>(others.size()));
            for (unsigned i = 0; i < others.size(); ++i)
              write(list[i], others[i]);
          }));
      },
      [=](caf::error& err) {
        reply_error(self, st, id, code_of(err), message_of(err));
        charge(self, st, st->deps.limits.bad_records_points,
               "refused registration: " + message_of(err));
      });
}

/// One decrypted Envelope from the peer.
void on_envelope(broker* self, const state_ptr& st, encoded env) {
  capnp::FlatArrayMessageReader reader{words_of(env),
                                       reader_options({max_link_plaintext})};
  auto e = reader.getRoot<schema::Envelope>();
  auto id = e.getId();
  switch (e.which()) {
  case schema::Envelope::INFO_REQUEST:
    serve_info(self, st, id);
    return;
  case schema::Envelope::BLOCKS_REQUEST:
    serve_blocks(self, st, id, e.getBlocksRequest().getFrom(),
                 e.getBlocksRequest().getCount());
    return;
  case schema::Envelope::HASHES_REQUEST:
    serve_hashes(self, st, id, e.getHashesRequest().getFrom(),
                 e.getHashesRequest().getCount());
    return;
  case schema::Envelope::PING:
    send_envelope(self, st, build_envelope(id, [](schema::Envelope::Builder r) {
                    r.setPong();
                  }));
    return;
  case schema::Envelope::REGISTER:
    take_registration(self, st, id, read(e.getRegister()), false);
    return;
  case schema::Envelope::ANNOUNCE:
    take_registration(self, st, 0, read(e.getAnnounce()), true);
    return;
  case schema::Envelope::RECORDS: {
    capnp::MallocMessageBuilder copy;
    copy.setRoot(e.getRecords());
    take_records(self, st, env, freeze(copy));
    return;
  }
  case schema::Envelope::BLOCK: {
    auto b = encoded::copy_of(
      byte_view{e.getBlock().begin(), e.getBlock().size()});
    if (!b) {
      charge(self, st, st->deps.limits.bad_block_points,
             "block broadcast of a bad size");
      return;
    }
    take_block(self, st, env, std::move(*b));
    return;
  }
  case schema::Envelope::INFO:
  case schema::Envelope::BLOCKS:
  case schema::Envelope::HASHES:
  case schema::Envelope::PEERS:
  case schema::Envelope::ERROR:
  case schema::Envelope::PONG: {
    auto p = st->pending.find(id);
    if (p == st->pending.end()) {
      // A late answer to a request that timed out: not an offence.
      return;
    }
    p->second.promise.deliver(env);
    st->pending.erase(p);
    return;
  }
  default:
    charge(self, st, st->deps.limits.bad_records_points,
           "unknown envelope kind");
  }
}

void on_frame(broker* self, const state_ptr& st, byte_view frame) {
  if (!st->linked) {
    auto step = st->hs->receive(frame);
    if (!step.send.empty())
      write_frame(self, st, step.send);
    if (step.error) {
      st->peer = st->hs->peer();
      charge(self, st,
             code_of(step.error) == ec::wrong_chain
               ? 0
               : st->deps.limits.bad_frame_points / 2,
             "handshake failed: " + message_of(step.error));
      close_link(self, st, "handshake: " + message_of(step.error),
                 code_of(step.error) == ec::wrong_chain ? ec::none
                                                        : code_of(step.error));
      return;
    }
    if (step.established) {
      st->linked = true;
      st->peer = st->hs->peer();
      st->tx = st->hs->take_sealer();
      st->rx = st->hs->take_opener();
      peer_link link;
      link.session = caf::actor_cast<caf::actor>(self);
      link.key = st->peer;
      link.inbound = st->inbound;
      link.address = st->address;
      link.version = st->hs->version();
      st->hs.reset();
      log_info("peer_session", "{}: linked ({}, protocol {})", peer_name(st),
               link.inbound ? "inbound" : "outbound", link.version);
      self->send(st->deps.connector, atom::up::value, std::move(link));
    }
    return;
  }
  auto plain = st->rx.open(frame);
  if (!plain) {
    charge(self, st, st->deps.limits.bad_frame_points,
           "undecryptable frame: " + message_of(plain.error()));
    close_link(self, st, message_of(plain.error()), code_of(plain.error()));
    return;
  }
  auto env = encoded::copy_of(*plain);
  if (!env) {
    charge(self, st, st->deps.limits.bad_frame_points,
           "envelope of a bad size");
    close_link(self, st, "envelope of a bad size", ec::malformed);
    return;
  }
  try {
    on_envelope(self, st, std::move(*env));
  } catch (const kj::Exception& e) {
    auto why = std::string{"undecodable envelope: "}
               + e.getDescription().cStr();
    charge(self, st, st->deps.limits.bad_frame_points, why);
    close_link(self, st, why, ec::malformed);
  }
}

/// Sends a local actor's request, with a fresh id, and answers it with the
/// peer's response.
void forward_request(broker* self, const state_ptr& st, const encoded& env,
                     caf::response_promise rp) {
  if (st->closed || !st->linked) {
    rp.deliver(make_error(ec::io, "link is not up"));
    return;
  }
  auto id = st->next_id++;
  std::vector<uint8_t> bytes;
  try {
    capnp::FlatArrayMessageReader reader{words_of(env),
                                         reader_options({max_link_plaintext})};
    capnp::MallocMessageBuilder msg;
    msg.setRoot(reader.getRoot<schema::Envelope>());
    msg.getRoot<schema::Envelope>().setId(id);
    auto words = capnp::messageToFlatArray(msg);
    auto b = words.asBytes();
    bytes.assign(b.begin(), b.end());
  } catch (const kj::Exception& e) {
    rp.deliver(make_error(ec::malformed, e.getDescription().cStr()));
    return;
  }
  st->pending.emplace(
    id, pending_request{std::move(rp), std::chrono::steady_clock::now()
                                         + st->deps.limits.request_timeout});
  send_envelope(self, st, bytes);
}

void schedule_tick(broker* self) {
  self->delayed_send(self, std::chrono::seconds{1}, atom::tick::value);
}

} // namespace

caf::behavior peer_session(broker* self, connection_handle hdl,
                           session_deps deps,
                           std::optional<public_key> expected,
                           std::string address) {
  auto st = std::make_shared<session_state>();
  st->deps = std::move(deps);
  st->hdl = hdl;
  st->address = std::move(address);
  st->inbound = !expected.has_value();
  st->handshake_deadline = std::chrono::steady_clock::now()
                           + st->deps.limits.handshake_timeout;
  if (expected) {
    st->peer = *expected;
    st->hs.emplace(handshake::initiator(*st->deps.settings, *expected));
    write_frame(self, st, st->hs->hello());
  } else {
    st->hs.emplace(handshake::responder(*st->deps.settings));
  }
  self->configure_read(hdl, receive_policy::exactly(4));
  schedule_tick(self);
  return {
    [=](caf::io::new_data_msg& msg) {
      if (st->closed)
        return;
      byte_view data{reinterpret_cast<const uint8_t*>(msg.buf.data()),
                     msg.buf.size()};
      if (st->reading_header) {
        auto len = get_u32(data.data());
        auto cap = st->linked ? max_link_frame : max_handshake_frame;
        if (len == 0 || len > cap) {
          charge(self, st, st->deps.limits.bad_frame_points,
                 "frame length " + std::to_string(len) + " outside 1.."
                   + std::to_string(cap));
          close_link(self, st, "frame length " + std::to_string(len),
                     len == 0 ? ec::malformed : ec::too_large);
          return;
        }
        st->reading_header = false;
        self->configure_read(hdl, receive_policy::exactly(len));
        return;
      }
      st->reading_header = true;
      self->configure_read(hdl, receive_policy::exactly(4));
      on_frame(self, st, data);
    },
    [=](const caf::io::connection_closed_msg&) {
      close_link(self, st, "peer closed the connection");
    },
    [=](atom::request, const encoded& env) {
      auto rp = self->make_response_promise();
      forward_request(self, st, env, rp);
      return rp;
    },
    [=](atom::send, const encoded& env) {
      send_envelope(self, st, env.bytes());
    },
    [=](atom::tick) {
      if (st->closed)
        return;
      auto now = std::chrono::steady_clock::now();
      if (!st->linked && now > st->handshake_deadline) {
        close_link(self, st, "handshake took too long", ec::io);
        return;
      }
      for (auto i = st->pending.begin(); i != st->pending.end();) {
        if (now > i->second.deadline) {
          i->second.promise.deliver(
            make_error(ec::io, "peer did not answer in time"));
          i = st->pending.erase(i);
        } else {
          ++i;
        }
      }
      schedule_tick(self);
    },
  };
}

} // namespace hallmark
