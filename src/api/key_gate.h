// KeyGate: who may call the API. With keys required, every route but /healthz and /readyz needs
// "Authorization: Bearer <key>" naming a key in force (db/keys.h); each key's
// requests_per_minute is held with 429 and Retry-After. Keys are looked up by their SHA-256 and
// kept for `cache_for` (default 5 s), so a revocation takes effect within that time and a busy
// client costs no database query per request.
//
// Event-loop only (lookups run on the blocking pool).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "api/http_server.h"
#include "db/keys.h"
#include "runtime/rate_limit.h"
#include "runtime/runtime.h"

namespace sluice::api {

// The key in a Cookie header's "sluice_key" (keys are "sk_" and hex: nothing to decode); "" when
// it has none.
std::string KeyFromCookie(std::string_view header);

class KeyGate {
 public:
  // `required` false: every request passes (loopback with --no-auth).
  KeyGate(runtime::Runtime& runtime, db::KeyStore& keys, bool required,
          std::chrono::milliseconds cache_for = std::chrono::milliseconds(5000));

  // `inner` behind the gate; the key comes as "Authorization: Bearer", or for GET and HEAD as
  // the cookie the web UI sets. 401 problem for a missing, unknown or revoked key, 429 over the
  // key's rate, 503 when the keys cannot be read; the request otherwise.
  Handler Wrap(Handler inner);

 private:
  struct Known {
    Result<db::ApiKey> key = absl::NotFoundError("");
    std::chrono::steady_clock::time_point fetched;
  };
  boost::asio::awaitable<Response> Admit(Request request, const Handler& inner);

  runtime::Runtime& runtime_;
  db::KeyStore& keys_;
  bool required_;
  std::chrono::milliseconds cache_for_;
  static constexpr size_t kMaxRemembered = 10'000;
  std::map<std::string, std::shared_ptr<Known>> by_hash_;
  std::map<std::string, std::unique_ptr<runtime::TokenBucket>> buckets_;  // by key name
};

}  // namespace sluice::api
