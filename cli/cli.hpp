// What every command of the `hallmark` executable shares: the exit codes and
// how an error becomes one, the common options (--datadir, --json, --key),
// the flags of the hallmark.conf keys, argument checks, and the table of
// commands that main.cpp dispatches from. docs/cli.md is the reference.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "client/admin_client.hpp"
#include "client/render.hpp"
#include "core/crypto.hpp"
#include "core/error.hpp"
#include "messages/codec.hpp"
#include "node/config.hpp"

namespace hallmark {

// -- exit codes ---------------------------------------------------------------

/// The command did what it was asked (also --help, --version).
constexpr int exit_ok = 0;
/// The command failed: the node's error, or a local file, key or socket.
constexpr int exit_failed = 1;
/// Wrong arguments.
constexpr int exit_usage = 2;
/// No node is running at the data directory (ec::not_running).
constexpr int exit_not_running = 3;

/// Prints `err` as one line on stderr, `hallmark: MESSAGE (CODE_NAME)`, and
/// returns its exit code: 3 for ec::not_running, 1 otherwise.
int report(const caf::error& err);

/// Prints a complaint about the arguments and returns exit code 2.
/// @param message what is wrong, starting with the command's name.
int usage(const std::string& message);

// -- the commands -------------------------------------------------------------

/// The commands of the command line and what each runs once parsed.
class command_table {
public:
  /// Registers a (sub)command; `run` returns its exit code.
  void add(CLI::App* app, std::function<int()> run);

  /// Adds the subcommand `name` of `parent` with options of its own, a
  /// fresh `Options` that `run(options)` is given once parsed.
  /// @returns the subcommand, to declare its options on, and the options,
  ///          which live as long as this table.
  template <class Options, class Run>
  std::pair<CLI::App*, Options*> add(CLI::App* parent, const std::string& name,
                                     const std::string& help, Run run) {
    auto options = std::make_shared<Options>();
    auto app = parent->add_subcommand(name, help);
    add(app, [options, run] { return run(*options); });
    return {app, options.get()};
  }

  /// Runs the deepest registered command the parse selected (`block
  /// export`, not `block`); exit code 2 if none was.
  int run_parsed() const;

private:
  struct command {
    CLI::App* app;
    std::function<int()> run;
  };
  std::vector<command> commands_;
};

/// Adds a command that only holds subcommands (`keys`, `asset`, `admin`),
/// one of which must be given.
CLI::App* add_parent(CLI::App& app, const std::string& name,
                     const std::string& help);

// -- common options -----------------------------------------------------------

/// The options of a command that talks to a node: --datadir and --json.
struct client_options {
  std::string datadir;
  bool json = false;
};

/// Adds --datadir (also from HALLMARK_DATADIR) to `app`.
/// @param required whether the command refuses to run without it.
CLI::Option* add_datadir(CLI::App* app, std::string& datadir,
                         bool required = true);

/// Adds --json: print one JSON object instead of a listing.
CLI::Option* add_json(CLI::App* app, bool& json);

/// Adds the required --datadir and --json.
void add_client_options(CLI::App* app, client_options& options);

/// Adds --key FILE, the key that signs (default: DATADIR/identity.key).
void add_key(CLI::App* app, std::string& key_file);

/// The key that signs: `key_file`, or the node identity of `datadir`.
caf::expected<key_pair> signing_key(const std::string& key_file,
                                    const std::string& datadir);

/// The flags of every hallmark.conf key (node/config's key table) on one
/// command: `--KEY VALUE`, or `--KEY` / `--no-KEY` for a boolean; a list key
/// repeats. Each value is checked as the file's would be (exit 2).
class config_flags {
public:
  /// Adds the flags to `app`, listed under `group` in its help.
  void add_to(CLI::App* app, const std::string& group);

  /// Puts the flags given over `cfg`: a value replaces the one `cfg` holds,
  /// a list flag adds to its list. Then validates `cfg`.
  caf::error apply(node_config& cfg) const;

private:
  struct flag {
    const config_key* key;
    CLI::Option* option = nullptr;
    bool on = false;                 ///< a boolean key's value
    std::string value;               ///< another single key's value
    std::vector<std::string> values; ///< a list key's values
  };
  std::deque<flag> flags_; ///< stable addresses: CLI11 writes into them
};

// -- argument values ----------------------------------------------------------

/// Accepts exactly 32 bytes of hex: ids, hashes and public keys.
extern const CLI::Validator hex32;

/// Accepts `key=value` with a non-empty key.
extern const CLI::Validator key_value;

/// Accepts a whole number in decimal digits within `min` … `max`; says
/// "expected a whole number of WHAT within MIN..MAX, got 'X'" otherwise. Every
/// numeric option has it: CLI11 alone reads `-1` and numbers past 64 bits
/// as 2^64 - 1, `1e3` as out of range, `010` as octal.
/// @param what the unit, for the message ("seconds", "blocks"; may be "").
CLI::Validator whole_number(uint64_t min, uint64_t max,
                            const std::string& what = "");

/// The 32 bytes of a `hex32`-checked argument.
hash256 hex32_of(const std::string& text);

// -- asking a node ------------------------------------------------------------

/// Asks the node at `datadir` with `ask(client)` (ask_node) and shows the
/// reply with `show(reply)`, which returns the exit code; a failure at any
/// step is one line on stderr.
template <class Ask, class Show>
int query(const std::string& datadir, Ask ask, Show show) {
  auto reply = ask_node(datadir, ask);
  if (!reply)
    return report(reply.error());
  return show(*reply);
}

/// Prints a command's result, `j`, as one JSON line if `as_json`, else
/// with `human` (render.hpp's emit); returns exit code 0.
int print_result(const json& j, bool as_json,
                 human_printer human = print_fields);

/// Prints a Reply.record (`record`, `asset show`): record_reply_json, as
/// one JSON line if `as_json`; returns the exit code.
int print_record_reply(const admin_reply& reply, bool as_json);

/// query() that prints the reply: `to_json(reply.root())` as one JSON line
/// with --json, else with `human`.
template <class Ask, class ToJson>
int print_reply(const client_options& o, Ask ask, ToJson to_json,
                human_printer human = print_fields) {
  return query(o.datadir, ask, [&](const admin_reply& reply) {
    return print_result(to_json(reply.root()), o.json, human);
  });
}

} // namespace hallmark
