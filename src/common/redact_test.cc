#include "common/redact.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(RedactSecretsTest, HidesUrlPasswordsButKeepsTheRestOfTheUrl) {
  EXPECT_EQ(RedactSecrets("fetch of https://ann:hunter22@media.example.com/a.jpg failed"),
            "fetch of https://ann:***@media.example.com/a.jpg failed");
  EXPECT_EQ(RedactSecrets("postgres://sluice:s3cret@db:5432/x"), "postgres://sluice:***@db:5432/x");
  EXPECT_EQ(RedactSecrets("'http://a:b@h/x' and 'ftp://c:d@h2'"),
            "'http://a:***@h/x' and 'ftp://c:***@h2'");
  EXPECT_EQ(RedactSecrets("postgres://sluice@db/x"), "postgres://sluice@db/x");
  EXPECT_EQ(RedactSecrets("postgresql://db:5432/x"), "postgresql://db:5432/x");
  EXPECT_EQ(RedactSecrets("https://h.example/p?a=b@c"), "https://h.example/p?a=b@c");
  EXPECT_EQ(RedactSecrets("http://[::1]:8080/x"), "http://[::1]:8080/x");
  EXPECT_EQ(RedactSecrets(""), "");
}

TEST(RedactSecretsTest, HidesCredentialQueryParameters) {
  EXPECT_EQ(RedactSecrets("GET https://b.s3.amazonaws.com/k.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&"
                          "X-Amz-Credential=AKIA%2F20261203&X-Amz-Security-Token=IQoJb3&"
                          "X-Amz-Signature=abcdef0123 answered 403"),
            "GET https://b.s3.amazonaws.com/k.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&"
            "X-Amz-Credential=***&X-Amz-Security-Token=***&X-Amz-Signature=*** answered 403");
  EXPECT_EQ(RedactSecrets("https://cdn.example/v.mp4?token=t0k3n&w=640#t=3"),
            "https://cdn.example/v.mp4?token=***&w=640#t=3");
  EXPECT_EQ(RedactSecrets("https://cdn.example/v.mp4?width=640&height=480"),
            "https://cdn.example/v.mp4?width=640&height=480");
}

TEST(RedactSecretsTest, HidesBearerTokensAndApiKeys) {
  EXPECT_EQ(RedactSecrets("Authorization: Bearer eyJhbGciOi.x.y"), "Authorization: Bearer ***");
  EXPECT_EQ(RedactSecrets("Incorrect API key provided: sk-proj-abcdefghijklmnop1234."),
            "Incorrect API key provided: sk-***.");
  EXPECT_EQ(RedactSecrets("task-list and sk-short"), "task-list and sk-short");
}

TEST(RedactSecretsTest, HidesRegisteredValuesWherever) {
  RegisterSecret("wJalrXUtnFEMI/K7MDENG");
  RegisterSecret("short");  // ignored: too likely an ordinary word
  EXPECT_EQ(RedactSecrets("the key wJalrXUtnFEMI/K7MDENG was refused; short"),
            "the key *** was refused; short");
}

TEST(RedactSecretsTest, KeepsTheCodeAndCauseOfAStatus) {
  Status status =
      Failure(absl::StatusCode::kUnavailable, "http_503", "https://u:pw123456@h/x answered 503");
  Status redacted = RedactSecrets(status);
  EXPECT_EQ(redacted.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(CauseOf(redacted), "http_503");
  EXPECT_EQ(redacted.message(), "https://u:***@h/x answered 503");
  EXPECT_TRUE(RedactSecrets(absl::OkStatus()).ok());
}

}  // namespace
}  // namespace sluice
