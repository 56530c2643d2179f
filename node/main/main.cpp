// The `hallmark` executable: `init` and `run` a node, `devnet` to run a
// local network of them (devnet.*), and every other command as a short-lived
// client of a running node's admin socket. This file parses arguments and
// dispatches; admin_client.* speaks the socket protocol and render.* prints.
// docs/cli.md is the reference for commands and exit codes:
//
//   0  success
//   1  the command failed (the node's error, or a local file/key problem)
//   2  wrong arguments
//   3  no node is running at the data directory
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <poll.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <kj/exception.h>
#include <sodium.h>

#include "core/chain.hpp"
#include "core/error.hpp"
#include "core/keys.hpp"
#include "core/records.hpp"
#include "messages/codec.hpp"
#include "node/config.hpp"
#include "node/main/admin_client.hpp"
#include "node/main/devnet.hpp"
#include "node/main/render.hpp"
#include "node/node.hpp"

namespace hallmark {
namespace {

constexpr int exit_failed = 1;
constexpr int exit_usage = 2;
constexpr int exit_not_running = 3;

/// Most blocks one importBlocks or exportBlocks request carries.
constexpr uint32_t blocks_per_request = 100;

/// Bytes of encoded blocks one importBlocks request carries at most, leaving
/// room for the list's own framing under the 16 MiB frame limit.
constexpr size_t import_bytes_per_request = max_admin_frame - 1024 * 1024;

// -- reporting ----------------------------------------------------------------

/// Prints `err` as one line and returns its exit code.
int report(const caf::error& err) {
  auto code = code_of(err);
  if (code == ec::not_running) {
    fmt::print(stderr, "hallmark: {}\n", message_of(err));
    return exit_not_running;
  }
  if (code == ec::none)
    fmt::print(stderr, "hallmark: {}\n", message_of(err));
  else
    fmt::print(stderr, "hallmark: {} ({})\n", message_of(err), to_string(code));
  return exit_failed;
}

/// Prints a complaint about the arguments and returns exit code 2.
int usage(const std::string& message) {
  fmt::print(stderr, "hallmark: {}\n", message);
  return exit_usage;
}

// -- argument values ----------------------------------------------------------

std::string check_hex32(std::string& text) {
  if (from_hex_fixed<32>(text))
    return {};
  return "expected 64 hex characters (32 bytes), got '" + text + "'";
}

std::string check_key_value(std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0)
    return "expected key=value, got '" + text + "'";
  return {};
}

/// Accepts exactly 32 bytes of hex: ids, hashes and public keys.
const CLI::Validator hex32{check_hex32, "HEX32", "HEX32"};

/// Accepts `key=value` with a non-empty key.
const CLI::Validator key_value{check_key_value, "KEY=VALUE", "KEY=VALUE"};

hash256 hex32_of(const std::string& text) {
  // Validated by `hex32` while parsing.
  return *from_hex_fixed<32>(text);
}

/// Every option any command takes; CLI11 writes into these while parsing.
struct arguments {
  std::string datadir;
  bool json = false;
  // init, run
  std::string chain = "devnet";
  bool produce = false;
  CLI::Option* produce_flag = nullptr;
  std::vector<std::string> listen;
  std::vector<std::string> peers;
  // keys, and the signing key of asset/issue/transfer
  std::string out;
  std::string key;
  std::string countersign_key;
  // asset register
  std::string name;
  std::string fingerprint;
  std::string fingerprint_file;
  std::vector<std::string> meta;
  // issue
  std::string asset;
  uint32_t count = 1;
  // transfer
  std::string item;
  std::string to;
  // item, owner, record, block
  std::string id;
  // block export/import
  uint64_t from = 0;
  uint64_t export_count = 0;
  CLI::Option* export_count_opt = nullptr;
  std::string file;
  // admin reorg
  uint32_t depth = 0;
  // devnet
  devnet_config devnet;
  CLI::Option* devnet_for = nullptr;
};

std::string identity_path(const std::string& datadir) {
  node_config cfg;
  cfg.datadir = datadir;
  return cfg.key_path();
}

/// The key that signs: --key FILE, or the node identity of --datadir.
caf::expected<key_pair> signing_key(const arguments& a) {
  return load_key(a.key.empty() ? identity_path(a.datadir) : a.key);
}

caf::expected<encoded> copy_of(capnp::Data::Reader data) {
  return encoded::copy_of(byte_view{data.begin(), data.size()});
}

template <size_t N>
caf::expected<std::array<uint8_t, N>> fixed_of(capnp::Data::Reader data,
                                               const char* what) {
  if (auto x = to_fixed<N>(byte_view{data.begin(), data.size()}))
    return *x;
  return make_error(ec::malformed, std::string{"the node sent a "} + what
                                     + " of " + std::to_string(data.size())
                                     + " bytes");
}

/// Submits records on a fresh connection.
caf::error submit(const std::string& datadir, std::vector<record> records) {
  auto client = admin_client::connect(datadir);
  if (!client)
    return client.error();
  auto reply = client->submit(records);
  if (!reply)
    return reply.error();
  return {};
}

// -- init, run, keys ----------------------------------------------------------

int cmd_init(const arguments& a) {
  node_config cfg;
  cfg.datadir = a.datadir;
  cfg.chain = a.chain;
  cfg.produce = a.produce;
  auto identity = init_datadir(cfg);
  if (!identity)
    return report(identity.error());
  json j;
  j["public_key"] = to_hex(identity->public_key_bytes());
  j["datadir"] = a.datadir;
  j["chain"] = cfg.chain;
  emit(j, a.json);
  return 0;
}

int cmd_run(const arguments& a) {
  auto cfg = load_config(a.datadir);
  if (!cfg)
    return report(cfg.error());
  if (a.produce_flag->count() > 0)
    cfg->produce = a.produce;
  // Flags add to what the config file lists.
  cfg->listen.insert(cfg->listen.end(), a.listen.begin(), a.listen.end());
  cfg->peers.insert(cfg->peers.end(), a.peers.begin(), a.peers.end());
  auto identity = load_key(cfg->key_path());
  if (!identity)
    return report(identity.error());
  return run_node(*cfg, *identity);
}

int cmd_keys_new(const arguments& a) {
  auto kp = key_pair::generate();
  if (auto err = save_key(a.out, kp))
    return report(err);
  json j;
  j["public_key"] = to_hex(kp.public_key_bytes());
  emit(j, a.json);
  return 0;
}

int cmd_keys_show(const arguments& a) {
  if (a.key.empty() && a.datadir.empty())
    return usage("keys show: give --key FILE or --datadir DIR");
  auto kp = signing_key(a);
  if (!kp)
    return report(kp.error());
  json j;
  j["public_key"] = to_hex(kp->public_key_bytes());
  emit(j, a.json);
  return 0;
}

// -- status and lookups -------------------------------------------------------

/// Connects to the node, asks with `ask(client)` and shows the reply with
/// `show(reply)`; a failure at any step is one line on stderr.
template <class Ask, class Show>
int query(const arguments& a, Ask ask, Show show) {
  auto client = admin_client::connect(a.datadir);
  if (!client)
    return report(client.error());
  auto reply = ask(*client);
  if (!reply)
    return report(reply.error());
  return show(*reply);
}

int cmd_status(const arguments& a) {
  return query(
    a, [](admin_client& c) { return c.status(); },
    [&](auto& reply) {
      emit(status_json(reply.root().getStatus()), a.json, print_status);
      return 0;
    });
}

int cmd_peers(const arguments& a) {
  return query(
    a,
    [](admin_client& c) {
      capnp::MallocMessageBuilder msg;
      msg.initRoot<schema::Request>().setPeers();
      return c.call(msg, schema::Reply::PEERS);
    },
    [&](auto& reply) {
      emit(peers_json(reply.root().getPeers()), a.json, print_peers);
      return 0;
    });
}

int cmd_item(const arguments& a) {
  return query(
    a, [&](admin_client& c) { return c.item(hex32_of(a.id)); },
    [&](auto& reply) {
      emit(item_json(reply.root().getItem()), a.json, print_item);
      return 0;
    });
}

int cmd_owner(const arguments& a) {
  return query(
    a, [&](admin_client& c) { return c.owner(hex32_of(a.id)); },
    [&](auto& reply) {
      emit(owner_json(reply.root().getOwner()), a.json, print_owner);
      return 0;
    });
}

int cmd_record(const arguments& a) {
  return query(
    a, [&](admin_client& c) { return c.record_info(hex32_of(a.id)); },
    [&](auto& reply) {
      auto info = reply.root().getRecord();
      auto bytes = copy_of(info.getRecord());
      if (!bytes)
        return report(bytes.error());
      auto r = decode_record(*bytes);
      if (!r)
        return report(r.error());
      emit(record_info_json(info, *r), a.json, print_record);
      return 0;
    });
}

int cmd_block(const arguments& a) {
  if (a.id.empty())
    return usage("block: give a HEIGHT or a HASH, or a subcommand "
                 "(export, import)");
  bool digits = a.id.find_first_not_of("0123456789") == std::string::npos;
  uint64_t height = 0;
  if (digits) {
    try {
      size_t used = 0;
      height = std::stoull(a.id, &used);
    } catch (const std::exception&) {
      return usage("block: height " + a.id + " is out of range");
    }
  } else if (!from_hex_fixed<32>(a.id)) {
    return usage("block: expected a height (digits) or a block hash (64 hex "
                 "characters), got '"
                 + a.id + "'");
  }
  auto client = admin_client::connect(a.datadir);
  if (!client)
    return report(client.error());
  auto reply = digits ? client->block_by_height(height)
                      : client->block_by_hash(hex32_of(a.id));
  if (!reply)
    return report(reply.error());
  auto bytes = copy_of(reply->root().getBlock().getBlock());
  if (!bytes)
    return report(bytes.error());
  auto b = decode_block(*bytes);
  if (!b)
    return report(b.error());
  emit(block_json(*b), a.json, print_block);
  return 0;
}

// -- records ------------------------------------------------------------------

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

int cmd_asset_register(const arguments& a) {
  if (a.fingerprint.empty() == a.fingerprint_file.empty())
    return usage("asset register: give exactly one of --fingerprint TEXT and "
                 "--fingerprint-file PATH");
  std::vector<uint8_t> fingerprint;
  if (!a.fingerprint_file.empty()) {
    auto h = hash_file(a.fingerprint_file);
    if (!h)
      return report(h.error());
    fingerprint.assign(h->begin(), h->end());
  } else {
    fingerprint.assign(a.fingerprint.begin(), a.fingerprint.end());
  }
  std::vector<meta_entry> metadata;
  for (auto& kv : a.meta) {
    auto eq = kv.find('=');
    metadata.push_back({kv.substr(0, eq), kv.substr(eq + 1)});
  }
  auto key = signing_key(a);
  if (!key)
    return report(key.error());
  auto registered = make_asset(a.name, std::move(fingerprint),
                               std::move(metadata), *key);
  // Field limits are argument errors; catch them before the node does.
  if (auto err = check_fields(record{registered}))
    return usage("asset register: " + message_of(err));
  if (auto err = submit(a.datadir, {registered}))
    return report(err);
  json j;
  j["asset_id"] = to_hex(asset_id(registered));
  j["record"] = to_hex(record_id(registered));
  emit(j, a.json);
  return 0;
}

int cmd_issue(const arguments& a) {
  auto key = signing_key(a);
  if (!key)
    return report(key.error());
  // The anchor and the work come from the node's view of the chain; the
  // connection closes while the work is solved.
  hash256 anchor;
  uint64_t base = 0;
  {
    auto client = admin_client::connect(a.datadir);
    if (!client)
      return report(client.error());
    auto reply = client->status();
    if (!reply)
      return report(reply.error());
    auto st = reply->root().getStatus();
    auto tip = fixed_of<32>(st.getTip(), "tip hash");
    if (!tip)
      return report(tip.error());
    anchor = *tip;
    base = st.getIssueDifficulty();
  }
  issue_batch batch;
  batch.anchor = anchor;
  auto asset = hex32_of(a.asset);
  for (uint32_t i = 0; i < a.count; ++i) {
    // Random nonces: issuing again never repeats an item id.
    uint64_t nonce = 0;
    randombytes_buf(&nonce, sizeof(nonce));
    batch.issues.push_back(make_issue(asset, nonce, *key));
  }
  auto difficulty = batch_difficulty(base, batch.issues.size());
  // Expected tries equal the difficulty; 64 times that fails with odds e^-64.
  uint64_t max_tries = difficulty > UINT64_MAX / 64
                         ? UINT64_MAX
                         : std::max<uint64_t>(difficulty * 64, 1 << 20);
  if (!solve_batch(batch, difficulty, max_tries))
    return report(make_error(ec::bad_proof, "found no free-issue proof in "
                                              + std::to_string(max_tries)
                                              + " tries"));
  if (auto err = submit(a.datadir, {batch}))
    return report(err);
  json j;
  auto items = json::array();
  for (auto& i : batch.issues)
    items.push_back(to_hex(record_id(i)));
  j["items"] = std::move(items);
  j["record"] = to_hex(record_id(batch));
  emit(j, a.json, [](const json& out) {
    for (auto& id : out["items"])
      fmt::print("{}\n", id.get<std::string>());
  });
  return 0;
}

int cmd_transfer(const arguments& a) {
  auto new_owner = hex32_of(a.to);
  auto key = signing_key(a);
  if (!key)
    return report(key.error());
  std::optional<key_pair> counter;
  if (!a.countersign_key.empty()) {
    auto k = load_key(a.countersign_key);
    if (!k)
      return report(k.error());
    if (k->public_key_bytes() != new_owner)
      return usage("transfer: --countersign-key holds the key "
                   + to_hex(k->public_key_bytes()) + ", not the new owner "
                   + a.to + " named by --to");
    counter = *k;
  }
  // The link is the item's latest record, pending transfers included.
  hash256 link;
  {
    auto client = admin_client::connect(a.datadir);
    if (!client)
      return report(client.error());
    auto reply = client->item(hex32_of(a.item));
    if (!reply)
      return report(reply.error());
    auto provenance = reply->root().getItem().getProvenance();
    if (provenance.size() == 0)
      return report(
        make_error(ec::not_found, "item " + a.item + " has no provenance"));
    auto latest = fixed_of<32>(provenance[0].getRecordId(), "record id");
    if (!latest)
      return report(latest.error());
    link = *latest;
  }
  auto t = make_transfer(link, new_owner, *key);
  if (counter)
    countersign(t, *counter);
  if (auto err = submit(a.datadir, {t}))
    return report(err);
  json j;
  j["record"] = to_hex(record_id(t));
  emit(j, a.json);
  return 0;
}

// -- blocks in bulk, admin ----------------------------------------------------

int cmd_block_export(const arguments& a) {
  auto client = admin_client::connect(a.datadir);
  if (!client)
    return report(client.error());
  auto st = client->status();
  if (!st)
    return report(st.error());
  auto tip_height = st->root().getStatus().getHeight();
  if (a.from > tip_height)
    return report(make_error(
      ec::not_found, "no block at height " + std::to_string(a.from)
                       + "; the tip is at " + std::to_string(tip_height)));
  // [from, end): up to the tip, or --count blocks.
  auto end = tip_height + 1;
  if (a.export_count_opt->count() > 0 && a.export_count < end - a.from)
    end = a.from + a.export_count;
  std::ofstream out{a.out, std::ios::binary | std::ios::trunc};
  if (!out)
    return report(make_error(ec::io, "cannot create " + a.out));
  auto next = a.from;
  while (next < end) {
    auto want = static_cast<uint32_t>(
      std::min<uint64_t>(blocks_per_request, end - next));
    auto reply = client->export_blocks(next, want);
    if (!reply)
      return report(reply.error());
    auto blocks = reply->root().getBlocks();
    if (blocks.size() == 0)
      break; // the chain is shorter than the status said (a reorg)
    for (auto b : blocks) {
      uint8_t head[4];
      put_u32(head, static_cast<uint32_t>(b.size()));
      out.write(reinterpret_cast<const char*>(head), 4);
      out.write(reinterpret_cast<const char*>(b.begin()),
                static_cast<std::streamsize>(b.size()));
    }
    next += blocks.size();
  }
  if (!out.flush())
    return report(make_error(ec::io, "cannot write " + a.out));
  json j;
  j["from"] = a.from;
  j["count"] = next - a.from;
  j["out"] = a.out;
  emit(j, a.json);
  return 0;
}

int cmd_block_import(const arguments& a) {
  std::ifstream in{a.file, std::ios::binary};
  if (!in)
    return report(make_error(ec::io, "cannot open " + a.file));
  auto client = admin_client::connect(a.datadir);
  if (!client)
    return report(client.error());
  std::vector<std::vector<uint8_t>> chunk;
  size_t chunk_bytes = 0;
  uint64_t imported = 0;
  std::optional<json> tip;
  auto flush = [&]() -> caf::error {
    if (chunk.empty())
      return {};
    auto reply = client->import_blocks(chunk);
    if (!reply)
      return reply.error();
    tip = tip_json(reply->root().getTip());
    imported += chunk.size();
    chunk.clear();
    chunk_bytes = 0;
    return {};
  };
  for (uint64_t frame = 0;; ++frame) {
    uint8_t head[4];
    in.read(reinterpret_cast<char*>(head), 4);
    if (in.gcount() == 0 && in.eof())
      break;
    if (in.gcount() != 4)
      return report(make_error(ec::malformed, a.file + ": truncated frame "
                                                + std::to_string(frame)));
    auto size = get_u32(head);
    if (size == 0 || size > block_limits.max_bytes)
      return report(make_error(
        ec::malformed, a.file + ": frame " + std::to_string(frame) + " claims "
                         + std::to_string(size) + " bytes"));
    std::vector<uint8_t> bytes(size);
    in.read(reinterpret_cast<char*>(bytes.data()), size);
    if (static_cast<size_t>(in.gcount()) != size)
      return report(make_error(ec::malformed, a.file + ": truncated frame "
                                                + std::to_string(frame)));
    if (chunk.size() == blocks_per_request
        || chunk_bytes + size > import_bytes_per_request)
      if (auto err = flush())
        return report(err);
    chunk_bytes += size;
    chunk.push_back(std::move(bytes));
  }
  if (auto err = flush())
    return report(err);
  if (!tip)
    return report(make_error(ec::malformed, a.file + " holds no blocks"));
  (*tip)["imported"] = imported;
  emit(*tip, a.json);
  return 0;
}

int cmd_admin_reorg(const arguments& a) {
  return query(
    a, [&](admin_client& c) { return c.reorg(a.depth); },
    [&](auto& reply) {
      emit(tip_json(reply.root().getTip()), a.json);
      return 0;
    });
}

int cmd_devnet(const arguments& a) {
  auto cfg = a.devnet;
  if (a.devnet_for->count() > 0 && cfg.run_for_s == 0)
    return usage("devnet: --for must be at least 1 second (leave it out to "
                 "run until Ctrl-C)");
  if (auto problem = cfg.validate(); !problem.empty())
    return usage("devnet: " + problem);
  return run_devnet(cfg);
}

int cmd_stop(const arguments& a) {
  return query(
    a, [](admin_client& c) { return c.stop(); },
    [&](auto&) {
      json j;
      j["stopping"] = true;
      emit(j, a.json,
           [](const json&) { fmt::print("the node is stopping\n"); });
      return 0;
    });
}

// -- watch --------------------------------------------------------------------

/// Set by SIGINT/SIGTERM while `watch` waits for the next tip.
volatile sig_atomic_t watch_stopped = 0;

extern "C" void stop_watching(int) {
  watch_stopped = 1;
}

/// Prints each tip the node tells until it ends the stream (exit 0), the
/// connection drops (1) or SIGINT/SIGTERM (0).
int cmd_watch(const arguments& a) {
  auto client = admin_client::connect(a.datadir);
  if (!client)
    return report(client.error());
  // The stop signals are blocked but while ppoll waits, so one that comes
  // while a tip is printed is taken at the next wait, never lost.
  struct sigaction on_stop {};
  on_stop.sa_handler = stop_watching;
  sigemptyset(&on_stop.sa_mask);
  ::sigaction(SIGINT, &on_stop, nullptr);
  ::sigaction(SIGTERM, &on_stop, nullptr);
  sigset_t stop_signals, waiting;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &stop_signals, &waiting);
  sigdelset(&waiting, SIGINT);
  sigdelset(&waiting, SIGTERM);
  if (auto err = client->watch())
    return report(err);
  for (;;) {
    pollfd p{client->fd(), POLLIN, 0};
    auto n = ::ppoll(&p, 1, nullptr, &waiting);
    if (watch_stopped)
      return 0;
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return report(make_error(ec::io, std::string{"cannot wait for the "
                                                   "node: "}
                                         + std::strerror(errno)));
    }
    auto reply = client->read_reply();
    if (!reply) {
      if (code_of(reply.error()) != ec::io)
        return report(reply.error());
      fmt::print(stderr, "hallmark: lost the connection to the node: {}\n",
                 message_of(reply.error()));
      return exit_failed;
    }
    auto root = reply->root();
    switch (root.which()) {
    case schema::Reply::TIP:
      emit(tip_json(root.getTip()), a.json, print_tip_line);
      break;
    case schema::Reply::END:
      if (!a.json)
        fmt::print("the node is stopping: no more tips\n");
      return 0;
    default:
      return report(make_error(
        ec::bad_request, "the node sent a reply of kind "
                           + std::to_string(static_cast<int>(root.which()))
                           + " while watching"));
    }
  }
}

// -- the command line ---------------------------------------------------------

/// A parsed subcommand and the function that runs it.
struct command {
  CLI::App* app;
  std::function<int(const arguments&)> run;
};

CLI::Option* add_datadir(CLI::App* app, arguments& a, bool required = true) {
  auto opt = app
               ->add_option("--datadir", a.datadir, "The node's data directory")
               ->envname("HALLMARK_DATADIR");
  if (required)
    opt->required();
  return opt;
}

void add_json(CLI::App* app, arguments& a) {
  app->add_flag("--json", a.json, "Print one JSON object instead of a listing");
}

void add_key(CLI::App* app, arguments& a) {
  app
    ->add_option("--key", a.key,
                 "Key file that signs (default: DATADIR/identity.key)")
    ->check(CLI::ExistingFile);
}

int run_cli(int argc, char** argv) {
  arguments a;
  std::vector<command> commands;
  CLI::App app{"Hallmark: a peer-to-peer property registry node.\n"
               "Exit codes: 0 ok, 1 failed, 2 wrong arguments, 3 no node "
               "running.",
               "hallmark"};
  app.set_version_flag("--version", HALLMARK_VERSION);
  app.require_subcommand(1);

  // init
  auto init = app.add_subcommand("init", "Create a data directory: identity "
                                         "key and configuration");
  add_datadir(init, a);
  init->add_option("--chain", a.chain, "Chain to follow")
    ->check(CLI::IsMember({"devnet", "testnet", "mainnet"}))
    ->capture_default_str();
  init->add_flag("--produce", a.produce, "Produce blocks");
  add_json(init, a);
  commands.push_back({init, cmd_init});

  // run
  auto run = app.add_subcommand("run", "Run a node in the foreground");
  add_datadir(run, a);
  a.produce_flag = run->add_flag("--produce,!--no-produce", a.produce,
                                 "Produce blocks (overrides the config)");
  run->add_option("--listen", a.listen,
                  "Accept peers on HOST:PORT or [V6]:PORT (repeatable)");
  run->add_option("--peer", a.peers,
                  "Static peer PUBKEY@HOST:PORT (repeatable)");
  commands.push_back({run, cmd_run});

  // status
  auto status = app.add_subcommand("status", "Show the node's chain state");
  add_datadir(status, a);
  add_json(status, a);
  commands.push_back({status, cmd_status});

  // peers
  auto peers = app.add_subcommand("peers", "List the node's peers and links");
  add_datadir(peers, a);
  add_json(peers, a);
  commands.push_back({peers, cmd_peers});

  // keys new | show
  auto keys = app.add_subcommand("keys", "Make or show key files");
  keys->require_subcommand(1);
  auto keys_new = keys->add_subcommand("new", "Write a new key file (0600)");
  keys_new->add_option("--out", a.out, "Key file to create")->required();
  add_json(keys_new, a);
  commands.push_back({keys_new, cmd_keys_new});
  auto keys_show = keys->add_subcommand("show", "Print a key's public key");
  keys_show->add_option("--key", a.key, "Key file")->check(CLI::ExistingFile);
  add_datadir(keys_show, a, false)
    ->description("Show the node identity of this data directory");
  add_json(keys_show, a);
  commands.push_back({keys_show, cmd_keys_show});

  // asset register
  auto asset = app.add_subcommand("asset", "Register assets");
  asset->require_subcommand(1);
  auto reg = asset->add_subcommand("register", "Register an asset");
  add_datadir(reg, a);
  reg->add_option("--name", a.name, "Asset name, 1 to 64 bytes")->required();
  auto fp = reg->add_option("--fingerprint", a.fingerprint,
                            "Fingerprint: the bytes of this text (1 to 1024)");
  auto fp_file = reg->add_option(
    "--fingerprint-file", a.fingerprint_file,
    "Fingerprint: the BLAKE2b-256 hash of this file's contents");
  fp_file->check(CLI::ExistingFile);
  fp->excludes(fp_file);
  reg->add_option("--meta", a.meta, "Metadata entry, repeatable")
    ->check(key_value)
    ->allow_extra_args(false);
  add_key(reg, a);
  add_json(reg, a);
  commands.push_back({reg, cmd_asset_register});

  // issue
  auto issue = app.add_subcommand("issue", "Issue items of an asset (free "
                                           "issue with proof of work)");
  add_datadir(issue, a);
  issue->add_option("--asset", a.asset, "Asset id")->required()->check(hex32);
  issue->add_option("--count", a.count, "Items to issue")
    ->check(CLI::Range(1u, static_cast<unsigned>(max_batch_issues)))
    ->capture_default_str();
  add_key(issue, a);
  add_json(issue, a);
  commands.push_back({issue, cmd_issue});

  // transfer
  auto xfer = app.add_subcommand("transfer", "Transfer an item");
  add_datadir(xfer, a);
  xfer->add_option("--item", a.item, "Item id")->required()->check(hex32);
  xfer->add_option("--to", a.to, "New owner's public key")
    ->required()
    ->check(hex32);
  add_key(xfer, a);
  xfer
    ->add_option("--countersign-key", a.countersign_key,
                 "New owner's key file, to countersign")
    ->check(CLI::ExistingFile);
  add_json(xfer, a);
  commands.push_back({xfer, cmd_transfer});

  // item, owner, record
  auto item = app.add_subcommand("item", "Show an item's owner and provenance");
  add_datadir(item, a);
  item->add_option("ITEM", a.id, "Item id")->required()->check(hex32);
  add_json(item, a);
  commands.push_back({item, cmd_item});

  auto owner = app.add_subcommand("owner", "List the items a key owns");
  add_datadir(owner, a);
  owner->add_option("PUBKEY", a.id, "Owner's public key")
    ->required()
    ->check(hex32);
  add_json(owner, a);
  commands.push_back({owner, cmd_owner});

  auto rec = app.add_subcommand("record", "Show a record and where it is");
  add_datadir(rec, a);
  rec->add_option("RECORD", a.id, "Record id")->required()->check(hex32);
  add_json(rec, a);
  commands.push_back({rec, cmd_record});

  // block HEIGHT|HASH, block export, block import
  auto block = app.add_subcommand("block", "Show a block, or export/import "
                                           "blocks");
  block->require_subcommand(0, 1);
  add_datadir(block, a);
  block->add_option("BLOCK", a.id, "Block height or hash");
  add_json(block, a);
  auto exp = block->add_subcommand("export", "Write blocks to a file");
  exp->fallthrough(); // --datadir and --json belong to `block`
  exp->add_option("--from", a.from, "First height")->required();
  a.export_count_opt = exp->add_option(
    "--count", a.export_count, "Blocks to export (default: to the tip)");
  a.export_count_opt->check(CLI::PositiveNumber);
  exp->add_option("--out", a.out, "File to write")->required();
  commands.push_back({exp, cmd_block_export});
  auto imp = block->add_subcommand("import", "Apply blocks from a file");
  imp->fallthrough();
  imp->add_option("FILE", a.file, "File written by `block export`")
    ->required()
    ->check(CLI::ExistingFile);
  commands.push_back({imp, cmd_block_import});
  commands.push_back({block, cmd_block});

  // admin reorg
  auto admin = app.add_subcommand("admin", "Operator actions");
  admin->require_subcommand(1);
  auto reorg = admin->add_subcommand("reorg", "Unwind N blocks and apply them "
                                              "again");
  add_datadir(reorg, a);
  reorg->add_option("DEPTH", a.depth, "Blocks to unwind")
    ->required()
    ->check(CLI::Range(1u, UINT32_MAX));
  add_json(reorg, a);
  commands.push_back({reorg, cmd_admin_reorg});

  // devnet
  auto devnet = app.add_subcommand(
    "devnet", "Run N nodes on loopback, one producing, and walk a record "
              "through them");
  devnet->add_option("--nodes", a.devnet.nodes, "Node processes, 1 to 16")
    ->required();
  devnet->add_option("--dir", a.devnet.dir,
                     "Directory for the nodes' data and logs, kept "
                     "(default: a fresh one under /tmp, removed)");
  a.devnet_for = devnet->add_option("--for", a.devnet.run_for_s,
                                    "Seconds to run (default: until Ctrl-C)");
  devnet
    ->add_option("--base-port", a.devnet.base_port,
                 "Node i listens on base-port + i (default: 19500 if "
                 "free, else free ports)")
    ->check(CLI::Range(1u, 65535u));
  commands.push_back({devnet, cmd_devnet});

  // stop
  auto stop = app.add_subcommand("stop", "Stop the running node");
  add_datadir(stop, a);
  add_json(stop, a);
  commands.push_back({stop, cmd_stop});

  // watch
  auto watch = app.add_subcommand(
    "watch", "Print each new tip as it comes, until the node stops");
  add_datadir(watch, a);
  watch->add_flag("--json", a.json,
                  "Print one JSON object per tip, one a line");
  commands.push_back({watch, cmd_watch});

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage(std::string{e.what()} + " (see `hallmark --help`)");
  }
  if (block->parsed() && !a.id.empty() && (exp->parsed() || imp->parsed()))
    return usage("block: give either a HEIGHT|HASH or a subcommand, not both");
  // Leaves come before their parents in `commands`.
  for (auto& c : commands)
    if (c.app->parsed())
      return c.run(a);
  return usage("no command given (see `hallmark --help`)");
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
