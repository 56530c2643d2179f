// Chain rules: parameters of devnet/testnet/mainnet with their pinned genesis
// blocks, the header's fixed layout and hash, proof of work, retargeting,
// timestamps and the merkle root. docs/chain.md explains each rule.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto.hpp"
#include "core/records.hpp"

namespace hallmark {

/// Cumulative proof of work: the sum of difficulties along a chain.
using work_t = unsigned __int128;

/// Decimal text of a 128-bit number.
std::string to_decimal(work_t x);

constexpr uint16_t block_version = 1;
constexpr size_t header_size = 162;

struct header {
  uint16_t version = block_version;
  uint64_t height = 0;
  hash256 previous{};
  hash256 merkle_root{};
  hash256 state_root{};
  uint64_t timestamp = 0;
  uint64_t difficulty = 1;
  public_key producer{};
  uint64_t nonce = 0;
};

/// Lets CAF copy, compare and print a header inside an actor message.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, header& x) {
  return f(x.version, x.height, x.previous, x.merkle_root, x.state_root,
           x.timestamp, x.difficulty, x.producer, x.nonce);
}

struct block {
  header hdr;
  std::vector<record> records;
};

/// The header's fixed little-endian layout (docs/formats.md).
std::array<uint8_t, header_size> header_bytes(const header& h);

/// The header whose fixed layout is `bytes`, or none if it is not 162
/// bytes.
std::optional<header> header_from_bytes(byte_view bytes);

/// Block hash: BLAKE2b-256 of the header's fixed layout.
hash256 block_hash(const header& h);

/// Merkle root over leaf ids: pairs hashed as BLAKE2b(left ‖ right), an odd
/// last node carried up unchanged; no leaves give 32 zero bytes.
hash256 merkle_root(std::vector<hash256> leaves);

/// Leaf ids of a block's records, in order.
std::vector<hash256> leaf_ids(const block& b);

/// Total records of a block, counting each issue of a batch.
size_t record_count(const block& b);

struct chain_params {
  std::string name;
  /// Difficulty of the genesis block and floor of the retarget rule.
  uint64_t min_difficulty;
  /// Seconds the retarget rule aims for between blocks.
  uint64_t target_spacing;
  /// Blocks between retargets.
  uint64_t retarget_interval;
  /// Free-issue work for a batch of one issue.
  uint64_t issue_difficulty;
  /// How many blocks back a free-issue anchor may be.
  uint64_t anchor_window;
  /// Seconds a block's timestamp may run ahead of the clock.
  uint64_t max_future_seconds;
  /// Timestamp of the genesis block.
  uint64_t genesis_timestamp;
  /// Pinned hash of the genesis block; checked when a data directory opens.
  hash256 genesis_hash;

  // -- network defaults (not consensus): what a node of this chain uses
  // unless its configuration says otherwise.

  /// Every peer timer (announcements, expiry) is divided by this: 60 on
  /// devnet, so a local network meshes in seconds (DESIGN.md, "devnet
  /// timers"); 1 elsewhere.
  uint32_t timer_divisor = 1;
  /// Live links the connector wants before it elects an upstream.
  uint64_t min_clients = 5;
  /// The connector's cycle, in milliseconds (bitmarkd: 15 s).
  uint64_t connector_cycle_ms = 15'000;
  /// How often the chain monitor polls the tip, in milliseconds.
  uint64_t monitor_poll_ms = 60'000;
  /// Time without progress from the upstream before the connector fails
  /// over to another peer, in milliseconds (Bitcoin Core's block-download
  /// stall timeout is 2 s, growing when it fires falsely; blocks here are
  /// up to 10,000 records, so a little more).
  uint64_t stall_ms = 10'000;
  /// Inbound links from one address still in the handshake, at most: 2,
  /// but 32 on devnet, whose nodes all dial from loopback at once.
  uint64_t max_handshaking_per_host = 2;
};

/// The parameters of a named chain, or nullptr.
const chain_params* find_chain(std::string_view name);

/// The genesis header of a chain.
header genesis_header(const chain_params& params);

/// Gives the header at a height below the one being checked, on the chain
/// that block would extend.
using header_lookup = std::function<header(uint64_t height)>;

/// Difficulty demanded of the block at `height` (≥ 1): the parent's, except
/// every retarget_interval blocks, where it scales by the spacing the last
/// interval took against target_spacing, clamped to ×¼…×4, never below
/// min_difficulty.
uint64_t next_difficulty(const chain_params& params, uint64_t height,
                         const header_lookup& ancestor);

/// Median timestamp of the (up to) 11 blocks before `height`.
uint64_t median_time_past(uint64_t height, const header_lookup& ancestor);

/// Rules a header obeys on its own: version, proof of work. (Its state root
/// is checked when the block applies: chain_writer.)
caf::error check_header(const header& h);

/// Rules a header obeys given its parent chain: link, height, difficulty,
/// timestamp after the median of the last 11 and at most
/// max_future_seconds past `now`.
caf::error check_header_context(const chain_params& params, const header& h,
                                const header& parent,
                                const header_lookup& ancestor, uint64_t now);

/// Rules a block obeys on its own, but for signatures: header, record count,
/// merkle root, field rules. Safe to run on any core.
caf::error check_block(const block& b);

/// Checks the signatures of records [first, last) of `b`.
caf::error check_signatures(const block& b, size_t first, size_t last);

/// Searches the header's nonce until it meets its difficulty.
bool mine(header& h, uint64_t max_tries);

} // namespace hallmark
