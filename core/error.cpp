#include "core/error.hpp"

#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace hallmark {

const char* to_string(ec x) {
  switch (x) {
  case ec::none:
    return "none";
  case ec::malformed:
    return "malformed";
  case ec::too_large:
    return "too_large";
  case ec::bad_signature:
    return "bad_signature";
  case ec::bad_record:
    return "bad_record";
  case ec::duplicate:
    return "duplicate";
  case ec::double_spend:
    return "double_spend";
  case ec::unknown_link:
    return "unknown_link";
  case ec::not_owner:
    return "not_owner";
  case ec::unknown_asset:
    return "unknown_asset";
  case ec::bad_proof:
    return "bad_proof";
  case ec::bad_anchor:
    return "bad_anchor";
  case ec::bad_block:
    return "bad_block";
  case ec::bad_timestamp:
    return "bad_timestamp";
  case ec::bad_difficulty:
    return "bad_difficulty";
  case ec::bad_work:
    return "bad_work";
  case ec::unknown_parent:
    return "unknown_parent";
  case ec::wrong_chain:
    return "wrong_chain";
  case ec::storage:
    return "storage";
  case ec::not_found:
    return "not_found";
  case ec::reorg_too_deep:
    return "reorg_too_deep";
  case ec::bad_request:
    return "bad_request";
  case ec::not_running:
    return "not_running";
  case ec::pool_full:
    return "pool_full";
  case ec::io:
    return "io";
  case ec::bad_config:
    return "bad_config";
  case ec::shutting_down:
    return "shutting_down";
  case ec::self_link:
    return "self_link";
  case ec::wrong_key:
    return "wrong_key";
  case ec::wrong_version:
    return "wrong_version";
  case ec::internal:
    return "internal";
  case ec::future_timestamp:
    return "future_timestamp";
  case ec::expired:
    return "expired";
  case ec::bad_state_root:
    return "bad_state_root";
  case ec::bad_state_proof:
    return "bad_state_proof";
  case ec::state_syncing:
    return "state_syncing";
  default:
    return "unknown";
  }
}

fault fault_of(ec x) {
  switch (x) {
  case ec::none:
    return fault::none;
  case ec::malformed:
  case ec::too_large:
  case ec::bad_signature:
  case ec::bad_record:
  case ec::double_spend:
  case ec::unknown_link:
  case ec::not_owner:
  case ec::unknown_asset:
  case ec::bad_proof:
  case ec::bad_anchor:
  case ec::bad_block:
  case ec::bad_difficulty:
  case ec::bad_work:
  case ec::bad_request:
  case ec::self_link:
  case ec::wrong_key:
  case ec::bad_timestamp:
  case ec::bad_state_root:
  case ec::bad_state_proof:
    return fault::peer;
  case ec::unknown_parent:
  case ec::future_timestamp: // valid once our clock gets there
    return fault::not_yet;
  case ec::storage:
  case ec::not_running:
  case ec::io:
  case ec::bad_config:
  case ec::shutting_down:
  case ec::internal:
    return fault::local;
  case ec::duplicate:
  case ec::not_found:
  case ec::reorg_too_deep:
  case ec::pool_full:
  case ec::wrong_version:
  case ec::wrong_chain:
  case ec::expired:
  case ec::state_syncing:
    return fault::policy;
  }
  return fault::local;
}

fault fault_of_pending(ec x) {
  switch (x) {
  case ec::duplicate:
  case ec::double_spend:
  case ec::unknown_link:
  case ec::not_owner:
  case ec::unknown_asset:
  case ec::bad_anchor:
    return fault::not_yet;
  default:
    return fault_of(x);
  }
}

const char* to_string(fault x) {
  switch (x) {
  case fault::none:
    return "none";
  case fault::peer:
    return "peer";
  case fault::not_yet:
    return "not_yet";
  case fault::local:
    return "local";
  case fault::policy:
    return "policy";
  }
  return "unknown";
}

caf::error annotate(const caf::error& err, const std::string& prefix) {
  if (!err)
    return {};
  if (err.category() != ec_category())
    return make_error(ec::internal, prefix + caf::to_string(err));
  return make_error(static_cast<ec>(err.code()), prefix + message_of(err));
}

fault fault_of(const caf::error& err) {
  if (!err)
    return fault::none;
  if (err.category() != ec_category())
    return fault::local;
  return fault_of(static_cast<ec>(err.code()));
}

caf::atom_value ec_category() {
  return caf::atom("hallmark");
}

caf::error make_error(ec x, std::string context) {
  return caf::error{static_cast<uint8_t>(x), ec_category(),
                    caf::make_message(std::move(context))};
}

caf::error make_error(ec x) {
  return caf::error{static_cast<uint8_t>(x), ec_category()};
}

ec code_of(const caf::error& err) {
  if (!err || err.category() != ec_category())
    return ec::none;
  return static_cast<ec>(err.code());
}

std::string message_of(const caf::error& err) {
  if (!err)
    return {};
  if (err.category() == ec_category()) {
    auto& ctx = err.context();
    if (ctx.match_elements<std::string>())
      return ctx.get_as<std::string>(0);
    return to_string(static_cast<ec>(err.code()));
  }
  return caf::to_string(err);
}

} // namespace hallmark
