// AWS credentials found the way AWS SDKs find them, and kept fresh while requests are signed.
//
// The chain, first match wins (FindAwsCredentials):
//   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
//   2. the shared files (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials; AWS_CONFIG_FILE,
//      default ~/.aws/config), profile AWS_PROFILE (default "default"): static keys,
//      role_arn + source_profile / credential_source through STS AssumeRole, role_arn +
//      web_identity_token_file, or credential_process;
//   3. web identity (EKS IRSA): AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN through STS
//      AssumeRoleWithWebIdentity (the token file is read again on every refresh);
//   4. the ECS / EKS Pod Identity container endpoint: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
//      (on 169.254.170.2) or AWS_CONTAINER_CREDENTIALS_FULL_URI (https, loopback, or the ECS/EKS
//      link-local addresses), with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or
//      AWS_CONTAINER_AUTHORIZATION_TOKEN;
//   5. EC2 instance metadata, IMDSv2 only (a token PUT, then GETs), unless
//      AWS_EC2_METADATA_DISABLED=true; AWS_EC2_METADATA_SERVICE_ENDPOINT moves it (tests).
// STS is https://sts.REGION.amazonaws.com unless AWS_ENDPOINT_URL_STS names another.
//
// The metadata and container addresses are reached only by the requests made here, each
// allowing exactly its own endpoint; the media fetcher's SSRF guard refuses them as before.
//
// Event-loop only (like HttpClient): create, call and destroy on the loop thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::http {

class HttpClient;

struct AwsCredentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // "" for long-term keys
  // When temporary credentials stop working; nullopt for long-term keys.
  std::optional<std::chrono::system_clock::time_point> expires;
};

// One place credentials come from. Fetch asks it again (a file read, an STS call, an HTTP GET).
class AwsCredentialSource {
 public:
  virtual ~AwsCredentialSource() = default;
  // Fresh credentials. Unauthenticated (cause "no_credentials") when the source answers but has
  // none for us (STS refuses the role, IMDS has no role); Unavailable when it cannot be reached;
  // InvalidArgument (cause "bad_credentials") when its answer cannot be read.
  virtual boost::asio::awaitable<Result<AwsCredentials>> Fetch() = 0;
  // For people: "environment", "profile dev in /root/.aws/config (assume role arn:…)",
  // "web identity (role arn:…)", "container endpoint http://…", "instance metadata (role r)".
  virtual std::string Describe() const = 0;
};

// What the chain reads besides the network: the environment and the home directory (for the
// shared files), and where credential_process commands run.
struct AwsChainOptions {
  // The process environment when empty.
  std::function<std::optional<std::string>(const std::string&)> environment;
  // $HOME when empty.
  std::filesystem::path home;
  // Runs credential_process commands off the event loop. Required for that source.
  boost::asio::thread_pool* blocking = nullptr;
  // How long a metadata or container endpoint may take to answer. Default 2 s.
  std::chrono::milliseconds metadata_timeout{2'000};
};

// The source the chain picks from the environment and the shared files, without any network
// call (the instance metadata source is the fallback and is only asked when fetched).
// InvalidArgument (cause "bad_credentials") for a profile named by AWS_PROFILE that does not
// exist, a shared file that cannot be read, a role profile without a source, a source_profile
// loop, or a container URI outside the allowed addresses; NotFound (cause "no_credentials") when
// nothing is configured and instance metadata is disabled.
Result<std::unique_ptr<AwsCredentialSource>> FindAwsCredentials(HttpClient& client,
                                                                const AwsChainOptions& options);

// Long-term keys given directly (tests, configuration).
std::unique_ptr<AwsCredentialSource> FixedAwsCredentials(AwsCredentials credentials,
                                                         std::string description);

// The credentials every signed request of one process uses: fetched from a source on first use,
// reused while valid, and refreshed `refresh_before` their expiry in the background — requests
// keep signing with the current ones meanwhile, and a failed refresh keeps them (retrying every
// `retry_every`) until they expire. Concurrent callers share one fetch.
class AwsCredentialProvider : public std::enable_shared_from_this<AwsCredentialProvider> {
 public:
  struct Options {
    std::chrono::seconds refresh_before{300};
    std::chrono::seconds retry_every{10};
  };
  static std::shared_ptr<AwsCredentialProvider> Create(boost::asio::any_io_executor loop,
                                                       std::unique_ptr<AwsCredentialSource> source,
                                                       Options options);
  static std::shared_ptr<AwsCredentialProvider> Create(
      boost::asio::any_io_executor loop, std::unique_ptr<AwsCredentialSource> source) {
    return Create(std::move(loop), std::move(source), Options{});
  }

  // Credentials valid now. The source's error when there are none and the fetch failed.
  boost::asio::awaitable<Result<AwsCredentials>> Current();
  // The source's description.
  std::string source() const { return source_->Describe(); }
  // Fetches made so far (tests, diagnostics).
  int fetches() const { return fetches_; }

  // Private; use Create.
  AwsCredentialProvider(boost::asio::any_io_executor loop,
                        std::unique_ptr<AwsCredentialSource> source, Options options);

 private:
  boost::asio::awaitable<void> Refresh();
  bool Valid(std::chrono::system_clock::time_point now) const;

  boost::asio::any_io_executor loop_;
  std::unique_ptr<AwsCredentialSource> source_;
  Options options_;
  std::optional<AwsCredentials> current_;
  Status last_error_;
  bool refreshing_ = false;
  std::chrono::system_clock::time_point next_attempt_{};
  // Waiters for a refresh park on it; the refresh cancels it when done.
  boost::asio::steady_timer refreshed_;
  int fetches_ = 0;
};

// The readers of the credential services' answers (tests and the fuzz target use them).
// {AccessKeyId, SecretAccessKey, Token | SessionToken, Expiration}, as the container endpoint,
// instance metadata and credential_process answer; InvalidArgument "bad_credentials" naming
// `from` when it is not JSON, lacks the keys or has an unreadable Expiration.
Result<AwsCredentials> CredentialsFromJson(std::string_view text, const std::string& from);
// <`action`Response><`action`Result><Credentials>… of STS AssumeRole and
// AssumeRoleWithWebIdentity; the same error when it is not XML or lacks keys or expiry.
Result<AwsCredentials> CredentialsFromStsXml(std::string_view xml, const std::string& action);

// "2026-12-03T14:00:00Z", with optional fractional seconds and a "+HH:MM" offset instead of Z.
std::optional<std::chrono::system_clock::time_point> ParseIso8601(std::string_view text);

}  // namespace sluice::http
