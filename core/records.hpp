// The record and block model in plain C++, and the record rules that need no
// state: field sizes, ids, signatures, the free-issue proof. Cap'n Proto stays
// at the boundary (messages/codec.hpp); every rule works on these structs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/crypto.hpp"
#include "core/error.hpp"

namespace hallmark {

// -- limits (DESIGN.md, NOTES.md) -------------------------------------------

constexpr size_t max_asset_name = 64;
constexpr size_t max_fingerprint = 1024;
constexpr size_t max_metadata = 2048;
constexpr size_t max_batch_issues = 100;
constexpr size_t max_block_records = 10'000;
constexpr size_t max_block_bytes = 4 * 1024 * 1024;

// -- records ----------------------------------------------------------------

struct meta_entry {
  std::string key;
  std::string value;
};

struct asset {
  std::string name;
  std::vector<uint8_t> fingerprint;
  std::vector<meta_entry> metadata;
  public_key registrant{};
  signature sig{};
};

struct issue {
  hash256 asset_id{};
  public_key owner{};
  uint64_t nonce = 0;
  signature sig{};
};

struct issue_batch {
  std::vector<issue> issues;
  hash256 anchor{};
  uint64_t work_nonce = 0;
};

struct transfer {
  hash256 link{};
  public_key owner{};
  public_key new_owner{};
  signature sig{};
  std::optional<signature> countersig;
};

using record = std::variant<asset, issue_batch, transfer>;

/// "asset", "issues" or "transfer".
const char* kind_name(const record& r);

/// Number of records `r` counts as in a block (a batch counts its issues).
size_t record_count(const record& r);

/// Asset id: BLAKE2b-256 of the fingerprint.
hash256 asset_id(const asset& a);

/// The bytes a record's signer signs (docs/formats.md).
std::vector<uint8_t> signing_bytes(const asset& a);
std::array<uint8_t, 80> signing_bytes(const issue& i);
std::array<uint8_t, 104> signing_bytes(const transfer& t);
/// What the new owner countersigns: the transfer's signing bytes and its
/// signature.
std::array<uint8_t, 176> countersigning_bytes(const transfer& t);

/// Record ids: BLAKE2b-256 over the signing bytes and the signatures.
hash256 record_id(const asset& a);
hash256 record_id(const issue& i);
hash256 record_id(const transfer& t);
/// A batch's id covers its payment id, anchor and work nonce.
hash256 record_id(const issue_batch& b);

/// The id a record contributes to its block's merkle tree.
hash256 leaf_id(const record& r);

/// BLAKE2b over the ids of the batch's issues: what the free-issue work hashes.
hash256 payment_id(const issue_batch& b);

/// Free-issue work needed for a batch of `count` issues when one issue needs
/// `base`: count × base × (1.0, 0.95, 0.90, 0.85 for 1, 2–10, 11–50, 51–100).
uint64_t batch_difficulty(uint64_t base, size_t count);

/// BLAKE2b(payment id ‖ anchor ‖ nonce): the hash the batch's work is judged
/// by.
hash256 work_hash(const hash256& payment, const hash256& anchor,
                  uint64_t nonce);

/// True if `h`, read as a big-endian number, is below 2^256 / difficulty
/// (checked on its top 64 bits: h[0..8) ≤ ⌊(2^64 − 1) / difficulty⌋).
bool meets_difficulty(const hash256& h, uint64_t difficulty);

/// Searches the batch's work nonce; returns false if `max_tries` ran out.
bool solve_batch(issue_batch& b, uint64_t difficulty, uint64_t max_tries);

/// Field rules that need no state: sizes, counts, non-empty, no self link.
caf::error check_fields(const record& r);

/// Checks every signature of `r` at once; returns the first failure.
caf::error check_signatures(const record& r);

// -- signing helpers for clients ---------------------------------------------

asset make_asset(std::string name, std::vector<uint8_t> fingerprint,
                 std::vector<meta_entry> metadata, const key_pair& registrant);
issue make_issue(const hash256& asset, uint64_t nonce, const key_pair& owner);
transfer make_transfer(const hash256& link, const public_key& new_owner,
                       const key_pair& owner);
/// Adds the new owner's countersignature.
void countersign(transfer& t, const key_pair& new_owner);

} // namespace hallmark
