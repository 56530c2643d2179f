// Key files: `keys new` writes one, `keys show` prints a key's public key.
#include "cli/commands.hpp"
#include "client/render.hpp"
#include "core/keys.hpp"

namespace hallmark {

namespace {

struct new_options {
  std::string out;
  bool json = false;
};

int keys_new(const new_options& o) {
  auto kp = key_pair::generate();
  if (auto err = save_key(o.out, kp))
    return report(err);
  json j;
  j["public_key"] = to_hex(kp.public_key_bytes());
  return print_result(j, o.json);
}

struct show_options {
  std::string key;
  std::string datadir;
  bool json = false;
};

int keys_show(const show_options& o) {
  if (o.key.empty() && o.datadir.empty())
    return usage("keys show: give --key FILE or --datadir DIR");
  auto kp = signing_key(o.key, o.datadir);
  if (!kp)
    return report(kp.error());
  json j;
  j["public_key"] = to_hex(kp->public_key_bytes());
  return print_result(j, o.json);
}

} // namespace

void add_key_commands(CLI::App& app, command_table& commands) {
  auto keys = add_parent(app, "keys", "Make or show key files");

  auto [new_cmd, new_opts] = commands.add<new_options>(
    keys, "new", "Write a new key file (0600)", keys_new);
  new_cmd->add_option("--out", new_opts->out, "Key file to create")->required();
  add_json(new_cmd, new_opts->json);

  auto [show_cmd, show_opts] = commands.add<show_options>(
    keys, "show", "Print a key's public key", keys_show);
  show_cmd->add_option("--key", show_opts->key, "Key file")
    ->check(CLI::ExistingFile);
  add_datadir(show_cmd, show_opts->datadir, false)
    ->description("Show the node identity of this data directory");
  add_json(show_cmd, show_opts->json);
}

} // namespace hallmark
