#include "runtime/limiter.h"

#include <algorithm>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sluice::runtime {

Limiter::Limiter(asio::any_io_executor executor, size_t limit)
    : executor_(executor), limit_(std::max<size_t>(1, limit)) {}

asio::awaitable<Limiter::Permit> Limiter::Acquire() {
  if (waiters_.empty() && in_use_ < limit_) {
    ++in_use_;
    co_return Permit(this);
  }
  auto initiation = [this](auto handler) { waiters_.emplace_back(std::move(handler)); };
  // The slot is counted for us by WakeWaiters before our handler runs.
  co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(initiation,
                                                                        asio::use_awaitable);
  co_return Permit(this);
}

Limiter::Permit Limiter::TryAcquire() {
  if (!waiters_.empty() || in_use_ >= limit_) return Permit();
  ++in_use_;
  return Permit(this);
}

void Limiter::SetLimit(size_t limit) {
  limit_ = std::max<size_t>(1, limit);
  WakeWaiters();
}

void Limiter::Release() {
  --in_use_;
  WakeWaiters();
}

void Limiter::WakeWaiters() {
  while (!waiters_.empty() && in_use_ < limit_) {
    ++in_use_;
    auto handler = std::move(waiters_.front());
    waiters_.pop_front();
    // Posted, not called: the releaser may be deep inside another coroutine's frame.
    asio::post(executor_, std::move(handler));
  }
}

KeyedLimiter::KeyedLimiter(asio::any_io_executor executor, size_t limit_per_key)
    : executor_(executor), limit_(std::max<size_t>(1, limit_per_key)) {}

asio::awaitable<Limiter::Permit> KeyedLimiter::Acquire(const std::string& key) {
  auto& limiter = by_key_[key];
  if (!limiter) limiter = std::make_unique<Limiter>(executor_, limit_);
  co_return co_await limiter->Acquire();
}

void KeyedLimiter::SetLimit(size_t limit_per_key) {
  limit_ = std::max<size_t>(1, limit_per_key);
  for (auto& [key, limiter] : by_key_) limiter->SetLimit(limit_);
}

}  // namespace sluice::runtime
