// A chain map that fills up grows: chain_writer drops its transaction,
// grows the map and redoes its blocks; at the map's ceiling the error says
// so. (The same through block_processor: storage_actors_test.cpp.)
#include <doctest/doctest.h>

#include "storage/chain_store.hpp"
#include "tests/unit/storage_helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;

using namespace hallmark::test::storage;

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

TEST_SUITE_END();
