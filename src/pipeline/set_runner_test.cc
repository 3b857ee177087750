// The SetRunner over a loopback origin and a store that keeps nothing locally (as S3): one pass
// from download to commit with no media read back, progress told to the observer, Stop() before
// analysis, and the downloads removed at the end.
#include "pipeline/set_runner.h"

#include <gtest/gtest.h>

#include <fstream>

#include "db/sqlite/sqlite_catalog.h"
#include "methods/builtin.h"
#include "storage/memory/memory_blob_store.h"
#include "testing/fixtures.h"
#include "testing/origin.h"
#include "testing/temp_dir.h"

namespace sluice::pipeline {
namespace {

using sluice::testing::ScriptedOrigin;

// A memory store that counts reads of media objects.
class CountingStore : public storage::MemoryBlobStore {
 public:
  asio::awaitable<Result<std::string>> Get(std::string key,
                                           std::optional<storage::ByteRange> range) override {
    if (key.starts_with("objects/")) ++media_gets;
    return MemoryBlobStore::Get(std::move(key), range);
  }
  int media_gets = 0;
};

class Observer : public SetObserver {
 public:
  std::chrono::milliseconds progress_interval() const override {
    return std::chrono::milliseconds(5);
  }
  void OnAcquireProgress(const AcquireProgress& progress, bool final) override {
    ++progress_calls;
    if (final) final_ok = progress.ok;
  }
  void OnItemRecorded(const db::ItemRecord&) override { ++items; }
  void OnAnalysisStarted(std::string_view) override { analysis_started = true; }
  int progress_calls = 0;
  size_t final_ok = 0;
  int items = 0;
  bool analysis_started = false;
};

class SetRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = std::move(*http::HttpClient::Create(rt_.loop_executor()));
    catalog_ = std::move(*db::SqliteCatalog::Open(dir_.path() / "sluice.db"));
    ASSERT_TRUE(methods::RegisterBuiltinMethods(registry_).ok());
    std::filesystem::path image =
        sluice::testing::MakeTextImage(dir_.path(), "ad.png", "SALE", "120x60");
    std::ifstream in(image, std::ios::binary);
    std::string picture(std::istreambuf_iterator<char>(in), {});
    for (int i = 0; i < 6; ++i) {
      // Three contents, each under two URLs: the same bytes under two names.
      std::string body = picture + "content " + std::to_string(i / 2);
      std::string path = "/img/" + std::to_string(i);
      origin_.Route(path, [body](const http::HttpRequest&, int) {
        return http::HttpReply{.headers = {{"Content-Type", "image/png"}},
                               .body = body,
                               .delay = std::chrono::milliseconds(20)};
      });
      urls_.push_back(origin_.Url(path));
    }
  }

  SetParts Parts() {
    return {.runtime = &rt_,
            .http = client_.get(),
            .store = &store_,
            .db = catalog_.get(),
            .registry = &registry_,
            .data_root = dir_.path(),
            .scratch_dir = dir_.path() / "scratch"};
  }

  SetRunOptions Options() {
    SetRunOptions options{.concurrency = 4};
    options.fetch.addresses.allow_private = true;
    return options;
  }

  PipelineDef Pipeline() {
    std::filesystem::path file = dir_.path() / "pipeline.toml";
    std::ofstream(file) << R"(
[[cycle]]
  [[cycle.item]]
  method = "image.phash"
  [[cycle.set]]
  method = "set.summary"
)";
    Result<PipelineDef> def = LoadPipelineFile(file, registry_);
    EXPECT_TRUE(def.ok()) << def.status();
    return *def;
  }

  runtime::Runtime rt_;
  sluice::testing::TempDir dir_;
  ScriptedOrigin origin_;
  std::unique_ptr<http::HttpClient> client_;
  CountingStore store_;
  std::unique_ptr<db::SqliteCatalog> catalog_;
  methods::Registry registry_;
  std::vector<std::string> urls_;
};

TEST_F(SetRunnerTest, AcquiresAnalysesAndCommitsWithoutReadingMediaBack) {
  Observer observer;
  SetRunner runner(Parts(), Options(), &observer);
  Result<SetReport> report = rt_.Run(runner.Run("s", urls_, Pipeline()));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->analysed);
  EXPECT_EQ(report->totals().items, 6);
  EXPECT_EQ(report->totals().ok, 6);
  EXPECT_EQ(report->analysis.steps_failed, 0);
  EXPECT_EQ(store_.media_gets, 0) << "the downloads were analysed in place";
  EXPECT_EQ(observer.items, 6);
  EXPECT_EQ(observer.final_ok, 6u);
  EXPECT_GE(observer.progress_calls, 2) << "periodic and final";
  EXPECT_TRUE(observer.analysis_started);
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(dir_.path() / "scratch", ec))
    EXPECT_FALSE(entry.is_regular_file()) << entry.path() << " was left behind";
}

TEST_F(SetRunnerTest, ASetResumedElsewhereStreamsItsMediaFromTheStore) {
  SetRunOptions fetch_only = Options();
  fetch_only.fetch_only = true;
  SetRunner first(Parts(), fetch_only);
  Result<SetReport> acquired = rt_.Run(first.Run("s", urls_, Pipeline()));
  ASSERT_TRUE(acquired.ok()) << acquired.status();
  EXPECT_FALSE(acquired->analysed);
  // Another run (another process, as far as the files go) finds everything recorded.
  SetRunner second(Parts(), Options());
  Result<SetReport> report = rt_.Run(second.Run("s", urls_, Pipeline()));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->acquire.run.skipped, 6u);
  EXPECT_EQ(report->analysis.steps_failed, 0);
  EXPECT_EQ(store_.media_gets, 6) << "one streamed read per item";
}

// A progress interval longer than the run does not hold the run: the last wait is cut short
// (the run would otherwise take the hour).
class HourlyObserver : public Observer {
 public:
  std::chrono::milliseconds progress_interval() const override { return std::chrono::hours(1); }
};

TEST_F(SetRunnerTest, ALongProgressIntervalDoesNotHoldTheRun) {
  HourlyObserver observer;
  SetRunOptions options = Options();
  options.fetch_only = true;
  SetRunner runner(Parts(), options, &observer);
  Result<SetReport> report = rt_.Run(runner.Run("s", urls_, Pipeline()));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(observer.progress_calls, 1) << "only the final one";
  EXPECT_EQ(observer.final_ok, 6u);
}

TEST_F(SetRunnerTest, StopBeforeAnalysisRecordsWhatFinishedAndAnalysesNothing) {
  Observer observer;
  SetRunner runner(Parts(), Options(), &observer);
  runner.Stop();
  Result<SetReport> report = rt_.Run(runner.Run("s", urls_, Pipeline()));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->interrupted());
  EXPECT_FALSE(report->analysed);
  EXPECT_FALSE(observer.analysis_started);
}

}  // namespace
}  // namespace sluice::pipeline
