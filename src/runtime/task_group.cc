#include "runtime/task_group.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sluice::runtime {

TaskGroup::TaskGroup(asio::any_io_executor executor)
    : executor_(executor), idle_(executor, asio::steady_timer::time_point::max()) {}

void TaskGroup::Spawn(asio::awaitable<void> task) {
  ++active_;
  auto on_done = [this](std::exception_ptr error) { OnTaskDone(error); };
  asio::co_spawn(executor_, std::move(task), on_done);
}

void TaskGroup::OnTaskDone(std::exception_ptr error) {
  if (error && !first_error_) first_error_ = error;
  if (--active_ == 0) idle_.cancel();
}

asio::awaitable<void> TaskGroup::Wait() {
  while (active_ > 0) {
    // The timer never expires by itself: OnTaskDone cancels it when the group becomes idle.
    boost::system::error_code ignored;
    idle_.expires_at(asio::steady_timer::time_point::max());
    co_await idle_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
  if (first_error_) {
    std::exception_ptr error = first_error_;
    first_error_ = nullptr;
    std::rethrow_exception(error);
  }
}

}  // namespace sluice::runtime
