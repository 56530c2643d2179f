#include "core/state_rules.hpp"

#include <string>

#include "core/error.hpp"

namespace hallmark {

const char* to_string(record_kind k) {
  switch (k) {
  case record_kind::asset:
    return "asset";
  case record_kind::issue:
    return "issue";
  case record_kind::transfer:
    return "transfer";
  }
  return "unknown";
}

namespace {

caf::error apply_asset(const asset& a, uint32_t index, state_writer& s) {
  auto aid = asset_id(a);
  if (s.find_asset(aid))
    return make_error(ec::duplicate,
                      "asset " + to_hex(aid) + " is already registered");
  auto height = s.height() + 1;
  auto rid = record_id(a);
  record_location loc;
  loc.height = height;
  loc.index = index;
  loc.kind = record_kind::asset;
  loc.owner = a.registrant;
  if (auto err = s.put_asset(aid, height, rid, a.registrant))
    return err;
  return s.put_record(rid, loc);
}

caf::error apply_batch(const issue_batch& batch, uint32_t index,
                       state_writer& s, const chain_params& params) {
  auto height = s.height() + 1;
  auto anchor = s.height_of(batch.anchor);
  if (!anchor || *anchor >= height || height - *anchor > params.anchor_window)
    return make_error(ec::bad_anchor, "issue anchor is not one of the last "
                                        + std::to_string(params.anchor_window)
                                        + " blocks");
  auto need = batch_difficulty(params.issue_difficulty, batch.issues.size());
  if (!meets_difficulty(
        work_hash(payment_id(batch), batch.anchor, batch.work_nonce), need))
    return make_error(ec::bad_proof, "free-issue work is too little");
  for (uint16_t sub = 0; sub < batch.issues.size(); ++sub) {
    auto& i = batch.issues[sub];
    auto found = s.find_asset(i.asset_id);
    if (!found)
      return make_error(ec::unknown_asset,
                        "issue of unregistered asset " + to_hex(i.asset_id));
    auto registration = s.find_record(found->second);
    if (!registration)
      return make_error(ec::storage, "asset record missing");
    if (registration->owner != i.owner)
      return make_error(ec::not_owner,
                        "only the asset's registrant may issue it");
    auto iid = record_id(i);
    // After a state sync only an item's latest record is known: its issue
    // may be gone from `records`, never the item.
    if (s.find_record(iid) || s.find_item(iid))
      return make_error(ec::duplicate,
                        "issue " + to_hex(iid) + " already exists");
    record_location loc;
    loc.height = height;
    loc.index = index;
    loc.sub = sub;
    loc.kind = record_kind::issue;
    loc.item = iid;
    loc.owner = i.owner;
    if (auto err = s.put_record(iid, loc))
      return err;
    if (auto err = s.put_item(iid, item_state{iid, i.owner, i.asset_id}, {}))
      return err;
  }
  return {};
}

caf::error apply_transfer(const transfer& x, uint32_t index, state_writer& s) {
  auto tid = record_id(x);
  if (s.find_record(tid))
    return make_error(ec::duplicate,
                      "transfer " + to_hex(tid) + " already exists");
  auto link = s.find_record(x.link);
  if (!link || link->kind == record_kind::asset)
    return make_error(ec::unknown_link,
                      "transfer links to unknown record " + to_hex(x.link));
  auto state = s.find_item(link->item);
  if (!state)
    return make_error(ec::unknown_link, "transfer's item is unknown");
  if (state->latest != x.link)
    return make_error(ec::double_spend, "record " + to_hex(x.link)
                                          + " has already been transferred");
  if (state->owner != x.owner)
    return make_error(ec::not_owner,
                      "transfer is not signed by the item's owner");
  record_location loc;
  loc.height = s.height() + 1;
  loc.index = index;
  loc.kind = record_kind::transfer;
  loc.item = link->item;
  loc.owner = x.new_owner;
  loc.link = x.link;
  if (auto err = s.put_record(tid, loc))
    return err;
  return s.put_item(link->item, item_state{tid, x.new_owner, state->asset},
                    state);
}

} // namespace

caf::error apply_record(const record& r, uint32_t index, state_writer& s,
                        const chain_params& params) {
  caf::error err;
  if (auto a = std::get_if<asset>(&r))
    err = apply_asset(*a, index, s);
  else if (auto b = std::get_if<issue_batch>(&r))
    err = apply_batch(*b, index, s, params);
  else
    err = apply_transfer(std::get<transfer>(r), index, s);
  // A failed lookup answered "absent": its failure is the answer, not the
  // verdict (or the success) drawn from that absence.
  if (auto f = s.failure())
    return f;
  return err;
}

} // namespace hallmark
