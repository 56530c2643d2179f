// What `hallmark` commands print. Each reply becomes one JSON object first
// (the contract scripts rely on, docs/cli.md); the human form is rendered from
// that same object, so both always say the same thing. `--json` prints the
// object on one line; otherwise aligned `key  value` lines and tables.
#pragma once

#include <string>
#include <vector>

#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "core/chain.hpp"
#include "core/records.hpp"
#include "messages/admin.capnp.h"
#include "messages/codec.hpp"

namespace hallmark {

/// Keys keep the order they were written in, for people and for diffs.
using json = nlohmann::ordered_json;

/// Lower-case hex of a Cap'n Proto Data field.
std::string hex_of(capnp::Data::Reader data);

/// The first 16 hex digits of `hex`: how tables show keys and hashes.
std::string short_hex(const std::string& hex);

/// The first 16 hex digits of `h`.
std::string short_hex(const hash256& h);

// -- JSON objects of replies and records --------------------------------------

/// {chain, height, tip, tip_timestamp, public_key, cumulative_work (string),
///  next_difficulty, issue_difficulty, pending_records (the pool's entries:
///  an issue batch is one), pending_assets, pending_issues (each of a
///  batch), pending_transfers, producing, version,
///  anchor_window, connector_state, peers, sync_target}.
json status_json(schema::Status::Reader in);

/// {height, tip}.
json tip_json(schema::Tip::Reader in);

/// {peers: [{key, addresses: [...], static, inbound, link, height, tip,
///  last_seen (unix seconds, null when never), score, banned_until (unix
///  seconds, null when not banned)}]}.
json peers_json(capnp::List<schema::PeerInfo>::Reader in);

/// {item, asset, owner, provenance: [{record, kind, owner, height|null}]},
/// newest first.
json item_json(schema::Item::Reader in);

/// {owner, items: [hex...]}.
json owner_json(schema::Owner::Reader in);

/// {kind, id} plus the fields of the record's kind:
///   asset:    name, fingerprint, asset_id, registrant, metadata {k: v}
///   issues:   issues [{id, asset_id, owner, nonce}], anchor, work_nonce
///   transfer: link, owner, new_owner, countersigned
json record_json(const record& r);

/// {height, hash, previous, merkle_root, state_root, timestamp, difficulty,
///  producer, nonce, records: [record_json...]}.
json block_json(const block& b);

/// {id, kind, height|null, item|null} plus the fields of the record's kind;
/// an issue found inside its batch (kind "issue") has asset_id, owner, nonce,
/// batch (the batch's record id) and anchor.
/// @param info the node's answer; `r` is its decoded `record` field.
/// A record known from a state sync only (no bytes), and its text.
json state_record_json(schema::RecordInfo::Reader info);
void print_state_record(const json& j);

json record_info_json(schema::RecordInfo::Reader info, const record& r);

/// Copies a Data field of a reply into an owned, word-aligned buffer.
caf::expected<encoded> copy_of(capnp::Data::Reader data);

/// A Reply.block as `hallmark block --json` prints it: block_json, or, for
/// a block of which only the header is kept (below a state sync's base),
/// its header fields with `records: null` and a `note`. ec::malformed if
/// the node's bytes do not decode.
caf::expected<json> block_reply_json(schema::BlockInfo::Reader info);

/// A Reply.record as `hallmark record --json` prints it: record_info_json,
/// or state_record_json for a record known from a state sync only.
caf::expected<json> record_reply_json(schema::RecordInfo::Reader info);

// -- human renderings ---------------------------------------------------------

/// Prints an object's fields as aligned `key  value` lines; arrays of
/// scalars continue one per line under their key.
void print_fields(const json& j);
/// Status listing, timestamps also shown in UTC; the network lines say
/// "none" without a network and how far a sync has to go.
void print_status(const json& j);
/// Peers as a table: key (first 16 hex), link, static or learned and the
/// link's direction, height, last seen (as an age), score, addresses.
void print_peers(const json& j);
/// Item header, then its provenance as a table.
void print_item(const json& j);
/// Owner, item count, then one item id per line.
void print_owner(const json& j);
/// Block header fields, then each record.
void print_block(const json& j);
/// A record looked up by id: location, then its fields.
void print_record(const json& j);
/// One `watch` tip: height, then hash.
void print_tip_line(const json& j);

using human_printer = void (*)(const json&);

/// `j` on one line. Names and metadata are the submitter's bytes: text that
/// is not UTF-8 becomes U+FFFD instead of failing (the CLI and the HTTP API
/// print the same).
std::string json_text(const json& j);

/// `j` with every string and every object key made safe for a terminal:
/// control characters (C0, DEL and C1, which start terminal escape
/// sequences: a name could clear the screen or rewrite what was printed)
/// become `\xNN` or `\uNNNN`, bytes that are not UTF-8 `\xNN`, and a
/// backslash `\\` (core/log.hpp: escape_controls).
json printable(const json& j);

/// Prints `j` as one JSON line if `as_json`, else with `human`, given
/// printable(j).
void emit(const json& j, bool as_json, human_printer human = print_fields);

/// Prints a table: a header row, then rows, columns aligned.
void print_table(const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows,
                 const std::string& indent = "");

} // namespace hallmark
