// admin_queries: the admin requests that only read, joining the chain (read
// in place), the reservoir's pending records and the connector's peers.
// Each answers its connection exactly once, with respond or respond_error
// (actors/admin_broker.hpp).
#pragma once

#include <cstdint>
#include <optional>

#include "actors/admin_broker.hpp"

namespace hallmark {

/// Reply.status: the tip, the reservoir's counts and the connector's state
/// (empty without a network).
void serve_status(admin_broker* self, caf::io::connection_handle hdl);

/// Reply.peers: every known peer and its link (none without a network).
void serve_peers(admin_broker* self, caf::io::connection_handle hdl);

/// Reply.peers after banning `key` for `seconds` (0: ban_seconds); the ban
/// is stored and outlives a restart. bad_request without a network.
void serve_ban(admin_broker* self, caf::io::connection_handle hdl,
               public_key key, uint64_t seconds);

/// Reply.peers after lifting `key`'s ban and clearing its score.
void serve_unban(admin_broker* self, caf::io::connection_handle hdl,
                 public_key key);

/// Reply.item: an item's pending transfers (newest first) then its chain
/// history down to its issue, which may itself still be pending.
/// @param item the item id (its issue's record id).
void serve_item(admin_broker* self, caf::io::connection_handle hdl,
                hash256 item);

/// Reply.owner: the items a key owns on the best chain.
void serve_owner(admin_broker* self, caf::io::connection_handle hdl,
                 public_key owner);

/// Reply.record: a record on the best chain, else a pending one.
/// @param id a record id (or an issue id within a batch).
void serve_record(admin_broker* self, caf::io::connection_handle hdl,
                  hash256 id);

/// Reply.record of an asset's registration: on the best chain, else
/// pending; ec::not_found if neither.
/// @param asset the asset id (BLAKE2b-256 of its fingerprint).
void serve_asset(admin_broker* self, caf::io::connection_handle hdl,
                 hash256 asset);

/// Reply.block: a best-chain block, by height or by hash (one of the two).
void serve_block(admin_broker* self, caf::io::connection_handle hdl,
                 std::optional<uint64_t> height, std::optional<hash256> hash);

/// Reply.blocks: up to `count` (at most 1000) best-chain blocks from height
/// `from`, fewer if the reply would come near the frame cap.
/// Replies with a proof of `item`'s state (or absence) against the
/// committed tip's header.
void serve_state_proof(admin_broker* self, caf::io::connection_handle hdl,
                       hash256 item);

void serve_export(admin_broker* self, caf::io::connection_handle hdl,
                  uint64_t from, uint32_t count);

} // namespace hallmark
