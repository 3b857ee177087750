// Concurrency limits that can be changed while running (DESIGN.md §5): global in-flight items,
// connections per host, per-provider concurrency.
//
// Limiter is a counting semaphore whose limit may be raised or lowered at any time. Acquire()
// completes in FIFO order with a Permit; dropping the Permit gives the slot back. Lowering the
// limit never revokes permits already handed out; new ones wait until usage falls below it.
//
// KeyedLimiter keeps one Limiter per key (a host name) with a shared, adjustable limit.
//
// Event-loop only: all calls on the executor given at construction.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

namespace sluice::runtime {

namespace asio = boost::asio;

class Limiter {
 public:
  // Holds one slot; returns it on destruction. Move-only.
  class Permit {
   public:
    Permit() = default;
    explicit Permit(Limiter* owner) : owner_(owner) {}
    Permit(Permit&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    Permit& operator=(Permit&& other) noexcept {
      if (this != &other) {
        Reset();
        owner_ = std::exchange(other.owner_, nullptr);
      }
      return *this;
    }
    ~Permit() { Reset(); }
    void Reset() {
      if (owner_) std::exchange(owner_, nullptr)->Release();
    }
    bool held() const { return owner_ != nullptr; }

   private:
    Limiter* owner_ = nullptr;
  };

  // `limit` 0 is treated as 1: a limiter that admits nothing would deadlock its users.
  Limiter(asio::any_io_executor executor, size_t limit);
  Limiter(const Limiter&) = delete;
  Limiter& operator=(const Limiter&) = delete;

  // Completes when a slot is free. Waiters are served first come, first served.
  asio::awaitable<Permit> Acquire();
  // Takes a slot now if one is free.
  Permit TryAcquire();
  void SetLimit(size_t limit);

  size_t limit() const { return limit_; }
  size_t in_use() const { return in_use_; }
  size_t waiting() const { return waiters_.size(); }

 private:
  void Release();
  void WakeWaiters();

  asio::any_io_executor executor_;
  size_t limit_;
  size_t in_use_ = 0;
  std::deque<asio::any_completion_handler<void()>> waiters_;
};

class KeyedLimiter {
 public:
  KeyedLimiter(asio::any_io_executor executor, size_t limit_per_key);
  asio::awaitable<Limiter::Permit> Acquire(const std::string& key);
  // Applies to every key, present and future.
  void SetLimit(size_t limit_per_key);
  size_t limit() const { return limit_; }

 private:
  asio::any_io_executor executor_;
  size_t limit_;
  std::unordered_map<std::string, std::unique_ptr<Limiter>> by_key_;
};

}  // namespace sluice::runtime
