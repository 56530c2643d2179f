// The chain's blocks: `block HEIGHT|HASH` shows one, `block export` and
// `block import` move them in bulk through a file of length-prefixed encoded
// blocks, `admin reorg` unwinds and re-applies the newest ones. `export` and
// `import` take --datadir and --json from `block` (fallthrough).
#include <fstream>
#include <optional>

#include "cli/commands.hpp"
#include "client/render.hpp"
#include "core/chain.hpp"
#include "messages/codec.hpp"

namespace hallmark {

namespace {

/// Most blocks one importBlocks or exportBlocks request carries.
constexpr uint32_t blocks_per_request = 100;

/// Bytes of encoded blocks one importBlocks request carries at most, leaving
/// room for the list's own framing under the 16 MiB frame limit.
constexpr size_t import_bytes_per_request = max_admin_frame - 1024 * 1024;

/// `block`'s options, which `export` and `import` share.
struct block_options {
  client_options client;
  std::string id; ///< HEIGHT or HASH
};

/// What `export` and `import` say to a HEIGHT|HASH given to `block` too.
int id_and_subcommand() {
  return usage("block: give either a HEIGHT|HASH or a subcommand, not both");
}

int show_block(const block_options& o) {
  if (o.id.empty())
    return usage("block: give a HEIGHT or a HASH, or a subcommand "
                 "(export, import)");
  bool digits = o.id.find_first_not_of("0123456789") == std::string::npos;
  uint64_t height = 0;
  if (digits) {
    try {
      size_t used = 0;
      height = std::stoull(o.id, &used);
    } catch (const std::exception&) {
      return usage("block: height " + o.id + " is out of range");
    }
  } else if (!from_hex_fixed<32>(o.id)) {
    return usage("block: expected a height (digits) or a block hash (64 hex "
                 "characters), got '"
                 + o.id + "'");
  }
  return query(
    o.client.datadir,
    [&](admin_client& c) {
      return digits ? c.block_by_height(height)
                    : c.block_by_hash(hex32_of(o.id));
    },
    [&](auto& reply) {
      auto j = block_reply_json(reply.root().getBlock());
      if (!j)
        return report(j.error());
      // A header alone has no records to tabulate.
      return print_result(*j, o.client.json,
                          (*j)["records"].is_null() ? print_fields
                                                    : print_block);
    });
}

struct export_options {
  uint64_t from = 0;
  uint64_t count = 0;
  CLI::Option* count_given = nullptr;
  std::string out;
};

int export_blocks(const block_options& b, const export_options& o) {
  if (!b.id.empty())
    return id_and_subcommand();
  auto client = admin_client::connect(b.client.datadir);
  if (!client)
    return report(client.error());
  auto st = client->status();
  if (!st)
    return report(st.error());
  auto tip_height = st->root().getStatus().getHeight();
  if (o.from > tip_height)
    return report(make_error(
      ec::not_found, "no block at height " + std::to_string(o.from)
                       + "; the tip is at " + std::to_string(tip_height)));
  // [from, end): up to the tip, or --count blocks.
  auto end = tip_height + 1;
  if (o.count_given->count() > 0 && o.count < end - o.from)
    end = o.from + o.count;
  std::ofstream out{o.out, std::ios::binary | std::ios::trunc};
  if (!out)
    return report(make_error(ec::io, "cannot create " + o.out));
  auto next = o.from;
  while (next < end) {
    auto want = static_cast<uint32_t>(
      std::min<uint64_t>(blocks_per_request, end - next));
    auto reply = client->export_blocks(next, want);
    if (!reply)
      return report(reply.error());
    auto blocks = reply->root().getBlocks();
    if (blocks.size() == 0)
      break; // the chain is shorter than the status said (a reorg)
    for (auto bytes : blocks) {
      uint8_t head[4];
      put_u32(head, static_cast<uint32_t>(bytes.size()));
      out.write(reinterpret_cast<const char*>(head), 4);
      out.write(reinterpret_cast<const char*>(bytes.begin()),
                static_cast<std::streamsize>(bytes.size()));
    }
    next += blocks.size();
  }
  if (!out.flush())
    return report(make_error(ec::io, "cannot write " + o.out));
  json j;
  j["from"] = o.from;
  j["count"] = next - o.from;
  j["out"] = o.out;
  return print_result(j, b.client.json);
}

struct import_options {
  std::string file;
};

/// `err`, the failure of an importBlocks request, said as what it is when
/// the node stopped while it was applying the blocks (the connection closed
/// without a reply and no node answers any more): how far the import got,
/// and where to look for the height the node reached.
/// @param imported blocks of the requests answered before.
/// @param tip the last answer's tip, if any.
/// @param in_flight blocks of the request that had no answer.
caf::error stopped_during_import(const std::string& datadir,
                                 const caf::error& err, uint64_t imported,
                                 const std::optional<json>& tip,
                                 size_t in_flight) {
  if (code_of(err) != ec::io)
    return err;
  auto again = admin_client::connect(datadir);
  if (again || code_of(again.error()) != ec::not_running)
    return err; // the node still runs: the error is what it was
  auto blocks = [](uint64_t n) {
    return std::to_string(n) + (n == 1 ? " block" : " blocks");
  };
  auto how_far = tip ? "after applying " + blocks(imported) + " (tip at height "
                         + std::to_string((*tip)["height"].get<uint64_t>())
                         + "); the next " + blocks(in_flight)
                         + " were in flight and may be applied too"
                     : "before answering its first request ("
                         + blocks(in_flight) + ", which may be applied)";
  return make_error(ec::io, "the node stopped during the import " + how_far
                              + "; check `hallmark status` for the height "
                                "reached");
}

int import_blocks(const block_options& b, const import_options& o) {
  if (!b.id.empty())
    return id_and_subcommand();
  auto& file = o.file;
  std::ifstream in{file, std::ios::binary};
  if (!in)
    return report(make_error(ec::io, "cannot open " + file));
  auto client = admin_client::connect(b.client.datadir);
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
      return stopped_during_import(b.client.datadir, reply.error(), imported,
                                   tip, chunk.size());
    tip = tip_json(reply->root().getTip());
    imported += chunk.size();
    chunk.clear();
    chunk_bytes = 0;
    return {};
  };
  auto truncated = [&](uint64_t frame) {
    return report(make_error(ec::malformed, file + ": truncated frame "
                                              + std::to_string(frame)));
  };
  for (uint64_t frame = 0;; ++frame) {
    uint8_t head[4];
    in.read(reinterpret_cast<char*>(head), 4);
    if (in.gcount() == 0 && in.eof())
      break;
    if (in.gcount() != 4)
      return truncated(frame);
    auto size = get_u32(head);
    if (size == 0 || size > block_limits.max_bytes)
      return report(make_error(
        ec::malformed, file + ": frame " + std::to_string(frame) + " claims "
                         + std::to_string(size) + " bytes"));
    std::vector<uint8_t> bytes(size);
    in.read(reinterpret_cast<char*>(bytes.data()), size);
    if (static_cast<size_t>(in.gcount()) != size)
      return truncated(frame);
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
    return report(make_error(ec::malformed, file + " holds no blocks"));
  (*tip)["imported"] = imported;
  return print_result(*tip, b.client.json);
}

struct reorg_options {
  client_options client;
  uint32_t depth = 0;
};

int reorg(const reorg_options& o) {
  return print_reply(
    o.client, [&](admin_client& c) { return c.reorg(o.depth); },
    [](auto root) { return tip_json(root.getTip()); });
}

} // namespace

void add_block_commands(CLI::App& app, command_table& commands) {
  auto [block, block_opts] = commands.add<block_options>(
    &app, "block", "Show a block, or export/import blocks", show_block);
  block->require_subcommand(0, 1);
  add_datadir(block, block_opts->client.datadir);
  block->add_option("BLOCK", block_opts->id, "Block height or hash");
  add_json(block, block_opts->client.json);

  // --datadir and --json belong to `block`: the subcommands fall through.
  auto [exp, export_opts] = commands.add<export_options>(
    block, "export", "Write blocks to a file",
    [b = block_opts](const export_options& o) { return export_blocks(*b, o); });
  exp->fallthrough();
  exp->add_option("--from", export_opts->from, "First height")
    ->required()
    ->check(whole_number(0, UINT64_MAX, "height"));
  export_opts->count_given = exp->add_option(
    "--count", export_opts->count, "Blocks to export (default: to the tip)");
  export_opts->count_given->check(whole_number(1, UINT64_MAX, "blocks"));
  exp->add_option("--out", export_opts->out, "File to write")->required();

  auto [imp, import_opts] = commands.add<import_options>(
    block, "import", "Apply blocks from a file",
    [b = block_opts](const import_options& o) { return import_blocks(*b, o); });
  imp->fallthrough();
  imp->add_option("FILE", import_opts->file, "File written by `block export`")
    ->required()
    ->check(CLI::ExistingFile);

  auto admin = add_parent(app, "admin", "Operator actions");
  auto [reorg_cmd, reorg_opts] = commands.add<reorg_options>(
    admin, "reorg", "Unwind N blocks and apply them again", reorg);
  add_datadir(reorg_cmd, reorg_opts->client.datadir);
  reorg_cmd->add_option("DEPTH", reorg_opts->depth, "Blocks to unwind")
    ->required()
    ->check(whole_number(1, UINT32_MAX, "blocks"));
  add_json(reorg_cmd, reorg_opts->client.json);
}

} // namespace hallmark
