// admin_changes: the admin requests that change the node's state: submit
// records, import blocks, force a reorg, stop the node. Each answers its
// connection exactly once, with respond or respond_error
// (actors/admin_broker.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include "actors/admin_broker.hpp"
#include "messages/codec.hpp"

namespace hallmark {

/// Reply.submitted: hands a RecordList to the reservoir (with no origin,
/// so what it admits goes to every link) and replies with the records' ids.
/// @param records an encoded RecordList, as the request carried it.
void serve_submit(admin_broker* self, caf::io::connection_handle hdl,
                  encoded records);

/// Reply.tip: block_processor applies the encoded blocks in order.
void serve_import(admin_broker* self, caf::io::connection_handle hdl,
                  std::vector<encoded> blocks);

/// Reply.tip: block_processor unwinds `depth` blocks and applies them again.
void serve_reorg(admin_broker* self, caf::io::connection_handle hdl,
                 uint32_t depth);

/// Reply.stopping, then SIGTERM to this process: the node shuts down as it
/// does on a signal.
void serve_stop(admin_broker* self, caf::io::connection_handle hdl);

} // namespace hallmark
