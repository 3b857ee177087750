#include "http/request.h"

#include <gtest/gtest.h>

#include "common/sha256.h"
#include "runtime/runtime.h"
#include "testing/origin.h"

namespace sluice::http {
namespace {

using namespace std::chrono_literals;
using sluice::testing::ScriptedOrigin;

class RequestTest : public ::testing::Test {
 protected:
  void SetUp() override { client_ = std::move(*HttpClient::Create(rt_.loop_executor())); }
  Result<ClientResponse> Call(ClientRequest request) {
    return rt_.Run(Send(*client_, std::move(request)));
  }
  ClientRequest To(const std::string& path) {
    ClientRequest request;
    request.url = origin_.Url(path);
    request.addresses.allow_private = true;
    return request;
  }
  std::string AuthorizationOf(const std::string& path) {
    for (const auto& logged : origin_.Log()) {
      if (logged.path == path)
        return logged.headers.contains("authorization") ? logged.headers.at("authorization") : "";
    }
    return "";
  }

  runtime::Runtime rt_;
  std::unique_ptr<HttpClient> client_;
  ScriptedOrigin origin_;
};

TEST_F(RequestTest, PostsABodyAndReturnsStatusHeadersAndBody) {
  origin_.Route("/v1/chat", [](const HttpRequest& r, int) {
    return HttpReply{.status = 200,
                     .headers = {{"Content-Type", "application/json"}, {"X-Request-Id", "r-1"}},
                     .body = "{\"echo\":" + r.body + "}"};
  });
  ClientRequest request = To("/v1/chat");
  request.method = "POST";
  request.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer k"}};
  request.body = R"({"model":"m"})";
  Result<ClientResponse> response = Call(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, R"({"echo":{"model":"m"}})");
  EXPECT_EQ(response->Header("x-request-id"), "r-1");
  auto logged = origin_.Log().back();
  EXPECT_EQ(logged.method, "POST");
  EXPECT_EQ(logged.body, R"({"model":"m"})");
  EXPECT_EQ(logged.headers["authorization"], "Bearer k");
  EXPECT_FALSE(logged.headers.contains("expect"));
}

TEST_F(RequestTest, ErrorStatusesAreResponsesNotErrors) {
  origin_.Route("/busy", [](const HttpRequest&, int) {
    return HttpReply{.status = 429, .headers = {{"Retry-After", "3"}}, .body = "slow down"};
  });
  Result<ClientResponse> response = Call(To("/busy"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 429);
  EXPECT_EQ(response->Header("retry-after"), "3");
}

TEST_F(RequestTest, LimitsAndGuards) {
  origin_.Route(
      "/big", [](const HttpRequest&, int) { return HttpReply{.body = std::string(300'000, 'x')}; });
  ClientRequest big = To("/big");
  big.max_response_bytes = 100'000;
  EXPECT_EQ(CauseOf(Call(big).status()), "too_large");

  origin_.Route("/slow", [](const HttpRequest&, int) { return HttpReply{.delay = 30'000ms}; });
  ClientRequest slow = To("/slow");
  slow.timeout = 300ms;
  EXPECT_EQ(CauseOf(Call(slow).status()), "timeout");

  ClientRequest guarded = To("/big");
  guarded.addresses.allow_private = false;
  origin_.ClearLog();
  EXPECT_EQ(CauseOf(Call(guarded).status()), "blocked_address");
  EXPECT_TRUE(origin_.Log().empty());
  ClientRequest ftp = To("/big");
  ftp.url = "ftp://example.com/x";
  EXPECT_EQ(CauseOf(Call(ftp).status()), "scheme_not_allowed");
}

// Send signs what it sends: AWS's test-suite "get-vanilla" arrives with the published
// signature (sigv4_test.cc has the other vectors).
TEST_F(RequestTest, SigV4MatchesAwsTestSuiteGetVanilla) {
  origin_.Route("/", [](const HttpRequest&, int) { return HttpReply{}; });
  ClientRequest request = To("/");
  request.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
  request.sigv4 = SigV4{.access_key = "AKIDEXAMPLE",
                        .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                        .region = "us-east-1",
                        .service = "service",
                        .sign_payload = false};
  ASSERT_TRUE(Call(request).ok());
  EXPECT_EQ(AuthorizationOf("/"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST_F(RequestTest, SigV4SignsThePayloadAndSessionToken) {
  origin_.Route("/q", [](const HttpRequest&, int) { return HttpReply{}; });
  ClientRequest request = To("/q");
  request.method = "POST";
  request.body = "Action=SendMessage";
  request.sigv4 = SigV4{.access_key = "AK",
                        .secret_key = "SK",
                        .session_token = "TOKEN",
                        .region = "eu-west-1",
                        .service = "sqs"};
  ASSERT_TRUE(Call(request).ok());
  auto logged = origin_.Log().back();
  EXPECT_EQ(logged.headers["x-amz-content-sha256"], Sha256::HexOf("Action=SendMessage"));
  EXPECT_EQ(logged.headers["x-amz-security-token"], "TOKEN");
  std::string authorization = logged.headers["authorization"];
  EXPECT_NE(authorization.find("/eu-west-1/sqs/aws4_request"), std::string::npos) << authorization;
  EXPECT_NE(authorization.find("x-amz-content-sha256"), std::string::npos) << authorization;
  EXPECT_NE(authorization.find("x-amz-security-token"), std::string::npos) << authorization;
}

}  // namespace
}  // namespace sluice::http
