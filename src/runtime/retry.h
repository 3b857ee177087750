// The one retry policy of sluice (DESIGN.md §6): exponential backoff with full jitter, a server's
// Retry-After honoured when given, every wait capped.
//
// Thread-safe: RetryPolicy is a value; Backoff takes the random source from the caller.
#pragma once

#include <chrono>
#include <optional>
#include <random>

namespace sluice::runtime {

using Duration = std::chrono::milliseconds;

struct RetryPolicy {
  // Attempts in total, the first included. Default 4: three retries.
  int max_attempts = 4;
  // Base of the exponential: retry n waits uniform(0, min(max_backoff, initial_backoff * 2^n)).
  Duration initial_backoff{250};
  // Cap of the jittered exponential wait. Default 30 s.
  Duration max_backoff{30'000};
  // Cap of a server-requested wait (Retry-After). Longer requests are cut to this. Default 120 s.
  Duration max_retry_after{120'000};

  // Wait before retry number `retry` (1 for the first retry). With a server hint the hint wins,
  // capped by max_retry_after; otherwise full jitter.
  Duration Backoff(int retry, std::optional<Duration> server_hint, std::mt19937_64& random) const;
};

}  // namespace sluice::runtime
