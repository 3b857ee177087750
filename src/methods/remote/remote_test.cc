// Providers, their gate and the remote methods against the fake model server on loopback
// (testing/fake_provider.h): limits, 429 storms, outages, quotas, malformed output, Bedrock,
// cassettes, config.
#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <set>

#include "common/strings.h"
#include "methods/builtin.h"
#include "methods/execute.h"
#include "methods/registry.h"
#include "methods/remote/cassette.h"
#include "methods/remote/config.h"
#include "methods/remote/harness.h"
#include "methods/remote/json_schema.h"
#include "methods/remote/provider.h"
#include "methods/remote/remote_methods.h"
#include "methods/runner.h"
#include "runtime/task_group.h"
#include "storage/memory/memory_blob_store.h"
#include "testing/fake_provider.h"
#include "testing/fixtures.h"
#include "testing/subprocess.h"
#include "testing/temp_dir.h"

namespace sluice::methods::remote {
namespace {

using std::chrono::milliseconds;

class RemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_ = std::move(*testing::FakeProvider::Start());
    client_ =
        std::move(*http::HttpClient::Create(rt_.loop_executor(), {.connection_cache_size = 256}));
    transport_ = std::make_unique<NetworkTransport>(*client_);
  }

  ProviderConfig OpenAi(ProviderLimits limits = {}) {
    return {.name = "fake",
            .kind = "openai",
            .base_url = fake_->openai_url(),
            .chat_model = "fake-chat",
            .embedding_model = "fake-embed",
            .transcription_model = "fake-whisper",
            .limits = limits};
  }

  ChatRequest Hello() {
    ChatRequest request{.messages = {{.role = "user", .text = "hello"}}};
    return request;
  }

  // Runs `count` chats at once through `provider`; returns the failures.
  std::vector<Status> ChatMany(Provider& provider, int count) {
    std::vector<Status> failures;
    auto one = [](Provider* p, ChatRequest request,
                  std::vector<Status>* out) -> asio::awaitable<void> {
      Result<ChatReply> reply = co_await p->Chat(std::move(request));
      if (!reply.ok()) out->push_back(reply.status());
    };
    auto all = [&]() -> asio::awaitable<int> {
      runtime::TaskGroup group(co_await asio::this_coro::executor);
      for (int i = 0; i < count; ++i) group.Spawn(one(&provider, Hello(), &failures));
      co_await group.Wait();
      co_return 0;
    };
    rt_.Run(all());
    return failures;
  }

  runtime::Runtime rt_;
  std::unique_ptr<testing::FakeProvider> fake_;
  std::unique_ptr<http::HttpClient> client_;
  std::unique_ptr<NetworkTransport> transport_;
};

TEST_F(RemoteTest, LimitsHoldUnderTenThousandRequests) {
  fake_->SetLatency(milliseconds(1));
  ProviderLimits limits{.max_concurrency = 24, .requests_per_minute = 30'000};
  auto provider = NewOpenAiProvider(OpenAi(limits), rt_.loop_executor(), *transport_);
  auto start = std::chrono::steady_clock::now();
  std::vector<Status> failures = ChatMany(*provider, 10'000);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(failures.empty()) << failures.front();
  EXPECT_EQ(fake_->requests(), 10'000);
  EXPECT_LE(fake_->peak_concurrency(), 24);
  EXPECT_GT(fake_->peak_concurrency(), 1) << "calls overlapped";
  // 500 per second with a tenth of a second's burst: no 5 s window sees more than 2,550 sent
  // (2 % slack for arrivals the server's thread bunches), and 10,000 calls cannot finish faster
  // than the rate allows.
  EXPECT_LE(fake_->max_arrivals_within(milliseconds(5000)), 2600);
  EXPECT_GE(seconds, (10'000 - 50) / 500.0 * 0.98);
  EXPECT_EQ(provider->gate().stats().calls, 10'000);
  EXPECT_EQ(provider->gate().stats().failures, 0);
}

TEST_F(RemoteTest, RateLimitCanBeChangedWhileRunningAndServerLimitsAreAdopted) {
  auto provider =
      NewOpenAiProvider(OpenAi({.requests_per_minute = 600}), rt_.loop_executor(), *transport_);
  ProviderLimits faster = provider->gate().limits();
  faster.requests_per_minute = 60'000;
  provider->gate().SetLimits(faster);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(ChatMany(*provider, 200).empty());
  // At 600/min, 200 calls take 20 s; at the new rate well under 2 s.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));

  auto server_limited = testing::FakeProvider::Start({.advertised_requests_per_minute = 1200});
  ProviderConfig config = OpenAi();
  config.base_url = (*server_limited)->openai_url();
  auto adopting = NewOpenAiProvider(config, rt_.loop_executor(), *transport_);
  EXPECT_TRUE(ChatMany(*adopting, 1).empty());
  // That answer carried x-ratelimit-limit-requests: 1200 (20/s); the next 40 are paced.
  EXPECT_TRUE(ChatMany(*adopting, 40).empty());
  EXPECT_LE((*server_limited)->max_arrivals_within(milliseconds(1000)), 20 + 2 + 1);
}

TEST_F(RemoteTest, RecoversFromA429StormWithoutFailingAnyCall) {
  auto provider =
      NewOpenAiProvider(OpenAi({.max_concurrency = 32}), rt_.loop_executor(), *transport_);
  fake_->Throttle(300, milliseconds(20));
  std::vector<Status> failures = ChatMany(*provider, 200);
  EXPECT_TRUE(failures.empty()) << failures.front();
  EXPECT_EQ(provider->gate().stats().throttled, 300);
  EXPECT_EQ(fake_->requests(), 500);
  EXPECT_EQ(provider->gate().stats().retries, 300);

  fake_->Throttle(1, milliseconds(1500), /*in_ms=*/false);  // Retry-After: 2 (seconds)
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(ChatMany(*provider, 1).empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(1900)) << "Retry-After honoured";
}

TEST_F(RemoteTest, AnOutageOpensTheBreakerAndCallsCompleteWhenTheServerReturns) {
  ProviderLimits limits{.retry = {.max_attempts = 2, .initial_backoff = milliseconds(10)},
                        .breaker = {.failure_threshold = 3, .open_for = milliseconds(150)}};
  auto provider = NewOpenAiProvider(OpenAi(limits), rt_.loop_executor(), *transport_);
  fake_->SetOutage(true);
  std::thread healer([&] {
    std::this_thread::sleep_for(milliseconds(900));
    fake_->SetOutage(false);
  });
  std::vector<Status> failures = ChatMany(*provider, 20);
  healer.join();
  // Two attempts each could not outlast a 900 ms outage; the open circuit spent none of them.
  EXPECT_TRUE(failures.empty()) << failures.front();
  EXPECT_GE(provider->gate().stats().breaker_opened, 1);
  EXPECT_EQ(provider->gate().breaker_state(), runtime::CircuitBreaker::State::kClosed);
  // While open, only probes went out (about one per 150 ms), not 20 calls retrying.
  EXPECT_LT(fake_->requests(), 20 + 20 + 12);
}

TEST_F(RemoteTest, QuotaAuthAndBadRequestsFailAtOnceWithAClearMessage) {
  auto provider = NewOpenAiProvider(OpenAi(), rt_.loop_executor(), *transport_);
  fake_->SetQuotaExhausted(true);
  Result<ChatReply> reply = rt_.Run(provider->Chat(Hello()));
  EXPECT_EQ(CauseOf(reply.status()), "quota_exceeded");
  EXPECT_NE(reply.status().message().find("exceeded your current quota"), std::string::npos)
      << reply.status();
  EXPECT_EQ(fake_->requests(), 1) << "not retried";
  fake_->SetQuotaExhausted(false);

  ProviderConfig config = OpenAi();
  config.base_url = fake_->openai_url() + "/nope";
  auto wrong = NewOpenAiProvider(config, rt_.loop_executor(), *transport_);
  EXPECT_EQ(CauseOf(rt_.Run(wrong->Chat(Hello())).status()), "invalid_request");
  EXPECT_EQ(fake_->requests(), 2);
}

TEST_F(RemoteTest, EveryCallHasADeadlineAndOnlyRetryableAnswersAreRetried) {
  ProviderLimits limits{.retry = {.max_attempts = 2, .initial_backoff = milliseconds(10)},
                        .call_timeout = milliseconds(300)};
  auto provider = NewOpenAiProvider(OpenAi(limits), rt_.loop_executor(), *transport_);
  fake_->SetLatency(milliseconds(2000));
  auto start = std::chrono::steady_clock::now();
  Result<ChatReply> reply = rt_.Run(provider->Chat(Hello()));
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kDeadlineExceeded) << reply.status();
  EXPECT_NE(reply.status().message().find("after 2 attempts"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(1500));
  fake_->SetLatency(milliseconds(0));

  struct Case {
    long status;
    const char* cause;
    bool retried;
  };
  for (const Case& c :
       {Case{401, "auth_failed", false}, Case{403, "auth_failed", false},
        Case{400, "invalid_request", false}, Case{422, "invalid_request", false},
        Case{408, "timeout", true}, Case{409, "conflict", true}, Case{429, "rate_limited", true},
        Case{500, "server_error", true}, Case{503, "server_error", true}}) {
    Status status = StatusForHttp(c.status, "p", "detail", false);
    EXPECT_EQ(CauseOf(status), c.cause) << c.status;
    EXPECT_EQ(IsRetryable(status), c.retried) << c.status;
  }
  EXPECT_FALSE(IsRetryable(StatusForHttp(429, "p", "insufficient_quota", true)));
}

TEST_F(RemoteTest, EmbeddingsAndTranscriptions) {
  auto provider = NewOpenAiProvider(OpenAi(), rt_.loop_executor(), *transport_);
  Result<EmbedReply> embedded = rt_.Run(provider->Embed({"red shoe", "blue sky"}, ""));
  ASSERT_TRUE(embedded.ok()) << embedded.status();
  ASSERT_EQ(embedded->vectors.size(), 2u);
  EXPECT_EQ(embedded->vectors[0].size(), 8u);
  EXPECT_NE(embedded->vectors[0], embedded->vectors[1]);
  EXPECT_GT(embedded->usage.input_tokens, 0);
  Result<TranscriptReply> transcript =
      rt_.Run(provider->Transcribe("RIFF....WAVE", "audio/wav", "", ""));
  ASSERT_TRUE(transcript.ok()) << transcript.status();
  EXPECT_EQ(transcript->text, "a fake transcript of the audio");
}

TEST_F(RemoteTest, BedrockConverseAndTitanAreSigned) {
  ProviderConfig config{.name = "aws",
                        .kind = "bedrock",
                        .base_url = fake_->bedrock_url(),
                        .region = "us-east-1",
                        .aws = {.access_key = "AKID", .secret_key = "SECRET"},
                        .chat_model = "anthropic.claude-3-haiku-20240307-v1:0",
                        .embedding_model = "amazon.titan-embed-text-v2:0"};
  auto provider = NewBedrockProvider(config, rt_.loop_executor(), *transport_);
  ChatRequest request = Hello();
  request.schema = json::parse(R"({"type":"object","properties":{"tags":{"type":"array",)"
                               R"("items":{"type":"string"}}},"required":["tags"]})")
                       .as_object();
  Result<ChatReply> reply = rt_.Run(provider->Chat(request));
  ASSERT_TRUE(reply.ok()) << reply.status();
  json::value parsed = json::parse(reply->text);
  EXPECT_TRUE(parsed.as_object().at("tags").is_array()) << reply->text;
  EXPECT_GT(reply->usage.output_tokens, 0);
  Result<EmbedReply> embedded = rt_.Run(provider->Embed({"red shoe"}, ""));
  ASSERT_TRUE(embedded.ok()) << embedded.status();
  EXPECT_EQ(fake_->requests_of("converse"), 1);
  EXPECT_EQ(fake_->requests_of("invoke"), 1);
  EXPECT_EQ(CauseOf(rt_.Run(provider->Transcribe("x", "audio/wav", "", "")).status()),
            "not_supported");

  config.aws = {};
  auto unsigned_provider = NewBedrockProvider(config, rt_.loop_executor(), *transport_);
  EXPECT_EQ(CauseOf(rt_.Run(unsigned_provider->Chat(Hello())).status()), "no_credentials");
}

class RemoteMethodsTest : public RemoteTest {
 protected:
  void SetUp() override {
    RemoteTest::SetUp();
    config_.default_provider = "fake";
    config_.providers = {OpenAi()};
    providers_ = std::make_unique<Providers>(config_, rt_.loop_executor(), *transport_);
    ASSERT_TRUE(RegisterBuiltinMethods(
                    registry_, {.config = &config_, .providers = providers_.get(), .runtime = &rt_})
                    .ok());
    image_ = testing::MakeSolidImage(dir_.path(), "shoe.png", "red", "200x120");
  }

  Result<StepResult> Try(const std::string& method, json::object params = {}) {
    MethodRunner runner(registry_, rt_, nullptr);
    return rt_.Run(runner.Run(method, image_, std::move(params)));
  }

  ProvidersConfig config_;
  std::unique_ptr<Providers> providers_;
  Registry registry_;
  testing::TempDir dir_;
  std::filesystem::path image_;
};

TEST_F(RemoteMethodsTest, EveryImageMethodAnswersWithinItsSchema) {
  for (const char* name : {"llm.tags", "llm.seo_filename", "llm.content_type", "llm.describe"}) {
    Result<StepResult> step = Try(name);
    ASSERT_TRUE(step.ok()) << step.status();
    ASSERT_TRUE(step->status.ok()) << name << ": " << step->status;
    EXPECT_EQ(step->params.at("model"), "fake-chat") << "the model is part of the step key";
    EXPECT_EQ(step->cost.calls, 1) << name;
    EXPECT_GT(step->cost.input_tokens, 0) << name;
  }
  std::vector<json::object> sent = fake_->chat_requests();
  ASSERT_EQ(sent.size(), 4u);
  std::string image_url(
      sent[0].at("messages").at(1).at("content").at(1).at("image_url").at("url").as_string());
  EXPECT_TRUE(image_url.starts_with("data:image/png;base64,iVBORw0KGgo"))
      << image_url.substr(0, 40);
  EXPECT_EQ(sent[0].at("response_format").at("type"), "json_schema");
  Result<StepResult> seo = Try("llm.seo_filename");
  std::string filename(seo->output.at("filename").as_string());
  EXPECT_TRUE(filename.ends_with(".png")) << filename;
  EXPECT_EQ(filename.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-."),
            std::string::npos);
}

TEST_F(RemoteMethodsTest, MalformedOutputIsReaskedThenFails) {
  fake_->SendMalformed(1);
  Result<StepResult> step = Try("llm.tags");
  ASSERT_TRUE(step->status.ok()) << step->status;
  EXPECT_EQ(step->cost.calls, 2);
  std::vector<json::object> sent = fake_->chat_requests();
  ASSERT_EQ(sent.size(), 2u);
  const json::array& messages = sent[1].at("messages").as_array();
  ASSERT_EQ(messages.size(), 4u) << "system, user, the bad answer, the correction";
  EXPECT_EQ(messages[2].at("role"), "assistant");
  EXPECT_NE(std::string(messages[3].at("content").as_string()).find("not JSON"), std::string::npos);

  fake_->SendMalformed(10);
  step = Try("llm.tags", {{"max_reasks", 1}});
  EXPECT_EQ(CauseOf(step->status), "malformed_output");
  EXPECT_EQ(fake_->chat_requests().size(), 4u) << "one ask and one re-ask";
}

TEST_F(RemoteMethodsTest, EmbedImageSendsThePictureInEitherRequestForm) {
  // The fixture's provider names no image model: a clear refusal before any call.
  const MethodBase* method = registry_.Find("embed.image");
  ASSERT_NE(method, nullptr);
  EXPECT_EQ(CauseOf(ResolveMethodParams(*method, {}).status()), "no_model");
  auto red = image_;
  auto blue = testing::MakeSolidImage(dir_.path(), "blue.png", "blue", "200x120");
  for (const char* form : {"input", "messages"}) {
    config_.providers[0].image_embedding_model = "fake-clip";
    config_.providers[0].image_embedding_request = form;
    providers_ = std::make_unique<Providers>(config_, rt_.loop_executor(), *transport_);
    Registry registry;
    ASSERT_TRUE(RegisterBuiltinMethods(
                    registry, {.config = &config_, .providers = providers_.get(), .runtime = &rt_})
                    .ok());
    MethodRunner runner(registry, rt_, nullptr);
    int64_t before = fake_->requests_of("embeddings");
    Result<StepResult> a = rt_.Run(runner.Run("embed.image", red, {}));
    Result<StepResult> again = rt_.Run(runner.Run("embed.image", red, {}));
    Result<StepResult> b = rt_.Run(runner.Run("embed.image", blue, {}));
    ASSERT_TRUE(a.ok() && again.ok() && b.ok());
    ASSERT_TRUE(a->status.ok()) << form << ": " << a->status;
    EXPECT_EQ(a->output.at("model"), "fake-clip");
    EXPECT_EQ(a->output.at("dimensions"), 8);
    EXPECT_EQ(a->output.at("vector"), again->output.at("vector")) << form;
    EXPECT_NE(a->output.at("vector"), b->output.at("vector")) << form << ": the picture is sent";
    EXPECT_EQ(fake_->requests_of("embeddings") - before, 3) << form;
  }
}

TEST_F(RemoteMethodsTest, ItemsInFlightShareOneEmbeddingRequestAndABadInputFailsOnlyItsItem) {
  config_.providers[0].image_embedding_model = "fake-clip";
  config_.providers[0].embedding_batch = 8;
  config_.providers[0].embedding_batch_wait_ms = 200;
  providers_ = std::make_unique<Providers>(config_, rt_.loop_executor(), *transport_);
  Registry registry;
  ASSERT_TRUE(RegisterBuiltinMethods(
                  registry, {.config = &config_, .providers = providers_.get(), .runtime = &rt_})
                  .ok());
  const char* colors[] = {"red", "green", "blue", "yellow", "purple"};
  std::vector<std::filesystem::path> pictures;
  for (const char* color : colors)
    pictures.push_back(testing::MakeSolidImage(dir_.path(), StrCat(color, ".png"), color, "64x48"));
  // Five items analysed at once, as a pipeline runs them.
  auto embed_all = [&] {
    std::vector<Result<StepResult>> steps(pictures.size(), absl::UnknownError("not run"));
    auto one = [&](size_t i) -> asio::awaitable<void> {
      MethodRunner runner(registry, rt_, nullptr);
      steps[i] = co_await runner.Run("embed.image", pictures[i], {});
    };
    auto all = [&]() -> asio::awaitable<int> {
      runtime::TaskGroup group(co_await asio::this_coro::executor);
      for (size_t i = 0; i < pictures.size(); ++i) group.Spawn(one(i));
      co_await group.Wait();
      co_return 0;
    };
    rt_.Run(all());
    return steps;
  };
  std::vector<Result<StepResult>> steps = embed_all();
  EXPECT_EQ(fake_->embedding_batches(), (std::vector<size_t>{5})) << "one request for five";
  Cost total;
  std::set<std::string> vectors;
  for (const Result<StepResult>& step : steps) {
    ASSERT_TRUE(step.ok()) << step.status();
    ASSERT_TRUE(step->status.ok()) << step->status;
    total += step->cost;
    vectors.insert(json::serialize(step->output.at("vector")));
  }
  EXPECT_EQ(vectors.size(), 5u) << "each item gets its own picture's vector";
  EXPECT_EQ(total.calls, 1);
  EXPECT_EQ(total.inputs, 5);

  // The server refuses a batch holding the third picture: only that item fails.
  std::ifstream in(pictures[2], std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fake_->RefuseEmbeddingInputsContaining(Base64(bytes));
  steps = embed_all();
  EXPECT_EQ(fake_->embedding_batches(), (std::vector<size_t>{5, 5, 1, 1, 1, 1, 1}));
  for (size_t i = 0; i < steps.size(); ++i) {
    ASSERT_TRUE(steps[i].ok()) << steps[i].status();
    if (i == 2) {
      EXPECT_EQ(steps[i]->status.code(), absl::StatusCode::kInvalidArgument) << steps[i]->status;
      EXPECT_NE(steps[i]->status.message().find("not a valid image"), absl::string_view::npos);
    } else {
      EXPECT_TRUE(steps[i]->status.ok()) << i << ": " << steps[i]->status;
    }
  }
}

TEST_F(RemoteTest, TitanMultimodalEmbedsImages) {
  ProviderConfig config{.name = "aws",
                        .kind = "bedrock",
                        .base_url = fake_->bedrock_url(),
                        .region = "us-east-1",
                        .aws = {.access_key = "AKID", .secret_key = "SECRET"},
                        .image_embedding_model = "amazon.titan-embed-image-v1"};
  auto provider = NewBedrockProvider(config, rt_.loop_executor(), *transport_);
  std::vector<ImagePart> images{{.mime = "image/png", .bytes = "first"},
                                {.mime = "image/png", .bytes = "second"}};
  Result<EmbedReply> reply = rt_.Run(provider->EmbedImages(images, ""));
  ASSERT_TRUE(reply.ok()) << reply.status();
  ASSERT_EQ(reply->vectors.size(), 2u);
  EXPECT_NE(reply->vectors[0], reply->vectors[1]);
  EXPECT_EQ(reply->model, "amazon.titan-embed-image-v1");
  EXPECT_EQ(fake_->requests_of("invoke"), 2) << "Titan takes one image a call";
  config.image_embedding_model = "";
  auto without = NewBedrockProvider(config, rt_.loop_executor(), *transport_);
  EXPECT_EQ(CauseOf(rt_.Run(without->EmbedImages(images, "")).status()), "no_model");
}

TEST_F(RemoteMethodsTest, EmbedTextUsesDescriptionAndSetSummaryRunsOnTheLoop) {
  Result<StepResult> step = Try("embed.text");
  ASSERT_TRUE(step->status.ok()) << step->status;
  EXPECT_EQ(step->output.at("dimensions"), 8);
  EXPECT_EQ(step->output.at("sources").as_array().at(0), "llm.describe");
  EXPECT_EQ(fake_->requests_of("embeddings"), 1);

  const MethodBase* summary = registry_.Find("llm.set_summary");
  std::vector<SetItem> items{{.url = "http://x/a.png",
                              .sha256 = "a",
                              .kind = "image",
                              .ok = true,
                              .results = {{"llm.tags", {{"tags", {"red", "shoe"}}}}}}};
  StepResult set_step = rt_.Run(
      ExecuteSetStep(*summary, items, *ResolveMethodParams(*summary, {}), {.runtime = &rt_}));
  ASSERT_TRUE(set_step.status.ok()) << set_step.status;
  EXPECT_TRUE(set_step.output.at("summary").is_string());
  EXPECT_EQ(set_step.cost.calls, 1);
  std::string prompt = json::serialize(fake_->chat_requests().back().at("messages"));
  EXPECT_NE(prompt.find("a.png"), std::string::npos);
  EXPECT_NE(prompt.find("shoe"), std::string::npos);
}

TEST_F(RemoteMethodsTest, DescribeSendsFramesSampledOverAVideo) {
  auto video = testing::MakeVideo(dir_.path(), "clip.mp4", 4, false);
  MethodRunner runner(registry_, rt_, nullptr);
  Result<StepResult> step = rt_.Run(runner.Run("llm.describe", video, {{"frames", 3}}));
  ASSERT_TRUE(step.ok()) << step.status();
  ASSERT_TRUE(step->status.ok()) << step->status;
  std::vector<json::object> sent = fake_->chat_requests();
  const json::array& content = sent.back().at("messages").at(1).at("content").as_array();
  ASSERT_EQ(content.size(), 1u + 3u) << "the prompt and three frames";
  std::set<std::string> frames;
  for (size_t i = 1; i < content.size(); ++i) {
    std::string url(content[i].at("image_url").at("url").as_string());
    EXPECT_TRUE(url.starts_with("data:image/jpeg;base64,")) << url.substr(0, 30);
    frames.insert(url);
  }
  EXPECT_EQ(frames.size(), 3u) << "three different moments (testsrc moves)";
}

TEST_F(RemoteMethodsTest, TranscriptCutsLongAudioAtPausesAndStitchesItBack) {
  // 25 s: 4 s of tone, 1 s of silence, over and over.
  std::filesystem::path audio = testing::MakeFromFilterGraph(
      dir_.path(), "talk.m4a",
      "sine=f=300:d=25:sample_rate=44100,volume='if(lt(mod(t,5),4),1,0)':eval=frame[out_a]");
  MethodRunner runner(registry_, rt_, nullptr);
  Result<StepResult> step = rt_.Run(runner.Run(
      "audio.transcript", audio, {{"provider", "fake"}, {"chunk_s", 10}, {"overlap_s", 2}}));
  ASSERT_TRUE(step.ok()) << step.status();
  ASSERT_TRUE(step->status.ok()) << step->status;
  const json::object& out = step->output.as_object();
  // Cut in the pauses before 10 s and 20 s: three uploads.
  EXPECT_EQ(out.at("chunks"), 3);
  EXPECT_EQ(fake_->requests_of("transcriptions"), 3);
  EXPECT_EQ(step->cost.calls, 3);
  EXPECT_EQ(out.at("engine"), "fake:fake-whisper");
  // The fake answers [0.5, 1.5] and [2, 3] of every chunk. Chunks 2 and 3 start 2 s before the
  // pause they were cut at, so their first segment falls in the overlap, owned by the chunk
  // before, and is dropped; the rest land on the item's timeline.
  const json::array& segments = out.at("segments").as_array();
  std::vector<std::pair<double, double>> truth = {{0.5, 1.5}, {2, 3}, {9, 10}, {19, 20}};
  ASSERT_EQ(segments.size(), truth.size()) << json::serialize(out);
  for (size_t i = 0; i < truth.size(); ++i) {
    EXPECT_NEAR(segments[i].at("start_s").to_number<double>(), truth[i].first, 0.05) << i;
    EXPECT_NEAR(segments[i].at("end_s").to_number<double>(), truth[i].second, 0.05) << i;
  }
  EXPECT_EQ(out.at("text"), "a fake transcript of the audio of the audio of the audio");
  // No audio, no call.
  auto mute = testing::MakeVideo(dir_.path(), "mute.mp4", 2, false);
  Result<StepResult> none = rt_.Run(runner.Run("audio.transcript", mute, {{"provider", "fake"}}));
  EXPECT_EQ(CauseOf(none->status), "no_audio");
  EXPECT_EQ(fake_->requests_of("transcriptions"), 3);
}

TEST_F(RemoteMethodsTest, VideosAreShownOneKeyframePerShotAndTheirTranscript) {
  testing::ProcessResult spoken =
      testing::RunProcess({"/usr/bin/espeak-ng", "-v", "en-us+f2", "-w",
                           (dir_.path() / "line.wav").string(), "summer sale today"},
                          dir_.path());
  ASSERT_EQ(spoken.exit_code, 0) << spoken.err;
  std::string s = "size=640x360:rate=25";
  auto video = testing::MakeFromFilterGraph(
      dir_.path(), "three-shots.mp4",
      StrCat(
          "testsrc2=", s, ":d=2[a];smptebars=", s, ":d=2[b];testsrc=", s,
          ":d=2[c];[a][b][c]concat=n=3:v=1:a=0[out_v];amovie=", (dir_.path() / "line.wav").string(),
          ",apad=whole_dur=6,asetnsamples=n=1024:p=0[out_a]"));
  storage::MemoryBlobStore store;
  MethodRunner runner(registry_, rt_, &store);
  for (const char* method : {"llm.describe", "llm.content_type"}) {
    Result<StepResult> step = rt_.Run(runner.Run(method, video));
    ASSERT_TRUE(step.ok()) << step.status();
    ASSERT_TRUE(step->status.ok()) << method << ": " << step->status;
    std::vector<json::object> sent = fake_->chat_requests();
    const json::array& content = sent.back().at("messages").at(1).at("content").as_array();
    ASSERT_EQ(content.size(), 1u + 3u) << method << ": the prompt and one keyframe per shot";
    std::string prompt(content[0].at("text").as_string());
    EXPECT_NE(prompt.find("Transcript of the soundtrack"), std::string::npos) << prompt;
    EXPECT_NE(prompt.find("today"), std::string::npos) << prompt;
    for (size_t i = 1; i < content.size(); ++i) {
      std::string url(content[i].at("image_url").at("url").as_string());
      EXPECT_TRUE(url.starts_with("data:image/jpeg;base64,")) << url.substr(0, 30);
    }
  }
  // A video's content type is one of the video answers.
  EXPECT_NE(
      json::serialize(fake_->chat_requests().back().at("response_format")).find("talking_head"),
      std::string::npos);
}

TEST(ChooseClipsTest, SnapsToShotsAndSentencesAndDropsWhatDoesNotFit) {
  json::object shots = json::parse(R"({"duration_s": 30, "shots": [
      {"start_s": 0, "end_s": 8}, {"start_s": 8, "end_s": 16}, {"start_s": 16, "end_s": 24},
      {"start_s": 24, "end_s": 30}]})")
                           .as_object();
  json::object transcript = json::parse(R"({"segments": [
      {"start_s": 1.0, "end_s": 4.5, "text": "a"}, {"start_s": 9.2, "end_s": 14.8, "text": "b"},
      {"start_s": 17.0, "end_s": 22.5, "text": "c"}]})")
                                .as_object();
  json::array proposed = json::parse(R"([
      {"start": 7.2, "end": 15.5, "title": "best", "reason": "", "score": 0.9},
      {"start": 10, "end": 20, "title": "overlapping", "reason": "", "score": 0.5},
      {"start": 25, "end": 27, "title": "short", "reason": "", "score": 0.7},
      {"start": 40, "end": 50, "title": "outside", "reason": "", "score": 0.7},
      {"start": 0.4, "end": 100, "title": "long", "reason": "", "score": 0.6},
      {"start": 16.8, "end": 23.0, "title": "sentence", "reason": "", "score": 0.8}])")
                             .as_array();
  json::object chosen =
      ChooseClips(proposed, shots, &transcript, {.min_s = 5, .max_s = 20, .snap_s = 2});
  const json::array& clips = chosen.at("clips").as_array();
  ASSERT_EQ(clips.size(), 2u) << json::serialize(chosen);
  EXPECT_EQ(clips[0].at("title"), "best");
  EXPECT_DOUBLE_EQ(clips[0].at("start_s").to_number<double>(), 8);  // a shot's start
  EXPECT_DOUBLE_EQ(clips[0].at("end_s").to_number<double>(), 16);   // a shot's end
  EXPECT_EQ(clips[1].at("title"), "sentence");
  EXPECT_DOUBLE_EQ(clips[1].at("start_s").to_number<double>(), 17);  // a sentence's start
  EXPECT_DOUBLE_EQ(clips[1].at("end_s").to_number<double>(), 22.5);  // a sentence's end
  std::map<std::string, std::string> why;
  for (const json::value& d : chosen.at("dropped").as_array())
    why[std::string(d.at("title").as_string())] = std::string(d.at("why").as_string());
  EXPECT_EQ(why["overlapping"], "overlaps a better clip");
  EXPECT_EQ(why["short"], "shorter than 5 s");
  EXPECT_EQ(why["outside"], "outside the video");
  EXPECT_EQ(why["long"], "overlaps a better clip") << "cut to 20 s, it still overlaps";
}

TEST_F(RemoteMethodsTest, ClipsAreChosenThenCutIntoPlayableFiles) {
  std::string s = "size=640x360:rate=25";
  // Three shots of 6 s, keyframes every 2 s and at the cuts, and a (silent) soundtrack.
  auto video = testing::MakeFromFilterGraph(
      dir_.path(), "eighteen.mp4",
      StrCat("testsrc2=", s, ":d=6[a];smptebars=", s, ":d=6[b];testsrc=", s,
             ":d=6[c];[a][b][c]concat=n=3:v=1:a=0[out_v];anullsrc=r=44100:cl=stereo:d=18,"
             "asetnsamples=n=1024:p=0[out_a]"),
      {"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "50", "-c:a",
       "aac"});
  storage::MemoryBlobStore store;
  MethodRunner runner(registry_, rt_, &store);
  auto probe_duration = [&](const StepResult& step, const std::string& name) {
    Result<std::string> bytes =
        rt_.Run(store.Get(std::string(step.artifacts.at(name).as_string()), std::nullopt));
    EXPECT_TRUE(bytes.ok());
    std::filesystem::path file = dir_.path() / (name + ".mp4");
    std::ofstream(file, std::ios::binary) << *bytes;
    testing::ProcessResult probe =
        testing::RunProcess({"/usr/bin/ffprobe", "-v", "error", "-show_entries", "format=duration",
                             "-of", "csv=p=0", file.string()},
                            dir_.path());
    EXPECT_EQ(probe.exit_code, 0) << probe.err;
    return std::stod(probe.out);
  };
  // The model proposes 5.6-11.7 s; the shots begin at 6 and end at 12: the clip is 6-12 s, and
  // 6 s is a keyframe (x264 puts one at the cut), so the packets are copied.
  for (const char* mode : {"auto", "encode"}) {
    fake_->AnswerChatsWith(
        R"({"clips":[{"start":5.6,"end":11.7,"title":"the bars","reason":"colour","score":0.9}]})");
    Result<StepResult> step = rt_.Run(runner.Run("video.clips", video, {{"mode", mode}}));
    ASSERT_TRUE(step.ok()) << step.status();
    ASSERT_TRUE(step->status.ok()) << step->status;
    const json::array& clips = step->output.at("clips").as_array();
    ASSERT_EQ(clips.size(), 1u) << json::serialize(step->output);
    EXPECT_DOUBLE_EQ(clips[0].at("start_s").to_number<double>(), 6.0);
    EXPECT_DOUBLE_EQ(clips[0].at("end_s").to_number<double>(), 12.0);
    EXPECT_EQ(clips[0].at("cut"), std::string(mode) == "auto" ? "copy" : "encode");
    EXPECT_NEAR(probe_duration(*step, "clip_0"), 6.0, 0.1) << mode;
    Result<std::string> poster =
        rt_.Run(store.Get(std::string(step->artifacts.at("poster_0").as_string()), std::nullopt));
    ASSERT_TRUE(poster.ok());
    EXPECT_TRUE(poster->starts_with("\xff\xd8")) << "a JPEG";
  }
  // Far from any boundary and off a keyframe, "auto" re-encodes the head up to the keyframe at
  // 10 s and copies the rest, so the clip starts as asked.
  fake_->AnswerChatsWith(
      R"({"clips":[{"start":8.5,"end":15.5,"title":"late","reason":"r","score":0.5}]})");
  Result<StepResult> off = rt_.Run(runner.Run("video.clips", video));
  ASSERT_TRUE(off.ok() && off->status.ok()) << off->status;
  EXPECT_EQ(off->output.at("clips").at(0).at("cut"), "smart");
  EXPECT_NEAR(off->output.at("clips").at(0).at("encoded_s").to_number<double>(), 1.5, 0.05);
  EXPECT_NEAR(probe_duration(*off, "clip_0"), 7.0, 0.1);
}

TEST_F(RemoteMethodsTest, UnknownProvidersAreRefusedWhenParamsResolve) {
  const MethodBase* tags = registry_.Find("llm.tags");
  Result<json::object> params = ResolveMethodParams(*tags, {{"provider", "nope"}});
  EXPECT_EQ(params.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(params.status().message().find("nope"), std::string::npos);
}

TEST_F(RemoteTest, CassettesReplayWithNoNetwork) {
  testing::TempDir dir;
  ProviderConfig config = OpenAi();
  {
    RecordingTransport recorder(*transport_, dir.path() / "cassettes");
    auto provider = NewOpenAiProvider(config, rt_.loop_executor(), recorder);
    fake_->Throttle(1, milliseconds(5));
    ASSERT_TRUE(rt_.Run(provider->Chat(Hello())).ok());
    EXPECT_EQ(recorder.recorded(), 2) << "the 429 and the answer";
  }
  int64_t served = fake_->requests();
  config.base_url = "http://127.0.0.1:9/v1";  // nothing listens there
  ReplayTransport replay(dir.path() / "cassettes");
  auto provider = NewOpenAiProvider(config, rt_.loop_executor(), replay);
  Result<ChatReply> reply = rt_.Run(provider->Chat(Hello()));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(provider->gate().stats().throttled, 1) << "the recorded 429 is replayed too";
  EXPECT_EQ(fake_->requests(), served);
  ChatRequest other = Hello();
  other.messages[0].text = "something never recorded";
  Result<ChatReply> missing = rt_.Run(provider->Chat(other));
  EXPECT_EQ(CauseOf(missing.status()), "not_recorded");
  EXPECT_NE(missing.status().message().find("--record"), std::string::npos);
}

TEST(ProvidersConfigTest, DefaultsFromTheEnvironmentAndOverridesFromTheFile) {
  std::map<std::string, std::string> env{{"OPENAI_BASE_URL", "http://127.0.0.1:8000/v1"},
                                         {"OPENAI_API_KEY", "sk-test"},
                                         {"AWS_REGION", "eu-west-1"},
                                         {"AWS_ACCESS_KEY_ID", "AKID"},
                                         {"AWS_SECRET_ACCESS_KEY", "SECRET"},
                                         {"LOCAL_KEY", "local-secret"}};
  Environment lookup = [&env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  Result<ProvidersConfig> defaults = LoadProvidersConfig("", lookup);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->default_provider, "openai");
  EXPECT_EQ(defaults->Find("openai")->base_url, "http://127.0.0.1:8000/v1");
  EXPECT_EQ(defaults->Find("openai")->api_key, "sk-test");
  EXPECT_EQ(defaults->Find("bedrock")->region, "eu-west-1");
  EXPECT_EQ(defaults->Find("bedrock")->aws.access_key, "AKID");

  testing::TempDir dir;
  std::filesystem::path file = dir.path() / "sluice.toml";
  std::ofstream(file) << "[providers]\ndefault = \"local\"\n[providers.local]\n"
                         "base_url = \"http://127.0.0.1:9000/v1\"\napi_key_env = \"LOCAL_KEY\"\n"
                         "chat_model = \"qwen\"\nmax_concurrency = 8\nrequests_per_minute = 120\n"
                         "timeout_seconds = 30\n";
  Result<ProvidersConfig> loaded = LoadProvidersConfig(file, lookup);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const ProviderConfig* local = loaded->Find("local");
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(loaded->default_provider, "local");
  EXPECT_EQ(local->api_key, "local-secret");
  EXPECT_EQ(local->chat_model, "qwen");
  EXPECT_EQ(local->embedding_model, "text-embedding-3-small") << "unset fields keep defaults";
  EXPECT_EQ(local->limits.max_concurrency, 8u);
  EXPECT_EQ(local->limits.requests_per_minute, 120);
  EXPECT_EQ(local->limits.call_timeout, milliseconds(30'000));

  std::ofstream(file) << "[providers.local]\nbase_url = \"http://x/v1\"\n\nmax_concurrancy = 8\n";
  Result<ProvidersConfig> bad = LoadProvidersConfig(file, lookup);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("sluice.toml:4: unknown key 'max_concurrancy'"),
            std::string::npos)
      << bad.status();
  // Image embeddings: Titan Multimodal by default on Bedrock, the request form checked.
  EXPECT_EQ(defaults->Find("bedrock")->image_embedding_model, "amazon.titan-embed-image-v1");
  EXPECT_EQ(defaults->Find("openai")->image_embedding_request, "input");
  std::ofstream(file)
      << "[providers.clip]\nbase_url = \"http://x/v1\"\n"
         "image_embedding_model = \"clip\"\nimage_embedding_request = \"messages\"\n";
  Result<ProvidersConfig> clip = LoadProvidersConfig(file, lookup);
  ASSERT_TRUE(clip.ok()) << clip.status();
  EXPECT_EQ(clip->Find("clip")->image_embedding_model, "clip");
  EXPECT_EQ(clip->Find("clip")->image_embedding_request, "messages");
  std::ofstream(file) << "[providers.clip]\nbase_url = \"http://x/v1\"\n"
                         "image_embedding_request = \"chat\"\n";
  EXPECT_EQ(LoadProvidersConfig(file, lookup).status().code(), absl::StatusCode::kInvalidArgument);
  // Batching of embedding inputs across items.
  EXPECT_EQ(defaults->Find("openai")->embedding_batch, 32u);
  std::ofstream(file) << "[providers.clip]\nbase_url = \"http://x/v1\"\n"
                         "embedding_batch = 128\nembedding_batch_wait_ms = 5\n";
  Result<ProvidersConfig> batched = LoadProvidersConfig(file, lookup);
  ASSERT_TRUE(batched.ok()) << batched.status();
  EXPECT_EQ(batched->Find("clip")->embedding_batch, 128u);
  EXPECT_EQ(batched->Find("clip")->embedding_batch_wait_ms, 5);
  std::ofstream(file) << "[providers.clip]\nbase_url = \"http://x/v1\"\nembedding_batch = 0\n";
  Result<ProvidersConfig> zero = LoadProvidersConfig(file, lookup);
  EXPECT_NE(zero.status().message().find("embedding_batch is between 1 and 2048"),
            std::string::npos)
      << zero.status();
}

TEST(SchemaTest, ChecksTypesRequiredEnumsBoundsAndExtras) {
  json::object schema =
      json::parse(
          R"({"type":"object","properties":{"kind":{"type":"string","enum":["a","b"]},)"
          R"("score":{"type":"number","minimum":0,"maximum":1},"tags":{"type":"array","maxItems":2,)"
          R"("items":{"type":"string"}}},"required":["kind"],"additionalProperties":false})")
          .as_object();
  EXPECT_TRUE(
      CheckAgainstSchema(json::parse(R"({"kind":"a","score":1,"tags":["x"]})"), schema).ok());
  auto why = [&](const char* doc) {
    return std::string(CheckAgainstSchema(json::parse(doc), schema).message());
  };
  EXPECT_EQ(why(R"({"score":0.5})"), "$: missing \"kind\"");
  EXPECT_EQ(why(R"({"kind":"c"})"), "$.kind: \"c\" is not one of [\"a\",\"b\"]");
  EXPECT_EQ(why(R"({"kind":"a","score":2})"), "$.score: above the maximum");
  EXPECT_EQ(why(R"({"kind":"a","tags":["x",3]})"), "$.tags[1]: expected string, got integer");
  EXPECT_EQ(why(R"({"kind":"a","tags":["x","y","z"]})"), "$.tags: too many items");
  EXPECT_EQ(why(R"({"kind":"a","other":1})"), "$: unexpected \"other\"");
  EXPECT_EQ(why(R"([1])"), "$: expected object, got array");
}

// Answers every request with the body it is given (status 200).
class AnswerTransport : public Transport {
 public:
  std::string body;
  asio::awaitable<Result<http::ClientResponse>> Exchange(const http::ClientRequest&) override {
    co_return http::ClientResponse{.status = 200, .headers = {}, .body = body};
  }
};

// Replies the provider-replies fuzz target found sluice reading wrongly: each must fail the call
// as bad_reply naming what is wrong — or, for bookkeeping only, be read as nothing.
TEST(ProviderRepliesTest, BrokenAnswersFailTheCallSayingWhat) {
  runtime::Runtime rt;
  AnswerTransport transport;
  ProviderLimits limits;
  limits.retry.max_attempts = 1;
  std::unique_ptr<Provider> openai = NewOpenAiProvider(
      {.name = "m", .base_url = "http://m/v1", .embedding_model = "e", .limits = limits},
      rt.loop_executor(), transport);
  auto embed = [&](const char* body) {
    transport.body = body;
    return rt.Run(openai->Embed({"a", "b"}, ""));
  };
  // Each reply and what the call's error must say. The first used to come back as success
  // with an empty vector (input 1 twice, input 0 never); a fractional or negative index used to
  // throw out of the coroutine.
  std::pair<const char*, const char*> broken[] = {
      {R"({"data":[{"index":1,"embedding":[1,2]},{"index":1,"embedding":[3,4]}]})",
       "provider m sent a reply sluice cannot read: two embeddings for input 1"},
      {R"({"data":[{"index":0.5,"embedding":[1]},{"index":1,"embedding":[1]}]})",
       "without a valid index"},
      {R"({"data":[{"index":-1,"embedding":[1]},{"index":1,"embedding":[1]}]})",
       "without a valid index"},
      {R"({"data":[{"index":0,"embedding":[1,2]},{"index":1,"embedding":[1]}]})",
       "embeddings of different lengths (2 and 1)"},
      {R"({"data":[{"index":0,"embedding":[1e300]},{"index":1,"embedding":[1]}]})",
       "an embedding value out of range"},
      {R"({"data":[{"index":0,"embedding":[]},{"index":1,"embedding":[1]}]})",
       "not a non-empty array"},
  };
  for (const auto& [body, why] : broken) {
    Result<EmbedReply> reply = embed(body);
    EXPECT_EQ(CauseOf(reply.status()), "bad_reply") << body;
    EXPECT_NE(reply.status().message().find(why), std::string::npos) << reply.status();
  }
  // An odd token count is bookkeeping: the call stands, the count reads as 0.
  Result<EmbedReply> odd = embed(
      R"({"data":[{"index":0,"embedding":[1]},{"index":1,"embedding":[2]}],"usage":{"prompt_tokens":1.5}})");
  ASSERT_TRUE(odd.ok()) << odd.status();
  EXPECT_EQ(odd->usage.input_tokens, 0);
  EXPECT_EQ(odd->vectors, (std::vector<std::vector<float>>{{1}, {2}}));

  transport.body = R"({"text":"hi","segments":[{"start":2,"end":1,"text":"hi"}]})";
  Result<TranscriptReply> backwards = rt.Run(openai->Transcribe("RIFF", "audio/wav", "w", ""));
  EXPECT_EQ(CauseOf(backwards.status()), "bad_reply");
  EXPECT_NE(backwards.status().message().find("a transcript segment from 2 s to 1 s"),
            std::string::npos)
      << backwards.status();
}

}  // namespace
}  // namespace sluice::methods::remote

namespace sluice::methods::remote {
namespace {

// The committed cassettes (recorded with `sluice try METHOD testdata/shoe.png --record
// testdata/cassettes` against sluice-fake-provider) answer every remote method with no server.
TEST(CassetteHarnessTest, RemoteMethodsRunOfflineFromCommittedCassettes) {
  std::filesystem::path testdata = std::filesystem::path(__FILE__).parent_path() / "testdata";
  Result<ProvidersConfig> defaults =
      LoadProvidersConfig("", [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(defaults.ok());
  CassetteHarness harness(testdata / "cassettes", *defaults);
  if (harness.recording()) GTEST_SKIP() << "recording: the providers answer, not the cassettes";
  for (const char* method :
       {"llm.tags", "llm.describe", "llm.content_type", "llm.seo_filename", "embed.text"}) {
    Result<StepResult> step = harness.Try(method, testdata / "shoe.png");
    ASSERT_TRUE(step.ok()) << step.status();
    EXPECT_TRUE(step->status.ok()) << method << ": " << step->status;
  }
  Result<StepResult> other = harness.Try("llm.tags", testdata / "shoe.png", {{"max_tags", 3}});
  EXPECT_EQ(CauseOf(other->status), "not_recorded") << "another prompt is another request";
}

// The built-in providers with no environment, as the committed cassettes were recorded with; when
// recording them (SLUICE_RECORD_CASSETTES=1), pointed at a fake provider started here, which is
// returned (null when replaying).
std::unique_ptr<testing::FakeProvider> CassetteProviders(ProvidersConfig& config) {
  Result<ProvidersConfig> defaults =
      LoadProvidersConfig("", [](const std::string&) { return std::nullopt; });
  EXPECT_TRUE(defaults.ok()) << defaults.status();
  if (defaults.ok()) config = std::move(*defaults);
  std::optional<std::string> record = ProcessEnvironment("SLUICE_RECORD_CASSETTES");
  if (!record || *record != "1") return nullptr;
  auto fake = std::move(*testing::FakeProvider::Start());
  for (ProviderConfig& provider : config.providers) provider.base_url = fake->openai_url();
  return fake;
}

// embed.image replayed from a committed cassette (recorded against the fake provider with
// SLUICE_RECORD_CASSETTES=1, which this test then starts itself).
TEST(CassetteHarnessTest, ImageEmbeddingsReplayFromCommittedCassettes) {
  std::filesystem::path testdata = std::filesystem::path(__FILE__).parent_path() / "testdata";
  ProvidersConfig config;
  std::unique_ptr<testing::FakeProvider> fake = CassetteProviders(config);
  for (ProviderConfig& provider : config.providers) provider.image_embedding_model = "clip-vit-b32";
  CassetteHarness harness(testdata / "cassettes", config);
  Result<StepResult> step = harness.Try("embed.image", testdata / "shoe.png");
  ASSERT_TRUE(step.ok()) << step.status();
  ASSERT_TRUE(step->status.ok()) << step->status;
  EXPECT_EQ(step->output.at("model"), "clip-vit-b32");
  EXPECT_GT(step->output.at("dimensions").to_number<int64_t>(), 0);
}

// The video methods' provider calls, replayed from committed cassettes: a 12 s video of three
// 4 s shots with speech (testdata/talk.mp4). Re-record with SLUICE_RECORD_CASSETTES=1: the
// test then starts the fake provider and has it propose the clips below.
TEST(CassetteHarnessTest, VideoMethodsRunOfflineFromCommittedCassettes) {
  std::filesystem::path testdata = std::filesystem::path(__FILE__).parent_path() / "testdata";
  std::filesystem::path video = testdata / "talk.mp4";
  ProvidersConfig config;
  std::unique_ptr<testing::FakeProvider> fake = CassetteProviders(config);
  if (fake) {
    fake->AnswerChatsWith(
        R"({"clips":[{"start":3.6,"end":11.7,"title":"the offer","reason":"both lines",)"
        R"("score":0.9},{"start":9,"end":11,"title":"tail","reason":"short","score":0.4}]})",
        "clips");
  }
  CassetteHarness harness(testdata / "cassettes", config);

  Result<StepResult> transcript =
      harness.Try("audio.transcript", video, {{"provider", "openai"}, {"chunk_s", 10}});
  ASSERT_TRUE(transcript.ok()) << transcript.status();
  ASSERT_TRUE(transcript->status.ok()) << transcript->status;
  const json::array& segments = transcript->output.at("segments").as_array();
  ASSERT_GE(segments.size(), 2u) << json::serialize(transcript->output);
  double previous_end = 0;
  for (const json::value& segment : segments) {
    double start = segment.at("start_s").to_number<double>();
    double end = segment.at("end_s").to_number<double>();
    EXPECT_GE(start, previous_end - 1e-9) << "stitched in order, without overlap";
    EXPECT_LE(end, 12.0);
    previous_end = end;
  }
  for (const char* method : {"llm.content_type", "llm.describe"}) {
    Result<StepResult> step = harness.Try(method, video);
    ASSERT_TRUE(step.ok()) << step.status();
    EXPECT_TRUE(step->status.ok()) << method << ": " << step->status;
  }
  Result<StepResult> clips = harness.Try("llm.clips", video);
  ASSERT_TRUE(clips.ok()) << clips.status();
  ASSERT_TRUE(clips->status.ok()) << clips->status;
  const json::array& chosen = clips->output.at("clips").as_array();
  ASSERT_EQ(chosen.size(), 1u) << json::serialize(clips->output);
  EXPECT_DOUBLE_EQ(chosen[0].at("start_s").to_number<double>(), 4.0) << "a shot's start";
  EXPECT_DOUBLE_EQ(chosen[0].at("end_s").to_number<double>(), 12.0) << "a shot's end";
  EXPECT_EQ(clips->output.at("dropped").as_array().size(), 1u);
}

}  // namespace
}  // namespace sluice::methods::remote
