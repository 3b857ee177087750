// The method contract: registry, params, step keys, execution and its failure modes.
#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <thread>

#include "common/json_text.h"
#include "common/sha256.h"
#include "methods/builtin.h"
#include "methods/execute.h"
#include "methods/registry.h"
#include "methods/runner.h"
#include "storage/memory/memory_blob_store.h"
#include "testing/fixtures.h"
#include "testing/temp_dir.h"

namespace sluice::methods {
namespace {

class FakeMethod : public Method {
 public:
  explicit FakeMethod(
      std::string name, int version = 1, std::vector<std::string> inputs = {"file"},
      std::function<Result<MethodOutput>(const ItemContext&, const json::object&)> body = nullptr)
      : spec_{.name = std::move(name),
              .version = version,
              .inputs = std::move(inputs),
              .params = {{"level", 1}}},
        body_(std::move(body)) {}
  const MethodSpec& spec() const override { return spec_; }
  Result<MethodOutput> Run(const ItemContext& item, const json::object& params) const override {
    ++calls;
    if (body_) return body_(item, params);
    return MethodOutput{.value = json::object{{"size", item.size}, {"level", params.at("level")}}};
  }
  mutable std::atomic<int> calls{0};

 private:
  MethodSpec spec_;
  std::function<Result<MethodOutput>(const ItemContext&, const json::object&)> body_;
};

class FakeAsyncMethod : public AsyncMethod {
 public:
  const MethodSpec& spec() const override {
    static const MethodSpec spec{.name = "fake.remote", .inputs = {"file"}, .provider = "fake"};
    return spec;
  }
  boost::asio::awaitable<Result<MethodOutput>> Run(ItemContext item, json::object) const override {
    co_return MethodOutput{.value = json::object{{"sha", item.sha256}},
                           .cost = {.calls = 1, .input_tokens = 7}};
  }
};

TEST(RegistryTest, PlacementFollowsTheClass) {
  Registry registry;
  ASSERT_TRUE(RegisterBuiltinMethods(registry).ok());
  EXPECT_EQ(registry.Find("ocr.tesseract")->placement(), Placement::kCpuPool);
  EXPECT_EQ(registry.Find("set.summary")->placement(), Placement::kCpuPool);
  EXPECT_EQ(registry.Find("llm.tags")->placement(), Placement::kEventLoop);
  EXPECT_EQ(registry.Find("llm.set_summary")->placement(), Placement::kEventLoop);
  EXPECT_EQ(SpecToJson(*registry.Find("llm.tags")).at("placement"), "event_loop");
  EXPECT_EQ(FakeAsyncMethod().placement(), Placement::kEventLoop);
}

TEST(RegistryTest, RejectsDuplicatesAndBadSpecsAndReplacesForTest) {
  Registry registry;
  ASSERT_TRUE(RegisterBuiltinMethods(registry).ok());
  EXPECT_EQ(registry.Add(std::make_unique<FakeMethod>("image.phash")).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.Add(std::make_unique<FakeMethod>("")).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Add(std::make_unique<FakeMethod>("x.v0", 0)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.Add(std::make_unique<FakeMethod>("x.set", 1, std::vector<std::string>{"set"}))
                .code(),
            absl::StatusCode::kInvalidArgument);
  registry.ReplaceForTest(std::make_unique<FakeMethod>("image.phash", 9));
  EXPECT_EQ(registry.Find("image.phash")->spec().version, 9);
  Result<const MethodBase*> missing = registry.Get("image.nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("image.colors"), std::string::npos)
      << "lists known methods";
  std::vector<std::string> names;
  for (const MethodBase* m : registry.All()) names.push_back(m->spec().name);
  EXPECT_EQ(names,
            (std::vector<std::string>{
                "audio.transcript", "embed.image",         "embed.text",       "image.colors",
                "image.embedding",  "image.faces",         "image.phash",      "image.safety",
                "image.thumbnail",  "llm.clips",           "llm.content_type", "llm.describe",
                "llm.seo_filename", "llm.set_summary",     "llm.tags",         "media.probe",
                "ocr.tesseract",    "set.near_duplicates", "set.summary",      "set.video_summary",
                "video.clips",      "video.defects",       "video.shots"}));
}

TEST(ParamsTest, DefaultsFilledUnknownAndMistypedRefused) {
  FakeMethod method("fake.m");
  EXPECT_EQ(ResolveParams(method.spec(), {})->at("level").as_int64(), 1);
  EXPECT_EQ(ResolveParams(method.spec(), {{"level", 3}})->at("level").as_int64(), 3);
  Result<json::object> unknown = ResolveParams(method.spec(), {{"lvl", 3}});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("it takes: level"), std::string::npos)
      << unknown.status();
  Result<json::object> mistyped = ResolveParams(method.spec(), {{"level", "high"}});
  EXPECT_NE(mistyped.status().message().find("must be a number, not a string"), std::string::npos);
}

TEST(StepKeyTest, CanonicalAndSensitiveToEveryPart) {
  EXPECT_EQ(CanonicalJson(boost::json::parse(R"({"b":1,"a":{"d":[1,{"z":0,"y":1}],"c":2}})")),
            R"({"a":{"c":2,"d":[1,{"y":1,"z":0}]},"b":1})");
  FakeMethod v1("fake.m", 1), v2("fake.m", 2);
  json::object inputs{{"file", "aa"}};
  std::string key = StepKey(v1.spec(), {{"level", 1}}, inputs);
  EXPECT_EQ(key, StepKey(v1.spec(), {{"level", 1}}, json::object{{"file", "aa"}}));
  EXPECT_NE(key, StepKey(v2.spec(), {{"level", 1}}, inputs));
  EXPECT_NE(key, StepKey(v1.spec(), {{"level", 2}}, inputs));
  EXPECT_NE(key, StepKey(v1.spec(), {{"level", 1}}, json::object{{"file", "ab"}}));
  // Keys stored by earlier releases stay valid: the digest of the canonical document.
  json::object params{{"level", 1}, {"words", json::array{"é\"x", 2.5}}};
  EXPECT_EQ(StepKey(v1.spec(), params, inputs),
            Sha256::HexOf(CanonicalJson(json::object{
                {"method", "fake.m"}, {"version", 1}, {"params", params}, {"inputs", inputs}})));
}

TEST(StepResultJsonTest, TextIsTheDocumentsSerialisation) {
  StepResult ok{.method = "fake.m",
                .version = 3,
                .step_key = "k\"ey",
                .params = {{"level", 2.0}, {"words", json::array{"a", "é"}}},
                .inputs = {{"file", "aa"}},
                .output = json::object{{"tags", json::array{"x"}}, {"score", 1.0}},
                .artifacts = {{"mask", "objects/ab"}},
                .cost = {.calls = 1,
                         .inputs = 2,
                         .retries = 1,
                         .input_tokens = 10,
                         .output_tokens = 5,
                         .bytes = 300,
                         .provider_millis = 12.25},
                .millis = 0.3};
  StepResult failed{.method = "fake.f", .version = 1, .step_key = "k2", .millis = 7};
  failed.status = Failure(absl::StatusCode::kFailedPrecondition, "unreadable_logo", "no \"logo\"");
  StepResult plain{.method = "fake.p", .output = nullptr};
  for (const StepResult* step : {&ok, &failed, &plain}) {
    std::string text;
    AppendStepResultJson(text, *step);
    EXPECT_EQ(text, json::serialize(StepResultToJson(*step)));
    json::object with_source = StepResultToJson(*step);
    with_source["source"] = "journal";
    text.clear();
    AppendStepResultText(text, *step, "journal");
    EXPECT_EQ(text, JsonText(with_source));
  }
  // A journal line reads back with its numbers' kinds: step keys of replayed results hold.
  std::string line;
  AppendStepResultJson(line, ok);
  Result<StepResult> replayed = StepResultFromJson(json::parse(line).as_object());
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(CanonicalJson(replayed->output), CanonicalJson(ok.output));
  EXPECT_EQ(CanonicalJson(replayed->params), CanonicalJson(ok.params));
}

class ExecuteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(RegisterBuiltinMethods(registry_).ok());
    image_ = sluice::testing::MakeTextImage(dir_.path(), "a.png", "HELLO");
  }
  runtime::Runtime rt_;
  Registry registry_;
  storage::MemoryBlobStore store_;
  sluice::testing::TempDir dir_;
  std::filesystem::path image_;
};

TEST_F(ExecuteTest, ThrowingOrFailingMethodIsAStepFailureNotACrash) {
  registry_.ReplaceForTest(std::make_unique<FakeMethod>(
      "fake.throws", 1, std::vector<std::string>{"file"},
      [](const ItemContext&, const json::object&) -> Result<MethodOutput> {
        throw std::runtime_error("boom");
      }));
  registry_.ReplaceForTest(std::make_unique<FakeMethod>(
      "fake.fails", 1, std::vector<std::string>{"file"},
      [](const ItemContext&, const json::object&) -> Result<MethodOutput> {
        return Failure(absl::StatusCode::kFailedPrecondition, "unreadable_logo", "no logo found");
      }));
  MethodRunner runner(registry_, rt_, &store_);
  Result<StepResult> threw = rt_.Run(runner.Run("fake.throws", image_));
  ASSERT_TRUE(threw.ok());
  EXPECT_EQ(CauseOf(threw->status), "method_threw");
  EXPECT_NE(threw->status.message().find("boom"), std::string::npos);
  Result<StepResult> failed = rt_.Run(runner.Run("fake.fails", image_));
  EXPECT_EQ(CauseOf(failed->status), "unreadable_logo");
  json::object doc = StepResultToJson(*failed);
  EXPECT_EQ(doc["failure"].as_object()["cause"].as_string(), "unreadable_logo");
  EXPECT_FALSE(doc.contains("output"));
}

TEST_F(ExecuteTest, KindsAreCheckedAndAsyncMethodsRunWithCost) {
  MethodRunner runner(registry_, rt_, &store_);
  auto video = sluice::testing::MakeVideo(dir_.path(), "v.mp4", 1, false);
  Result<StepResult> wrong = rt_.Run(runner.Run("image.phash", video));
  ASSERT_TRUE(wrong.ok());
  EXPECT_EQ(CauseOf(wrong->status), "kind_not_accepted");

  registry_.ReplaceForTest(std::make_unique<FakeAsyncMethod>());
  Result<StepResult> remote = rt_.Run(runner.Run("fake.remote", image_));
  ASSERT_TRUE(remote.ok() && remote->status.ok()) << remote.status();
  EXPECT_EQ(remote->cost.calls, 1);
  EXPECT_EQ(remote->cost.input_tokens, 7);
  EXPECT_EQ(remote->inputs.at("file").as_string(), remote->output.at("sha").as_string());
}

TEST_F(ExecuteTest, RunnerErrorsForUnknownMethodsFilesAndParams) {
  MethodRunner runner(registry_, rt_, &store_);
  EXPECT_EQ(rt_.Run(runner.Run("image.nope", image_)).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(rt_.Run(runner.Run("image.phash", dir_.path() / "absent.png")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(rt_.Run(runner.Run("image.colors", image_, {{"colours", 3}})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(rt_.Run(runner.Run("set.summary", image_)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Two methods that each wait for the other to have started: they finish only when they run at
// the same time. The 5 s limit guards against a hang; it measures nothing.
std::atomic<int> started{0};

Result<MethodOutput> MeetTheOther(const ItemContext&, const json::object&) {
  ++started;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (started.load() < 2) {
    if (std::chrono::steady_clock::now() > deadline)
      return absl::DeadlineExceededError("ran alone");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return MethodOutput{.value = json::object{}};
}

class MeetingAsync : public AsyncMethod {
 public:
  explicit MeetingAsync(std::string name) : spec_{.name = std::move(name), .inputs = {"file"}} {}
  const MethodSpec& spec() const override { return spec_; }
  boost::asio::awaitable<Result<MethodOutput>> Run(ItemContext, json::object) const override {
    ++started;
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
    for (int waited = 0; started.load() < 2; ++waited) {
      if (waited > 5000) co_return absl::DeadlineExceededError("ran alone");
      timer.expires_after(std::chrono::milliseconds(1));
      co_await timer.async_wait(boost::asio::use_awaitable);
    }
    co_return MethodOutput{.value = json::object{}};
  }

 private:
  MethodSpec spec_;
};

TEST_F(ExecuteTest, IndependentStepsOfOneItemRunConcurrently) {
  runtime::Runtime two_cores({.cpu_threads = 2});
  FakeMethod sync_a("meet.a", 1, {"file"}, MeetTheOther),
      sync_b("meet.b", 1, {"file"}, MeetTheOther);
  MeetingAsync async_a("meet.c"), async_b("meet.d");
  Result<ItemContext> item = ContextForFile(image_);
  for (auto pair :
       {std::pair<const MethodBase*, const MethodBase*>{&sync_a, &sync_b}, {&async_a, &async_b}}) {
    started = 0;
    std::vector<ItemStepCall> calls = {{pair.first, {}}, {pair.second, {}}};
    std::vector<StepResult> steps = two_cores.Run(
        ExecuteItemSteps(std::move(calls), *item, {.runtime = &two_cores, .artifacts = &store_}));
    for (const StepResult& step : steps)
      EXPECT_TRUE(step.status.ok()) << step.method << ": " << step.status;
  }
}

TEST_F(ExecuteTest, OneDecodeServesEveryImageStepOfAnItem) {
  Result<ItemContext> item = ContextForFile(image_);
  ASSERT_TRUE(item.ok());
  ItemMedia media = registry_.OpenMedia(*item, {});
  ASSERT_NE(media.image, nullptr);
  json::object results;
  item->results = &results;
  for (const char* name :
       {"image.phash", "image.colors", "image.faces", "ocr.tesseract", "image.thumbnail"}) {
    const MethodBase* method = registry_.Find(name);
    StepResult step = rt_.Run(ExecuteItemStep(*method, *item, *ResolveParams(method->spec(), {}),
                                              {.runtime = &rt_, .artifacts = &store_}));
    EXPECT_TRUE(step.status.ok()) << name << ": " << step.status;
  }
  EXPECT_EQ(media.image->decodes(), 1);
}

}  // namespace
}  // namespace sluice::methods
