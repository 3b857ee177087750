#include "runtime/rate_limit.h"

#include <algorithm>
#include <cmath>

namespace sluice::runtime {

TokenBucket::TokenBucket(double per_minute, Now now, double burst_seconds)
    : per_minute_(std::max(0.0, per_minute)),
      burst_seconds_(burst_seconds),
      now_(std::move(now)),
      available_(Capacity()),
      updated_(now_()) {}

void TokenBucket::Refill() {
  SteadyClock::time_point now = now_();
  double minutes = std::chrono::duration<double, std::ratio<60>>(now - updated_).count();
  if (minutes > 0) {
    available_ = std::min(Capacity(), available_ + minutes * per_minute_);
    updated_ = now;
  }
}

Duration TokenBucket::Reserve(double units) {
  if (per_minute_ <= 0) return Duration{0};
  Refill();
  available_ -= units;  // may go negative: the debt is what later callers wait behind
  if (available_ >= 0) return Duration{0};
  double minutes = -available_ / per_minute_;
  return Duration{static_cast<int64_t>(std::ceil(minutes * 60'000))};
}

Duration TokenBucket::TryTake(double units) {
  if (per_minute_ <= 0) return Duration{0};
  Refill();
  if (available_ >= units) {
    available_ -= units;
    return Duration{0};
  }
  double minutes = (units - available_) / per_minute_;
  return Duration{std::max<int64_t>(1, static_cast<int64_t>(std::ceil(minutes * 60'000)))};
}

void TokenBucket::SetRate(double per_minute) {
  Refill();
  per_minute_ = std::max(0.0, per_minute);
  available_ = std::min(available_, Capacity());
}

void TokenBucket::ObserveRemaining(double remaining) {
  Refill();
  if (per_minute_ > 0) available_ = std::min(available_, remaining);
}

CircuitBreaker::CircuitBreaker(BreakerOptions options, Now now)
    : options_(options), now_(std::move(now)) {}

Duration CircuitBreaker::Admit() {
  if (state_ == State::kClosed) return Duration{0};
  SteadyClock::time_point now = now_();
  if (state_ == State::kOpen) {
    auto since = std::chrono::duration_cast<Duration>(now - opened_at_);
    if (since < options_.open_for) return options_.open_for - since;
    state_ = State::kHalfOpen;
    probing_ = false;
  }
  // Half-open: exactly one probe at a time.
  if (probing_) return std::max(Duration{1}, options_.open_for / 10);
  probing_ = true;
  return Duration{0};
}

void CircuitBreaker::RecordSuccess() {
  state_ = State::kClosed;
  failures_ = 0;
  probing_ = false;
}

void CircuitBreaker::RecordFailure() {
  if (state_ == State::kHalfOpen || ++failures_ >= options_.failure_threshold) {
    state_ = State::kOpen;
    opened_at_ = now_();
    probing_ = false;
    failures_ = 0;
  }
}

std::string_view BreakerStateName(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::kClosed:
      return "closed";
    case CircuitBreaker::State::kOpen:
      return "open";
    case CircuitBreaker::State::kHalfOpen:
      return "half_open";
  }
  return "closed";
}

}  // namespace sluice::runtime
