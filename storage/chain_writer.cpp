// chain_writer: applying and unwinding blocks in one write transaction, and
// starting over on a grown map when the map fills up.
#include "storage/chain_store.hpp"

namespace hallmark {

namespace {

/// The chain's tables in the writer's transaction, as the state rules
/// write them; reads go through a view of the same transaction. Collects
/// the block's changes to the state trie's key/values as it goes.
class table_writer final : public state_writer {
public:
  table_writer(const chain_tables& t, lmdb::write_txn& txn,
               uint64_t parent_height)
      : view_(t, txn), t_(t), txn_(txn), height_(parent_height) {}

  uint64_t height() const override { return height_; }
  std::optional<uint64_t> height_of(const hash256& block) const override {
    return view_.height_of(block);
  }
  // The block's own changes first: `state` is written after its records.
  std::optional<asset_entry> find_asset(const hash256& asset) const override {
    if (auto it = delta_.find(trie::asset_key(asset)); it != delta_.end()) {
      if (!it->second)
        return std::nullopt;
      auto v = trie::decode_asset_value(*it->second);
      if (!v) // written by put_asset: cannot happen
        return std::nullopt;
      return asset_entry{v->height, v->record};
    }
    return view_.find_asset(asset);
  }
  std::optional<record_location> find_record(const hash256& id) const override {
    return view_.find_record(id);
  }
  std::optional<item_state> find_item(const hash256& item) const override {
    if (auto it = delta_.find(trie::item_key(item)); it != delta_.end()) {
      if (!it->second)
        return std::nullopt;
      auto v = trie::decode_item_value(*it->second);
      if (!v) // written by put_item: cannot happen
        return std::nullopt;
      return item_state{v->latest, v->owner, v->asset};
    }
    return view_.find_item(item);
  }
  caf::error failure() const override { return view_.failure(); }

  caf::error put_asset(const hash256& asset, uint64_t height,
                       const hash256& record,
                       const public_key& registrant) override {
    delta_[trie::asset_key(asset)] = trie::encode(
      trie::asset_value{record, registrant, height});
    return {};
  }

  caf::error put_record(const hash256& id,
                        const record_location& loc) override {
    last_record_ = id;
    last_kind_ = loc.kind;
    return t_.records.put(txn_, id, loc);
  }

  /// Also keeps `owners` (owner → items) in step with the item's owner.
  caf::error put_item(const hash256& item, const item_state& after,
                      const std::optional<item_state>& before) override {
    // The rules put an item's latest record just before the item.
    auto kind = last_kind_;
    if (after.latest != last_record_) {
      auto loc = view_.find_record(after.latest);
      if (!loc)
        return failure() ? failure()
                         : make_error(ec::storage, "an item's latest record "
                                                   "is not stored");
      kind = loc->kind;
    }
    delta_[trie::item_key(item)] = trie::encode(trie::item_value{
      after.latest, after.owner, after.asset, height_ + 1, kind});
    if (before && before->owner == after.owner)
      return {};
    if (before)
      if (auto gone = t_.owners.del(txn_, before->owner, item); !gone)
        return gone.error();
    return t_.owners.put(txn_, after.owner, item);
  }

  /// The state's key/values the records changed.
  const trie::state_delta& delta() const { return delta_; }

private:
  chain_view view_;
  const chain_tables& t_;
  lmdb::write_txn& txn_;
  uint64_t height_;
  trie::state_delta delta_;
  hash256 last_record_{};
  record_kind last_kind_ = record_kind::issue;
};

} // namespace

chain_writer::chain_writer(chain_store& store)
    : chain_writer(store, std::make_unique<holder>()) {}

chain_writer::chain_writer(chain_store& store, std::unique_ptr<holder> h)
    : chain_view(store.tables(), h->txn), store_(&store), h_(std::move(h)) {
  if (auto err = begin())
    fail(std::move(err));
}

caf::error chain_writer::begin() {
  auto txn = store_->env().begin_write();
  if (!txn)
    return txn.error();
  h_->txn = std::move(*txn);
  return {};
}

template <class F>
auto chain_writer::with_room(F&& op) -> decltype(op()) {
  while (true) {
    auto result = op();
    if (!h_->txn.map_full())
      return result;
    if (auto err = start_over()) {
      fail(err);
      return err;
    }
  }
}

caf::error chain_writer::start_over() {
  return redo(true);
}

caf::error chain_writer::roll_back() {
  if (auto err = redo(false)) {
    fail(err);
    return err;
  }
  return {};
}

caf::error chain_writer::redo(bool grow) {
  while (true) {
    h_->txn.abort();
    if (grow)
      if (auto err = store_->env().grow())
        return err;
    grow = true; // a redo that finds the map full needs a larger one
    if (auto err = begin())
      return err;
    // The failures of the dropped transaction went with it.
    failure_ = {};
    pending_ = 0;
    caf::error err;
    for (auto& s : steps_) {
      if (s.body.empty()) {
        bool wrote = false;
        auto b = unwind_once(wrote);
        err = b ? caf::error{} : b.error();
      } else if (auto b = decode_block(s.body)) {
        bool wrote = false;
        err = apply_once(*b, s.body, s.now, wrote);
      } else {
        err = b.error();
      }
      if (err)
        break;
    }
    if (!err)
      return {};
    if (!h_->txn.map_full())
      return make_error(ec::storage,
                        "redoing the blocks of the open transaction failed: "
                          + message_of(err));
  }
}

caf::error chain_writer::commit() {
  if (failure_)
    return failure_;
  auto err = with_room([&] { return h_->txn.commit(); });
  if (err) {
    fail(err);
    return err;
  }
  steps_.clear();
  return {};
}

caf::error chain_writer::apply(const block& b, const encoded& body,
                               uint64_t now) {
  bool wrote = false;
  auto err = with_room([&] { return apply_once(b, body, now, wrote); });
  if (!err) {
    steps_.push_back(step{body, now});
    return {};
  }
  // A rule broke after some of the block was written: take it back.
  if (wrote && !failure_)
    if (auto e = roll_back())
      return e;
  return err;
}

caf::error chain_writer::apply_once(const block& b, const encoded& body,
                                    uint64_t now, bool& wrote) {
  if (failure_)
    return failure_;
  auto& params = store_->params();
  auto top = tip();
  if (failure_)
    return failure_;
  if (b.hdr.previous != top.hash) {
    if (height_of(b.hdr.previous))
      return make_error(ec::unknown_parent, "block's parent is not the tip");
    return failure_
             ? failure_
             : make_error(ec::unknown_parent, "block's parent is unknown");
  }
  auto err = check_header_context(params, b.hdr, top.hdr, ancestors(), now);
  if (failure_)
    return failure_;
  if (err)
    return err;
  // The records are written as the rules pass them (a later record of the
  // block reads what an earlier one wrote); if a rule breaks, apply() rolls
  // the transaction back to before the block.
  auto& txn = h_->txn;
  wrote = true;
  auto& t = *t_;
  auto height = b.hdr.height;
  state_undo undo;
  auto root = apply_state(txn, b, top.height, &undo);
  if (!root)
    return root.error();
  if (*root != b.hdr.state_root)
    return make_error(ec::bad_state_root,
                      "block " + std::to_string(height) + " says state root "
                        + to_hex(b.hdr.state_root)
                        + ", but the state after it has root " + to_hex(*root));
  if (auto e = t.state_log.put(txn, height, undo))
    return e;
  if (auto keep = store_->state_history(); height > keep)
    if (auto gone = t.state_log.del(txn, height - keep); !gone)
      return gone.error();
  auto hash = block_hash(b.hdr);
  for (auto e :
       {t.headers.append(
          txn, height, header_entry{b.hdr, hash, top.work + b.hdr.difficulty}),
        t.bodies.append(txn, height, body), t.hashes.put(txn, hash, height),
        t.meta.put(txn, chain_meta::tip, tip_entry{height, hash})})
    if (e)
      return e;
  ++pending_;
  return {};
}

caf::expected<block> chain_writer::unwind_tip() {
  bool wrote = false;
  auto b = with_room([&] { return unwind_once(wrote); });
  if (b)
    steps_.push_back(step{});
  else if (wrote && !failure_)
    if (auto e = roll_back())
      return e;
  return b;
}

caf::expected<block> chain_writer::unwind_once(bool& wrote) {
  if (failure_)
    return failure_;
  auto top = tip();
  if (failure_)
    return failure_;
  if (top.height == 0)
    return make_error(ec::reorg_too_deep, "cannot unwind the genesis block");
  if (auto base = state_base(); base && top.height <= base->height)
    return make_error(ec::reorg_too_deep,
                      "cannot unwind below height "
                        + std::to_string(base->height)
                        + ", where the state sync began this chain (to "
                          "follow a chain that forks below it, stop the "
                          "node, remove DATADIR/chain and state-sync again)");
  if (failure_)
    return failure_;
  auto body = body_at(top.height);
  if (!body)
    return failure_ ? failure_
                    : make_error(ec::storage, "unwind: block body missing");
  auto b = decode_block(*body);
  if (!b)
    return b.error();
  wrote = true;
  if (auto err = undo_records(*b))
    return err;
  auto& t = *t_;
  auto& txn = h_->txn;
  auto undo = state_undo_at(top.height);
  if (!undo)
    return failure_ ? failure_
                    : make_error(ec::storage,
                                 "unwind: the state changes of block "
                                   + std::to_string(top.height)
                                   + " are no longer kept (the state history "
                                     "is the last "
                                   + std::to_string(store_->state_history())
                                   + " blocks)");
  trie::state_delta before(undo->before.begin(), undo->before.end());
  auto root = write_state(*t_, txn, before, nullptr);
  if (!root)
    return root.error();
  auto parent = header_at(top.height - 1);
  if (!parent)
    return failure_ ? failure_
                    : make_error(ec::storage, "unwind: parent header missing");
  if (*root != parent->state_root)
    return make_error(ec::storage, "unwind: the state root after unwinding "
                                   "block "
                                     + std::to_string(top.height)
                                     + " is not its parent's");
  if (auto gone = t.state_log.del(txn, top.height); !gone)
    return gone.error();
  for (auto e : {error_of(t.headers.del(txn, top.height)),
                 error_of(t.bodies.del(txn, top.height)),
                 error_of(t.hashes.del(txn, top.hash)),
                 t.meta.put(txn, chain_meta::tip,
                            tip_entry{top.height - 1, b->hdr.previous})})
    if (e)
      return e;
  --pending_;
  return b;
}

caf::expected<hash256> chain_writer::apply_state(lmdb::write_txn& txn,
                                                 const block& b,
                                                 uint64_t parent_height,
                                                 state_undo* undo) {
  table_writer state{*t_, txn, parent_height};
  auto& params = store_->params();
  for (uint32_t index = 0; index < b.records.size(); ++index)
    if (auto err = apply_record(b.records[index], index, state, params)) {
      if (auto f = state.failure())
        failure_ = f; // the writer fails too; the table view logged it
      return err;
    }
  return write_state(*t_, txn, state.delta(), undo);
}

caf::expected<hash256> chain_writer::state_root_after(const block& b) {
  bool wrote = false;
  auto root = with_room([&]() -> caf::expected<hash256> {
    if (failure_)
      return failure_;
    auto top = tip();
    if (failure_)
      return failure_;
    if (b.hdr.previous != top.hash)
      return make_error(ec::unknown_parent, "block's parent is not the tip");
    wrote = true;
    return apply_state(h_->txn, b, top.height, nullptr);
  });
  // Tried in the transaction and taken back: nothing stays.
  if (wrote && !failure_)
    if (auto e = roll_back())
      return e;
  return root;
}

caf::expected<hash256> write_state(const chain_tables& t, lmdb::write_txn& txn,
                                   const trie::state_delta& delta,
                                   state_undo* undo) {
  chain_view in_txn{t, txn};
  trie::trie_update nodes{in_txn.trie_nodes()};
  for (auto& [key, value] : delta) {
    if (undo) {
      auto old = t.state.get(txn, key);
      if (!old)
        return old.error();
      std::optional<std::vector<uint8_t>> was;
      if (*old)
        was.emplace((*old)->begin(), (*old)->end());
      undo->before.emplace_back(key, std::move(was));
    }
    if (value) {
      if (auto err = t.state.put(txn, key, *value))
        return err;
    } else if (auto gone = t.state.del(txn, key); !gone) {
      return gone.error();
    }
  }
  if (auto err = nodes.apply(delta))
    return err;
  auto root = nodes.root();
  if (!root)
    return root.error();
  caf::error err;
  nodes.for_each_change([&](const trie::path& at, const trie::branch* b) {
    if (err)
      return;
    auto key = trie::path_key(at);
    if (b) {
      auto bytes = trie::node_bytes(at, *b);
      err = t.trie.put(txn, lmdb::view_of(key), lmdb::view_of(bytes));
    } else if (auto gone = t.trie.del(txn, lmdb::view_of(key)); !gone) {
      err = gone.error();
    }
  });
  if (err)
    return err;
  return *root;
}

caf::error chain_writer::undo_records(const block& b) {
  auto& t = *t_;
  auto& txn = h_->txn;
  for (auto index = b.records.size(); index-- > 0;) {
    auto& r = b.records[index];
    if (auto a = std::get_if<asset>(&r)) {
      if (auto e = error_of(t.records.del(txn, record_id(*a))))
        return e;
      continue;
    }
    if (auto batch = std::get_if<issue_batch>(&r)) {
      for (auto& i : batch->issues) {
        auto iid = record_id(i);
        for (auto e : {error_of(t.owners.del(txn, i.owner, iid)),
                       error_of(t.records.del(txn, iid))})
          if (e)
            return e;
      }
      continue;
    }
    auto& x = std::get<transfer>(r);
    auto tid = record_id(x);
    auto loc = find_record(tid);
    if (!loc)
      return failure_
               ? failure_
               : make_error(ec::storage, "unwind: transfer record missing");
    for (auto e : {error_of(t.owners.del(txn, x.new_owner, loc->item)),
                   t.owners.put(txn, x.owner, loc->item),
                   error_of(t.records.del(txn, tid))})
      if (e)
        return e;
  }
  return {};
}

} // namespace hallmark
