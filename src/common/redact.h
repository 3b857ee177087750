// Secrets kept out of what sluice prints and stores for people: logs, errors, `status` output,
// API problem documents and the failure details recorded with items and jobs.
//
// What is hidden ("***" in its place):
//   - the password of a URL's user information: "https://user:***@host/…";
//   - the values of query parameters that carry credentials (X-Amz-Signature,
//     X-Amz-Security-Token, X-Goog-Signature, Signature, sig, token, access_token, api_key,
//     key, password, secret, client_secret …): presigned and tokenised media URLs;
//   - "Bearer …" tokens and OpenAI-style "sk-…" keys;
//   - every value registered with RegisterSecret (API keys, AWS secret keys and session
//     tokens, database passwords), wherever it appears.
// The item URLs themselves are data and stay as given in the catalog (a rerun fetches them).
//
// Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

// Adds `value` to the process's registered secrets. Values under 8 characters are ignored (too
// likely to be ordinary words); the most recent 1,000 are kept.
void RegisterSecret(std::string_view value);

std::string RedactSecrets(std::string_view text);
// The same code and cause, with the message redacted.
Status RedactSecrets(const Status& status);

}  // namespace sluice
