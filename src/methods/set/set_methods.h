// The built-in set methods: they read every item result of a set and return a set result.
// Run on the CPU pool.
#pragma once

#include <memory>

#include "methods/method.h"

namespace sluice::methods {

std::unique_ptr<MethodBase> NewNearDuplicatesMethod();  // set.near_duplicates
std::unique_ptr<MethodBase> NewSummaryMethod();         // set.summary
std::unique_ptr<MethodBase> NewVideoSummaryMethod();    // set.video_summary

}  // namespace sluice::methods
