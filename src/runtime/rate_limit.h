// Per-provider protection (DESIGN.md §5, §6): token buckets for requests and tokens per
// minute, and a circuit breaker that pauses a provider during an outage.
//
// Both are state machines over an injected clock, so tests drive time directly; callers turn a
// returned wait into a timer. Not thread-safe: use from the event loop.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

#include "runtime/retry.h"

namespace sluice::runtime {

using SteadyClock = std::chrono::steady_clock;
using Now = std::function<SteadyClock::time_point()>;

// A bucket of `per_minute` units refilled continuously, holding at most `burst_seconds` worth
// (default a minute; providers use a fraction of a second so calls are paced, not bursted).
// Reserve(n) takes n units now or in the future: it returns how long the caller must wait
// before using them (0 when available now). Reservations queue behind each other, so callers
// are served in order and the rate holds under any burst.
class TokenBucket {
 public:
  // `per_minute` 0 means unlimited.
  TokenBucket(double per_minute, Now now = SteadyClock::now, double burst_seconds = 60);

  Duration Reserve(double units);
  // Takes `units` when they are available now and returns 0; otherwise takes nothing and returns
  // how long until they would be (a server answering 429 with Retry-After).
  Duration TryTake(double units);
  // Changes the rate while running; reservations already made keep their waits.
  void SetRate(double per_minute);
  // A server said how much is left (x-ratelimit-remaining-*): the bucket holds no more than
  // that now, and refills from there at its rate.
  void ObserveRemaining(double remaining);
  double rate() const { return per_minute_; }

 private:
  void Refill();

  double Capacity() const { return std::max(1.0, per_minute_ * burst_seconds_ / 60); }

  double per_minute_;
  double burst_seconds_;
  Now now_;
  double available_;
  SteadyClock::time_point updated_;
};

struct BreakerOptions {
  // Consecutive failures that open the circuit. Default 5.
  int failure_threshold = 5;
  // How long an open circuit refuses calls before letting one probe through. Default 30 s.
  Duration open_for{30'000};
};

// closed: calls flow; `failure_threshold` consecutive failures open it.
// open: calls are refused (without spending the items' attempts) until `open_for` passed.
// half-open: one probe call is let through; its success closes the circuit, its failure
// reopens it for another `open_for`.
class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  explicit CircuitBreaker(BreakerOptions options = {}, Now now = SteadyClock::now);

  // 0 when a call may go now (in half-open: this caller is the probe); otherwise how long
  // until the circuit may let a probe through.
  Duration Admit();
  void RecordSuccess();
  void RecordFailure();
  State state() const { return state_; }

 private:
  BreakerOptions options_;
  Now now_;
  State state_ = State::kClosed;
  int failures_ = 0;
  bool probing_ = false;
  SteadyClock::time_point opened_at_;
};

std::string_view BreakerStateName(CircuitBreaker::State state);

}  // namespace sluice::runtime
