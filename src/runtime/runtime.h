// The threads of a sluice process (DESIGN.md §5): one event loop thread that runs every
// coroutine and all network I/O, a CPU pool sized to the cores for hashing/decoding, and a small
// blocking pool for libraries that block (SQLite, libpq, fsync).
//
// Create one Runtime in the composition root; pass its executors down. Run() drives the loop
// on the calling thread until the given coroutine finishes.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <cstddef>
#include <exception>
#include <optional>
#include <utility>

namespace sluice::runtime {

namespace asio = boost::asio;

struct RuntimeOptions {
  // Threads of the CPU pool. Default 0: one per core (std::thread::hardware_concurrency).
  size_t cpu_threads = 0;
  // Threads of the blocking pool. Default 4: enough to overlap an fsync with a SQLite commit.
  size_t blocking_threads = 4;
};

class Runtime {
 public:
  explicit Runtime(RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  asio::io_context& loop() { return loop_; }
  asio::any_io_executor loop_executor() { return loop_.get_executor(); }
  asio::thread_pool& cpu() { return cpu_; }
  asio::thread_pool& blocking() { return blocking_; }
  size_t cpu_threads() const { return cpu_threads_; }

  // Runs `main` on the event loop, driving the loop on the calling thread until `main` has
  // finished and no other work is queued. Returns main's value; rethrows its exception.
  template <class T>
  T Run(asio::awaitable<T> main) {
    std::optional<T> value;
    std::exception_ptr error;
    asio::co_spawn(loop_, std::move(main), [&](std::exception_ptr e, T v) {
      error = e;
      if (!e) value.emplace(std::move(v));
    });
    loop_.run();
    loop_.restart();
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }

 private:
  asio::io_context loop_{1};
  size_t cpu_threads_;
  asio::thread_pool cpu_;
  asio::thread_pool blocking_;
};

}  // namespace sluice::runtime
