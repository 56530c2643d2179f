// Builders and readers between the C++ model and Cap'n Proto structs, for
// code that composes larger messages (the admin protocol). Readers throw
// kj::Exception on malformed input: call them inside `guarded`.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include "messages/blocks.capnp.h"
#include "messages/codec.hpp"
#include "messages/records.capnp.h"

namespace hallmark {

void write(schema::Record::Builder out, const record& r);
void write(schema::Block::Builder out, const block& b);
caf::expected<record> read(schema::Record::Reader in);
caf::expected<block> read(schema::Block::Reader in);

/// The bytes of `x` as Cap'n Proto Data: a view, `x` must outlive it. The
/// one adapter from the C++ model's bytes (vectors, keys, hashes) to Data.
inline kj::ArrayPtr<const kj::byte> data_of(byte_view x) {
  return {x.data(), x.size()};
}

/// Cap'n Proto Data as a view of bytes, valid while its message is.
inline byte_view view_of(capnp::Data::Reader x) {
  return {x.begin(), x.size()};
}

/// Reader options for `limits` on a message of `bytes` bytes.
capnp::ReaderOptions reader_options(read_limits limits);

/// The flat words of a built message.
encoded freeze(capnp::MessageBuilder& builder);

/// A view of an encoded message as Cap'n Proto words.
kj::ArrayPtr<const capnp::word> words_of(const encoded& e);

/// Runs `f`, turning a Cap'n Proto exception into ec::malformed.
template <class F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const kj::Exception& e) {
    return make_error(ec::malformed, std::string{"undecodable message: "}
                                       + e.getDescription().cStr());
  }
}

} // namespace hallmark
