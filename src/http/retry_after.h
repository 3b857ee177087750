// Retry-After (RFC 9110 §10.2.3): either delay-seconds or an HTTP-date.
//
// Thread-safe: pure function.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace sluice::http {

// The wait the server asked for: "120" → 120 s; "Wed, 21 Oct 2026 07:28:00 GMT" (or the RFC 850
// and asctime forms) → that instant minus `now`, at least 0. std::nullopt when `value` is empty
// or unparseable.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value,
                                                         std::chrono::system_clock::time_point now);

}  // namespace sluice::http
