// Making records: `asset register`, `issue` and `transfer` sign records with
// a key file (or the node identity) and submit them to a running node
// (submit.hpp); `asset show` looks an asset's registration up.
#include <fstream>
#include <optional>

#include <fmt/core.h>

#include "cli/commands.hpp"
#include "client/render.hpp"
#include "client/submit.hpp"
#include "core/keys.hpp"
#include "core/records.hpp"

namespace hallmark {

namespace {

/// BLAKE2b-256 of a file's contents.
caf::expected<hash256> hash_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return make_error(ec::io, "cannot open " + path);
  hasher h;
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    auto n = static_cast<size_t>(in.gcount());
    if (n > 0)
      h.add(byte_view{reinterpret_cast<const uint8_t*>(buf.data()), n});
  }
  if (in.bad())
    return make_error(ec::io, "cannot read " + path);
  return h.finish();
}

struct register_options {
  client_options client;
  std::string key;
  std::string name;
  std::string fingerprint;
  std::string fingerprint_file;
  std::vector<std::string> meta;
};

int asset_register(const register_options& o) {
  if (o.fingerprint.empty() == o.fingerprint_file.empty())
    return usage("asset register: give exactly one of --fingerprint TEXT and "
                 "--fingerprint-file PATH");
  std::vector<uint8_t> fingerprint;
  if (!o.fingerprint_file.empty()) {
    auto h = hash_file(o.fingerprint_file);
    if (!h)
      return report(h.error());
    fingerprint.assign(h->begin(), h->end());
  } else {
    fingerprint.assign(o.fingerprint.begin(), o.fingerprint.end());
  }
  std::vector<meta_entry> metadata;
  for (auto& kv : o.meta) {
    auto eq = kv.find('=');
    metadata.push_back({kv.substr(0, eq), kv.substr(eq + 1)});
  }
  auto key = signing_key(o.key, o.client.datadir);
  if (!key)
    return report(key.error());
  auto registered = make_asset(o.name, std::move(fingerprint),
                               std::move(metadata), *key);
  // Field limits are argument errors; catch them before the node does.
  if (auto err = check_fields(record{registered}))
    return usage("asset register: " + message_of(err));
  if (auto err = submit(o.client.datadir, {registered}))
    return report(err);
  json j;
  j["asset_id"] = to_hex(asset_id(registered));
  j["record"] = to_hex(record_id(registered));
  return print_result(j, o.client.json);
}

struct issue_options {
  client_options client;
  std::string key;
  std::string asset;
  uint32_t count = 1;
};

int issue_items(const issue_options& o) {
  auto key = signing_key(o.key, o.client.datadir);
  if (!key)
    return report(key.error());
  auto batch = make_issue_batch(o.client.datadir, hex32_of(o.asset), o.count,
                                *key);
  if (!batch)
    return report(batch.error());
  if (auto err = submit(o.client.datadir, {*batch}))
    return report(err);
  json j;
  auto items = json::array();
  for (auto& i : batch->issues)
    items.push_back(to_hex(record_id(i)));
  j["items"] = std::move(items);
  j["record"] = to_hex(record_id(*batch));
  return print_result(j, o.client.json, [](const json& out) {
    for (auto& id : out["items"])
      fmt::print("{}\n", id.get<std::string>());
  });
}

struct transfer_options {
  client_options client;
  std::string key;
  std::string item;
  std::string to;
  std::string countersign_key;
};

int transfer_item(const transfer_options& o) {
  auto new_owner = hex32_of(o.to);
  auto key = signing_key(o.key, o.client.datadir);
  if (!key)
    return report(key.error());
  std::optional<key_pair> counter;
  if (!o.countersign_key.empty()) {
    auto k = load_key(o.countersign_key);
    if (!k)
      return report(k.error());
    if (k->public_key_bytes() != new_owner)
      return usage("transfer: --countersign-key holds the key "
                   + to_hex(k->public_key_bytes()) + ", not the new owner "
                   + o.to + " named by --to");
    counter = *k;
  }
  auto link = latest_record(o.client.datadir, hex32_of(o.item));
  if (!link)
    return report(link.error());
  auto t = make_transfer(*link, new_owner, *key);
  if (counter)
    countersign(t, *counter);
  if (auto err = submit(o.client.datadir, {t}))
    return report(err);
  json j;
  j["record"] = to_hex(record_id(t));
  return print_result(j, o.client.json);
}

struct asset_show_options {
  client_options client;
  std::string id;
};

int asset_show(const asset_show_options& o) {
  return query(
    o.client.datadir, [&](admin_client& c) { return c.asset(hex32_of(o.id)); },
    [&](auto& reply) { return print_record_reply(reply, o.client.json); });
}

} // namespace

void add_record_commands(CLI::App& app, command_table& commands) {
  auto asset = add_parent(app, "asset", "Register assets, or show one");
  auto [show, show_opts] = commands.add<asset_show_options>(
    asset, "show", "Show an asset's registration, on chain or pending",
    asset_show);
  add_datadir(show, show_opts->client.datadir);
  show->add_option("ASSET", show_opts->id, "Asset id")
    ->required()
    ->check(hex32);
  add_json(show, show_opts->client.json);
  auto [reg, reg_opts] = commands.add<register_options>(
    asset, "register", "Register an asset", asset_register);
  add_datadir(reg, reg_opts->client.datadir);
  reg->add_option("--name", reg_opts->name, "Asset name, 1 to 64 bytes")
    ->required();
  auto fp = reg->add_option("--fingerprint", reg_opts->fingerprint,
                            "Fingerprint: the bytes of this text (1 to 1024)");
  auto fp_file = reg->add_option(
    "--fingerprint-file", reg_opts->fingerprint_file,
    "Fingerprint: the BLAKE2b-256 hash of this file's contents");
  fp_file->check(CLI::ExistingFile);
  fp->excludes(fp_file);
  reg->add_option("--meta", reg_opts->meta, "Metadata entry, repeatable")
    ->check(key_value)
    ->allow_extra_args(false);
  add_key(reg, reg_opts->key);
  add_json(reg, reg_opts->client.json);

  auto [issue_cmd, issue_opts] = commands.add<issue_options>(
    &app, "issue", "Issue items of an asset (free issue with proof of work)",
    issue_items);
  add_datadir(issue_cmd, issue_opts->client.datadir);
  issue_cmd->add_option("--asset", issue_opts->asset, "Asset id")
    ->required()
    ->check(hex32);
  issue_cmd->add_option("--count", issue_opts->count, "Items to issue")
    ->check(whole_number(1, max_batch_issues, "items"))
    ->capture_default_str();
  add_key(issue_cmd, issue_opts->key);
  add_json(issue_cmd, issue_opts->client.json);

  auto [xfer, xfer_opts] = commands.add<transfer_options>(
    &app, "transfer", "Transfer an item", transfer_item);
  add_datadir(xfer, xfer_opts->client.datadir);
  xfer->add_option("--item", xfer_opts->item, "Item id")
    ->required()
    ->check(hex32);
  xfer->add_option("--to", xfer_opts->to, "New owner's public key")
    ->required()
    ->check(hex32);
  add_key(xfer, xfer_opts->key);
  xfer
    ->add_option("--countersign-key", xfer_opts->countersign_key,
                 "New owner's key file, to countersign")
    ->check(CLI::ExistingFile);
  add_json(xfer, xfer_opts->client.json);
}

} // namespace hallmark
