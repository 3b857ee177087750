// Journal: the append-only record of finished steps of one set — the seed of every result
// document and the checkpoint a restarted run replays (DESIGN.md §4).
//
// One JSON object per line, each naming its item. An appended line is written to the file at
// once, so it survives the death of the process (kill -9); Sync() makes everything appended
// durable against a machine crash, and the engine calls it in batches, not per line. A torn last
// line (a crash mid-write) is dropped when the journal is opened.
//
// Event-loop only (Append from one thread); Sync may run on the blocking pool.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::pipeline {

class Journal {
 public:
  // Opens or creates the journal at `path` and replays it. FailedPrecondition when it cannot be
  // created or written.
  static Result<std::unique_ptr<Journal>> Open(const std::filesystem::path& path);
  ~Journal();

  // The entries that were in the file when it was opened, in order.
  const std::vector<boost::json::object>& replayed() const { return replayed_; }
  // Lines dropped at open: a torn last line, or lines that were not JSON objects.
  int dropped_lines() const { return dropped_; }

  // Appends `entry` as one line. Internal / ResourceExhausted when the write fails.
  Status Append(const boost::json::object& entry);
  // fdatasync: everything appended so far survives a power cut.
  Status Sync();
  int64_t appended() const { return appended_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  Journal(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}

  std::filesystem::path path_;
  int fd_;
  std::vector<boost::json::object> replayed_;
  int dropped_ = 0;
  int64_t appended_ = 0;
};

}  // namespace sluice::pipeline
