// A set's step results and cache entries on their way to the commit, kept in an unnamed scratch
// file instead of memory as its items finish: the analysis of a set holds per item only what
// later steps read, whatever the set's size, and the commit reads the rows back in batches
// inside its transaction (db::CommitRows).
//
// Rows appended as replacements (a step a set step asked to run again on a finished item)
// replace the earlier rows of the same (url, method). The file has no name (unlinked at once), so
// nothing is left behind however the process ends. Not thread-safe: the analysis appends from its
// event-loop thread and the commit reads from the blocking pool after every append.
#pragma once

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "db/catalog.h"

namespace sluice::pipeline {

class CommitSpill : public db::CommitRows {
 public:
  // An empty spill in a file created in `dir`. Errors: the directory's (cannot create the file).
  static Result<std::unique_ptr<CommitSpill>> Create(const std::filesystem::path& dir);
  ~CommitSpill() override;

  // Adds rows; with `replacing`, its step rows replace those appended before for the same (url,
  // method). Errors: the file's (ResourceExhausted for a full disk).
  Status Append(const std::vector<db::StepRow>& steps, const std::vector<db::CachedStep>& cache,
                bool replacing = false);

  Status Rewind() override;
  // Batches of up to kBatchRows rows of either kind, in the order appended, leaving out the rows
  // replaced by a later one. Errors: a read failure or a line that is not a row (DataLoss).
  Result<bool> Next(std::vector<db::StepRow>& steps, std::vector<db::CachedStep>& cache) override;

  int64_t rows() const { return rows_; }
  int64_t bytes() const { return bytes_; }
  static constexpr size_t kBatchRows = 2000;

 private:
  CommitSpill(std::FILE* file, std::filesystem::path dir);
  Status FlushBuffer();

  std::FILE* file_;
  std::filesystem::path dir_;  // for messages
  std::string buffer_;         // appended lines not yet written
  bool reading_ = false;
  int64_t rows_ = 0, bytes_ = 0, line_ = 0, read_line_ = 0;
  // For each (url, method) appended as a replacement, the line of its last row.
  std::map<std::pair<std::string, std::string>, int64_t> replaced_;
};

}  // namespace sluice::pipeline
