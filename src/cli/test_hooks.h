// A link-time test seam: the shipped `sluice` links no_test_hooks.cc, which leaves a run's
// options alone; the binary the tests run (`sluice-with-test-hooks`) links test_hooks.cc, which
// reads SLUICE_TEST_CRASH_AFTER_STEPS and SLUICE_TEST_STEP_LOG into them (see
// pipeline::AnalyzeOptions). No user's binary reads those variables.
#pragma once

#include "pipeline/set_runner.h"

namespace sluice::cli {

void ApplyTestHooks(pipeline::SetRunOptions& options);

}  // namespace sluice::cli
