#include "runtime/rate_limit.h"

#include <gtest/gtest.h>

namespace sluice::runtime {
namespace {

using namespace std::chrono_literals;

// A clock the test moves by hand.
struct FakeClock {
  SteadyClock::time_point now = SteadyClock::time_point{} + 1h;
  Now AsNow() {
    return [this] { return now; };
  }
};

TEST(TokenBucketTest, BurstUpToTheRateThenQueuedWaits) {
  FakeClock clock;
  TokenBucket requests(60, clock.AsNow());  // one per second
  for (int i = 0; i < 60; ++i) EXPECT_EQ(requests.Reserve(1), 0ms) << i;
  EXPECT_EQ(requests.Reserve(1), 1000ms);
  EXPECT_EQ(requests.Reserve(1), 2000ms) << "callers queue behind each other";
  clock.now += 3s;
  EXPECT_EQ(requests.Reserve(1), 0ms);
  EXPECT_EQ(requests.Reserve(1), 1000ms);
}

TEST(TokenBucketTest, TryTakeRefusesWithoutQueueing) {
  FakeClock clock;
  TokenBucket calls(60, clock.AsNow());
  for (int i = 0; i < 60; ++i) EXPECT_EQ(calls.TryTake(1), 0ms) << i;
  EXPECT_EQ(calls.TryTake(1), 1000ms);
  EXPECT_EQ(calls.TryTake(1), 1000ms) << "a refusal takes nothing";
  clock.now += 1s;
  EXPECT_EQ(calls.TryTake(1), 0ms);
  EXPECT_EQ(TokenBucket(0, clock.AsNow()).TryTake(1000), 0ms) << "0: unlimited";
}

TEST(TokenBucketTest, TokensPerMinuteAndRateChanges) {
  FakeClock clock;
  TokenBucket tokens(10'000, clock.AsNow());
  EXPECT_EQ(tokens.Reserve(5'000), 0ms);
  EXPECT_EQ(tokens.Reserve(10'000), 30'000ms);  // 5,000 short at 10,000 per minute
  tokens.SetRate(0);                            // unlimited
  EXPECT_EQ(tokens.Reserve(1'000'000), 0ms);
  TokenBucket capped(600, clock.AsNow());
  clock.now += 10min;  // a long idle period refills no more than one minute's worth
  for (int i = 0; i < 600; ++i) EXPECT_EQ(capped.Reserve(1), 0ms);
  EXPECT_GT(capped.Reserve(1), 0ms);
}

TEST(TokenBucketTest, ServerReportedRemainingCapsTheBucket) {
  FakeClock clock;
  TokenBucket requests(600, clock.AsNow());  // ten per second
  requests.ObserveRemaining(0);
  EXPECT_EQ(requests.Reserve(1), 100ms);
}

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailuresAndProbesBeforeClosing) {
  FakeClock clock;
  CircuitBreaker breaker({.failure_threshold = 3, .open_for = 30s}, clock.AsNow());
  for (int i = 0; i < 2; ++i) breaker.RecordFailure();
  breaker.RecordSuccess();  // consecutive failures only
  for (int i = 0; i < 2; ++i) breaker.RecordFailure();
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::kClosed);
  EXPECT_EQ(breaker.Admit(), 0ms);
  breaker.RecordFailure();
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::kOpen);
  clock.now += 10s;
  EXPECT_EQ(breaker.Admit(), 20s) << "refused until the cool-down ends";
  clock.now += 20s;
  EXPECT_EQ(breaker.Admit(), 0ms) << "one probe";
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::kHalfOpen);
  EXPECT_GT(breaker.Admit(), 0ms) << "only one probe at a time";
  breaker.RecordFailure();  // the probe failed: open again, for a full period
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::kOpen);
  EXPECT_EQ(breaker.Admit(), 30s);
  clock.now += 30s;
  EXPECT_EQ(breaker.Admit(), 0ms);
  breaker.RecordSuccess();
  EXPECT_EQ(breaker.state(), CircuitBreaker::State::kClosed);
  EXPECT_EQ(breaker.Admit(), 0ms);
  EXPECT_EQ(BreakerStateName(breaker.state()), "closed");
}

}  // namespace
}  // namespace sluice::runtime
