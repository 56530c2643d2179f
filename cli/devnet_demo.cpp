#include "cli/devnet_demo.hpp"

#include <fmt/core.h>

#include "client/admin_client.hpp"
#include "client/render.hpp"
#include "client/submit.hpp"
#include "core/error.hpp"
#include "core/records.hpp"

namespace hallmark {

namespace {

using namespace std::chrono_literals;

/// How long one step may wait for its record to reach a block, and for the
/// entry node to link to the producer.
constexpr auto step_limit = 60s;
/// How long the demo waits for every node to link to every other.
constexpr auto mesh_limit = 15s;
/// How long the demo waits for every node to show the last owner.
constexpr auto everywhere_limit = 30s;
/// Items the demo issues.
constexpr uint32_t demo_items = 3;

/// `item` as node `n` shows it (as item_json).
caf::expected<json> item_at(const devnet_node& n, const hash256& item) {
  auto reply = ask_node(n.datadir,
                        [&](admin_client& c) { return c.item(item); });
  if (!reply)
    return reply.error();
  return item_json(reply->root().getItem());
}

} // namespace

devnet_demo::devnet_demo(const std::vector<devnet_node>& nodes,
                         devnet_journal& journal,
                         const std::atomic<bool>& stopping)
    : nodes_(nodes), journal_(journal), stopping_(stopping) {}

devnet_demo::~devnet_demo() {
  join();
}

void devnet_demo::start() {
  thread_ = std::thread{[this] { run(); }};
}

void devnet_demo::join() {
  if (thread_.joinable())
    thread_.join();
}

std::string devnet_demo::summary() const {
  switch (outcome_.load()) {
  case outcome::completed:
    return "demo: completed";
  case outcome::failed: {
    std::lock_guard<std::mutex> guard{mutex_};
    return "demo: failed: " + failure_;
  }
  case outcome::interrupted:
  case outcome::running:
  default:
    return "demo: stopped before it completed";
  }
}

void devnet_demo::run() {
  auto err = steps();
  if (!err) {
    outcome_ = outcome::completed;
    return;
  }
  if (stopping_) {
    outcome_ = outcome::interrupted;
    journal_.add("demo: interrupted");
    return;
  }
  {
    std::lock_guard<std::mutex> guard{mutex_};
    failure_ = message_of(err);
  }
  outcome_ = outcome::failed;
  journal_.add("demo failed: " + message_of(err));
}

bool devnet_demo::wait_until(const std::function<bool()>& ready,
                             std::chrono::seconds limit) const {
  auto deadline = steady::now() + limit;
  while (!stopping_) {
    if (ready())
      return true;
    if (steady::now() >= deadline)
      return false;
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

caf::error devnet_demo::wait_or_fail(const std::function<bool()>& ready,
                                     std::chrono::seconds limit, ec code,
                                     const std::string& what) const {
  if (wait_until(ready, limit))
    return {};
  return make_error(code, fmt::format("{} within {} s", what, limit.count()));
}

caf::expected<int64_t>
devnet_demo::wait_in_block(const devnet_node& n, const hash256& item,
                           const std::string& what) const {
  int64_t height = -1;
  auto err = wait_or_fail(
    [&] {
      auto j = item_at(n, item);
      if (!j || (*j)["provenance"].empty())
        return false;
      auto& newest = (*j)["provenance"][0];
      if (newest["height"].is_null())
        return false;
      height = newest["height"].get<int64_t>();
      return true;
    },
    step_limit, ec::not_found, what + " did not reach a block");
  if (err)
    return err;
  return height;
}

caf::error devnet_demo::link_up(const devnet_node& entry,
                                const devnet_node& producer) {
  auto say = [&](const std::string& line) { journal_.add(line); };
  if (entry.index != producer.index) {
    auto linked = [&] {
      auto peers = peers_of(entry);
      if (!peers)
        return false;
      for (auto& p : (*peers)["peers"])
        if (p["key"] == producer.key && p["link"] == "up")
          return true;
      return false;
    };
    if (auto err = wait_or_fail(
          linked, step_limit, ec::io,
          fmt::format("node {} did not link to the producer", entry.index)))
      return err;
    say(fmt::format("node {} linked to the producer (its static peer)",
                    entry.index));
  }
  if (nodes_.size() > 2) {
    auto mesh = [&] {
      for (auto& n : nodes_)
        if (look_at(n).links + 1 < nodes_.size())
          return false;
      return true;
    };
    if (wait_until(mesh, mesh_limit))
      say(fmt::format("every node linked to the {} others: the links "
                      "beyond node 0 came from announcements",
                      nodes_.size() - 1));
    else if (!stopping_)
      say(fmt::format("not every pair of nodes linked after {} s; going "
                      "on (see the PEERS column)",
                      mesh_limit.count()));
  }
  if (stopping_)
    return make_error(ec::shutting_down, "stopping");
  return {};
}

caf::error devnet_demo::steps() {
  // Records enter at node 1, away from the producer, when there is one.
  auto& entry = nodes_.size() > 1 ? nodes_[1] : nodes_[0];
  auto entry_name = fmt::format("node {}", entry.index);
  auto say = [&](const std::string& line) { journal_.add(line); };

  // 1. The network: the entry linked to the producer, then (bounded) every
  // node linked to every other, the later links learned by announcement.
  if (auto err = link_up(entry, nodes_[0]))
    return err;

  // 2. An asset, registered by the entry node's identity.
  std::string fingerprint = "sha256:e3b0c44298fc1c149afbf4c8996fb924";
  auto registered = make_asset(
    "Sunflowers", {fingerprint.begin(), fingerprint.end()},
    {{"artist", "Vincent"}, {"year", "1888"}}, entry.identity);
  if (auto err = submit(entry.datadir, {registered}))
    return err;
  auto asset = asset_id(registered);
  say(fmt::format("asset {} \"Sunflowers\" registered via {}", short_hex(asset),
                  entry_name));

  // 3. Items of it, with the free-issue work over the entry's tip.
  auto batch = make_issue_batch(entry.datadir, asset, demo_items,
                                entry.identity);
  if (!batch)
    return batch.error();
  if (auto err = submit(entry.datadir, {*batch}))
    return err;
  auto item = record_id(batch->issues[0]);
  std::string ids;
  for (auto& i : batch->issues)
    ids += (ids.empty() ? "" : ", ") + short_hex(record_id(i));
  say(fmt::format("issued {} items via {}: {}", demo_items, entry_name, ids));
  auto height = wait_in_block(entry, item, "the issues");
  if (!height)
    return height.error();
  say(fmt::format("the issues are in block {} (made by node 0, seen by {})",
                  *height, entry_name));

  // 4. The first item to a fresh key, signed by the issuer.
  auto bob = key_pair::generate();
  auto carol = key_pair::generate();
  auto link = latest_record(entry.datadir, item);
  if (!link)
    return link.error();
  auto to_bob = make_transfer(*link, bob.public_key_bytes(), entry.identity);
  if (auto err = submit(entry.datadir, {to_bob}))
    return err;
  say(fmt::format("transferred item {} to bob {} via {}", short_hex(item),
                  short_hex(to_hex(bob.public_key_bytes())), entry_name));
  height = wait_in_block(entry, item, "the transfer to bob");
  if (!height)
    return height.error();
  say(fmt::format("the transfer to bob is in block {}", *height));

  // 5. Bob to another fresh key, who countersigns.
  link = latest_record(entry.datadir, item);
  if (!link)
    return link.error();
  auto to_carol = make_transfer(*link, carol.public_key_bytes(), bob);
  countersign(to_carol, carol);
  if (auto err = submit(entry.datadir, {to_carol}))
    return err;
  say(fmt::format("bob transferred it to carol {}, who countersigned",
                  short_hex(to_hex(carol.public_key_bytes()))));
  height = wait_in_block(entry, item, "the transfer to carol");
  if (!height)
    return height.error();
  say(fmt::format("the transfer to carol is in block {}", *height));

  // 6. Every node tells the same story.
  auto carol_hex = to_hex(carol.public_key_bytes());
  auto everywhere = [&] {
    for (auto& n : nodes_) {
      auto j = item_at(n, item);
      if (!j || (*j)["owner"] != carol_hex
          || (*j)["provenance"][0]["height"].is_null())
        return false;
    }
    return true;
  };
  if (auto err = wait_or_fail(everywhere, everywhere_limit, ec::not_found,
                              "not every node shows carol as the owner"))
    return err;
  auto who = nodes_.size() == 1
               ? std::string{"the node shows"}
               : fmt::format("all {} nodes show", nodes_.size());
  say(who + " carol as the owner, with 3 records of provenance in blocks");
  say("demo complete; the nodes keep running until the end");
  return {};
}

} // namespace hallmark
