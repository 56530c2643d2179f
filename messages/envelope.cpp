#include "messages/envelope.hpp"

#include <cstring>

#include "messages/codec_capnp.hpp"
#include "messages/registration_capnp.hpp"
#include "messages/wire.capnp.h"

namespace hallmark::wire {

namespace {

/// A decimal number below 2^128, digits only.
caf::expected<work_t> parse_work(std::string_view text) {
  if (text.empty() || text.size() > 39)
    return make_error(ec::malformed, "work is not a decimal number");
  work_t x = 0;
  for (auto c : text) {
    if (c < '0' || c > '9')
      return make_error(ec::malformed, "work is not a decimal number");
    auto digit = static_cast<unsigned>(c - '0');
    if (x > (~work_t{0} - digit) / 10)
      return make_error(ec::malformed, "work above 2^128");
    x = x * 10 + digit;
  }
  return x;
}

caf::expected<hash256> hash_of(capnp::Data::Reader x, const char* what) {
  auto h = to_fixed<32>(view_of(x));
  if (!h)
    return make_error(ec::malformed, std::string{what} + " is not 32 bytes");
  return *h;
}

void set_range(schema::HeightRange::Builder r, uint64_t from, uint32_t count) {
  r.setFrom(from);
  r.setCount(count);
}

void write_node(schema::ProofNode::Builder out, const trie::proof_node& n) {
  out.setPath(data_of(trie::pack(n.at, 0, n.at.len)));
  out.setPathLength(n.at.len);
  if (n.at.is_leaf()) {
    out.setValueHash(data_of(n.value_hash));
    return;
  }
  uint16_t mask = 0;
  std::vector<uint8_t> ids;
  for (auto& [i, id] : n.kids) {
    mask |= static_cast<uint16_t>(1u << i);
    ids.insert(ids.end(), id.begin(), id.end());
  }
  out.setChildMask(mask);
  out.setChildIds(data_of(ids));
}

/// A value in the packed entries: its length byte, then its bytes.
void put_value(std::vector<uint8_t>& out, const std::vector<uint8_t>& v) {
  out.push_back(static_cast<uint8_t>(v.size()));
  out.insert(out.end(), v.begin(), v.end());
}

void put_value(std::vector<uint8_t>& out,
               const std::optional<std::vector<uint8_t>>& v) {
  if (v)
    put_value(out, *v);
  else
    out.push_back(0); // deleted
}

template <class Entries>
void write_proof(schema::StateProof::Builder out, const Entries& entries,
                 const std::vector<trie::proof_node>& nodes, bool truncated) {
  std::vector<uint8_t> packed;
  packed.reserve(entries.size() * (trie::key_bytes + 1 + 105));
  for (auto& [key, value] : entries) {
    packed.insert(packed.end(), key.begin(), key.end());
    put_value(packed, value);
  }
  out.setEntries(data_of(packed));
  auto proof = out.initProof(static_cast<unsigned>(nodes.size()));
  for (unsigned i = 0; i < nodes.size(); ++i)
    write_node(proof[i], nodes[i]);
  out.setTruncated(truncated);
}

caf::expected<trie::state_key> key_of(capnp::Data::Reader x) {
  auto k = to_fixed<trie::key_bytes>(view_of(x));
  if (!k)
    return make_error(ec::malformed, "a state key is not 33 bytes");
  return *k;
}

caf::expected<trie::proof_node> read_node(schema::ProofNode::Reader in) {
  auto bad = [](const char* why) {
    return make_error(ec::malformed, std::string{"a proof node: "} + why);
  };
  trie::proof_node n;
  auto len = in.getPathLength();
  if (len > trie::key_nibbles)
    return bad("path longer than a key");
  auto packed = in.getPath();
  if (packed.size() != (len + 1u) / 2)
    return bad("path bytes do not match its length");
  n.at.len = len;
  for (unsigned i = 0; i < len; ++i)
    n.at.n[i] = (i % 2) ? (packed[i / 2] & 0x0f) : (packed[i / 2] >> 4);
  if (len % 2 && (packed[len / 2] & 0x0f) != 0)
    return bad("padding nibble not zero");
  if (n.at.is_leaf()) {
    auto h = hash_of(in.getValueHash(), "a leaf's value hash");
    if (!h)
      return h.error();
    if (in.getChildMask() != 0 || in.getChildIds().size() != 0)
      return bad("a leaf with children");
    n.value_hash = *h;
    return n;
  }
  if (in.getValueHash().size() != 0)
    return bad("a branch with a value");
  auto mask = in.getChildMask();
  auto ids = in.getChildIds();
  if (ids.size() != 32u * static_cast<unsigned>(__builtin_popcount(mask)))
    return bad("child ids do not match the mask");
  size_t at = 0;
  for (uint8_t i = 0; i < 16; ++i) {
    if (!(mask & (1u << i)))
      continue;
    hash256 id;
    std::memcpy(id.data(), ids.begin() + at, 32);
    at += 32;
    n.kids.emplace_back(i, id);
  }
  return n;
}

/// Reads a StateProof's entries (as `Entry`: a range proof's values, or a
/// change proof's optional ones) and nodes within the proof limits.
template <class Proof>
caf::expected<Proof> read_proof(schema::StateProof::Reader in, bool changes) {
  Proof out;
  auto nodes = in.getProof();
  if (nodes.size() > 2 * trie::max_path_nodes)
    return make_error(ec::malformed, "a state proof of too many nodes");
  auto packed = view_of(in.getEntries());
  size_t pos = 0;
  size_t count = 0;
  while (pos < packed.size()) {
    if (++count > trie::max_proof_keys)
      return make_error(ec::malformed, "a state proof of more than "
                                         + std::to_string(trie::max_proof_keys)
                                         + " keys");
    if (packed.size() - pos < trie::key_bytes + 1)
      return make_error(ec::malformed, "a state proof's entries are cut short");
    trie::state_key k;
    std::memcpy(k.data(), packed.data() + pos, k.size());
    pos += k.size();
    size_t len = packed[pos++];
    if (packed.size() - pos < len)
      return make_error(ec::malformed, "a state proof's entries are cut short");
    std::vector<uint8_t> value{packed.begin() + static_cast<long>(pos),
                               packed.begin() + static_cast<long>(pos + len)};
    pos += len;
    if constexpr (std::is_same_v<Proof, trie::change_proof>) {
      if (len == 0)
        out.changes.emplace_back(k, std::nullopt);
      else
        out.changes.emplace_back(k, std::move(value));
    } else {
      if (len == 0 || changes)
        return make_error(ec::malformed, "a deletion in a range proof");
      out.entries.emplace_back(k, std::move(value));
    }
  }
  for (auto n : nodes) {
    auto x = read_node(n);
    if (!x)
      return x.error();
    out.proof.push_back(std::move(*x));
  }
  out.truncated = in.getTruncated();
  return out;
}

/// A request's key bound; empty means the first or last key.
caf::expected<trie::state_key> bound_of(capnp::Data::Reader x,
                                        const trie::state_key& empty) {
  if (x.size() == 0)
    return empty;
  return key_of(x);
}

struct writer {
  schema::Envelope::Builder e;

  void operator()(const info_request&) { e.setInfoRequest(); }
  void operator()(const info& x) {
    auto i = e.initInfo();
    i.setChain(x.chain);
    i.setVersion(x.version);
    i.setHeight(x.height);
    i.setTip(data_of(x.tip));
    i.setWork(to_decimal(x.work));
    i.setBase(x.base);
  }
  void operator()(const blocks_request& x) {
    set_range(e.initBlocksRequest(), x.from, x.count);
  }
  void operator()(const blocks& x) {
    auto list = e.initBlocks(static_cast<unsigned>(x.list.size()));
    for (unsigned i = 0; i < x.list.size(); ++i)
      list.set(i, data_of(x.list[i].bytes()));
  }
  void operator()(const hashes_request& x) {
    set_range(e.initHashesRequest(), x.from, x.count);
  }
  void operator()(const hashes& x) {
    auto list = e.initHashes(static_cast<unsigned>(x.list.size()));
    for (unsigned i = 0; i < x.list.size(); ++i)
      list.set(i, data_of(x.list[i]));
  }
  void operator()(const headers_request& x) {
    set_range(e.initHeadersRequest(), x.from, x.count);
  }
  void operator()(const headers& x) {
    auto list = e.initHeaders(static_cast<unsigned>(x.list.size()));
    for (unsigned i = 0; i < x.list.size(); ++i) {
      auto b = header_bytes(x.list[i]);
      list.set(i, capnp::Data::Reader{b.data(), b.size()});
    }
  }
  void operator()(const register_request& x) {
    auto r = e.initRegister();
    if (x.reg)
      write(r, *x.reg);
  }
  void operator()(const peers& x) {
    auto list = e.initPeers(static_cast<unsigned>(x.list.size()));
    for (unsigned i = 0; i < x.list.size(); ++i)
      write(list[i], x.list[i]);
  }
  void operator()(const announce& x) {
    auto r = e.initAnnounce();
    if (x.reg)
      write(r, *x.reg);
  }
  void operator()(const records& x) {
    capnp::FlatArrayMessageReader reader{words_of(x.list),
                                         reader_options(submission_limits)};
    e.setRecords(reader.getRoot<schema::RecordList>());
  }
  void operator()(const block& x) {
    if (x.bytes)
      e.setBlock(data_of(x.bytes->bytes()));
    else
      e.initBlock(0);
  }
  void operator()(const refusal& x) {
    auto r = e.initError();
    r.setCode(static_cast<uint8_t>(x.code));
    r.setReason(x.reason);
  }
  void operator()(const state_range_request& x) {
    auto r = e.initStateRangeRequest();
    r.setRoot(data_of(x.root));
    r.setStart(data_of(x.start));
    r.setEnd(data_of(x.end));
    r.setKeyLimit(x.key_limit);
    r.setByteLimit(x.byte_limit);
  }
  void operator()(const state_range& x) {
    write_proof(e.initStateRange(), x.proof.entries, x.proof.proof,
                x.proof.truncated);
  }
  void operator()(const state_change_request& x) {
    auto r = e.initStateChangeRequest();
    r.setFromRoot(data_of(x.from));
    r.setToRoot(data_of(x.to));
    r.setStart(data_of(x.start));
    r.setEnd(data_of(x.end));
    r.setKeyLimit(x.key_limit);
    r.setByteLimit(x.byte_limit);
  }
  void operator()(const state_change& x) {
    auto c = e.initStateChange();
    if (auto* ch = std::get_if<trie::change_proof>(&x.proof))
      write_proof(c.initChanges(), ch->changes, ch->proof, ch->truncated);
    else {
      auto& r = std::get<trie::range_proof>(x.proof);
      write_proof(c.initRange(), r.entries, r.proof, r.truncated);
    }
  }
  void operator()(const ping&) { e.setPing(); }
  void operator()(const pong&) { e.setPong(); }
  void operator()(const unknown&) {
    // Not sent: an unknown kind has nothing to say. A ping is the nearest
    // harmless thing, and the session never encodes one.
    e.setPing();
  }
};

/// A list reply of kind `Reply`, each entry read by `read_one`; the first
/// entry that does not read fails the whole reply.
template <class Reply, class List, class F>
caf::expected<body> read_list(List in, F read_one) {
  Reply out;
  for (auto x : in) {
    auto y = read_one(x);
    if (!y)
      return y.error();
    out.list.push_back(std::move(*y));
  }
  return body{std::move(out)};
}

caf::expected<body> read_body(schema::Envelope::Reader e) {
  switch (e.which()) {
  case schema::Envelope::INFO_REQUEST:
    return body{info_request{}};
  case schema::Envelope::INFO: {
    auto i = e.getInfo();
    auto tip = hash_of(i.getTip(), "info's tip");
    if (!tip)
      return tip.error();
    auto work = parse_work(i.getWork().cStr());
    if (!work)
      return work.error();
    return body{info{i.getChain().cStr(), i.getVersion().cStr(), i.getHeight(),
                     *tip, *work, i.getBase()}};
  }
  case schema::Envelope::BLOCKS_REQUEST:
    return body{blocks_request{e.getBlocksRequest().getFrom(),
                               e.getBlocksRequest().getCount()}};
  case schema::Envelope::BLOCKS:
    return read_list<blocks>(e.getBlocks(), [](capnp::Data::Reader d) {
      auto b = encoded::copy_of(view_of(d));
      return b ? b : make_error(ec::malformed, "a block of a bad size");
    });
  case schema::Envelope::HASHES_REQUEST:
    return body{hashes_request{e.getHashesRequest().getFrom(),
                               e.getHashesRequest().getCount()}};
  case schema::Envelope::HASHES:
    return read_list<hashes>(e.getHashes(), [](capnp::Data::Reader d) {
      return hash_of(d, "a hash");
    });
  case schema::Envelope::HEADERS_REQUEST:
    return body{headers_request{e.getHeadersRequest().getFrom(),
                                e.getHeadersRequest().getCount()}};
  case schema::Envelope::HEADERS:
    return read_list<headers>(
      e.getHeaders(), [](capnp::Data::Reader d) -> caf::expected<header> {
        if (d.size() != header_size)
          return make_error(ec::malformed, "a header of a bad size");
        auto h = header_from_bytes(view_of(d));
        if (!h)
          return make_error(ec::malformed, "a header that does not read");
        return *h;
      });
  case schema::Envelope::REGISTER:
    return body{register_request{read(e.getRegister())}};
  case schema::Envelope::PEERS:
    return read_list<peers>(e.getPeers(), [](schema::Registration::Reader r) {
      auto x = read(r);
      return x ? x : annotate(x.error(), "a peer in peers: ");
    });
  case schema::Envelope::ANNOUNCE:
    return body{announce{read(e.getAnnounce())}};
  case schema::Envelope::RECORDS: {
    capnp::MallocMessageBuilder copy;
    copy.setRoot(e.getRecords());
    return body{records{freeze(copy)}};
  }
  case schema::Envelope::BLOCK: {
    auto b = encoded::copy_of(view_of(e.getBlock()));
    if (!b)
      return body{block{make_error(ec::malformed, "a block of a bad size")}};
    return body{block{std::move(*b)}};
  }
  case schema::Envelope::ERROR:
    return body{refusal{static_cast<ec>(e.getError().getCode()),
                        e.getError().getReason().cStr()}};
  case schema::Envelope::STATE_RANGE_REQUEST: {
    auto r = e.getStateRangeRequest();
    auto root = hash_of(r.getRoot(), "a state root");
    auto start = bound_of(r.getStart(), trie::min_key());
    auto end = bound_of(r.getEnd(), trie::max_key());
    if (!root || !start || !end)
      return make_error(ec::malformed, "a bad state range request");
    return body{state_range_request{*root, *start, *end, r.getKeyLimit(),
                                    r.getByteLimit()}};
  }
  case schema::Envelope::STATE_RANGE: {
    auto p = read_proof<trie::range_proof>(e.getStateRange(), false);
    if (!p)
      return p.error();
    return body{state_range{std::move(*p)}};
  }
  case schema::Envelope::STATE_CHANGE_REQUEST: {
    auto r = e.getStateChangeRequest();
    auto from = hash_of(r.getFromRoot(), "a state root");
    auto to = hash_of(r.getToRoot(), "a state root");
    auto start = bound_of(r.getStart(), trie::min_key());
    auto end = bound_of(r.getEnd(), trie::max_key());
    if (!from || !to || !start || !end)
      return make_error(ec::malformed, "a bad state change request");
    return body{state_change_request{*from, *to, *start, *end, r.getKeyLimit(),
                                     r.getByteLimit()}};
  }
  case schema::Envelope::STATE_CHANGE: {
    auto c = e.getStateChange();
    if (c.isChanges()) {
      auto p = read_proof<trie::change_proof>(c.getChanges(), true);
      if (!p)
        return p.error();
      return body{state_change{std::move(*p)}};
    }
    auto p = read_proof<trie::range_proof>(c.getRange(), false);
    if (!p)
      return p.error();
    return body{state_change{std::move(*p)}};
  }
  case schema::Envelope::PING:
    return body{ping{}};
  case schema::Envelope::PONG:
    return body{pong{}};
  default:
    return body{unknown{}};
  }
}

} // namespace

const char* kind_name(const body& x) {
  static constexpr const char* names[] = {"infoRequest",
                                          "info",
                                          "blocksRequest",
                                          "blocks",
                                          "hashesRequest",
                                          "hashes",
                                          "register",
                                          "peers",
                                          "announce",
                                          "records",
                                          "block",
                                          "error",
                                          "ping",
                                          "pong",
                                          "stateRangeRequest",
                                          "stateRange",
                                          "stateChangeRequest",
                                          "stateChange",
                                          "headersRequest",
                                          "headers",
                                          "unknown"};
  static_assert(std::size(names) == std::variant_size_v<body>);
  return names[x.index()];
}

bool is_response(const body& x) {
  return std::holds_alternative<info>(x) || std::holds_alternative<blocks>(x)
         || std::holds_alternative<hashes>(x)
         || std::holds_alternative<headers>(x)
         || std::holds_alternative<peers>(x)
         || std::holds_alternative<refusal>(x)
         || std::holds_alternative<pong>(x)
         || std::holds_alternative<state_range>(x)
         || std::holds_alternative<state_change>(x);
}

caf::expected<encoded> encode(const envelope& x) {
  return guarded([&]() -> caf::expected<encoded> {
    capnp::MallocMessageBuilder msg;
    auto e = msg.initRoot<schema::Envelope>();
    e.setId(x.id);
    std::visit(writer{e}, x.what);
    return freeze(msg);
  });
}

caf::expected<envelope> decode_envelope(const encoded& bytes,
                                        size_t max_bytes) {
  if (bytes.size() > max_bytes)
    return make_error(ec::too_large,
                      "envelope of " + std::to_string(bytes.size()) + " bytes");
  return guarded([&]() -> caf::expected<envelope> {
    capnp::FlatArrayMessageReader reader{words_of(bytes),
                                         reader_options({max_bytes})};
    auto e = reader.getRoot<schema::Envelope>();
    auto what = read_body(e);
    if (!what)
      return what.error();
    return envelope{e.getId(), std::move(*what)};
  });
}

caf::error error_of(const refusal& x) {
  auto code = static_cast<uint8_t>(x.code);
  if (code == 0 || code > static_cast<uint8_t>(last_code))
    return make_error(ec::malformed, "peer refused with an unknown code "
                                       + std::to_string(code) + ": "
                                       + x.reason);
  return make_error(x.code, "peer refused: " + x.reason);
}

} // namespace hallmark::wire
