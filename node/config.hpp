// A node's configuration: DATADIR/hallmark.conf, lines of `key = value`.
// Command-line flags override the file. docs/operations.md lists each key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/expected.hpp>

namespace hallmark {

struct node_config {
  std::string datadir;
  std::string chain = "devnet";
  /// Mine blocks from the reservoir.
  bool produce = false;
  /// Blocks of undo data kept; forks deeper than this are refused.
  uint64_t reorg_window = 100;
  /// While catching up, flush after this many blocks ...
  uint64_t flush_blocks = 1000;
  /// ... or this many records ...
  uint64_t flush_records = 10'000;
  /// ... or this many milliseconds, whichever comes first.
  uint64_t flush_interval_ms = 2000;
  /// Pending records expire after this many seconds (45 min).
  uint64_t pending_expiry_s = 45 * 60;
  /// Unissued pending assets expire after this many seconds (67.5 min).
  uint64_t asset_expiry_s = 4050;
  /// Reservoir caps (DESIGN.md).
  uint64_t max_pending_issues = 20'000;
  uint64_t max_pending_transactions = 160'000;
  /// Producer: at most one block per this many ms, an empty one at least
  /// every empty_block_interval_s seconds.
  uint64_t min_block_interval_ms = 1000;
  uint64_t empty_block_interval_s = 30;
  /// Verifier actors that check signatures; 0 means one per core (more
  /// than the cores gains nothing: CAF runs one thread per core).
  uint64_t verify_threads = 0;
  /// Peer addresses to listen on, "host:port" or "[v6]:port" (key
  /// `listen`, repeatable).
  std::vector<std::string> listen;
  /// Static peers, "PUBKEY@host:port" (key `peer`, repeatable).
  std::vector<std::string> peers;
  /// Live links before the connector looks for the best chain; 0 means the
  /// chain's default (1 on devnet, 5 otherwise).
  uint64_t min_clients = 0;
  /// Connector cycle in ms; 0 means the chain's default (250 on devnet,
  /// 15000 otherwise).
  uint64_t cycle_ms = 0;
  /// Inbound links at most.
  uint64_t max_inbound = 125;
  /// How long a peer that misbehaved too much is refused, in seconds.
  uint64_t ban_seconds = 3600;
  /// Dynamic (announced) peers dialled at most.
  uint64_t max_dynamic = 25;

  /// min_clients and cycle_ms with the chain's defaults filled in.
  uint64_t effective_min_clients() const;
  uint64_t effective_cycle_ms() const;

  /// LMDB map size of the chain environment, in MiB: address space, not
  /// disk. A flush that would pass it fails with ec::storage; raise it then.
  uint64_t map_size_mb = 65536;

  /// Checks ranges; names the first bad key.
  caf::error validate() const;

  std::string config_path() const { return datadir + "/hallmark.conf"; }
  std::string key_path() const { return datadir + "/identity.key"; }
  std::string chain_dir() const { return datadir + "/chain"; }
  std::string local_dir() const { return datadir + "/local"; }
  std::string socket_path() const { return datadir + "/admin.sock"; }
  std::string lock_path() const { return datadir + "/lock"; }
};

/// Reads DATADIR/hallmark.conf over the defaults.
caf::expected<node_config> load_config(const std::string& datadir);

/// Writes a config file holding every key.
caf::error save_config(const node_config& cfg);

} // namespace hallmark
