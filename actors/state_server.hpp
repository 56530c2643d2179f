// state_server: answers peers' state sync requests (range and change
// proofs, docs/state.md) from committed state, off the network thread:
// peer sessions forward the request and send back what it answers.
//
// Views of recent roots (storage/state_view.hpp) are kept, the most
// recently used first, up to `max_views`, so the chunks of one sync at one
// target root rebuild that root's state once. Each view holds a read
// transaction; they are dropped with the actor.
#pragma once

#include <chrono>
#include <list>
#include <memory>

#include <caf/typed_event_based_actor.hpp>

#include "actors/actors.hpp"
#include "storage/state_view.hpp"

namespace hallmark {

struct state_server_config {
  /// Views of recent roots kept at once.
  size_t max_views = 4;
  /// Testing only (devnet, HALLMARK_TEST_CORRUPT_STATE_PROOFS=1): every
  /// proof served has one value byte changed, so that a client's handling
  /// of a lying server can be tested with real processes.
  bool corrupt_proofs = false;
  /// Testing only (devnet, HALLMARK_TEST_STATE_SERVE_DELAY_MS): each answer
  /// waits this long first (the server is detached: only it waits), so a
  /// test can stop a client in the middle of a sync.
  std::chrono::milliseconds serve_delay{0};
};

struct state_server_state {
  state_server_state() = default;
  ~state_server_state();
  const chain_store* chain = nullptr;
  state_server_config cfg;
  std::list<std::unique_ptr<state_view>> views; ///< most recent first
  static inline const char* name = "state_server";
};

state_server_actor::behavior_type
state_server(state_server_actor::stateful_pointer<state_server_state> self,
             const chain_store* chain, state_server_config cfg);

} // namespace hallmark
