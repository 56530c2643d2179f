// GET /metrics: the node's metrics in Prometheus's text exposition format
// (version 0.0.4). Gauges come from the node's status and peers, as
// `hallmark status` and `hallmark peers` see them; counters and histograms
// from the process's registry (core/metrics.hpp). docs/api.md lists them.
#pragma once

#include <cstdint>
#include <string>

#include "messages/admin.capnp.h"

namespace hallmark {

/// The exposition: `# HELP` and `# TYPE` lines, then samples, one metric
/// family after another, ending with a newline.
/// @param now unix seconds, for the tip's age.
std::string metrics_text(schema::Status::Reader status,
                         capnp::List<schema::PeerInfo>::Reader peers,
                         uint64_t now);

} // namespace hallmark
