#include "storage/chain_store.hpp"

#include <cstring>

namespace hallmark {

namespace {

constexpr size_t header_entry_size = header_size + 32 + 16;
constexpr size_t location_size = 8 + 4 + 2 + 1 + 32 + 32 + 32;

using lmdb::bytes;

bytes key_of(const std::string_view& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

template <size_t N>
bytes key_of(const std::array<uint8_t, N>& x) {
  return {x.data(), N};
}

template <size_t N>
std::array<uint8_t, N> take(const uint8_t*& p) {
  std::array<uint8_t, N> out;
  std::memcpy(out.data(), p, N);
  p += N;
  return out;
}

header parse_header(const uint8_t* p) {
  header h;
  h.version = get_u16(p);
  p += 2;
  h.height = get_u64(p);
  p += 8;
  h.previous = take<32>(p);
  h.merkle_root = take<32>(p);
  h.state_root = take<32>(p);
  h.timestamp = get_u64(p);
  p += 8;
  h.difficulty = get_u64(p);
  p += 8;
  h.producer = take<32>(p);
  h.nonce = get_u64(p);
  return h;
}

void put_work(uint8_t* out, work_t w) {
  put_u64(out, static_cast<uint64_t>(w));
  put_u64(out + 8, static_cast<uint64_t>(w >> 64));
}

work_t get_work(const uint8_t* in) {
  return static_cast<work_t>(get_u64(in + 8)) << 64 | get_u64(in);
}

std::array<uint8_t, location_size> encode_location(const record_location& l) {
  std::array<uint8_t, location_size> out;
  auto p = out.data();
  put_u64(p, l.height);
  put_u32(p + 8, l.index);
  put_u16(p + 12, l.sub);
  p[14] = static_cast<uint8_t>(l.kind);
  std::memcpy(p + 15, l.item.data(), 32);
  std::memcpy(p + 47, l.owner.data(), 32);
  std::memcpy(p + 79, l.link.data(), 32);
  return out;
}

record_location decode_location(bytes v) {
  if (v.size() != location_size)
    throw lmdb::failure("records: value of unexpected size");
  record_location l;
  auto p = v.data();
  l.height = get_u64(p);
  l.index = get_u32(p + 8);
  l.sub = get_u16(p + 12);
  l.kind = static_cast<record_kind>(p[14]);
  std::memcpy(l.item.data(), p + 15, 32);
  std::memcpy(l.owner.data(), p + 47, 32);
  std::memcpy(l.link.data(), p + 79, 32);
  return l;
}

std::array<uint8_t, 96> encode_item(const item_state& s) {
  std::array<uint8_t, 96> out;
  std::memcpy(out.data(), s.latest.data(), 32);
  std::memcpy(out.data() + 32, s.owner.data(), 32);
  std::memcpy(out.data() + 64, s.asset.data(), 32);
  return out;
}

} // namespace

// -- chain_view --------------------------------------------------------------

tip_info chain_view::tip() const {
  auto v = t_->meta.get(*txn_, key_of(std::string_view{"tip"}));
  if (!v || v->size() != 40)
    throw lmdb::failure("meta: no tip");
  tip_info out;
  out.height = get_u64(v->data());
  std::memcpy(out.hash.data(), v->data() + 8, 32);
  auto entry = t_->headers.get(*txn_, lmdb::u64_key{out.height}.view());
  if (!entry || entry->size() != header_entry_size)
    throw lmdb::failure("headers: tip header missing");
  out.hdr = parse_header(entry->data());
  out.work = get_work(entry->data() + header_size + 32);
  return out;
}

std::optional<header> chain_view::header_at(uint64_t height) const {
  auto entry = t_->headers.get(*txn_, lmdb::u64_key{height}.view());
  if (!entry || entry->size() != header_entry_size)
    return std::nullopt;
  return parse_header(entry->data());
}

std::optional<hash256> chain_view::hash_at(uint64_t height) const {
  auto entry = t_->headers.get(*txn_, lmdb::u64_key{height}.view());
  if (!entry || entry->size() != header_entry_size)
    return std::nullopt;
  auto p = entry->data() + header_size;
  return take<32>(p);
}

std::optional<work_t> chain_view::work_at(uint64_t height) const {
  auto entry = t_->headers.get(*txn_, lmdb::u64_key{height}.view());
  if (!entry || entry->size() != header_entry_size)
    return std::nullopt;
  return get_work(entry->data() + header_size + 32);
}

uint64_t chain_view::height() const {
  return tip().height;
}

std::optional<uint64_t> chain_view::height_of(const hash256& block) const {
  auto v = t_->hashes.get(*txn_, key_of(block));
  if (!v || v->size() != 8)
    return std::nullopt;
  return get_u64(v->data());
}

std::optional<encoded> chain_view::body_at(uint64_t height) const {
  auto v = t_->bodies.get(*txn_, lmdb::u64_key{height}.view());
  if (!v)
    return std::nullopt;
  auto e = encoded::copy_of(*v);
  if (!e)
    return std::nullopt;
  return std::move(*e);
}

std::optional<record_location>
chain_view::find_record(const hash256& id) const {
  auto v = t_->records.get(*txn_, key_of(id));
  if (!v)
    return std::nullopt;
  return decode_location(*v);
}

std::optional<item_state> chain_view::find_item(const hash256& id) const {
  auto v = t_->items.get(*txn_, key_of(id));
  if (!v || v->size() != 96)
    return std::nullopt;
  item_state s;
  auto p = v->data();
  s.latest = take<32>(p);
  s.owner = take<32>(p);
  s.asset = take<32>(p);
  return s;
}

std::optional<asset_entry> chain_view::find_asset(const hash256& asset) const {
  auto v = t_->assets.get(*txn_, key_of(asset));
  if (!v || v->size() != 40)
    return std::nullopt;
  auto p = v->data() + 8;
  return std::make_pair(get_u64(v->data()), take<32>(p));
}

std::vector<hash256> chain_view::items_of(const public_key& owner) const {
  std::vector<hash256> out;
  t_->owners.for_each_dup(*txn_, key_of(owner), [&](bytes v) {
    if (v.size() == 32) {
      auto p = v.data();
      out.push_back(take<32>(p));
    }
    return true;
  });
  return out;
}

header_lookup chain_view::ancestors() const {
  return [this](uint64_t height) {
    auto h = header_at(height);
    if (!h)
      throw lmdb::failure("headers: gap at height " + std::to_string(height));
    return *h;
  };
}

std::vector<std::pair<hash256, record_location>>
chain_view::provenance(const hash256& item) const {
  std::vector<std::pair<hash256, record_location>> out;
  auto state = find_item(item);
  if (!state)
    return out;
  auto id = state->latest;
  // Each step follows an indexed link; an item's history is finite and
  // acyclic because a record can only link to an earlier one.
  while (true) {
    auto loc = find_record(id);
    if (!loc)
      break;
    out.emplace_back(id, *loc);
    if (loc->kind != record_kind::transfer)
      break;
    id = loc->link;
  }
  return out;
}

// -- chain_store -------------------------------------------------------------

caf::expected<std::unique_ptr<chain_store>>
chain_store::open(const std::string& dir, const chain_params& params,
                  uint64_t map_size_bytes) {
  auto genesis = genesis_header(params);
  if (block_hash(genesis) != params.genesis_hash)
    return make_error(ec::wrong_chain, "built-in genesis of " + params.name
                                         + " does not match its pinned hash");
  auto e = lmdb::env::open(dir, 16, map_size_bytes);
  if (!e)
    return e.error();
  std::unique_ptr<chain_store> store{new chain_store};
  store->env_ = std::move(*e);
  store->params_ = &params;
  try {
    lmdb::write_txn txn{store->env_};
    auto& t = store->tables_;
    struct spec {
      lmdb::table* table;
      const char* name;
      lmdb::table_kind kind;
    };
    for (auto s : {spec{&t.meta, "meta", lmdb::table_kind::plain},
                   spec{&t.headers, "headers", lmdb::table_kind::integer_key},
                   spec{&t.bodies, "bodies", lmdb::table_kind::integer_key},
                   spec{&t.hashes, "hashes", lmdb::table_kind::plain},
                   spec{&t.records, "records", lmdb::table_kind::plain},
                   spec{&t.items, "items", lmdb::table_kind::plain},
                   spec{&t.owners, "owners", lmdb::table_kind::dup_fixed},
                   spec{&t.assets, "assets", lmdb::table_kind::plain}}) {
      auto tab = lmdb::table::open(txn, s.name, s.kind);
      if (!tab)
        return tab.error();
      *s.table = *tab;
    }
    auto chain = t.meta.get(txn, key_of(std::string_view{"chain"}));
    if (chain) {
      std::string name{chain->begin(), chain->end()};
      if (name != params.name)
        return make_error(ec::wrong_chain, "data directory holds the " + name
                                             + " chain, not " + params.name);
      auto g = t.meta.get(txn, key_of(std::string_view{"genesis"}));
      if (!g || g->size() != 32
          || std::memcmp(g->data(), params.genesis_hash.data(), 32) != 0)
        return make_error(ec::wrong_chain,
                          "data directory's genesis block is not the "
                            + params.name + " genesis");
      auto v = t.meta.get(txn, key_of(std::string_view{"schema"}));
      uint32_t version = v && v->size() == 4 ? get_u32(v->data()) : 0;
      if (version > chain_schema_version)
        return make_error(ec::storage,
                          "data directory has schema " + std::to_string(version)
                            + ", newer than this hallmark understands ("
                            + std::to_string(chain_schema_version) + ")");
      if (version < 1)
        return make_error(ec::storage, "data directory has no schema version");
      // Schema 1 is the first; a later version adds its step here, each
      // taking the tables from version v to v + 1 inside this transaction.
      // Commit, not abort: LMDB closes table handles opened by a transaction
      // that aborts, which would leave every table of the store unusable.
      if (auto err = txn.commit())
        return err;
      return store;
    }
    // A new directory: meta and the genesis block.
    uint8_t version[4];
    put_u32(version, chain_schema_version);
    std::array<uint8_t, 40> tip;
    put_u64(tip.data(), 0);
    std::memcpy(tip.data() + 8, params.genesis_hash.data(), 32);
    std::array<uint8_t, header_entry_size> entry;
    auto hb = header_bytes(genesis);
    std::memcpy(entry.data(), hb.data(), header_size);
    std::memcpy(entry.data() + header_size, params.genesis_hash.data(), 32);
    put_work(entry.data() + header_size + 32, genesis.difficulty);
    uint8_t zero[8];
    put_u64(zero, 0);
    block gb;
    gb.hdr = genesis;
    auto body = encode(gb);
    for (auto err :
         {t.meta.put(txn, key_of(std::string_view{"schema"}),
                     bytes{version, 4}),
          t.meta.put(txn, key_of(std::string_view{"chain"}),
                     key_of(std::string_view{params.name})),
          t.meta.put(txn, key_of(std::string_view{"genesis"}),
                     key_of(params.genesis_hash)),
          t.meta.put(txn, key_of(std::string_view{"tip"}), key_of(tip)),
          t.headers.put(txn, lmdb::u64_key{0}.view(), key_of(entry)),
          t.bodies.put(txn, lmdb::u64_key{0}.view(), body.bytes()),
          t.hashes.put(txn, key_of(params.genesis_hash), bytes{zero, 8})})
      if (err)
        return err;
    if (auto err = txn.commit())
      return err;
  } catch (const lmdb::failure& f) {
    return make_error(ec::storage, f.what());
  }
  return store;
}

// -- chain_reader ------------------------------------------------------------

chain_reader::chain_reader(const chain_store& store)
    : chain_reader(
      store, std::make_unique<holder>(holder{lmdb::read_txn{store.env()}})) {}

chain_reader::chain_reader(const chain_store& store, std::unique_ptr<holder> h)
    : chain_view(store.tables(), h->txn), h_(std::move(h)) {}

// -- chain_writer ------------------------------------------------------------

chain_writer::chain_writer(chain_store& store)
    : chain_writer(
      store, std::make_unique<holder>(holder{lmdb::write_txn{store.env()}})) {}

chain_writer::chain_writer(chain_store& store, std::unique_ptr<holder> h)
    : chain_view(store.tables(), h->txn), store_(&store), h_(std::move(h)) {}

caf::error chain_writer::commit() {
  return h_->txn.commit();
}

caf::error chain_writer::apply(const block& b, const encoded& body,
                               uint64_t now) {
  auto& params = store_->params();
  auto top = tip();
  if (b.hdr.previous != top.hash) {
    if (height_of(b.hdr.previous))
      return make_error(ec::unknown_parent, "block's parent is not the tip");
    return make_error(ec::unknown_parent, "block's parent is unknown");
  }
  if (auto err = check_header_context(params, b.hdr, top.hdr, ancestors(), now))
    return err;
  // Records go into a nested transaction, dropped whole if a rule breaks.
  lmdb::write_txn child{lmdb::write_txn::nested_in{h_->txn}};
  auto* saved = txn_;
  txn_ = &child;
  auto err = apply_records(child, b, top.height);
  txn_ = saved;
  if (err) {
    child.abort();
    return err;
  }
  auto hash = block_hash(b.hdr);
  std::array<uint8_t, header_entry_size> entry;
  auto hb = header_bytes(b.hdr);
  std::memcpy(entry.data(), hb.data(), header_size);
  std::memcpy(entry.data() + header_size, hash.data(), 32);
  put_work(entry.data() + header_size + 32, top.work + b.hdr.difficulty);
  std::array<uint8_t, 40> tipv;
  put_u64(tipv.data(), b.hdr.height);
  std::memcpy(tipv.data() + 8, hash.data(), 32);
  uint8_t height[8];
  put_u64(height, b.hdr.height);
  auto& t = *t_;
  auto key = lmdb::u64_key{b.hdr.height};
  for (auto e :
       {t.headers.append(child, key.view(), key_of(entry)),
        t.bodies.append(child, key.view(), body.bytes()),
        t.hashes.put(child, key_of(hash), bytes{height, 8}),
        t.meta.put(child, key_of(std::string_view{"tip"}), key_of(tipv))})
    if (e) {
      child.abort();
      return e;
    }
  if (auto e = child.commit())
    return e;
  ++pending_;
  return {};
}

namespace {

/// The chain's tables in one write transaction, as the state rules write
/// them; reads go through `view`, which sees the same transaction.
class table_writer final : public state_writer {
public:
  table_writer(const chain_view& view, const chain_tables& t,
               lmdb::write_txn& txn, uint64_t parent_height)
      : view_(view), t_(t), txn_(txn), height_(parent_height) {}

  uint64_t height() const override { return height_; }
  std::optional<uint64_t> height_of(const hash256& block) const override {
    return view_.height_of(block);
  }
  std::optional<asset_entry> find_asset(const hash256& asset) const override {
    return view_.find_asset(asset);
  }
  std::optional<record_location> find_record(const hash256& id) const override {
    return view_.find_record(id);
  }
  std::optional<item_state> find_item(const hash256& item) const override {
    return view_.find_item(item);
  }

  caf::error put_asset(const hash256& asset, uint64_t height,
                       const hash256& record) override {
    std::array<uint8_t, 40> v;
    put_u64(v.data(), height);
    std::memcpy(v.data() + 8, record.data(), 32);
    return t_.assets.put(txn_, key_of(asset), key_of(v));
  }

  caf::error put_record(const hash256& id,
                        const record_location& loc) override {
    return t_.records.put(txn_, key_of(id), key_of(encode_location(loc)));
  }

  /// Also keeps `owners` (owner → items) in step with the item's owner.
  caf::error put_item(const hash256& item, const item_state& after,
                      const std::optional<item_state>& before) override {
    if (auto err = t_.items.put(txn_, key_of(item), key_of(encode_item(after))))
      return err;
    if (before && before->owner == after.owner)
      return {};
    if (before)
      t_.owners.del(txn_, key_of(before->owner), key_of(item));
    return t_.owners.put(txn_, key_of(after.owner), key_of(item));
  }

private:
  const chain_view& view_;
  const chain_tables& t_;
  lmdb::write_txn& txn_;
  uint64_t height_;
};

} // namespace

caf::error chain_writer::apply_records(lmdb::write_txn& txn, const block& b,
                                       uint64_t parent_height) {
  table_writer state{*this, *t_, txn, parent_height};
  for (uint32_t index = 0; index < b.records.size(); ++index)
    if (auto err = apply_record(b.records[index], index, state,
                                store_->params()))
      return err;
  return {};
}

caf::error chain_writer::undo_records(lmdb::write_txn& txn, const block& b) {
  auto& t = *t_;
  for (auto index = b.records.size(); index-- > 0;) {
    auto& r = b.records[index];
    if (auto a = std::get_if<asset>(&r)) {
      t.assets.del(txn, key_of(asset_id(*a)));
      t.records.del(txn, key_of(record_id(*a)));
      continue;
    }
    if (auto batch = std::get_if<issue_batch>(&r)) {
      for (auto& i : batch->issues) {
        auto iid = record_id(i);
        t.owners.del(txn, key_of(i.owner), key_of(iid));
        t.items.del(txn, key_of(iid));
        t.records.del(txn, key_of(iid));
      }
      continue;
    }
    auto& x = std::get<transfer>(r);
    auto tid = record_id(x);
    auto loc = find_record(tid);
    if (!loc)
      return make_error(ec::storage, "unwind: transfer record missing");
    auto state = find_item(loc->item);
    if (!state)
      return make_error(ec::storage, "unwind: item missing");
    item_state before{x.link, x.owner, state->asset};
    t.owners.del(txn, key_of(x.new_owner), key_of(loc->item));
    for (auto err :
         {t.items.put(txn, key_of(loc->item), key_of(encode_item(before))),
          t.owners.put(txn, key_of(x.owner), key_of(loc->item))})
      if (err)
        return err;
    t.records.del(txn, key_of(tid));
  }
  return {};
}

caf::expected<block> chain_writer::unwind_tip() {
  auto top = tip();
  if (top.height == 0)
    return make_error(ec::reorg_too_deep, "cannot unwind the genesis block");
  auto body = body_at(top.height);
  if (!body)
    return make_error(ec::storage, "unwind: block body missing");
  auto b = decode_block(*body);
  if (!b)
    return b.error();
  auto& txn = h_->txn;
  if (auto err = undo_records(txn, *b))
    return err;
  auto& t = *t_;
  auto key = lmdb::u64_key{top.height};
  t.headers.del(txn, key.view());
  t.bodies.del(txn, key.view());
  t.hashes.del(txn, key_of(top.hash));
  std::array<uint8_t, 40> tipv;
  put_u64(tipv.data(), top.height - 1);
  std::memcpy(tipv.data() + 8, b->hdr.previous.data(), 32);
  if (auto err = t.meta.put(txn, key_of(std::string_view{"tip"}), key_of(tipv)))
    return err;
  --pending_;
  return b;
}

} // namespace hallmark
