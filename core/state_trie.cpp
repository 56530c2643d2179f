#include "core/state_trie.hpp"

#include <algorithm>
#include <cstring>

#include "core/error.hpp"
#include "core/records.hpp"

namespace hallmark::trie {

// -- keys and values ----------------------------------------------------------

namespace {

state_key make_key(key_kind kind, const hash256& id) {
  state_key k;
  k[0] = static_cast<uint8_t>(kind);
  std::memcpy(k.data() + 1, id.data(), id.size());
  return k;
}

void put_bytes(std::vector<uint8_t>& out, const hash256& x) {
  out.insert(out.end(), x.begin(), x.end());
}

void put_u64_le(std::vector<uint8_t>& out, uint64_t x) {
  out.resize(out.size() + 8);
  put_u64(out.data() + out.size() - 8, x);
}

hash256 read_hash(const uint8_t* in) {
  hash256 x;
  std::memcpy(x.data(), in, x.size());
  return x;
}

} // namespace

state_key asset_key(const hash256& asset) {
  return make_key(key_kind::asset, asset);
}

state_key item_key(const hash256& item) {
  return make_key(key_kind::item, item);
}

std::vector<uint8_t> encode(const asset_value& v) {
  std::vector<uint8_t> out;
  out.reserve(asset_value_size);
  put_bytes(out, v.record);
  put_bytes(out, v.registrant);
  put_u64_le(out, v.height);
  return out;
}

std::vector<uint8_t> encode(const item_value& v) {
  std::vector<uint8_t> out;
  out.reserve(item_value_size);
  put_bytes(out, v.latest);
  put_bytes(out, v.owner);
  put_bytes(out, v.asset);
  put_u64_le(out, v.height);
  out.push_back(static_cast<uint8_t>(v.kind));
  return out;
}

caf::expected<asset_value> decode_asset_value(byte_view b) {
  if (b.size() != asset_value_size)
    return make_error(ec::malformed, "asset value of "
                                       + std::to_string(b.size())
                                       + " bytes, expected 72");
  return asset_value{read_hash(b.data()), read_hash(b.data() + 32),
                     get_u64(b.data() + 64)};
}

caf::expected<item_value> decode_item_value(byte_view b) {
  if (b.size() != item_value_size)
    return make_error(ec::malformed, "item value of " + std::to_string(b.size())
                                       + " bytes, expected 105");
  auto kind = b[104];
  if (kind != static_cast<uint8_t>(record_kind::issue)
      && kind != static_cast<uint8_t>(record_kind::transfer))
    return make_error(ec::malformed,
                      "item value names record kind " + std::to_string(kind));
  return item_value{read_hash(b.data()), read_hash(b.data() + 32),
                    read_hash(b.data() + 64), get_u64(b.data() + 96),
                    static_cast<record_kind>(kind)};
}

bool valid_entry(const state_key& key, byte_view value) {
  switch (key[0]) {
  case static_cast<uint8_t>(key_kind::asset):
    return static_cast<bool>(decode_asset_value(value));
  case static_cast<uint8_t>(key_kind::item):
    return static_cast<bool>(decode_item_value(value));
  default:
    return false;
  }
}

// -- paths
// ---------------------------------------------------------------------

path path::of(const state_key& k) {
  path p;
  p.len = key_nibbles;
  for (size_t i = 0; i < key_bytes; ++i) {
    p.n[2 * i] = k[i] >> 4;
    p.n[2 * i + 1] = k[i] & 0x0f;
  }
  return p;
}

state_key path::key() const {
  state_key k{};
  for (size_t i = 0; i < key_bytes; ++i)
    k[i] = static_cast<uint8_t>((n[2 * i] << 4) | n[2 * i + 1]);
  return k;
}

path path::prefix(size_t l) const {
  path p;
  p.len = static_cast<uint8_t>(l);
  std::memcpy(p.n.data(), n.data(), l);
  return p;
}

path path::then(uint8_t nibble) const {
  path p = *this;
  p.n[p.len++] = nibble;
  return p;
}

bool path::is_prefix_of(const path& other) const {
  return len <= other.len && std::memcmp(n.data(), other.n.data(), len) == 0;
}

bool operator==(const path& a, const path& b) {
  return a.len == b.len && std::memcmp(a.n.data(), b.n.data(), a.len) == 0;
}

std::strong_ordering operator<=>(const path& a, const path& b) {
  auto c = std::memcmp(a.n.data(), b.n.data(), std::min(a.len, b.len));
  if (c != 0)
    return c < 0 ? std::strong_ordering::less : std::strong_ordering::greater;
  return a.len <=> b.len;
}

size_t common_prefix(const path& a, const path& b) {
  size_t i = 0;
  size_t l = std::min(a.len, b.len);
  while (i < l && a.n[i] == b.n[i])
    ++i;
  return i;
}

size_t path_hasher::operator()(const path& p) const noexcept {
  // FNV-1a over the nibbles: paths from the network reach this table only
  // through verification, which builds no hash table of them.
  uint64_t h = 1469598103934665603ull ^ p.len;
  for (size_t i = 0; i < p.len; ++i)
    h = (h ^ p.n[i]) * 1099511628211ull;
  return static_cast<size_t>(h);
}

size_t branch::count() const {
  return static_cast<size_t>(std::count_if(
    kids.begin(), kids.end(), [](auto& c) { return c.has_value(); }));
}

// -- ids and stored bytes
// ------------------------------------------------------

std::vector<uint8_t> pack(const path& p, size_t from, size_t to) {
  std::vector<uint8_t> out((to - from + 1) / 2, 0);
  for (size_t i = from; i < to; ++i) {
    auto k = i - from;
    out[k / 2] |= static_cast<uint8_t>(p.n[i] << ((k % 2) ? 0 : 4));
  }
  return out;
}

namespace {

uint16_t bitmap_of(const branch& b) {
  uint16_t bits = 0;
  for (unsigned i = 0; i < 16; ++i)
    if (b.kids[i])
      bits |= static_cast<uint16_t>(1u << i);
  return bits;
}

} // namespace

hash256 value_hash(byte_view value) {
  return blake2b(value);
}

hash256 leaf_id(const state_key& key, const hash256& vh) {
  return hasher{}.add_u8(0).add(key).add(vh).finish();
}

hash256 branch_id_of(const path& at, uint16_t bitmap,
                     const std::vector<const hash256*>& ids) {
  hasher h;
  h.add_u8(1).add_u8(at.len).add(pack(at, 0, at.len)).add_u16(bitmap);
  for (auto* id : ids)
    h.add(*id);
  return h.finish();
}

hash256 branch_id(const path& at, const branch& b) {
  std::vector<const hash256*> ids;
  for (auto& c : b.kids)
    if (c)
      ids.push_back(&c->id);
  return branch_id_of(at, bitmap_of(b), ids);
}

std::vector<uint8_t> path_key(const path& at) {
  auto out = pack(at, 0, at.len);
  out.push_back(at.len);
  return out;
}

std::vector<uint8_t> node_bytes(const path& at, const branch& b) {
  std::vector<uint8_t> out;
  auto bits = bitmap_of(b);
  out.push_back(static_cast<uint8_t>(bits));
  out.push_back(static_cast<uint8_t>(bits >> 8));
  for (auto& c : b.kids) {
    if (!c)
      continue;
    auto from = static_cast<size_t>(at.len) + 1;
    out.push_back(static_cast<uint8_t>(c->at.len - from));
    auto packed = pack(c->at, from, c->at.len);
    out.insert(out.end(), packed.begin(), packed.end());
    put_bytes(out, c->id);
  }
  return out;
}

caf::expected<branch> decode_node(const path& at, byte_view in) {
  auto bad = [&](const char* why) {
    return make_error(ec::malformed, std::string{"trie node: "} + why);
  };
  if (in.size() < 2 || at.len >= key_nibbles)
    return bad("too short");
  uint16_t bits = static_cast<uint16_t>(in[0] | (in[1] << 8));
  size_t pos = 2;
  branch b;
  for (uint8_t i = 0; i < 16; ++i) {
    if (!(bits & (1u << i)))
      continue;
    if (pos >= in.size())
      return bad("truncated");
    size_t extra = in[pos++];
    auto from = static_cast<size_t>(at.len) + 1;
    if (from + extra > key_nibbles)
      return bad("child path too long");
    size_t packed = (extra + 1) / 2;
    if (pos + packed + 32 > in.size())
      return bad("truncated");
    child c;
    c.at = at.then(i);
    for (size_t k = 0; k < extra; ++k) {
      auto byte = in[pos + k / 2];
      c.at.n[c.at.len++] = (k % 2) ? (byte & 0x0f) : (byte >> 4);
    }
    pos += packed;
    c.id = read_hash(in.data() + pos);
    pos += 32;
    b.kids[i] = c;
  }
  if (pos != in.size())
    return bad("trailing bytes");
  return b;
}

// -- trie_update
// ----------------------------------------------------------------

trie_update::trie_update(node_source source) : source_(std::move(source)) {}

caf::expected<trie_update::entry*> trie_update::load(const path& at) {
  auto i = cache_.find(at);
  if (i != cache_.end())
    return &i->second;
  auto n = source_(at);
  if (!n)
    return n.error();
  auto [j, _] = cache_.emplace(at, entry{std::move(*n), false});
  return &j->second;
}

caf::expected<std::optional<branch>> trie_update::node(const path& at) {
  auto e = load(at);
  if (!e)
    return e.error();
  return (*e)->node;
}

caf::error missing_branch(const path& at) {
  return make_error(ec::storage, "state trie: branch at depth "
                                   + std::to_string(at.len) + " is missing");
}

caf::error trie_update::put(const state_key& key, const hash256& vh) {
  auto k = path::of(key);
  auto id = leaf_id(key, vh);
  path at; // the root
  auto e = load(at);
  if (!e)
    return e.error();
  if (!(*e)->node)
    (*e)->node.emplace();
  while (true) {
    auto* cur = *e;
    cur->dirty = true;
    auto& slot = cur->node->kids[k[at.len]];
    if (!slot) {
      slot = child{k, id};
      return {};
    }
    if (slot->at == k) {
      slot->id = id;
      return {};
    }
    if (!slot->at.is_leaf() && slot->at.is_prefix_of(k)) {
      at = slot->at;
      e = load(at);
      if (!e)
        return e.error();
      if (!(*e)->node)
        return missing_branch(at);
      continue;
    }
    // Split: a new branch where the child's path and the key part.
    auto m = k.prefix(common_prefix(slot->at, k));
    auto moved = *slot;
    slot = child{m, {}};
    auto& split = cache_[m];
    split.dirty = true;
    split.node.emplace();
    split.node->kids[moved.at[m.len]] = moved;
    split.node->kids[k[m.len]] = child{k, id};
    return {};
  }
}

caf::expected<bool> trie_update::erase(const state_key& key) {
  auto k = path::of(key);
  std::vector<path> stack;
  path at;
  while (true) {
    auto e = load(at);
    if (!e)
      return e.error();
    if (!(*e)->node)
      return stack.empty() ? caf::expected<bool>{false} : missing_branch(at);
    auto& slot = (*e)->node->kids[k[at.len]];
    if (!slot)
      return false;
    if (slot->at == k)
      break;
    if (slot->at.is_leaf() || !slot->at.is_prefix_of(k))
      return false;
    stack.push_back(at);
    at = slot->at;
  }
  stack.push_back(at);
  for (auto& p : stack)
    cache_[p].dirty = true;
  auto& leaf_parent = cache_[at];
  leaf_parent.node->kids[k[at.len]].reset();
  if (at.len == 0 || leaf_parent.node->count() != 1)
    return true;
  // A branch left with one child gives way to it.
  child only;
  for (auto& c : leaf_parent.node->kids)
    if (c)
      only = *c;
  leaf_parent.node.reset();
  leaf_parent.dirty = false;
  changed_.insert(at);
  auto& parent = cache_[stack[stack.size() - 2]];
  parent.node->kids[at[stack[stack.size() - 2].len]] = only;
  return true;
}

caf::error trie_update::apply(const state_delta& delta) {
  for (auto& [key, value] : delta) {
    if (value) {
      if (auto err = put(key, value_hash(*value)))
        return err;
    } else if (auto gone = erase(key); !gone) {
      return gone.error();
    }
  }
  return {};
}

caf::expected<hash256> trie_update::rehash(const path& at) {
  auto& e = cache_[at];
  if (!e.node)
    return missing_branch(at);
  for (auto& c : e.node->kids) {
    if (!c || c->at.is_leaf())
      continue;
    auto i = cache_.find(c->at);
    if (i == cache_.end() || !i->second.dirty)
      continue;
    auto id = rehash(c->at);
    if (!id)
      return id.error();
    c->id = *id;
  }
  // Written once it is hashed; a later put marks it dirty again.
  e.dirty = false;
  changed_.insert(at);
  return branch_id(at, *e.node);
}

caf::expected<hash256> trie_update::root() {
  auto e = load(path{});
  if (!e)
    return e.error();
  if (!(*e)->node)
    return hash256{};
  if ((*e)->node->count() == 0) {
    (*e)->node.reset();
    changed_.insert(path{});
    return hash256{};
  }
  if (!(*e)->dirty)
    return branch_id(path{}, *(*e)->node);
  return rehash(path{});
}

void trie_update::for_each_change(
  const std::function<void(const path&, const branch*)>& f) const {
  for (auto& at : changed_) {
    auto& e = cache_.at(at);
    f(at, e.node ? &*e.node : nullptr);
  }
}

// -- memory_trie
// ------------------------------------------------------------------

node_source memory_trie::source() const {
  return [this](const path& at) -> caf::expected<std::optional<branch>> {
    auto i = nodes_.find(at);
    if (i == nodes_.end())
      return std::optional<branch>{};
    return std::optional<branch>{i->second};
  };
}

caf::expected<hash256> memory_trie::apply(const state_delta& delta) {
  trie_update u{source()};
  if (auto err = u.apply(delta))
    return err;
  auto root = u.root();
  if (!root)
    return root.error();
  u.for_each_change([&](const path& at, const branch* b) {
    if (b)
      nodes_[at] = *b;
    else
      nodes_.erase(at);
  });
  for (auto& [key, value] : delta)
    if (value)
      values_[key] = *value;
    else
      values_.erase(key);
  root_ = *root;
  return root_;
}

// -- building from scratch and verifying
// ----------------------------------------

namespace {

/// The id of the subtree of sorted entries [lo, hi), all sharing `depth`
/// nibbles; at depth 0 the root branch, whatever its count.
hash256 subtree(const std::vector<rebuilt>& v, size_t lo, size_t hi,
                size_t depth) {
  if (hi - lo == 1 && depth > 0)
    return v[lo].id;
  auto at = v[lo].at.prefix(depth == 0 ? 0
                                       : common_prefix(v[lo].at, v[hi - 1].at));
  uint16_t bits = 0;
  std::vector<hash256> ids;
  std::vector<const hash256*> ptrs;
  ids.reserve(16);
  for (size_t i = lo; i < hi;) {
    auto nib = v[i].at[at.len];
    size_t j = i + 1;
    while (j < hi && v[j].at[at.len] == nib)
      ++j;
    bits |= static_cast<uint16_t>(1u << nib);
    ids.push_back(subtree(v, i, j, at.len + 1));
    i = j;
  }
  for (auto& id : ids)
    ptrs.push_back(&id);
  return branch_id_of(at, bits, ptrs);
}

} // namespace

hash256 root_of_sorted(const std::vector<rebuilt>& v) {
  return v.empty() ? hash256{} : subtree(v, 0, v.size(), 0);
}

hash256 root_of(const std::map<state_key, std::vector<uint8_t>>& values) {
  std::vector<rebuilt> v;
  v.reserve(values.size());
  for (auto& [key, value] : values)
    v.push_back({path::of(key), leaf_id(key, value_hash(value))});
  return root_of_sorted(v);
}

} // namespace hallmark::trie
