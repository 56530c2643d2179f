// verifier: checks blocks' own rules and their signatures, one actor per
// core, so block_processor's signature work runs on all cores.
#pragma once

#include "actors/actors.hpp"

namespace hallmark {

struct verifier_state {
  // Not an aggregate: CAF would try to build it from the actor pointer.
  verifier_state() = default;
  static inline const char* name = "verifier";
};

/// Checks slices of blocks: check_block on each block that starts in the
/// slice, and the signatures of the slice's records.
verifier_actor::behavior_type
verifier(verifier_actor::stateful_pointer<verifier_state> self);

/// Splits `blocks` into `parts` jobs of about equal record counts. Blocks
/// whose `assumed` entry is true (ancestors of the block assumed valid)
/// get segments that skip the signatures.
std::vector<verify_job>
split_jobs(std::shared_ptr<const std::vector<block>> blocks, size_t parts,
           const std::vector<bool>& assumed = {});

} // namespace hallmark
