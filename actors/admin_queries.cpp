#include "actors/admin_queries.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "messages/codec_capnp.hpp"
#include "messages/envelope.hpp"

namespace hallmark {

namespace {

using caf::io::connection_handle;

void finish_status(admin_broker* self, connection_handle hdl,
                   const chain_tip& tip, const reservoir_status& pool,
                   const connector_status& net,
                   const std::optional<state_sync_status>& sync) {
  auto& deps = self->state.deps;
  respond(self, hdl, [&](schema::Reply::Builder r) {
    auto s = r.initStatus();
    s.setChain(deps.chain_name);
    s.setHeight(tip.height);
    s.setTip(data_of(tip.hash));
    s.setTipTimestamp(tip.hdr.timestamp);
    s.setPublicKey(data_of(deps.identity));
    s.setCumulativeWork(to_decimal(tip.work));
    s.setNextDifficulty(tip.next_difficulty);
    s.setIssueDifficulty(deps.chain->params().issue_difficulty);
    s.setPendingRecords(pool.pending);
    s.setPendingAssets(pool.assets);
    s.setPendingIssues(pool.issues);
    s.setPendingTransfers(pool.transfers);
    s.setProducing(static_cast<bool>(deps.producer));
    s.setVersion(HALLMARK_VERSION);
    s.setAnchorWindow(
      static_cast<uint32_t>(deps.chain->params().anchor_window));
    s.setConnectorState(net.state);
    s.setPeers(static_cast<uint32_t>(net.links));
    s.setSyncTarget(net.target);
    s.setFetchError(net.fetch_error);
    if (net.deep_fork_depth > 0) {
      auto& key = net.deep_fork_peer;
      s.setDeepForkPeer(capnp::Data::Reader{key.data(), key.size()});
      s.setDeepForkHeight(net.deep_fork_height);
      s.setDeepForkDepth(net.deep_fork_depth);
      s.setDeepForkTipHeight(net.deep_fork_tip_height);
    }
    if (net.fetching) {
      auto b = s.initBlockSync();
      b.setFromHeight(net.fetch_from);
      b.setHeight(net.fetch_height);
      b.setTargetHeight(net.fetch_target);
      b.setRecordsPerSecond(net.fetch_records_per_s);
      b.setEtaSeconds(net.fetch_eta_s);
      b.setPeers(net.fetch_peers);
      b.setElapsedMs(net.fetch_elapsed_ms);
    }
    if (sync) {
      auto p = s.initStateSync();
      p.setPhase(sync->phase);
      p.setHeaders(sync->headers);
      p.setBestHeight(sync->best_height);
      p.setTargetHeight(sync->target_height);
      p.setTargetRoot(data_of(sync->target_root));
      p.setRangesDone(sync->ranges_done);
      p.setRangesLeft(sync->ranges_left);
      p.setKeys(sync->keys);
      p.setResumedKeys(sync->resumed_keys);
      p.setBytes(sync->bytes);
      p.setKeysPerSecond(sync->keys_per_s);
      p.setEtaSeconds(sync->eta_s);
      p.setRetargets(sync->retargets);
      p.setBadProofs(sync->bad_proofs);
      p.setElapsedMs(sync->elapsed_ms);
      p.setError(sync->error);
    }
  });
}

/// Adds the state sync's progress, when one runs, and replies.
void status_with_sync(admin_broker* self, connection_handle hdl,
                      const chain_tip& tip, const reservoir_status& pool,
                      const connector_status& net) {
  auto& sync = self->state.deps.sync;
  if (!sync) {
    finish_status(self, hdl, tip, pool, net, std::nullopt);
    return;
  }
  self->request(sync, std::chrono::seconds{30}, atom::status_v)
    .then(
      [=](state_sync_status& progress) {
        finish_status(self, hdl, tip, pool, net, progress);
      },
      fail_with(self, hdl));
}

/// One entry of an item's provenance; height -1 is pending.
struct prov_entry {
  hash256 id;
  std::string kind;
  public_key owner;
  int64_t height;
};

/// Replies with an item: its chain history (newest first) topped by its
/// pending transfers.
void finish_item(admin_broker* self, connection_handle hdl, hash256 item,
                 hash256 asset, std::vector<prov_entry> history,
                 uint64_t history_from = 0) {
  auto latest = history.front().id;
  self
    ->request(self->state.deps.pool, std::chrono::seconds{30}, atom::after_v,
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
        respond(self, hdl, [&](schema::Reply::Builder r) {
          auto out = r.initItem();
          out.setItemId(data_of(item));
          out.setAssetId(data_of(asset));
          out.setOwner(data_of(all.front().owner));
          out.setHistoryFrom(history_from);
          auto list = out.initProvenance(static_cast<unsigned>(all.size()));
          for (unsigned i = 0; i < all.size(); ++i) {
            list[i].setRecordId(data_of(all[i].id));
            list[i].setKind(all[i].kind);
            list[i].setOwner(data_of(all[i].owner));
            list[i].setHeight(all[i].height);
          }
        });
      },
      fail_with(self, hdl));
}

/// Replies with a record that is not on the chain but may be pending.
void serve_pending_record(admin_broker* self, connection_handle hdl, hash256 id,
                          bool asset_only = false) {
  self
    ->request(self->state.deps.pool, std::chrono::seconds{30}, atom::lookup_v,
              id)
    .then(
      [=](std::vector<pending_record>& found) {
        auto is_asset = [&] {
          if (found.empty())
            return false;
          auto r = decode_record(found.front().record);
          return r && std::holds_alternative<asset>(*r)
                 && asset_id(std::get<asset>(*r)) == id;
        };
        if (asset_only && !is_asset()) {
          respond_error(self, hdl,
                        make_error(ec::not_found, "no asset " + to_hex(id)
                                                    + " on chain or pending"));
          return;
        }
        if (found.empty()) {
          std::string why = "no record " + to_hex(id) + " on chain or pending";
          chain_reader view{*self->state.deps.chain};
          if (auto base = view.state_base())
            why += "; this node began at height " + std::to_string(base->height)
                   + " with a state sync and keeps, of the records before "
                     "it, only each item's latest and each asset's "
                     "registration";
          respond_error(self, hdl, make_error(ec::not_found, why));
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
        respond(self, hdl, [&](schema::Reply::Builder out_reply) {
          auto out = out_reply.initRecord();
          // The record's own id (asked by an asset's id, its registration).
          out.setRecordId(data_of(p.id));
          out.setRecord(data_of(p.record.bytes()));
          out.setHeight(-1);
          if (kind == "issue")
            out.setItemId(data_of(item));
          out.setSub(p.sub);
          out.setKind(kind);
        });
      },
      fail_with(self, hdl));
}

} // namespace

namespace {

/// Status from `tip`: asks the reservoir and the connector, which answer
/// at once, for the rest.
void status_with_tip(admin_broker* self, connection_handle hdl, chain_tip tip) {
  auto fail = fail_with(self, hdl);
  self->request(self->state.deps.pool, std::chrono::seconds{30}, atom::status_v)
    .then(
      [=](reservoir_status& pool) {
        auto& net = self->state.deps.connector;
        if (!net) {
          status_with_sync(self, hdl, tip, pool, connector_status{});
          return;
        }
        self->request(net, std::chrono::seconds{30}, atom::status_v)
          .then(
            [=](connector_status& links) {
              status_with_sync(self, hdl, tip, pool, links);
            },
            fail);
      },
      fail);
}

} // namespace

void serve_status(admin_broker* self, connection_handle hdl) {
  // The committed tip from the board: block_processor may be busy with a
  // batch for a second or more, and status answers in milliseconds.
  if (auto& board = self->state.deps.board)
    if (auto tip = board->read()) {
      status_with_tip(self, hdl, std::move(*tip));
      return;
    }
  self
    ->request(self->state.deps.processor, std::chrono::seconds{30}, atom::tip_v)
    .then([=](chain_tip& tip) { status_with_tip(self, hdl, std::move(tip)); },
          fail_with(self, hdl));
}

namespace {

/// Answers with `peers` as a Reply.peers.
void respond_peers(admin_broker* self, connection_handle hdl,
                   const std::vector<peer_status>& peers) {
  respond(self, hdl, [&](schema::Reply::Builder r) {
    auto list = r.initPeers(static_cast<unsigned>(peers.size()));
    for (unsigned i = 0; i < peers.size(); ++i) {
      auto& p = peers[i];
      auto out = list[i];
      out.setKey(data_of(p.key));
      auto addrs = out.initAddresses(static_cast<unsigned>(p.addresses.size()));
      for (unsigned j = 0; j < p.addresses.size(); ++j)
        addrs.set(j, p.addresses[j]);
      out.setIsStatic(p.is_static);
      out.setInbound(p.inbound);
      out.setLink(p.link);
      out.setHeight(p.height);
      out.setTip(data_of(p.tip));
      out.setLastSeen(p.last_seen);
      out.setScore(p.score);
      out.setBannedUntil(p.banned_until);
    }
  });
}

/// Sends `xs...` to the connector and answers with the peers it returns;
/// without a network, an empty list (or bad_request for a change).
template <class... Ts>
void ask_connector(admin_broker* self, connection_handle hdl, bool change,
                   Ts... xs) {
  auto& net = self->state.deps.connector;
  if (!net) {
    if (change)
      respond_error(self, hdl,
                    make_error(ec::bad_request, "the node runs without a "
                                                "network: no peers to ban"));
    else
      respond_peers(self, hdl, {});
    return;
  }
  self->request(net, std::chrono::seconds{30}, xs...)
    .then(
      [=](std::vector<peer_status>& peers) { respond_peers(self, hdl, peers); },
      fail_with(self, hdl));
}

} // namespace

void serve_peers(admin_broker* self, connection_handle hdl) {
  ask_connector(self, hdl, false, atom::peers_v);
}

void serve_ban(admin_broker* self, connection_handle hdl, public_key key,
               uint64_t seconds) {
  ask_connector(self, hdl, true, atom::ban_v, key, seconds);
}

void serve_unban(admin_broker* self, connection_handle hdl, public_key key) {
  ask_connector(self, hdl, true, atom::unban_v, key);
}

void serve_item(admin_broker* self, connection_handle hdl, hash256 item) {
  std::vector<prov_entry> history;
  hash256 asset{};
  uint64_t history_from = 0;
  {
    chain_reader view{*self->state.deps.chain};
    if (auto s = view.find_item(item)) {
      asset = s->asset;
      for (auto& [id, loc] : view.provenance(item))
        history.push_back({id, to_string(loc.kind), loc.owner,
                           static_cast<int64_t>(loc.height)});
      // After a state sync an item's history may begin with a transfer:
      // what came before is not kept here.
      if (auto base = view.state_base();
          base && !history.empty() && history.back().kind != "issue")
        history_from = base->height;
    }
    if (auto err = view.failure())
      return respond_error(self, hdl, err);
  }
  if (!history.empty()) {
    finish_item(self, hdl, item, asset, std::move(history), history_from);
    return;
  }
  // Not on chain: perhaps an issue still pending.
  self
    ->request(self->state.deps.pool, std::chrono::seconds{30}, atom::lookup_v,
              item)
    .then(
      [=](std::vector<pending_record>& found) {
        if (!found.empty()) {
          auto r = decode_record(found.front().record);
          if (r && std::holds_alternative<issue_batch>(*r)) {
            auto& b = std::get<issue_batch>(*r);
            if (found.front().sub < b.issues.size()) {
              auto& i = b.issues[found.front().sub];
              finish_item(self, hdl, item, i.asset_id,
                          {{item, "issue", i.owner, -1}});
              return;
            }
          }
        }
        respond_error(self, hdl,
                      make_error(ec::not_found, "no item " + to_hex(item)
                                                  + " on chain or pending"));
      },
      fail_with(self, hdl));
}

void serve_owner(admin_broker* self, connection_handle hdl, public_key owner) {
  std::vector<hash256> items;
  {
    chain_reader view{*self->state.deps.chain};
    items = view.items_of(owner);
    if (auto err = view.failure())
      return respond_error(self, hdl, err);
  }
  respond(self, hdl, [&](schema::Reply::Builder r) {
    auto out = r.initOwner();
    out.setOwner(data_of(owner));
    auto list = out.initItems(static_cast<unsigned>(items.size()));
    for (unsigned i = 0; i < items.size(); ++i)
      list.set(i, data_of(items[i]));
  });
}

void serve_asset(admin_broker* self, connection_handle hdl, hash256 asset) {
  std::optional<asset_entry> found;
  {
    chain_reader view{*self->state.deps.chain};
    found = view.find_asset(asset);
    if (auto err = view.failure())
      return respond_error(self, hdl, err);
  }
  if (found)
    return serve_record(self, hdl, found->second);
  // The reservoir finds a pending registration by its asset's id too (and
  // any other record by its own id: not an answer here).
  serve_pending_record(self, hdl, asset, true);
}

void serve_record(admin_broker* self, connection_handle hdl, hash256 id) {
  std::optional<record_location> loc;
  std::optional<encoded> rec;
  uint64_t state_base = 0;
  {
    chain_reader view{*self->state.deps.chain};
    loc = view.find_record(id);
    if (auto err = view.failure())
      return respond_error(self, hdl, err);
    auto base = view.state_base();
    if (loc && base && loc->height <= base->height) {
      // Known from the state sync: where and whose, not the bytes.
      state_base = base->height;
      rec = encoded{};
    } else if (loc) {
      auto body = view.body_at(loc->height);
      if (auto err = view.failure())
        return respond_error(self, hdl, err);
      auto b = body ? decode_block(*body)
                    : caf::expected<block>{
                      make_error(ec::storage, "block body missing")};
      if (!b || loc->index >= b->records.size()) {
        respond_error(self, hdl,
                      make_error(ec::storage, "record's block is unreadable"));
        return;
      }
      rec = encode(b->records[loc->index]);
    }
  }
  if (!loc) {
    serve_pending_record(self, hdl, id);
    return;
  }
  respond(self, hdl, [&](schema::Reply::Builder r) {
    auto out = r.initRecord();
    out.setRecordId(data_of(id));
    out.setRecord(data_of(rec->bytes()));
    out.setHeight(static_cast<int64_t>(loc->height));
    if (loc->kind != record_kind::asset)
      out.setItemId(data_of(loc->item));
    out.setSub(loc->sub);
    out.setKind(to_string(loc->kind));
    out.setStateBase(state_base);
    out.setOwner(data_of(loc->owner));
  });
}

void serve_block(admin_broker* self, connection_handle hdl,
                 std::optional<uint64_t> height, std::optional<hash256> hash) {
  chain_reader view{*self->state.deps.chain};
  if (hash)
    height = view.height_of(*hash);
  auto body = height ? view.body_at(*height) : std::nullopt;
  auto h = height ? view.hash_at(*height) : std::nullopt;
  auto hdr = height ? view.header_at(*height) : std::nullopt;
  auto base = view.state_base();
  if (auto err = view.failure())
    return respond_error(self, hdl, err);
  // At or below a state sync's base only the header is kept: it is
  // answered alone, and the CLI says why.
  bool header_only = !body && h && hdr && base && *height <= base->height;
  if ((!body && !header_only) || !h || !hdr) {
    respond_error(self, hdl,
                  make_error(ec::not_found, "no such block on the best chain"));
    return;
  }
  auto header = header_bytes(*hdr);
  respond(self, hdl, [&](schema::Reply::Builder r) {
    auto out = r.initBlock();
    out.setHash(data_of(*h));
    if (body)
      out.setBlock(data_of(body->bytes()));
    out.setHeader(data_of(header));
  });
}

void serve_state_proof(admin_broker* self, connection_handle hdl,
                       hash256 item) {
  chain_reader view{*self->state.deps.chain};
  auto tip = view.tip();
  if (auto err = view.failure())
    return respond_error(self, hdl, err);
  auto key = trie::item_key(item);
  trie::trie_update nodes{view.trie_nodes()};
  auto proof = trie::prove_range(nodes, view.state_values(), view.state_scan(),
                                 key, key, 1, trie::max_proof_bytes);
  if (!proof)
    return respond_error(self, hdl, proof.error());
  auto env = wire::encode(wire::envelope{0, wire::state_range{*proof}});
  if (!env)
    return respond_error(self, hdl, env.error());
  auto header = header_bytes(tip.hdr);
  respond(self, hdl, [&](schema::Reply::Builder r) {
    auto out = r.initStateProof();
    out.setHeader(data_of(header));
    out.setProof(data_of(env->bytes()));
  });
}

void serve_export(admin_broker* self, connection_handle hdl, uint64_t from,
                  uint32_t count) {
  std::vector<encoded> bodies;
  size_t bytes = 0;
  {
    chain_reader view{*self->state.deps.chain};
    auto base = view.state_base();
    if (base && from > 0 && from <= base->height)
      return respond_error(
        self, hdl,
        make_error(ec::not_found,
                   "blocks up to height " + std::to_string(base->height)
                     + " are not kept: a state sync began this chain there; "
                       "export from "
                     + std::to_string(base->height + 1)));
    for (uint64_t h = from; h < from + std::min<uint32_t>(count, 1000); ++h) {
      auto body = view.body_at(h);
      if (!body || bytes + body->size() > max_admin_frame - 1024 * 1024)
        break;
      bytes += body->size();
      bodies.push_back(std::move(*body));
    }
    if (auto err = view.failure())
      return respond_error(self, hdl, err);
  }
  respond(self, hdl, [&](schema::Reply::Builder r) {
    auto out = r.initBlocks(static_cast<unsigned>(bodies.size()));
    for (unsigned i = 0; i < bodies.size(); ++i)
      out.set(i, data_of(bodies[i].bytes()));
  });
}

} // namespace hallmark
