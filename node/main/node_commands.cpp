// The node's life: `init` makes a data directory, `run` is the node, `stop`
// and `status` ask a running one. `init` and `run` take every hallmark.conf
// key as a flag (config_flags, from node/config's key table).
#include <memory>

#include <fmt/core.h>

#include "core/keys.hpp"
#include "node/config.hpp"
#include "node/main/commands.hpp"
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
  if (auto err = o.config.apply(cfg))
    return report(err);
  auto identity = init_datadir(cfg);
  if (!identity)
    return report(identity.error());
  json j;
  j["public_key"] = to_hex(identity->public_key_bytes());
  j["datadir"] = o.datadir;
  j["chain"] = cfg.chain;
  emit(j, o.json);
  return exit_ok;
}

struct run_options {
  std::string datadir;
  config_flags config;
};

int run(const run_options& o) {
  auto cfg = load_config(o.datadir);
  if (!cfg)
    return report(cfg.error());
  if (auto err = o.config.apply(*cfg))
    return report(err);
  auto identity = load_key(cfg->key_path());
  if (!identity)
    return report(identity.error());
  return run_node(*cfg, *identity);
}

int stop(const client_options& o) {
  return query(
    o.datadir, [](admin_client& c) { return c.stop(); },
    [&](auto&) {
      json j;
      j["stopping"] = true;
      emit(j, o.json,
           [](const json&) { fmt::print("the node is stopping\n"); });
      return exit_ok;
    });
}

int status(const client_options& o) {
  return query(
    o.datadir, [](admin_client& c) { return c.status(); },
    [&](auto& reply) {
      emit(status_json(reply.root().getStatus()), o.json, print_status);
      return exit_ok;
    });
}

} // namespace

void add_node_commands(CLI::App& app, command_table& commands) {
  auto init_opts = std::make_shared<init_options>();
  auto init_cmd = app.add_subcommand("init", "Create a data directory: "
                                             "identity key and configuration");
  add_datadir(init_cmd, init_opts->datadir);
  add_json(init_cmd, init_opts->json);
  init_opts->config.add_to(init_cmd, "Configuration (written to "
                                     "hallmark.conf; docs/operations.md)");
  commands.add(init_cmd, [init_opts] { return init(*init_opts); });

  auto run_opts = std::make_shared<run_options>();
  auto run_cmd = app.add_subcommand("run", "Run a node in the foreground");
  add_datadir(run_cmd, run_opts->datadir);
  run_opts->config.add_to(run_cmd,
                          "Configuration (over hallmark.conf for this run; "
                          "--listen and --peer add to its lists)");
  commands.add(run_cmd, [run_opts] { return run(*run_opts); });

  auto stop_opts = std::make_shared<client_options>();
  auto stop_cmd = app.add_subcommand("stop", "Stop the running node");
  add_client_options(stop_cmd, *stop_opts);
  commands.add(stop_cmd, [stop_opts] { return stop(*stop_opts); });

  auto status_opts = std::make_shared<client_options>();
  auto status_cmd = app.add_subcommand("status", "Show the node's chain state");
  add_client_options(status_cmd, *status_opts);
  commands.add(status_cmd, [status_opts] { return status(*status_opts); });
}

} // namespace hallmark
