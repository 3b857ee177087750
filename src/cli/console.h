// What the commands share: reading a set's URL list, and what they show a person: while a set runs,
// on a terminal a progress line (done, failed, in flight, rate, ETA) redrawn in place, otherwise a
// plain log line every few seconds and one line per failed item; after it, the summary (or one JSON
// object). Progress and messages go to stderr, so stdout stays clean for --json.
//
// Main thread or event loop (one thread).
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "app/compose.h"
#include "common/status.h"
#include "pipeline/set_runner.h"
#include "queue/intake/url_list.h"

namespace sluice::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFatal = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitInterrupted = 130;

// Where a command's data is: the data directory, and the database and store that --db,
// $SLUICE_DB, --store, $SLUICE_STORE or the config file's [backends] name instead of its own.
struct DataConfig {
  std::filesystem::path data = "sluice-data";
  std::string db;
  std::string store;
  std::filesystem::path config;
};

// Prints "sluice: error: MESSAGE" on stderr and returns `code`.
int Fail(int code, const Status& status);

enum class ProgressStyle { kAuto, kBar, kLines, kNone };

// Shows a set run's progress on stderr and remembers its failures by cause.
class ConsoleObserver : public pipeline::SetObserver {
 public:
  // kAuto picks kBar when stderr is a terminal, kLines otherwise. `analysing_line`, when not
  // empty, is printed as the analysis begins.
  explicit ConsoleObserver(ProgressStyle style, std::string analysing_line = {});

  std::chrono::milliseconds progress_interval() const override;
  void OnAcquireProgress(const pipeline::AcquireProgress& progress, bool final) override;
  void OnItemRecorded(const db::ItemRecord& item) override;
  void OnAnalysisStarted(std::string_view set) override;

  // "failures by cause: http_404 x3, stalled x1", or "" when there were none.
  std::string FailureSummary() const;

 private:
  ProgressStyle style_;
  std::string analysing_line_;
  std::chrono::steady_clock::time_point start_;
  std::map<std::string, size_t> failures_by_cause_;
};

// Reads the URL list `list` (a file, or "-" for stdin) for a set named `set`, which is set to
// the list's default name when empty. The list's error, or InvalidArgument for a bad set name.
Result<intake::UrlList> ReadSetList(const std::string& list, std::string& set);

// "1.5 MB", "312 KB", "17 B".
std::string HumanBytes(int64_t bytes);

// The run's summary: the set, this run, failures by cause, analysis, cost, where results are.
// What DataDir::OpenIndexes added to the indexes, or why it could not; nothing when all was there.
void PrintIndexRepairs(const app::DataDir& data, std::FILE* out);

void PrintSummary(const pipeline::SetReport& report, const std::string& failure_summary,
                  const app::DataDir& data);
// The same as one JSON object.
boost::json::object SummaryJson(const pipeline::SetReport& report, const app::DataDir& data);
// Says on stderr when a provider stops answering (the error, and when it is tried again) and
// when it answers again, while the run waits on it.
void ReportProviderOutages(app::MethodStack& stack);

// One line per provider that was called: the provider side of the cost ledger.
void PrintProviderLedger(const app::MethodStack& stack);

// Runs one set with progress on `console`: the first SIGINT/SIGTERM stops acquisition gracefully
// (what finished is recorded; once analysis has begun the process quits at once, its journal
// keeps what finished), a second quits at once; SIGHUP calls `reload` when given. What the
// runner answered (SetRunner::Run).
Result<pipeline::SetReport> RunWithConsole(app::Process& process, pipeline::SetParts parts,
                                           pipeline::SetRunOptions options,
                                           ConsoleObserver& console, std::string set,
                                           std::vector<std::string> urls,
                                           pipeline::PipelineDef definition,
                                           std::function<void()> reload = {});

}  // namespace sluice::cli
