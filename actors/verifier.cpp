#include "actors/verifier.hpp"
#include "core/metrics.hpp"

#include <caf/typed_event_based_actor.hpp>

namespace hallmark {

verifier_actor::behavior_type
verifier(verifier_actor::stateful_pointer<verifier_state>) {
  return {
    [](atom::verify, const verify_job& job) -> verify_verdict {
      auto started = std::chrono::steady_clock::now();
      auto timed = [&](verify_verdict v) {
        metrics::node().verify_seconds.observe_since(started);
        return v;
      };
      for (auto& seg : job.segments) {
        auto& b = (*job.blocks)[seg.block];
        caf::error err;
        // A block's own rules are checked by the segment holding its first
        // record (an empty block has one empty segment).
        if (seg.first == 0)
          err = check_block(b);
        if (!err && seg.signatures)
          err = check_signatures(b, seg.first, seg.last);
        if (err)
          return timed(verify_verdict{seg.block, std::move(err)});
      }
      return timed(verify_verdict{});
    },
  };
}

std::vector<verify_job>
split_jobs(std::shared_ptr<const std::vector<block>> blocks, size_t parts,
           const std::vector<bool>& assumed) {
  size_t total = 0;
  for (auto& b : *blocks)
    total += b.records.size();
  size_t per_job = std::max<size_t>(1, (total + std::max<size_t>(parts, 1) - 1)
                                         / std::max<size_t>(parts, 1));
  std::vector<verify_job> jobs;
  verify_job cur{blocks, {}};
  size_t in_job = 0;
  for (size_t bi = 0; bi < blocks->size(); ++bi) {
    size_t n = (*blocks)[bi].records.size();
    bool signatures = bi >= assumed.size() || !assumed[bi];
    if (n == 0)
      cur.segments.push_back({bi, 0, 0, signatures});
    for (size_t ri = 0; ri < n;) {
      // A full job is closed only when more records follow, so empty blocks
      // at the end join the last job instead of making one more than `parts`.
      if (in_job == per_job) {
        jobs.push_back(std::move(cur));
        cur = verify_job{blocks, {}};
        in_job = 0;
      }
      size_t take = std::min(n - ri, per_job - in_job);
      cur.segments.push_back({bi, ri, ri + take, signatures});
      ri += take;
      in_job += take;
    }
  }
  if (!cur.segments.empty())
    jobs.push_back(std::move(cur));
  return jobs;
}

} // namespace hallmark
