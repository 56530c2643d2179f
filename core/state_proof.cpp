#include "core/state_proof.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace hallmark::trie {

namespace {

caf::error bad_proof(const std::string& why) {
  return make_error(ec::bad_state_proof, why);
}

proof_node node_of(const path& at, const branch& b) {
  proof_node n;
  n.at = at;
  for (uint8_t i = 0; i < 16; ++i)
    if (auto& c = b.kids[i])
      n.kids.emplace_back(i, c->id);
  return n;
}

size_t bytes_of(const std::vector<proof_node>& nodes) {
  size_t n = 0;
  for (auto& x : nodes)
    n += proof_bytes(x);
  return n;
}

} // namespace

state_key min_key() {
  return state_key{};
}

state_key max_key() {
  state_key k;
  k.fill(0xff);
  return k;
}

std::optional<state_key> next_key(const state_key& k) {
  auto x = k;
  for (size_t i = x.size(); i-- > 0;)
    if (++x[i] != 0)
      return x;
  return std::nullopt;
}

std::optional<state_key> prev_key(const state_key& k) {
  auto x = k;
  for (size_t i = x.size(); i-- > 0;)
    if (x[i]-- != 0)
      return x;
  return std::nullopt;
}

size_t proof_bytes(const proof_node& n) {
  return 8 + 1 + (n.at.len + 1) / 2
         + (n.at.is_leaf() ? 32 : 2 + 33 * n.kids.size());
}

size_t entry_bytes(const state_key& key, size_t value_size) {
  return 8 + key.size() + value_size;
}

caf::error prove_path(trie_update& nodes, const value_source& values,
                      const state_key& key, std::vector<proof_node>& out) {
  auto k = path::of(key);
  path at;
  while (true) {
    auto b = nodes.node(at);
    if (!b)
      return b.error();
    if (!*b)
      return at.len == 0 ? caf::error{} : missing_branch(at);
    out.push_back(node_of(at, **b));
    auto& next = (*b)->kids[k[at.len]];
    if (!next)
      return {};
    if (next->at.is_leaf()) {
      auto v = values(next->at.key());
      if (!v)
        return v.error();
      if (!*v)
        return make_error(ec::storage, "state trie: a leaf has no value");
      out.push_back(proof_node{next->at, value_hash(**v), {}});
      return {};
    }
    at = next->at;
    if (!at.is_prefix_of(k)) {
      // The path leaves the key: show where, and stop.
      auto d = nodes.node(at);
      if (!d)
        return d.error();
      if (!*d)
        return missing_branch(at);
      out.push_back(node_of(at, **d));
      return {};
    }
  }
}

namespace {

/// Fills a reply: items are offered in key order by `offer`, which calls
/// take(key, bytes) for each and stops when take returns false; `drop`
/// removes the last taken. Adds the end path, dropping items while the
/// whole does not fit.
template <class Reply, class Offer, class Drop, class LastKey>
caf::error fill(Reply& r, trie_update& nodes, const value_source& values,
                const state_key& start, const state_key& end, size_t key_limit,
                size_t byte_limit, Offer offer, Drop drop, LastKey last_key,
                size_t& count) {
  if (end < start)
    return make_error(ec::bad_request, "range ends before it starts");
  key_limit = std::clamp<size_t>(key_limit, 1, max_proof_keys);
  byte_limit = std::clamp<size_t>(byte_limit, 1, max_proof_bytes);
  if (auto err = prove_path(nodes, values, start, r.proof))
    return err;
  auto used = bytes_of(r.proof);
  // The end path is about as deep as the start path: keep room for it.
  auto reserve = used;
  std::vector<size_t> sizes;
  if (auto err = offer([&](size_t bytes) {
        if (count == key_limit || used + bytes + reserve > byte_limit) {
          r.truncated = true;
          return false;
        }
        sizes.push_back(bytes);
        used += bytes;
        ++count;
        return true;
      }))
    return err;
  while (true) {
    if (r.truncated && count == 0)
      return make_error(ec::too_large, "not one key fits in "
                                         + std::to_string(byte_limit)
                                         + " bytes with its proof");
    std::vector<proof_node> tail;
    if (auto err = prove_path(nodes, values, r.truncated ? last_key() : end,
                              tail))
      return err;
    std::erase_if(tail, [&](const proof_node& n) {
      return std::any_of(r.proof.begin(), r.proof.end(),
                         [&](const proof_node& m) { return m.at == n.at; });
    });
    if (used + bytes_of(tail) <= byte_limit) {
      r.proof.insert(r.proof.end(), tail.begin(), tail.end());
      return {};
    }
    used -= sizes.back();
    sizes.pop_back();
    drop();
    --count;
    r.truncated = true;
  }
}

} // namespace

caf::expected<range_proof>
prove_range(trie_update& nodes, const value_source& values,
            const range_scan& scan, const state_key& start,
            const state_key& end, size_t key_limit, size_t byte_limit) {
  range_proof r;
  size_t count = 0;
  auto offer = [&](auto take) {
    return scan(start, [&](const state_key& k, byte_view v) {
      if (end < k)
        return false;
      if (!take(entry_bytes(k, v.size())))
        return false;
      r.entries.emplace_back(k, std::vector<uint8_t>(v.begin(), v.end()));
      return true;
    });
  };
  auto err = fill(
    r, nodes, values, start, end, key_limit, byte_limit, offer,
    [&] { r.entries.pop_back(); }, [&] { return r.entries.back().first; },
    count);
  if (err)
    return err;
  return r;
}

caf::expected<change_proof>
prove_change(trie_update& nodes, const value_source& values,
             const std::vector<state_key>& changed, const state_key& start,
             const state_key& end, size_t key_limit, size_t byte_limit) {
  change_proof r;
  size_t count = 0;
  auto offer = [&](auto take) -> caf::error {
    auto i = std::lower_bound(changed.begin(), changed.end(), start);
    for (; i != changed.end() && !(end < *i); ++i) {
      if (!r.changes.empty() && r.changes.back().first == *i)
        continue;
      auto v = values(*i);
      if (!v)
        return v.error();
      if (!take(entry_bytes(*i, *v ? (*v)->size() : 0)))
        return {};
      r.changes.emplace_back(*i, std::move(*v));
    }
    return {};
  };
  auto err = fill(
    r, nodes, values, start, end, key_limit, byte_limit, offer,
    [&] { r.changes.pop_back(); }, [&] { return r.changes.back().first; },
    count);
  if (err)
    return err;
  return r;
}

namespace {

/// verify_range with the proved range [start, hi] given.
caf::error verify_upto(const hash256& root, const state_key& start,
                       const state_key& hi,
                       const std::vector<hashed_entry>& entries,
                       const std::vector<proof_node>& proof) {
  if (proof.size() > 2 * max_path_nodes)
    return bad_proof("too many proof nodes");
  auto lo = path::of(start);
  auto up = path::of(hi);
  // Below lo's or above up's prefix of the same length: wholly outside.
  auto outside = [&](const path& p) {
    return p < lo.prefix(p.len) || up.prefix(p.len) < p;
  };
  std::vector<rebuilt> v;
  v.reserve(entries.size() + proof.size() * 16);
  for (auto& [k, vh] : entries)
    v.push_back({path::of(k), leaf_id(k, vh)});
  for (auto& n : proof) {
    if (n.at.len > key_nibbles)
      return bad_proof("proof node path too long");
    for (size_t i = 0; i < n.at.len; ++i)
      if (n.at.n[i] > 15)
        return bad_proof("proof node path is not nibbles");
    if (n.at.is_leaf()) {
      if (!n.kids.empty())
        return bad_proof("a leaf with children");
      if (outside(n.at))
        v.push_back({n.at, leaf_id(n.at.key(), n.value_hash)});
      continue;
    }
    int last = -1;
    for (auto& [i, id] : n.kids) {
      if (i > 15 || static_cast<int>(i) <= last)
        return bad_proof("proof node children out of order");
      last = i;
      auto at = n.at.then(i);
      if (outside(at))
        v.push_back({at, id});
    }
  }
  std::sort(v.begin(), v.end(),
            [](const rebuilt& a, const rebuilt& b) { return a.at < b.at; });
  // The start and end paths share their top nodes: the same entry twice is
  // one; two ids at one path, or one under another, are a lie.
  std::vector<rebuilt> u;
  u.reserve(v.size());
  for (auto& x : v) {
    if (!u.empty() && u.back().at == x.at) {
      if (u.back().id != x.id)
        return bad_proof("two ids for one path");
      continue;
    }
    if (!u.empty() && u.back().at.is_prefix_of(x.at))
      return bad_proof("a proof node under a leaf or a subtree");
    u.push_back(x);
  }
  if (root_of_sorted(u) != root)
    return bad_proof("the keys and proof give another root");
  return {};
}

/// Keys strictly increasing and inside [start, end].
template <class Pairs>
caf::error check_keys(const Pairs& xs, const state_key& start,
                      const state_key& end) {
  if (end < start)
    return bad_proof("range ends before it starts");
  if (xs.size() > max_proof_keys)
    return bad_proof("more than " + std::to_string(max_proof_keys) + " keys");
  for (size_t i = 0; i < xs.size(); ++i) {
    auto& k = xs[i].first;
    if (k < start || end < k)
      return bad_proof("a key outside the range");
    if (i > 0 && !(xs[i - 1].first < k))
      return bad_proof("keys not strictly increasing");
  }
  return {};
}

} // namespace

caf::error verify_range(const hash256& root, const state_key& start,
                        const state_key& end,
                        const std::vector<hashed_entry>& entries,
                        const std::vector<proof_node>& proof, bool truncated) {
  if (auto err = check_keys(entries, start, end))
    return err;
  if (truncated && entries.empty())
    return bad_proof("cut short with no keys");
  return verify_upto(root, start, truncated ? entries.back().first : end,
                     entries, proof);
}

caf::error verify_range(const hash256& root, const state_key& start,
                        const state_key& end, const range_proof& p) {
  std::vector<hashed_entry> hashed;
  hashed.reserve(p.entries.size());
  for (auto& [k, v] : p.entries)
    hashed.emplace_back(k, value_hash(v));
  return verify_range(root, start, end, hashed, p.proof, p.truncated);
}

caf::error verify_change(const hash256& root, const state_key& start,
                         const state_key& end, const range_scan& local,
                         const change_proof& p) {
  if (auto err = check_keys(p.changes, start, end))
    return err;
  if (p.truncated && p.changes.empty())
    return bad_proof("cut short with no changes");
  auto hi = p.truncated ? p.changes.back().first : end;
  std::vector<hashed_entry> merged;
  size_t c = 0;
  auto take_changes_before = [&](const state_key* k) {
    for (; c < p.changes.size() && (!k || p.changes[c].first < *k); ++c)
      if (auto& v = p.changes[c].second)
        merged.emplace_back(p.changes[c].first, value_hash(*v));
  };
  auto err = local(start, [&](const state_key& k, byte_view v) {
    if (hi < k)
      return false;
    take_changes_before(&k);
    if (c < p.changes.size() && p.changes[c].first == k) {
      if (auto& nv = p.changes[c].second)
        merged.emplace_back(k, value_hash(*nv));
      ++c;
    } else {
      merged.emplace_back(k, value_hash(v));
    }
    return true;
  });
  if (err)
    return err;
  take_changes_before(nullptr);
  return verify_upto(root, start, hi, merged, p.proof);
}

} // namespace hallmark::trie
