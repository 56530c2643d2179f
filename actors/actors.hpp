// Every typed actor interface of Hallmark, the atoms and the message types
// they exchange. Behaviours live in actors/X.cpp; node/node.cpp wires them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/io/system_messages.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/type_id.hpp>
#include <caf/typed_actor.hpp>

#include "core/chain.hpp"
#include "messages/codec.hpp"
#include "messages/registration.hpp"

// -- atoms (text ≤ 10 characters): `atom::X` is the type, `atom::X_v` its value

CAF_BEGIN_TYPE_ID_BLOCK(hallmark_atoms, caf::first_custom_type_id)
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, blocks, "blocks")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, tip, "tip")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, reorg, "reorg")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, flush, "flush")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, stop, "stop")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, verify, "verify")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, submit, "submit")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, take, "take")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, applied, "applied")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, unwound, "unwound")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, lookup, "lookup")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, after, "after")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, status, "status")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, expire, "expire")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, tick, "tick")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, subscribe, "subscribe")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, up, "up")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, relay, "relay")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, peers, "peers")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, misbehave, "misbehave")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, candidates, "candidates")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, announce, "announce")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, registr, "register")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, listen, "listen")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, activate, "activate")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, terminate, "terminate")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, end, "end")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, fetch, "fetch")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, reset, "reset")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, progress, "progress")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, info, "info")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, hashes, "hashes")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, block, "block")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, ban, "ban")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, unban, "unban")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, prepare, "prepare")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, prove, "prove")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, headers, "headers")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, links, "links")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, assume, "assume")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, resolve, "resolve")
  CAF_ADD_ATOM(hallmark_atoms, hallmark::atom, synced, "synced")
CAF_END_TYPE_ID_BLOCK(hallmark_atoms)

namespace hallmark::trie {
struct range_proof;
struct change_proof;
} // namespace hallmark::trie

namespace hallmark {

// -- message types -----------------------------------------------------------

/// A state sync request to a peer (docs/state.md): the key/values of
/// [start, end] at root `to` when `from` is zero, else what changed in
/// [start, end] from root `from` to root `to`; each key 33 bytes.
struct state_request {
  hash256 from{};
  hash256 to{};
  std::array<uint8_t, 33> start{};
  std::array<uint8_t, 33> end{};
  uint32_t key_limit = 0;
  uint32_t byte_limit = 0;
};

/// A peer's answer to a state_request, decoded within the link's limits
/// but not verified: a range proof (also what a change request gets when
/// the peer's history does not reach `from`) or a change proof. Shared and
/// immutable; it never leaves the process.
struct state_reply {
  std::shared_ptr<const trie::range_proof> range;
  std::shared_ptr<const trie::change_proof> change;
  uint64_t bytes = 0; ///< the answer's frame on the wire
};

/// The chain's tip as block_processor holds it, with what the next block
/// must carry.
struct chain_tip {
  uint64_t height = 0;
  hash256 hash{};
  header hdr;
  work_t work = 0; ///< cumulative work
  uint64_t next_difficulty = 1;
  uint64_t median_time_past = 0;
};

/// Outcome of a batch of blocks handed to block_processor.
struct apply_report {
  uint64_t applied = 0; ///< blocks now on the best chain
  uint64_t unwound = 0; ///< blocks taken off by a reorg
  uint64_t held = 0;    ///< blocks kept aside (side branch or orphan)
  uint64_t known = 0;   ///< blocks already known
  uint64_t records = 0; ///< records in the blocks applied
  uint64_t height = 0;  ///< tip after the batch
  hash256 tip{};
};

/// A slice of decoded blocks for a verifier: immutable, shared, plain C++
/// values (never a Cap'n Proto reader).
struct verify_job {
  struct segment {
    size_t block; ///< index into blocks
    size_t first; ///< first record
    size_t last;  ///< one past the last record
    /// False: the block is an ancestor of the block assumed valid
    /// (`assume_valid`), so its records' signatures are not checked;
    /// check_block still is.
    bool signatures = true;
  };
  std::shared_ptr<const std::vector<block>> blocks;
  std::vector<segment> segments;
};

/// A verifier's verdict: no error, or the first failing block and why.
struct verify_verdict {
  size_t block_index = 0;
  caf::error error; ///< the broken rule, its code intact
  bool ok() const { return !error; }
};

/// A pending record found by id: the record, and the issue's position when
/// the id names one issue of a batch.
struct pending_record {
  hash256 id{};
  encoded record;
  uint16_t sub = 0;
  uint64_t accepted_at = 0;
};

/// Counts of the reservoir.
struct reservoir_status {
  uint64_t pending = 0;
  uint64_t assets = 0;
  uint64_t issues = 0;
  uint64_t transfers = 0;
};

/// A peer's chain as its `info` reply states it.
struct peer_info {
  std::string chain;
  uint64_t height = 0;
  hash256 tip{};
  work_t work = 0;   ///< cumulative work
  uint64_t base = 0; ///< serves blocks from base + 1 (a state sync's start)
};

/// A block that joined the best chain here for the first time.
struct new_block {
  encoded block; ///< an encoded Block
};

/// Records the reservoir admitted for the first time, as one RecordList.
struct new_records {
  encoded list;
};

/// One row of `hallmark peers`.
struct peer_status {
  public_key key{};
  std::vector<std::string> addresses;
  bool is_static = false;
  bool inbound = false;
  std::string link; ///< "up", "connecting", "down" or "banned"
  uint64_t height = 0;
  hash256 tip{};
  uint64_t last_seen = 0;    ///< unix seconds
  int64_t score = 0;         ///< misbehaviour points; banned at the limit
  uint64_t banned_until = 0; ///< unix seconds; 0: not banned
};

struct connector_status {
  std::string state;   ///< Connecting, HighestBlock, ForkDetect, ...
  uint64_t links = 0;  ///< live links
  uint64_t target = 0; ///< best height seen among peers
  /// A heavier branch not followed because it forks deeper than the reorg
  /// window (policy, not the peer's fault): the peer that has it, the last
  /// common height, how many of our blocks it would replace (0: there is
  /// no such branch), and its tip's height.
  public_key deep_fork_peer{};
  uint64_t deep_fork_height = 0;
  uint64_t deep_fork_depth = 0;
  uint64_t deep_fork_tip_height = 0;
  /// Why fetching is paused (this node's storage failed, or the blocks are
  /// not valid yet), retried with backoff; empty: not paused.
  std::string fetch_error;
  /// A block fetch under way (the progress line's figures); all zero when
  /// none is: heights from..target, the height reached, records applied a
  /// second since it began, seconds left (0: unknown), upstreams serving.
  bool fetching = false;
  uint64_t fetch_from = 0;
  uint64_t fetch_height = 0;
  uint64_t fetch_target = 0;
  uint64_t fetch_records_per_s = 0;
  uint64_t fetch_eta_s = 0;
  uint32_t fetch_peers = 0;
  uint64_t fetch_elapsed_ms = 0;
};

/// A state sync's progress (actors/state_sync.hpp), for `hallmark status`.
struct state_sync_status {
  /// "peers" (waiting for a peer ahead), "headers", "ranges", "finishing",
  /// "done"
  std::string phase;
  uint64_t headers = 0;     ///< height of the header chain fetched
  uint64_t best_height = 0; ///< the best height peers claim
  uint64_t target_height = 0;
  hash256 target_root{};
  uint64_t ranges_done = 0;  ///< key ranges held at the target root
  uint64_t ranges_left = 0;  ///< queued or in flight
  uint64_t keys = 0;         ///< key/values held
  uint64_t resumed_keys = 0; ///< of them, held when this run began
  uint64_t bytes = 0;        ///< proof bytes received (frames)
  uint64_t keys_per_s = 0;   ///< key/values received per second, this run
  uint64_t eta_s = 0;        ///< estimated seconds left (0: unknown)
  uint64_t retargets = 0;    ///< times the target moved
  uint64_t bad_proofs = 0;   ///< replies refused as bad
  uint64_t elapsed_ms = 0;   ///< this run
  std::string error;         ///< why it is not moving; empty: it is
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, state_sync_status& x) {
  return f(caf::meta::type_name("state_sync_status"), x.phase, x.headers,
           x.best_height, x.target_height, x.target_root, x.ranges_done,
           x.ranges_left, x.keys, x.resumed_keys, x.bytes, x.keys_per_s,
           x.eta_s, x.retargets, x.bad_proofs, x.elapsed_ms, x.error);
}

/// What the prefetcher tells the connector: how far it got, or why it
/// stopped.
struct fetch_report {
  uint64_t height = 0; ///< best chain height after the blocks applied
  uint64_t target = 0;
  uint64_t records = 0; ///< records applied since the fetch began
  bool done = false;    ///< reached the target
  caf::error failure;   ///< set: the fetch failed; its code says whose fault
  /// The peer `failure` is about (zero: none in particular).
  public_key source{};
  /// `failure` ended only `source`'s part: its ranges went to the other
  /// upstreams and the fetch goes on.
  bool source_only = false;
  uint32_t peers = 0; ///< upstreams serving the fetch now
  uint64_t start = 0; ///< first height of the fetch
  /// Only a sign of life: blocks arrived (not yet applied).
  bool arrival = false;
};

// -- inspection: how CAF copies, compares and prints message types ----------

/// Inspects a message type named `name` with fields `xs` and a 128-bit
/// `work`, which travels as two 64-bit halves after them.
template <class Inspector, class... Ts>
typename Inspector::result_type
inspect_with_work(Inspector& f, const char* name, work_t& work, Ts&... xs) {
  auto hi = static_cast<uint64_t>(work >> 64);
  auto lo = static_cast<uint64_t>(work);
  auto join = caf::meta::load_callback([&]() -> caf::error {
    work = (work_t{hi} << 64) | lo;
    return caf::error{};
  });
  return f(caf::meta::type_name(name), xs..., hi, lo, join);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chain_tip& x) {
  return inspect_with_work(f, "chain_tip", x.work, x.height, x.hash, x.hdr,
                           x.next_difficulty, x.median_time_past);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, state_request& x) {
  return f(caf::meta::type_name("state_request"), x.from, x.to, x.start, x.end,
           x.key_limit, x.byte_limit);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_info& x) {
  return inspect_with_work(f, "peer_info", x.work, x.chain, x.height, x.tip,
                           x.base);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, new_block& x) {
  return f(caf::meta::type_name("new_block"), x.block);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, new_records& x) {
  return f(caf::meta::type_name("new_records"), x.list);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, apply_report& x) {
  return f(caf::meta::type_name("apply_report"), x.applied, x.unwound, x.held,
           x.known, x.records, x.height, x.tip);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, verify_verdict& x) {
  return f(caf::meta::type_name("verify_verdict"), x.block_index, x.error);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pending_record& x) {
  return f(caf::meta::type_name("pending_record"), x.id, x.record, x.sub,
           x.accepted_at);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reservoir_status& x) {
  return f(caf::meta::type_name("reservoir_status"), x.pending, x.assets,
           x.issues, x.transfers);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_status& x) {
  return f(caf::meta::type_name("peer_status"), x.key, x.addresses, x.is_static,
           x.inbound, x.link, x.height, x.tip, x.last_seen, x.score,
           x.banned_until);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connector_status& x) {
  return f(caf::meta::type_name("connector_status"), x.state, x.links, x.target,
           x.deep_fork_peer, x.deep_fork_height, x.deep_fork_depth,
           x.deep_fork_tip_height, x.fetch_error, x.fetching, x.fetch_from,
           x.fetch_height, x.fetch_target, x.fetch_records_per_s, x.fetch_eta_s,
           x.fetch_peers, x.fetch_elapsed_ms);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, fetch_report& x) {
  return f(caf::meta::type_name("fetch_report"), x.height, x.target, x.records,
           x.done, x.failure, x.source, x.source_only, x.peers, x.start,
           x.arrival);
}

// -- actor interfaces --------------------------------------------------------

/// A link to a peer as the rest of the node sees it: requests and relays in
/// domain terms (the Envelopes stay inside actors/peer_session.cpp). Errors
/// carry their `ec`: ec::malformed for a reply that does not decode or is of
/// the wrong kind, the peer's own code for its refusal, ec::io for a link
/// that is down or a reply that did not come in time.
using peer_session_actor = caf::typed_actor<
  // The peer's chain, height, tip and cumulative work.
  caf::replies_to<atom::info>::with<peer_info>,
  // Up to `count` encoded Blocks from height `from`, ascending (fewer if the
  // peer caps its reply, none if it has no block there).
  caf::replies_to<atom::blocks, uint64_t, uint32_t>::with<std::vector<encoded>>,
  // Up to `count` block hashes from height `from`.
  caf::replies_to<atom::hashes, uint64_t, uint32_t>::with<std::vector<hash256>>,
  // Up to `count` headers from height `from`, ascending.
  caf::replies_to<atom::headers, uint64_t, uint32_t>::with<std::vector<header>>,
  // A state sync request; the proof as it decoded, or the peer's refusal.
  caf::replies_to<atom::prove, state_request>::with<state_reply>,
  // Registers us with the peer; replies with the peers it told us of.
  caf::replies_to<atom::registr, registration>::with<std::vector<registration>>,
  // Passes on a block that joined our best chain (one-way).
  caf::reacts_to<atom::relay, new_block>,
  // Passes on records our reservoir admitted (one-way).
  caf::reacts_to<atom::relay, new_records>,
  // Passes on a registration that was new or a real update (one-way).
  caf::reacts_to<atom::relay, registration>>;

/// Where the part that accepted something new publishes it, once, with the
/// link it came from (null: made or submitted here); it goes on to every
/// other link (the connector).
using relay_actor = caf::typed_actor<
  // A block that joined the best chain.
  caf::reacts_to<atom::relay, new_block, caf::actor_addr>,
  // Records admitted to the reservoir.
  caf::reacts_to<atom::relay, new_records, caf::actor_addr>,
  // A registration that was new or a real update.
  caf::reacts_to<atom::relay, registration, caf::actor_addr>>;

/// A live, authenticated link to a peer, as its peer_session reports it.
struct peer_link {
  peer_session_actor session;
  public_key key{};
  bool inbound = false;
  std::string address; ///< the remote end, "host:port"
  uint16_t version = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_link& x) {
  return f(caf::meta::type_name("peer_link"), x.session, x.key, x.inbound,
           x.address, x.version);
}

/// Serves state sync: range and change proofs from committed state
/// (docs/state.md).
using state_server_actor = caf::typed_actor<
  // An encoded Envelope holding a stateRangeRequest or stateChangeRequest;
  // replies with the encoded Envelope that answers it (same id): the proof,
  // or an `error` saying why it cannot be served.
  caf::replies_to<atom::prove, encoded>::with<encoded>>;

/// The state sync client (actors/state_sync.hpp): headers first, then the
/// state at a target root from several peers, then ordinary block sync.
/// What waits for a state sync to end: it is told once, when the whole
/// state is held (actors/state_sync.hpp).
using sync_listener_actor = caf::typed_actor<
  // The state sync is done: blocks, records and lookups may go on.
  caf::reacts_to<atom::synced>>;

using state_sync_actor = caf::typed_actor<
  // Timer: one round of the sync (peers, headers, requests, the target).
  caf::reacts_to<atom::tick>,
  // Progress.
  caf::replies_to<atom::status>::with<state_sync_status>,
  // Tells this listener when the sync is done (at once if it is).
  caf::reacts_to<atom::subscribe, sync_listener_actor>>;

/// Checks blocks' own rules and signatures; one per core.
using verifier_actor = caf::typed_actor<
  // Checks a slice of blocks; replies with the first failure, if any.
  caf::replies_to<atom::verify, verify_job>::with<verify_verdict>>;

/// Pending records: accepts, persists, expires, offers them for blocks.
using reservoir_actor = sync_listener_actor::extend<
  // Accepts a RecordList all-or-nothing from the link `origin` (null: from
  // this node); replies with the records' ids and publishes the list.
  caf::replies_to<atom::submit, encoded,
                  caf::actor_addr>::with<std::vector<hash256>>,
  // Offers up to N records (in dependency order) for the next block.
  caf::replies_to<atom::take, uint32_t>::with<std::vector<encoded>>,
  // Finds a pending record by its id, an issue by its id, or an asset's
  // registration by the asset's id; pending_record.id is the record's.
  caf::replies_to<atom::lookup, hash256>::with<std::vector<pending_record>>,
  // Pending transfers descending from a record id, oldest first.
  caf::replies_to<atom::after, hash256>::with<std::vector<pending_record>>,
  // Counts.
  caf::replies_to<atom::status>::with<reservoir_status>,
  // Records (by leaf id) that entered the best chain.
  caf::reacts_to<atom::applied, std::vector<hash256>>,
  // Records of blocks taken off the best chain, oldest block first.
  caf::reacts_to<atom::unwound, std::vector<encoded>>,
  // Timer: drops expired records.
  caf::reacts_to<atom::expire>,
  // Where admitted records are published (the connector).
  caf::reacts_to<atom::subscribe, relay_actor>>;

/// The only writer of chain data.
using block_processor_actor = sync_listener_actor::extend<
  // Validates and applies encoded blocks (from a peer, the producer or an
  // import); `more` says more blocks follow at once, so the flush may wait.
  caf::replies_to<atom::blocks, std::vector<encoded>, bool>::with<apply_report>,
  // Validates and applies one new block from the link `origin` (null: made
  // here); publishes it if it joined the best chain.
  caf::replies_to<atom::block, encoded, caf::actor_addr>::with<apply_report>,
  // The tip and what the next block must carry.
  caf::replies_to<atom::tip>::with<chain_tip>,
  // The state root an encoded candidate block on the tip must carry: the
  // state's root after its records (a rule's error if one breaks).
  caf::replies_to<atom::prepare, encoded>::with<hash256>,
  // Unwinds N blocks and applies them again (forced reorg).
  caf::replies_to<atom::reorg, uint32_t>::with<apply_report>,
  // Commits everything applied so far.
  caf::replies_to<atom::flush>::with<uint64_t>,
  // Flushes and stops accepting blocks: the last step of a clean shutdown.
  caf::replies_to<atom::stop>::with<uint64_t>,
  // Adds the reservoir that hears of applied and unwound records.
  caf::reacts_to<atom::subscribe, reservoir_actor>,
  // Adds an actor told (tip, height, hash) after each flush that moved the
  // tip (the chain_monitor).
  caf::reacts_to<atom::subscribe, caf::actor>,
  // Timer: flushes what waited for the flush interval.
  caf::reacts_to<atom::tick>,
  // Where new blocks that joined the best chain are published.
  caf::reacts_to<atom::subscribe, relay_actor>,
  // The hashes of the blocks at heights first, first + 1, ... that are
  // ancestors of the block assumed valid, their header chain checked to
  // lead to it: such a block's signatures are not checked (every other
  // rule is). Replaces what was told before.
  caf::reacts_to<atom::assume, uint64_t, std::vector<hash256>>>;

/// Builds blocks from the reservoir and searches their proof of work.
using producer_actor = caf::typed_actor<
  // Timer: considers making a block.
  caf::reacts_to<atom::tick>,
  // Blocks made since start.
  caf::replies_to<atom::status>::with<uint64_t>>;

/// Keeps the table of known peers from signed registrations.
using announcer_actor = caf::typed_actor<
  // A peer registered over its link (whose key is the second argument, the
  // session the third); replies with one random other known peer.
  caf::replies_to<atom::registr, registration, public_key,
                  caf::actor_addr>::with<std::vector<registration>>,
  // A relayed registration, from the link `origin` (null: not from a
  // link): checked by its signature.
  caf::reacts_to<atom::announce, registration, caf::actor_addr>,
  // The table of known peers.
  caf::replies_to<atom::peers>::with<std::vector<registration>>,
  // Timer: announce ourselves, expire old entries.
  caf::reacts_to<atom::tick>,
  // Timer: write the table's changes to the local store.
  caf::reacts_to<atom::flush>>;

/// Chooses peers, keeps links up, finds the best chain and fetches it;
/// relays what was accepted to every live link but its origin.
using connector_actor = relay_actor::extend_with<sync_listener_actor>::extend<
  // A session finished its handshake with this key: true if it may become
  // a link (the key is not banned, nor ours), else an error saying why.
  caf::replies_to<atom::up, public_key>::with<bool>,
  // A session finished its handshake and was admitted: it is a link.
  caf::reacts_to<atom::up, peer_link>,
  // Charges a peer: key, points, reason.
  caf::reacts_to<atom::misbehave, public_key, int32_t, std::string>,
  // Registrations of peers worth dialling, from the announcer.
  caf::reacts_to<atom::candidates, std::vector<registration>>,
  // Every known peer and its link.
  caf::replies_to<atom::peers>::with<std::vector<peer_status>>,
  // The live links, but those avoided for a failure (the state sync's
  // servers).
  caf::replies_to<atom::links>::with<std::vector<peer_link>>,
  // Bans a key for this many seconds (0: ban_seconds), persisted, and cuts
  // its link; answers every known peer.
  caf::replies_to<atom::ban, public_key,
                  uint64_t>::with<std::vector<peer_status>>,
  // Lifts a key's ban and clears its score; answers every known peer.
  caf::replies_to<atom::unban, public_key>::with<std::vector<peer_status>>,
  // The state machine's state and the number of live links.
  caf::replies_to<atom::status>::with<connector_status>,
  // Timer: one connector cycle.
  caf::reacts_to<atom::tick>,
  // The prefetcher's progress.
  caf::reacts_to<atom::progress, fetch_report>,
  // The announcer that sessions hand registrations to.
  caf::reacts_to<atom::subscribe, announcer_actor>>;

/// Resolves a peer's host name on a thread of its own (actors/dialer.hpp).
using resolver_actor = caf::typed_actor<
  // The host's addresses, IPv4 first; then the resolver quits.
  caf::replies_to<atom::resolve, std::string>::with<std::vector<std::string>>>;

/// Fetches a range of blocks from an upstream link, pipelined within a
/// cache bound, and hands them to block_processor in order.
using prefetcher_actor = caf::typed_actor<
  // Fetches heights from..target from the links (the first is the
  // upstream; the others serve ranges beside it), checking that they extend
  // the block `parent` (at from - 1); replaces any fetch under way.
  // A non-zero `assume` (the block assumed valid, not yet on our chain):
  // the upstream's headers are fetched first, and if they lead from
  // `parent` to it, block_processor is told its ancestors (atom::assume).
  caf::reacts_to<atom::fetch, std::vector<peer_link>, uint64_t, uint64_t,
                 hash256, hash256>,
  // Drops the fetch under way (reorg, new upstream, shutdown).
  caf::reacts_to<atom::reset>>;

/// New tips, pushed and polled, deduplicated, told to subscribers in order.
using chain_monitor_actor = caf::typed_actor<
  // A tip seen (pushed by block_processor, or polled).
  caf::reacts_to<atom::tip, uint64_t, hash256>,
  // Adds a subscriber; it gets (tip, height, hash) ... then (end).
  caf::reacts_to<atom::subscribe, caf::actor>,
  // IDLE -> LISTENING: start taking tips, buffering them.
  caf::reacts_to<atom::listen>,
  // LISTENING -> ACTIVE: deliver the buffer, then every new tip.
  caf::reacts_to<atom::activate>,
  // -> TERMINATED: subscribers get END.
  caf::reacts_to<atom::terminate>,
  // Timer: polls the tip.
  caf::reacts_to<atom::tick>,
  // The state's name.
  caf::replies_to<atom::status>::with<std::string>>;

/// Serves the node's listening sockets: hands every accepted link to its own
/// peer_session, evicting the least useful link when the inbound slots are
/// full (actors/listener.hpp has the rule).
using listener_actor = caf::typed_actor<
  // A listening socket accepted a link.
  caf::reacts_to<caf::io::new_connection_msg>,
  // The sending session (one of ours) finished its handshake with a key:
  // true once it holds an authenticated slot, else an error saying why.
  caf::replies_to<atom::up, public_key>::with<bool>,
  // A listening socket closed.
  caf::reacts_to<caf::io::acceptor_closed_msg>>;

/// The admin socket's broker as other actors see it: the chain monitor's
/// subscriber for `watch` (its connections are CAF's I/O events, in
/// actors/admin.hpp).
using admin_actor = sync_listener_actor::extend<
  // A new tip: one Reply.tip to every watching connection.
  caf::reacts_to<atom::tip, uint64_t, hash256>,
  // The chain monitor ended: Reply.end to every watcher, which is closed.
  caf::reacts_to<atom::end>>;

} // namespace hallmark

// -- type ids: every message type and handle has one -------------------------

CAF_BEGIN_TYPE_ID_BLOCK(hallmark_types, caf::first_custom_type_id)
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::hash256))
  CAF_ADD_TYPE_ID(hallmark_types, (std::vector<hallmark::hash256>))
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::encoded))
  CAF_ADD_TYPE_ID(hallmark_types, (std::vector<hallmark::encoded>))
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::registration))
  CAF_ADD_TYPE_ID(hallmark_types, (std::vector<hallmark::registration>))
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::chain_tip))
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::apply_report))
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::verify_job))
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::verify_verdict))
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::pending_record))
  CAF_ADD_TYPE_ID(hallmark_types, (std::vector<hallmark::pending_record>))
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::reservoir_status))
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::peer_link))
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::peer_status))
  CAF_ADD_TYPE_ID(hallmark_types, (std::vector<hallmark::peer_status>))
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::connector_status))
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::fetch_report))
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::peer_info))
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::new_block))
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::new_records))
  CAF_ADD_TYPE_ID(hallmark_types, (std::vector<hallmark::header>))
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::state_request))
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::state_reply))
  CAF_ADD_TYPE_ID(hallmark_types, (std::vector<hallmark::peer_link>))
  CAF_ADD_TYPE_ID(hallmark_types, (hallmark::state_sync_status))
  CAF_ADD_TYPE_ID(hallmark_types, (std::vector<std::string>))
CAF_END_TYPE_ID_BLOCK(hallmark_types)

CAF_BEGIN_TYPE_ID_BLOCK(hallmark_handles, caf::id_block::hallmark_types::end)
  CAF_ADD_TYPE_ID(hallmark_handles, (hallmark::verifier_actor))
  CAF_ADD_TYPE_ID(hallmark_handles, (hallmark::reservoir_actor))
  CAF_ADD_TYPE_ID(hallmark_handles, (hallmark::block_processor_actor))
  CAF_ADD_TYPE_ID(hallmark_handles, (hallmark::producer_actor))
  CAF_ADD_TYPE_ID(hallmark_handles, (hallmark::announcer_actor))
  CAF_ADD_TYPE_ID(hallmark_handles, (hallmark::connector_actor))
  CAF_ADD_TYPE_ID(hallmark_handles, (hallmark::prefetcher_actor))
  CAF_ADD_TYPE_ID(hallmark_handles, (hallmark::chain_monitor_actor))
  CAF_ADD_TYPE_ID(hallmark_handles, (hallmark::peer_session_actor))
  CAF_ADD_TYPE_ID(hallmark_handles, (hallmark::relay_actor))
  CAF_ADD_TYPE_ID(hallmark_handles, (hallmark::state_server_actor))
  CAF_ADD_TYPE_ID(hallmark_handles, (hallmark::state_sync_actor))
  CAF_ADD_TYPE_ID(hallmark_handles, (hallmark::resolver_actor))
  CAF_ADD_TYPE_ID(hallmark_handles, (hallmark::sync_listener_actor))
CAF_END_TYPE_ID_BLOCK(hallmark_handles)

// The one message type CAF may not copy through inspection: a verifier's job
// shares the batch's decoded blocks (immutable, process-local, decoded once)
// instead of copying them for every core; it never leaves the process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hallmark::verify_job)
// So does a peer's state proof: decoded once on the network thread, read by
// the state sync client.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hallmark::state_reply)
