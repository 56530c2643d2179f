// The command groups of the `hallmark` executable, one file each; main.cpp
// adds them to the command line. Each group declares its commands' options
// and registers what they run in the command table (cli.hpp).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/cli.hpp"

namespace hallmark {

/// The node's life (node_commands.cpp): `init`, `run`, `stop`, `status`.
void add_node_commands(CLI::App& app, command_table& commands);

/// Running a local network (devnet.cpp): `devnet`.
void add_devnet_command(CLI::App& app, command_table& commands);

/// Key files (key_commands.cpp): `keys new`, `keys show`.
void add_key_commands(CLI::App& app, command_table& commands);

/// Making records (record_commands.cpp): `asset register`, `asset show`,
/// `issue`,
/// `transfer`.
void add_record_commands(CLI::App& app, command_table& commands);

/// Questions to a node (query_commands.cpp): `peers`, `item`, `owner`,
/// `record`, `watch`.
void add_query_commands(CLI::App& app, command_table& commands);

/// The chain's blocks (block_commands.cpp): `block HEIGHT|HASH`, `block
/// export`, `block import`, and the forced reorg `admin reorg`.
void add_block_commands(CLI::App& app, command_table& commands);

/// The state trie (state_commands.cpp): `state root`, `state proof ITEM`,
/// and `state verify FILE`, which needs no node.
void add_state_commands(CLI::App& app, command_table& commands);

} // namespace hallmark
