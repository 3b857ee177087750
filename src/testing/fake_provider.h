// FakeProvider: an OpenAI-compatible and Bedrock-compatible model server on loopback for tests
// and benchmarks — deterministic answers (structured output generated from the request's JSON
// schema, embeddings from the text's hash, pictures near the word of their dominant colour —
// a toy multimodal model), configurable latency, and faults: 429 storms,
// outages (503s), an exhausted quota, malformed model output.
//
//   POST /v1/chat/completions, /v1/embeddings, /v1/audio/transcriptions   (OpenAI)
//   POST /model/{id}/converse, /model/{id}/invoke                          (Bedrock; SigV4
//        Authorization required, else 403 UnrecognizedClientException)
//
// Thread-safe: knobs and observations from any thread; requests are served on the server's
// thread.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "http/loopback_server.h"

namespace sluice::testing {

struct FakeProviderOptions {
  std::chrono::milliseconds latency{0};
  // Embedding dimensions.
  int dimensions = 8;
  // Sent as x-ratelimit-limit-requests / -remaining-requests when > 0: the server's own limit
  // per minute, counted over the last minute's requests.
  int64_t advertised_requests_per_minute = 0;
  // Percent of requests answered 500 at random (the soak's flaky model server).
  int failure_percent = 0;
};

class FakeProvider {
 public:
  static Result<std::unique_ptr<FakeProvider>> Start(FakeProviderOptions options = {},
                                                     int port = 0);

  // "http://127.0.0.1:PORT/v1" (OpenAI) and "http://127.0.0.1:PORT" (Bedrock endpoint).
  std::string openai_url() const;
  std::string bedrock_url() const;
  int port() const { return server_->port(); }

  void SetLatency(std::chrono::milliseconds latency);
  // The next `count` requests answer 429 with Retry-After of `retry_after` (in retry-after-ms
  // when `in_ms`, else whole seconds in Retry-After).
  void Throttle(int count, std::chrono::milliseconds retry_after, bool in_ms = true);
  // While on, every request answers 503.
  void SetOutage(bool down);
  // While on, every request answers 429 insufficient_quota (OpenAI) or
  // ServiceQuotaExceededException (Bedrock).
  void SetQuotaExhausted(bool exhausted);
  // The next `count` chat answers are not valid JSON.
  void SendMalformed(int count);
  // The next chat asking for structured output named `schema_name` ("" for any chat) answers
  // `answer` (a JSON document the test wrote) instead of one made from the request's schema.
  // Answers queue up, each used once.
  void AnswerChatsWith(std::string answer, std::string schema_name = "");

  // An embeddings request with an input containing `needle` answers 400 invalid_request_error
  // naming that input (a server refusing a whole batch for one bad input). "" turns it off.
  void RefuseEmbeddingInputsContaining(std::string needle);

  // Requests received (every path), and those of one kind: "chat", "embeddings",
  // "transcriptions", "converse", "invoke".
  int64_t requests() const;
  int64_t requests_of(const std::string& kind) const;
  // The most requests in progress at once, from arrival to answer.
  int64_t peak_concurrency() const;
  // The most requests that arrived within any window of `window` (rate checks).
  int64_t max_arrivals_within(std::chrono::milliseconds window) const;
  // How many inputs each embeddings request carried, in order.
  std::vector<size_t> embedding_batches() const;
  // Bodies of the chat requests received, in order.
  std::vector<boost::json::object> chat_requests() const;

 private:
  FakeProvider() = default;
  http::HttpReply Handle(const http::HttpRequest& request);

  mutable std::mutex mu_;
  FakeProviderOptions options_;
  std::mt19937 random_{14};
  int throttle_left_ = 0;
  std::chrono::milliseconds throttle_after_{0};
  bool throttle_in_ms_ = true;
  bool outage_ = false;
  bool quota_exhausted_ = false;
  int malformed_left_ = 0;
  std::string refused_input_;
  std::vector<size_t> embedding_batches_;
  std::deque<std::pair<std::string, std::string>> canned_;  // (schema name, answer)
  std::vector<std::chrono::steady_clock::time_point> arrivals_;
  std::vector<std::pair<std::chrono::steady_clock::time_point,
                        std::chrono::steady_clock::time_point>>
      busy_;  // [arrival, answer) of each request
  std::map<std::string, int64_t> by_kind_;
  std::vector<boost::json::object> chat_requests_;
  std::unique_ptr<http::LoopbackServer> server_;
};

// A value that fits `schema` (the subset structured output uses), varied by `seed`.
boost::json::value ValueForSchema(const boost::json::object& schema, uint64_t seed);

}  // namespace sluice::testing
