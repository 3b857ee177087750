#include "http/aws_credentials.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fstream>
#include <map>
#include <set>

#include "common/strings.h"
#include "http/request.h"
#include "runtime/runtime.h"
#include "testing/aws_fakes.h"
#include "testing/temp_dir.h"

namespace sluice::http {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using sluice::testing::FakeAws;

class AwsCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override { client_ = std::move(*HttpClient::Create(rt_.loop_executor())); }

  AwsChainOptions Options() {
    AwsChainOptions options;
    options.environment = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
    options.home = home_.path();
    options.blocking = &rt_.blocking();
    options.metadata_timeout = 1s;
    return options;
  }
  Result<std::unique_ptr<AwsCredentialSource>> Find() {
    return FindAwsCredentials(*client_, Options());
  }
  Result<AwsCredentials> Fetch(AwsCredentialSource& source) { return rt_.Run(source.Fetch()); }
  // The source the chain picks, fetched once.
  Result<AwsCredentials> FindAndFetch(std::string* description = nullptr) {
    Result<std::unique_ptr<AwsCredentialSource>> source = Find();
    if (!source.ok()) return source.status();
    Result<AwsCredentials> fetched = Fetch(**source);
    if (description) *description = (*source)->Describe();
    return fetched;
  }
  void Write(const std::filesystem::path& relative, const std::string& text) {
    std::filesystem::create_directories((home_.path() / relative).parent_path());
    std::ofstream(home_.path() / relative) << text;
  }
  // Instance metadata off, as on a laptop with nothing configured.
  void NoMetadata() { env_["AWS_EC2_METADATA_DISABLED"] = "true"; }

  runtime::Runtime rt_;
  std::unique_ptr<HttpClient> client_;
  sluice::testing::TempDir home_;
  std::map<std::string, std::string> env_;
};

TEST(Iso8601Test, ReadsTheFormsAwsServicesWrite) {
  auto z = ParseIso8601("2026-12-03T14:00:00Z");
  ASSERT_TRUE(z);
  EXPECT_EQ(std::chrono::system_clock::to_time_t(*z), 1796306400);
  EXPECT_EQ(ParseIso8601("2026-12-03T14:00:00.123Z"), z);
  EXPECT_EQ(ParseIso8601("2026-12-03T15:30:00+01:30"), z);
  EXPECT_FALSE(ParseIso8601(""));
  EXPECT_FALSE(ParseIso8601("2026-12-03 14:00:00"));
  EXPECT_FALSE(ParseIso8601("2026-13-03T14:00:00Z"));
  EXPECT_FALSE(ParseIso8601("2026-12-03T14:00:00"));
  // Found by the aws_answers fuzz target: a year past 2262 overflowed the clock.
  EXPECT_FALSE(ParseIso8601("6455-12-03T18:00:00.000Z"));
  EXPECT_FALSE(ParseIso8601("1969-12-31T23:59:59Z"));
  Result<AwsCredentials> far = CredentialsFromStsXml(
      "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
      "<SecretAccessKey>s</SecretAccessKey><Expiration>6455-12-03T18:00:00Z</Expiration>"
      "</Credentials></AssumeRoleResult></AssumeRoleResponse>",
      "AssumeRole");
  EXPECT_EQ(far.status().message(), "STS AssumeRole answered without credentials");
}

TEST_F(AwsCredentialsTest, EnvironmentKeysComeFirst) {
  env_ = {{"AWS_ACCESS_KEY_ID", "AKENV"},
          {"AWS_SECRET_ACCESS_KEY", "SKENV"},
          {"AWS_SESSION_TOKEN", "TOKENV"},
          {"AWS_PROFILE", "absent"}};
  std::string description;
  Result<AwsCredentials> credentials = FindAndFetch(&description);
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(credentials->access_key, "AKENV");
  EXPECT_EQ(credentials->session_token, "TOKENV");
  EXPECT_FALSE(credentials->expires);
  EXPECT_EQ(description, "environment (AWS_ACCESS_KEY_ID)");
}

TEST_F(AwsCredentialsTest, SharedFilesGiveTheDefaultOrTheNamedProfile) {
  NoMetadata();
  Write(".aws/credentials",
        "# keys\n[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key=SKDEFAULT\n"
        "[dev]\n aws_access_key_id = indented-is-nested\naws_access_key_id = AKDEV\n"
        "aws_secret_access_key = SKDEV\n");
  Write(".aws/config", "[profile dev]\nregion = eu-west-1\ns3 =\n  max_concurrent_requests = 20\n");
  Result<AwsCredentials> credentials = FindAndFetch();
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(credentials->access_key, "AKDEFAULT");

  env_["AWS_PROFILE"] = "dev";
  std::string description;
  credentials = FindAndFetch(&description);
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(credentials->access_key, "AKDEV");
  EXPECT_EQ(credentials->secret_key, "SKDEV");
  EXPECT_NE(description.find("profile dev"), std::string::npos) << description;

  env_["AWS_PROFILE"] = "prod";
  Result<std::unique_ptr<AwsCredentialSource>> missing = Find();
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(CauseOf(missing.status()), "bad_credentials");
  EXPECT_NE(missing.status().message().find("AWS_PROFILE=prod: no such profile"), std::string::npos)
      << missing.status();
}

TEST_F(AwsCredentialsTest, ARoleProfileAssumesTheRoleWithItsSourceProfilesKeys) {
  FakeAws aws;
  env_ = {{"AWS_ENDPOINT_URL_STS", aws.sts_endpoint()}, {"AWS_PROFILE", "deploy"}};
  Write(".aws/credentials", "[base]\naws_access_key_id = AKBASE\naws_secret_access_key = SKBASE\n");
  Write(".aws/config",
        "[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/deploy\n"
        "source_profile = base\nexternal_id = ext-1\n");
  std::string description;
  Result<AwsCredentials> credentials = FindAndFetch(&description);
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_TRUE(aws.Valid(credentials->access_key)) << credentials->access_key;
  EXPECT_FALSE(credentials->session_token.empty());
  ASSERT_TRUE(credentials->expires);
  EXPECT_GT(*credentials->expires, std::chrono::system_clock::now() + 3000s);
  EXPECT_EQ(aws.assume_role_signer(), "AKBASE");
  EXPECT_NE(description.find("assume role arn:aws:iam::123456789012:role/deploy"),
            std::string::npos)
      << description;
  auto logged = aws.origin().Log().back();
  EXPECT_NE(logged.body.find("ExternalId=ext-1"), std::string::npos) << logged.body;

  // A role whose source is itself a role goes through STS twice.
  Write(".aws/config",
        "[profile middle]\nrole_arn = arn:aws:iam::1:role/m\nsource_profile = base\n"
        "[profile deploy]\nrole_arn = arn:aws:iam::1:role/d\nsource_profile = middle\n");
  credentials = FindAndFetch();
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(aws.assume_role_signer(), "ASIA2");  // the middle role's keys signed the second call
  EXPECT_EQ(credentials->access_key, "ASIA3");
}

TEST_F(AwsCredentialsTest, RoleProfilesThatCannotWorkAreRefusedBeforeAnyCall) {
  env_ = {{"AWS_PROFILE", "a"}};
  Write(".aws/config",
        "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = b\n"
        "[profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = a\n"
        "[profile lonely]\nrole_arn = arn:aws:iam::1:role/x\n"
        "[profile odd]\nrole_arn = arn:aws:iam::1:role/x\ncredential_source = Somewhere\n"
        "[profile empty]\nregion = us-east-2\n");
  for (const auto& [profile, expected] :
       std::vector<std::pair<std::string, std::string>>{{"a", "loops back"},
                                                        {"lonely", "without source_profile"},
                                                        {"odd", "'Somewhere' is not"},
                                                        {"empty", "has no aws_access_key_id"}}) {
    env_["AWS_PROFILE"] = profile;
    Result<std::unique_ptr<AwsCredentialSource>> source = Find();
    ASSERT_FALSE(source.ok()) << profile;
    EXPECT_EQ(CauseOf(source.status()), "bad_credentials");
    EXPECT_NE(source.status().message().find(expected), std::string::npos) << source.status();
  }
}

TEST_F(AwsCredentialsTest, CredentialProcessPrintsTheKeys) {
  env_ = {{"AWS_PROFILE", "tool"}};
  Write("tool.sh",
        "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKPROC\", \"SecretAccessKey\": "
        "\"SKPROC\", \"SessionToken\": \"TPROC\", \"Expiration\": \"2099-01-01T00:00:00Z\"}'\n");
  Write(".aws/config",
        StrCat("[profile tool]\ncredential_process = sh ", (home_.path() / "tool.sh").string(),
               "\n", "[profile broken]\ncredential_process = sh -c 'exit 3'\n",
               "[profile chatty]\ncredential_process = echo not json\n"));
  Result<AwsCredentials> credentials = FindAndFetch();
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_EQ(credentials->access_key, "AKPROC");
  EXPECT_EQ(credentials->session_token, "TPROC");
  EXPECT_EQ(credentials->expires, ParseIso8601("2099-01-01T00:00:00Z"));

  env_["AWS_PROFILE"] = "broken";
  credentials = FindAndFetch();
  ASSERT_FALSE(credentials.ok());
  EXPECT_NE(credentials.status().message().find("exit 3"), std::string::npos)
      << credentials.status();
  env_["AWS_PROFILE"] = "chatty";
  credentials = FindAndFetch();
  ASSERT_FALSE(credentials.ok());
  EXPECT_EQ(CauseOf(credentials.status()), "bad_credentials");
}

TEST_F(AwsCredentialsTest, WebIdentityExchangesTheTokenFileWithSts) {
  FakeAws aws;
  Write("token", std::string(FakeAws::kWebToken) + "\n");
  env_ = {{"AWS_ENDPOINT_URL_STS", aws.sts_endpoint()},
          {"AWS_WEB_IDENTITY_TOKEN_FILE", (home_.path() / "token").string()},
          {"AWS_ROLE_ARN", "arn:aws:iam::1:role/irsa"},
          {"AWS_ROLE_SESSION_NAME", "pod-1"}};
  Result<AwsCredentials> credentials = FindAndFetch();
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_TRUE(aws.Valid(credentials->access_key));
  auto logged = aws.origin().Log().back();
  EXPECT_NE(logged.body.find("RoleSessionName=pod-1"), std::string::npos);
  EXPECT_EQ(logged.headers.count("authorization"), 0u);  // the token is the proof

  Write("token", "a-rotated-token-sts-refuses");
  credentials = FindAndFetch();
  ASSERT_FALSE(credentials.ok());
  EXPECT_EQ(credentials.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(credentials.status().message().find("InvalidIdentityToken"), std::string::npos)
      << credentials.status();
}

TEST_F(AwsCredentialsTest, ContainerEndpointSendsTheAuthorizationTokenFromItsFile) {
  FakeAws aws;
  Write("pod-token", std::string(FakeAws::kContainerToken) + "\n");
  env_ = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", aws.container_uri()},
          {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", (home_.path() / "pod-token").string()}};
  std::string description;
  Result<AwsCredentials> credentials = FindAndFetch(&description);
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_TRUE(aws.Valid(credentials->access_key));
  EXPECT_EQ(description, StrCat("container endpoint ", aws.container_uri()));

  env_.erase("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  env_["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "wrong";
  credentials = FindAndFetch();
  ASSERT_FALSE(credentials.ok());
  EXPECT_EQ(credentials.status().code(), absl::StatusCode::kUnauthenticated);

  // Plain http only to loopback or the ECS / EKS addresses.
  env_["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "http://10.0.0.5/creds";
  Result<std::unique_ptr<AwsCredentialSource>> refused = Find();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("plain http only to loopback"), std::string::npos);
  env_["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "https://creds.example.com/x";
  EXPECT_TRUE(Find().ok());
}

TEST_F(AwsCredentialsTest, InstanceMetadataIsAskedWithAnImdsV2Token) {
  FakeAws aws;
  env_ = {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", aws.imds_endpoint()}};
  std::string description;
  Result<AwsCredentials> credentials = FindAndFetch(&description);
  ASSERT_TRUE(credentials.ok()) << credentials.status();
  EXPECT_TRUE(aws.Valid(credentials->access_key));
  EXPECT_EQ(aws.Count("/latest/api/token"), 1);
  EXPECT_NE(description.find("(role fleet-role)"), std::string::npos) << description;

  // The metadata address is for the credential requests alone: an ordinary request to it (what
  // the media fetcher and providers send) is still refused.
  ClientRequest plain;
  plain.url = aws.imds_endpoint() + "/latest/api/token";
  plain.method = "PUT";
  Result<ClientResponse> refused = rt_.Run(Send(*client_, std::move(plain)));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(CauseOf(refused.status()), "blocked_address");
}

TEST_F(AwsCredentialsTest, NothingConfiguredAndNoMetadataIsAClearError) {
  NoMetadata();
  Result<std::unique_ptr<AwsCredentialSource>> source = Find();
  ASSERT_FALSE(source.ok());
  EXPECT_EQ(source.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(source.status().message().find("AWS_EC2_METADATA_DISABLED"), std::string::npos);

  // Metadata that does not answer (a container under a hop limit of 1) fails within the timeout.
  env_ = {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9"}};
  Result<AwsCredentials> credentials = FindAndFetch();
  ASSERT_FALSE(credentials.ok());
  EXPECT_EQ(credentials.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(credentials.status().message().find("hop limit"), std::string::npos);
}

// A source whose answers the test scripts.
class ScriptedSource : public AwsCredentialSource {
 public:
  std::vector<Result<AwsCredentials>> answers;
  int fetched = 0;
  asio::awaitable<Result<AwsCredentials>> Fetch() override {
    // Answers take a moment, as a network call would.
    asio::steady_timer pause(co_await asio::this_coro::executor, 20ms);
    co_await pause.async_wait(asio::use_awaitable);
    Result<AwsCredentials> answer = answers[std::min<size_t>(fetched, answers.size() - 1)];
    ++fetched;
    co_return answer;
  }
  std::string Describe() const override { return "scripted"; }
};

AwsCredentials Keys(std::string key, std::chrono::seconds lifetime) {
  return {.access_key = std::move(key),
          .secret_key = "s",
          .expires = std::chrono::system_clock::now() + lifetime};
}

TEST_F(AwsCredentialsTest, ConcurrentCallersShareOneFetch) {
  auto scripted = std::make_unique<ScriptedSource>();
  scripted->answers = {Keys("K1", 3600s)};
  ScriptedSource* source = scripted.get();
  auto provider = AwsCredentialProvider::Create(rt_.loop_executor(), std::move(scripted));
  std::vector<std::string> keys;
  rt_.Run([&]() -> asio::awaitable<int> {
    int done = 0;
    auto one = [&]() -> asio::awaitable<void> {
      Result<AwsCredentials> got = co_await provider->Current();
      keys.push_back(got.ok() ? got->access_key : std::string(got.status().message()));
      ++done;
    };
    for (int i = 0; i < 20; ++i)
      asio::co_spawn(co_await asio::this_coro::executor, one(), asio::detached);
    asio::steady_timer wait(co_await asio::this_coro::executor);
    while (done < 20) {
      wait.expires_after(5ms);
      co_await wait.async_wait(asio::use_awaitable);
    }
    co_return 0;
  }());
  EXPECT_EQ(keys, std::vector<std::string>(20, "K1"));
  EXPECT_EQ(source->fetched, 1);
}

TEST_F(AwsCredentialsTest, RefreshesBeforeExpiryAndKeepsWorkingKeysWhenARefreshFails) {
  auto scripted = std::make_unique<ScriptedSource>();
  scripted->answers = {Keys("K1", 2s), absl::UnavailableError("sts is down"), Keys("K2", 3600s)};
  ScriptedSource* source = scripted.get();
  auto provider = AwsCredentialProvider::Create(
      rt_.loop_executor(), std::move(scripted),
      {.refresh_before = std::chrono::seconds(10), .retry_every = std::chrono::seconds(0)});
  std::vector<std::string> seen;
  rt_.Run([&]() -> asio::awaitable<int> {
    asio::steady_timer wait(co_await asio::this_coro::executor);
    for (int i = 0; i < 10; ++i) {
      Result<AwsCredentials> got = co_await provider->Current();
      seen.push_back(got.ok() ? got->access_key : "error");
      wait.expires_after(30ms);
      co_await wait.async_wait(asio::use_awaitable);
    }
    co_return 0;
  }());
  // K1 is due for refresh at once (2 s left < 10 s): the first refresh fails and K1 stays in
  // use, the second brings K2; no caller ever saw an error.
  EXPECT_EQ(seen.front(), "K1");
  EXPECT_EQ(seen.back(), "K2");
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "error"), 0);
  EXPECT_EQ(source->fetched, 3);
}

TEST_F(AwsCredentialsTest, ExpiredKeysAreNeverUsedAndAFailureWithoutKeysIsReturned) {
  auto scripted = std::make_unique<ScriptedSource>();
  scripted->answers = {absl::UnavailableError("no route"), Keys("old", -5s)};
  auto provider = AwsCredentialProvider::Create(rt_.loop_executor(), std::move(scripted),
                                                {.retry_every = std::chrono::seconds(0)});
  Result<AwsCredentials> first = rt_.Run(provider->Current());
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().message(), "no route");
  Result<AwsCredentials> second = rt_.Run(provider->Current());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("expired already"), std::string::npos);
}

TEST_F(AwsCredentialsTest, SignedRequestsUseTheCurrentKeysAcrossRefreshes) {
  FakeAws aws(std::chrono::seconds(3));
  env_ = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", aws.container_uri()},
          {"AWS_CONTAINER_AUTHORIZATION_TOKEN", FakeAws::kContainerToken}};
  Result<std::unique_ptr<AwsCredentialSource>> source = Find();
  ASSERT_TRUE(source.ok()) << source.status();
  auto provider = AwsCredentialProvider::Create(rt_.loop_executor(), std::move(*source),
                                                {.refresh_before = std::chrono::seconds(2)});
  // A service that accepts only keys the fake issued and that have not expired.
  int refused = 0;
  aws.origin().Route("/service", [&aws, &refused](const HttpRequest& request, int) {
    std::string authorization = request.Header("authorization");
    size_t at = authorization.find("Credential=") + 11;
    std::string key = authorization.substr(at, authorization.find('/', at) - at);
    if (!aws.Valid(key) || request.Header("x-amz-security-token").empty()) {
      ++refused;
      return HttpReply{.status = 403};
    }
    return HttpReply{.body = key};
  });
  std::set<std::string> keys;
  int failures = 0;
  rt_.Run([&]() -> asio::awaitable<int> {
    asio::steady_timer wait(co_await asio::this_coro::executor);
    auto until = std::chrono::steady_clock::now() + 4500ms;
    while (std::chrono::steady_clock::now() < until) {
      ClientRequest request;
      request.url = aws.origin().Url("/service");
      request.addresses.allow_private = true;
      request.sigv4 = SigV4{.region = "us-east-1", .service = "s3"};
      request.aws_credentials = provider;
      Result<ClientResponse> response = co_await Send(*client_, std::move(request));
      if (response.ok() && response->successful()) {
        keys.insert(response->body);
      } else {
        ++failures;
      }
      wait.expires_after(50ms);
      co_await wait.async_wait(asio::use_awaitable);
    }
    co_return 0;
  }());
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(refused, 0);
  EXPECT_GE(keys.size(), 2u);  // keys living 3 s, refreshed 2 s early, over 4.5 s
  EXPECT_GE(provider->fetches(), 2);
}

}  // namespace
}  // namespace sluice::http
