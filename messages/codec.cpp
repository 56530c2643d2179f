#include "messages/codec_capnp.hpp"

#include <cstring>

namespace hallmark {

// -- encoded -----------------------------------------------------------------

encoded::encoded(std::vector<uint64_t> words)
    : words_(std::make_shared<std::vector<uint64_t>>(std::move(words))) {}

caf::expected<encoded> encoded::copy_of(byte_view bytes) {
  if (bytes.size() % 8 != 0)
    return make_error(ec::malformed,
                      "a message must be a whole number of 8-byte words");
  std::vector<uint64_t> words(bytes.size() / 8);
  if (!bytes.empty())
    std::memcpy(words.data(), bytes.data(), bytes.size());
  return encoded{std::move(words)};
}

byte_view encoded::bytes() const {
  if (!words_)
    return {};
  return {reinterpret_cast<const uint8_t*>(words_->data()), words_->size() * 8};
}

const uint64_t* encoded::words() const {
  return words_ ? words_->data() : nullptr;
}

size_t encoded::word_count() const {
  return words_ ? words_->size() : 0;
}

bool operator==(const encoded& x, const encoded& y) {
  auto a = x.bytes();
  auto b = y.bytes();
  return a.size() == b.size()
         && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

// -- helpers -----------------------------------------------------------------

capnp::ReaderOptions reader_options(read_limits limits) {
  capnp::ReaderOptions opts;
  // Every word may be visited a few times by lazy readers; beyond that the
  // message is amplifying reads, which the limit refuses.
  opts.traversalLimitInWords = limits.max_bytes / 8 * 4;
  opts.nestingLimit = limits.nesting;
  return opts;
}

encoded freeze(capnp::MessageBuilder& builder) {
  auto flat = capnp::messageToFlatArray(builder);
  std::vector<uint64_t> words(flat.size());
  std::memcpy(words.data(), flat.begin(), flat.size() * sizeof(capnp::word));
  return encoded{std::move(words)};
}

kj::ArrayPtr<const capnp::word> words_of(const encoded& e) {
  return {reinterpret_cast<const capnp::word*>(e.words()), e.word_count()};
}

namespace {

/// All of `x` as Cap'n Proto Text. Text may hold NUL bytes, which the
/// decoder keeps; converting a std::string directly would stop at the first.
capnp::Text::Reader text_of(const std::string& x) {
  return {x.data(), x.size()};
}

template <size_t N>
caf::expected<std::array<uint8_t, N>> fixed(capnp::Data::Reader in,
                                            const char* what) {
  if (in.size() != N)
    return make_error(ec::malformed, std::string{what} + " must have "
                                       + std::to_string(N) + " bytes");
  std::array<uint8_t, N> out;
  std::memcpy(out.data(), in.begin(), N);
  return out;
}

caf::error check_size(const encoded& e, read_limits limits) {
  if (e.size() > limits.max_bytes)
    return make_error(ec::too_large, "message of " + std::to_string(e.size())
                                       + " bytes exceeds the limit of "
                                       + std::to_string(limits.max_bytes));
  if (e.empty())
    return make_error(ec::malformed, "empty message");
  return {};
}

void write(schema::Issue::Builder out, const issue& i) {
  out.setAssetId(data_of(i.asset_id));
  out.setOwner(data_of(i.owner));
  out.setNonce(i.nonce);
  out.setSignature(data_of(i.sig));
}

caf::expected<issue> read(schema::Issue::Reader in) {
  issue i;
  auto asset = fixed<32>(in.getAssetId(), "issue asset id");
  auto owner = fixed<32>(in.getOwner(), "issue owner");
  auto sig = fixed<64>(in.getSignature(), "issue signature");
  if (!asset)
    return asset.error();
  if (!owner)
    return owner.error();
  if (!sig)
    return sig.error();
  i.asset_id = *asset;
  i.owner = *owner;
  i.nonce = in.getNonce();
  i.sig = *sig;
  return i;
}

void write(schema::Header::Builder out, const header& h) {
  out.setVersion(h.version);
  out.setHeight(h.height);
  out.setPrevious(data_of(h.previous));
  out.setMerkleRoot(data_of(h.merkle_root));
  out.setStateRoot(data_of(h.state_root));
  out.setTimestamp(h.timestamp);
  out.setDifficulty(h.difficulty);
  out.setProducer(data_of(h.producer));
  out.setNonce(h.nonce);
}

caf::expected<header> read(schema::Header::Reader in) {
  header h;
  h.version = in.getVersion();
  h.height = in.getHeight();
  auto previous = fixed<32>(in.getPrevious(), "previous hash");
  auto merkle = fixed<32>(in.getMerkleRoot(), "merkle root");
  auto state = fixed<32>(in.getStateRoot(), "state root");
  auto producer = fixed<32>(in.getProducer(), "producer key");
  for (auto* e : {&previous, &merkle, &state, &producer})
    if (!*e)
      return e->error();
  h.previous = *previous;
  h.merkle_root = *merkle;
  h.state_root = *state;
  h.producer = *producer;
  h.timestamp = in.getTimestamp();
  h.difficulty = in.getDifficulty();
  h.nonce = in.getNonce();
  return h;
}

} // namespace

// -- records -----------------------------------------------------------------

void write(schema::Record::Builder out, const record& r) {
  if (auto a = std::get_if<asset>(&r)) {
    auto b = out.initAsset();
    b.setName(text_of(a->name));
    b.setFingerprint(data_of(a->fingerprint));
    auto meta = b.initMetadata(static_cast<unsigned>(a->metadata.size()));
    for (unsigned i = 0; i < a->metadata.size(); ++i) {
      meta[i].setKey(text_of(a->metadata[i].key));
      meta[i].setValue(text_of(a->metadata[i].value));
    }
    b.setRegistrant(data_of(a->registrant));
    b.setSignature(data_of(a->sig));
  } else if (auto batch = std::get_if<issue_batch>(&r)) {
    auto b = out.initIssues();
    auto list = b.initIssues(static_cast<unsigned>(batch->issues.size()));
    for (unsigned i = 0; i < batch->issues.size(); ++i)
      write(list[i], batch->issues[i]);
    b.setAnchor(data_of(batch->anchor));
    b.setWorkNonce(batch->work_nonce);
  } else {
    auto& t = std::get<transfer>(r);
    auto b = out.initTransfer();
    b.setLink(data_of(t.link));
    b.setOwner(data_of(t.owner));
    b.setNewOwner(data_of(t.new_owner));
    b.setSignature(data_of(t.sig));
    if (t.countersig)
      b.setCountersignature(data_of(*t.countersig));
  }
}

caf::expected<record> read(schema::Record::Reader in) {
  switch (in.which()) {
  case schema::Record::ASSET: {
    auto a = in.getAsset();
    asset out;
    auto name = a.getName();
    if (name.size() > max_asset_name)
      return make_error(ec::bad_record, "asset name too long");
    out.name.assign(name.begin(), name.end());
    auto fp = a.getFingerprint();
    if (fp.size() > max_fingerprint)
      return make_error(ec::bad_record, "asset fingerprint too long");
    out.fingerprint.assign(fp.begin(), fp.end());
    auto meta = a.getMetadata();
    if (meta.size() > max_metadata / 2)
      return make_error(ec::bad_record, "too many metadata entries");
    for (auto m : meta) {
      auto k = m.getKey();
      auto v = m.getValue();
      out.metadata.push_back(
        {std::string{k.begin(), k.end()}, std::string{v.begin(), v.end()}});
    }
    auto registrant = fixed<32>(a.getRegistrant(), "asset registrant");
    auto sig = fixed<64>(a.getSignature(), "asset signature");
    if (!registrant)
      return registrant.error();
    if (!sig)
      return sig.error();
    out.registrant = *registrant;
    out.sig = *sig;
    return record{std::move(out)};
  }
  case schema::Record::ISSUES: {
    auto b = in.getIssues();
    issue_batch out;
    auto list = b.getIssues();
    if (list.size() > max_batch_issues)
      return make_error(ec::bad_record, "an issue batch holds at most 100");
    out.issues.reserve(list.size());
    for (auto i : list) {
      auto x = read(i);
      if (!x)
        return x.error();
      out.issues.push_back(*x);
    }
    auto anchor = fixed<32>(b.getAnchor(), "issue anchor");
    if (!anchor)
      return anchor.error();
    out.anchor = *anchor;
    out.work_nonce = b.getWorkNonce();
    return record{std::move(out)};
  }
  case schema::Record::TRANSFER: {
    auto t = in.getTransfer();
    transfer out;
    auto link = fixed<32>(t.getLink(), "transfer link");
    auto owner = fixed<32>(t.getOwner(), "transfer owner");
    auto to = fixed<32>(t.getNewOwner(), "transfer new owner");
    auto sig = fixed<64>(t.getSignature(), "transfer signature");
    if (!link)
      return link.error();
    if (!owner)
      return owner.error();
    if (!to)
      return to.error();
    if (!sig)
      return sig.error();
    out.link = *link;
    out.owner = *owner;
    out.new_owner = *to;
    out.sig = *sig;
    if (t.hasCountersignature() && t.getCountersignature().size() > 0) {
      auto cs = fixed<64>(t.getCountersignature(), "countersignature");
      if (!cs)
        return cs.error();
      out.countersig = *cs;
    }
    return record{std::move(out)};
  }
  default:
    return make_error(ec::malformed, "unknown record kind");
  }
}

void write(schema::Block::Builder out, const block& b) {
  write(out.initHeader(), b.hdr);
  auto list = out.initRecords(static_cast<unsigned>(b.records.size()));
  for (unsigned i = 0; i < b.records.size(); ++i)
    write(list[i], b.records[i]);
}

caf::expected<block> read(schema::Block::Reader in) {
  block out;
  auto h = read(in.getHeader());
  if (!h)
    return h.error();
  out.hdr = *h;
  auto list = in.getRecords();
  if (list.size() > max_block_records)
    return make_error(ec::too_large, "block holds more than 10000 records");
  out.records.reserve(list.size());
  for (auto r : list) {
    auto x = read(r);
    if (!x)
      return x.error();
    out.records.push_back(std::move(*x));
  }
  return out;
}

// -- whole messages ----------------------------------------------------------

encoded encode(const block& b) {
  capnp::MallocMessageBuilder builder;
  write(builder.initRoot<schema::Block>(), b);
  return freeze(builder);
}

encoded encode(const record& r) {
  capnp::MallocMessageBuilder builder;
  write(builder.initRoot<schema::Record>(), r);
  return freeze(builder);
}

encoded encode(const std::vector<record>& rs) {
  capnp::MallocMessageBuilder builder;
  auto list = builder.initRoot<schema::RecordList>().initRecords(
    static_cast<unsigned>(rs.size()));
  for (unsigned i = 0; i < rs.size(); ++i)
    write(list[i], rs[i]);
  return freeze(builder);
}

caf::expected<block> decode_block(const encoded& e, read_limits limits) {
  if (auto err = check_size(e, limits))
    return err;
  return guarded([&]() -> caf::expected<block> {
    capnp::FlatArrayMessageReader reader{words_of(e), reader_options(limits)};
    return read(reader.getRoot<schema::Block>());
  });
}

caf::expected<header> decode_block_header(const encoded& e,
                                          read_limits limits) {
  if (auto err = check_size(e, limits))
    return err;
  return guarded([&]() -> caf::expected<header> {
    capnp::FlatArrayMessageReader reader{words_of(e), reader_options(limits)};
    return read(reader.getRoot<schema::Block>().getHeader());
  });
}

caf::expected<record> decode_record(const encoded& e, read_limits limits) {
  if (auto err = check_size(e, limits))
    return err;
  return guarded([&]() -> caf::expected<record> {
    capnp::FlatArrayMessageReader reader{words_of(e), reader_options(limits)};
    return read(reader.getRoot<schema::Record>());
  });
}

caf::expected<std::vector<record>> decode_records(const encoded& e,
                                                  read_limits limits) {
  if (auto err = check_size(e, limits))
    return err;
  return guarded([&]() -> caf::expected<std::vector<record>> {
    capnp::FlatArrayMessageReader reader{words_of(e), reader_options(limits)};
    auto list = reader.getRoot<schema::RecordList>().getRecords();
    if (list.size() > max_block_records)
      return make_error(ec::too_large, "more than 10000 records at once");
    std::vector<record> out;
    out.reserve(list.size());
    for (auto r : list) {
      auto x = read(r);
      if (!x)
        return x.error();
      out.push_back(std::move(*x));
    }
    return out;
  });
}

} // namespace hallmark
