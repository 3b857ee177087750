// FakeAws: the AWS credential services on one loopback origin, for the credential chain's tests
// and the CLI's: STS (AssumeRole, AssumeRoleWithWebIdentity) at /sts/, IMDSv2 at /latest/…,
// and a container credentials endpoint at /container/creds. Every answer hands out new keys
// ("ASIA1", "ASIA2", …) that expire `lifetime` later, so tests can watch refreshes; Valid()
// says whether a key (or, with fixed keys, a session token) is one it issued and unexpired.
//
// Thread-safe: the routes run on the server thread; the rest may be called from any thread.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "testing/origin.h"

namespace sluice::testing {

class FakeAws {
 public:
  static constexpr const char* kRole = "fleet-role";
  static constexpr const char* kWebToken = "eyJ.web-identity-token";
  static constexpr const char* kContainerToken = "container-auth-token";

  explicit FakeAws(std::chrono::seconds lifetime = std::chrono::seconds(3600));
  // Hand out this key pair every time (with a new session token and expiry), for a service that
  // checks signatures against fixed keys (s3rver).
  void set_fixed_keys(std::string access_key, std::string secret_key);

  // Environment values that point the chain here.
  std::string sts_endpoint() const { return origin_.Url("/sts"); }
  std::string imds_endpoint() const { return origin_.Url(""); }
  std::string container_uri() const { return origin_.Url("/container/creds"); }

  // Keys handed out so far, by every service together.
  int issued() const;
  // Whether `access_key` was issued here and has not expired.
  bool Valid(const std::string& access_key) const;
  // The access key that signed the last AssumeRole call ("" when none came).
  std::string assume_role_signer() const;
  // Calls per route path ("/sts/", "/latest/api/token", …).
  int Count(const std::string& path) const { return origin_.Count(path); }
  void set_lifetime(std::chrono::seconds lifetime);
  ScriptedOrigin& origin() { return origin_; }

 private:
  // New keys as {AccessKeyId, SecretAccessKey, SessionToken|Token, Expiration}.
  struct Issued {
    std::string key, secret, token, expiration;
  };
  Issued Issue();

  mutable std::mutex mu_;
  std::chrono::seconds lifetime_;
  int issued_ = 0;
  std::map<std::string, std::chrono::system_clock::time_point> expiry_;
  std::string assume_role_signer_;
  std::string fixed_key_, fixed_secret_;
  ScriptedOrigin origin_;
};

}  // namespace sluice::testing
