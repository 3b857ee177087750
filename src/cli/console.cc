#include "cli/console.h"

#include <signal.h>
#include <unistd.h>

#include <boost/asio/signal_set.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdlib>
#include <functional>

#include "common/redact.h"
#include "common/strings.h"

namespace sluice::cli {

using namespace std::chrono_literals;

int Fail(int code, const Status& status) {
  std::fprintf(stderr, "sluice: error: %s\n", RedactSecrets(std::string(status.message())).c_str());
  return code;
}

Result<intake::UrlList> ReadSetList(const std::string& list, std::string& set) {
  SLUICE_ASSIGN_OR_RETURN(intake::UrlList urls, intake::ReadUrlListFile(list));
  if (set.empty()) set = intake::DefaultSetName(list);
  SLUICE_RETURN_IF_ERROR(pipeline::ValidateSetName(set));
  return urls;
}

std::string HumanBytes(int64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1000 && unit < 4) {
    value /= 1000;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
  return buffer;
}

ConsoleObserver::ConsoleObserver(ProgressStyle style, std::string analysing_line)
    : style_(style),
      analysing_line_(std::move(analysing_line)),
      start_(std::chrono::steady_clock::now()) {
  if (style_ == ProgressStyle::kAuto)
    style_ = isatty(STDERR_FILENO) ? ProgressStyle::kBar : ProgressStyle::kLines;
}

std::chrono::milliseconds ConsoleObserver::progress_interval() const {
  switch (style_) {
    case ProgressStyle::kBar:
      return 200ms;
    case ProgressStyle::kLines:
      return 5000ms;
    default:
      return 0ms;
  }
}

void ConsoleObserver::OnAnalysisStarted(std::string_view) {
  if (!analysing_line_.empty()) std::fprintf(stderr, "%s\n", analysing_line_.c_str());
}

void ConsoleObserver::OnItemRecorded(const db::ItemRecord& item) {
  if (item.status == db::ItemStatus::kOk) return;
  ++failures_by_cause_[item.failure_cause];
  if (style_ == ProgressStyle::kLines) {
    std::fprintf(stderr, "failed %s: %s: %s\n", RedactSecrets(item.url).c_str(),
                 item.failure_cause.c_str(), RedactSecrets(item.failure_details).c_str());
  }
}

std::string ConsoleObserver::FailureSummary() const {
  if (failures_by_cause_.empty()) return "";
  std::string out = "failures by cause:";
  for (const auto& [cause, count] : failures_by_cause_)
    StrAppend(out, " ", cause, " x", count, ",");
  out.pop_back();
  return out;
}

void ConsoleObserver::OnAcquireProgress(const pipeline::AcquireProgress& p, bool final) {
  if (style_ == ProgressStyle::kNone) return;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = seconds > 0 ? static_cast<double>(p.done()) / seconds : 0;
  size_t to_do = p.to_do();
  std::string eta =
      rate > 0 && to_do > p.done()
          ? StrCat(static_cast<int64_t>(std::ceil(static_cast<double>(to_do - p.done()) / rate)),
                   "s")
          : "-";
  if (style_ == ProgressStyle::kBar) {
    constexpr int kWidth = 24;
    int filled = to_do ? static_cast<int>(kWidth * p.done() / to_do) : kWidth;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r[%s] %zu/%zu  ok %zu  failed %zu  in flight %zu  %.0f/s  %s  ETA %s   ",
                 bar.c_str(), p.done(), to_do, p.ok, p.failed, p.in_flight, rate,
                 HumanBytes(p.bytes).c_str(), eta.c_str());
    if (final) std::fputc('\n', stderr);
  } else if (!final) {
    std::fprintf(
        stderr,
        "progress: %zu/%zu done (%zu ok, %zu failed), %zu in flight, %.0f items/s, ETA %s\n",
        p.done(), to_do, p.ok, p.failed, p.in_flight, rate, eta.c_str());
  }
  std::fflush(stderr);
}

void PrintIndexRepairs(const app::DataDir& data, std::FILE* out) {
  if (data.index_files_fetched > 0)
    std::fprintf(out, "index: fetched %d index files from %s\n", data.index_files_fetched,
                 data.objects().c_str());
  for (const pipeline::IndexRepair& repair : data.index_repairs) {
    if (repair.added > 0)
      std::fprintf(out, "index %s: added %lld %s it was missing\n", repair.name.c_str(),
                   static_cast<long long>(repair.added), repair.hashes ? "hashes" : "embeddings");
  }
  if (!data.index_problem.empty())
    std::fprintf(out, "index: not repaired: %s\n", data.index_problem.c_str());
}

void PrintSummary(const pipeline::SetReport& report, const std::string& failure_summary,
                  const app::DataDir& data) {
  const pipeline::AcquireReport& r = report.acquire;
  const db::SetTotals& totals = report.totals();
  std::printf("set %s: %lld items, %lld ok, %lld failed, %s stored\n", totals.set.c_str(),
              static_cast<long long>(totals.items), static_cast<long long>(totals.ok),
              static_cast<long long>(totals.failed), HumanBytes(totals.bytes).c_str());
  std::printf("this run: %zu fetched ok, %zu failed, %zu already done, %s received in %.2f s\n",
              r.run.ok, r.run.failed, r.run.skipped, HumanBytes(r.run.bytes_received).c_str(),
              r.seconds);
  if (!failure_summary.empty()) std::printf("%s\n", failure_summary.c_str());
  const pipeline::AnalysisReport& a = report.analysis;
  std::printf(
      "analysis: %lld steps run, %lld from the journal, %lld from the cache, %lld failed, %lld not "
      "applicable, %d cycle(s), %.2f s\n",
      static_cast<long long>(a.steps_run), static_cast<long long>(a.steps_replayed),
      static_cast<long long>(a.steps_cached), static_cast<long long>(a.steps_failed),
      static_cast<long long>(a.steps_skipped), a.cycles, a.seconds);
  if (!a.millis_by_method.empty()) {
    std::string by_method;
    for (const auto& [method, millis] : a.millis_by_method) {
      StrAppend(by_method, by_method.empty() ? "" : ", ", method, " ", static_cast<int64_t>(millis),
                " ms");
    }
    std::printf("step time by method (summed over items): %s\n", by_method.c_str());
  }
  for (const auto& [method, cost] : a.cost_by_method) {
    std::printf(
        "cost %s: %lld calls%s, %lld retries, %lld in / %lld out tokens, %.1f s on providers\n",
        method.c_str(), static_cast<long long>(cost.calls),
        cost.inputs > 0 ? StrCat(" carrying ", cost.inputs, " inputs").c_str() : "",
        static_cast<long long>(cost.retries), static_cast<long long>(cost.input_tokens),
        static_cast<long long>(cost.output_tokens), cost.provider_millis / 1000);
  }
  if (a.embeddings > 0) {
    std::printf(
        "embeddings: %lld stored, %lld newly indexed%s%s\n", static_cast<long long>(a.embeddings),
        static_cast<long long>(a.indexed),
        a.index_error.empty() ? "" : "; the index could not take them: ", a.index_error.c_str());
  }
  // Already known: for each image another set holds a near copy of, the nearest.
  const boost::json::value* dups = a.set_results.if_contains("set.near_duplicates");
  const boost::json::value* known = dups ? dups->as_object().if_contains("known") : nullptr;
  for (const boost::json::value& image : known ? known->as_array() : boost::json::array{}) {
    const boost::json::value& nearest = image.at("matches").at(0);
    const boost::json::value& holder = nearest.at("items").at(0);
    std::printf("already known: %s ~ %s in set %s (%lld bits apart)\n",
                std::string(image.at("url").as_string()).c_str(),
                std::string(holder.at("url").as_string()).c_str(),
                std::string(holder.at("set").as_string()).c_str(),
                static_cast<long long>(nearest.at("distance").to_number<int64_t>()));
  }
  PrintIndexRepairs(data, stdout);
  std::printf("objects:  %s\n", data.objects().c_str());
  std::printf("results:  %s/results/%s/ (one JSON document per item)\n", data.root.c_str(),
              totals.set.c_str());
  if (a.embeddings > 0 && data.indexes)
    std::printf("index:    %s/\n", data.indexes->folder().c_str());
  std::printf("database: %s\n", data.database().c_str());
  std::printf("details:  sluice results --data %s --set %s\n", data.root.c_str(),
              totals.set.c_str());
}

boost::json::object SummaryJson(const pipeline::SetReport& report, const app::DataDir& data) {
  const pipeline::AcquireReport& r = report.acquire;
  const db::SetTotals& totals = report.totals();
  const pipeline::AnalysisReport& a = report.analysis;
  boost::json::object analysis{{"steps_run", a.steps_run},
                               {"steps_replayed", a.steps_replayed},
                               {"steps_cached", a.steps_cached},
                               {"steps_failed", a.steps_failed},
                               {"steps_skipped", a.steps_skipped},
                               {"cycles", a.cycles},
                               {"seconds", a.seconds}};
  boost::json::object by_method;
  for (const auto& [method, millis] : a.millis_by_method) by_method[method] = millis;
  analysis["millis_by_method"] = std::move(by_method);
  analysis["ledger"] = pipeline::LedgerJson(totals.set, a);
  return boost::json::object{
      {"analysis", analysis},
      {"set", totals.set},
      {"items", totals.items},
      {"ok", totals.ok},
      {"failed", totals.failed},
      {"bytes", totals.bytes},
      {"seconds", r.seconds},
      {"fetched", r.run.ok},
      {"failed_this_run", r.run.failed},
      {"skipped", r.run.skipped},
      {"bytes_received", r.run.bytes_received},
      {"interrupted", report.interrupted()},
      {"data", data.root.string()},
  };
}

void ReportProviderOutages(app::MethodStack& stack) {
  if (!stack.providers) return;
  for (methods::remote::Provider* provider : stack.providers->All()) {
    provider->gate().OnOutage([](const methods::remote::OutageNotice& notice) {
      if (notice.down) {
        std::fprintf(stderr,
                     "sluice: provider %s is not answering (%s: %s); its calls wait, next try in "
                     "%lld s\n",
                     notice.provider.c_str(), CauseOf(notice.error).c_str(),
                     RedactSecrets(std::string(notice.error.message())).c_str(),
                     static_cast<long long>((notice.retry_in.count() + 999) / 1000));
      } else {
        std::fprintf(stderr, "sluice: provider %s answers again\n", notice.provider.c_str());
      }
    });
  }
}

// One line per provider that was called: the provider side of the cost ledger.
void PrintProviderLedger(const app::MethodStack& stack) {
  if (!stack.providers) return;
  for (methods::remote::Provider* provider : stack.providers->All()) {
    const methods::remote::ProviderStats& s = provider->gate().stats();
    if (s.calls == 0) continue;
    std::printf(
        "provider %s: %lld calls, %lld retries, %lld throttled (429), %lld failed, %lld in / "
        "%lld out tokens, peak %zu in flight, circuit opened %lld time(s)\n",
        provider->config().name.c_str(), static_cast<long long>(s.calls),
        static_cast<long long>(s.retries), static_cast<long long>(s.throttled),
        static_cast<long long>(s.failures), static_cast<long long>(s.input_tokens),
        static_cast<long long>(s.output_tokens), s.peak_in_flight,
        static_cast<long long>(s.breaker_opened));
  }
}

namespace asio = boost::asio;

namespace {

asio::awaitable<Result<pipeline::SetReport>> RunSetOnLoop(
    app::Process& process, pipeline::SetParts parts, pipeline::SetRunOptions options,
    ConsoleObserver& console, std::string set, std::vector<std::string> urls,
    pipeline::PipelineDef definition, std::function<void()> reload) {
  pipeline::SetRunner runner(std::move(parts), std::move(options), &console);
  asio::signal_set signals(process.runtime.loop(), SIGINT, SIGTERM);
  auto on_second_signal = [](boost::system::error_code ec, int) {
    if (!ec) std::_Exit(kExitInterrupted);
  };
  auto on_signal = [&](boost::system::error_code ec, int) {
    if (ec) return;
    if (runner.analysing()) {
      std::fprintf(stderr, "\nsluice: interrupted; finished steps are kept, rerun to continue\n");
      std::_Exit(kExitInterrupted);
    }
    std::fprintf(
        stderr, "\nsluice: interrupted; recording finished items (Ctrl-C again to quit at once)\n");
    runner.Stop();
    signals.async_wait(on_second_signal);
  };
  signals.async_wait(on_signal);
  asio::signal_set hangups(process.runtime.loop(), SIGHUP);
  std::function<void(boost::system::error_code, int)> on_hangup = [&](boost::system::error_code ec,
                                                                      int) {
    if (ec) return;
    if (reload) reload();
    hangups.async_wait(on_hangup);
  };
  hangups.async_wait(on_hangup);
  Result<pipeline::SetReport> report =
      co_await runner.Run(std::move(set), std::move(urls), std::move(definition));
  boost::system::error_code ignored;
  signals.cancel(ignored);  // the loop then runs dry and Runtime::Run returns
  hangups.cancel(ignored);
  co_return report;
}

}  // namespace

Result<pipeline::SetReport> RunWithConsole(app::Process& process, pipeline::SetParts parts,
                                           pipeline::SetRunOptions options,
                                           ConsoleObserver& console, std::string set,
                                           std::vector<std::string> urls,
                                           pipeline::PipelineDef definition,
                                           std::function<void()> reload) {
  return process.runtime.Run(RunSetOnLoop(process, std::move(parts), std::move(options), console,
                                          std::move(set), std::move(urls), std::move(definition),
                                          std::move(reload)));
}

}  // namespace sluice::cli
