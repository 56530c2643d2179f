// Runs a node: opens the stores, builds the actor graph, serves the admin
// socket, and stops everything in order on SIGINT/SIGTERM or `hallmark stop`.
#pragma once

#include "core/crypto.hpp"
#include "node/config.hpp"

namespace hallmark {

/// Runs in the foreground until stopped; returns the process exit code.
int run_node(const node_config& cfg, const key_pair& identity);

} // namespace hallmark
