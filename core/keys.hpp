// Key files: one line of hex holding an Ed25519 seed, mode 0600.
#pragma once

#include <string>

#include <caf/expected.hpp>

#include "core/crypto.hpp"

namespace hallmark {

/// Writes a new key file; refuses to overwrite an existing file.
caf::error save_key(const std::string& path, const key_pair& key);

/// Reads a key file; refuses one that others can read.
caf::expected<key_pair> load_key(const std::string& path);

} // namespace hallmark
