#include "cli/test_hooks.h"

#include <cstdlib>

#include "common/strings.h"

namespace sluice::cli {

void ApplyTestHooks(pipeline::SetRunOptions& options) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): main thread
  if (const char* value = std::getenv("SLUICE_TEST_CRASH_AFTER_STEPS")) {
    int64_t steps = 0;
    if (ParseInt(value, steps)) options.crash_after_steps = steps;
  }
  // NOLINTNEXTLINE(concurrency-mt-unsafe): main thread
  if (const char* value = std::getenv("SLUICE_TEST_STEP_LOG")) options.executed_steps_log = value;
}

}  // namespace sluice::cli
