// The node's HTTP server (docs/api.md): the JSON API, GET /metrics in
// Prometheus's text format, and the live status page at `/`. It runs in the
// `hallmark run` process on cpp-httplib's threads and is a client of the
// node like the `hallmark` commands: each API request asks the admin socket
// (DATADIR/admin.sock) and renders the reply with the same functions as
// `--json` (render.hpp), so both always give the same JSON.
//
// Guards, each answered with a JSON reason and the node serving on:
//   a missing or wrong token where one is required   401
//   more than http_rate requests/s from one address  429 (bursts of 2×)
//   a body over http_max_body_kb                     413
//   a chunked body (its size not known first)        411
//   a request line or header over 8 KiB              414 / 400
//   a malformed request, body or query               400
//   an id that is not 64 hex digits, a wrong method  404 (no such endpoint)
//   a connection silent for 5 s                      closed
//   more event streams than half of http_threads     503 (none with 1)
// and at most http_threads requests are served at once (the rest wait).
#pragma once

#include <memory>

#include <caf/expected.hpp>

#include "node/config.hpp"
#include "node/node.hpp"

namespace hallmark {

/// The HTTP server `cfg` asks for, bound but not yet serving; null when
/// http_listen is empty. Creates DATADIR/.cookie if it is missing.
/// ec::io when the address cannot be bound (and why), or the cookie cannot
/// be read.
caf::expected<std::unique_ptr<node_service>>
make_http_server(const node_config& cfg);

/// Where the status page's files are: $HALLMARK_WEB_DIR, else
/// EXE/../share/hallmark/web (installed), else the build tree's web/
/// (EXE/../web); "" when none holds index.html.
std::string find_web_dir();

} // namespace hallmark
