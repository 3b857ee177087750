#include "runtime/runtime.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <thread>
#include <vector>

#include "runtime/limiter.h"
#include "runtime/offload.h"
#include "runtime/retry.h"
#include "runtime/task_group.h"

namespace sluice::runtime {
namespace {

using namespace std::chrono_literals;

asio::awaitable<void> Sleep(Duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
}

asio::awaitable<void> Worker(Limiter& limiter, int& running, int& peak, Duration hold) {
  Limiter::Permit permit = co_await limiter.Acquire();
  ++running;
  peak = std::max(peak, running);
  co_await Sleep(hold);
  --running;
}

asio::awaitable<int> RunWorkers(Runtime& rt, size_t limit, int workers, int& peak) {
  Limiter limiter(rt.loop_executor(), limit);
  TaskGroup group(rt.loop_executor());
  int running = 0;
  for (int i = 0; i < workers; ++i) group.Spawn(Worker(limiter, running, peak, 5ms));
  co_await group.Wait();
  co_return running;
}

TEST(LimiterTest, NeverExceedsLimit) {
  Runtime rt;
  int peak = 0;
  EXPECT_EQ(rt.Run(RunWorkers(rt, 3, 20, peak)), 0);
  EXPECT_EQ(peak, 3);
}

asio::awaitable<int> RaiseWhileRunning(Runtime& rt) {
  Limiter limiter(rt.loop_executor(), 1);
  TaskGroup group(rt.loop_executor());
  int running = 0, peak = 0;
  for (int i = 0; i < 10; ++i) group.Spawn(Worker(limiter, running, peak, 20ms));
  co_await Sleep(5ms);
  limiter.SetLimit(5);  // the waiters are woken without a release
  co_await group.Wait();
  co_return peak;
}

TEST(LimiterTest, RaisingTheLimitWakesWaiters) {
  Runtime rt;
  EXPECT_EQ(rt.Run(RaiseWhileRunning(rt)), 5);
}

asio::awaitable<int> LowerWhileRunning(Runtime& rt) {
  Limiter limiter(rt.loop_executor(), 4);
  TaskGroup group(rt.loop_executor());
  int running = 0, peak_after = 0;
  for (int i = 0; i < 4; ++i) group.Spawn(Worker(limiter, running, peak_after, 10ms));
  co_await Sleep(1ms);
  limiter.SetLimit(1);
  peak_after = 0;
  running = 4;
  int late_running = 0;
  for (int i = 0; i < 4; ++i) group.Spawn(Worker(limiter, late_running, peak_after, 1ms));
  co_await group.Wait();
  co_return peak_after;
}

TEST(LimiterTest, LoweringTheLimitAppliesToNewPermits) {
  Runtime rt;
  EXPECT_EQ(rt.Run(LowerWhileRunning(rt)), 1);
}

asio::awaitable<int> KeyedPeak(Runtime& rt) {
  KeyedLimiter limiter(rt.loop_executor(), 2);
  TaskGroup group(rt.loop_executor());
  int running_a = 0, running_b = 0, peak_a = 0, peak_b = 0;
  auto worker = [&](std::string key, int& running, int& peak) -> asio::awaitable<void> {
    Limiter::Permit permit = co_await limiter.Acquire(key);
    ++running;
    peak = std::max(peak, running);
    co_await Sleep(3ms);
    --running;
  };
  for (int i = 0; i < 6; ++i) {
    auto task_a = worker("a", running_a, peak_a);
    group.Spawn(std::move(task_a));
    auto task_b = worker("b", running_b, peak_b);
    group.Spawn(std::move(task_b));
  }
  co_await group.Wait();
  co_return peak_a * 10 + peak_b;
}

TEST(KeyedLimiterTest, LimitsEachKeySeparately) {
  Runtime rt;
  EXPECT_EQ(rt.Run(KeyedPeak(rt)), 22);
}

asio::awaitable<std::thread::id> OffloadThread(Runtime& rt) {
  std::thread::id pool_thread = co_await RunOn(rt.cpu(), [] { return std::this_thread::get_id(); });
  co_return pool_thread;
}

TEST(OffloadTest, RunsOnPoolAndResumesOnLoop) {
  Runtime rt;
  std::thread::id pool_thread = rt.Run(OffloadThread(rt));
  EXPECT_NE(pool_thread, std::this_thread::get_id());
}

asio::awaitable<int> Throwing() {
  co_await Sleep(1ms);
  throw std::runtime_error("boom");
}

asio::awaitable<int> GroupWithFailure(Runtime& rt, int& finished) {
  TaskGroup group(rt.loop_executor());
  auto bad = []() -> asio::awaitable<void> { co_await Throwing(); };
  group.Spawn(bad());
  auto good = [&]() -> asio::awaitable<void> {
    co_await Sleep(5ms);
    ++finished;
  };
  group.Spawn(good());
  try {
    co_await group.Wait();
  } catch (const std::runtime_error&) {
    co_return 1;
  }
  co_return 0;
}

TEST(TaskGroupTest, WaitsForAllAndRethrowsFirstError) {
  Runtime rt;
  int finished = 0;
  EXPECT_EQ(rt.Run(GroupWithFailure(rt, finished)), 1);
  EXPECT_EQ(finished, 1);
}

TEST(RetryPolicyTest, FullJitterWithinCeilingAndCapped) {
  RetryPolicy policy{.max_attempts = 10, .initial_backoff = 100ms, .max_backoff = 1000ms};
  std::mt19937_64 random(1);
  for (int retry = 1; retry <= 8; ++retry) {
    Duration ceiling = std::min<Duration>(1000ms, Duration(100 << (retry - 1)));
    for (int i = 0; i < 200; ++i) {
      Duration d = policy.Backoff(retry, std::nullopt, random);
      EXPECT_GE(d.count(), 0);
      EXPECT_LE(d, ceiling);
    }
  }
}

TEST(RetryPolicyTest, ServerHintWinsButIsCapped) {
  RetryPolicy policy{.max_retry_after = 5000ms};
  std::mt19937_64 random(1);
  EXPECT_EQ(policy.Backoff(1, Duration(1200), random), 1200ms);
  EXPECT_EQ(policy.Backoff(1, Duration(60'000), random), 5000ms);
  EXPECT_EQ(policy.Backoff(1, Duration(-5), random), 0ms);
}

}  // namespace
}  // namespace sluice::runtime
