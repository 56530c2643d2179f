// Storage as the actors meet it, on a real actor system (block_processor
// detached, as the node runs it): a follower whose map is small syncs a
// chain larger than the map, and an unreadable chain comes back to the
// requester as ec::storage, not as a verdict drawn from "absent".
#include <doctest/doctest.h>

#include <array>
#include <cstring>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/block_processor.hpp"
#include "actors/reservoir.hpp"
#include "actors/verifier.hpp"
#include "storage/local_store.hpp"
#include "tests/unit/storage_helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;
using namespace hallmark::test::storage;

namespace {

/// The verifier, spawned with an index (see actors_test.cpp for why).
verifier_actor::behavior_type
numbered_verifier(verifier_actor::stateful_pointer<verifier_state> self, int) {
  return verifier(self);
}

/// An actor system with two verifiers and a detached block_processor on
/// `store`; stops them all when it goes.
class processor_on {
public:
  explicit processor_on(chain_store& store) : sys(quiet(cfg_)), self(sys) {
    for (int i = 0; i < 2; ++i)
      verifiers_.push_back(sys.spawn(numbered_verifier, i));
    processor = sys.spawn<caf::detached>(block_processor, &store,
                                         block_processor_config{}, verifiers_);
  }

  ~processor_on() {
    for (auto& v : verifiers_)
      caf::anon_send_exit(v, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(processor, caf::exit_reason::user_shutdown);
  }

  /// Sends `blocks` as one batch; the report, or the error.
  caf::expected<apply_report> send(const std::vector<block>& blocks,
                                   bool more) {
    std::vector<encoded> raw;
    for (auto& b : blocks)
      raw.push_back(encode(b));
    return ask<apply_report>(processor, atom::blocks_v, std::move(raw), more);
  }

  /// Sends a request and waits for its reply.
  template <class T, class Handle, class... Ts>
  caf::expected<T> ask(const Handle& dest, Ts&&... xs) {
    std::optional<caf::expected<T>> out;
    self->request(dest, caf::infinite, std::forward<Ts>(xs)...)
      .receive([&](T& x) { out.emplace(std::move(x)); },
               [&](caf::error& e) { out.emplace(std::move(e)); });
    return std::move(*out);
  }

private:
  static caf::actor_system_config& quiet(caf::actor_system_config& cfg) {
    cfg.set("logger.console-verbosity", caf::atom("quiet"));
    return cfg;
  }

  caf::actor_system_config cfg_;
  std::vector<verifier_actor> verifiers_;

public:
  caf::actor_system sys;
  caf::scoped_actor self;
  block_processor_actor processor;
};

/// Overwrites the bytes under `key` in `table`, committed.
template <class Key>
void corrupt(const chain_store& store, const lmdb::raw_table& table,
             const Key& key) {
  REQUIRE_FALSE(store.env().write(
    [&](lmdb::write_txn& txn) { return table.put(txn, key, bytes_of("x")); }));
}

} // namespace

TEST_SUITE_BEGIN("storage");

TEST_CASE("a follower with a tiny map syncs a chain larger than its map") {
  auto blocks = bulky_chain(60);
  temp_dir dir;
  auto store = open_store(dir, 1 * mib, lmdb::default_map_ceiling);
  {
    processor_on p{*store};
    // Batches of ten, "more to come" until the last, as while syncing: the
    // blocks gather in one write transaction until the final flush.
    for (size_t from = 0; from < blocks.size(); from += 10) {
      std::vector<block> batch{blocks.begin() + from,
                               blocks.begin() + from + 10};
      auto r = p.send(batch, from + 10 < blocks.size());
      REQUIRE_MESSAGE(r, (r ? "" : message_of(r.error())));
      CHECK(r->applied == 10);
      CHECK(r->held == 0);
    }
  }
  chain_reader r{*store};
  CHECK(r.tip().height == 60);
  CHECK(r.tip().hash == block_hash(blocks.back().hdr));
  CHECK(store->env().map_size() >= 2 * mib); // it grew
}

TEST_CASE("block_processor answers ec::storage when the tip is unreadable") {
  test_store s;
  s.push();
  auto next = s.next();
  // The tip's header entry is one byte long.
  uint64_t height = 1;
  std::array<uint8_t, 8> key;
  std::memcpy(key.data(), &height, 8);
  corrupt(s.store(), s.store().tables().headers.raw(), key);
  processor_on p{s.store()};
  auto r = p.send({next}, false);
  REQUIRE_FALSE(r);
  CHECK(code(r) == ec::storage);
  CHECK_MESSAGE(message_of(r.error()).find("table headers: value of 1 bytes")
                  != std::string::npos,
                message_of(r.error()));
  auto tip = p.ask<chain_tip>(p.processor, atom::tip_v);
  CHECK(code(tip) == ec::storage);
}

TEST_CASE("the reservoir answers ec::storage when an asset is unreadable") {
  test_store s;
  auto alice = seeded_key(0x11);
  auto art = make_asset("Haystacks", vec_of("fp:haystacks"), {}, alice);
  s.push({art});
  auto batch = make_batch({make_issue(asset_id(art), 1, alice)}, s.tip().hash,
                          s.params().issue_difficulty);
  corrupt(s.store(), s.store().tables().state, trie::asset_key(asset_id(art)));
  temp_dir dir;
  auto local = local_store::open(dir.sub("local"));
  REQUIRE(local);
  processor_on p{s.store()};
  auto pool = p.sys.spawn(reservoir, &s.store(), local->get(),
                          reservoir_config{});
  auto r = p.ask<std::vector<hash256>>(pool, atom::submit_v,
                                       encode(std::vector<record>{batch}),
                                       caf::actor_addr{});
  CHECK(code(r) == ec::storage); // not unknown_asset
  CHECK_MESSAGE(message_of(r.error())
                  == "table state: asset value of 1 bytes, expected 72",
                message_of(r.error()));
  caf::anon_send_exit(pool, caf::exit_reason::user_shutdown);
}

TEST_SUITE_END();
