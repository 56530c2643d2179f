#include "messages/envelope.hpp"

#include "messages/codec_capnp.hpp"
#include "messages/registration_capnp.hpp"
#include "messages/wire.capnp.h"

namespace hallmark::wire {

namespace {

kj::ArrayPtr<const kj::byte> data_of(byte_view x) {
  return {x.data(), x.size()};
}

byte_view view_of(capnp::Data::Reader x) {
  return {x.begin(), x.size()};
}

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
                     *tip, *work}};
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
  static constexpr const char* names[] = {
    "infoRequest", "info",     "blocksRequest", "blocks",   "hashesRequest",
    "hashes",      "register", "peers",         "announce", "records",
    "block",       "error",    "ping",          "pong",     "unknown"};
  static_assert(std::size(names) == std::variant_size_v<body>);
  return names[x.index()];
}

bool is_response(const body& x) {
  return std::holds_alternative<info>(x) || std::holds_alternative<blocks>(x)
         || std::holds_alternative<hashes>(x)
         || std::holds_alternative<peers>(x)
         || std::holds_alternative<refusal>(x)
         || std::holds_alternative<pong>(x);
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
