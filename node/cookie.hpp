// The HTTP API's token: 32 random bytes as 64 hex digits in DATADIR/.cookie,
// mode 0600, written by `hallmark init` (and by `hallmark run` for a data
// directory made before there was one). Whoever can read the file may use
// the API, as with bitcoind's `.cookie`; unlike bitcoind's it lasts across
// restarts, so a scraper can be configured with it once. To change it,
// delete the file and restart the node.
#pragma once

#include <string>
#include <string_view>

#include <caf/expected.hpp>

namespace hallmark {

/// The token in the cookie at `path`, creating the file if it is missing.
/// ec::io if it cannot be created or read, or is readable by others.
caf::expected<std::string> ensure_cookie(const std::string& path);

/// Whether `given` is `token`, compared in constant time.
bool token_matches(std::string_view given, std::string_view token);

/// Whether the HTTP API asks every request for the token: always with
/// http_auth = always; with auto, unless `host` (http_listen's host, an IP
/// address or "localhost") is a loopback address (127.0.0.0/8, ::1). Any
/// other host, 0.0.0.0 and :: included, reaches beyond this machine.
bool http_token_required(std::string_view http_auth, const std::string& host);

} // namespace hallmark
