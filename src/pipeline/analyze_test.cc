// The Analyzer with fake methods that count their calls: ordering, conditions, kinds, the result
// cache across sets, failures, reruns (a second cycle) and the one-transaction commit.
#include "pipeline/analyze.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <fstream>
#include <map>
#include <set>

#include "common/sha256.h"
#include "common/strings.h"
#include "db/sqlite/sqlite_catalog.h"
#include "methods/builtin.h"
#include "storage/memory/memory_blob_store.h"
#include "testing/fixtures.h"
#include "testing/temp_dir.h"

namespace sluice::pipeline {
namespace {

using methods::ItemContext;
using methods::MethodOutput;

std::map<std::string, std::atomic<int>> calls;
std::set<std::string> results_seen_by_set_step;

// An item method computing `body` from the item and its results, counting calls.
class Fake : public methods::Method {
 public:
  using Body = std::function<Result<json::value>(const ItemContext&)>;
  Fake(std::string name, std::vector<std::string> inputs, Body body,
       std::vector<MediaKind> kinds = {})
      : spec_{.name = std::move(name), .kinds = std::move(kinds), .inputs = std::move(inputs)},
        body_(std::move(body)) {}
  const methods::MethodSpec& spec() const override { return spec_; }
  Result<MethodOutput> Run(const ItemContext& item, const json::object&) const override {
    ++calls.at(spec_.name);  // entries exist before any run: no insertion while threads count
    SLUICE_ASSIGN_OR_RETURN(json::value value, body_(item));
    return MethodOutput{.value = std::move(value)};
  }

 private:
  methods::MethodSpec spec_;
  Body body_;
};

// A set method asking for fake.c to run again on the largest item.
class RerunLargest : public methods::SetMethod {
 public:
  const methods::MethodSpec& spec() const override {
    static const methods::MethodSpec spec{
        .name = "fake.rerun", .inputs = {"set", "result:fake.a"}, .output = "set"};
    return spec;
  }
  Result<methods::SetOutput> Run(const std::vector<methods::SetItem>& items, const json::object&,
                                 const methods::SetScope&) const override {
    ++calls.at("fake.rerun");
    const methods::SetItem* largest = nullptr;
    for (const auto& item : items) {
      for (const auto& [method, result] : item.results) results_seen_by_set_step.emplace(method);
      if (item.ok && (!largest || item.results.at("fake.a").at("n").as_int64() >
                                      largest->results.at("fake.a").at("n").as_int64())) {
        largest = &item;
      }
    }
    methods::SetOutput out{.value = json::object{{"largest", largest ? largest->url : ""}}};
    if (largest) out.rerun.push_back({largest->sha256, {"fake.c"}});
    return out;
  }
};

int64_t N(const ItemContext& item) { return item.results->at("fake.a").at("n").as_int64(); }

class AnalyzeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    calls.clear();
    results_seen_by_set_step.clear();
    for (const char* name :
         {"fake.a", "fake.b", "fake.c", "fake.video", "fake.throws", "fake.after", "fake.rerun"}) {
      calls[name] = 0;
    }
    ASSERT_TRUE(methods::RegisterBuiltinMethods(registry_).ok());
    registry_.ReplaceForTest(std::make_unique<Fake>(
        "fake.a", std::vector<std::string>{"file"}, [](const ItemContext& item) {
          return Result<json::value>(json::object{{"n", item.size}});
        }));
    registry_.ReplaceForTest(std::make_unique<Fake>(
        "fake.b", std::vector<std::string>{"result:fake.a"}, [](const ItemContext& item) {
          return Result<json::value>(json::object{{"a_plus_one", N(item) + 1}});
        }));
    registry_.ReplaceForTest(
        std::make_unique<Fake>("fake.c", std::vector<std::string>{"file"}, [](const ItemContext&) {
          return Result<json::value>(json::object{{"c", true}});
        }));
    registry_.ReplaceForTest(std::make_unique<Fake>(
        "fake.video", std::vector<std::string>{"file"},
        [](const ItemContext&) { return Result<json::value>(json::object{}); },
        std::vector<MediaKind>{MediaKind::kVideo}));
    registry_.ReplaceForTest(
        std::make_unique<Fake>("fake.throws", std::vector<std::string>{"file"},
                               [](const ItemContext& item) -> Result<json::value> {
                                 if (item.size == 3) throw std::runtime_error("bad bytes");
                                 return json::object{{"fine", true}};
                               }));
    registry_.ReplaceForTest(std::make_unique<Fake>(
        "fake.after", std::vector<std::string>{"result:fake.throws"},
        [](const ItemContext&) { return Result<json::value>(json::object{}); }));
    registry_.ReplaceForTest(std::make_unique<RerunLargest>());
    catalog_ = std::move(*db::SqliteCatalog::Open(dir_.path() / "sluice.db"));
  }

  // Records `sizes.size()` stored items in `set`, item i holding `sizes[i]` bytes.
  void Record(const std::string& set, const std::vector<int>& sizes) {
    std::vector<db::ItemRecord> records;
    for (size_t i = 0; i < sizes.size(); ++i) {
      std::string bytes(static_cast<size_t>(sizes[i]), static_cast<char>('a' + sizes[i]));
      std::string sha = Sha256::HexOf(bytes);
      ASSERT_TRUE(rt_.Run(store_.PutBytes(storage::ContentKey(sha), bytes, {})).ok());
      records.push_back({.url = "http://x/" + std::to_string(i),
                         .status = db::ItemStatus::kOk,
                         .sha256 = sha,
                         .size = sizes[i],
                         .mime = "image/png",
                         .kind = "image",
                         .store_key = storage::ContentKey(sha)});
    }
    records.push_back(
        {.url = "http://x/broken", .status = db::ItemStatus::kFailed, .failure_cause = "http_404"});
    ASSERT_TRUE(catalog_->RecordItems(set, records).ok());
  }

  PipelineDef Pipeline(std::vector<std::vector<StepDef>> item_stages,
                       std::vector<std::vector<StepDef>> set_stages) {
    PipelineDef def{.name = "test"};
    for (size_t i = 0; i < item_stages.size(); ++i) {
      def.cycles.push_back(
          {item_stages[i], i < set_stages.size() ? set_stages[i] : std::vector<StepDef>{}});
    }
    for (auto& cycle : def.cycles) {
      for (auto* steps : {&cycle.item_steps, &cycle.set_steps}) {
        for (StepDef& step : *steps)
          step.params = *methods::ResolveParams(registry_.Find(step.method)->spec(), step.params);
      }
    }
    EXPECT_TRUE(ValidatePipeline(def, registry_).ok()) << ValidatePipeline(def, registry_);
    return def;
  }

  Result<AnalysisReport> Analyze(
      const std::string& set, const PipelineDef& def,
      const std::map<std::string, std::filesystem::path>* local_copies = nullptr,
      int page_items = 1000) {
    auto journal = std::move(*Journal::OpenFile(JournalPath(dir_.path(), set)));
    Analyzer analyzer(
        rt_, registry_, store_, *catalog_,
        {.scratch_dir = dir_.path(), .local_copies = local_copies, .page_items = page_items});
    return rt_.Run(analyzer.Run(set, def, *journal));
  }

  std::map<std::string, db::StepRow> Steps(const std::string& set) {
    std::map<std::string, db::StepRow> out;
    Result<std::vector<db::StepRow>> rows = catalog_->ListSteps(set);
    EXPECT_TRUE(rows.ok()) << rows.status();
    for (auto& row : *rows) out[row.url + " " + row.method] = row;
    return out;
  }

  runtime::Runtime rt_;
  methods::Registry registry_;
  storage::MemoryBlobStore store_;
  sluice::testing::TempDir dir_;
  std::unique_ptr<db::SqliteCatalog> catalog_;
};

TEST_F(AnalyzeTest, StepsRunInDependencyOrderAndCommitTogether) {
  Record("s", {1, 2, 4});
  Result<AnalysisReport> report = Analyze(
      "s", Pipeline({{{.method = "fake.b"}, {.method = "fake.a"}}}, {{{.method = "set.summary"}}}));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->steps_run, 7);  // 3 items x 2 + 1 set step
  EXPECT_EQ(report->steps_failed, 0);
  std::map<std::string, db::StepRow> steps = Steps("s");
  ASSERT_EQ(steps.size(), 7u);
  EXPECT_EQ(steps["http://x/2 fake.b"].output_json, R"({"a_plus_one":5})")
      << "b ran after a and saw its result";
  EXPECT_EQ(report->set_results.at("set.summary").at("by_status").at("failed").as_int64(), 1);
  EXPECT_EQ(report->totals.items, 4);
  // The item's result document is in the store.
  Result<std::string> doc =
      rt_.Run(store_.Get(Analyzer::ResultKey("s", "http://x/2"), std::nullopt));
  ASSERT_TRUE(doc.ok()) << doc.status();
  json::object parsed = boost::json::parse(*doc).as_object();
  EXPECT_EQ(parsed["steps"].at("fake.b").at("output").at("a_plus_one").as_int64(), 5);
  EXPECT_EQ(parsed["steps"].at("fake.b").at("source").as_string(), "run");
  EXPECT_FALSE(std::filesystem::exists(JournalPath(dir_.path(), "s")))
      << "the journal goes once committed";
}

TEST_F(AnalyzeTest, ConditionsAndKindsSkipStepsThatDoNotApply) {
  Record("s", {1, 2, 4});
  StepDef c{.method = "fake.c", .when = *Condition::Parse("fake.a.n >= 2")};
  Result<AnalysisReport> report =
      Analyze("s", Pipeline({{{.method = "fake.a"}, c, {.method = "fake.video"}}}, {}));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(calls["fake.c"], 2);
  EXPECT_EQ(calls["fake.video"], 0);
  EXPECT_EQ(report->steps_skipped, 4);  // fake.c once, fake.video three times
  EXPECT_FALSE(Steps("s").contains("http://x/0 fake.c"));
}

TEST_F(AnalyzeTest, TheSameBytesInAnotherSetComeFromTheCache) {
  Record("first", {1, 2, 4});
  PipelineDef def = Pipeline({{{.method = "fake.a"}, {.method = "fake.b"}}}, {});
  ASSERT_TRUE(Analyze("first", def).ok());
  Record("second", {1, 2, 4});
  Result<AnalysisReport> again = Analyze("second", def);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->steps_run, 0);
  EXPECT_EQ(again->steps_cached, 6);
  EXPECT_EQ(calls["fake.a"], 3);
  EXPECT_EQ(calls["fake.b"], 3);
  EXPECT_EQ(Steps("second")["http://x/2 fake.b"].output_json, R"({"a_plus_one":5})");
  // Rerunning a set replaces its rows: no duplicates, same results.
  ASSERT_TRUE(Analyze("second", def).ok());
  EXPECT_EQ(Steps("second").size(), 6u);
}

TEST_F(AnalyzeTest, AThrowingMethodFailsOnlyItsItemsStep) {
  Record("s", {1, 3, 4});
  Result<AnalysisReport> report = Analyze(
      "s", Pipeline({{{.method = "fake.throws"}, {.method = "fake.after"}, {.method = "fake.a"}}},
                    {{{.method = "set.summary"}}}));
  ASSERT_TRUE(report.ok()) << report.status();
  std::map<std::string, db::StepRow> steps = Steps("s");
  EXPECT_FALSE(steps["http://x/1 fake.throws"].ok);
  EXPECT_EQ(steps["http://x/1 fake.throws"].failure_cause, "method_threw");
  EXPECT_NE(steps["http://x/1 fake.throws"].failure_details.find("bad bytes"), std::string::npos);
  EXPECT_EQ(steps["http://x/1 fake.after"].failure_cause, "input_failed");
  EXPECT_TRUE(steps["http://x/1 fake.a"].ok);
  EXPECT_TRUE(steps["http://x/0 fake.throws"].ok);
  EXPECT_TRUE(steps[" set.summary"].ok);
  EXPECT_EQ(report->steps_failed, 2);
}

TEST_F(AnalyzeTest, ASetStepCanScheduleASecondCycle) {
  Record("s", {1, 2, 4});
  Result<AnalysisReport> report =
      Analyze("s", Pipeline({{{.method = "fake.a"}}}, {{{.method = "fake.rerun"}}}));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->cycles, 2);
  EXPECT_EQ(calls["fake.c"], 1);
  std::map<std::string, db::StepRow> steps = Steps("s");
  EXPECT_TRUE(steps.contains("http://x/2 fake.c")) << "the largest item ran fake.c";
  EXPECT_FALSE(steps.contains("http://x/0 fake.c"));
  // Its document, written when its first stage ended, gained the step run again.
  Result<std::string> doc =
      rt_.Run(store_.Get(Analyzer::ResultKey("s", "http://x/2"), std::nullopt));
  ASSERT_TRUE(doc.ok()) << doc.status();
  json::value parsed = json::parse(*doc);
  const json::object& doc_steps = parsed.at("steps").as_object();
  EXPECT_TRUE(doc_steps.contains("fake.a"));
  EXPECT_TRUE(doc_steps.contains("fake.c"));
}

TEST_F(AnalyzeTest, ItemsListedPageByPageRunEachContentOnceAndAllReachTheSetStep) {
  // Items 0, 2 and 5 hold the same bytes, 1 and 4 too: pages of two split each group.
  Record("s", {1, 2, 1, 4, 2, 1, 5});
  for (int cycles : {1, 2}) {
    calls["fake.a"] = 0;
    results_seen_by_set_step.clear();
    std::vector<std::vector<StepDef>> item_stages(static_cast<size_t>(cycles));
    std::vector<std::vector<StepDef>> set_stages(static_cast<size_t>(cycles));
    item_stages.back() = {{.method = "fake.a"}, {.method = "fake.b"}};
    set_stages.back() = {{.method = "fake.rerun"}};
    Result<AnalysisReport> report =
        Analyze("s", Pipeline(item_stages, set_stages), nullptr, /*page_items=*/2);
    ASSERT_TRUE(report.ok()) << report.status();
    // 4 contents: run once each the first time (the copies on later pages take the result
    // still cached), and all from the result cache the second time.
    EXPECT_EQ(calls["fake.a"], cycles == 1 ? 4 : 0);
    EXPECT_EQ(report->steps_cached, cycles == 1 ? 6 : 14) << cycles;
    std::map<std::string, db::StepRow> steps = Steps("s");
    for (int i = 0; i < 7; ++i) EXPECT_TRUE(steps.at(StrCat("http://x/", i, " fake.b")).ok) << i;
    // The set step saw the last page's item (the largest) and ran fake.c on it again.
    EXPECT_TRUE(steps.contains("http://x/6 fake.c")) << cycles;
    EXPECT_FALSE(steps.contains("http://x/3 fake.c"));
    EXPECT_EQ(results_seen_by_set_step, (std::set<std::string>{"fake.a"}));
  }
}

TEST_F(AnalyzeTest, SetStepsSeeTheResultsThePipelineReadsAndTheCommitHasEveryRow) {
  Record("s", {1, 2, 4});
  // fake.b's result is read by no step: items let go of it once their last stage is over (their
  // rows wait in the spill file), and the set step sees fake.a's only.
  Result<AnalysisReport> report = Analyze(
      "s", Pipeline({{{.method = "fake.a"}, {.method = "fake.b"}}}, {{{.method = "fake.rerun"}}}));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(results_seen_by_set_step, (std::set<std::string>{"fake.a"}));
  std::map<std::string, db::StepRow> steps = Steps("s");
  for (const char* url : {"http://x/0", "http://x/1", "http://x/2"}) {
    EXPECT_TRUE(steps.at(StrCat(url, " fake.a")).ok);
    EXPECT_NE(steps.at(StrCat(url, " fake.b")).output_json.find("a_plus_one"), std::string::npos);
  }
  EXPECT_TRUE(steps.contains(" fake.rerun"));
  std::vector<std::string> contents;
  for (int size : {1, 2, 4})
    contents.push_back(Sha256::HexOf(std::string(size, static_cast<char>('a' + size))));
  EXPECT_EQ(catalog_->CachedSteps(contents)->size(), 7u) << "fake.a and fake.b of 3, fake.c";
}

TEST_F(AnalyzeTest, MediaThatCannotBeReadFailsTheItemsStepsWithTheCause) {
  Record("s", {1, 2, 4});
  std::string lost = std::string(1, static_cast<char>('a' + 2)) + std::string(1, 'a' + 2);
  ASSERT_TRUE(rt_.Run(store_.Delete(storage::ContentKey(Sha256::HexOf(lost)))).ok());
  Result<AnalysisReport> report =
      Analyze("s", Pipeline({{{.method = "fake.a"}, {.method = "fake.b"}}}, {}));
  ASSERT_TRUE(report.ok()) << report.status();
  std::map<std::string, db::StepRow> steps = Steps("s");
  for (const char* method : {"fake.a", "fake.b"}) {
    const db::StepRow& step = steps[std::string("http://x/1 ") + method];
    EXPECT_FALSE(step.ok) << method;
    EXPECT_EQ(step.failure_cause, "media_unreadable") << method;
    EXPECT_NE(step.failure_details.find(storage::ContentKey(Sha256::HexOf(lost))),
              std::string::npos)
        << step.failure_details;
  }
  EXPECT_TRUE(steps["http://x/0 fake.a"].ok);
  EXPECT_TRUE(steps["http://x/2 fake.b"].ok);
  EXPECT_EQ(report->steps_failed, 2);
}

TEST_F(AnalyzeTest, ItemsWithTheSameBytesEachReadTheirOwnCopy) {
  Record("s", {5, 5, 5, 5, 5, 5});
  Result<AnalysisReport> report =
      Analyze("s", Pipeline({{{.method = "fake.c"}, {.method = "fake.a"}}}, {}));
  ASSERT_TRUE(report.ok()) << report.status();
  for (const auto& [key, step] : Steps("s")) EXPECT_TRUE(step.ok) << key << step.failure_details;
  // No copy outlives its item.
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path()))
    EXPECT_NE(entry.path().extension(), ".media") << entry.path();
}

TEST_F(AnalyzeTest, LocalCopiesAreReadInsteadOfTheStore) {
  Record("s", {3});
  std::string bytes(3, static_cast<char>('a' + 3));
  std::string sha = Sha256::HexOf(bytes);
  std::filesystem::path kept = dir_.path() / "kept.media";
  std::ofstream(kept, std::ios::binary) << bytes;
  // Gone from the store: only the local copy can answer.
  ASSERT_TRUE(rt_.Run(store_.Delete(storage::ContentKey(sha))).ok());
  std::map<std::string, std::filesystem::path> copies{{sha, kept}};
  Result<AnalysisReport> report = Analyze("s", Pipeline({{{.method = "fake.a"}}}, {}), &copies);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(Steps("s")["http://x/0 fake.a"].ok)
      << Steps("s")["http://x/0 fake.a"].failure_details;
  EXPECT_TRUE(std::filesystem::exists(kept)) << "the caller owns local copies";
}

TEST_F(AnalyzeTest, AnImagePastThePixelLimitFailsOnceForTheItem) {
  std::filesystem::path bomb =
      sluice::testing::MakePngBomb(dir_.path(), "bomb.png", 60'000, 60'000);
  std::ifstream in(bomb, std::ios::binary);
  std::string bytes(std::istreambuf_iterator<char>(in), {});
  std::string sha = Sha256::HexOf(bytes);
  ASSERT_TRUE(rt_.Run(store_.PutBytes(storage::ContentKey(sha), bytes, {})).ok());
  // Read from the store (its header read on the blocking pool), and from a file on this machine
  // (its header read with the page's listing).
  std::map<std::string, std::filesystem::path> on_disk{{sha, bomb}};
  for (const auto* local_copies : {static_cast<decltype(&on_disk)>(nullptr), &on_disk}) {
    std::string set = local_copies ? "local" : "stored";
    SCOPED_TRACE(set);
    Record(set, {1, 2});
    ASSERT_TRUE(catalog_
                    ->RecordItems(set, {{.url = "http://x/bomb",
                                         .status = db::ItemStatus::kOk,
                                         .sha256 = sha,
                                         .size = static_cast<int64_t>(bytes.size()),
                                         .mime = "image/png",
                                         .kind = "image",
                                         .store_key = storage::ContentKey(sha)}})
                    .ok());
    Result<AnalysisReport> report =
        Analyze(set, Pipeline({{{.method = "fake.a"}, {.method = "fake.c"}}}, {}), local_copies);
    ASSERT_TRUE(report.ok()) << report.status();
    std::map<std::string, db::StepRow> steps = Steps(set);
    EXPECT_FALSE(steps.contains("http://x/bomb fake.a")) << "no step ran, none failed";
    EXPECT_FALSE(steps.contains("http://x/bomb fake.c"));
    EXPECT_EQ(report->steps_failed, 0);
    EXPECT_TRUE(steps["http://x/1 fake.c"].ok);
    Result<std::vector<db::ItemRecord>> items = catalog_->ListItems(set);
    ASSERT_TRUE(items.ok());
    int failed_for_pixels = 0;
    for (const db::ItemRecord& item : *items) {
      if (item.url != "http://x/bomb") continue;
      EXPECT_EQ(item.status, db::ItemStatus::kFailed);
      EXPECT_EQ(item.failure_cause, "too_many_pixels");
      EXPECT_NE(item.failure_details.find("60000"), std::string::npos) << item.failure_details;
      ++failed_for_pixels;
    }
    EXPECT_EQ(failed_for_pixels, 1);
    EXPECT_EQ(report->totals.failed, 2) << "the bomb and the 404";
  }
}

}  // namespace
}  // namespace sluice::pipeline
