// Test-only: sqslite on loopback, an HTTP client on a runtime, and queues made on it; and a
// client of a StrictSqs queue.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "queue/intake/sqs.h"
#include "runtime/runtime.h"
#include "testing/strict_sqs.h"
#include "testing/test_servers.h"

namespace sluice::intake {

class SqsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = testing::Sqslite::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = std::move(*http::HttpClient::Create(rt_.loop_executor(), {}));
  }

  // Creates queue `name` and returns a client of it (long polls of 1 s).
  std::unique_ptr<SqsQueue> Queue(const std::string& name) {
    Result<std::string> url = server_->CreateQueue(name);
    EXPECT_TRUE(url.ok()) << url.status();
    return std::make_unique<SqsQueue>(
        *client_,
        SqsOptions{.queue_url = url.value_or(""),
                   .credentials = {.access_key = "AK", .secret_key = "SK", .region = "us-east-1"},
                   .wait_seconds = 1,
                   .allow_private = true});
  }

  runtime::Runtime rt_;
  std::unique_ptr<testing::Sqslite> server_;
  std::unique_ptr<http::HttpClient> client_;
};

// A runtime, an HTTP client on it and an SqsQueue client of `sqs`'s queue (receives of up to
// `max_messages`, long polls of `wait_seconds`, which StrictSqs answers at once anyway).
struct StrictSqsClient {
  explicit StrictSqsClient(const testing::StrictSqs& sqs, int wait_seconds = 1,
                           int max_messages = 10)
      : client(std::move(*http::HttpClient::Create(rt.loop_executor(), {}))),
        queue(*client,
              {.queue_url = sqs.queue_url(),
               .credentials = {.access_key = "AK", .secret_key = "SK", .region = "us-east-1"},
               .wait_seconds = wait_seconds,
               .max_messages = max_messages,
               .allow_private = true}) {}

  runtime::Runtime rt;
  std::unique_ptr<http::HttpClient> client;
  SqsQueue queue;
};

}  // namespace sluice::intake
