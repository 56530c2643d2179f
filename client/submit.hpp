// Records made against a running node's view of the chain, and submitting
// them: what `asset register`, `issue` and `transfer` do, and what the
// devnet demo does through the same calls. Each call opens its own
// connection to DATADIR/admin.sock and closes it before returning.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/crypto.hpp"
#include "core/records.hpp"

namespace hallmark {

/// Submits records to the node, all or nothing.
/// @param datadir the node's data directory.
/// @returns the node's refusal, or ec::not_running / ec::io.
caf::error submit(const std::string& datadir,
                  const std::vector<record>& records);

/// A batch of `count` new items of `asset`, signed by `owner` (the asset's
/// registrant), with random nonces so issuing again never repeats an item
/// id. It is anchored at the node's tip and carries a free-issue proof for
/// the node's issue difficulty, solved after the connection is closed with
/// at most max(64 × difficulty, 2^20) tries (ec::bad_proof if none).
/// @param datadir the node's data directory.
caf::expected<issue_batch> make_issue_batch(const std::string& datadir,
                                            const hash256& asset,
                                            uint32_t count,
                                            const key_pair& owner);

/// The record a transfer of `item` follows: the newest of its provenance,
/// pending transfers included, so transfers can be chained before the first
/// is in a block. ec::not_found for an unknown item.
/// @param datadir the node's data directory.
caf::expected<hash256> latest_record(const std::string& datadir,
                                     const hash256& item);

} // namespace hallmark
