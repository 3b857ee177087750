#include "runtime/retry.h"

#include <algorithm>

namespace sluice::runtime {

Duration RetryPolicy::Backoff(int retry, std::optional<Duration> server_hint,
                              std::mt19937_64& random) const {
  if (server_hint) return std::clamp(*server_hint, Duration{0}, max_retry_after);
  int doublings = std::clamp(retry - 1, 0, 30);
  Duration ceiling = std::min(max_backoff, initial_backoff * (int64_t{1} << doublings));
  std::uniform_int_distribution<int64_t> pick(0, std::max<int64_t>(0, ceiling.count()));
  return Duration{pick(random)};
}

}  // namespace sluice::runtime
