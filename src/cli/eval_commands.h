// sluice eval: runs a pipeline over the quality corpus (bench/quality/make_corpus.py) and
// scores its results against the corpus's truth (quality/corpus_scores.h). Exit codes as the
// other commands', and:
//   3   a score fell below its floor (or rose above its ceiling) in --floors
#pragma once

#include <filesystem>

#include "cli/console.h"

namespace sluice::cli {

inline constexpr int kExitBelowFloor = 3;

struct EvalConfig {
  // The corpus folder: truth.json and the files it names.
  std::filesystem::path corpus;
  // Default "": the built-in default pipeline (local methods).
  std::filesystem::path pipeline;
  // Where the scores go as JSON ("" for nowhere, "-" for stdout instead of the table).
  std::filesystem::path json;
  // The floors to hold the scores to ({"min": {...}, "max": {...}}); "" for none.
  std::filesystem::path floors;
  ProgressStyle progress = ProgressStyle::kAuto;
};

// Runs the pipeline over every file of the corpus as one set, in a fresh data directory
// (<corpus>/eval-data, replaced each run so the scores are this binary's), prints the scores
// and checks the floors.
int RunEval(EvalConfig config);

}  // namespace sluice::cli
