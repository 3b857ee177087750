#include "cli/test_hooks.h"

namespace sluice::cli {

void ApplyTestHooks(pipeline::SetRunOptions&) {}

}  // namespace sluice::cli
