// The state trie for users (docs/state.md): `state root` prints a block's
// state root, `state proof ITEM` asks the node for a proof of an item's
// state against the tip's header, and `state verify FILE` checks such a
// proof offline, with no node and no chain: what a light client does.
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/core.h>

#include "cli/commands.hpp"
#include "client/render.hpp"
#include "core/state_proof.hpp"
#include "messages/envelope.hpp"

namespace hallmark {

namespace {

struct root_options {
  client_options client;
  int64_t height = -1;
};

struct proof_options {
  client_options client;
  std::string id;
};

struct verify_options {
  std::string file = "-";
  bool json = false;
};

/// Proof documents say what they are first, so a stray JSON file is told
/// apart from a proof of another version.
constexpr const char* proof_format = "hallmark-state-proof-1";

int state_root(const root_options& o) {
  auto c = admin_client::connect(o.client.datadir);
  if (!c)
    return report(c.error());
  uint64_t height = 0;
  if (o.height < 0) {
    auto s = c->status();
    if (!s)
      return report(s.error());
    height = s->root().getStatus().getHeight();
  } else {
    height = static_cast<uint64_t>(o.height);
  }
  auto r = c->block_by_height(height);
  if (!r)
    return report(r.error());
  auto blk = r->root().getBlock();
  auto hdr = header_from_bytes(
    byte_view{blk.getHeader().begin(), blk.getHeader().size()});
  if (!hdr)
    return report(make_error(ec::malformed, "the node sent no header"));
  json j;
  j["height"] = hdr->height;
  j["block_hash"] = to_hex(block_hash(*hdr));
  j["state_root"] = to_hex(hdr->state_root);
  if (o.client.json)
    fmt::print("{}\n", j.dump());
  else
    fmt::print("height      {}\nblock       {}\nstate root  {}\n", hdr->height,
               j["block_hash"].get<std::string>(),
               j["state_root"].get<std::string>());
  return exit_ok;
}

json node_json(const trie::proof_node& n) {
  json j;
  j["path"] = to_hex(trie::pack(n.at, 0, n.at.len));
  j["length"] = n.at.len;
  if (n.at.is_leaf()) {
    j["value_hash"] = to_hex(n.value_hash);
    return j;
  }
  json kids = json::array();
  for (auto& [i, id] : n.kids)
    kids.push_back(json::array({i, to_hex(id)}));
  j["children"] = kids;
  return j;
}

json item_state_json(const trie::item_value& v) {
  json j;
  j["owner"] = to_hex(v.owner);
  j["latest_record"] = to_hex(v.latest);
  j["asset"] = to_hex(v.asset);
  j["height"] = v.height;
  j["kind"] = to_string(v.kind);
  return j;
}

int state_proof(const proof_options& o) {
  auto item = hex32_of(o.id);
  auto c = admin_client::connect(o.client.datadir);
  if (!c)
    return report(c.error());
  capnp::MallocMessageBuilder msg;
  msg.initRoot<schema::Request>().setStateProof(
    capnp::Data::Reader{item.data(), item.size()});
  auto r = c->call(msg, schema::Reply::STATE_PROOF);
  if (!r)
    return report(r.error());
  auto info = r->root().getStateProof();
  auto hdr = header_from_bytes(
    byte_view{info.getHeader().begin(), info.getHeader().size()});
  auto raw = encoded::copy_of(
    byte_view{info.getProof().begin(), info.getProof().size()});
  auto env = raw ? wire::decode_envelope(*raw, raw->size())
                 : caf::expected<wire::envelope>{raw.error()};
  auto* range = env ? std::get_if<wire::state_range>(&env->what) : nullptr;
  if (!hdr || !range)
    return report(make_error(ec::malformed, "the node's proof does not read"));
  auto header = header_bytes(*hdr);
  json j;
  j["format"] = proof_format;
  j["item"] = to_hex(item);
  j["height"] = hdr->height;
  j["block_hash"] = to_hex(block_hash(*hdr));
  j["state_root"] = to_hex(hdr->state_root);
  j["header"] = to_hex(header);
  j["key"] = to_hex(trie::item_key(item));
  auto& entries = range->proof.entries;
  if (entries.empty()) {
    j["value"] = nullptr;
    j["state"] = nullptr;
  } else {
    j["value"] = to_hex(entries.front().second);
    auto v = trie::decode_item_value(entries.front().second);
    j["state"] = v ? item_state_json(*v) : json(nullptr);
  }
  json nodes = json::array();
  for (auto& n : range->proof.proof)
    nodes.push_back(node_json(n));
  j["proof"] = nodes;
  fmt::print("{}\n", j.dump(2));
  return exit_ok;
}

// -- verifying, offline
// --------------------------------------------------------

/// The bytes of hex text `s`, or an error naming `what`.
caf::expected<std::vector<uint8_t>> bytes_of(const json& j, const char* what) {
  if (!j.is_string())
    return make_error(ec::malformed, std::string{what} + " is not hex text");
  auto b = from_hex(j.get<std::string>());
  if (!b)
    return make_error(ec::malformed, std::string{what} + " is not hex");
  return *b;
}

template <size_t N>
caf::expected<std::array<uint8_t, N>> fixed_of(const json& j,
                                               const char* what) {
  auto b = bytes_of(j, what);
  if (!b)
    return b.error();
  auto x = to_fixed<N>(*b);
  if (!x)
    return make_error(ec::malformed, std::string{what} + " is not "
                                       + std::to_string(N) + " bytes");
  return *x;
}

caf::expected<trie::proof_node> node_of(const json& j) {
  auto bad = [](const char* why) {
    return make_error(ec::malformed, std::string{"a proof node: "} + why);
  };
  if (!j.is_object() || !j.contains("path") || !j.contains("length")
      || !j["length"].is_number_unsigned())
    return bad("needs a path and a length");
  auto len = j["length"].get<uint64_t>();
  auto packed = bytes_of(j["path"], "a proof node's path");
  if (!packed)
    return packed.error();
  if (len > trie::key_nibbles || packed->size() != (len + 1) / 2)
    return bad("path and length disagree");
  trie::proof_node n;
  n.at.len = static_cast<uint8_t>(len);
  for (size_t i = 0; i < len; ++i)
    n.at.n[i] = (i % 2) ? ((*packed)[i / 2] & 0x0f) : ((*packed)[i / 2] >> 4);
  if (n.at.is_leaf()) {
    auto h = fixed_of<32>(j.value("value_hash", json{}), "a value hash");
    if (!h)
      return h.error();
    n.value_hash = *h;
    return n;
  }
  if (!j.contains("children") || !j["children"].is_array())
    return bad("a branch needs children");
  for (auto& c : j["children"]) {
    if (!c.is_array() || c.size() != 2 || !c[0].is_number_unsigned()
        || c[0].get<uint64_t>() > 15)
      return bad("a child is [index 0..15, id]");
    auto id = fixed_of<32>(c[1], "a child id");
    if (!id)
      return id.error();
    n.kids.emplace_back(static_cast<uint8_t>(c[0].get<uint64_t>()), *id);
  }
  return n;
}

/// What a verified proof says.
struct verdict {
  header hdr;
  hash256 item{};
  std::optional<trie::item_value> state;
};

caf::expected<verdict> check_proof(const json& j) {
  auto bad = [](const std::string& why) {
    return make_error(ec::bad_state_proof, why);
  };
  if (!j.is_object() || j.value("format", "") != proof_format)
    return make_error(ec::malformed, std::string{"not a state proof (no "}
                                       + "\"format\": \"" + proof_format
                                       + "\")");
  auto raw_header = bytes_of(j.value("header", json{}), "header");
  if (!raw_header)
    return raw_header.error();
  auto hdr = header_from_bytes(*raw_header);
  if (!hdr)
    return make_error(ec::malformed, "header is not 162 bytes");
  if (auto err = check_header(*hdr))
    return bad("the header breaks a rule: " + message_of(err));
  auto item = fixed_of<32>(j.value("item", json{}), "item");
  if (!item)
    return item.error();
  auto key = trie::item_key(*item);
  if (j.contains("block_hash")) {
    auto stated = fixed_of<32>(j["block_hash"], "block_hash");
    if (!stated)
      return stated.error();
    if (*stated != block_hash(*hdr))
      return bad("block_hash is not the header's hash");
  }
  std::vector<trie::hashed_entry> entries;
  verdict out{*hdr, *item, std::nullopt};
  if (j.contains("value") && !j["value"].is_null()) {
    auto v = bytes_of(j["value"], "value");
    if (!v)
      return v.error();
    auto s = trie::decode_item_value(*v);
    if (!s)
      return bad("value is not an item's state");
    out.state = *s;
    entries.emplace_back(key, trie::value_hash(*v));
  }
  if (!j.contains("proof") || !j["proof"].is_array())
    return make_error(ec::malformed, "proof is not a list of nodes");
  if (j["proof"].size() > 2 * trie::max_path_nodes)
    return bad("proof has " + std::to_string(j["proof"].size())
               + " nodes, more than "
               + std::to_string(2 * trie::max_path_nodes));
  std::vector<trie::proof_node> nodes;
  for (auto& n : j["proof"]) {
    auto x = node_of(n);
    if (!x)
      return x.error();
    nodes.push_back(std::move(*x));
  }
  if (auto err = trie::verify_range(hdr->state_root, key, key, entries, nodes,
                                    false))
    return err;
  // The copies a reader sees must say what was proved.
  json proved;
  proved["height"] = hdr->height;
  proved["state_root"] = to_hex(hdr->state_root);
  proved["key"] = to_hex(key);
  proved["state"] = out.state ? item_state_json(*out.state) : json(nullptr);
  for (auto& [field, value] : proved.items())
    if (j.contains(field) && j[field] != value)
      return bad("\"" + field + "\" is not what the proof shows");
  return out;
}

int state_verify(const verify_options& o) {
  std::stringstream text;
  caf::expected<verdict> v = make_error(ec::io, "cannot read " + o.file);
  std::ifstream in;
  if (o.file != "-")
    in.open(o.file);
  if (o.file == "-" || in) {
    text << (o.file == "-" ? std::cin.rdbuf() : in.rdbuf());
    json j = json::parse(text.str(), nullptr, false);
    v = j.is_discarded() ? caf::expected<verdict>{make_error(
          ec::malformed, o.file + " is not JSON")}
                         : check_proof(j);
  }
  if (!v) {
    if (o.json)
      fmt::print(
        "{}\n",
        json{{"valid", false}, {"reason", message_of(v.error())}}.dump());
    else
      fmt::print("invalid: {}\n", message_of(v.error()));
    return exit_failed;
  }
  auto hash = to_hex(block_hash(v->hdr));
  if (o.json) {
    json out;
    out["valid"] = true;
    out["item"] = to_hex(v->item);
    out["height"] = v->hdr.height;
    out["block_hash"] = hash;
    out["state_root"] = to_hex(v->hdr.state_root);
    out["state"] = v->state ? item_state_json(*v->state) : json(nullptr);
    fmt::print("{}\n", out.dump());
    return exit_ok;
  }
  if (v->state)
    fmt::print("valid: item {} is owned by {} (latest record {}, height "
               "{})\n",
               to_hex(v->item), to_hex(v->state->owner),
               to_hex(v->state->latest), v->state->height);
  else
    fmt::print("valid: item {} is not in the state\n", to_hex(v->item));
  fmt::print("  against the state root of block {} at height {}; trust it "
             "as far as you trust that this block is on the chain\n",
             hash, v->hdr.height);
  return exit_ok;
}

} // namespace

void add_state_commands(CLI::App& app, command_table& commands) {
  auto parent = add_parent(app, "state",
                           "The state trie: roots and proofs (root, proof, "
                           "verify)");
  auto [root_cmd, root_opts] = commands.add<root_options>(
    parent, "root", "Print a block's state root (default: the tip's)",
    state_root);
  add_client_options(root_cmd, root_opts->client);
  root_cmd->add_option("--height", root_opts->height, "The block's height")
    ->check(CLI::Range(int64_t{0}, std::numeric_limits<int64_t>::max()));
  auto [proof_cmd, proof_opts] = commands.add<proof_options>(
    parent, "proof",
    "Print a proof of an item's owner (or absence) against the tip's header, "
    "as JSON",
    state_proof);
  add_client_options(proof_cmd, proof_opts->client);
  proof_cmd->add_option("ITEM", proof_opts->id, "Item id")
    ->required()
    ->check(hex32);
  auto [verify_cmd, verify_opts] = commands.add<verify_options>(
    parent, "verify",
    "Check a proof from `state proof` offline; exit 0 if it holds",
    state_verify);
  verify_cmd->add_option("FILE", verify_opts->file,
                         "The proof (default -, standard input)");
  add_json(verify_cmd, verify_opts->json);
}

} // namespace hallmark
