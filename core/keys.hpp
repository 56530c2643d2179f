// Key files: one line of hex holding an Ed25519 seed, mode 0600. Also the
// private files any secret of the node is kept in (the key, the HTTP
// cookie): made only by their owner's process, readable only by it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "core/crypto.hpp"

namespace hallmark {

/// Writes a new key file; refuses to overwrite an existing file.
caf::error save_key(const std::string& path, const key_pair& key);

/// Reads a key file; refuses one that others can read.
caf::expected<key_pair> load_key(const std::string& path);

/// Creates `path`, which must not exist, mode 0600, holding `text`, synced
/// to disk. ec::io "cannot create WHAT PATH: …" or "cannot write WHAT PATH"
/// (the file is then removed).
/// @param what what the file is, for the messages ("key file").
caf::error write_private_file(const std::string& path, std::string_view text,
                              std::string_view what);

/// The first `max` bytes of `path`, without trailing newlines, carriage
/// returns and spaces. ec::io "cannot open WHAT PATH: …", "WHAT PATH must not
/// be readable by others (chmod 600)" for a file group or others may read or
/// write, or "cannot read WHAT PATH: …" when read(2) fails; an empty file
/// is an empty text (the caller says what it should hold). The read buffer
/// is wiped; the caller wipes the text when it is a secret.
caf::expected<std::string> read_private_file(const std::string& path,
                                             size_t max, std::string_view what);

} // namespace hallmark
