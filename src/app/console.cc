#include "app/console.h"

#include <unistd.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>

#include "common/strings.h"

namespace sluice::app {

using namespace std::chrono_literals;

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

ProgressReporter::ProgressReporter(asio::any_io_executor loop,
                                   const pipeline::AcquireProgress& progress, ProgressStyle style)
    : progress_(progress), style_(style), timer_(loop), start_(std::chrono::steady_clock::now()) {
  if (style_ == ProgressStyle::kAuto)
    style_ = isatty(STDERR_FILENO) ? ProgressStyle::kBar : ProgressStyle::kLines;
}

asio::awaitable<void> ProgressReporter::Run() {
  while (!stopped_) {
    timer_.expires_after(style_ == ProgressStyle::kBar ? 200ms : 5000ms);
    boost::system::error_code ignored;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    Draw(stopped_);
  }
}

void ProgressReporter::Stop() {
  stopped_ = true;
  timer_.cancel();
}

void ProgressReporter::OnItem(const db::ItemRecord& item) {
  if (item.status == db::ItemStatus::kOk) return;
  ++failures_by_cause_[item.failure_cause];
  if (style_ == ProgressStyle::kLines) {
    std::fprintf(stderr, "failed %s: %s: %s\n", item.url.c_str(), item.failure_cause.c_str(),
                 item.failure_details.c_str());
  }
}

std::string ProgressReporter::FailureSummary() const {
  if (failures_by_cause_.empty()) return "";
  std::string out = "failures by cause:";
  for (const auto& [cause, count] : failures_by_cause_)
    StrAppend(out, " ", cause, " x", count, ",");
  out.pop_back();
  return out;
}

void ProgressReporter::Draw(bool final) {
  if (style_ == ProgressStyle::kNone) return;
  const pipeline::AcquireProgress& p = progress_;
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
    drew_ = true;
    if (final) std::fputc('\n', stderr);
  } else if (!final) {
    std::fprintf(
        stderr,
        "progress: %zu/%zu done (%zu ok, %zu failed), %zu in flight, %.0f items/s, ETA %s\n",
        p.done(), to_do, p.ok, p.failed, p.in_flight, rate, eta.c_str());
  }
  std::fflush(stderr);
}

}  // namespace sluice::app
