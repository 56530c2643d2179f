#include "messages/admin_request.hpp"

#include <cstring>
#include <string>

#include "messages/admin.capnp.h"
#include "messages/codec_capnp.hpp"

namespace hallmark {

namespace {

/// A 32-byte id, key or hash, or ec::bad_request naming `what`.
caf::expected<hash256> id32(capnp::Data::Reader d, const char* what) {
  if (d.size() != 32)
    return make_error(ec::bad_request,
                      std::string{what} + " must have 32 bytes");
  hash256 out;
  std::memcpy(out.data(), d.begin(), 32);
  return out;
}

template <class T>
caf::expected<admin_request> with_id(capnp::Data::Reader d, const char* what) {
  auto id = id32(d, what);
  if (!id)
    return id.error();
  return admin_request{T{*id}};
}

caf::expected<admin_request> read(schema::Request::Reader req) {
  using namespace request;
  switch (req.which()) {
  case schema::Request::STATUS:
    return admin_request{status{}};
  case schema::Request::SUBMIT: {
    capnp::MallocMessageBuilder copy;
    copy.setRoot(req.getSubmit());
    return admin_request{submit{freeze(copy)}};
  }
  case schema::Request::ITEM:
    return with_id<item>(req.getItem(), "an item id");
  case schema::Request::OWNER:
    return with_id<owner>(req.getOwner(), "a public key");
  case schema::Request::BLOCK_BY_HEIGHT:
    return admin_request{block_by_height{req.getBlockByHeight()}};
  case schema::Request::BLOCK_BY_HASH:
    return with_id<block_by_hash>(req.getBlockByHash(), "a block hash");
  case schema::Request::RECORD:
    return with_id<record_by_id>(req.getRecord(), "a record id");
  case schema::Request::REORG:
    return admin_request{reorg{req.getReorg()}};
  case schema::Request::IMPORT_BLOCKS: {
    import_blocks out;
    for (auto d : req.getImportBlocks()) {
      auto e = encoded::copy_of(byte_view{d.begin(), d.size()});
      if (!e)
        return e.error();
      out.blocks.push_back(std::move(*e));
    }
    return admin_request{std::move(out)};
  }
  case schema::Request::EXPORT_BLOCKS: {
    auto range = req.getExportBlocks();
    return admin_request{export_blocks{range.getFrom(), range.getCount()}};
  }
  case schema::Request::STOP:
    return admin_request{stop{}};
  case schema::Request::PEERS:
    return admin_request{peers{}};
  case schema::Request::WATCH:
    return admin_request{watch{}};
  case schema::Request::BAN: {
    auto b = req.getBan();
    auto key = id32(b.getKey(), "a public key");
    if (!key)
      return key.error();
    return admin_request{ban{*key, b.getSeconds()}};
  }
  case schema::Request::UNBAN:
    return with_id<unban>(req.getUnban(), "a public key");
  case schema::Request::STATE_PROOF:
    return with_id<state_proof>(req.getStateProof(), "an item id");
  case schema::Request::ASSET:
    return with_id<asset_by_id>(req.getAsset(), "an asset id");
  default:
    return make_error(ec::bad_request, "unknown request kind");
  }
}

struct writer {
  schema::Request::Builder r;

  void operator()(const request::status&) { r.setStatus(); }
  void operator()(const request::submit& x) {
    capnp::FlatArrayMessageReader reader{words_of(x.records),
                                         reader_options({max_admin_frame})};
    r.setSubmit(reader.getRoot<schema::RecordList>());
  }
  void operator()(const request::item& x) { r.setItem(data_of(x.id)); }
  void operator()(const request::owner& x) { r.setOwner(data_of(x.key)); }
  void operator()(const request::block_by_height& x) {
    r.setBlockByHeight(x.height);
  }
  void operator()(const request::block_by_hash& x) {
    r.setBlockByHash(data_of(x.hash));
  }
  void operator()(const request::record_by_id& x) {
    r.setRecord(data_of(x.id));
  }
  void operator()(const request::reorg& x) { r.setReorg(x.depth); }
  void operator()(const request::import_blocks& x) {
    auto list = r.initImportBlocks(static_cast<unsigned>(x.blocks.size()));
    for (unsigned i = 0; i < x.blocks.size(); ++i)
      list.set(i, data_of(x.blocks[i].bytes()));
  }
  void operator()(const request::export_blocks& x) {
    auto range = r.initExportBlocks();
    range.setFrom(x.from);
    range.setCount(x.count);
  }
  void operator()(const request::stop&) { r.setStop(); }
  void operator()(const request::peers&) { r.setPeers(); }
  void operator()(const request::watch&) { r.setWatch(); }
  void operator()(const request::ban& x) {
    auto b = r.initBan();
    b.setKey(data_of(x.key));
    b.setSeconds(x.seconds);
  }
  void operator()(const request::unban& x) { r.setUnban(data_of(x.key)); }
  void operator()(const request::state_proof& x) {
    r.setStateProof(data_of(x.item));
  }
  void operator()(const request::asset_by_id& x) { r.setAsset(data_of(x.id)); }
};

} // namespace

caf::expected<size_t> admin_frame_size(byte_view buf) {
  if (buf.size() < admin_frame_prefix)
    return size_t{0};
  auto len = get_u32(buf.data());
  if (len > max_admin_frame || len % 8 != 0 || len == 0)
    return make_error(ec::malformed, "bad frame length " + std::to_string(len));
  if (buf.size() < admin_frame_prefix + size_t{len})
    return size_t{0};
  return admin_frame_prefix + size_t{len};
}

caf::expected<admin_request> decode_admin_request(const encoded& body) {
  if (body.size() > max_admin_frame)
    return make_error(ec::malformed,
                      "bad frame length " + std::to_string(body.size()));
  if (body.empty())
    return make_error(ec::malformed, "bad frame length 0");
  return guarded([&]() -> caf::expected<admin_request> {
    capnp::FlatArrayMessageReader reader{words_of(body),
                                         reader_options({max_admin_frame})};
    return read(reader.getRoot<schema::Request>());
  });
}

caf::expected<encoded> encode_admin_request(const admin_request& x) {
  return guarded([&]() -> caf::expected<encoded> {
    capnp::MallocMessageBuilder msg;
    std::visit(writer{msg.initRoot<schema::Request>()}, x);
    return freeze(msg);
  });
}

std::vector<uint8_t> admin_frame(const encoded& body) {
  std::vector<uint8_t> out(admin_frame_prefix + body.size());
  put_u32(out.data(), static_cast<uint32_t>(body.size()));
  auto bytes = body.bytes();
  if (!bytes.empty())
    std::memcpy(out.data() + admin_frame_prefix, bytes.data(), bytes.size());
  return out;
}

} // namespace hallmark
