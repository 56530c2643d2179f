// A node's configuration: DATADIR/hallmark.conf, lines of `key = value`, and
// the same keys as flags of `hallmark init` (written to the file) and
// `hallmark run` (over the file, for one run).
//
// Each key is declared once, in the key table (config_keys(), config.cpp):
// its name, the node_config field it fills (and so its type), its help and
// its range or choices. Its default is the field's initialiser below. The
// file reader, save_config, validate() and the command-line flags all read
// that table; docs/operations.md lists the keys. Where a key is 0 for "the
// chain's default" (min_clients, cycle_ms), the default is one of the
// chain's network defaults in core/chain (chain_params).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <caf/expected.hpp>

#include "core/keys.hpp"

namespace hallmark {

/// The local test chain, with fast timers; `hallmark devnet` runs on it.
inline constexpr std::string_view devnet_chain = "devnet";

/// A node's settings. Every field but `datadir` is a key of hallmark.conf;
/// its meaning and range are in the key table (config.cpp).
struct node_config {
  /// The data directory; not a key: the file lives in it.
  std::string datadir;

  std::string chain{devnet_chain};
  bool produce = false;
  bool state_sync = false;
  uint64_t state_sync_depth = 32;
  uint64_t reorg_window = 100;
  uint64_t sync_peers = 3;
  /// Hex hash of the block assumed valid, or "0" for none.
  std::string assume_valid{"0"};
  uint64_t flush_blocks = 1000;
  uint64_t flush_records = 4'000;
  uint64_t flush_interval_ms = 2000;
  uint64_t pending_expiry_s = 45 * 60;
  uint64_t asset_expiry_s = 4050;
  uint64_t max_pending_issues = 20'000;
  uint64_t max_pending_transactions = 160'000;
  uint64_t min_block_interval_ms = 1000;
  uint64_t empty_block_interval_s = 30;
  uint64_t verify_threads = 0;
  std::vector<std::string> listen;
  std::vector<std::string> peers;
  uint64_t min_clients = 0;
  uint64_t cycle_ms = 0;
  uint64_t stall_ms = 0;
  uint64_t max_inbound = 125;
  uint64_t max_handshaking_per_host = 0;
  uint64_t ban_seconds = 3600;
  uint64_t max_dynamic = 25;
  uint64_t map_size_mb = 64;
  uint64_t map_max_mb = 0;
  /// HOST:PORT of the HTTP API, /metrics and the status page; "" for none.
  std::string http_listen{"127.0.0.1:8642"};
  std::string http_auth{"auto"};
  uint64_t http_threads = 8;
  uint64_t http_max_body_kb = 4096;
  uint64_t http_rate = 50;

  /// Checks every key against its range, choices or form, then the keys
  /// that bound each other (map_max_mb, when not 0, is at least
  /// map_size_mb); names the first bad key.
  caf::error validate() const;

  std::string config_path() const { return datadir + "/hallmark.conf"; }
  std::string key_path() const { return datadir + "/identity.key"; }
  std::string chain_dir() const { return datadir + "/chain"; }
  std::string local_dir() const { return datadir + "/local"; }
  std::string socket_path() const { return datadir + "/admin.sock"; }
  std::string lock_path() const { return datadir + "/lock"; }
  /// The HTTP API's token (docs/api.md), mode 0600.
  std::string cookie_path() const { return datadir + "/.cookie"; }
};

/// One key of hallmark.conf, which is also the flag `--NAME` (with `-` for
/// `_`) of `hallmark init` and `hallmark run`.
struct config_key {
  /// The node_config field the key fills. Its type is the key's type: text,
  /// a boolean (`true` or `false`), a whole number, or a list (the key may
  /// repeat; each line adds one value).
  using field_type = std::variant<std::string node_config::*,
                                  bool node_config::*, uint64_t node_config::*,
                                  std::vector<std::string> node_config::*>;

  const char* name;
  field_type field;
  const char* help;
  /// Numbers: the smallest and largest value accepted.
  uint64_t min = 0;
  uint64_t max = 0;
  /// Text: the values accepted (all when null).
  std::vector<std::string_view> (*choices)() = nullptr;
  /// A list, or text without choices: checks one value (e.g. that a
  /// `listen` value is HOST:PORT); every value is accepted when null.
  caf::error (*check_value)(std::string_view value) = nullptr;
  /// Text without choices: what accepted() says it takes ("TEXT" if empty).
  std::string_view shape;

  /// Whether the key holds one text value.
  bool is_text() const;

  /// The command-line flag: `--reorg-window` for `reorg_window`.
  std::string flag() const;

  /// Whether the key holds a boolean (a flag without a value).
  bool is_boolean() const;

  /// Whether the key may repeat, each time adding to a list.
  bool is_list() const;

  /// Reads one written value into `cfg`: it replaces the value, or adds to
  /// a list. The range is not checked here (check() does).
  /// @returns ec::bad_config naming the key when `value` is not of its type.
  caf::error read(const std::string& value, node_config& cfg) const;

  /// Checks the value `cfg` holds against the key's range or choices, or
  /// each value of a list with `check_value`.
  /// @returns ec::bad_config naming the key and what it accepts.
  caf::error check(const node_config& cfg) const;

  /// The values `cfg` holds, as written in the file (a list: one each).
  std::vector<std::string> written(const node_config& cfg) const;

  /// What the key accepts, for help texts: `1..10000`, `devnet|testnet|…`,
  /// `true|false`, or `TEXT`.
  std::string accepted() const;
};

/// Every key, in the order save_config writes them.
std::span<const config_key> config_keys();

/// The key named `name` in the file, or nullptr.
const config_key* find_config_key(std::string_view name);

/// The chains a node may follow (the `chain` key's choices); each has its
/// parameters in core/chain (find_chain).
std::vector<std::string_view> chain_names();

/// Reads DATADIR/hallmark.conf over the defaults. Errors name the file and
/// the line (ec::bad_config).
caf::expected<node_config> load_config(const std::string& datadir);

/// Writes a config file holding every key.
caf::error save_config(const node_config& cfg);

/// Creates a data directory as `hallmark init` does: the directory (0700)
/// when missing, a fresh identity key, and a config file holding every key
/// of `cfg`. Both `hallmark init` and `hallmark devnet` go through here.
/// @param cfg the configuration to write; `cfg.datadir` names the directory.
/// @returns the new identity; ec::bad_config if the directory is already
///          initialised or `cfg` is out of range, ec::io for file trouble.
caf::expected<key_pair> init_datadir(const node_config& cfg);

} // namespace hallmark
