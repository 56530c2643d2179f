// Every typed actor interface of Hallmark, the atoms and the message types
// they exchange. Behaviours live in actors/X.cpp; node/node.cpp wires them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/codec.hpp"
#include "node/chain.hpp"

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
} // namespace atom

// -- message types -----------------------------------------------------------

/// The chain's tip as block_processor holds it, with what the next block
/// must carry.
struct chain_tip {
  uint64_t height = 0;
  hash256 hash{};
  header hdr;
  std::string work;  ///< cumulative work, decimal
  uint64_t next_difficulty = 1;
  uint64_t median_time_past = 0;
};

/// Outcome of a batch of blocks handed to block_processor.
struct apply_report {
  uint64_t applied = 0;    ///< blocks now on the best chain
  uint64_t unwound = 0;    ///< blocks taken off by a reorg
  uint64_t held = 0;       ///< blocks kept aside (side branch or orphan)
  uint64_t known = 0;      ///< blocks already known
  uint64_t height = 0;     ///< tip after the batch
  hash256 tip{};
};

/// A slice of decoded blocks for a verifier: immutable, shared, plain C++
/// values (never a Cap'n Proto reader).
struct verify_job {
  struct segment {
    size_t block;  ///< index into blocks
    size_t first;  ///< first record
    size_t last;   ///< one past the last record
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
  caf::replies_to<atom::blocks, std::vector<encoded>, bool>::with<
    apply_report>,
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
  // Timer: flushes what waited for the flush interval.
  caf::reacts_to<atom::tick>>;

/// Builds blocks from the reservoir and searches their proof of work.
using producer_actor = caf::typed_actor<
  // Timer: considers making a block.
  caf::reacts_to<atom::tick>,
  // Blocks made since start.
  caf::replies_to<atom::status>::with<uint64_t>>;

} // namespace hallmark

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
