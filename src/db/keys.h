// API keys of `sluice serve` (`sluice keys create|list|revoke`). Only a key's SHA-256 is kept:
// the key itself is shown once, when it is made, and cannot be read back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice::db {

struct ApiKey {
  std::string name;                // unique, the operator's
  std::string prefix;              // the key's first characters, to recognise it in lists and logs
  std::string hash;                // hex SHA-256 of the key
  double requests_per_minute = 0;  // 0: no limit
  int64_t created_ms = 0;
  int64_t revoked_ms = 0;  // 0: in force
};

class KeyStore {
 public:
  virtual ~KeyStore() = default;
  // AlreadyExists (cause "key_exists") when a key of that name exists, revoked or not.
  virtual Status AddKey(const ApiKey& key) = 0;
  // Every key, by name.
  virtual Result<std::vector<ApiKey>> ListKeys() = 0;
  // Revokes the key named `name` and returns it; a revoked key stays revoked (its first
  // revocation time is kept). NotFound for no such name.
  virtual Result<ApiKey> RevokeKey(std::string_view name) = 0;
  // The key whose hash is `hash` (revoked ones too). NotFound when there is none.
  virtual Result<ApiKey> FindKey(std::string_view hash) = 0;
};

// A new key: "sk_" and 40 random hex digits (160 bits from the system's random source).
std::string NewApiKeySecret();

}  // namespace sluice::db
