// The connector and the prefetcher on CAF's deterministic test scheduler:
// fake sessions serve small real devnet chains, a fake block_processor
// records the blocks it is handed, and the test moves the clock.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/connector.hpp"
#include "actors/prefetcher.hpp"
#include "actors/progress.hpp"
#include "core/metrics.hpp"
#include "tests/unit/actor_fixture.hpp"
#include "tests/unit/helpers.hpp"

using namespace hallmark;
using namespace hallmark::test;

namespace {

using namespace std::chrono_literals;

/// A devnet chain as a peer serves it: its headers from genesis and its
/// encoded blocks by height (none for genesis, which is never served).
struct served_chain {
  header_chain headers{devnet()};
  std::vector<encoded> blocks{encoded{}};
  /// Blocks served from base + 1 (a state sync began the peer's chain).
  uint64_t base = 0;

  uint64_t height() const { return headers.headers.size() - 1; }
  work_t work() const {
    work_t w = 0;
    for (auto& h : headers.headers)
      w += h.difficulty;
    return w;
  }
  peer_info info() const {
    return peer_info{"devnet", height(), block_hash(headers.tip()), work(),
                     base};
  }
};

/// `base` and `n` more blocks; a different `skew` (seconds added to each
/// timestamp) makes a different branch of the same length.
served_chain grow(served_chain base, size_t n, uint64_t skew = 0) {
  for (size_t i = 0; i < n; ++i) {
    auto& parent = base.headers.tip();
    auto b = make_block(devnet(), parent, base.headers.lookup(), {},
                        parent.timestamp + 1 + skew);
    base.headers.headers.push_back(b.hdr);
    base.blocks.push_back(encode(b));
  }
  return base;
}

chain_tip tip_of(const served_chain& c) {
  chain_tip t;
  t.height = c.height();
  t.hash = block_hash(c.headers.tip());
  t.hdr = c.headers.tip();
  t.work = c.work();
  return t;
}

/// How a fake session answers `blocks`.
enum class serve {
  at_once,   ///< every request as it comes
  reversed,  ///< holds `hold` requests, then answers them last first
  malformed, ///< ec::malformed, the peer's fault
  never,     ///< not at all: the asker's request times out
  frozen,    ///< neither blocks nor hashes: a stopped process
  lagging,   ///< claims its chain, serves blocks and hashes only up to
             ///< height `hold` (it has not committed the rest yet)
  silent,    ///< accepts an info request and never answers it
};

/// Every `blocks` request the fake sessions got and answered, in order:
/// "NAME asked FROM+COUNT" and "NAME sent FROM".
using session_log = std::vector<std::string>;

struct fake_session_state {
  // Not an aggregate: CAF would try to build it from the actor pointer.
  fake_session_state() = default;
  static inline const char* name = "fake_session";

  struct held_request {
    uint64_t from;
    uint32_t count;
    caf::typed_response_promise<std::vector<encoded>> promise;
  };
  std::vector<held_request> held;
  /// Info requests a silent peer took and never answers.
  std::vector<caf::typed_response_promise<peer_info>> unanswered;
};

/// A peer's link serving `chain`: answers info, blocks (as `how` says),
/// hashes and registrations; drops relays.
peer_session_actor::behavior_type
fake_session(peer_session_actor::stateful_pointer<fake_session_state> self,
             std::string name, served_chain chain, serve how, size_t hold,
             std::shared_ptr<session_log> log) {
  // The height it serves up to: a lagging peer has not committed the rest.
  auto top = how == serve::lagging ? hold : chain.height();
  auto slice = [chain, top](uint64_t from, uint64_t count) {
    std::vector<encoded> out;
    for (auto h = from; h < from + count && h <= top; ++h)
      out.push_back(chain.blocks[h]);
    return out;
  };
  return {
    [=](atom::info) -> caf::result<peer_info> {
      if (how != serve::silent)
        return chain.info();
      log->push_back(name + " asked info");
      self->state.unanswered.push_back(
        self->make_response_promise<peer_info>());
      return caf::delegated<peer_info>{};
    },
    [=](atom::blocks, uint64_t from,
        uint32_t count) -> caf::result<std::vector<encoded>> {
      log->push_back(name + " asked " + std::to_string(from) + "+"
                     + std::to_string(count));
      switch (how) {
      case serve::at_once:
      case serve::lagging:
        log->push_back(name + " sent " + std::to_string(from));
        return slice(from, count);
      case serve::malformed:
        return make_error(ec::malformed, "a block of the wrong kind");
      case serve::reversed:
      case serve::never:
      case serve::frozen:
        break;
      }
      // Held: the promise answers later, so the handler answers nothing.
      auto& held = self->state.held;
      held.push_back(
        {from, count, self->make_response_promise<std::vector<encoded>>()});
      if (how == serve::reversed && held.size() == hold) {
        for (auto i = held.rbegin(); i != held.rend(); ++i) {
          log->push_back(name + " sent " + std::to_string(i->from));
          i->promise.deliver(slice(i->from, i->count));
        }
        held.clear();
      }
      return caf::delegated<std::vector<encoded>>{};
    },
    [=](atom::hashes, uint64_t from,
        uint32_t count) -> caf::result<std::vector<hash256>> {
      if (how == serve::frozen) {
        log->push_back(name + " asked hashes");
        // Held until the test ends: a promise that is never delivered.
        self->state.held.push_back(
          {from, count, self->make_response_promise<std::vector<encoded>>()});
        return caf::delegated<std::vector<hash256>>{};
      }
      std::vector<hash256> out;
      for (auto h = from; h < from + count && h <= top; ++h)
        out.push_back(block_hash(chain.headers.headers[h]));
      return out;
    },
    [=](atom::headers, uint64_t from, uint32_t count) {
      std::vector<header> out;
      for (auto h = from; h < from + count && h <= top; ++h)
        out.push_back(chain.headers.headers[h]);
      return out;
    },
    [](atom::prove, const state_request&) -> caf::result<state_reply> {
      return make_error(ec::not_found, "no state here");
    },
    [](atom::registr, const registration&) {
      return std::vector<registration>{};
    },
    [](atom::relay, const new_block&) {},
    [](atom::relay, const new_records&) {},
    [](atom::relay, const registration&) {},
  };
}

/// The heights block_processor was handed, in order, and the batch sizes.
struct processor_log {
  std::vector<uint64_t> heights;
  std::vector<size_t> batches;
  /// What atom::assume told: the first height and the hashes.
  uint64_t assumed_from = 0;
  std::vector<hash256> assumed;
};

/// A block_processor whose chain is `ours`: it answers `tip` and `flush`,
/// and takes every block it is handed as applied.
caf::behavior fake_processor(caf::event_based_actor* self, served_chain ours,
                             std::shared_ptr<processor_log> log) {
  self->set_default_handler(caf::drop);
  return {
    [ours](atom::tip) { return tip_of(ours); },
    [log](atom::blocks, const std::vector<encoded>& blocks, bool) {
      apply_report r;
      for (auto& e : blocks) {
        auto b = decode_block(e);
        CHECK(static_cast<bool>(b));
        if (!b)
          continue;
        log->heights.push_back(b->hdr.height);
        r.height = b->hdr.height;
        r.tip = block_hash(b->hdr);
        ++r.applied;
      }
      log->batches.push_back(blocks.size());
      return r;
    },
    [](atom::flush) { return uint64_t{0}; },
    [log](atom::assume, uint64_t first, const std::vector<hash256>& hashes) {
      log->assumed_from = first;
      log->assumed = hashes;
    },
  };
}

/// A connector that only hears the prefetcher's reports.
caf::behavior report_sink(caf::event_based_actor* self,
                          std::shared_ptr<std::vector<fetch_report>> log) {
  self->set_default_handler(caf::drop);
  return {
    [log](atom::progress, const fetch_report& r) { log->push_back(r); },
  };
}

/// An actor system on the test coordinator, with our chain (`ours`, also
/// in a real store for the connector's fork detection), a fake
/// block_processor and what the fakes heard.
struct our_chain {
  explicit our_chain(size_t our_blocks)
      : ours(grow(served_chain{}, our_blocks)) {
    for (uint64_t h = 1; h <= ours.height(); ++h) {
      auto b = decode_block(ours.blocks[h]);
      REQUIRE(static_cast<bool>(b));
      auto err = store.apply(*b);
      REQUIRE_MESSAGE(!err, message_of(err));
    }
  }
  test_store store;
  served_chain ours;
  std::shared_ptr<processor_log> applied = std::make_shared<processor_log>();
  std::shared_ptr<session_log> sessions = std::make_shared<session_log>();
};

class fixture : public our_chain, public actor_harness {
public:
  explicit fixture(size_t our_blocks) : our_chain(our_blocks) {
    processor = caf::actor_cast<block_processor_actor>(
      keep(sys.spawn(fake_processor, ours, applied)));
  }

  /// A fake session named `name` serving `chain`.
  peer_session_actor session(std::string name, served_chain chain,
                             serve how = serve::at_once, size_t hold = 0) {
    return keep(sys.spawn(fake_session, std::move(name), std::move(chain), how,
                          hold, sessions));
  }

  /// The requests and replies of the fakes whose text starts with `what`
  /// ("asked", "sent") after the name, as "NAME FROM".
  std::vector<std::string> heard(const std::string& what) const {
    std::vector<std::string> out;
    for (auto& line : *sessions) {
      auto space = line.find(' ');
      if (line.compare(space + 1, what.size(), what) == 0)
        out.push_back(line.substr(0, space) + " "
                      + line.substr(space + 1 + what.size()));
    }
    return out;
  }

  block_processor_actor processor;
};

/// A prefetcher whose reports go to `reports`.
prefetcher_actor
spawn_prefetcher(fixture& f, std::shared_ptr<std::vector<fetch_report>> reports,
                 prefetcher_config pc = {}) {
  auto sink = caf::actor_cast<connector_actor>(
    f.keep(f.sys.spawn(report_sink, reports)));
  return f.keep(f.sys.spawn(prefetcher, f.processor, sink, pc));
}

/// A connector over the fixture's chain that elects among `min_clients`
/// links, one cycle a second, failing over after `stall` without progress.
connector_actor spawn_connector(fixture& f, size_t min_clients,
                                std::chrono::milliseconds stall = 3s) {
  connector_config cc;
  cc.min_clients = min_clients;
  cc.cycle = 1s;
  cc.stall = stall;
  session_deps deps;
  deps.chain = &f.store.store();
  deps.processor = f.processor;
  deps.settings = handshake_settings{"devnet", seeded_key(0x01)};
  return f.keep(f.sys.spawn(connector, cc, deps, seeded_key(0x01)));
}

/// Tells `connector` that `session` is a live link to the peer seeded by
/// `seed`; returns that peer's key.
public_key link_up(fixture& f, connector_actor connector,
                   peer_session_actor session, uint8_t seed) {
  peer_link up;
  up.session = std::move(session);
  up.key = seeded_key(seed).public_key_bytes();
  up.inbound = true;
  up.address = "10.0.0." + std::to_string(seed) + ":2136";
  up.version = 1;
  f.self->send(connector, atom::up_v, up);
  f.run();
  return up.key;
}

/// The connector's table of peers, by key.
std::map<public_key, peer_status> peers_of(fixture& f,
                                           connector_actor connector) {
  auto h = f.self->request(connector, caf::infinite, atom::peers_v);
  f.run();
  auto rows = reply_of<std::vector<peer_status>>(f.self, h);
  REQUIRE(static_cast<bool>(rows));
  std::map<public_key, peer_status> out;
  for (auto& r : *rows)
    out[r.key] = r;
  return out;
}

std::vector<uint64_t> heights(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (auto h = first; h <= last; ++h)
    out.push_back(h);
  return out;
}

/// The links a fetch is handed: each session with the key seeded by 0x20,
/// 0x21, ... in order.
std::vector<peer_link> links_of(std::vector<peer_session_actor> sessions) {
  std::vector<peer_link> out;
  uint8_t seed = 0x20;
  for (auto& s : sessions)
    out.push_back(peer_link{std::move(s), seeded_key(seed++).public_key_bytes(),
                            false, "", 1});
  return out;
}

/// The hash of `chain`'s block at `height`: the parent of a fetch from
/// height + 1.
hash256 hash_at(const served_chain& chain, uint64_t height) {
  return block_hash(chain.headers.headers[height]);
}

/// Has a prefetcher fetch heights 2..4 from a session serving as `how`
/// says; returns the reports the connector gets.
std::shared_ptr<std::vector<fetch_report>> failing_fetch(fixture& f,
                                                         serve how) {
  auto reports = std::make_shared<std::vector<fetch_report>>();
  auto prefetch = spawn_prefetcher(f, reports);
  f.self->send(prefetch, atom::fetch_v,
               links_of({f.session("a", grow(f.ours, 3), how)}), uint64_t{2},
               uint64_t{4}, hash_at(f.ours, 1), hash256{});
  f.run();
  return reports;
}

} // namespace

TEST_CASE("prefetcher: batches answered last first reach block_processor in "
          "height order") {
  fixture f{1};
  auto peer = grow(f.ours, 12);
  auto reports = std::make_shared<std::vector<fetch_report>>();
  prefetcher_config pc;
  pc.max_batch = 3;
  pc.max_requests = 4;
  pc.per_source_requests = 4;
  pc.initial_block_size = 1000; // four requests of three fit the cache
  auto prefetch = spawn_prefetcher(f, reports, pc);
  f.self->send(prefetch, atom::fetch_v,
               links_of({f.session("a", peer, serve::reversed, 4)}),
               uint64_t{2}, uint64_t{13}, hash_at(f.ours, 1), hash256{});
  f.run();
  CHECK(f.heard("asked ")
        == std::vector<std::string>{"a 2+3", "a 5+3", "a 8+3", "a 11+3"});
  CHECK(f.heard("sent ")
        == std::vector<std::string>{"a 11", "a 8", "a 5", "a 2"});
  CHECK(f.applied->heights == heights(2, 13));
  CHECK(f.applied->batches == std::vector<size_t>{3, 3, 3, 3});
  REQUIRE_FALSE(reports->empty());
  CHECK(reports->back().done);
  CHECK(reports->back().height == 13);
  CHECK_FALSE(reports->back().failure);
}

TEST_CASE("prefetcher: a malformed reply reaches the connector as the peer's "
          "fault, code intact") {
  fixture f{1};
  auto reports = failing_fetch(f, serve::malformed);
  REQUIRE(reports->size() == 1);
  auto& r = reports->front();
  CHECK_FALSE(r.done);
  CHECK(code(r.failure) == ec::malformed);
  CHECK(fault_of(r.failure) == fault::peer);
  CHECK(f.applied->heights.empty());
}

TEST_CASE("prefetcher: a request that times out reaches the connector as a "
          "local failure") {
  fixture f{1};
  auto reports = failing_fetch(f, serve::never);
  CHECK(reports->empty());
  f.advance(29s);
  CHECK(reports->empty());
  f.advance(2s);
  REQUIRE(reports->size() == 1);
  auto& r = reports->front();
  CHECK_FALSE(r.done);
  CHECK(code(r.failure) == ec::internal);
  CHECK(fault_of(r.failure) == fault::local);
}

TEST_CASE("prefetcher: ranges are spread over the links; a failing link's "
          "ranges go to the others and the blocks still arrive in order") {
  fixture f{1};
  auto peer = grow(f.ours, 12);
  prefetcher_config pc;
  pc.max_batch = 3;
  pc.initial_block_size = 1000;
  auto run_with = [&](serve second) {
    auto reports = std::make_shared<std::vector<fetch_report>>();
    auto prefetch = spawn_prefetcher(f, reports, pc);
    f.self->send(prefetch, atom::fetch_v,
                 links_of({f.session("a", peer), f.session("b", peer, second)}),
                 uint64_t{2}, uint64_t{13}, hash_at(f.ours, 1), hash256{});
    f.run();
    return reports;
  };
  SUBCASE("both serve") {
    auto reports = run_with(serve::at_once);
    auto asked = f.heard("asked ");
    CHECK(std::count_if(asked.begin(), asked.end(),
                        [](auto& x) { return x[0] == 'b'; })
          > 0);
    CHECK(f.applied->heights == heights(2, 13));
    REQUIRE_FALSE(reports->empty());
    CHECK(reports->back().done);
    CHECK(reports->back().peers == 2);
  }
  SUBCASE("one sends malformed replies: left out and charged, the other "
          "serves its ranges") {
    auto reports = run_with(serve::malformed);
    CHECK(f.applied->heights == heights(2, 13));
    REQUIRE_FALSE(reports->empty());
    CHECK(reports->back().done);
    CHECK_FALSE(reports->back().failure);
    auto left = std::find_if(reports->begin(), reports->end(),
                             [](auto& r) { return r.source_only; });
    REQUIRE(left != reports->end());
    CHECK(left->source == seeded_key(0x21).public_key_bytes());
    CHECK(fault_of(left->failure) == fault::peer);
  }
  SUBCASE("one never answers: left out after the request timeout, not "
          "charged") {
    auto reports = run_with(serve::never);
    CHECK(f.applied->heights.size() < 12);
    f.advance(31s);
    CHECK(f.applied->heights == heights(2, 13));
    auto left = std::find_if(reports->begin(), reports->end(),
                             [](auto& r) { return r.source_only; });
    REQUIRE(left != reports->end());
    CHECK(fault_of(left->failure) != fault::peer);
    CHECK(reports->back().done);
  }
}

TEST_CASE("prefetcher: a link that dies mid-fetch has its ranges asked of "
          "the others") {
  fixture f{1};
  auto peer = grow(f.ours, 12);
  prefetcher_config pc;
  pc.max_batch = 3;
  pc.initial_block_size = 1000;
  auto reports = std::make_shared<std::vector<fetch_report>>();
  auto prefetch = spawn_prefetcher(f, reports, pc);
  auto dying = f.session("b", peer, serve::never);
  f.self->send(prefetch, atom::fetch_v, links_of({f.session("a", peer), dying}),
               uint64_t{2}, uint64_t{13}, hash_at(f.ours, 1), hash256{});
  f.run();
  CHECK(f.applied->heights.size() < 12);
  f.self->send_exit(dying, caf::exit_reason::kill);
  f.run();
  CHECK(f.applied->heights == heights(2, 13));
  REQUIRE_FALSE(reports->empty());
  CHECK(reports->back().done);
  CHECK(reports->back().peers == 1);
}

TEST_CASE("prefetcher: a link serving another branch is left out, not "
          "charged; the upstream's blocks are applied") {
  fixture f{1};
  auto peer = grow(f.ours, 6);
  auto other = grow(f.ours, 6, 1); // same heights, another branch
  prefetcher_config pc;
  pc.max_batch = 2;
  pc.initial_block_size = 1000;
  auto reports = std::make_shared<std::vector<fetch_report>>();
  auto prefetch = spawn_prefetcher(f, reports, pc);
  f.self->send(prefetch, atom::fetch_v,
               links_of({f.session("a", peer), f.session("b", other)}),
               uint64_t{2}, uint64_t{7}, hash_at(f.ours, 1), hash256{});
  f.run();
  CHECK(f.applied->heights == heights(2, 7));
  auto left = std::find_if(reports->begin(), reports->end(),
                           [](auto& r) { return r.source_only; });
  REQUIRE(left != reports->end());
  CHECK(left->source == seeded_key(0x21).public_key_bytes());
  CHECK(fault_of(left->failure) != fault::peer);
  REQUIRE_FALSE(reports->empty());
  CHECK(reports->back().done);
}

TEST_CASE("prefetcher: with a block assumed valid, the upstream's headers "
          "come first and block_processor is told its ancestors") {
  fixture f{1};
  auto peer = grow(f.ours, 8);
  auto reports = std::make_shared<std::vector<fetch_report>>();
  auto prefetch = spawn_prefetcher(f, reports);
  SUBCASE("the headers lead to it: heights 2..6 are its ancestors") {
    f.self->send(prefetch, atom::fetch_v, links_of({f.session("a", peer)}),
                 uint64_t{2}, uint64_t{9}, hash_at(f.ours, 1),
                 hash_at(peer, 6));
    f.run();
    CHECK(f.applied->assumed_from == 2);
    REQUIRE(f.applied->assumed.size() == 5);
    for (uint64_t h = 2; h <= 6; ++h)
      CHECK(f.applied->assumed[h - 2] == hash_at(peer, h));
  }
  SUBCASE("they do not (the block is on another branch): nothing is "
          "assumed") {
    auto other = grow(f.ours, 8, 1);
    f.self->send(prefetch, atom::fetch_v, links_of({f.session("a", peer)}),
                 uint64_t{2}, uint64_t{9}, hash_at(f.ours, 1),
                 hash_at(other, 6));
    f.run();
    CHECK(f.applied->assumed.empty());
  }
  // Either way every block is fetched and applied in order.
  CHECK(f.applied->heights == heights(2, 9));
  REQUIRE_FALSE(reports->empty());
  CHECK(reports->back().done);
}

TEST_CASE("connector: the link with the most work becomes the upstream") {
  fixture f{3};
  auto c = spawn_connector(f, 3);
  link_up(f, c, f.session("a", grow(f.ours, 2)), 0x20);
  link_up(f, c, f.session("b", grow(f.ours, 4)), 0x21);
  link_up(f, c, f.session("c", grow(f.ours, 1)), 0x22);
  f.advance(1s); // CONNECTING -> HIGHEST_BLOCK
  CHECK(f.heard("asked ").empty());
  f.advance(1s); // elects b, finds the fork at our tip, fetches
  CHECK(f.heard("asked ") == std::vector<std::string>{"b 4+4"});
  CHECK(f.applied->heights == heights(4, 7));
}

TEST_CASE("connector: a peer whose chain began above our tip with a state "
          "sync is not the upstream; alone, the status says why") {
  fixture f{3};
  auto synced = grow(f.ours, 4);
  synced.base = 5; // serves blocks 6.. only; we need 4..
  SUBCASE("a full peer serves instead") {
    auto c = spawn_connector(f, 2);
    link_up(f, c, f.session("a", synced), 0x20);
    link_up(f, c, f.session("b", grow(f.ours, 2)), 0x21);
    f.advance(1s);
    f.advance(1s);
    CHECK(f.heard("asked ") == std::vector<std::string>{"b 4+2"});
  }
  SUBCASE("alone") {
    auto c = spawn_connector(f, 1);
    link_up(f, c, f.session("a", synced), 0x20);
    f.advance(1s);
    f.advance(1s);
    CHECK(f.heard("asked ").empty());
    auto s = f.ask<connector_status>(c, atom::status_v);
    REQUIRE(s);
    CHECK(s->fetch_error.find("began their chains with a state sync")
          != std::string::npos);
  }
}

TEST_CASE("connector: between links of equal work, the smaller tip hash wins") {
  fixture f{2};
  auto a = grow(f.ours, 2, 0);
  auto b = grow(f.ours, 2, 1);
  REQUIRE(a.work() == b.work());
  REQUIRE(a.info().tip != b.info().tip);
  auto winner = a.info().tip < b.info().tip ? "a" : "b";
  auto c = spawn_connector(f, 2);
  link_up(f, c, f.session("a", a), 0x20);
  link_up(f, c, f.session("b", b), 0x21);
  f.advance(1s);
  f.advance(1s);
  CHECK(f.heard("asked ")
        == std::vector<std::string>{std::string{winner} + " 3+2"});
}

/// Two links: `a` two blocks ahead of us, serving at once, and `b` three
/// ahead, serving as `how` says, so b becomes the upstream; two cycles run.
struct two_links {
  two_links(fixture& f, serve how, std::chrono::milliseconds stall = 3s,
            size_t hold = 0)
      : c(spawn_connector(f, 2, stall)),
        a(link_up(f, c, f.session("a", grow(f.ours, 2)), 0x20)),
        b(link_up(f, c, f.session("b", grow(f.ours, 3), how, hold), 0x21)) {
    f.advance(1s);
    f.advance(1s);
  }
  connector_actor c;
  public_key a;
  public_key b;
};

TEST_CASE("connector: the upstream's link going down mid-fetch leaves its "
          "ranges to the other upstreams, with no new election") {
  fixture f{2};
  auto chain = grow(f.ours, 6);
  auto key_a = seeded_key(0x20).public_key_bytes();
  auto key_b = seeded_key(0x21).public_key_bytes();
  // Equal chains: the upstream is the smaller key. It holds every request;
  // the other serves at once.
  bool a_up = key_a < key_b;
  auto sa = f.session("a", chain, a_up ? serve::never : serve::at_once);
  auto sb = f.session("b", chain, a_up ? serve::at_once : serve::never);
  auto c = spawn_connector(f, 2);
  link_up(f, c, sa, 0x20);
  link_up(f, c, sb, 0x21);
  f.advance(1s);
  f.advance(1s); // elects, probes, fetches 3..8 from both
  REQUIRE(f.applied->heights.size() < 6);
  // As a session ends when its connection closes (the connector is linked
  // to it and outlives it).
  f.self->send_exit(a_up ? sa : sb, caf::exit_reason::user_shutdown);
  f.run(); // no clock step: no new cycle, no new election
  CHECK(f.applied->heights == heights(3, 8));
  for (auto& [key, p] : peers_of(f, c))
    CHECK(p.score == 0);
}

TEST_CASE("connector: a peer's failure is charged and fails over to the next "
          "best link") {
  fixture f{2};
  two_links l{f, serve::malformed}; // b fails its fetch: charged
  CHECK(f.heard("asked ") == std::vector<std::string>{"b 3+3"});
  auto peers = peers_of(f, l.c);
  CHECK(peers[l.b].score == 50); // half of ban_points
  CHECK(peers[l.a].score == 0);
  f.advance(1s); // b is passed over while a is there
  CHECK(f.heard("asked ") == std::vector<std::string>{"b 3+3", "a 3+2"});
  CHECK(f.applied->heights == heights(3, 4));
}

TEST_CASE("connector: an upstream without the blocks it claimed is not "
          "charged; another serves them") {
  fixture f{2};
  // b claims height 5 but has committed only up to our tip (2): it serves
  // the hash at 2, then no block at 3.
  two_links l{f, serve::lagging, 3s, 2};
  CHECK(f.heard("asked ") == std::vector<std::string>{"b 3+3"});
  f.advance(1s); // b is passed over while a is there
  CHECK(f.heard("asked ") == std::vector<std::string>{"b 3+3", "a 3+2"});
  CHECK(f.applied->heights == heights(3, 4));
  auto peers = peers_of(f, l.c);
  CHECK(peers[l.b].score == 0);
  CHECK(peers[l.b].link == "up");
}

TEST_CASE("connector: an upstream without a hash at a height it claimed is "
          "not charged; another serves the blocks") {
  fixture f{2};
  // b claims height 5 but has committed only height 1: no hash at our tip.
  two_links l{f, serve::lagging, 3s, 1};
  CHECK(f.heard("asked ").empty());
  f.advance(1s);
  CHECK(f.heard("asked ") == std::vector<std::string>{"a 3+2"});
  CHECK(f.applied->heights == heights(3, 4));
  CHECK(peers_of(f, l.c)[l.b].score == 0);
}

TEST_CASE("connector: a local failure fails over without a charge") {
  fixture f{2};
  two_links l{f, serve::never, 600s}; // no stall before the timeout
  CHECK(f.heard("asked ") == std::vector<std::string>{"b 3+3"});
  f.advance(90s); // the prefetcher's request to b times out
  f.advance(1s);
  CHECK(f.heard("asked ") == std::vector<std::string>{"b 3+3", "a 3+2"});
  auto peers = peers_of(f, l.c);
  CHECK(peers[l.b].score == 0);
  CHECK(peers[l.a].score == 0);
  CHECK(f.applied->heights == heights(3, 4));
}

TEST_CASE("connector: a stalled upstream is replaced after its request's "
          "timeout, uncharged") {
  fixture f{2};
  two_links l{f, serve::never};
  CHECK(f.heard("asked ") == std::vector<std::string>{"b 3+3"});
  // Slow is not stalled: b keeps the fetch while its request may still be
  // answered (30 s, past the 3 s stall time) ...
  for (int i = 0; i < 29; ++i)
    f.advance(1s);
  CHECK(f.heard("asked ") == std::vector<std::string>{"b 3+3"});
  // ... then it is left out, the fetch fails over, and a serves what it
  // has.
  for (int i = 0; i < 3; ++i)
    f.advance(1s);
  CHECK(f.heard("asked ") == std::vector<std::string>{"b 3+3", "a 3+2"});
  CHECK(f.applied->heights == heights(3, 4));
  auto peers = peers_of(f, l.c);
  CHECK(peers[l.b].score == 0);
  CHECK(peers[l.a].score == 0);
}

TEST_CASE("connector: an upstream frozen during fork detection is replaced") {
  fixture f{2};
  two_links l{f, serve::frozen};
  CHECK(f.heard("asked ") == std::vector<std::string>{"b hashes"});
  for (int i = 0; i < 5; ++i)
    f.advance(1s);
  CHECK(f.heard("asked ") == std::vector<std::string>{"b hashes", "a 3+2"});
  CHECK(f.applied->heights == heights(3, 4));
  CHECK(peers_of(f, l.c)[l.b].score == 0);
}

TEST_CASE("connector: a silent link holds up neither admissions nor status") {
  fixture f{2};
  auto c = spawn_connector(f, 1);
  // A link that takes the info request and never answers it.
  link_up(f, c, f.session("quiet", grow(f.ours, 3), serve::silent), 0x30);
  CHECK(f.heard("asked ") == std::vector<std::string>{"quiet info"});
  // With that request pending and the clock not advanced, another peer's
  // admission is answered ...
  auto other = seeded_key(0x31).public_key_bytes();
  auto admit = f.self->request(c, caf::infinite, atom::up_v, other);
  f.run();
  auto admitted = reply_of<bool>(f.self, admit);
  REQUIRE(static_cast<bool>(admitted));
  CHECK(*admitted);
  // ... it becomes a link, served at once ...
  link_up(f, c, f.session("talker", grow(f.ours, 3)), 0x31);
  auto peers = peers_of(f, c);
  CHECK(peers[other].link == "up");
  CHECK(peers[other].height == 5);
  // ... and status answers with both links.
  auto asked = f.self->request(c, caf::infinite, atom::status_v);
  f.run();
  auto st = reply_of<connector_status>(f.self, asked);
  REQUIRE(static_cast<bool>(st));
  CHECK(st->links == 2);
  // The silent request's deadline passes: the wait is counted (and
  // logged), the link stays.
  auto late = metrics::node().requests_late.value();
  f.advance(31s);
  CHECK(metrics::node().requests_late.value() > late);
  CHECK(peers_of(f, c)[seeded_key(0x30).public_key_bytes()].link == "up");
}

TEST_CASE("progress: the line states height, target, rate, time left and "
          "the upstreams") {
  fetch_report r;
  r.start = 5; // blocks 5..9 in 10 s: the 10 left take 20 s
  r.height = 9;
  r.target = 19;
  r.records = 100;
  r.peers = 3;
  CHECK(progress_line(r, 10.0)
        == "sync: height 9 of 19, 10 records/s, ETA 20 s, 3 peers");
  r.height = 19;
  r.peers = 1;
  CHECK(progress_line(r, 10.0)
        == "sync: height 19 of 19, 10 records/s, ETA 0 s, 1 peer");
  r.height = 4; // nothing applied yet: no rate to tell the rest by
  CHECK(progress_line(r, 10.0)
        == "sync: height 4 of 19, 10 records/s, ETA unknown, 1 peer");
  auto f = figures_of(r, 10.0);
  CHECK(f.eta_s == 0);
}
