#include "client/render.hpp"

#include <algorithm>
#include <ctime>
#include <variant>

#include <fmt/core.h>

#include "core/error.hpp"
#include "core/log.hpp"
#include "messages/codec.hpp"

namespace hallmark {

std::string hex_of(capnp::Data::Reader data) {
  return to_hex(byte_view{data.begin(), data.size()});
}

std::string short_hex(const std::string& hex) {
  return hex.size() > 16 ? hex.substr(0, 16) : hex;
}

std::string short_hex(const hash256& h) {
  return short_hex(to_hex(h));
}

namespace {

json height_or_null(int64_t height) {
  // The node sends -1 for records still in the reservoir.
  return height < 0 ? json(nullptr) : json(height);
}

std::string utc(uint64_t seconds) {
  auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr)
    return "?";
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

/// The text of a scalar for people: strings unquoted, booleans as yes/no,
/// null as "pending" for heights and "-" otherwise.
std::string text_of(const std::string& key, const json& v) {
  if (v.is_null())
    return key == "height" ? "pending" : "-";
  if (v.is_string())
    return v.get<std::string>();
  if (v.is_boolean())
    return v.get<bool>() ? "yes" : "no";
  if (v.is_number_unsigned() && (key == "timestamp" || key == "tip_timestamp"))
    return fmt::format("{} ({})", v.get<uint64_t>(), utc(v.get<uint64_t>()));
  return v.dump();
}

/// How long ago unix time `seen` was, for people: "never", "now", "3s ago",
/// "5m ago", "2h ago", "4d ago".
std::string age_of(const json& seen, uint64_t now) {
  if (!seen.is_number_unsigned())
    return "never";
  auto then = seen.get<uint64_t>();
  if (then >= now)
    return "now";
  auto s = now - then;
  if (s < 60)
    return fmt::format("{}s ago", s);
  if (s < 3600)
    return fmt::format("{}m ago", s / 60);
  if (s < 86400)
    return fmt::format("{}h ago", s / 3600);
  return fmt::format("{}d ago", s / 86400);
}

size_t key_width(const json& j) {
  size_t width = 0;
  for (auto& [key, value] : j.items())
    width = std::max(width, key.size());
  return width;
}

/// Aligned `key  value` lines for every field of `j` not in `skip`.
void print_object(const json& j, const std::string& indent,
                  const std::vector<std::string>& skip = {}) {
  auto width = key_width(j);
  for (auto& [key, value] : j.items()) {
    if (std::find(skip.begin(), skip.end(), key) != skip.end())
      continue;
    if (value.is_object()) {
      if (value.empty()) {
        fmt::print("{}{:<{}}  -\n", indent, key, width);
        continue;
      }
      bool first = true;
      for (auto& [k, v] : value.items()) {
        fmt::print("{}{:<{}}  {}={}\n", indent, first ? key : "", width, k,
                   text_of(k, v));
        first = false;
      }
    } else if (value.is_array()) {
      if (value.empty()) {
        fmt::print("{}{:<{}}  -\n", indent, key, width);
        continue;
      }
      bool first = true;
      for (auto& v : value) {
        fmt::print("{}{:<{}}  {}\n", indent, first ? key : "", width,
                   v.is_object() ? v.dump() : text_of(key, v));
        first = false;
      }
    } else {
      fmt::print("{}{:<{}}  {}\n", indent, key, width, text_of(key, value));
    }
  }
}

/// One record: `kind  id`, then its fields indented; a batch's issues as a
/// table.
void print_record_body(const json& r, const std::string& indent) {
  json fields = json::object();
  for (auto& [key, value] : r.items())
    if (key != "kind" && key != "id" && key != "issues")
      fields[key] = value;
  print_object(fields, indent);
  if (r.contains("issues")) {
    std::vector<std::vector<std::string>> rows;
    for (auto& i : r["issues"])
      rows.push_back({i.value("id", ""), i.value("owner", ""),
                      text_of("nonce", i.value("nonce", json{}))});
    fmt::print("\n");
    print_table({"ITEM", "OWNER", "NONCE"}, rows, indent);
  }
}

} // namespace

// -- JSON ---------------------------------------------------------------------

json status_json(schema::Status::Reader in) {
  json j;
  j["chain"] = in.getChain().cStr();
  j["height"] = in.getHeight();
  j["tip"] = hex_of(in.getTip());
  j["tip_timestamp"] = in.getTipTimestamp();
  j["public_key"] = hex_of(in.getPublicKey());
  j["cumulative_work"] = in.getCumulativeWork().cStr();
  j["next_difficulty"] = in.getNextDifficulty();
  j["issue_difficulty"] = in.getIssueDifficulty();
  j["pending_records"] = in.getPendingRecords();
  j["pending_assets"] = in.getPendingAssets();
  j["pending_issues"] = in.getPendingIssues();
  j["pending_transfers"] = in.getPendingTransfers();
  j["producing"] = in.getProducing();
  j["version"] = in.getVersion().cStr();
  j["anchor_window"] = in.getAnchorWindow();
  j["connector_state"] = in.getConnectorState().cStr();
  j["peers"] = in.getPeers();
  j["sync_target"] = in.getSyncTarget();
  if (in.getFetchError().size() > 0)
    j["fetch_error"] = in.getFetchError().cStr();
  if (in.hasBlockSync()) {
    auto b = in.getBlockSync();
    json sync;
    sync["from_height"] = b.getFromHeight();
    sync["height"] = b.getHeight();
    sync["target_height"] = b.getTargetHeight();
    sync["records_per_s"] = b.getRecordsPerSecond();
    sync["eta_s"] = b.getEtaSeconds() == 0 ? json(nullptr)
                                           : json(b.getEtaSeconds());
    sync["peers"] = b.getPeers();
    sync["elapsed_ms"] = b.getElapsedMs();
    j["block_sync"] = sync;
  }
  if (in.hasStateSync()) {
    auto p = in.getStateSync();
    json sync;
    sync["phase"] = p.getPhase().cStr();
    sync["headers"] = p.getHeaders();
    sync["best_height"] = p.getBestHeight();
    sync["target_height"] = p.getTargetHeight();
    sync["target_root"] = hex_of(p.getTargetRoot());
    sync["ranges_done"] = p.getRangesDone();
    sync["ranges_left"] = p.getRangesLeft();
    sync["keys"] = p.getKeys();
    sync["resumed_keys"] = p.getResumedKeys();
    sync["bytes"] = p.getBytes();
    sync["keys_per_s"] = p.getKeysPerSecond();
    sync["eta_s"] = p.getEtaSeconds() == 0 ? json(nullptr)
                                           : json(p.getEtaSeconds());
    sync["retargets"] = p.getRetargets();
    sync["bad_proofs"] = p.getBadProofs();
    sync["elapsed_ms"] = p.getElapsedMs();
    if (p.getError().size() > 0)
      sync["error"] = p.getError().cStr();
    j["state_sync"] = sync;
  }
  if (in.getDeepForkPeer().size() > 0) {
    json fork;
    fork["peer"] = hex_of(in.getDeepForkPeer());
    fork["fork_height"] = in.getDeepForkHeight();
    fork["depth"] = in.getDeepForkDepth();
    fork["tip_height"] = in.getDeepForkTipHeight();
    j["deep_fork"] = fork;
  }
  return j;
}

json tip_json(schema::Tip::Reader in) {
  json j;
  j["height"] = in.getHeight();
  j["tip"] = hex_of(in.getHash());
  return j;
}

json peers_json(capnp::List<schema::PeerInfo>::Reader in) {
  auto peers = json::array();
  for (auto p : in) {
    json entry;
    entry["key"] = hex_of(p.getKey());
    auto addresses = json::array();
    for (auto a : p.getAddresses())
      addresses.push_back(a.cStr());
    entry["addresses"] = std::move(addresses);
    entry["static"] = p.getIsStatic();
    entry["inbound"] = p.getInbound();
    entry["link"] = p.getLink().cStr();
    entry["height"] = p.getHeight();
    entry["tip"] = hex_of(p.getTip());
    // 0 is the node's "never".
    entry["last_seen"] = p.getLastSeen() == 0 ? json(nullptr)
                                              : json(p.getLastSeen());
    entry["score"] = p.getScore();
    entry["banned_until"] = p.getBannedUntil() == 0 ? json(nullptr)
                                                    : json(p.getBannedUntil());
    peers.push_back(std::move(entry));
  }
  json j;
  j["peers"] = std::move(peers);
  return j;
}

json item_json(schema::Item::Reader in) {
  json j;
  j["item"] = hex_of(in.getItemId());
  j["asset"] = hex_of(in.getAssetId());
  j["owner"] = hex_of(in.getOwner());
  if (in.getHistoryFrom() > 0)
    j["history_from"] = in.getHistoryFrom();
  auto provenance = json::array();
  for (auto e : in.getProvenance()) {
    json entry;
    entry["record"] = hex_of(e.getRecordId());
    entry["kind"] = e.getKind().cStr();
    entry["owner"] = hex_of(e.getOwner());
    entry["height"] = height_or_null(e.getHeight());
    provenance.push_back(std::move(entry));
  }
  j["provenance"] = std::move(provenance);
  return j;
}

json owner_json(schema::Owner::Reader in) {
  json j;
  j["owner"] = hex_of(in.getOwner());
  auto items = json::array();
  for (auto id : in.getItems())
    items.push_back(hex_of(id));
  j["items"] = std::move(items);
  return j;
}

namespace {

void add_fields(json& j, const asset& a) {
  j["name"] = a.name;
  j["fingerprint"] = to_hex(a.fingerprint);
  j["asset_id"] = to_hex(asset_id(a));
  j["registrant"] = to_hex(a.registrant);
  auto metadata = json::object();
  for (auto& m : a.metadata)
    metadata[m.key] = m.value;
  j["metadata"] = std::move(metadata);
}

void add_fields(json& j, const issue_batch& b) {
  auto issues = json::array();
  for (auto& i : b.issues) {
    json entry;
    entry["id"] = to_hex(record_id(i));
    entry["asset_id"] = to_hex(i.asset_id);
    entry["owner"] = to_hex(i.owner);
    entry["nonce"] = i.nonce;
    issues.push_back(std::move(entry));
  }
  j["issues"] = std::move(issues);
  j["anchor"] = to_hex(b.anchor);
  j["work_nonce"] = b.work_nonce;
}

void add_fields(json& j, const transfer& t) {
  j["link"] = to_hex(t.link);
  j["owner"] = to_hex(t.owner);
  j["new_owner"] = to_hex(t.new_owner);
  j["countersigned"] = t.countersig.has_value();
}

} // namespace

json record_json(const record& r) {
  json j;
  j["kind"] = kind_name(r);
  j["id"] = to_hex(leaf_id(r));
  std::visit([&](const auto& x) { add_fields(j, x); }, r);
  return j;
}

json block_json(const block& b) {
  json j;
  auto& h = b.hdr;
  j["height"] = h.height;
  j["hash"] = to_hex(block_hash(h));
  j["previous"] = to_hex(h.previous);
  j["merkle_root"] = to_hex(h.merkle_root);
  j["state_root"] = to_hex(h.state_root);
  j["timestamp"] = h.timestamp;
  j["difficulty"] = h.difficulty;
  j["producer"] = to_hex(h.producer);
  j["nonce"] = h.nonce;
  auto records = json::array();
  for (auto& r : b.records)
    records.push_back(record_json(r));
  j["records"] = std::move(records);
  return j;
}

json state_record_json(schema::RecordInfo::Reader info) {
  json j;
  j["id"] = hex_of(info.getRecordId());
  j["kind"] = info.getKind().cStr();
  j["height"] = height_or_null(info.getHeight());
  auto item = info.getItemId();
  j["item"] = item.size() == 0 ? json(nullptr) : json(hex_of(item));
  j["owner"] = hex_of(info.getOwner());
  j["record"] = nullptr;
  j["state_base"] = info.getStateBase();
  return j;
}

void print_state_record(const json& j) {
  print_object(j, "", {"record"});
  fmt::print("\nKnown from the state sync that began this chain at height {}: "
             "the record's bytes are not kept here (ask a node that keeps "
             "every block).\n",
             j.value("state_base", uint64_t{0}));
}

json record_info_json(schema::RecordInfo::Reader info, const record& r) {
  json j;
  j["id"] = hex_of(info.getRecordId());
  // An issue is found inside its batch: the node names the kind "issue" and
  // the issue's position in `sub`. Older nodes send no kind.
  std::string kind = info.getKind().cStr();
  if (kind.empty())
    kind = kind_name(r);
  j["kind"] = kind;
  j["height"] = height_or_null(info.getHeight());
  auto item = info.getItemId();
  j["item"] = item.size() == 0 ? json(nullptr) : json(hex_of(item));
  auto batch = std::get_if<issue_batch>(&r);
  if (kind == "issue" && batch != nullptr
      && info.getSub() < batch->issues.size()) {
    auto& i = batch->issues[info.getSub()];
    j["asset_id"] = to_hex(i.asset_id);
    j["owner"] = to_hex(i.owner);
    j["nonce"] = i.nonce;
    j["batch"] = to_hex(record_id(*batch));
    j["anchor"] = to_hex(batch->anchor);
    return j;
  }
  std::visit([&](const auto& x) { add_fields(j, x); }, r);
  return j;
}

// -- human --------------------------------------------------------------------

void print_table(const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows,
                 const std::string& indent) {
  std::vector<size_t> widths(headers.size());
  for (size_t c = 0; c < headers.size(); ++c)
    widths[c] = headers[c].size();
  for (auto& row : rows)
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c)
      widths[c] = std::max(widths[c], row[c].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out = indent;
    for (size_t c = 0; c < cells.size() && c < widths.size(); ++c) {
      if (c + 1 == cells.size())
        out += cells[c]; // no trailing blanks
      else
        out += fmt::format("{:<{}}  ", cells[c], widths[c]);
    }
    fmt::print("{}\n", out);
  };
  line(headers);
  for (auto& row : rows)
    line(row);
}

void print_fields(const json& j) {
  if (j.is_object())
    print_object(j, "");
  else
    fmt::print("{}\n", text_of("", j));
}

void print_status(const json& j) {
  auto shown = j;
  // An empty connector state: the node runs without a network.
  if (shown.value("connector_state", "").empty())
    shown["connector_state"] = "none";
  auto height = j.value("height", uint64_t{0});
  auto target = j.value("sync_target", uint64_t{0});
  if (target > height)
    shown["sync_target"] = fmt::format("{} ({} blocks behind)", target,
                                       target - height);
  shown.erase("deep_fork");
  shown.erase("state_sync");
  shown.erase("block_sync");
  print_object(shown, "");
  if (auto s = j.find("block_sync"); s != j.end()) {
    auto eta = s->find("eta_s");
    auto peers = s->value("peers", 0);
    fmt::print("\nblock sync: height {} of {}, {} records/s, ETA {}, {} "
               "peer{}\n",
               s->value("height", 0), s->value("target_height", 0),
               s->value("records_per_s", 0),
               eta != s->end() && !eta->is_null()
                 ? fmt::format("{} s", eta->get<uint64_t>())
                 : std::string{"unknown"},
               peers, peers == 1 ? "" : "s");
  }
  if (auto s = j.find("state_sync"); s != j.end()) {
    auto phase = s->value("phase", "");
    auto eta = s->find("eta_s");
    fmt::print("\nstate sync: {}", phase);
    if (phase == "headers")
      fmt::print(", headers {} of {}", s->value("headers", 0),
                 s->value("best_height", 0));
    if (phase == "ranges" || phase == "finishing" || phase == "done")
      fmt::print(" at height {}: {} ranges done, {} left; {} keys ({} "
                 "resumed), {:.1f} MiB, {} keys/s{}",
                 s->value("target_height", 0), s->value("ranges_done", 0),
                 s->value("ranges_left", 0), s->value("keys", 0),
                 s->value("resumed_keys", 0),
                 static_cast<double>(s->value("bytes", uint64_t{0}))
                   / (1024.0 * 1024.0),
                 s->value("keys_per_s", 0),
                 eta != s->end() && !eta->is_null()
                   ? fmt::format(", about {} s left", eta->get<uint64_t>())
                   : std::string{});
    if (s->value("bad_proofs", 0) > 0)
      fmt::print("; {} bad proofs refused", s->value("bad_proofs", 0));
    fmt::print("\n");
    if (s->contains("error"))
      fmt::print("state sync waits: {}\n", s->value("error", ""));
  }
  if (auto f = j.find("deep_fork"); f != j.end()) {
    auto depth = f->value("depth", uint64_t{0});
    fmt::print("\nA heavier branch is not followed: peer {} has it to height "
               "{}, forking at height {}, {} blocks below our tip (deeper "
               "than reorg_window). If this node was cut off from the "
               "network, restart it with --reorg-window {} or more to follow "
               "that branch; otherwise leave it: a deep fork from one peer "
               "may be an attack.\n",
               short_hex(f->value("peer", "")), f->value("tip_height", 0),
               f->value("fork_height", 0), depth, depth);
  }
}

void print_peers(const json& j) {
  auto& peers = j["peers"];
  if (peers.empty()) {
    fmt::print("no peers\n");
    return;
  }
  auto now = static_cast<uint64_t>(std::time(nullptr));
  std::vector<std::vector<std::string>> rows;
  for (auto& p : peers) {
    auto key = p.value("key", "");
    std::string kind = p.value("static", false) ? "static" : "learned";
    kind += p.value("inbound", false) ? "/in" : "/out";
    std::string addresses;
    for (auto& a : p["addresses"])
      addresses += (addresses.empty() ? "" : " ") + a.get<std::string>();
    rows.push_back({short_hex(key), p.value("link", ""), kind,
                    text_of("height", p["height"]), age_of(p["last_seen"], now),
                    text_of("score", p["score"]),
                    addresses.empty() ? "-" : addresses});
  }
  print_table(
    {"KEY", "LINK", "STATIC/IN", "HEIGHT", "LAST SEEN", "SCORE", "ADDRESS"},
    rows);
}

void print_item(const json& j) {
  print_object(j, "", {"provenance", "history_from"});
  std::vector<std::vector<std::string>> rows;
  for (auto& e : j["provenance"])
    rows.push_back({text_of("height", e["height"]), e.value("kind", ""),
                    e.value("record", ""), e.value("owner", "")});
  fmt::print("\n");
  print_table({"HEIGHT", "KIND", "RECORD", "OWNER"}, rows);
  if (j.contains("history_from"))
    fmt::print("\nThe history before height {} is not kept here: a state "
               "sync began this chain there.\n",
               j.value("history_from", uint64_t{0}));
}

void print_owner(const json& j) {
  auto& items = j["items"];
  json head;
  head["owner"] = j["owner"];
  head["items"] = items.size();
  print_object(head, "");
  if (!items.empty())
    fmt::print("\n");
  for (auto& id : items)
    fmt::print("{}\n", id.get<std::string>());
}

void print_block(const json& j) {
  json head = json::object();
  for (auto& [key, value] : j.items())
    if (key != "records")
      head[key] = value;
  head["records"] = j["records"].size();
  print_object(head, "");
  for (auto& r : j["records"]) {
    fmt::print("\n{:<8}  {}\n", r.value("kind", ""), r.value("id", ""));
    print_record_body(r, "  ");
  }
}

void print_record(const json& j) {
  fmt::print("{:<8}  {}\n", j.value("kind", ""), j.value("id", ""));
  print_record_body(j, "  ");
}

void print_tip_line(const json& j) {
  fmt::print("height {:<10}  tip {}\n", j.value("height", uint64_t{0}),
             j.value("tip", ""));
}

std::string json_text(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json printable(const json& j) {
  if (j.is_string())
    return escape_controls(j.get_ref<const std::string&>(), true);
  if (j.is_object()) {
    json out = json::object();
    for (auto& [key, value] : j.items())
      out[escape_controls(key, true)] = printable(value);
    return out;
  }
  if (j.is_array()) {
    json out = json::array();
    for (auto& item : j)
      out.push_back(printable(item));
    return out;
  }
  return j;
}

void emit(const json& j, bool as_json, human_printer human) {
  if (as_json)
    fmt::print("{}\n", json_text(j));
  else
    human(printable(j));
  std::fflush(stdout);
}

// -- whole replies ------------------------------------------------------------

caf::expected<encoded> copy_of(capnp::Data::Reader data) {
  return encoded::copy_of(byte_view{data.begin(), data.size()});
}

caf::expected<json> block_reply_json(schema::BlockInfo::Reader info) {
  if (info.getBlock().size() == 0) {
    // Only the header is kept here (a state sync began the chain above
    // this block): said, not an error.
    auto hdr = header_from_bytes(
      byte_view{info.getHeader().begin(), info.getHeader().size()});
    if (!hdr)
      return make_error(ec::malformed, "the node sent no block");
    block b;
    b.hdr = *hdr;
    auto j = block_json(b);
    j["records"] = nullptr;
    j["note"] = "only the header is kept: a state sync began this node's "
                "chain at or above this block";
    return j;
  }
  auto bytes = copy_of(info.getBlock());
  if (!bytes)
    return bytes.error();
  auto b = decode_block(*bytes);
  if (!b)
    return b.error();
  return block_json(*b);
}

caf::expected<json> record_reply_json(schema::RecordInfo::Reader info) {
  if (info.getStateBase() > 0 && info.getRecord().size() == 0)
    return state_record_json(info);
  auto bytes = copy_of(info.getRecord());
  if (!bytes)
    return bytes.error();
  auto r = decode_record(*bytes);
  if (!r)
    return r.error();
  return record_info_json(info, *r);
}

} // namespace hallmark
