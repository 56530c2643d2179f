// Writes the seed corpora of the fuzzers (tests/fuzz/corpus/<target>/),
// every seed made by the real encoders, so each is a valid message the
// fuzzer mutates from. Run by `scripts/fuzz --seeds`; the output is
// deterministic (fixed keys, deterministic randomness), so rerunning it
// changes no file unless an encoder changed.
//
//   fuzz_seeds DIR     writes DIR/<target>/<name> for every target
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/chain.hpp"
#include "core/records.hpp"
#include "messages/admin_request.hpp"
#include "messages/codec.hpp"
#include "messages/envelope.hpp"
#include "messages/handshake.hpp"
#include "messages/handshake_frames.hpp"
#include "messages/registration.hpp"
#include "tests/fuzz/fuzz.hpp"
#include "tests/fuzz/handshake_keys.hpp"

using namespace hallmark;

namespace {

std::filesystem::path root;

void write(const std::string& target, const std::string& name,
           byte_view bytes) {
  auto dir = root / target;
  std::filesystem::create_directories(dir);
  std::ofstream out{dir / name, std::ios::binary | std::ios::trunc};
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out)
    throw std::runtime_error("cannot write " + (dir / name).string());
}

void write(const std::string& target, const std::string& name,
           const encoded& e) {
  write(target, name, e.bytes());
}

key_pair key_of(uint8_t fill) {
  std::array<uint8_t, 32> seed{};
  seed.fill(fill);
  return key_pair::from_seed(seed);
}

struct people {
  key_pair alice = key_of(0xa1);
  key_pair bob = key_of(0xb0);
};

record an_asset(const people& p) {
  return make_asset("Sunflowers", {'s', 'h', 'a', '2', '5', '6', ':', '1'},
                    {{"artist", "Vincent"}, {"year", "1888"}}, p.alice);
}

record a_batch(const people& p) {
  auto id = asset_id(std::get<asset>(an_asset(p)));
  issue_batch b;
  b.issues = {make_issue(id, 1, p.alice), make_issue(id, 2, p.alice)};
  b.anchor.fill(0x42);
  b.work_nonce = 7;
  return b;
}

record a_transfer(const people& p, bool countersigned) {
  hash256 link;
  link.fill(0x17);
  auto t = make_transfer(link, p.bob.public_key_bytes(), p.alice);
  if (countersigned)
    countersign(t, p.bob);
  return t;
}

block a_block(const people& p, std::vector<record> records) {
  block b;
  b.hdr.height = 1;
  b.hdr.previous.fill(0x01);
  b.hdr.timestamp = 1'700'000'000;
  b.hdr.producer = p.alice.public_key_bytes();
  b.records = std::move(records);
  b.hdr.merkle_root = merkle_root(leaf_ids(b));
  return b;
}

registration a_registration(const key_pair& k) {
  return make_registration(
    "devnet", {"127.0.0.1:2136", "[::1]:2136", "node.example:2136"},
    1'700'000'000, k);
}

void records(const people& p) {
  write("record", "asset", encode(an_asset(p)));
  write("record", "issue-batch", encode(a_batch(p)));
  write("record", "transfer", encode(a_transfer(p, false)));
  write("record", "transfer-countersigned", encode(a_transfer(p, true)));
  write(
    "record", "record-list",
    encode(std::vector<record>{an_asset(p), a_batch(p), a_transfer(p, true)}));
}

void blocks(const people& p) {
  write("block", "empty", encode(a_block(p, {})));
  write("block", "three-records",
        encode(a_block(p, {an_asset(p), a_batch(p), a_transfer(p, true)})));
}

void registrations(const people& p) {
  write("registration", "three-listeners",
        encode_registration(a_registration(p.alice)));
  write(
    "registration", "no-listener",
    encode_registration(make_registration("devnet", {}, 1'700'000'000, p.bob)));
}

void envelopes(const people& p) {
  hash256 tip;
  tip.fill(0x33);
  auto blk = encode(a_block(p, {an_asset(p)}));
  auto put = [](const std::string& name, uint64_t id, wire::body what) {
    auto e = wire::encode(wire::envelope{id, std::move(what)});
    if (!e)
      throw std::runtime_error("cannot encode " + name);
    write("envelope", name, *e);
  };
  put("info-request", 1, wire::info_request{});
  put("info", 1, wire::info{"devnet", "0.1.0", 12, tip, 12345});
  put("blocks-request", 2, wire::blocks_request{1, 16});
  put("blocks", 2, wire::blocks{{blk, blk}});
  put("hashes-request", 3, wire::hashes_request{1, 3});
  put("hashes", 3, wire::hashes{{tip, tip}});
  put("headers-request", 7, wire::headers_request{1, 2});
  put("headers", 7, wire::headers{{a_block(p, {}).hdr, a_block(p, {}).hdr}});
  put("register", 4, wire::register_request{a_registration(p.alice)});
  put("peers", 4,
      wire::peers{{a_registration(p.alice), a_registration(p.bob)}});
  put("announce", 0, wire::announce{a_registration(p.bob)});
  put("records", 0,
      wire::records{
        encode(std::vector<record>{an_asset(p), a_transfer(p, true)})});
  put("block", 0, wire::block{blk});
  {
    // A small state and its proofs, for the state sync kinds.
    trie::memory_trie t;
    trie::state_delta d;
    for (uint8_t i = 1; i <= 9; ++i) {
      hash256 id;
      id.fill(i);
      d[trie::item_key(id)] = trie::encode(trie::item_value{
        id, p.alice.public_key_bytes(), tip, i, record_kind::issue});
    }
    if (!t.apply(d))
      throw std::runtime_error("cannot build the seed state");
    trie::trie_update nodes{t.source()};
    auto values = [&t](const trie::state_key& k)
      -> caf::expected<std::optional<std::vector<uint8_t>>> {
      auto i = t.values().find(k);
      if (i == t.values().end())
        return std::optional<std::vector<uint8_t>>{};
      return std::optional<std::vector<uint8_t>>{i->second};
    };
    auto scan =
      [&t](const trie::state_key& from,
           const std::function<bool(const trie::state_key&, byte_view)>& f) {
        for (auto i = t.values().lower_bound(from); i != t.values().end(); ++i)
          if (!f(i->first, i->second))
            break;
        return caf::error{};
      };
    auto range = trie::prove_range(nodes, values, scan, trie::min_key(),
                                   trie::max_key(), 4, trie::max_proof_bytes);
    if (!range)
      throw std::runtime_error("cannot prove the seed state");
    put("state-range-request", 5, wire::state_range_request{t.root()});
    put("state-range", 5, wire::state_range{*range});
    put("state-change-request", 6, wire::state_change_request{tip, t.root()});
    std::vector<trie::state_key> changed;
    for (auto& [k, v] : d)
      changed.push_back(k);
    auto change = trie::prove_change(nodes, values, changed, trie::min_key(),
                                     trie::max_key(), 4, trie::max_proof_bytes);
    if (!change)
      throw std::runtime_error("cannot prove the seed changes");
    put("state-change", 6, wire::state_change{*change});
  }
  put("refusal", 5, wire::refusal{ec::not_found, "no such block"});
  put("ping", 6, wire::ping{});
  put("pong", 6, wire::pong{});
}

void admin_requests(const people& p) {
  using namespace request;
  hash256 id;
  id.fill(0x44);
  auto blk = encode(a_block(p, {}));
  std::vector<std::pair<std::string, admin_request>> all = {
    {"status", status{}},
    {"submit", submit{encode(std::vector<record>{an_asset(p), a_batch(p)})}},
    {"item", item{id}},
    {"owner", owner{p.bob.public_key_bytes()}},
    {"block-by-height", block_by_height{7}},
    {"block-by-hash", block_by_hash{id}},
    {"record", record_by_id{id}},
    {"reorg", reorg{3}},
    {"import-blocks", import_blocks{{blk, blk}}},
    {"export-blocks", export_blocks{1, 100}},
    {"stop", stop{}},
    {"peers", peers{}},
    {"watch", watch{}},
    {"ban", ban{p.bob.public_key_bytes(), 600}},
    {"unban", unban{p.bob.public_key_bytes()}},
  };
  std::vector<uint8_t> pipelined;
  for (auto& [name, req] : all) {
    auto body = encode_admin_request(req);
    if (!body)
      throw std::runtime_error("cannot encode " + name);
    auto frame = admin_frame(*body);
    write("admin_request", name, frame);
    if (name == "status" || name == "owner" || name == "watch")
      pipelined.insert(pipelined.end(), frame.begin(), frame.end());
  }
  write("admin_request", "three-pipelined", pipelined);
}

/// A mode byte, then length-prefixed frames (tests/fuzz/handshake.cpp).
std::vector<uint8_t> handshake_input(uint8_t mode,
                                     std::vector<std::vector<uint8_t>> frames) {
  std::vector<uint8_t> out{mode};
  for (auto& f : frames) {
    uint8_t len[2];
    put_u16(len, static_cast<uint16_t>(f.size()));
    out.insert(out.end(), len, len + 2);
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

void handshakes() {
  using fuzz::deterministic_random;
  auto ini_settings = fuzz::settings(fuzz::initiator_key());
  auto resp_settings = fuzz::settings(fuzz::responder_key());
  auto responder_id = fuzz::responder_key().public_key_bytes();

  // Mode 0: the responder runs first after the reset, as in the fuzzer, so
  // its Welcome (and the Proof answering it) are the ones it will see.
  auto ini = handshake::initiator(ini_settings, responder_id);
  auto hello = ini.hello();
  deterministic_random::reset();
  auto resp = handshake::responder(resp_settings);
  auto welcome = resp.receive(hello);
  auto proof = ini.receive(welcome.send);
  write("handshake", "responder-hello", handshake_input(0, {hello}));
  write("handshake", "responder-hello-proof",
        handshake_input(0, {hello, proof.send}));
  write("handshake", "responder-reject",
        handshake_input(0, {encode_reject(ec::wrong_chain, "not ours")}));

  // Mode 1: the initiator's Hello comes first after the reset.
  deterministic_random::reset();
  auto ini1 = handshake::initiator(ini_settings, responder_id);
  auto hello1 = ini1.hello();
  auto resp1 = handshake::responder(resp_settings);
  auto welcome1 = resp1.receive(hello1);
  write("handshake", "initiator-welcome", handshake_input(1, {welcome1.send}));
  write("handshake", "initiator-reject",
        handshake_input(1, {encode_reject(ec::wrong_version, "too new")}));

  // Mode 2: a clean handshake, and one with a flipped bit in the Welcome.
  write("handshake", "talking-clean", std::vector<uint8_t>{2});
  write("handshake", "talking-flip-welcome",
        std::vector<uint8_t>{2, 1, 40, 0, 0x01});

  // The frames alone, for the frame decoder.
  write("handshake_frame", "hello", hello);
  write("handshake_frame", "welcome", welcome.send);
  write("handshake_frame", "proof", proof.send);
  write("handshake_frame", "reject", encode_reject(ec::wrong_key, "not me"));
}

void frame_opener_ops() {
  auto op = [](uint8_t code, std::string_view bytes) {
    std::vector<uint8_t> out{code, 0, 0};
    put_u16(out.data() + 1, static_cast<uint16_t>(bytes.size()));
    out.insert(out.end(), bytes.begin(), bytes.end());
    return out;
  };
  auto cat = [](std::vector<std::vector<uint8_t>> parts) {
    std::vector<uint8_t> out;
    for (auto& p : parts)
      out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  write("frame_opener", "three-frames",
        cat({op(0, "ping"), op(0, ""), op(0, "a longer plaintext")}));
  write("frame_opener", "flipped", cat({op(0, "one"), op(2, "\x05\x00\x80")}));
  write("frame_opener", "dropped", cat({op(3, "lost"), op(0, "next")}));
  write("frame_opener", "forged",
        cat({op(1, "seventeen bytes!!"), op(0, "after")}));
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds DIR\n");
    return 2;
  }
  root = argv[1];
  fuzz::deterministic_random::install();
  people p;
  records(p);
  blocks(p);
  registrations(p);
  envelopes(p);
  admin_requests(p);
  handshakes();
  frame_opener_ops();
  return 0;
}
