#include "http/fetcher.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/sha256.h"
#include "runtime/runtime.h"
#include "testing/origin.h"
#include "testing/temp_dir.h"

namespace sluice::http {
namespace {

using namespace std::chrono_literals;
using sluice::testing::ScriptedOrigin;

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class FetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = std::move(*HttpClient::Create(rt_.loop_executor()));
    options_.scratch_dir = scratch_.path();
    options_.addresses.allow_private = true;  // the origin is on loopback
    options_.retry.initial_backoff = 10ms;
    options_.stall_timeout = 1000ms;
  }

  Result<FetchedFile> Fetch(const std::string& url) {
    auto fetcher = Fetcher::Create(*client_, rt_, options_);
    EXPECT_TRUE(fetcher.ok()) << fetcher.status();
    return rt_.Run((*fetcher)->Fetch(url));
  }

  size_t ScratchFiles() const {
    return static_cast<size_t>(std::distance(std::filesystem::directory_iterator(scratch_.path()),
                                             std::filesystem::directory_iterator()));
  }

  void ExpectFailure(const Result<FetchedFile>& result, absl::StatusCode code,
                     const std::string& cause) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), code) << result.status();
    EXPECT_EQ(CauseOf(result.status()), cause) << result.status();
    EXPECT_EQ(ScratchFiles(), 0u) << "a failed fetch must leave no scratch file";
  }

  runtime::Runtime rt_;
  std::unique_ptr<HttpClient> client_;
  sluice::testing::TempDir scratch_;
  FetchOptions options_;
  ScriptedOrigin origin_;
};

TEST_F(FetcherTest, StreamsBodyToScratchWithHashAndSniffedType) {
  std::string body = ScriptedOrigin::MediaBody(300'000);
  origin_.Route("/a.jpg",
                [&](const HttpRequest& r, int) { return ServeBytes(r, body, "image/jpeg"); });
  Result<FetchedFile> got = Fetch(origin_.Url("/a.jpg"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->sha256, Sha256::HexOf(body));
  EXPECT_EQ(got->size, 300'000);
  EXPECT_EQ(got->type.mime, "image/jpeg");
  EXPECT_EQ(ReadFile(got->path), body);
  EXPECT_EQ(got->requests, 1);
}

// Looked at from inside the loop, right after the fetch: Runtime::Run itself would wait for a
// stale timer to fire before returning, hiding it.
asio::awaitable<bool> TimerPendingAfterFetch(Fetcher& fetcher, HttpClient& client,
                                             std::string url) {
  Result<FetchedFile> got = co_await fetcher.Fetch(url);
  if (got.ok()) std::filesystem::remove(got->path);
  co_return got.ok() && client.timer_pending();
}

TEST_F(FetcherTest, NoWakeupIsLeftPendingOnceTransfersEnd) {
  origin_.Route("/a.jpg", [](const HttpRequest& r, int) {
    return ServeBytes(r, ScriptedOrigin::MediaBody(1000), "image/jpeg");
  });
  auto fetcher = std::move(*Fetcher::Create(*client_, rt_, options_));
  EXPECT_FALSE(rt_.Run(TimerPendingAfterFetch(*fetcher, *client_, origin_.Url("/a.jpg"))))
      << "a stale curl timer keeps Runtime::Run waiting";
}

TEST_F(FetcherTest, DroppedConnectionResumesWithRangeAndFewBytesResent) {
  std::string body = ScriptedOrigin::MediaBody(1'000'000, 1);
  origin_.Route("/big.jpg", [&](const HttpRequest& r, int call) {
    HttpReply reply = ServeBytes(r, body, "image/jpeg", "\"v1\"");
    if (call < 2) reply.drop_after = 300'000;  // each of the first two responses dies early
    return reply;
  });
  Result<FetchedFile> got = Fetch(origin_.Url("/big.jpg"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->sha256, Sha256::HexOf(body));
  EXPECT_EQ(got->resumes, 2);
  std::vector<sluice::testing::LoggedRequest> log = origin_.Log();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0].range, "");
  EXPECT_EQ(log[1].range, "bytes=300000-");
  EXPECT_EQ(log[2].range, "bytes=600000-");
  EXPECT_LE(got->bytes_received, static_cast<int64_t>(body.size()) + 1000);
}

TEST_F(FetcherTest, ServerIgnoringRangeStartsOverCleanly) {
  std::string body = ScriptedOrigin::MediaBody(500'000, 2);
  origin_.Route("/x.jpg", [&](const HttpRequest&, int call) {
    HttpReply reply{.headers = {{"ETag", "\"e\""}}, .body = body};  // never honours Range
    if (call == 0) reply.drop_after = 200'000;
    return reply;
  });
  Result<FetchedFile> got = Fetch(origin_.Url("/x.jpg"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->sha256, Sha256::HexOf(body));
  EXPECT_EQ(ReadFile(got->path), body);
}

TEST_F(FetcherTest, ChangedResourceDuringResumeIsFetchedWhole) {
  std::string v1 = ScriptedOrigin::MediaBody(400'000, 3),
              v2 = ScriptedOrigin::MediaBody(450'000, 4);
  origin_.Route("/c.jpg", [&](const HttpRequest& r, int call) {
    if (call == 0) {
      HttpReply reply = ServeBytes(r, v1, "image/jpeg", "\"v1\"");
      reply.drop_after = 100'000;
      return reply;
    }
    return ServeBytes(r, v2, "image/jpeg", "\"v2\"");  // If-Range "v1" no longer matches → 200
  });
  Result<FetchedFile> got = Fetch(origin_.Url("/c.jpg"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->sha256, Sha256::HexOf(v2));
}

TEST_F(FetcherTest, RetryAfterIsHonouredThenSucceeds) {
  std::string body = ScriptedOrigin::MediaBody(1000);
  origin_.Route("/r.jpg", [&](const HttpRequest& r, int call) {
    if (call == 0) return HttpReply{.status = 429, .headers = {{"Retry-After", "1"}}};
    if (call == 1) return HttpReply{.status = 503, .headers = {{"Retry-After", "0"}}};
    return ServeBytes(r, body, "image/jpeg");
  });
  Result<FetchedFile> got = Fetch(origin_.Url("/r.jpg"));
  ASSERT_TRUE(got.ok()) << got.status();
  std::vector<sluice::testing::LoggedRequest> log = origin_.Log();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_GE(log[1].at - log[0].at, 1000ms) << "Retry-After: 1 was not waited for";
}

TEST_F(FetcherTest, RetriesRunOutWithTheLastCause) {
  options_.retry.max_attempts = 3;
  origin_.Route("/down.jpg", [](const HttpRequest&, int) { return HttpReply{.status = 503}; });
  ExpectFailure(Fetch(origin_.Url("/down.jpg")), absl::StatusCode::kUnavailable, "http_503");
  EXPECT_EQ(origin_.Count("/down.jpg"), 3);
}

TEST_F(FetcherTest, NotFoundIsPermanentAndNotRetried) {
  ExpectFailure(Fetch(origin_.Url("/missing.jpg")), absl::StatusCode::kNotFound, "http_404");
  EXPECT_EQ(origin_.Count("/missing.jpg"), 1);
}

TEST_F(FetcherTest, StalledBodyTimesOut) {
  options_.retry.max_attempts = 2;
  origin_.Route("/stall.jpg", [](const HttpRequest& r, int) {
    HttpReply reply = ServeBytes(r, ScriptedOrigin::MediaBody(100'000), "image/jpeg");
    reply.stall_after = 10'000;
    reply.stall_for = 60000ms;  // far beyond the guard below: only a fired stall timeout passes
    return reply;
  });
  auto start = std::chrono::steady_clock::now();
  ExpectFailure(Fetch(origin_.Url("/stall.jpg")), absl::StatusCode::kUnavailable, "stalled");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 20000ms) << "the stall timeout did not fire";
}

TEST_F(FetcherTest, RedirectsAreFollowedUpToTheLimit) {
  std::string body = ScriptedOrigin::MediaBody(2000);
  for (int i = 0; i < 5; ++i) {
    origin_.Route("/hop" + std::to_string(i), [i](const HttpRequest&, int) {
      return HttpReply{.status = 302, .headers = {{"Location", "/hop" + std::to_string(i + 1)}}};
    });
  }
  origin_.Route("/hop5",
                [&](const HttpRequest& r, int) { return ServeBytes(r, body, "image/jpeg"); });
  Result<FetchedFile> got = Fetch(origin_.Url("/hop0"));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->final_url, origin_.Url("/hop5"));
  std::filesystem::remove(got->path);
  // One hop more than the default limit of 5.
  origin_.Route("/hop-1", [](const HttpRequest&, int) {
    return HttpReply{.status = 302, .headers = {{"Location", "/hop0"}}};
  });
  ExpectFailure(Fetch(origin_.Url("/hop-1")), absl::StatusCode::kFailedPrecondition,
                "too_many_redirects");
}

TEST_F(FetcherTest, RedirectLoopFails) {
  origin_.Route("/loop", [](const HttpRequest&, int) {
    return HttpReply{.status = 302, .headers = {{"Location", "/loop"}}};
  });
  ExpectFailure(Fetch(origin_.Url("/loop")), absl::StatusCode::kFailedPrecondition,
                "too_many_redirects");
}

TEST_F(FetcherTest, LyingContentLengthLeavesNothing) {
  options_.retry.max_attempts = 2;
  origin_.Route("/lie.jpg", [](const HttpRequest& r, int) {
    HttpReply reply = ServeBytes(r, ScriptedOrigin::MediaBody(50'000), "image/jpeg");
    reply.declared_length = 80'000;  // claims more than it sends, then closes
    return reply;
  });
  ExpectFailure(Fetch(origin_.Url("/lie.jpg")), absl::StatusCode::kUnavailable, "truncated");
}

TEST_F(FetcherTest, HtmlNamedJpgIsUnsupportedContent) {
  origin_.Route("/fake.jpg", [](const HttpRequest& r, int) {
    return ServeBytes(r, "<!DOCTYPE html><html><body>Sorry, moved</body></html>", "image/jpeg");
  });
  ExpectFailure(Fetch(origin_.Url("/fake.jpg")), absl::StatusCode::kFailedPrecondition,
                "unsupported_content");
}

TEST_F(FetcherTest, SizeCapCountedWhileStreamingWithoutLength) {
  options_.max_bytes = 100'000;
  origin_.Route("/huge.jpg", [](const HttpRequest&, int) {
    return HttpReply{.body = ScriptedOrigin::MediaBody(400'000), .omit_length = true};
  });
  ExpectFailure(Fetch(origin_.Url("/huge.jpg")), absl::StatusCode::kFailedPrecondition,
                "too_large");
  origin_.Route("/announced.jpg", [](const HttpRequest& r, int) {
    return ServeBytes(r, ScriptedOrigin::MediaBody(400'000), "image/jpeg");
  });
  ExpectFailure(Fetch(origin_.Url("/announced.jpg")), absl::StatusCode::kFailedPrecondition,
                "too_large");
}

TEST_F(FetcherTest, EmptyBodyFails) {
  origin_.Route("/empty.jpg", [](const HttpRequest&, int) { return HttpReply{}; });
  ExpectFailure(Fetch(origin_.Url("/empty.jpg")), absl::StatusCode::kFailedPrecondition,
                "empty_body");
}

class SsrfTest : public FetcherTest {
 protected:
  void SetUp() override {
    FetcherTest::SetUp();
    options_.addresses.allow_private = false;
    origin_.Route("/a.jpg", [](const HttpRequest& r, int) {
      return ServeBytes(r, ScriptedOrigin::MediaBody(100), "image/jpeg");
    });
  }
};

TEST_F(SsrfTest, EveryLoopbackSpellingIsRefusedWithoutARequest) {
  const std::string port = std::to_string(origin_.port());
  for (const std::string host : {"127.0.0.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.1",
                                 "[::1]", "[::ffff:127.0.0.1]", "0.0.0.0", "localhost"}) {
    ExpectFailure(Fetch("http://" + host + ":" + port + "/a.jpg"),
                  absl::StatusCode::kPermissionDenied, "blocked_address");
  }
  EXPECT_EQ(origin_.Log().size(), 0u);
}

TEST_F(SsrfTest, DnsRebindingIsCaughtOnTheConnectedAddress) {
  const std::string port = std::to_string(origin_.port());
  options_.resolve = {"rebind.test:" + port + ":127.0.0.1"};
  Result<FetchedFile> got = Fetch("http://rebind.test:" + port + "/a.jpg");
  ExpectFailure(got, absl::StatusCode::kPermissionDenied, "blocked_address");
  EXPECT_NE(got.status().message().find("127.0.0.1"), std::string::npos);
  EXPECT_EQ(origin_.Log().size(), 0u);
}

TEST_F(SsrfTest, RedirectToANonPublicAddressIsRefused) {
  const std::string port = std::to_string(origin_.port());
  options_.addresses.allowed_endpoints = {"127.0.0.1:" + port};  // only the origin itself
  origin_.Route("/jump", [port](const HttpRequest&, int) {
    return HttpReply{.status = 302,
                     .headers = {{"Location", "http://127.0.0.2:" + port + "/a.jpg"}}};
  });
  ExpectFailure(Fetch(origin_.Url("/jump")), absl::StatusCode::kPermissionDenied,
                "blocked_address");
  Result<FetchedFile> allowed = Fetch(origin_.Url("/a.jpg"));
  EXPECT_TRUE(allowed.ok()) << "the allowed endpoint itself works: " << allowed.status();
}

TEST_F(SsrfTest, OnlyHttpAndHttpsSchemes) {
  ExpectFailure(Fetch("ftp://example.com/a.jpg"), absl::StatusCode::kPermissionDenied,
                "scheme_not_allowed");
  ExpectFailure(Fetch("file:///etc/passwd"), absl::StatusCode::kPermissionDenied,
                "scheme_not_allowed");
  ExpectFailure(Fetch("gopher://example.com/"), absl::StatusCode::kPermissionDenied,
                "scheme_not_allowed");
  ExpectFailure(Fetch("not a url"), absl::StatusCode::kInvalidArgument, "bad_url");
  ExpectFailure(Fetch("/etc/passwd"), absl::StatusCode::kInvalidArgument, "bad_url");
}

TEST_F(SsrfTest, RedirectToFileSchemeIsRefused) {
  options_.addresses.allow_private = true;
  origin_.Route("/to-file", [](const HttpRequest&, int) {
    return HttpReply{.status = 302, .headers = {{"Location", "file:///etc/passwd"}}};
  });
  ExpectFailure(Fetch(origin_.Url("/to-file")), absl::StatusCode::kPermissionDenied,
                "scheme_not_allowed");
}

TEST_F(FetcherTest, LocalFilesOnlyWithAllowFiles) {
  sluice::testing::TempDir dir;
  std::string body = ScriptedOrigin::MediaBody(5000, 9);
  std::ofstream(dir.path() / "local.jpg", std::ios::binary) << body;
  options_.allow_files = true;
  Result<FetchedFile> got = Fetch((dir.path() / "local.jpg").string());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->sha256, Sha256::HexOf(body));
  std::filesystem::remove(got->path);
  ExpectFailure(Fetch((dir.path() / "absent.jpg").string()), absl::StatusCode::kNotFound,
                "file_not_found");
}

}  // namespace
}  // namespace sluice::http
