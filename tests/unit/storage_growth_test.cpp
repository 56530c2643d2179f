// A chain map that fills up grows: chain_writer drops its transaction,
// grows the map and redoes its blocks, so a follower configured with a small
// map keeps syncing; at the map's ceiling the error says so.
#include <doctest/doctest.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/block_processor.hpp"
#include "actors/verifier.hpp"
#include "storage/chain_store.hpp"
#include "tests/unit/helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;

namespace {

constexpr uint64_t mib = uint64_t{1} << 20;

/// `n` blocks of 20 assets with 1000-byte fingerprints (about 25 KiB of
/// body each), built in memory from devnet's genesis.
std::vector<block> bulky_chain(size_t n) {
  header_chain c{devnet()};
  auto owner = seeded_key(0x11);
  std::vector<block> out;
  for (size_t h = 0; h < n; ++h) {
    std::vector<record> assets;
    for (int i = 0; i < 20; ++i) {
      auto label = std::to_string(h) + "/" + std::to_string(i);
      std::vector<uint8_t> fingerprint(1000, static_cast<uint8_t>(i));
      fingerprint.insert(fingerprint.end(), label.begin(), label.end());
      assets.push_back(make_asset("work " + label, fingerprint, {}, owner));
    }
    out.push_back(extend(c, std::move(assets)));
  }
  return out;
}

std::unique_ptr<chain_store> open_store(const temp_dir& dir, uint64_t map,
                                        uint64_t ceiling) {
  auto s = chain_store::open(dir.sub("chain"), devnet(), map, ceiling);
  REQUIRE_MESSAGE(s, (s ? "" : message_of(s.error())));
  return std::move(*s);
}

/// The verifier, spawned with an index (see actors_test.cpp for why).
verifier_actor::behavior_type
numbered_verifier(verifier_actor::stateful_pointer<verifier_state> self, int) {
  return verifier(self);
}

} // namespace

TEST_SUITE_BEGIN("storage");

TEST_CASE("a writer on a tiny map grows it and keeps every block") {
  auto blocks = bulky_chain(60);
  // The same blocks on a roomy map, one commit each: the reference.
  test_store roomy;
  for (auto& b : blocks)
    REQUIRE_FALSE(roomy.apply(b));
  temp_dir dir;
  auto tiny = open_store(dir, 1 * mib, lmdb::default_map_ceiling);
  {
    // One writer for everything, with an unwind on the way, so the map
    // fills up while the transaction holds many blocks.
    chain_writer w{*tiny};
    for (size_t i = 0; i < blocks.size(); ++i) {
      auto& b = blocks[i];
      REQUIRE_FALSE(w.apply(b, encode(b), test_now()));
      if (i == 30) {
        auto back = w.unwind_tip();
        REQUIRE(back);
        REQUIRE_FALSE(w.apply(*back, encode(*back), test_now()));
      }
    }
    CHECK(w.pending_blocks() == 60);
    REQUIRE_FALSE(w.commit());
  }
  CHECK(tiny->env().map_size() >= 2 * mib); // it grew
  CHECK(dump(*tiny) == roomy.snapshot());
}

TEST_CASE("a writer at the map's ceiling fails clearly, keeping the commit") {
  auto blocks = bulky_chain(120); // more than 2 MiB
  temp_dir dir;
  auto store = open_store(dir, 1 * mib, 2 * mib);
  {
    chain_writer w{*store};
    for (size_t i = 0; i < 10; ++i)
      REQUIRE_FALSE(w.apply(blocks[i], encode(blocks[i]), test_now()));
    REQUIRE_FALSE(w.commit());
  }
  auto before = dump(*store);
  chain_writer w{*store};
  caf::error err;
  size_t i = 10;
  for (; i < blocks.size() && !err; ++i)
    err = w.apply(blocks[i], encode(blocks[i]), test_now());
  REQUIRE(err);
  CHECK(i < blocks.size());
  CHECK(code(err) == ec::storage);
  CHECK_MESSAGE(message_of(err).find("map full: it is at its ceiling of 2 MiB")
                  == 0,
                message_of(err));
  // The writer is done for; the last commit is whole.
  CHECK(message_of(w.commit()) == message_of(err));
  CHECK(dump(*store) == before);
  CHECK(chain_reader{*store}.tip().height == 10);
}

TEST_CASE("a follower with a tiny map syncs a chain larger than its map") {
  auto blocks = bulky_chain(60);
  temp_dir dir;
  auto store = open_store(dir, 1 * mib, lmdb::default_map_ceiling);
  {
    caf::actor_system_config cfg;
    cfg.set("logger.console-verbosity", caf::atom("quiet"));
    caf::actor_system sys{cfg};
    std::vector<verifier_actor> verifiers;
    for (int i = 0; i < 2; ++i)
      verifiers.push_back(sys.spawn(numbered_verifier, i));
    auto processor = sys.spawn<caf::detached>(
      block_processor, store.get(), block_processor_config{}, verifiers);
    caf::scoped_actor self{sys};
    // Batches of ten, "more to come" until the last, as while syncing: the
    // blocks gather in one write transaction until the final flush.
    for (size_t from = 0; from < blocks.size(); from += 10) {
      std::vector<encoded> raw;
      for (size_t i = from; i < from + 10; ++i)
        raw.push_back(encode(blocks[i]));
      bool more = from + 10 < blocks.size();
      self
        ->request(processor, caf::infinite, atom::blocks::value, std::move(raw),
                  more)
        .receive(
          [&](const apply_report& r) {
            CHECK(r.applied == 10);
            CHECK(r.held == 0);
          },
          [&](const caf::error& e) { FAIL(message_of(e)); });
    }
    for (auto& v : verifiers)
      caf::anon_send_exit(v, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(processor, caf::exit_reason::user_shutdown);
  }
  chain_reader r{*store};
  CHECK(r.tip().height == 60);
  CHECK(r.tip().hash == block_hash(blocks.back().hdr));
  CHECK(store->env().map_size() >= 2 * mib); // it grew
}

TEST_SUITE_END();
