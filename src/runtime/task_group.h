// TaskGroup: the owner of spawned coroutines (DESIGN.md §5: every spawned task has an owner).
//
// Spawn() starts a coroutine on the group's executor; Wait() completes once every task spawned
// so far (and any spawned while waiting) has finished. A task that throws does not stop the
// others; Wait() rethrows the first exception once all are done.
//
// Event-loop only: Spawn, Wait and size must be called on the group's executor (one thread).
// The group must outlive its tasks: always co_await Wait() before destroying it.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <exception>

namespace sluice::runtime {

namespace asio = boost::asio;

class TaskGroup {
 public:
  explicit TaskGroup(asio::any_io_executor executor);
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  void Spawn(asio::awaitable<void> task);
  asio::awaitable<void> Wait();
  // Tasks spawned and not yet finished.
  size_t size() const { return active_; }

 private:
  void OnTaskDone(std::exception_ptr error);

  asio::any_io_executor executor_;
  asio::steady_timer idle_;
  size_t active_ = 0;
  std::exception_ptr first_error_;
};

}  // namespace sluice::runtime
