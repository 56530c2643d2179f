// The node's life: `init` makes a data directory, `run` is the node, `stop`
// and `status` ask a running one, `backup` copies a data directory, running
// or not. `init` and `run` take every hallmark.conf key as a flag
// (config_flags, from node/config's key table).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/core.h>

#include "cli/commands.hpp"
#include "client/render.hpp"
#include "core/keys.hpp"
#include "core/log.hpp"
#include "http/server.hpp"
#include "node/config.hpp"
#include "node/node.hpp"
#include "storage/lmdb.hpp"

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

struct backup_options {
  std::string datadir;
  std::string out;
  bool json = false;
};

/// Copies `what` (a file of the data directory) into the backup, keeping its
/// mode (the key stays 0600).
caf::error copy_file_of(const node_config& from, const node_config& to,
                        std::string (node_config::*what)() const) {
  std::error_code fe;
  std::filesystem::copy_file((from.*what)(), (to.*what)(), fe);
  if (fe)
    return make_error(ec::io, "cannot copy " + (from.*what)() + " to "
                                + (to.*what)() + ": " + fe.message());
  return {};
}

/// Flushes `dir` to disk (fsync), and when `deep` every file and directory
/// in it first: a backup is on disk before it takes its name.
caf::error sync_tree(const std::string& dir, bool deep = true) {
  namespace fs = std::filesystem;
  auto sync = [](const std::string& path, int flags) -> caf::error {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0 || ::fsync(fd) != 0) {
      auto why = std::strerror(errno);
      if (fd >= 0)
        ::close(fd);
      return make_error(ec::io, "cannot flush " + path + " to disk: " + why);
    }
    ::close(fd);
    return {};
  };
  std::error_code fe;
  if (deep)
    for (auto& entry : fs::recursive_directory_iterator{dir, fe})
      if (auto err = sync(entry.path().string(), entry.is_directory(fe)
                                                   ? O_RDONLY | O_DIRECTORY
                                                   : O_RDONLY))
        return err;
  if (fe)
    return make_error(ec::io, "cannot list " + dir + ": " + fe.message());
  return sync(dir, O_RDONLY | O_DIRECTORY);
}

/// The backup's steps, into the empty directory `to.datadir`.
caf::error copy_datadir(const node_config& from, const node_config& to) {
  for (auto dir : {&node_config::chain_dir, &node_config::local_dir}) {
    if (::mkdir((to.*dir)().c_str(), 0700) != 0)
      return make_error(ec::io, "cannot create " + (to.*dir)() + ": "
                                  + std::strerror(errno));
    if (auto err = lmdb::copy_env((from.*dir)(), (to.*dir)()))
      return err;
    // LMDB creates the copy under the umask: the store is the owner's only.
    ::chmod(((to.*dir)() + "/data.mdb").c_str(), 0600);
  }
  for (auto file : {&node_config::config_path, &node_config::key_path})
    if (auto err = copy_file_of(from, to, file))
      return err;
  return {};
}

int backup(const backup_options& o) {
  namespace fs = std::filesystem;
  node_config from;
  from.datadir = o.datadir;
  node_config to;
  to.datadir = o.out;
  std::error_code fe;
  if (o.out.empty())
    return usage("backup: --out needs a directory");
  if (!fs::exists(from.config_path(), fe))
    return report(make_error(ec::io, o.datadir
                                       + " holds no node (no "
                                         "hallmark.conf)"));
  // A copy inside what it copies would be copied by the next backup.
  auto inside = fs::weakly_canonical(o.out, fe).string() + "/";
  if (inside.rfind(fs::weakly_canonical(o.datadir, fe).string() + "/", 0) == 0)
    return usage("backup: --out " + o.out + " is inside the data directory");
  if (fs::exists(o.out, fe)
      && (!fs::is_directory(o.out, fe) || !fs::is_empty(o.out, fe)))
    return usage("backup: " + o.out
                 + " already holds something; give a new or empty directory");
  // The copy is made beside OUT and renamed to it whole: a backup that
  // fails or is killed never leaves half a backup under OUT's name.
  auto out = fs::path{o.out};
  if (!out.has_filename())
    out = out.parent_path();
  to.datadir = (out.parent_path()
                / (out.filename().string() + ".partial-"
                   + std::to_string(::getpid())))
                 .string();
  if (out.has_parent_path())
    fs::create_directories(out.parent_path(), fe);
  fs::remove_all(to.datadir, fe);
  if (::mkdir(to.datadir.c_str(), 0700) != 0)
    return report(make_error(ec::io, "cannot create " + to.datadir + ": "
                                       + std::strerror(errno)));
  auto err = copy_datadir(from, to);
  if (!err)
    err = sync_tree(to.datadir);
  // rename(2) takes the place of an empty directory.
  if (!err && ::rename(to.datadir.c_str(), out.c_str()) != 0)
    err = make_error(ec::io, "cannot rename " + to.datadir + " to "
                               + out.string() + ": " + std::strerror(errno));
  if (!err)
    err = sync_tree(out.has_parent_path() ? out.parent_path().string() : ".",
                    false);
  if (err) {
    // Half a backup is no backup: take back what was written.
    fs::remove_all(to.datadir, fe);
    return report(err);
  }
  to.datadir = o.out;
  auto size_of = [&](const std::string& dir) {
    auto n = fs::file_size(dir + "/data.mdb", fe);
    return fe ? uint64_t{0} : static_cast<uint64_t>(n);
  };
  json j;
  j["out"] = o.out;
  j["chain_bytes"] = size_of(to.chain_dir());
  j["local_bytes"] = size_of(to.local_dir());
  return print_result(j, o.json, [](const json& r) {
    fmt::print("backup in {}: chain {} bytes, local {} bytes; it starts "
               "with `hallmark run --datadir {}`\n",
               r["out"].get<std::string>(), r["chain_bytes"].get<uint64_t>(),
               r["local_bytes"].get<uint64_t>(), r["out"].get<std::string>());
  });
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

  auto [backup_cmd, backup_opts] = commands.add<backup_options>(
    &app, "backup",
    "Copy a node's data directory, running or stopped (an LMDB hot copy)",
    backup);
  add_datadir(backup_cmd, backup_opts->datadir);
  backup_cmd
    ->add_option("--out", backup_opts->out,
                 "New or empty directory for the copy, a data directory "
                 "`run` starts from")
    ->required();
  add_json(backup_cmd, backup_opts->json);
}

} // namespace hallmark
