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
  default:
    return "unknown";
  }
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
