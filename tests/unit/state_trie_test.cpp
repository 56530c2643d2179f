// core/state_trie and core/state_proof: roots that depend on the key/value
// set alone, random changes against a plain map, and range and change
// proofs that verify, and fail at any change of a byte, key or node.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "core/error.hpp"
#include "core/state_proof.hpp"

using namespace hallmark;
using namespace hallmark::trie;

namespace {

using value_map = std::map<state_key, std::vector<uint8_t>>;

state_key random_key(std::mt19937_64& rng) {
  state_key k;
  for (auto& b : k)
    b = static_cast<uint8_t>(rng());
  k[0] = rng() % 2; // asset or item
  return k;
}

std::vector<uint8_t> random_value(std::mt19937_64& rng) {
  std::vector<uint8_t> v(1 + rng() % 105);
  for (auto& b : v)
    b = static_cast<uint8_t>(rng());
  return v;
}

value_map random_map(std::mt19937_64& rng, size_t n) {
  value_map m;
  while (m.size() < n)
    m[random_key(rng)] = random_value(rng);
  return m;
}

/// A memory trie holding `m`, inserted in one batch per `batch` keys.
memory_trie trie_of(const value_map& m, size_t batch = SIZE_MAX) {
  memory_trie t;
  state_delta d;
  for (auto& [k, v] : m) {
    d[k] = v;
    if (d.size() == batch) {
      REQUIRE(t.apply(d));
      d.clear();
    }
  }
  REQUIRE(t.apply(d));
  return t;
}

value_source values_of(const memory_trie& t) {
  return [&t](const state_key& k)
           -> caf::expected<std::optional<std::vector<uint8_t>>> {
    auto i = t.values().find(k);
    if (i == t.values().end())
      return std::optional<std::vector<uint8_t>>{};
    return std::optional<std::vector<uint8_t>>{i->second};
  };
}

range_scan scan_of(const value_map& m) {
  return [&m](const state_key& from,
              const std::function<bool(const state_key&, byte_view)>& f) {
    for (auto i = m.lower_bound(from); i != m.end(); ++i)
      if (!f(i->first, i->second))
        break;
    return caf::error{};
  };
}

range_proof prove(const memory_trie& t, const state_key& start,
                  const state_key& end, size_t keys = max_proof_keys,
                  size_t bytes = max_proof_bytes) {
  trie_update view{t.source()};
  auto p = prove_range(view, values_of(t), scan_of(t.values()), start, end,
                       keys, bytes);
  REQUIRE(p);
  return *p;
}

/// Two keys in order.
std::pair<state_key, state_key> ordered(state_key a, state_key b) {
  if (b < a)
    std::swap(a, b);
  return {a, b};
}

} // namespace

TEST_CASE("state trie: the empty trie's root is zero, and so is the root "
          "once every key is gone") {
  memory_trie t;
  CHECK(t.root() == hash256{});
  CHECK(root_of({}) == hash256{});
  std::mt19937_64 rng{1};
  auto m = random_map(rng, 40);
  t = trie_of(m);
  CHECK(t.root() != hash256{});
  state_delta gone;
  for (auto& [k, v] : m)
    gone[k] = std::nullopt;
  REQUIRE(t.apply(gone));
  CHECK(t.root() == hash256{});
}

TEST_CASE("state trie: one key's root is a branch over its leaf") {
  std::mt19937_64 rng{2};
  auto k = random_key(rng);
  auto v = random_value(rng);
  auto t = trie_of({{k, v}});
  branch b;
  b.kids[k[0] >> 4] = child{path::of(k), leaf_id(k, value_hash(v))};
  CHECK(t.root() == branch_id(path{}, b));
}

TEST_CASE("state trie: insertion order and batching never change the root") {
  std::mt19937_64 rng{3};
  auto m = random_map(rng, 600);
  auto expected = root_of(m);
  CHECK(trie_of(m).root() == expected);
  CHECK(trie_of(m, 1).root() == expected);
  CHECK(trie_of(m, 7).root() == expected);
  // Shuffled, one key a batch.
  std::vector<std::pair<state_key, std::vector<uint8_t>>> shuffled(m.begin(),
                                                                   m.end());
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  memory_trie t;
  for (auto& [k, v] : shuffled)
    REQUIRE(t.apply({{k, v}}));
  CHECK(t.root() == expected);
}

TEST_CASE("state trie: random puts and deletes agree with a plain map") {
  std::mt19937_64 rng{4};
  value_map plain;
  memory_trie t;
  std::vector<state_key> known;
  for (int round = 0; round < 60; ++round) {
    state_delta d;
    auto n = 1 + rng() % 40;
    for (size_t i = 0; i < n; ++i) {
      auto op = rng() % 3;
      if (op == 0 || known.empty()) {
        auto k = random_key(rng);
        known.push_back(k);
        d[k] = random_value(rng);
      } else if (op == 1) {
        d[known[rng() % known.size()]] = random_value(rng);
      } else {
        d[known[rng() % known.size()]] = std::nullopt;
      }
    }
    // Keys that share long prefixes exercise splits and merges.
    if (round % 5 == 0 && !known.empty()) {
      auto k = known[rng() % known.size()];
      k[32] ^= 1;
      known.push_back(k);
      d[k] = random_value(rng);
    }
    for (auto& [k, v] : d)
      if (v)
        plain[k] = *v;
      else
        plain.erase(k);
    auto root = t.apply(d);
    REQUIRE(root);
    REQUIRE(*root == root_of(plain));
    REQUIRE(t.values() == plain);
  }
  CHECK(plain.size() > 100);
}

TEST_CASE("state trie: stored nodes decode to what was stored, and junk "
          "does not decode") {
  std::mt19937_64 rng{5};
  auto m = random_map(rng, 300);
  auto t = trie_of(m);
  trie_update view{t.source()};
  auto root = view.node(path{});
  REQUIRE(root);
  REQUIRE(*root);
  auto bytes = node_bytes(path{}, **root);
  auto back = decode_node(path{}, bytes);
  REQUIRE(back);
  CHECK(branch_id(path{}, *back) == branch_id(path{}, **root));
  CHECK(!decode_node(path{}, byte_view{bytes.data(), 1}));
  CHECK(!decode_node(path{}, byte_view{bytes.data(), bytes.size() - 1}));
  bytes.push_back(0);
  CHECK(!decode_node(path{}, bytes));
}

TEST_CASE("state values: encode and decode, with wrong sizes refused") {
  asset_value a{hash256{1}, public_key{2}, 77};
  auto ab = encode(a);
  CHECK(ab.size() == asset_value_size);
  auto a2 = decode_asset_value(ab);
  REQUIRE(a2);
  CHECK(a2->height == 77);
  CHECK(a2->registrant == public_key{2});
  item_value i{hash256{3}, public_key{4}, hash256{5}, 9, record_kind::transfer};
  auto ib = encode(i);
  CHECK(ib.size() == item_value_size);
  auto i2 = decode_item_value(ib);
  REQUIRE(i2);
  CHECK(i2->kind == record_kind::transfer);
  CHECK(valid_entry(item_key(hash256{}), ib));
  CHECK(!valid_entry(asset_key(hash256{}), ib));
  ib[104] = 0; // an asset record cannot be an item's latest
  CHECK(!decode_item_value(ib));
  CHECK(!decode_asset_value(byte_view{ab.data(), 71}));
}

TEST_CASE("range proofs: every range verifies, whole or cut short") {
  std::mt19937_64 rng{6};
  for (size_t n : {0, 1, 2, 3, 50, 700}) {
    CAPTURE(n);
    auto m = random_map(rng, n);
    auto t = trie_of(m);
    std::vector<state_key> keys;
    for (auto& [k, v] : m)
      keys.push_back(k);
    for (int i = 0; i < 30; ++i) {
      state_key s;
      state_key e;
      switch (i % 5) {
      case 0:
        s = min_key(), e = max_key();
        break;
      case 1: // exactly on keys
        if (keys.empty())
          continue;
        std::tie(s, e) = ordered(keys[rng() % keys.size()],
                                 keys[rng() % keys.size()]);
        break;
      case 2: // one key
        if (keys.empty())
          continue;
        s = e = keys[rng() % keys.size()];
        break;
      default:
        std::tie(s, e) = ordered(random_key(rng), random_key(rng));
      }
      auto limit = 1 + rng() % 100;
      auto p = prove(t, s, e, limit);
      CHECK(p.entries.size() <= limit);
      CHECK(verify_range(t.root(), s, e, p) == caf::error{});
      // What the entries should be.
      size_t expected = 0;
      for (auto it = m.lower_bound(s); it != m.end() && !(e < it->first); ++it)
        ++expected;
      CHECK(p.truncated == (expected > limit));
      CHECK(p.entries.size() == std::min<size_t>(expected, limit));
    }
  }
}

TEST_CASE("range proofs: a byte limit cuts the reply short, sized as it "
          "goes") {
  std::mt19937_64 rng{7};
  auto m = random_map(rng, 2000);
  auto t = trie_of(m);
  auto whole = prove(t, min_key(), max_key(), max_proof_keys, max_proof_bytes);
  CHECK(!whole.truncated);
  CHECK(whole.entries.size() == 2000);
  size_t bytes = 0;
  auto p = prove(t, min_key(), max_key(), max_proof_keys, 20'000);
  for (auto& n : p.proof)
    bytes += proof_bytes(n);
  for (auto& [k, v] : p.entries)
    bytes += entry_bytes(k, v.size());
  CHECK(p.truncated);
  CHECK(bytes <= 20'000);
  CHECK(p.entries.size() > 50);
  CHECK(verify_range(t.root(), min_key(), max_key(), p) == caf::error{});
  // Too small for even one key and its proof.
  trie_update view{t.source()};
  auto none = prove_range(view, values_of(t), scan_of(t.values()), min_key(),
                          max_key(), 10, 100);
  CHECK(none.error() == ec::too_large);
}

TEST_CASE("range proofs: a changed byte, a missing or extra key, a wrong "
          "boundary or a missing node fails verification") {
  std::mt19937_64 rng{8};
  auto m = random_map(rng, 400);
  auto t = trie_of(m);
  std::vector<state_key> keys;
  for (auto& [k, v] : m)
    keys.push_back(k);
  auto s = keys[100];
  auto e = keys[160];
  auto good = prove(t, s, e);
  REQUIRE(verify_range(t.root(), s, e, good) == caf::error{});
  REQUIRE(good.entries.size() == 61);
  auto fails = [&](range_proof p, const state_key& start,
                   const state_key& end) {
    return verify_range(t.root(), start, end, p) == ec::bad_state_proof;
  };
  SUBCASE("a value byte") {
    auto p = good;
    p.entries[30].second[0] ^= 1;
    CHECK(fails(p, s, e));
  }
  SUBCASE("a key byte") {
    auto p = good;
    p.entries[30].first[32] ^= 1;
    CHECK(fails(p, s, e));
  }
  SUBCASE("a missing key, first, middle or last") {
    for (size_t i : {size_t{0}, size_t{30}, size_t{60}}) {
      auto p = good;
      p.entries.erase(p.entries.begin() + static_cast<long>(i));
      CHECK(fails(p, s, e));
    }
  }
  SUBCASE("an extra key") {
    auto p = good;
    auto k = p.entries[30].first;
    k[32] ^= 1;
    p.entries.emplace_back(k, std::vector<uint8_t>{1, 2, 3});
    std::sort(p.entries.begin(), p.entries.end());
    CHECK(fails(p, s, e));
  }
  SUBCASE("a wider range than proved") {
    CHECK(fails(good, keys[99], e));
    CHECK(fails(good, s, keys[161]));
  }
  SUBCASE("claiming whole what was cut short") {
    auto p = prove(t, s, e, 20);
    REQUIRE(p.truncated);
    CHECK(verify_range(t.root(), s, e, p) == caf::error{});
    p.truncated = false;
    CHECK(fails(p, s, e));
  }
  SUBCASE("a changed or missing proof node") {
    size_t tested = 0;
    for (size_t i = 0; i < good.proof.size(); ++i) {
      auto p = good;
      auto& n = p.proof[i];
      if (n.at.is_leaf())
        n.value_hash[0] ^= 1;
      else if (!n.kids.empty())
        n.kids.back().second[0] ^= 1;
      auto changed = verify_range(t.root(), s, e, p);
      // A change only shows where the node speaks of keys outside the
      // range; inside, the entries stand for themselves.
      auto q = good;
      q.proof.erase(q.proof.begin() + static_cast<long>(i));
      auto missing = verify_range(t.root(), s, e, q);
      if (changed != caf::error{}) {
        CHECK(changed == ec::bad_state_proof);
        CHECK(missing == ec::bad_state_proof);
        ++tested;
      }
    }
    CHECK(tested >= 2);
  }
  SUBCASE("a node added under another") {
    auto p = good;
    auto n = p.proof.back();
    n.at = path::of(keys[5]);
    n.kids.clear();
    p.proof.push_back(n);
    CHECK(fails(p, s, e));
  }
  SUBCASE("another root") {
    auto other = t.root();
    other[0] ^= 1;
    CHECK(verify_range(other, s, e, good) == ec::bad_state_proof);
  }
  SUBCASE("keys out of order") {
    auto p = good;
    std::swap(p.entries[3], p.entries[4]);
    CHECK(fails(p, s, e));
  }
}

TEST_CASE("range proofs: an empty range proves no key there, and a key "
          "slipped into it fails") {
  std::mt19937_64 rng{9};
  auto m = random_map(rng, 300);
  auto t = trie_of(m);
  auto it = m.begin();
  std::advance(it, 40);
  auto below = it->first;
  auto above = std::next(it)->first;
  // Strictly between two neighbours.
  auto s = *next_key(below);
  auto e = above;
  for (size_t i = e.size(); i-- > 0;)
    if (e[i]-- != 0)
      break;
  REQUIRE(!(e < s));
  auto p = prove(t, s, e);
  CHECK(p.entries.empty());
  CHECK(verify_range(t.root(), s, e, p) == caf::error{});
  p.entries.emplace_back(s, std::vector<uint8_t>{7});
  CHECK(verify_range(t.root(), s, e, p) == ec::bad_state_proof);
}

TEST_CASE("change proofs: the changes between two roots verify against the "
          "second, applied to the first") {
  std::mt19937_64 rng{10};
  auto before = random_map(rng, 500);
  auto t = trie_of(before);
  auto old_values = t.values();
  // A block's worth of changes: new keys, new values, deletions.
  state_delta d;
  std::vector<state_key> changed;
  for (int i = 0; i < 60; ++i) {
    auto k = random_key(rng);
    d[k] = random_value(rng);
  }
  int j = 0;
  for (auto& [k, v] : before)
    if (++j % 9 == 0)
      d[k] = (j % 2) ? std::optional<std::vector<uint8_t>>{random_value(rng)}
                     : std::nullopt;
  for (auto& [k, v] : d)
    changed.push_back(k);
  REQUIRE(t.apply(d));
  auto check_range = [&](const state_key& s, const state_key& e, size_t lim) {
    trie_update view{t.source()};
    auto p = prove_change(view, values_of(t), changed, s, e, lim,
                          max_proof_bytes);
    REQUIRE(p);
    CHECK(verify_change(t.root(), s, e, scan_of(old_values), *p)
          == caf::error{});
    // Applied, the local range equals the server's.
    auto local = old_values;
    for (auto& [k, v] : p->changes)
      if (v)
        local[k] = *v;
      else
        local.erase(k);
    auto hi = p->truncated ? p->changes.back().first : e;
    for (auto it = t.values().lower_bound(s);
         it != t.values().end() && !(hi < it->first); ++it)
      CHECK(local.at(it->first) == it->second);
    return *p;
  };
  auto whole = check_range(min_key(), max_key(), max_proof_keys);
  CHECK(whole.changes.size() == changed.size());
  auto cut = check_range(min_key(), max_key(), 10);
  CHECK(cut.truncated);
  auto [s, e] = ordered(random_key(rng), random_key(rng));
  check_range(s, e, max_proof_keys);
  // A change dropped or altered fails.
  auto p = whole;
  p.changes.erase(p.changes.begin() + 5);
  CHECK(verify_change(t.root(), min_key(), max_key(), scan_of(old_values), p)
        == ec::bad_state_proof);
  p = whole;
  for (auto& [k, v] : p.changes)
    if (v) {
      (*v)[0] ^= 1;
      break;
    }
  CHECK(verify_change(t.root(), min_key(), max_key(), scan_of(old_values), p)
        == ec::bad_state_proof);
  // Verified against a client that does not hold the first root's range.
  auto wrong = old_values;
  wrong.erase(wrong.begin());
  CHECK(verify_change(t.root(), min_key(), max_key(), scan_of(wrong), whole)
        == ec::bad_state_proof);
}

TEST_CASE("keys: next_key and prev_key step by one and stop at the ends") {
  auto k = trie::min_key();
  k[32] = 0xff;
  auto n = trie::next_key(k);
  REQUIRE(n);
  CHECK((*n)[31] == 1);
  CHECK((*n)[32] == 0);
  CHECK(trie::prev_key(*n) == k);
  CHECK_FALSE(trie::next_key(trie::max_key()));
  CHECK_FALSE(trie::prev_key(trie::min_key()));
  CHECK(trie::prev_key(*trie::next_key(trie::min_key())) == trie::min_key());
}

TEST_CASE("state trie: pinned root vectors (a change is a hard fork)") {
  hash256 a;
  a.fill(0x11);
  hash256 i;
  i.fill(0x22);
  public_key owner;
  owner.fill(0x33);
  value_map m;
  m[asset_key(a)] = encode(asset_value{hash256{0xaa}, owner, 1});
  CHECK(to_hex(root_of(m))
        == "d945a6e9d9313449b1c01fcd4bc33e6337caba2571d06d91732890b68fe92a28");
  m[item_key(i)] = encode(
    item_value{hash256{0xbb}, owner, a, 2, record_kind::issue});
  CHECK(to_hex(root_of(m))
        == "92bdf653fdaadefd8bde1754244ffe33016d6b9456b50f0e69b8f82ef79b3dc2");
  CHECK(trie_of(m).root() == root_of(m));
}
