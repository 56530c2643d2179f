// The state trie: a Merkle radix trie over the chain-derived state, whose
// root every block header carries (docs/state.md).
//
//   key    33 bytes: a kind byte (0 asset, 1 item) and the 32-byte id,
//          read as 66 nibbles, high nibble first
//   value  an asset_value (72 bytes) or an item_value (105 bytes)
//
// The trie has branch factor 16 and compressed paths (merkledb's layout):
// the root is a branch at the empty path; under it every branch sits at the
// longest common prefix of the keys below it and has at least two children;
// a child with a single key below it is that key's leaf. Node ids are
// BLAKE2b-256:
//
//   leaf    H(0x00 ‖ key (33) ‖ H(value))
//   branch  H(0x01 ‖ path length in nibbles (u8) ‖ the path packed two
//             nibbles a byte, high first, an odd last nibble padded with 0
//             ‖ child bitmap (u16 LE, bit i = child i) ‖ child ids in order)
//   root    the root branch's id; 32 zero bytes for an empty trie
//
// So the root depends on the key/value set alone, never on the order of
// insertion: the same set gives the same trie, node by node.
//
// Only branches are stored (as `node_bytes`, keyed by `path_key`); a leaf is
// its parent's child entry (path and id) and its value in the flat state.
// trie_update applies a batch of changes on top of any node_source and
// rehashes each touched branch once; storage/ writes what it changed, the
// chain builders of tests and benchmarks keep it in memory (memory_trie).
//
// Proofs over it are in core/state_proof.hpp.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/crypto.hpp"
#include "core/state_rules.hpp"

namespace hallmark::trie {

constexpr size_t key_bytes = 33;
constexpr size_t key_nibbles = 2 * key_bytes;

/// A state key: kind byte then id.
using state_key = std::array<uint8_t, key_bytes>;

/// The kind byte of a state key.
enum class key_kind : uint8_t { asset = 0, item = 1 };

state_key asset_key(const hash256& asset);
state_key item_key(const hash256& item);

/// Value of an asset key: what the issue rule needs of the registration.
struct asset_value {
  hash256 record{}; ///< the registration record id
  public_key registrant{};
  uint64_t height = 0; ///< the block that registered it
};

/// Value of an item key: its latest record and what the transfer rule and
/// the queries need of it.
struct item_value {
  hash256 latest{};   ///< the item's latest record (issue or transfer)
  public_key owner{}; ///< the owner after it
  hash256 asset{};
  uint64_t height = 0;                   ///< the block holding `latest`
  record_kind kind = record_kind::issue; ///< of `latest`
};

constexpr size_t asset_value_size = 72;
constexpr size_t item_value_size = 105;

/// The stored bytes of a value: 32 + 32 + u64 LE; 32 + 32 + 32 + u64 LE + u8.
std::vector<uint8_t> encode(const asset_value& v);
std::vector<uint8_t> encode(const item_value& v);
/// @returns the value, or ec::malformed for a wrong size or kind.
caf::expected<asset_value> decode_asset_value(byte_view bytes);
caf::expected<item_value> decode_item_value(byte_view bytes);
/// Whether `value` is a well-formed value for `key`'s kind.
bool valid_entry(const state_key& key, byte_view value);

/// Changes to the state, by key: a value, or none to delete.
using state_delta = std::map<state_key, std::optional<std::vector<uint8_t>>>;

/// A path from the root, in nibbles (one per byte, 0..15), at most 66.
struct path {
  uint8_t len = 0;
  std::array<uint8_t, key_nibbles> n{};

  /// The 66-nibble path of a key.
  static path of(const state_key& k);
  /// The key of a 66-nibble path.
  state_key key() const;
  uint8_t operator[](size_t i) const { return n[i]; }
  /// The first `l` nibbles.
  path prefix(size_t l) const;
  /// This path and one more nibble.
  path then(uint8_t nibble) const;
  bool is_prefix_of(const path& other) const;
  bool is_leaf() const { return len == key_nibbles; }
  friend bool operator==(const path& a, const path& b);
  /// Lexicographic by nibble; a prefix orders before its extensions.
  friend std::strong_ordering operator<=>(const path& a, const path& b);
};

/// Nibbles `a` and `b` share from the start.
size_t common_prefix(const path& a, const path& b);

struct path_hasher {
  size_t operator()(const path& p) const noexcept;
};

/// A child entry of a branch: where the child is and its id. The child is a
/// leaf if its path is a whole key.
struct child {
  path at;
  hash256 id{};
};

/// A branch: up to 16 children, by next nibble.
struct branch {
  std::array<std::optional<child>, 16> kids;
  size_t count() const;
};

hash256 value_hash(byte_view value);
hash256 leaf_id(const state_key& key, const hash256& value_hash);
/// The id of branch `b` at path `at`; children ids as they are.
hash256 branch_id(const path& at, const branch& b);

/// The stored key of the branch at `at`: its nibbles packed, then the
/// length (so the empty path is one byte).
std::vector<uint8_t> path_key(const path& at);
/// The stored bytes of branch `b` at `at`: bitmap (u16 LE), then per child
/// in order: the nibbles its path has beyond `at` and its index, as a
/// length (u8) and packed nibbles, then its id (32).
std::vector<uint8_t> node_bytes(const path& at, const branch& b);
/// @returns the branch, or ec::malformed.
caf::expected<branch> decode_node(const path& at, byte_view bytes);

/// Where branches are read from: the branch at a path, or none.
using node_source = std::function<caf::expected<std::optional<branch>>(
  const path&)>;

/// A batch of changes on top of a node_source: reads through it, keeps the
/// branches it touches in memory, and rehashes each once in root().
class trie_update {
public:
  explicit trie_update(node_source source);

  /// Sets `key`'s leaf to a value of hash `vh`.
  caf::error put(const state_key& key, const hash256& vh);
  /// Removes `key`'s leaf; false if it had none.
  caf::expected<bool> erase(const state_key& key);
  /// Applies a delta (values hashed here).
  caf::error apply(const state_delta& delta);

  /// The root after the changes so far (rehashing what they touched).
  caf::expected<hash256> root();

  /// The branch at `at` as the batch sees it: its own, else the source's.
  /// Child ids are current only after root().
  caf::expected<std::optional<branch>> node(const path& at);

  /// After root(): calls f(path, branch or nullptr when deleted) for every
  /// branch the batch changed.
  void for_each_change(
    const std::function<void(const path&, const branch*)>& f) const;

private:
  struct entry {
    std::optional<branch> node; ///< none: deleted (or never there)
    bool dirty = false;
  };
  caf::expected<entry*> load(const path& at);
  caf::expected<hash256> rehash(const path& at);
  node_source source_;
  std::unordered_map<path, entry, path_hasher> cache_;
  std::unordered_set<path, path_hasher> changed_;
};

/// A trie kept in memory: the branches and the flat state. For chain
/// builders and tests; storage/ keeps the same in LMDB.
class memory_trie {
public:
  /// Applies `delta` and returns the new root.
  caf::expected<hash256> apply(const state_delta& delta);
  hash256 root() const { return root_; }
  const std::map<state_key, std::vector<uint8_t>>& values() const {
    return values_;
  }
  node_source source() const;

private:
  std::unordered_map<path, branch, path_hasher> nodes_;
  std::map<state_key, std::vector<uint8_t>> values_;
  hash256 root_{};
};

/// The root of a trie holding exactly `values`, built from scratch.
hash256 root_of(const std::map<state_key, std::vector<uint8_t>>& values);

/// A leaf, or a subtree known only by its id (a proof's child outside the
/// range), when a root is rebuilt from scratch.
struct rebuilt {
  path at;
  hash256 id;
};

/// The root of a trie made of `v`: sorted by path, none a prefix of another.
hash256 root_of_sorted(const std::vector<rebuilt>& v);

/// The id of branch `at` with the children of `bitmap`, ids in order.
hash256 branch_id_of(const path& at, uint16_t bitmap,
                     const std::vector<const hash256*>& ids);

/// ec::storage: the branch at `at`, which a parent names, is not there.
caf::error missing_branch(const path& at);

/// Packs nibbles [from, to) of `p` two a byte, high first.
std::vector<uint8_t> pack(const path& p, size_t from, size_t to);

} // namespace hallmark::trie
