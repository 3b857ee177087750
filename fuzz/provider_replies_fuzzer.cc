// What remote providers answer — OpenAI-compatible servers (chat, embeddings, image
// embeddings, transcription) and Bedrock (Converse, Titan embeddings) — over any answer: the
// provider is an operator's model server or a proxy in front of one, and a broken answer must
// fail the call with an error that says what, never crash the process or hand back a result
// that breaks what it promises (one finite vector per input, all of one length; transcript
// segments in order). Input: byte 0 picks the provider and call, byte 1 the HTTP status, the
// rest is the answer's body. Calls are not retried and the circuit never opens.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "methods/remote/provider.h"
#include "runtime/runtime.h"

namespace {

namespace remote = sluice::methods::remote;
namespace asio = boost::asio;

class AnswerTransport : public remote::Transport {
 public:
  sluice::http::ClientResponse answer;
  asio::awaitable<sluice::Result<sluice::http::ClientResponse>> Exchange(
      const sluice::http::ClientRequest&) override {
    co_return answer;
  }
};

struct Fixture {
  sluice::runtime::Runtime runtime;
  AnswerTransport transport;
  std::unique_ptr<remote::Provider> openai, bedrock;

  Fixture() {
    remote::ProviderLimits limits;
    limits.retry.max_attempts = 1;
    limits.breaker.failure_threshold = 1 << 30;
    remote::ProviderConfig openai_config{.name = "fuzz",
                                         .kind = "openai",
                                         .base_url = "http://models.invalid/v1",
                                         .chat_model = "chat",
                                         .embedding_model = "embed",
                                         .image_embedding_model = "clip",
                                         .transcription_model = "whisper",
                                         .limits = limits};
    openai = remote::NewOpenAiProvider(openai_config, runtime.loop_executor(), transport);
    remote::ProviderConfig bedrock_config = openai_config;
    bedrock_config.kind = "bedrock";
    bedrock_config.region = "us-east-1";
    bedrock_config.aws = {.access_key = "AKIDFUZZ", .secret_key = "secret", .region = "us-east-1"};
    bedrock = remote::NewBedrockProvider(bedrock_config, runtime.loop_executor(), transport);
  }
};

void CheckError(const sluice::Status& status) {
  if (!status.ok() && status.message().empty()) __builtin_trap();  // errors say what
}

void CheckVectors(const sluice::Result<remote::EmbedReply>& reply, size_t inputs) {
  CheckError(reply.status());
  if (!reply.ok()) return;
  if (reply->vectors.size() != inputs) __builtin_trap();
  for (const std::vector<float>& vector : reply->vectors) {
    if (vector.empty() || vector.size() != reply->vectors[0].size()) __builtin_trap();
    for (float x : vector)
      if (!std::isfinite(x)) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* fixture = new Fixture();
  if (size < 2) return 0;
  // No 429: the gate would wait out the server's throttling, which is not what is under test.
  static constexpr long kStatuses[] = {200, 200, 200, 200, 400, 401, 403, 404, 500, 503};
  fixture->transport.answer = {
      .status = kStatuses[data[1] % std::size(kStatuses)],
      .headers = {},
      .body = std::string(reinterpret_cast<const char*>(data) + 2, size - 2)};
  remote::Provider& provider = (data[0] & 1) ? *fixture->bedrock : *fixture->openai;
  sluice::runtime::Runtime& runtime = fixture->runtime;
  switch ((data[0] >> 1) % 4) {
    case 0: {
      remote::ChatRequest request{.system = "",
                                  .messages = {{.role = "user", .text = "tags?", .images = {}}}};
      CheckError(runtime.Run(provider.Chat(std::move(request))).status());
      break;
    }
    case 1:
      CheckVectors(runtime.Run(provider.Embed({"a", "b", "c"}, "")), 3);
      break;
    case 2: {
      std::vector<remote::ImagePart> images(2, {.mime = "image/png", .bytes = "\x89PNG"});
      CheckVectors(runtime.Run(provider.EmbedImages(std::move(images), "")), 2);
      break;
    }
    case 3: {
      sluice::Result<remote::TranscriptReply> reply =
          runtime.Run(provider.Transcribe("RIFF", "audio/wav", "", ""));
      CheckError(reply.status());
      if (reply.ok()) {
        for (const remote::TranscriptSegment& segment : reply->segments)
          if (!(segment.start_s >= 0 && segment.start_s <= segment.end_s)) __builtin_trap();
      }
      break;
    }
  }
  return 0;
}
