// Runs a node: opens the stores, builds the actor graph, serves the admin
// socket, and stops everything in order on SIGINT/SIGTERM or `hallmark stop`.
#pragma once

#include <functional>
#include <memory>

#include <caf/expected.hpp>

#include "core/crypto.hpp"
#include "node/config.hpp"

namespace hallmark {

/// A part of the process that serves beside the node's actors and talks to
/// them only as a client would (the HTTP server, http/server).
class node_service {
public:
  virtual ~node_service() = default;
  /// Serves from now on, on threads of its own.
  virtual void start() = 0;
  /// Returns once it no longer serves: no thread of its runs.
  virtual void stop() = 0;
};

/// Makes the service, or says why it cannot run (an address it cannot
/// bind); null: no service is configured.
using service_maker = std::function<
  caf::expected<std::unique_ptr<node_service>>()>;

/// Runs in the foreground until stopped; returns the process exit code.
/// @param make_service called once the stores are open and before any actor
///        runs, so that its refusal stops the start; the service starts
///        when the admin socket serves and stops before the actors do.
int run_node(const node_config& cfg, const key_pair& identity,
             const service_maker& make_service = {});

} // namespace hallmark
