// tip_board: the chain's tip as block_processor last committed it, for
// readers that must answer without waiting behind a batch being verified
// and applied (the admin's `status`). block_processor is its one writer;
// readers get a copy. The only state actors share besides LMDB, and only a
// snapshot: nothing decides on it.
#pragma once

#include <mutex>
#include <optional>

#include "actors/actors.hpp"

namespace hallmark {

class tip_board {
public:
  /// Replaces the snapshot (block_processor, after each commit).
  void publish(const chain_tip& tip) {
    std::lock_guard<std::mutex> guard{mutex_};
    tip_ = tip;
  }

  /// The last snapshot; nothing before the first publish.
  std::optional<chain_tip> read() const {
    std::lock_guard<std::mutex> guard{mutex_};
    return tip_;
  }

private:
  mutable std::mutex mutex_;
  std::optional<chain_tip> tip_;
};

} // namespace hallmark
