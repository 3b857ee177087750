#include "pipeline/set_runner.h"

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>

#include "common/sha256.h"
#include "common/strings.h"
#include "pipeline/journal.h"
#include "runtime/offload.h"
#include "runtime/task_group.h"

namespace sluice::pipeline {

namespace asio = boost::asio;

bool HasRemoteSteps(const PipelineDef& pipeline, const methods::Registry& registry) {
  for (const CycleDef& cycle : pipeline.cycles) {
    for (const auto* steps : {&cycle.item_steps, &cycle.set_steps}) {
      for (const StepDef& step : *steps) {
        const methods::MethodBase* method = registry.Find(step.method);
        if (method && method->placement() == methods::Placement::kEventLoop) return true;
      }
    }
  }
  return false;
}

Status ValidateSetName(std::string_view set) {
  bool ok =
      !set.empty() && set.size() <= 100 && set != "." && set != ".." &&
      std::all_of(set.begin(), set.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      StrCat("set name '", set, "' may only use letters, digits, '.', '_' and '-' (at most 100)"));
}

namespace {

// A set run counted in flight until it ends, however it ends.
struct CountedRun {
  RunMetrics* metrics;
  ~CountedRun() {
    if (metrics) metrics->SetFinished();
  }
};

// Acquisition's downloads, removed when the run ends however it ends.
struct KeptFiles {
  std::map<std::string, std::filesystem::path> files;
  ~KeptFiles() {
    for (const auto& [sha256, file] : files) {
      std::error_code ignored;
      std::filesystem::remove(file, ignored);
    }
  }
};

}  // namespace

SetRunner::SetRunner(SetParts parts, SetRunOptions options, SetObserver* observer)
    : parts_(std::move(parts)), options_(std::move(options)), observer_(observer) {}

SetRunner::~SetRunner() = default;

void SetRunner::Stop() {
  stopped_ = true;
  if (acquirer_) acquirer_->Stop();
}

asio::awaitable<void> SetRunner::ReportProgress(const Acquirer& acquirer) {
  std::chrono::milliseconds interval = observer_->progress_interval();
  asio::steady_timer timer(parts_.runtime->loop_executor());
  progress_timer_ = &timer;
  while (!acquiring_done_ && interval.count() > 0) {
    timer.expires_after(interval);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!acquiring_done_) observer_->OnAcquireProgress(acquirer.progress(), false);
  }
  progress_timer_ = nullptr;
}

asio::awaitable<Result<SetReport>> SetRunner::Run(std::string set, std::vector<std::string> urls,
                                                  PipelineDef pipeline) {
  runtime::Runtime& rt = *parts_.runtime;
  if (options_.only_these_urls && (urls.empty() || options_.lease))
    co_return absl::InvalidArgumentError(
        "analysing chosen items takes at least one URL and no job lease");
  options_.fetch.scratch_dir = parts_.scratch_dir;
  if (parts_.metrics) parts_.metrics->SetStarted();
  CountedRun counted{parts_.metrics};  // finished however the run ends
  // Connections stay warm between items: at least one per item in flight.
  parts_.http->KeepConnections(static_cast<long>(std::max<size_t>(options_.concurrency, 16)));
  SLUICE_CO_ASSIGN_OR_RETURN(std::unique_ptr<http::Fetcher> fetcher,
                             http::Fetcher::Create(*parts_.http, rt, options_.fetch));
  // Downloads stay on this machine until the analysis ends, so that it reads no media back
  // from a remote store.
  Acquirer acquirer(rt, *fetcher, *parts_.store, *parts_.db,
                    {.concurrency = options_.concurrency,
                     .per_host = options_.per_host,
                     .keep_files = !options_.fetch_only});
  if (observer_ || parts_.metrics) {
    acquirer.OnItem([this](const db::ItemRecord& item) {
      if (parts_.metrics) parts_.metrics->ItemRecorded(item);
      if (observer_) observer_->OnItemRecorded(item);
    });
  }
  acquirer_ = &acquirer;
  if (stopped_) acquirer.Stop();
  runtime::TaskGroup side(rt.loop_executor());
  if (observer_) side.Spawn(ReportProgress(acquirer));
  std::vector<std::string> only_urls;
  if (options_.only_these_urls) only_urls = urls;
  Result<AcquireReport> acquired = co_await acquirer.Run(set, std::move(urls));
  KeptFiles kept{acquirer.TakeKeptFiles()};
  acquiring_done_ = true;
  acquirer_ = nullptr;
  if (progress_timer_) progress_timer_->cancel();  // the run does not wait out an interval
  co_await side.Wait();
  SLUICE_CO_RETURN_IF_ERROR(acquired.status());
  if (observer_) observer_->OnAcquireProgress(acquired->run, true);

  SetReport report{.acquire = std::move(*acquired)};
  if (report.interrupted() || options_.fetch_only) co_return report;
  analysing_ = true;
  if (observer_) observer_->OnAnalysisStarted(set);
  SLUICE_CO_ASSIGN_OR_RETURN(report.analysis, co_await Analyse(set, std::move(pipeline),
                                                               std::move(only_urls), &kept.files));
  report.analysed = true;
  co_return report;
}

asio::awaitable<Result<AnalysisReport>> SetRunner::Analyse(
    std::string set, PipelineDef pipeline, std::vector<std::string> only_urls,
    const std::map<std::string, std::filesystem::path>* local_copies) {
  runtime::Runtime& rt = *parts_.runtime;
  // A worker's checkpoints go to the database, where whichever worker takes the set over next
  // finds them; a local run keeps them in a file under the data directory, one of its own when
  // it analyses chosen items (others may be analysing other items of the set).
  auto open_journal = [&]() -> Result<std::unique_ptr<Journal>> {
    if (options_.lease) return Journal::OpenInDatabase(*parts_.db, set);
    if (!only_urls.empty()) {
      std::string names;
      for (const std::string& url : only_urls) StrAppend(names, url, "\n");
      return Journal::OpenFile(JournalPath(
          parts_.data_root, StrCat(set, ".items-", Sha256::HexOf(names).substr(0, 16))));
    }
    return Journal::OpenFile(JournalPath(parts_.data_root, set));
  };
  SLUICE_CO_ASSIGN_OR_RETURN(std::unique_ptr<Journal> journal,
                             co_await runtime::RunOn(rt.blocking(), open_journal));
  // Items waiting on providers hold no CPU: a pipeline with remote steps keeps as many items in
  // flight as the run's concurrency; a local one, one per core (each holds decoded pixels).
  bool remote = HasRemoteSteps(pipeline, *parts_.registry);
  Analyzer analyzer(rt, *parts_.registry, *parts_.store, *parts_.db,
                    {.concurrency = remote ? options_.concurrency : 0,
                     .scratch_dir = parts_.scratch_dir,
                     .local_copies = local_copies,
                     .crash_after_steps = options_.crash_after_steps,
                     .executed_steps_log = options_.executed_steps_log,
                     .indexes = parts_.indexes,
                     .index_copies = parts_.index_copies,
                     .only_urls = std::move(only_urls),
                     .metrics = parts_.metrics,
                     .lease = options_.lease});
  co_return co_await analyzer.Run(std::move(set), std::move(pipeline), *journal);
}

}  // namespace sluice::pipeline
