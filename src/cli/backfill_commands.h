// The backfill commands of the sluice binary: `backfill plan|run|load` over images already staged
// in the store (pipeline/backfill.h). Parse nothing (main.cc does), call the backfill, print,
// return the exit code (0 done, 1 fatal, 2 bad input).
#pragma once

#include <string>
#include <vector>

#include "cli/index_commands.h"

namespace sluice::cli {

struct BackfillConfig {
  DataConfig where;
  std::string action;    // "plan", "run", "load"
  std::string manifest;  // a key of the store, or s3://BUCKET/PREFIX/KEY under it
  int64_t shard_size = 10000;
  // run: the shard; -1 for $JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or
  // $AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch array job).
  int64_t shard = -1;
  std::vector<std::string> methods = {"image.phash", "image.embedding", "image.safety"};
  int64_t chunk_size = 1000;
  size_t in_flight = 0;
  // load: sets are named "<set_prefix>-NNNNN"; "" for the manifest's file name.
  std::string set_prefix;
  double memory_budget_mb = 4096;
  bool json = false;
};
int Backfill(BackfillConfig config);

}  // namespace sluice::cli
