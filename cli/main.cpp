// The `hallmark` executable: builds the command line from the command groups
// (commands.hpp, one file each), parses it and runs the command chosen.
// `init` and `run` make and run a node, `devnet` runs a local network of
// them, every other command is a short-lived client of a running node's
// admin socket (admin_client.*); render.* prints. docs/cli.md is the
// reference for commands and exit codes:
//
//   0  success
//   1  the command failed (the node's error, or a local file/key problem)
//   2  wrong arguments
//   3  no node is running at the data directory
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <kj/exception.h>

#include "cli/cli.hpp"
#include "cli/commands.hpp"
#include "core/crypto.hpp"

namespace hallmark {
namespace {

/// The deepest command the parse reached: `keys` in `hallmark keys frob`.
CLI::App* deepest(CLI::App& app) {
  auto at = &app;
  while (!at->get_subcommands().empty())
    at = at->get_subcommands().front();
  return at;
}

/// What a parse error says, in our words where CLI11's mislead: a command
/// that holds only subcommands, given an unknown one or none, says which
/// exist (CLI11 says "A subcommand is required").
std::string parse_complaint(CLI::App& app, const CLI::ParseError& e) {
  auto at = deepest(app);
  auto all = at->get_subcommands([](const CLI::App*) { return true; });
  if (at->get_require_subcommand_min() == 0 || all.empty())
    return std::string{e.what()} + " (see `hallmark --help`)";
  std::string names;
  for (auto sub : all)
    names += (names.empty() ? "" : ", ") + sub->get_name();
  auto path = at->get_name() == app.get_name() ? std::string{"hallmark"}
                                               : "hallmark " + at->get_name();
  auto left = at->remaining();
  if (!left.empty() && !left.front().empty() && left.front().front() != '-')
    return "unknown command '" + left.front() + "' for " + path
           + " (commands: " + names + "; see `" + path + " --help`)";
  if (!left.empty()) // an option where a command belongs
    return "a command is needed before '" + left.front()
           + "' (commands: " + names + "; options come after the command; see `"
           + path + " --help`)";
  return "a command is needed after `" + path + "`: " + names + " (see `" + path
         + " --help`)";
}

int run_cli(int argc, char** argv) {
  CLI::App app{"Hallmark: a peer-to-peer property registry node.\n"
               "Exit codes: 0 ok, 1 failed, 2 wrong arguments, 3 no node "
               "running.",
               "hallmark"};
  app.set_version_flag("--version", HALLMARK_VERSION);
  app.require_subcommand(1);
  command_table commands;
  add_node_commands(app, commands);
  add_devnet_command(app, commands);
  add_key_commands(app, commands);
  add_record_commands(app, commands);
  add_query_commands(app, commands);
  add_block_commands(app, commands);
  add_state_commands(app, commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::RequiredError& e) {
    return usage(parse_complaint(app, e));
  } catch (const CLI::ExtrasError& e) {
    return usage(parse_complaint(app, e));
  } catch (const CLI::ParseError& e) {
    return usage(std::string{e.what()} + " (see `hallmark --help`)");
  }
  return commands.run_parsed();
}

} // namespace
} // namespace hallmark

int main(int argc, char** argv) {
  try {
    hallmark::crypto_init();
    return hallmark::run_cli(argc, argv);
  } catch (const kj::Exception& e) {
    fmt::print(stderr, "hallmark: undecodable message: {} (malformed)\n",
               e.getDescription().cStr());
  } catch (const std::exception& e) {
    fmt::print(stderr, "hallmark: {}\n", e.what());
  } catch (...) {
    fmt::print(stderr, "hallmark: unexpected failure\n");
  }
  return hallmark::exit_failed;
}
