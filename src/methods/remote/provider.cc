#include "methods/remote/provider.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <cmath>

#include "common/json_text.h"
#include "common/strings.h"
#include "http/retry_after.h"

namespace sluice::methods::remote {
namespace {

using runtime::Duration;
using Clock = runtime::SteadyClock;

// Token buckets hold a tenth of a second's worth: calls are paced evenly, not sent in a burst
// that the provider's own (often per-second) enforcement would answer with 429s.
constexpr double kBurstSeconds = 0.1;

double MillisBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// The server's wait before the next attempt, from the headers providers use.
std::optional<Duration> ServerHint(const http::ClientResponse& response) {
  std::string ms = response.Header("retry-after-ms");
  int64_t value = 0;
  if (!ms.empty() && ParseInt(ms, value) && value >= 0) return Duration{value};
  if (std::string after = response.Header("retry-after"); !after.empty())
    return http::ParseRetryAfter(after, std::chrono::system_clock::now());
  return std::nullopt;
}

}  // namespace

asio::awaitable<Result<http::ClientResponse>> NetworkTransport::Exchange(
    const http::ClientRequest& request) {
  co_return co_await http::SendKept(client_, request);
}

std::optional<Duration> ParseResetDuration(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return std::nullopt;
  double total_ms = 0;
  while (!text.empty()) {
    size_t digits = 0;
    while (digits < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.'))
      ++digits;
    if (digits == 0) return std::nullopt;
    double number = std::strtod(std::string(text.substr(0, digits)).c_str(), nullptr);
    text.remove_prefix(digits);
    double unit = 0;
    if (text.starts_with("ms")) {
      unit = 1, text.remove_prefix(2);
    } else if (text.starts_with("s")) {
      unit = 1000, text.remove_prefix(1);
    } else if (text.starts_with("m")) {
      unit = 60'000, text.remove_prefix(1);
    } else if (text.starts_with("h")) {
      unit = 3'600'000, text.remove_prefix(1);
    } else if (text.empty()) {
      unit = 1000;  // a bare number: seconds
    } else {
      return std::nullopt;
    }
    total_ms += number * unit;
  }
  return Duration{static_cast<int64_t>(std::ceil(total_ms))};
}

ProviderGate::ProviderGate(std::string name, asio::any_io_executor loop, Transport& transport,
                           ProviderLimits limits, ErrorClassifier classify, runtime::Now now)
    : name_(std::move(name)),
      loop_(loop),
      transport_(transport),
      limits_(limits),
      classify_(classify),
      now_(std::move(now)),
      concurrency_(loop, limits.max_concurrency),
      requests_(limits.requests_per_minute, now_, kBurstSeconds),
      tokens_(limits.tokens_per_minute, now_, kBurstSeconds),
      breaker_(limits.breaker, now_) {}

void ProviderGate::SetLimits(ProviderLimits limits) {
  limits_ = limits;
  concurrency_.SetLimit(limits.max_concurrency);
  requests_.SetRate(limits.requests_per_minute);
  tokens_.SetRate(limits.tokens_per_minute);
}

asio::awaitable<void> ProviderGate::Sleep(Duration duration) {
  if (duration.count() <= 0) co_return;
  asio::steady_timer timer(loop_, duration);
  boost::system::error_code ignored;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

void ProviderGate::ObserveRateLimitHeaders(const http::ClientResponse& response) {
  auto number = [&](const char* name) -> std::optional<double> {
    std::string text = response.Header(name);
    if (text.empty()) return std::nullopt;
    char* end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (end == text.c_str()) return std::nullopt;
    return value;
  };
  // The server's limits apply when ours are unset (0) or looser.
  if (auto limit = number("x-ratelimit-limit-requests");
      limit && *limit > 0 && (limits_.requests_per_minute == 0 || *limit < requests_.rate())) {
    if (requests_.rate() != *limit) requests_.SetRate(*limit);
  }
  if (auto limit = number("x-ratelimit-limit-tokens");
      limit && *limit > 0 && (limits_.tokens_per_minute == 0 || *limit < tokens_.rate())) {
    if (tokens_.rate() != *limit) tokens_.SetRate(*limit);
  }
  if (auto remaining = number("x-ratelimit-remaining-requests")) {
    requests_.ObserveRemaining(*remaining);
    if (*remaining <= 0) {
      if (auto reset = ParseResetDuration(response.Header("x-ratelimit-reset-requests")))
        paused_until_ = std::max(paused_until_, now_() + *reset);
    }
  }
  if (auto remaining = number("x-ratelimit-remaining-tokens")) {
    tokens_.ObserveRemaining(*remaining);
    if (*remaining <= 0) {
      if (auto reset = ParseResetDuration(response.Header("x-ratelimit-reset-tokens")))
        paused_until_ = std::max(paused_until_, now_() + *reset);
    }
  }
}

void ProviderGate::RecordTokens(int64_t input_tokens, int64_t output_tokens,
                                double estimated_tokens) {
  stats_.input_tokens += input_tokens;
  stats_.output_tokens += output_tokens;
  double excess = static_cast<double>(input_tokens + output_tokens) - estimated_tokens;
  if (excess > 0) tokens_.Reserve(excess);  // later callers wait for what this one overdrew
}

void ProviderGate::ProviderAnswered() {
  bool was_down = breaker_.state() != runtime::CircuitBreaker::State::kClosed;
  breaker_.RecordSuccess();
  if (was_down && on_outage_) on_outage_({.provider = name_, .down = false});
}

asio::awaitable<Result<ProviderGate::Answer>> ProviderGate::Call(http::ClientRequest request,
                                                                 double estimated_tokens) {
  Clock::time_point start = now_();
  Usage usage{.calls = 1};
  int attempts = 0;
  int throttles = 0;
  Status last;
  auto finish = [&](Status status) -> Status {
    usage.provider_millis = MillisBetween(start, now_());
    ++stats_.calls;
    stats_.retries += usage.retries;
    stats_.millis += usage.provider_millis;
    if (!status.ok()) ++stats_.failures;
    return status;
  };
  for (;;) {
    // An outage: wait for the circuit to let a probe through. These waits spend no attempts.
    for (Duration wait = breaker_.Admit(); wait.count() > 0; wait = breaker_.Admit()) {
      if (now_() - start > limits_.max_outage_wait) {
        co_return finish(Failure(absl::StatusCode::kUnavailable, "provider_unavailable",
                                 StrCat("provider ", name_, " has been failing for over ",
                                        limits_.max_outage_wait.count() / 1000,
                                        " s (circuit open); last error: ", last.message())));
      }
      co_await Sleep(std::min(wait, Duration{1000}));
    }
    runtime::Limiter::Permit permit = co_await concurrency_.Acquire();
    if (breaker_.state() == runtime::CircuitBreaker::State::kOpen) continue;  // opened meanwhile
    if (Clock::time_point now = now_(); paused_until_ > now)
      co_await Sleep(std::chrono::ceil<Duration>(paused_until_ - now));
    Duration wait =
        std::max(requests_.Reserve(1), tokens_.Reserve(attempts == 0 ? estimated_tokens : 0));
    co_await Sleep(wait);
    request.timeout = limits_.call_timeout;
    stats_.peak_in_flight = std::max(stats_.peak_in_flight, ++in_flight_);
    Result<http::ClientResponse> response = co_await transport_.Exchange(request);
    --in_flight_;
    permit.Reset();

    bool outage = false;
    std::optional<Duration> hint;
    if (response.ok()) {
      ObserveRateLimitHeaders(*response);
      if (response->successful()) {
        ProviderAnswered();
        (void)finish(absl::OkStatus());
        co_return Answer{std::move(*response), usage};
      }
      last = classify_(*response, name_);
      if (response->status == 429) ++stats_.throttled;
      hint = ServerHint(*response);
      outage = response->status >= 500 || response->status == 408;
    } else {
      last = response.status();
      // The request itself was bad (a URL, a blocked address, a response too large): final.
      outage = IsRetryable(last);
    }
    if (!IsRetryable(last)) {
      ProviderAnswered();  // the provider answered: it is up
      co_return finish(last);
    }
    if (outage) {
      runtime::CircuitBreaker::State before = breaker_.state();
      breaker_.RecordFailure();
      if (breaker_.state() == runtime::CircuitBreaker::State::kOpen &&
          before != runtime::CircuitBreaker::State::kOpen) {
        ++stats_.breaker_opened;
        if (on_outage_) {
          on_outage_({.provider = name_,
                      .down = true,
                      .error = last,
                      .retry_in = limits_.breaker.open_for});
        }
      }
    } else {
      ProviderAnswered();  // throttled, not down
    }
    // An open circuit means the provider is down, and a 429 that it is busy — neither says this
    // call is bad, so neither spends an attempt (max_outage_wait bounds both waits).
    bool throttled = last.code() == absl::StatusCode::kResourceExhausted;
    bool counted = !throttled && breaker_.state() == runtime::CircuitBreaker::State::kClosed;
    if (throttled) ++throttles;
    if (throttled && now_() - start > limits_.max_outage_wait) {
      co_return finish(Status(last.code(), StrCat(last.message(), " (still throttled after ",
                                                  limits_.max_outage_wait.count() / 1000, " s)")));
    }
    if (counted && ++attempts >= limits_.retry.max_attempts) {
      co_return finish(
          Status(last.code(), StrCat(last.message(), " (after ", attempts, " attempts)")));
    }
    ++usage.retries;
    Duration backoff = limits_.retry.Backoff(std::max(1, attempts + throttles), hint, random_);
    if (hint) paused_until_ = std::max(paused_until_, now_() + backoff);  // the server said so
    co_await Sleep(backoff);
  }
}

Status StatusForHttp(long status, std::string_view provider, std::string_view detail, bool quota) {
  std::string message =
      StrCat("provider ", provider, " answered HTTP ", status, detail.empty() ? "" : ": ", detail);
  if (quota) {
    return Failure(absl::StatusCode::kFailedPrecondition, "quota_exceeded",
                   StrCat(message, " (quota or billing limit: not retried)"));
  }
  switch (status) {
    case 401:
    case 403:
      return Failure(absl::StatusCode::kPermissionDenied, "auth_failed",
                     StrCat(message, " (check the provider's credentials)"));
    case 408:
      return Failure(absl::StatusCode::kDeadlineExceeded, "timeout", message);
    case 409:
      return Failure(absl::StatusCode::kUnavailable, "conflict", message);
    case 429:
      return Failure(absl::StatusCode::kResourceExhausted, "rate_limited", message);
    default:
      if (status >= 500) return Failure(absl::StatusCode::kUnavailable, "server_error", message);
      return Failure(absl::StatusCode::kInvalidArgument, "invalid_request", message);
  }
}

Status BadReply(std::string_view provider, std::string_view what) {
  return Failure(absl::StatusCode::kFailedPrecondition, "bad_reply",
                 StrCat("provider ", provider, " sent a reply sluice cannot read: ", what));
}

Result<json::object> ReplyObject(const http::ClientResponse& response, std::string_view provider,
                                 json::storage_ptr storage) {
  boost::system::error_code ec;
  json::value body = json::parse(response.body, ec, std::move(storage));
  if (ec || !body.is_object()) return BadReply(provider, "the body is not a JSON object");
  return std::move(body.as_object());
}

int64_t CountIn(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (!value || !value->is_number()) return 0;
  boost::system::error_code ec;
  auto count = value->to_number<int64_t>(ec);
  return ec || count < 0 ? 0 : count;
}

Result<std::vector<float>> EmbeddingFrom(const json::value* value, std::string_view provider) {
  if (!value || !value->is_array() || value->as_array().empty())
    return BadReply(provider, "an embedding that is not a non-empty array of numbers");
  std::vector<float> vector;
  vector.reserve(value->as_array().size());
  for (const json::value& x : value->as_array()) {
    if (!x.is_number()) return BadReply(provider, "a non-numeric embedding value");
    auto f = static_cast<float>(x.to_number<double>());
    if (!std::isfinite(f)) return BadReply(provider, "an embedding value out of range");
    vector.push_back(f);
  }
  return vector;
}

Status SameLength(const EmbedReply& reply, std::string_view provider) {
  for (const std::vector<float>& vector : reply.vectors) {
    if (vector.size() != reply.vectors.front().size())
      return BadReply(provider, StrCat("embeddings of different lengths (",
                                       reply.vectors.front().size(), " and ", vector.size(), ")"));
  }
  return absl::OkStatus();
}

double EstimateTokens(const ChatRequest& request) {
  double chars = static_cast<double>(request.system.size());
  double images = 0;
  for (const Message& message : request.messages) {
    chars += static_cast<double>(message.text.size());
    images += static_cast<double>(message.images.size());
  }
  chars += static_cast<double>(SerializedJsonSize(request.schema));
  return chars / 4 + images * 800 + request.max_output_tokens;
}

std::string Base64(std::string_view bytes) {
  std::string out;
  AppendBase64(out, bytes);
  return out;
}

void AppendBase64(std::string& out, std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out.reserve(out.size() + (bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) |
                 (static_cast<uint8_t>(bytes[i + 1]) << 8) | static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (size_t rest = bytes.size() - i) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (rest == 2) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
}

}  // namespace sluice::methods::remote
