// admin: the local control socket (DATADIR/admin.sock, mode 0600) that the
// `hallmark` commands talk to. A stateful typed CAF broker over a Unix
// stream socket (admin_actor; its phases in actors/admin_broker.hpp); the
// protocol is messages/admin.capnp, framed by a 4-byte little-endian length.
// Requests on one connection are answered one at a time, in order. A frame
// over 16 MiB or bytes that do not decode end the connection after an error
// reply; the node carries on.
//
// A `watch` request turns its connection into a stream: one Reply.tip per
// new tip from the chain monitor, then Reply.end when the monitor or the
// broker ends. The broker subscribes itself once; each tip goes to the
// connections in the WATCHING phase; a client that closes simply leaves.
//
// The broker and its framing are actors/admin.cpp; the requests that read
// (chain, reservoir, peers) actors/admin_queries.cpp; the requests that
// change the node's state actors/admin_changes.cpp.
#pragma once

#include <string>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "actors/actors.hpp"
#include "actors/tip_board.hpp"
#include "storage/chain_store.hpp"

namespace hallmark {

/// What the admin broker asks on behalf of its clients.
struct admin_deps {
  const chain_store* chain = nullptr;
  block_processor_actor processor;
  reservoir_actor pool;
  producer_actor producer;     ///< invalid unless producing
  connector_actor connector;   ///< invalid without a network
  chain_monitor_actor monitor; ///< tips for `watch`; invalid: no watch
  state_sync_actor sync;       ///< invalid unless a state sync ran
  /// A state sync runs: queries of the state are refused
  /// (ec::state_syncing), the state held being partial, until it says it
  /// is done (atom::synced).
  bool state_syncing = false;
  public_key identity{};
  std::string chain_name;
  /// The committed tip, read by `status` without asking the processor
  /// (which may be busy with a batch); null: ask it.
  std::shared_ptr<tip_board> board;
};

/// Binds the admin socket at `path` (replacing a stale one) and spawns the
/// broker serving it (actors/admin_broker.hpp).
caf::expected<admin_actor>
spawn_admin(caf::actor_system& sys, const std::string& path, admin_deps deps);

} // namespace hallmark
