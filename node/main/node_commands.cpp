// The node's life: `init` makes a data directory, `run` is the node, `stop`
// and `status` ask a running one. `init` and `run` take every hallmark.conf
// key as a flag (config_flags, from node/config's key table).
#include <fmt/core.h>

#include "core/keys.hpp"
#include "core/log.hpp"
#include "node/config.hpp"
#include "node/main/commands.hpp"
#include "node/main/http_server.hpp"
#include "node/main/render.hpp"
#include "node/node.hpp"

namespace hallmark {

namespace {

struct init_options {
  std::string datadir;
  bool json = false;
  config_flags config;
};

int init(const init_options& o) {
  node_config cfg;
  cfg.datadir = o.datadir;
  // Each flag's value was checked as it was parsed; what is left are keys
  // that bound each other: still the arguments' fault.
  if (auto err = o.config.apply(cfg))
    return usage("init: " + message_of(err));
  auto identity = init_datadir(cfg);
  if (!identity)
    return report(identity.error());
  json j;
  j["public_key"] = to_hex(identity->public_key_bytes());
  j["datadir"] = o.datadir;
  j["chain"] = cfg.chain;
  return print_result(j, o.json);
}

struct run_options {
  std::string datadir;
  std::string log_level = "info";
  config_flags config;
};

int run(const run_options& o) {
  // The flag's check admits only names parse_log_level knows.
  set_log_level(parse_log_level(o.log_level).value_or(log_level::info));
  auto cfg = load_config(o.datadir);
  if (!cfg)
    return report(cfg.error());
  // The file was valid on its own: a conflict is the flags' fault.
  if (auto err = o.config.apply(*cfg))
    return usage("run: " + message_of(err));
  auto identity = load_key(cfg->key_path());
  if (!identity)
    return report(identity.error());
  return run_node(*cfg, *identity, [&] { return make_http_server(*cfg); });
}

int stop(const client_options& o) {
  return print_reply(
    o, [](admin_client& c) { return c.stop(); },
    [](auto) {
      json j;
      j["stopping"] = true;
      return j;
    },
    [](const json&) { fmt::print("the node is stopping\n"); });
}

int status(const client_options& o) {
  return print_reply(
    o, [](admin_client& c) { return c.status(); },
    [](auto root) { return status_json(root.getStatus()); }, print_status);
}

} // namespace

void add_node_commands(CLI::App& app, command_table& commands) {
  auto [init_cmd, init_opts] = commands.add<init_options>(
    &app, "init", "Create a data directory: identity key and configuration",
    init);
  add_datadir(init_cmd, init_opts->datadir);
  add_json(init_cmd, init_opts->json);
  init_opts->config.add_to(init_cmd, "Configuration (written to "
                                     "hallmark.conf; docs/operations.md)");

  auto [run_cmd, run_opts] = commands.add<run_options>(
    &app, "run", "Run a node in the foreground", run);
  add_datadir(run_cmd, run_opts->datadir);
  run_cmd
    ->add_option("--log-level", run_opts->log_level,
                 "Least severe log records written to stderr (warn = warning)")
    ->check(CLI::IsMember({"debug", "info", "warning", "warn", "error"}))
    ->capture_default_str();
  run_opts->config.add_to(run_cmd,
                          "Configuration (over hallmark.conf for this run; "
                          "--listen and --peer add to its lists)");

  auto [stop_cmd, stop_opts] = commands.add<client_options>(
    &app, "stop", "Stop the running node", stop);
  add_client_options(stop_cmd, *stop_opts);

  auto [status_cmd, status_opts] = commands.add<client_options>(
    &app, "status", "Show the node's chain state", status);
  add_client_options(status_cmd, *status_opts);
}

} // namespace hallmark
