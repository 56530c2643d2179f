// The thin C++ codec around the Cap'n Proto schemas. `encoded` is how a
// message travels between actors: an owned, immutable, word-aligned buffer,
// shared on copy. Decoding outside bytes always applies explicit traversal and
// nesting limits and turns every Cap'n Proto exception into an `ec`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <caf/meta/load_callback.hpp>

#include "core/chain.hpp"
#include "core/records.hpp"

namespace hallmark {

class encoded {
public:
  encoded() = default;

  /// Takes over whole words of a message.
  explicit encoded(std::vector<uint64_t> words);

  /// Copies bytes into a word-aligned buffer; fails unless the size is a
  /// whole number of words.
  static caf::expected<encoded> copy_of(byte_view bytes);

  byte_view bytes() const;
  const uint64_t* words() const;
  size_t word_count() const;
  size_t size() const { return word_count() * 8; }
  bool empty() const { return word_count() == 0; }

  friend bool operator==(const encoded& x, const encoded& y);

  /// Lets CAF serialise or print the message as its words. Passing one
  /// between local actors copies nothing: the buffer is shared.
  template <class Inspector>
  friend typename Inspector::result_type inspect(Inspector& f, encoded& x) {
    std::vector<uint64_t> words;
    if (x.words_)
      words = *x.words_;
    auto adopt = caf::meta::load_callback([&]() -> caf::error {
      x = encoded{std::move(words)};
      return caf::error{};
    });
    return f(words, adopt);
  }

private:
  std::shared_ptr<std::vector<uint64_t>> words_;
};

/// Largest frame on the admin socket, either way (messages/admin.capnp).
constexpr size_t max_admin_frame = 16 * 1024 * 1024;

/// Decoding limits for bytes from outside.
struct read_limits {
  size_t max_bytes;
  int nesting = 16;
};

constexpr read_limits block_limits{max_block_bytes + 64 * 1024};
constexpr read_limits record_limits{64 * 1024};
constexpr read_limits submission_limits{max_block_bytes + 64 * 1024};

encoded encode(const block& b);
encoded encode(const record& r);
/// A RecordList.
encoded encode(const std::vector<record>& rs);

caf::expected<block> decode_block(const encoded& e,
                                  read_limits limits = block_limits);
/// Only the header of an encoded block (the records are not read): for
/// checking that blocks link before they are decoded whole.
caf::expected<header> decode_block_header(const encoded& e,
                                          read_limits limits = block_limits);
caf::expected<record> decode_record(const encoded& e,
                                    read_limits limits = record_limits);
caf::expected<std::vector<record>>
decode_records(const encoded& e, read_limits limits = submission_limits);

} // namespace hallmark
