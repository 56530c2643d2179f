#include "actors/admin_changes.hpp"

#include <chrono>
#include <csignal>
#include <unistd.h>

#include "core/log.hpp"
#include "messages/codec_capnp.hpp"

namespace hallmark {

namespace {

using caf::io::connection_handle;

/// Sends `req` to block_processor and replies with the tip its report names.
template <class... Ts>
void apply_and_reply_tip(admin_broker* self, connection_handle hdl,
                         Ts&&... req) {
  self
    ->request(self->state.deps.processor, std::chrono::minutes{10},
              std::forward<Ts>(req)...)
    .then(
      [=](apply_report& rep) {
        respond(self, hdl, [&](schema::Reply::Builder r) {
          set_tip(r, rep.height, rep.tip);
        });
      },
      fail_with(self, hdl));
}

} // namespace

void serve_submit(admin_broker* self, connection_handle hdl, encoded records) {
  // Submitted here, so no origin: the reservoir publishes what it admits to
  // every link.
  self
    ->request(self->state.deps.pool, std::chrono::seconds{60}, atom::submit_v,
              std::move(records), caf::actor_addr{})
    .then(
      [=](std::vector<hash256>& ids) {
        respond(self, hdl, [&](schema::Reply::Builder r) {
          auto out = r.initSubmitted(static_cast<unsigned>(ids.size()));
          for (unsigned i = 0; i < ids.size(); ++i)
            out.set(i, data_of(ids[i]));
        });
      },
      fail_with(self, hdl));
}

void serve_import(admin_broker* self, connection_handle hdl,
                  std::vector<encoded> blocks) {
  apply_and_reply_tip(self, hdl, atom::blocks_v, std::move(blocks), false);
}

void serve_reorg(admin_broker* self, connection_handle hdl, uint32_t depth) {
  apply_and_reply_tip(self, hdl, atom::reorg_v, depth);
}

void serve_stop(admin_broker* self, connection_handle hdl) {
  log_info("admin", "stop requested over the admin socket");
  respond(self, hdl, [](schema::Reply::Builder r) { r.setStopping(); });
  ::kill(::getpid(), SIGTERM);
}

} // namespace hallmark
