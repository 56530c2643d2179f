#include "client/submit.hpp"

#include <algorithm>

#include <sodium.h>

#include "client/admin_client.hpp"
#include "core/error.hpp"

namespace hallmark {

namespace {

/// A fixed-size field of a reply, or ec::malformed naming `what`.
template <size_t N>
caf::expected<std::array<uint8_t, N>> fixed_of(capnp::Data::Reader data,
                                               const char* what) {
  if (auto x = to_fixed<N>(byte_view{data.begin(), data.size()}))
    return *x;
  return make_error(ec::malformed, std::string{"the node sent a "} + what
                                     + " of " + std::to_string(data.size())
                                     + " bytes");
}

} // namespace

caf::error submit(const std::string& datadir,
                  const std::vector<record>& records) {
  auto reply = ask_node(datadir,
                        [&](admin_client& c) { return c.submit(records); });
  return reply ? caf::error{} : reply.error();
}

caf::expected<issue_batch> make_issue_batch(const std::string& datadir,
                                            const hash256& asset,
                                            uint32_t count,
                                            const key_pair& owner) {
  // The anchor and the work come from the node's view of the chain; the
  // connection closes while the work is solved.
  auto reply = ask_node(datadir, [](admin_client& c) { return c.status(); });
  if (!reply)
    return reply.error();
  auto st = reply->root().getStatus();
  auto tip = fixed_of<32>(st.getTip(), "tip hash");
  if (!tip)
    return tip.error();
  issue_batch batch;
  batch.anchor = *tip;
  auto base = st.getIssueDifficulty();
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t nonce = 0;
    randombytes_buf(&nonce, sizeof(nonce));
    batch.issues.push_back(make_issue(asset, nonce, owner));
  }
  auto difficulty = batch_difficulty(base, batch.issues.size());
  // Expected tries equal the difficulty; 64 times that fails with odds e^-64.
  uint64_t max_tries = difficulty > UINT64_MAX / 64
                         ? UINT64_MAX
                         : std::max<uint64_t>(difficulty * 64, 1 << 20);
  if (!solve_batch(batch, difficulty, max_tries))
    return make_error(ec::bad_proof, "found no free-issue proof in "
                                       + std::to_string(max_tries) + " tries");
  return batch;
}

caf::expected<hash256> latest_record(const std::string& datadir,
                                     const hash256& item) {
  auto reply = ask_node(datadir, [&](admin_client& c) { return c.item(item); });
  if (!reply)
    return reply.error();
  auto provenance = reply->root().getItem().getProvenance();
  if (provenance.size() == 0)
    return make_error(ec::not_found,
                      "item " + to_hex(item) + " has no provenance");
  return fixed_of<32>(provenance[0].getRecordId(), "record id");
}

} // namespace hallmark
