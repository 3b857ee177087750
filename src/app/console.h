// What `sluice run` shows a person while it works: on a terminal a progress line (done, failed,
// in flight, rate, ETA) redrawn in place; otherwise a plain log line every few seconds and one
// line per failed item. Everything goes to stderr, so stdout stays clean for --json.
//
// Event-loop only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>

#include "db/catalog.h"
#include "pipeline/acquire.h"

namespace sluice::app {

namespace asio = boost::asio;

enum class ProgressStyle { kAuto, kBar, kLines, kNone };

class ProgressReporter {
 public:
  // kAuto picks kBar when stderr is a terminal, kLines otherwise.
  ProgressReporter(asio::any_io_executor loop, const pipeline::AcquireProgress& progress,
                   ProgressStyle style);

  // Redraws until Stop(). Spawn it beside the run.
  asio::awaitable<void> Run();
  void Stop();
  // Records an item's outcome (failures are listed by cause at the end; in kLines style each
  // failure is also logged as it happens).
  void OnItem(const db::ItemRecord& item);
  // "failures by cause: http_404 ×3, stalled ×1", or "" when there were none.
  std::string FailureSummary() const;

 private:
  void Draw(bool final);

  const pipeline::AcquireProgress& progress_;
  ProgressStyle style_;
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point start_;
  bool stopped_ = false;
  bool drew_ = false;
  std::map<std::string, size_t> failures_by_cause_;
};

// "1.5 MB", "312 KB", "17 B".
std::string HumanBytes(int64_t bytes);

}  // namespace sluice::app
