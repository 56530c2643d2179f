// core/error: the `ec` enum as CAF's error code enum, fault classes, and the
// type ids and inspection of actor message types (actors/actors.hpp).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/deep_to_string.hpp>
#include <caf/sec.hpp>

#include "actors/actors.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "tests/unit/helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;

namespace {

/// Every value of `ec` there is, in order.
std::vector<ec> every_code() {
  std::vector<ec> out;
  for (int i = 1; i <= static_cast<int>(last_code); ++i)
    out.push_back(static_cast<ec>(i));
  return out;
}

/// `x` through CAF's binary serializer and back.
template <class T>
T round_trip(T x) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  REQUIRE_FALSE(sink(x));
  T back;
  caf::binary_deserializer source{sys, buf};
  REQUIRE_FALSE(source(back));
  return back;
}

} // namespace

TEST_SUITE_BEGIN("errors");

TEST_CASE("ec: every code has a name and a fault class") {
  for (auto x : every_code()) {
    CAPTURE(static_cast<int>(x));
    CHECK(std::string{to_string(x)} != "unknown");
    CHECK(fault_of(x) != fault::none);
    CHECK(std::string{to_string(fault_of(x))} != "unknown");
  }
  CHECK(fault_of(ec::none) == fault::none);
  // A few pinned classes (docs/protocol.md has the table).
  CHECK(fault_of(ec::bad_signature) == fault::peer);
  CHECK(fault_of(ec::malformed) == fault::peer);
  CHECK(fault_of(ec::unknown_parent) == fault::not_yet);
  // A block from the future is not yet valid; one too early breaks a rule.
  CHECK(fault_of(ec::future_timestamp) == fault::not_yet);
  CHECK(fault_of(ec::bad_timestamp) == fault::peer);
  CHECK(fault_of(ec::expired) == fault::policy);
  CHECK(fault_of(ec::storage) == fault::local);
  CHECK(fault_of(ec::internal) == fault::local);
  CHECK(fault_of(ec::reorg_too_deep) == fault::policy);
  CHECK(fault_of(ec::pool_full) == fault::policy);
  CHECK(fault_of(ec::wrong_chain) == fault::policy);
  // In a block a double spend is the producer's fault; relayed as pending
  // it may be a race between two honest relays.
  CHECK(fault_of(ec::double_spend) == fault::peer);
  CHECK(fault_of_pending(ec::double_spend) == fault::not_yet);
  CHECK(fault_of_pending(ec::unknown_link) == fault::not_yet);
  CHECK(fault_of_pending(ec::bad_signature) == fault::peer);
  CHECK(fault_of_pending(ec::storage) == fault::local);
}

TEST_CASE("ec: a caf::error keeps its code and context") {
  caf::error direct{ec::double_spend};
  CHECK(direct == ec::double_spend);
  CHECK(code_of(direct) == ec::double_spend);
  auto err = make_error(ec::not_owner, "not yours");
  CHECK(err == ec::not_owner);
  CHECK(message_of(err) == "not yours");
  CHECK(fault_of(err) == fault::peer);
  auto more = annotate(err, "block at height 7: ");
  CHECK(code_of(more) == ec::not_owner);
  CHECK(message_of(more) == "block at height 7: not yours");
  CHECK_FALSE(annotate(caf::error{}, "x"));
  // An error of another category (CAF's own) is this node's failure.
  caf::error timeout = caf::sec::request_timeout;
  CHECK(fault_of(timeout) == fault::local);
  auto wrapped = annotate(timeout, "fetch: ");
  CHECK(code_of(wrapped) == ec::internal);
  CHECK(message_of(wrapped).rfind("fetch: ", 0) == 0);
  CHECK(fault_of(caf::error{}) == fault::none);
}

TEST_CASE("message types: distinct type ids, inspection both ways") {
  CHECK(caf::type_id<chain_tip>::value != caf::type_id<apply_report>::value);
  CHECK(caf::type_id<fetch_report>::value > caf::type_id<chain_tip>::value);
  CHECK(caf::type_id<reservoir_actor>::value
        >= caf::id_block::hallmark_types::end);
  chain_tip t;
  t.height = 9;
  t.hash = label_hash("tip");
  t.hdr.height = 9;
  t.hdr.nonce = 77;
  t.work = (work_t{3} << 64) | 5; // above 64 bits
  t.next_difficulty = 4;
  auto back = round_trip(t);
  CHECK(back.height == 9);
  CHECK(back.hash == t.hash);
  CHECK(back.hdr.nonce == 77);
  CHECK((back.work == t.work));
  CHECK(back.next_difficulty == 4);
  fetch_report r;
  r.height = 3;
  r.failure = make_error(ec::bad_block, "bad root");
  auto rb = round_trip(r);
  CHECK(rb.height == 3);
  CHECK(code_of(rb.failure) == ec::bad_block);
  CHECK(message_of(rb.failure) == "bad root");
  auto e = round_trip(encode(std::vector<record>{}));
  CHECK(e == encode(std::vector<record>{}));
  CHECK(caf::deep_to_string(r).find("fetch_report") != std::string::npos);
}

TEST_CASE("log: levels parse and filter") {
  CHECK(parse_log_level("debug") == log_level::debug);
  CHECK(parse_log_level("info") == log_level::info);
  CHECK(parse_log_level("warning") == log_level::warning);
  CHECK(parse_log_level("warn") == log_level::warning);
  CHECK(parse_log_level("error") == log_level::error);
  CHECK_FALSE(parse_log_level("loud"));
  CHECK_FALSE(parse_log_level(""));
  set_log_level(log_level::error);
  CHECK_FALSE(log_enabled(log_level::info));
  CHECK_FALSE(log_enabled(log_level::warning));
  CHECK(log_enabled(log_level::error));
  set_log_level(log_level::debug);
  CHECK(log_enabled(log_level::debug));
  set_log_level(log_level::info);
  CHECK_FALSE(log_enabled(log_level::debug));
  CHECK(log_enabled(log_level::info));
}

TEST_SUITE_END();

TEST_CASE("log: escape_controls keeps text and escapes what drives a "
          "terminal") {
  using hallmark::escape_controls;
  CHECK(escape_controls("plain text, caf\xc3\xa9 \xe2\x82\xac") // é €
        == "plain text, caf\xc3\xa9 \xe2\x82\xac");
  CHECK(escape_controls("a\x1b[2Jb") == "a\\x1b[2Jb");
  CHECK(escape_controls("line\nforged") == "line\\x0aforged");
  CHECK(escape_controls("t\x07\x7f") == "t\\x07\\x7f");
  CHECK(escape_controls("c1 \xc2\x9b"
                        "31m")
        == "c1 \\u009b31m");
  // Bytes that are not UTF-8: a lone C1 byte, a stray continuation, an
  // overlong form, a cut sequence.
  CHECK(escape_controls("\x9b\x80\xc0\xaf\xe2\x82")
        == "\\x9b\\x80\\xc0\\xaf\\xe2\\x82");
  // A backslash is doubled only when asked, so `\x1b` typed as text and a
  // real ESC read apart.
  CHECK(escape_controls("a\\x1b") == "a\\x1b");
  CHECK(escape_controls("a\\x1b", true) == "a\\\\x1b");
  CHECK(escape_controls("") == "");
}
