// Questions to a running node: `peers`, `item`, `owner`, `record`, and
// `watch`, which follows the tip until the node stops. Blocks are asked for
// by block_commands.cpp.
#include <cerrno>
#include <cstring>

#include <poll.h>
#include <signal.h>

#include <fmt/core.h>

#include "cli/commands.hpp"
#include "client/render.hpp"
#include "messages/codec.hpp"

namespace hallmark {

namespace {

/// The options of a command that looks up one id.
struct lookup_options {
  client_options client;
  std::string id;
};

/// Sends the request `fill` builds and prints the peers it answers with.
template <class Fill>
int peers_request(const client_options& o, Fill fill) {
  return print_reply(
    o,
    [&](admin_client& c) {
      capnp::MallocMessageBuilder msg;
      fill(msg.initRoot<schema::Request>());
      return c.call(msg, schema::Reply::PEERS);
    },
    [](auto root) { return peers_json(root.getPeers()); }, print_peers);
}

int peers(const client_options& o) {
  return peers_request(o, [](schema::Request::Builder r) { r.setPeers(); });
}

/// The options of `peers ban` and `peers unban` (--datadir and --json are
/// `peers`'s).
struct ban_options {
  std::string key;
  uint64_t seconds = 0;
};

int ban(const client_options& client, const ban_options& o) {
  auto key = hex32_of(o.key);
  return peers_request(client, [&](schema::Request::Builder r) {
    auto b = r.initBan();
    b.setKey(capnp::Data::Reader{key.data(), key.size()});
    b.setSeconds(o.seconds);
  });
}

int unban(const client_options& client, const ban_options& o) {
  auto key = hex32_of(o.key);
  return peers_request(client, [&](schema::Request::Builder r) {
    r.setUnban(capnp::Data::Reader{key.data(), key.size()});
  });
}

int item(const lookup_options& o) {
  return print_reply(
    o.client, [&](admin_client& c) { return c.item(hex32_of(o.id)); },
    [](auto root) { return item_json(root.getItem()); }, print_item);
}

int owner(const lookup_options& o) {
  return print_reply(
    o.client, [&](admin_client& c) { return c.owner(hex32_of(o.id)); },
    [](auto root) { return owner_json(root.getOwner()); }, print_owner);
}

int record_info(const lookup_options& o) {
  return query(
    o.client.datadir,
    [&](admin_client& c) { return c.record_info(hex32_of(o.id)); },
    [&](auto& reply) { return print_record_reply(reply, o.client.json); });
}

// -- watch --------------------------------------------------------------------

/// Set by SIGINT/SIGTERM while `watch` waits for the next tip.
volatile sig_atomic_t watch_stopped = 0;

extern "C" void stop_watching(int) {
  watch_stopped = 1;
}

/// Prints each tip the node tells until it ends the stream (exit 0), the
/// connection drops (1) or SIGINT/SIGTERM (0).
int watch(const client_options& o) {
  auto client = admin_client::connect(o.datadir);
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
      return exit_ok;
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
      emit(tip_json(root.getTip()), o.json, print_tip_line);
      break;
    case schema::Reply::END:
      if (!o.json)
        fmt::print("the node is stopping: no more tips\n");
      return exit_ok;
    default:
      return report(make_error(
        ec::bad_request, "the node sent a reply of kind "
                           + std::to_string(static_cast<int>(root.which()))
                           + " while watching"));
    }
  }
}

/// Adds a command that looks up one id, given as the positional `what`.
void add_lookup(CLI::App& app, command_table& commands, const char* name,
                const char* help, const char* what, const char* what_help,
                int (*run)(const lookup_options&)) {
  auto [cmd, o] = commands.add<lookup_options>(&app, name, help, run);
  add_datadir(cmd, o->client.datadir);
  cmd->add_option(what, o->id, what_help)->required()->check(hex32);
  add_json(cmd, o->client.json);
}

} // namespace

void add_query_commands(CLI::App& app, command_table& commands) {
  auto [peers_cmd, peers_opts] = commands.add<client_options>(
    &app, "peers", "List the node's peers and links (or: list, ban, unban)",
    peers);
  peers_cmd->require_subcommand(0, 1);
  add_client_options(peers_cmd, *peers_opts);
  // --datadir and --json belong to `peers`: the subcommands fall through.
  auto shared = peers_opts;
  auto [list_cmd, list_opts] = commands.add<client_options>(
    peers_cmd, "list", "List the node's peers and links",
    [shared](const client_options&) { return peers(*shared); });
  list_cmd->fallthrough();
  auto key_of = [](CLI::App* cmd, ban_options& o) {
    cmd->fallthrough();
    cmd->add_option("PUBKEY", o.key, "The peer's public key")
      ->required()
      ->check(hex32);
  };
  auto [ban_cmd, ban_opts] = commands.add<ban_options>(
    peers_cmd, "ban",
    "Refuse a peer's key (kept across restarts) and cut its link",
    [shared](const ban_options& o) { return ban(*shared, o); });
  key_of(ban_cmd, *ban_opts);
  ban_cmd
    ->add_option("--for", ban_opts->seconds,
                 "Seconds the ban lasts; 0: the node's ban_seconds")
    ->check(whole_number(0, uint64_t{10} * 365 * 86400, "seconds"));
  auto [unban_cmd, unban_opts] = commands.add<ban_options>(
    peers_cmd, "unban", "Lift a peer's ban and clear its score",
    [shared](const ban_options& o) { return unban(*shared, o); });
  key_of(unban_cmd, *unban_opts);

  add_lookup(app, commands, "item", "Show an item's owner and provenance",
             "ITEM", "Item id", item);
  add_lookup(app, commands, "owner", "List the items a key owns", "PUBKEY",
             "Owner's public key", owner);
  add_lookup(app, commands, "record", "Show a record and where it is", "RECORD",
             "Record id", record_info);

  auto [watch_cmd, watch_opts] = commands.add<client_options>(
    &app, "watch", "Print each new tip as it comes, until the node stops",
    watch);
  add_datadir(watch_cmd, watch_opts->datadir);
  watch_cmd->add_flag("--json", watch_opts->json,
                      "Print one JSON object per tip, one a line");
}

} // namespace hallmark
