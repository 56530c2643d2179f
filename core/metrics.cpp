#include "core/metrics.hpp"

#include <algorithm>

namespace hallmark::metrics {

void histogram::observe(double seconds) {
  seconds = std::max(seconds, 0.0);
  auto bucket = std::lower_bound(bounds.begin(), bounds.end(), seconds);
  if (bucket != bounds.end())
    buckets_[static_cast<size_t>(bucket - bounds.begin())].fetch_add(
      1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(seconds * 1e9),
                    std::memory_order_relaxed);
}

void histogram::observe_since(std::chrono::steady_clock::time_point start) {
  observe(
    std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count());
}

uint64_t histogram::cumulative(size_t i) const {
  uint64_t n = 0;
  for (size_t b = 0; b <= i && b < buckets_.size(); ++b)
    n += buckets_[b].load(std::memory_order_relaxed);
  return n;
}

double histogram::sum() const {
  return static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
}

registry& node() {
  static registry r;
  return r;
}

} // namespace hallmark::metrics
