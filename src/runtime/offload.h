// Runs a plain function on another executor (the CPU or blocking pool) and resumes the awaiting
// coroutine on its own executor with the function's value:
//
//   Result<Rows> rows = co_await RunOn(runtime.blocking(), [&] { return db.Query(...); });
//
// The function must not throw: adapters catch third-party exceptions (DESIGN.md §6). Capturing
// by reference is safe because the awaiting coroutine stays suspended until the value is back.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>
#include <utility>

namespace sluice::runtime {

namespace asio = boost::asio;

template <class Executor, class F>
auto RunOn(Executor&& executor, F fn) -> asio::awaitable<std::invoke_result_t<F&>> {
  using R = std::invoke_result_t<F&>;
  auto initiation = [](auto handler, auto target, F work) {
    auto resume_executor = asio::get_associated_executor(handler);
    auto guard = asio::make_work_guard(resume_executor);
    asio::post(target, [handler = std::move(handler), work = std::move(work),
                        guard = std::move(guard)]() mutable {
      R value = work();
      auto ex = guard.get_executor();
      asio::dispatch(ex, [handler = std::move(handler), value = std::move(value)]() mutable {
        std::move(handler)(std::move(value));
      });
    });
  };
  if constexpr (requires { executor.get_executor(); }) {
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(R)>(
        initiation, asio::use_awaitable, executor.get_executor(), std::move(fn));
  } else {
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(R)>(
        initiation, asio::use_awaitable, executor, std::move(fn));
  }
}

}  // namespace sluice::runtime
