#include "actors/state_server.hpp"

#include <thread>

#include "core/log.hpp"
#include "messages/envelope.hpp"
#include "storage/state_view.hpp"

namespace hallmark {

state_server_state::~state_server_state() = default;

namespace {

using self_ptr = state_server_actor::stateful_pointer<state_server_state>;

/// The view at `root`: a kept one, or a new one kept first.
caf::expected<state_view*> view_at(self_ptr self, const hash256& root) {
  auto& st = self->state;
  for (auto i = st.views.begin(); i != st.views.end(); ++i)
    if ((*i)->root() == root) {
      st.views.splice(st.views.begin(), st.views, i);
      return st.views.front().get();
    }
  auto v = state_view::at(*st.chain, root);
  if (!v)
    return v.error();
  st.views.push_front(std::move(*v));
  while (st.views.size() > st.cfg.max_views)
    st.views.pop_back();
  return st.views.front().get();
}

wire::body refusal_of(const caf::error& err) {
  return wire::refusal{code_of(err) == ec::none ? ec::internal : code_of(err),
                       message_of(err)};
}

wire::body answer(self_ptr self, const wire::body& what) {
  if (auto* r = std::get_if<wire::state_range_request>(&what)) {
    auto v = view_at(self, r->root);
    if (!v)
      return refusal_of(v.error());
    auto p = (*v)->prove_range(r->start, r->end, r->key_limit, r->byte_limit);
    if (!p)
      return refusal_of(p.error());
    if (self->state.cfg.corrupt_proofs && !p->entries.empty())
      p->entries.front().second.back() ^= 0x01;
    return wire::state_range{std::move(*p)};
  }
  if (auto* c = std::get_if<wire::state_change_request>(&what)) {
    auto v = view_at(self, c->to);
    if (!v)
      return refusal_of(v.error());
    auto p = (*v)->prove_change(c->from, c->start, c->end, c->key_limit,
                                c->byte_limit);
    if (!p)
      return refusal_of(p.error());
    if (self->state.cfg.corrupt_proofs)
      if (auto* c = std::get_if<trie::change_proof>(&*p))
        if (!c->changes.empty() && c->changes.front().second)
          c->changes.front().second->back() ^= 0x01;
    return wire::state_change{std::move(*p)};
  }
  return wire::refusal{ec::bad_request, "not a state sync request"};
}

} // namespace

state_server_actor::behavior_type
state_server(self_ptr self, const chain_store* chain, state_server_config cfg) {
  self->state.chain = chain;
  self->state.cfg = cfg;
  return {
    [=](atom::prove, encoded& request) -> caf::result<encoded> {
      auto env = wire::decode_envelope(request, request.size());
      if (!env)
        return env.error();
      if (self->state.cfg.serve_delay.count() > 0)
        std::this_thread::sleep_for(self->state.cfg.serve_delay);
      auto reply = wire::encode(
        wire::envelope{env->id, answer(self, env->what)});
      if (!reply)
        return reply.error();
      return std::move(*reply);
    },
  };
}

} // namespace hallmark
