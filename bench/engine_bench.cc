// Google Benchmark: the pipeline engine's own cost per step, and each local method's cost.
//
//   BM_EngineNoOpStep/N/C      a no-op item method over N items, C at once, through the Analyzer
//                              (wave scheduling, CPU-pool hop, step key, journal append, result
//                              document, commit). Reports CPU µs per step for the process.
//   BM_DecodeImage             decoding one 800x450 ad (once per item, shared by its steps)
//   BM_Method/<name>           one local method on an already decoded image
//
// Run: build/release/bench/engine_bench (see bench/README.md).
#include <benchmark/benchmark.h>
#include <time.h>

#include <filesystem>

#include "common/sha256.h"
#include "db/sqlite/sqlite_catalog.h"
#include "methods/builtin.h"
#include "methods/execute.h"
#include "methods/registry.h"
#include "methods/runner.h"
#include "pipeline/analyze.h"
#include "storage/local/local_blob_store.h"
#include "testing/fixtures.h"
#include "testing/temp_dir.h"

namespace sluice {
namespace {

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

class NoOp : public methods::Method {
 public:
  explicit NoOp(int n) : spec_{.name = "bench.noop" + std::to_string(n), .inputs = {"file"}} {}
  const methods::MethodSpec& spec() const override { return spec_; }
  Result<methods::MethodOutput> Run(const methods::ItemContext&,
                                    const methods::json::object&) const override {
    return methods::MethodOutput{.value = methods::json::object{}};
  }

 private:
  methods::MethodSpec spec_;
};

void BM_EngineNoOpStep(benchmark::State& state) {
  const auto items = static_cast<int>(state.range(0));
  const auto steps_per_item = static_cast<int>(state.range(2));
  for (auto _ : state) {
    state.PauseTiming();
    // Objects on tmpfs when TMPDIR says so: the engine, not the disk, is measured.
    testing::TempDir dir;
    runtime::Runtime rt;
    methods::Registry registry;
    pipeline::PipelineDef def{.name = "noop", .cycles = {{}}};
    for (int m = 0; m < steps_per_item; ++m) {
      registry.ReplaceForTest(std::make_unique<NoOp>(m));
      def.cycles[0].item_steps.push_back({.method = "bench.noop" + std::to_string(m)});
    }
    auto store = std::move(*storage::LocalBlobStore::Create(dir.path() / "data", rt.blocking()));
    auto catalog = std::move(*db::SqliteCatalog::Open(dir.path() / "data" / "sluice.db"));
    std::vector<storage::BlobWrite> objects;
    std::vector<db::ItemRecord> records;
    for (int i = 0; i < items; ++i) {
      std::string bytes = std::to_string(i);
      std::string sha = Sha256::HexOf(bytes);
      objects.push_back({storage::ContentKey(sha), bytes});
      records.push_back({.url = "http://bench/" + std::to_string(i),
                         .status = db::ItemStatus::kOk,
                         .sha256 = sha,
                         .size = static_cast<int64_t>(bytes.size()),
                         .mime = "image/jpeg",
                         .kind = "image",
                         .store_key = storage::ContentKey(sha)});
    }
    (void)rt.Run(
        store->PutBatch(std::move(objects), {.durability = storage::Durability::kDeferred}));
    (void)catalog->RecordItems("bench", records);
    auto journal = std::move(
        *pipeline::Journal::OpenFile(pipeline::JournalPath(dir.path() / "data", "bench")));
    pipeline::Analyzer analyzer(
        rt, registry, *store, *catalog,
        {.concurrency = static_cast<size_t>(state.range(1)), .scratch_dir = dir.path()});
    double cpu_before = ProcessCpuSeconds();
    state.ResumeTiming();
    Result<pipeline::AnalysisReport> report = rt.Run(analyzer.Run("bench", def, *journal));
    state.PauseTiming();
    double cpu = ProcessCpuSeconds() - cpu_before;
    if (!report.ok() || report->steps_run != int64_t{items} * steps_per_item) {
      state.SkipWithError("the analysis failed");
    }
    state.counters["cpu_us_per_step"] = cpu * 1e6 / (1.0 * items * steps_per_item);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * items * steps_per_item);
}
// Args: items, items analysed at once, no-op steps per item.
BENCHMARK(BM_EngineNoOpStep)
    ->Args({100'000, 2, 1})
    ->Args({100'000, 16, 1})
    ->Args({20'000, 16, 10})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

struct MethodFixture {
  testing::TempDir dir;
  std::filesystem::path image =
      testing::MakeTextImage(dir.path(), "ad.jpg", "SUMMER SALE", "800x450");
};
MethodFixture& Fixture() {
  static MethodFixture fixture;
  return fixture;
}

void BM_DecodeImage(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(media::DecodeImage(Fixture().image));
}
BENCHMARK(BM_DecodeImage)->Unit(benchmark::kMillisecond);

void BM_Method(benchmark::State& state, const char* name) {
  runtime::Runtime rt;
  methods::Registry registry;
  (void)methods::RegisterBuiltinMethods(registry);
  testing::TempDir data;
  auto store = std::move(*storage::LocalBlobStore::Create(data.path(), rt.blocking()));
  methods::ItemContext item = *methods::ContextForFile(Fixture().image);
  methods::ItemMedia media = registry.OpenMedia(item, {});
  (void)media.image->Get();  // decoded once, outside the measurement: shared by an item's steps
  methods::json::object results;
  item.results = &results;
  const methods::MethodBase* method = registry.Find(name);
  methods::json::object params = *methods::ResolveParams(method->spec(), {});
  for (auto _ : state) {
    methods::StepResult step = rt.Run(methods::ExecuteItemStep(
        *method, item, params, {.runtime = &rt, .artifacts = store.get()}));
    if (!step.status.ok()) state.SkipWithError(std::string(step.status.message()).c_str());
  }
}
BENCHMARK_CAPTURE(BM_Method, probe, "media.probe")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Method, phash, "image.phash")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Method, colors, "image.colors")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Method, thumbnail, "image.thumbnail")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Method, faces, "image.faces")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Method, ocr, "ocr.tesseract")->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace sluice

BENCHMARK_MAIN();
