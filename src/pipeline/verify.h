// Checks that every stored object still holds the bytes its content key names — what a disk
// error, a hand edit or a bad copy between stores breaks — and, when asked, repairs an object
// by fetching its item's URL again (`sluice verify [--repair]`).
//
// Event-loop only.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "http/fetcher.h"
#include "pipeline/set_runner.h"

namespace sluice::pipeline {

struct VerifyOptions {
  // Only this set's items; "" for every set.
  std::string set;
  // Fetch the URL of an item whose object is missing or damaged again, and store the bytes when
  // they are the ones the key names.
  bool repair = false;
  // Fetch limits and guards of the repair (its scratch_dir is taken from SetParts).
  http::FetchOptions fetch;
};

struct ObjectProblem {
  std::string set;
  std::string url;
  std::string key;
  // "missing" (the store has no such object) or "damaged" (its bytes hash to another digest).
  std::string problem;
  // With repair: "repaired", or why not ("the origin now serves other bytes (sha256 …)", the
  // fetch's error). "" without.
  std::string repair;
};

struct VerifyReport {
  int64_t checked = 0;  // distinct objects read
  int64_t bytes = 0;    // their bytes
  std::vector<ObjectProblem> problems;
  int64_t repaired = 0;
};

// Reads every object of the ok items of `options.set` (or of every set) back from the store and
// hashes it. The catalog's error when it cannot be listed; a store's other errors are reported
// per object as "missing" only for NotFound, otherwise returned. `progress`, when given, is called
// after each object with the count checked so far.
boost::asio::awaitable<Result<VerifyReport>> VerifyObjects(
    SetParts parts, VerifyOptions options, std::function<void(int64_t)> progress = nullptr);

}  // namespace sluice::pipeline
