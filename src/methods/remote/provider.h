// Remote AI providers (DESIGN.md §4–§6): the calls remote methods make, behind one interface
// whatever the wire format (OpenAI-compatible, AWS Bedrock), each provider's calls passing
// through its ProviderGate — the unit of limits, retries, circuit breaking and the cost ledger.
//
//   remote method ──► Provider (wire format) ──► ProviderGate (limits, retries, breaker)
//                                                  ──► Transport (network, or a cassette)
//
// Event-loop only: every awaitable here runs on the runtime's loop.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/status.h"
#include "http/curl_client.h"
#include "http/request.h"
#include "methods/method.h"
#include "runtime/limiter.h"
#include "runtime/rate_limit.h"
#include "runtime/retry.h"

namespace sluice::methods::remote {

namespace asio = boost::asio;
namespace json = boost::json;

// What one logical call cost: the method's Cost (calls; retries, the attempts after the first;
// tokens; provider_millis, from the first attempt to the answer, waits included).
using Usage = Cost;

// Where requests go: the network, or a cassette (record/replay, cassette.h).
class Transport {
 public:
  virtual ~Transport() = default;
  // The response whatever its status; errors as http::Send. The caller keeps `request` until
  // the call completes (the gate sends one request again on a retry without copying it).
  virtual asio::awaitable<Result<http::ClientResponse>> Exchange(
      const http::ClientRequest& request) = 0;
};

class NetworkTransport : public Transport {
 public:
  explicit NetworkTransport(http::HttpClient& client) : client_(client) {}
  asio::awaitable<Result<http::ClientResponse>> Exchange(
      const http::ClientRequest& request) override;

 private:
  http::HttpClient& client_;
};

// Per provider; adjustable while running (ProviderGate::SetLimits).
struct ProviderLimits {
  // Calls in flight at once. Default 64.
  size_t max_concurrency = 64;
  // Requests and tokens per minute (token buckets). 0: no limit of ours — the server's
  // x-ratelimit-limit-* headers then set it.
  double requests_per_minute = 0;
  double tokens_per_minute = 0;
  // Attempts per call for 408/409/5xx/timeouts/connection failures; other errors are not
  // retried. 429s and failures while the circuit is open are retried without counting (the
  // provider is busy or down, the call is not bad), for up to max_outage_wait.
  runtime::RetryPolicy retry{.max_attempts = 5};
  // Deadline of each attempt. Default 120 s.
  runtime::Duration call_timeout{120'000};
  runtime::BreakerOptions breaker;
  // How long a call waits for an open circuit (an outage) before failing. Default 15 min.
  runtime::Duration max_outage_wait{900'000};
};

// The ledger of one provider since start.
struct ProviderStats {
  int64_t calls = 0;  // logical calls answered (success or permanent error)
  int64_t retries = 0;
  int64_t failures = 0;   // calls that ended in an error
  int64_t throttled = 0;  // 429 answers
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t breaker_opened = 0;
  size_t peak_in_flight = 0;
  double millis = 0;
};

// How a provider's non-2xx answers map to statuses: retryable codes (Unavailable,
// DeadlineExceeded, ResourceExhausted) are retried, everything else is final.
using ErrorClassifier = Status (*)(const http::ClientResponse& response, std::string_view provider);

// The common mapping of HTTP statuses: 401/403 PermissionDenied "auth_failed"; 408
// DeadlineExceeded "timeout"; 409 Unavailable "conflict"; 429 ResourceExhausted
// "rate_limited"; 5xx Unavailable "server_error"; other 4xx InvalidArgument "invalid_request";
// and FailedPrecondition "quota_exceeded" whatever the status when `quota` (an exhausted quota
// or billing limit: retrying cannot help).
Status StatusForHttp(long status, std::string_view provider, std::string_view detail, bool quota);

// What a person waiting on a run should hear about a provider's outage: it stopped answering
// (the circuit opened; calls wait without spending attempts) or answers again.
struct OutageNotice {
  std::string provider;
  bool down = true;
  // down: the error that opened the circuit, e.g. "connection refused" to the provider's host.
  Status error;
  // down: when the next probe goes out.
  runtime::Duration retry_in{0};
};
using OutageListener = std::function<void(const OutageNotice&)>;

class ProviderGate {
 public:
  ProviderGate(std::string name, asio::any_io_executor loop, Transport& transport,
               ProviderLimits limits, ErrorClassifier classify,
               runtime::Now now = runtime::SteadyClock::now);

  struct Answer {
    http::ClientResponse response;  // a 2xx
    Usage usage;                    // calls, retries, millis (tokens are the provider's to add)
  };

  // Sends `request` under the limits: waits while the circuit is open (an outage) without
  // spending attempts, takes a concurrency slot, reserves one request and `estimated_tokens`,
  // retries retryable failures with full-jitter backoff (a server's Retry-After, retry-after-ms
  // or x-ratelimit-reset-* wins and pauses the whole provider), and reads x-ratelimit-remaining-*.
  // Errors: the classifier's status for a final answer (quota, auth, invalid request); the last
  // retryable error after the attempts, with "after N attempts"; Unavailable
  // "provider_unavailable" when the circuit stayed open past max_outage_wait.
  asio::awaitable<Result<Answer>> Call(http::ClientRequest request, double estimated_tokens);

  // The tokens a call really used: the ledger, and the token bucket charged for any excess.
  void RecordTokens(int64_t input_tokens, int64_t output_tokens, double estimated_tokens);

  void SetLimits(ProviderLimits limits);
  const ProviderLimits& limits() const { return limits_; }
  // Called on the loop each time the circuit opens (or reopens after a failed probe) and when
  // it closes again. Replaces the previous listener; empty to stop listening.
  void OnOutage(OutageListener listener) { on_outage_ = std::move(listener); }
  const ProviderStats& stats() const { return stats_; }
  runtime::CircuitBreaker::State breaker_state() const { return breaker_.state(); }
  const std::string& name() const { return name_; }

 private:
  asio::awaitable<void> Sleep(runtime::Duration duration);
  // RecordSuccess on the breaker, telling the listener when that ends an outage.
  void ProviderAnswered();
  void ObserveRateLimitHeaders(const http::ClientResponse& response);

  std::string name_;
  asio::any_io_executor loop_;
  Transport& transport_;
  ProviderLimits limits_;
  ErrorClassifier classify_;
  runtime::Now now_;
  runtime::Limiter concurrency_;
  runtime::TokenBucket requests_;
  runtime::TokenBucket tokens_;
  runtime::CircuitBreaker breaker_;
  // A server-requested pause (429 with Retry-After, or a limit exhausted until a reset).
  runtime::SteadyClock::time_point paused_until_{};
  std::mt19937_64 random_{std::random_device{}()};
  ProviderStats stats_;
  size_t in_flight_ = 0;
  OutageListener on_outage_;
};

// "1s", "6m0s", "20ms", "1h2m3.5s" (x-ratelimit-reset-*) → milliseconds; nullopt when malformed.
std::optional<runtime::Duration> ParseResetDuration(std::string_view text);

// An image in a chat message: its type and bytes (sent base64-encoded).
struct ImagePart {
  std::string mime;
  std::string bytes;
};

struct Message {
  std::string role;  // "user" or "assistant"
  std::string text;
  std::vector<ImagePart> images;
};

struct ChatRequest {
  // "" for the provider's configured chat model.
  std::string model;
  std::string system;
  std::vector<Message> messages;
  // A JSON schema the reply must follow (structured output); empty for free text.
  json::object schema;
  std::string schema_name = "result";
  int max_output_tokens = 512;
};

struct ChatReply {
  // The reply text; with a schema, a JSON document (not yet validated).
  std::string text;
  std::string model;
  Usage usage;
};

struct EmbedReply {
  std::vector<std::vector<float>> vectors;  // one per input, in order
  std::string model;
  Usage usage;
};

// One timed stretch of a transcript, in seconds from the start of the audio sent.
struct TranscriptSegment {
  double start_s = 0, end_s = 0;
  std::string text;
};

struct TranscriptReply {
  std::string text;
  // The server's segments (verbose_json); one segment spanning the audio when it sends none.
  std::vector<TranscriptSegment> segments;
  std::string model;
  Usage usage;
};

// The configuration of one provider (config.h reads it from TOML and the environment).
struct ProviderConfig {
  std::string name;
  // "openai" (any OpenAI-compatible server) or "bedrock".
  std::string kind = "openai";
  // openai: up to and including the version ("https://api.openai.com/v1"). bedrock: the
  // runtime endpoint; default https://bedrock-runtime.<region>.amazonaws.com.
  std::string base_url;
  // The environment variable holding the API key (openai); its value is read at start.
  std::string api_key_env;
  std::string api_key;
  // bedrock: region and long-term keys (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
  // AWS_SESSION_TOKEN at start), or the process's credential chain when the composition root
  // sets aws_credentials; aws_problem says why it could not (for the call's error).
  std::string region;
  http::SigV4 aws;
  std::shared_ptr<http::AwsCredentialProvider> aws_credentials;
  std::string aws_problem;
  std::string chat_model;
  std::string embedding_model;
  // The model embed.image uses: openai, none by default (name the CLIP server's model);
  // bedrock, amazon.titan-embed-image-v1 (multimodal: its text embeddings share the space).
  std::string image_embedding_model;
  // openai: how images go to /embeddings. "input" (default): data URLs in `input` with
  // "modality": "image", many per request (Infinity and CLIP servers); "messages": one image per
  // request as a chat message (vLLM's multimodal embedding models).
  std::string image_embedding_request = "input";
  // Embedding inputs gathered across items into one request (1: each alone), and how long the
  // first of them waits for company. Images go one per request with "messages" and on Bedrock.
  size_t embedding_batch = 32;
  double embedding_batch_wait_ms = 20;
  std::string transcription_model;
  ProviderLimits limits;
};

class Provider {
 public:
  virtual ~Provider() = default;
  virtual const ProviderConfig& config() const = 0;
  virtual ProviderGate& gate() = 0;

  // Errors: as ProviderGate::Call; FailedPrecondition "bad_reply" for a 2xx whose body is not
  // what the API documents; FailedPrecondition "refused" when the model declined. `request` is
  // read until the call completes (callers await it; a re-ask sends it again, grown).
  virtual asio::awaitable<Result<ChatReply>> Chat(const ChatRequest& request) = 0;
  // `model` "" for the configured embedding model.
  virtual asio::awaitable<Result<EmbedReply>> Embed(std::vector<std::string> texts,
                                                    std::string model) = 0;
  // One embedding per image, in order. `model` "" for the configured image embedding model
  // (FailedPrecondition "no_model" when there is none). Errors otherwise as Embed.
  virtual asio::awaitable<Result<EmbedReply>> EmbedImages(std::vector<ImagePart> images,
                                                          std::string model) = 0;
  // `audio` in `mime` (a WAV file, say) to text with timed segments. `model` "" for the
  // configured transcription model; `language` "" lets the server detect it (ISO 639-1
  // otherwise). Unimplemented "not_supported" for providers without transcription (Bedrock).
  virtual asio::awaitable<Result<TranscriptReply>> Transcribe(std::string audio, std::string mime,
                                                              std::string model,
                                                              std::string language) = 0;
  // One cheap call, outside the gate (no retries, no rate budget), that shows whether the
  // provider answers and takes our credentials: openai lists its models (GET /models); bedrock
  // resolves its AWS credentials. The call's error otherwise ("HTTP 401: …" for a refused key).
  virtual asio::awaitable<Status> Probe() = 0;
};

// The wire formats. `transport` and `loop` outlive the provider.
std::unique_ptr<Provider> NewOpenAiProvider(ProviderConfig config, asio::any_io_executor loop,
                                            Transport& transport);
std::unique_ptr<Provider> NewBedrockProvider(ProviderConfig config, asio::any_io_executor loop,
                                             Transport& transport);

// FailedPrecondition "bad_reply": a 2xx answer whose body is not what the API documents.
Status BadReply(std::string_view provider, std::string_view what);
// The body of a 2xx answer as a JSON object (its memory from `storage`), or BadReply.
Result<json::object> ReplyObject(const http::ClientResponse& response, std::string_view provider,
                                 json::storage_ptr storage = {});

// A count a reply reports (tokens) under `key`: the number when it is a whole number ≥ 0, else
// 0 — usage is bookkeeping, and an odd count must not fail a call that succeeded.
int64_t CountIn(const json::object& object, std::string_view key);
// An embedding in a reply: BadReply unless a non-empty array of numbers finite as floats.
Result<std::vector<float>> EmbeddingFrom(const json::value* value, std::string_view provider);
// BadReply unless every vector of `reply` has the same length.
Status SameLength(const EmbedReply& reply, std::string_view provider);

// Rough token count of a request before sending it (for the tokens-per-minute bucket): text at
// four characters a token, a fixed amount per image, plus the output allowance.
double EstimateTokens(const ChatRequest& request);

// The base64 of `bytes` (images in JSON bodies).
std::string Base64(std::string_view bytes);
// The same, appended to `out`.
void AppendBase64(std::string& out, std::string_view bytes);

}  // namespace sluice::methods::remote
