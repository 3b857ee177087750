#include "runtime/runtime.h"

#include <algorithm>
#include <thread>

namespace sluice::runtime {

Runtime::Runtime(RuntimeOptions options)
    : cpu_threads_(options.cpu_threads ? options.cpu_threads
                                       : std::max<size_t>(1, std::thread::hardware_concurrency())),
      cpu_(cpu_threads_),
      blocking_(std::max<size_t>(1, options.blocking_threads)) {}

Runtime::~Runtime() {
  cpu_.join();
  blocking_.join();
}

}  // namespace sluice::runtime
