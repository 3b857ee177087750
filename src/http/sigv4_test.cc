#include "http/sigv4.h"

#include <gtest/gtest.h>

namespace sluice::http {
namespace {

// The credentials and date of AWS's published SigV4 test suite (aws-sig-v4-test-suite).
const SigV4 kSuite{.access_key = "AKIDEXAMPLE",
                   .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                   .region = "us-east-1",
                   .service = "service",
                   .sign_payload = false};

std::string AuthorizationOf(const Result<SignedRequest>& signed_request) {
  for (const auto& [name, value] : signed_request->headers) {
    if (name == "Authorization") return value;
  }
  return "";
}

std::string SuiteSignature(std::string_view method, std::string_view url, HeaderList extra = {}) {
  HeaderList headers{{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
  headers.insert(headers.end(), extra.begin(), extra.end());
  Result<SignedRequest> signed_request = SignV4(kSuite, method, url, headers, "", {});
  EXPECT_TRUE(signed_request.ok()) << signed_request.status();
  std::string authorization = AuthorizationOf(signed_request);
  return authorization.substr(authorization.rfind('=') + 1);
}

TEST(SigV4Test, MatchesAwsTestSuite) {
  EXPECT_EQ(SuiteSignature("GET", "https://example.amazonaws.com/"),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");  // get-vanilla
  EXPECT_EQ(SuiteSignature("POST", "https://example.amazonaws.com/"),
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");  // post-vanilla
  // get-vanilla-query-order-key-case: parameters are signed sorted.
  EXPECT_EQ(SuiteSignature("GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1"),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
  EXPECT_EQ(SuiteSignature("GET",
                           "https://example.amazonaws.com/"
                           "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"),
            "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f");  // get-unreserved
  EXPECT_EQ(SuiteSignature("POST", "https://example.amazonaws.com/", {{"My-Header1", "value1"}}),
            "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c");  // header-key-sort
}

TEST(SigV4Test, MatchesAwsS3GetObjectExample) {
  SigV4 s3{.access_key = "AKIAIOSFODNN7EXAMPLE",
           .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
           .region = "us-east-1",
           .service = "s3"};
  Result<SignedRequest> signed_request =
      SignV4(s3, "GET", "https://examplebucket.s3.amazonaws.com/test.txt",
             {{"Host", "examplebucket.s3.amazonaws.com"},
              {"X-Amz-Date", "20130524T000000Z"},
              {"Range", "bytes=0-9"}},
             "", {});
  ASSERT_TRUE(signed_request.ok());
  EXPECT_EQ(AuthorizationOf(signed_request),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

// Bedrock model ids carry ':'. On the wire it is "%3A"; AWS verifies the path encoded once
// more (the canonical string AWS itself reports in its SignatureDoesNotMatch errors).
TEST(SigV4Test, NonS3ServicesSignThePathEncodedTwice) {
  SigV4 bedrock = kSuite;
  bedrock.service = "bedrock";
  Result<SignedRequest> signed_request =
      SignV4(bedrock, "POST",
             "https://bedrock-runtime.us-east-2.amazonaws.com/model/"
             "us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse-stream",
             {{"Content-Type", "application/json"}}, "{}", std::chrono::system_clock::time_point{});
  ASSERT_TRUE(signed_request.ok());
  EXPECT_EQ(
      signed_request->canonical_request.substr(0, signed_request->canonical_request.find('\n', 5)),
      "POST\n/model/us.anthropic.claude-sonnet-4-20250514-v1%253A0/converse-stream");
  // The date defaults to `now`; the host comes from the URL.
  EXPECT_NE(signed_request->canonical_request.find("host:bedrock-runtime.us-east-2.amazonaws.com"),
            std::string::npos);
  EXPECT_NE(signed_request->canonical_request.find("x-amz-date:19700101T000000Z"),
            std::string::npos);
}

TEST(SigV4Test, SessionTokenAndPayloadHashAreSignedAndBadUrlsRefused) {
  SigV4 sqs{.access_key = "AK",
            .secret_key = "SK",
            .session_token = "TOKEN",
            .region = "eu-west-1",
            .service = "sqs"};
  Result<SignedRequest> signed_request =
      SignV4(sqs, "POST", "http://127.0.0.1:9324/queue", {}, "Action=SendMessage", {});
  ASSERT_TRUE(signed_request.ok());
  EXPECT_NE(signed_request->canonical_request.find("host:127.0.0.1:9324\n"), std::string::npos);
  EXPECT_NE(AuthorizationOf(signed_request)
                .find("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token"),
            std::string::npos);
  EXPECT_EQ(CauseOf(SignV4(sqs, "GET", "not a url", {}, "", {}).status()), "bad_url");
}

}  // namespace
}  // namespace sluice::http
