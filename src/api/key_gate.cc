#include "api/key_gate.h"

#include <cmath>

#include "api/router.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "runtime/offload.h"

namespace sluice::api {

namespace asio = boost::asio;

KeyGate::KeyGate(runtime::Runtime& runtime, db::KeyStore& keys, bool required,
                 std::chrono::milliseconds cache_for)
    : runtime_(runtime), keys_(keys), required_(required), cache_for_(cache_for) {}

std::string KeyFromCookie(std::string_view header) {
  for (std::string_view part : Split(header, ";")) {
    part = Trim(part);
    if (ConsumePrefix(part, "sluice_key=")) return std::string(part);
  }
  return "";
}

Handler KeyGate::Wrap(Handler inner) {
  if (!required_) return inner;
  return [this, inner = std::move(inner)](Request request) {
    return Admit(std::move(request), inner);
  };
}

asio::awaitable<Response> KeyGate::Admit(Request request, const Handler& inner) {
  // Probes and the scraper need no key (they show counts, not content), nor the UI's files (the
  // pages ask for a key and send it with every /v1 call).
  if (request.path == "/healthz" || request.path == "/readyz" || request.path == "/metrics" ||
      request.path == "/" || request.path == "/ui" || request.path.starts_with("/ui/"))
    co_return co_await inner(request);
  std::string header = request.Header("authorization");
  std::string_view presented = header;
  bool bearer = ConsumePrefix(presented, "Bearer ");
  // Pictures and videos in the UI's pages cannot send headers: reads take the key from the
  // SameSite=Strict cookie the UI sets. Only reads, so another site cannot act with it.
  std::string cookie_key;
  if (!bearer && (request.method == "GET" || request.method == "HEAD")) {
    cookie_key = KeyFromCookie(request.Header("cookie"));
    presented = cookie_key;
    bearer = !cookie_key.empty();
  }
  if (!bearer || Trim(presented).empty()) {
    Response refused = Problem(401, "API key required",
                               "send the key as \"Authorization: Bearer <key>\" (`sluice keys "
                               "create` makes one)",
                               "no_key");
    refused.headers.emplace_back("WWW-Authenticate", "Bearer");
    co_return refused;
  }
  std::string hash = Sha256::HexOf(Trim(presented));
  auto now = std::chrono::steady_clock::now();
  // Shared: another request may replace the entry (or clear the map) while this one waits.
  std::shared_ptr<Known> known = by_hash_[hash];
  if (!known || now - known->fetched > cache_for_) {
    if (by_hash_.size() > kMaxRemembered) by_hash_.clear();  // a client trying many keys
    auto find = [&] { return keys_.FindKey(hash); };
    Result<db::ApiKey> found = co_await runtime::RunOn(runtime_.blocking(), find);
    if (!found.ok() && !absl::IsNotFound(found.status()))
      co_return Problem(503, "Keys unavailable",
                        StrCat("the API keys cannot be read: ", found.status().message()));
    known = std::make_shared<Known>(Known{.key = std::move(found), .fetched = now});
    by_hash_[hash] = known;
  }
  if (!known->key.ok())
    co_return Problem(401, "Unknown API key", "this key is not known here", "bad_key");
  const db::ApiKey& key = *known->key;
  if (key.revoked_ms != 0)
    co_return Problem(401, "Revoked API key", StrCat("the key '", key.name, "' was revoked"),
                      "revoked_key");
  if (key.requests_per_minute > 0) {
    std::unique_ptr<runtime::TokenBucket>& bucket = buckets_[key.name];
    if (!bucket) bucket = std::make_unique<runtime::TokenBucket>(key.requests_per_minute);
    runtime::Duration wait = bucket->TryTake(1);
    if (wait.count() > 0) {
      Response refused = Problem(429, "Too many requests",
                                 StrCat("the key '", key.name, "' may make ",
                                        key.requests_per_minute, " requests a minute"),
                                 "rate_limited");
      refused.headers.emplace_back(
          "Retry-After", std::to_string(static_cast<int64_t>(std::ceil(wait.count() / 1000.0))));
      co_return refused;
    }
  }
  co_return co_await inner(std::move(request));
}

}  // namespace sluice::api
