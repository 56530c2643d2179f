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
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "core/chain.hpp"
#include "messages/codec.hpp"
#include "messages/registration.hpp"

namespace hallmark {

// -- atoms (text ≤ 10 characters) -------------------------------------------

namespace atom {
using blocks = caf::atom_constant<caf::atom("blocks")>;
using tip = caf::atom_constant<caf::atom("tip")>;
using reorg = caf::atom_constant<caf::atom("reorg")>;
using flush = caf::atom_constant<caf::atom("flush")>;
using stop = caf::atom_constant<caf::atom("stop")>;
using verify = caf::atom_constant<caf::atom("verify")>;
using submit = caf::atom_constant<caf::atom("submit")>;
using take = caf::atom_constant<caf::atom("take")>;
using applied = caf::atom_constant<caf::atom("applied")>;
using unwound = caf::atom_constant<caf::atom("unwound")>;
using lookup = caf::atom_constant<caf::atom("lookup")>;
using after = caf::atom_constant<caf::atom("after")>;
using status = caf::atom_constant<caf::atom("status")>;
using expire = caf::atom_constant<caf::atom("expire")>;
using tick = caf::atom_constant<caf::atom("tick")>;
using subscribe = caf::atom_constant<caf::atom("subscribe")>;
using request = caf::atom_constant<caf::atom("request")>;
using send = caf::atom_constant<caf::atom("send")>;
using up = caf::atom_constant<caf::atom("up")>;
using relay = caf::atom_constant<caf::atom("relay")>;
using peers = caf::atom_constant<caf::atom("peers")>;
using misbehave = caf::atom_constant<caf::atom("misbehave")>;
using candidates = caf::atom_constant<caf::atom("candidates")>;
using announce = caf::atom_constant<caf::atom("announce")>;
using registr = caf::atom_constant<caf::atom("register")>;
using listen = caf::atom_constant<caf::atom("listen")>;
using activate = caf::atom_constant<caf::atom("activate")>;
using terminate = caf::atom_constant<caf::atom("terminate")>;
using end = caf::atom_constant<caf::atom("end")>;
using fetch = caf::atom_constant<caf::atom("fetch")>;
using reset = caf::atom_constant<caf::atom("reset")>;
using progress = caf::atom_constant<caf::atom("progress")>;
} // namespace atom

// -- message types -----------------------------------------------------------

/// The chain's tip as block_processor holds it, with what the next block
/// must carry.
struct chain_tip {
  uint64_t height = 0;
  hash256 hash{};
  header hdr;
  std::string work; ///< cumulative work, decimal
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
  };
  std::shared_ptr<const std::vector<block>> blocks;
  std::vector<segment> segments;
};

/// A verifier's verdict: empty, or the failing block and its error.
struct verify_verdict {
  size_t block_index = 0;
  std::string reason;
  uint8_t code = 0;
  bool ok() const { return code == 0; }
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

/// A live, authenticated link to a peer, as its peer_session reports it.
struct peer_link {
  caf::actor session;
  public_key key{};
  bool inbound = false;
  std::string address; ///< the remote end, "host:port"
  uint16_t version = 0;
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
  uint64_t last_seen = 0; ///< unix seconds
  int64_t score = 0;      ///< misbehaviour points; banned at the limit
};

struct connector_status {
  std::string state;   ///< Connecting, HighestBlock, ForkDetect, ...
  uint64_t links = 0;  ///< live links
  uint64_t target = 0; ///< best height seen among peers
};

/// What the prefetcher tells the connector: how far it got, or why it
/// stopped.
struct fetch_report {
  uint64_t height = 0; ///< best chain height after the blocks applied
  uint64_t target = 0;
  uint64_t records = 0; ///< records applied since the fetch began
  bool done = false;    ///< reached the target
  std::string failure;  ///< non-empty: the upstream failed us
  uint8_t code = 0;     ///< the failure's ec
};

// -- actor interfaces --------------------------------------------------------

/// Checks blocks' own rules and signatures; one per core.
using verifier_actor = caf::typed_actor<
  // Checks a slice of blocks; replies with the first failure, if any.
  caf::replies_to<atom::verify, verify_job>::with<verify_verdict>>;

/// Pending records: accepts, persists, expires, offers them for blocks.
using reservoir_actor = caf::typed_actor<
  // Accepts a RecordList all-or-nothing; replies with the records' ids.
  caf::replies_to<atom::submit, encoded>::with<std::vector<hash256>>,
  // Offers up to N records (in dependency order) for the next block.
  caf::replies_to<atom::take, uint32_t>::with<std::vector<encoded>>,
  // Finds a pending record (or issue) by id.
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
  caf::reacts_to<atom::expire>>;

/// The only writer of chain data.
using block_processor_actor = caf::typed_actor<
  // Validates and applies encoded blocks (from a peer, the producer or an
  // import); `more` says more blocks follow at once, so the flush may wait.
  caf::replies_to<atom::blocks, std::vector<encoded>, bool>::with<apply_report>,
  // The tip and what the next block must carry.
  caf::replies_to<atom::tip>::with<chain_tip>,
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
  caf::reacts_to<atom::tick>>;

/// Builds blocks from the reservoir and searches their proof of work.
using producer_actor = caf::typed_actor<
  // Timer: considers making a block.
  caf::reacts_to<atom::tick>,
  // Blocks made since start.
  caf::replies_to<atom::status>::with<uint64_t>,
  // Where made blocks are relayed to peers (the connector).
  caf::reacts_to<atom::subscribe, caf::actor>>;

/// Keeps the table of known peers from signed registrations.
using announcer_actor = caf::typed_actor<
  // A peer registered over its link (whose key is the second argument);
  // replies with one random other known peer.
  caf::replies_to<atom::registr, registration,
                  public_key>::with<std::vector<registration>>,
  // A relayed registration: checked by its signature.
  caf::reacts_to<atom::announce, registration>,
  // The table of known peers.
  caf::replies_to<atom::peers>::with<std::vector<registration>>,
  // Timer: announce ourselves, expire old entries.
  caf::reacts_to<atom::tick>>;

/// Chooses peers, keeps links up, finds the best chain and fetches it;
/// relays broadcasts between links.
using connector_actor = caf::typed_actor<
  // A session finished its handshake.
  caf::reacts_to<atom::up, peer_link>,
  // Sends an Envelope to every live link but the origin's.
  caf::reacts_to<atom::relay, encoded, caf::actor_addr>,
  // Charges a peer: key, address, points, reason.
  caf::reacts_to<atom::misbehave, public_key, std::string, int32_t,
                 std::string>,
  // Registrations of peers worth dialling, from the announcer.
  caf::reacts_to<atom::candidates, std::vector<registration>>,
  // The local chain reached a new tip (from chain_monitor).
  caf::reacts_to<atom::tip, uint64_t, hash256>,
  // Every known peer and its link.
  caf::replies_to<atom::peers>::with<std::vector<peer_status>>,
  // The state machine's state and the number of live links.
  caf::replies_to<atom::status>::with<connector_status>,
  // Timer: one connector cycle.
  caf::reacts_to<atom::tick>,
  // The prefetcher's progress.
  caf::reacts_to<atom::progress, fetch_report>,
  // The announcer that sessions hand registrations to.
  caf::reacts_to<atom::subscribe, announcer_actor>>;

/// Fetches a range of blocks from an upstream link, pipelined within a
/// cache bound, and hands them to block_processor in order.
using prefetcher_actor = caf::typed_actor<
  // Fetches (from, target] ... precisely heights from..target from the
  // session's peer; replaces any fetch under way.
  caf::reacts_to<atom::fetch, caf::actor, uint64_t, uint64_t>,
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

} // namespace hallmark

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hallmark::peer_link)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hallmark::peer_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<hallmark::peer_status>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hallmark::connector_status)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hallmark::registration)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hallmark::fetch_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<hallmark::registration>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hallmark::encoded)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<hallmark::encoded>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hallmark::hash256)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<hallmark::hash256>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hallmark::chain_tip)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hallmark::apply_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hallmark::verify_job)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hallmark::verify_verdict)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<hallmark::pending_record>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(hallmark::reservoir_status)
