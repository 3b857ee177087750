// Journal: the append-only record of finished steps of one set — the seed of every result
// document and the checkpoint a restarted run replays (DESIGN.md §4).
//
// Two homes:
//  - a file under the data directory (Journal::OpenFile), for one machine: an appended line is
//    written at once, so it survives kill -9; Sync() makes it survive a machine crash, and the
//    engine calls it in batches. A torn last line (a crash mid-write) is dropped at open.
//  - the database (Journal::OpenInDatabase), for fleets: another worker that takes the set over
//    replays what this one finished. Appended lines are buffered and written by Sync(), so
//    callers sync after every step they want to keep (concurrent syncs share one write).
//
// Append is called on the event loop; Sync and Discard may run on the blocking pool, also
// while other steps append.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "db/catalog.h"

namespace sluice::pipeline {

class Journal {
 public:
  // Opens or creates the journal file at `path` and replays it. FailedPrecondition when it
  // cannot be created or written.
  static Result<std::unique_ptr<Journal>> OpenFile(const std::filesystem::path& path);
  // The set's checkpoints in `catalog`, replayed. Errors are the catalog's.
  static Result<std::unique_ptr<Journal>> OpenInDatabase(db::Catalog& catalog, std::string set);
  virtual ~Journal() = default;

  // The entries that were there when it was opened, in order.
  const std::vector<boost::json::object>& replayed() const { return replayed_; }
  // Entries dropped at open: a torn last line, or lines that were not JSON objects.
  int dropped_lines() const { return dropped_; }
  int64_t appended() const { return appended_; }

  // Records `lines` in order (the file journal: in one write), each the compact text of one
  // JSON object (no newline), as the caller serialised it once for every use it makes of it.
  // Internal / ResourceExhausted when the write fails.
  virtual Status AppendLines(std::span<const std::string> lines) = 0;
  Status Append(const boost::json::object& entry);
  // Everything appended so far is durable when this returns OK.
  virtual Status Sync() = 0;
  // How many appends the engine should let pass between syncs.
  virtual int64_t sync_every() const = 0;
  // The set is committed: the checkpoints have done their job and are removed.
  virtual void Discard() = 0;

 protected:
  // Parses stored lines into replayed_, counting the ones that are not JSON objects.
  void Replay(const std::vector<std::string>& lines);

  std::vector<boost::json::object> replayed_;
  int dropped_ = 0;
  int64_t appended_ = 0;
};

}  // namespace sluice::pipeline
