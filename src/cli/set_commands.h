// The set commands of the sluice binary: run, demo, results, try, methods, pipeline check.
// Each parses nothing (main.cc does), asks app/ for the composed parts, calls the runner or the
// catalog, prints, and returns the process exit code:
//   0   done (a set was recorded, item failures included)
//   1   fatal: the data directory or database cannot be used, or recording failed
//   2   bad input: arguments, an unreadable or malformed URL list or pipeline file
//   130 interrupted (SIGINT/SIGTERM): finished items are recorded; rerun to continue
#pragma once

#include <filesystem>
#include <string>

#include "cli/console.h"
#include "http/fetcher.h"

namespace sluice::cli {
struct RunConfig {
  // A URL list file, or "-" for standard input.
  std::string list;
  // Default "": the list file's name without extension ("stdin" for "-").
  std::string set;
  std::filesystem::path data = "sluice-data";
  size_t concurrency = 64;
  size_t per_host = 16;
  // Fetch limits and guards; scratch_dir is set from the data directory.
  http::FetchOptions fetch;
  // Print one JSON object on stdout instead of the human summary.
  bool json = false;
  ProgressStyle progress = ProgressStyle::kAuto;
  // A pipeline file (TOML); "" for the built-in default pipeline.
  std::filesystem::path pipeline;
  // Fetch and store only; a later run without it analyses what was stored (nothing refetched).
  bool fetch_only = false;
  // The config file ([providers]); "" for $SLUICE_CONFIG, or the defaults when that is unset.
  std::filesystem::path config;
  // Where objects and result documents go: "" for $SLUICE_STORE, else the data directory;
  // "s3://bucket/prefix" for S3 (DataDir::Open).
  std::string store;
  // The database: "" for $SLUICE_DB, else the config file's backends.db, else
  // <data>/sluice.db; "sqlite://PATH" or "postgres://…".
  std::string db;
};

// Acquires the list, then runs the pipeline over the set and commits it.
int RunSet(RunConfig config);

// Validates a pipeline file against the method specs: 0 and a summary when valid, 2 and
// "FILE:LINE: what is wrong" otherwise.
int CheckPipeline(const std::filesystem::path& file, const std::filesystem::path& config = {});

struct DemoConfig {
  std::filesystem::path data = "sluice-data";
  // Default "": the samples the binary carries, written into <data>/samples (files already
  // there are kept).
  std::filesystem::path samples;
  ProgressStyle progress = ProgressStyle::kAuto;
};

// Serves the sample media on loopback, runs the main job over it and shows where results are.
int RunDemo(DemoConfig config);

struct ResultsConfig {
  std::filesystem::path data = "sluice-data";
  // Default "": list the sets instead of one set's items.
  std::string set;
  // "table" or "jsonl".
  std::string format = "table";
  std::string store;
  std::string db;
  std::filesystem::path config;
};

int ShowResults(ResultsConfig config);

struct TryConfig {
  std::string method;
  std::filesystem::path file;
  // JSON object of parameters; "" for the defaults.
  std::string params;
  // Where artifacts (thumbnails) are stored.
  std::filesystem::path data = "sluice-data";
  std::filesystem::path config;
  // Save the provider exchanges as cassettes in this directory / serve them from it with no
  // network. At most one.
  std::filesystem::path record;
  std::filesystem::path replay;
};

// Runs one method alone on one file and prints its step result as JSON: 0 when the step
// succeeded, 1 when the method failed (the JSON says why), 2 for bad input.
int TryMethod(TryConfig config);

// Lists every registered method with its spec: a table, or one JSON object per line.
int ListMethods(bool json, const std::filesystem::path& config = {});

}  // namespace sluice::cli
