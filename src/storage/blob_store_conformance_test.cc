// The BlobStore contract, run against every backend.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fstream>
#include <functional>
#include <map>

#include "common/sha256.h"
#include "common/strings.h"
#include "runtime/runtime.h"
#include "runtime/task_group.h"
#include "storage/blob_store.h"
#include "storage/local/local_blob_store.h"
#include "storage/memory/memory_blob_store.h"
#include "storage/s3/s3_blob_store.h"
#include "testing/origin.h"
#include "testing/temp_dir.h"
#include "testing/test_servers.h"

namespace sluice::storage {
namespace {

// A store and whatever must outlive it (a server, a client).
struct MadeStore {
  std::unique_ptr<BlobStore> store;
  std::shared_ptr<void> owner;
};

struct Backend {
  std::string name;
  std::function<MadeStore(runtime::Runtime&, const std::filesystem::path&)> make;
};

// The S3 store against s3rver on loopback, through the real HTTP client and SigV4.
MadeStore MakeS3Store(runtime::Runtime& rt, const std::filesystem::path&) {
  struct Owner {
    std::unique_ptr<sluice::testing::S3rver> server;
    std::unique_ptr<http::HttpClient> client;
  };
  auto owner = std::make_shared<Owner>();
  Result<std::unique_ptr<sluice::testing::S3rver>> server = sluice::testing::S3rver::Start();
  if (!server.ok()) throw std::runtime_error(std::string(server.status().message()));
  owner->server = std::move(*server);
  owner->client = std::move(*http::HttpClient::Create(rt.loop_executor(), {}));
  S3Options options{.endpoint = owner->server->endpoint(),
                    .bucket = owner->server->bucket(),
                    .prefix = "conformance",
                    .credentials = {.access_key = sluice::testing::S3rver::kAccessKey,
                                    .secret_key = sluice::testing::S3rver::kSecretKey,
                                    .region = "us-east-1"},
                    // Small parts so the suite's files exercise multipart uploads too.
                    .multipart_threshold = 8,
                    .part_size = 5,
                    .allow_private = true};
  return {std::make_unique<S3BlobStore>(*owner->client, rt.loop_executor(), rt.blocking(), options),
          owner};
}

class BlobStoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    try {
      made_ = GetParam().make(rt_, dir_.path() / "objects");
    } catch (const std::exception& e) {
      FAIL() << GetParam().name << " backend cannot start: " << e.what();
    }
    store_ = made_.store.get();
  }
  void TearDown() override { made_.store.reset(); }

  template <class T>
  T Run(asio::awaitable<T> op) {
    return rt_.Run(std::move(op));
  }
  std::filesystem::path WriteSource(const std::string& name, const std::string& content) {
    std::filesystem::path path = dir_.path() / name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  runtime::Runtime rt_;
  sluice::testing::TempDir dir_;
  MadeStore made_;
  BlobStore* store_ = nullptr;
};

TEST_P(BlobStoreConformance, PutBytesThenGetStatList) {
  ASSERT_TRUE(Run(store_->PutBytes("objects/ab/abc", "hello", {})).ok());
  EXPECT_EQ(*Run(store_->Get("objects/ab/abc")), "hello");
  EXPECT_EQ(Run(store_->Stat("objects/ab/abc"))->size, 5);
  ASSERT_TRUE(Run(store_->PutBytes("objects/cd/cde", "x", {})).ok());
  ASSERT_TRUE(Run(store_->PutBytes("results/r1", "y", {})).ok());
  Result<std::vector<BlobInfo>> listed = Run(store_->List("objects/"));
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].key, "objects/ab/abc");
  EXPECT_EQ((*listed)[1].key, "objects/cd/cde");
  EXPECT_EQ(Run(store_->List(""))->size(), 3u);
}

TEST_P(BlobStoreConformance, RangesAreClampedAndOffsetsPastTheEndRefused) {
  ASSERT_TRUE(Run(store_->PutBytes("k", "0123456789", {})).ok());
  EXPECT_EQ(*Run(store_->Get("k", ByteRange{2, 3})), "234");
  EXPECT_EQ(*Run(store_->Get("k", ByteRange{7, 100})), "789");
  EXPECT_EQ(*Run(store_->Get("k", ByteRange{4, -1})), "456789");
  EXPECT_EQ(*Run(store_->Get("k", ByteRange{10, -1})), "");
  EXPECT_EQ(Run(store_->Get("k", ByteRange{11, 1})).status().code(), absl::StatusCode::kOutOfRange);
}

TEST_P(BlobStoreConformance, MissingIsNotFoundAndDeleteIsIdempotent) {
  EXPECT_EQ(Run(store_->Get("nope")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Run(store_->Stat("nope")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Run(store_->Delete("nope")).ok());
  ASSERT_TRUE(Run(store_->PutBytes("k", "v", {})).ok());
  EXPECT_TRUE(Run(store_->Delete("k")).ok());
  EXPECT_TRUE(Run(store_->Delete("k")).ok());
  EXPECT_EQ(Run(store_->Get("k")).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(BlobStoreConformance, SameKeyIsStoredOnce) {
  Result<PutOutcome> first = Run(store_->PutBytes("objects/aa/aa", "content", {}));
  Result<PutOutcome> second = Run(store_->PutBytes("objects/aa/aa", "content", {}));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_TRUE(first->created);
  EXPECT_FALSE(second->created);
  EXPECT_EQ(Run(store_->List("objects/"))->size(), 1u);
}

TEST_P(BlobStoreConformance, OverwriteReplacesOtherwiseTheFirstObjectStays) {
  ASSERT_TRUE(Run(store_->PutBytes("results/s/a.json", "v1", {})).ok());
  ASSERT_TRUE(Run(store_->PutBytes("results/s/a.json", "v2", {})).ok());
  EXPECT_EQ(*Run(store_->Get("results/s/a.json")), "v1");
  ASSERT_TRUE(Run(store_->PutBytes("results/s/a.json", "v3", {.overwrite = true})).ok());
  EXPECT_EQ(*Run(store_->Get("results/s/a.json")), "v3");
  // Files too, whether the store copies them or takes them over (a repair's re-fetch).
  ASSERT_TRUE(
      Run(store_->PutFile("results/s/a.json", WriteSource("v4", "v4"), {.overwrite = true})).ok());
  EXPECT_EQ(*Run(store_->Get("results/s/a.json")), "v4");
  ASSERT_TRUE(Run(store_->PutFile("results/s/a.json", WriteSource("v5", "v5"),
                                  {.overwrite = true, .consume_source = true}))
                  .ok());
  EXPECT_EQ(*Run(store_->Get("results/s/a.json")), "v5");
  ASSERT_TRUE(Run(store_->PutFile("results/s/a.json", WriteSource("v6", "v6"), {})).ok());
  EXPECT_EQ(*Run(store_->Get("results/s/a.json")), "v5");
}

TEST_P(BlobStoreConformance, PutBatchStoresEveryObjectAndStopsAtABadKey) {
  std::vector<BlobWrite> writes = {{"b/1", "one"}, {"b/2", "two"}};
  ASSERT_TRUE(Run(store_->PutBatch(writes, {})).ok());
  EXPECT_EQ(*Run(store_->Get("b/2")), "two");
  std::vector<BlobWrite> bad = {{"b/3", "three"}, {"../x", "no"}, {"b/4", "four"}};
  EXPECT_EQ(Run(store_->PutBatch(bad, {})).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*Run(store_->Get("b/3")), "three");
  EXPECT_EQ(Run(store_->Get("b/4")).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(BlobStoreConformance, PutFileCopiesOrConsumesTheSource) {
  std::filesystem::path kept = WriteSource("kept", "abc");
  ASSERT_TRUE(Run(store_->PutFile("a", kept, {})).ok());
  EXPECT_TRUE(std::filesystem::exists(kept));
  std::filesystem::path taken = WriteSource("taken", "def");
  Result<PutOutcome> put = Run(
      store_->PutFile("b", taken, {.durability = Durability::kDeferred, .consume_source = true}));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_TRUE(put->created);
  EXPECT_EQ(put->size, 3);
  EXPECT_FALSE(std::filesystem::exists(taken));
  EXPECT_TRUE(Run(store_->Flush()).ok());
  EXPECT_EQ(*Run(store_->Get("b")), "def");
  // A consumed duplicate is also removed, and the stored object kept.
  std::filesystem::path again = WriteSource("again", "def");
  put = Run(store_->PutFile("b", again, {.consume_source = true}));
  ASSERT_TRUE(put.ok());
  EXPECT_FALSE(put->created);
  EXPECT_FALSE(std::filesystem::exists(again));
  EXPECT_EQ(Run(store_->PutFile("c", dir_.path() / "absent", {})).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(BlobStoreConformance, BadKeysAreRefused) {
  for (const char* key : {"", "/abs", "a/../b", "a//b", "./a", "a b", "a/..", "ü"}) {
    EXPECT_EQ(Run(store_->PutBytes(key, "x", {})).status().code(),
              absl::StatusCode::kInvalidArgument)
        << key;
  }
}

asio::awaitable<int> RacePuts(BlobStore& store, runtime::Runtime& rt, int n) {
  runtime::TaskGroup group(rt.loop_executor());
  int created = 0;
  auto put = [&]() -> asio::awaitable<void> {
    Result<PutOutcome> outcome = co_await store.PutBytes("objects/ra/race", "same bytes", {});
    if (outcome.ok() && outcome->created) ++created;
  };
  for (int i = 0; i < n; ++i) {
    auto task = put();
    group.Spawn(std::move(task));
  }
  co_await group.Wait();
  co_return created;
}

TEST_P(BlobStoreConformance, ConcurrentPutsOfOneKeyCreateItOnce) {
  EXPECT_EQ(Run(RacePuts(*store_, rt_, 16)), 1);
  EXPECT_EQ(*Run(store_->Get("objects/ra/race")), "same bytes");
}

INSTANTIATE_TEST_SUITE_P(
    Backends, BlobStoreConformance,
    ::testing::Values(
        Backend{"memory",
                [](runtime::Runtime&, const std::filesystem::path&) -> MadeStore {
                  return {std::make_unique<MemoryBlobStore>(), nullptr};
                }},
        Backend{"local",
                [](runtime::Runtime& rt, const std::filesystem::path& root) -> MadeStore {
                  return {std::move(*LocalBlobStore::Create(root, rt.blocking())), nullptr};
                }},
        Backend{"s3", &MakeS3Store}),
    [](const ::testing::TestParamInfo<Backend>& info) { return info.param.name; });

TEST(LocalBlobStoreTest, ObjectsAreFilesAtTheirKeysAndTempFilesAreNeverListed) {
  runtime::Runtime rt;
  sluice::testing::TempDir dir;
  auto store = std::move(*LocalBlobStore::Create(dir.path() / "objects", rt.blocking()));
  std::string key = ContentKey(Sha256::HexOf("abc"));
  EXPECT_EQ(key, "objects/ba/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  ASSERT_TRUE(rt.Run(store->PutBytes(key, "abc", {})).ok());
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "objects" / key));
  std::ofstream(store->temp_dir() / "partial.tmp") << "half";
  EXPECT_EQ(rt.Run(store->List(""))->size(), 1u);
}

TEST(LocalBlobStoreTest, UnwritableRootIsAClearError) {
  runtime::Runtime rt;
  auto store = LocalBlobStore::Create("/proc/sluice-cannot-be-here", rt.blocking());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(CauseOf(store.status()), "data_dir_unwritable");
}

}  // namespace
}  // namespace sluice::storage

namespace sluice::storage {
namespace {

// A file in many parts comes back whole; a second put of it keeps the first. (s3rver does not
// verify signatures: http/sigv4_test.cc checks the signing against AWS's published vectors.)
// s3rver with an S3 store whose multipart threshold and part size are small enough for a 1 MB
// file to go up in 16 parts.
class S3BlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = sluice::testing::S3rver::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = std::move(*http::HttpClient::Create(rt.loop_executor(), {}));
    for (int i = 0; content.size() < 1'000'000; ++i) content += std::to_string(i * 7919) + ",";
  }
  std::unique_ptr<S3BlobStore> Store(std::string prefix = "") {
    S3Options options{.endpoint = server_->endpoint(),
                      .bucket = server_->bucket(),
                      .prefix = std::move(prefix),
                      .credentials = {.access_key = sluice::testing::S3rver::kAccessKey,
                                      .secret_key = sluice::testing::S3rver::kSecretKey,
                                      .region = "us-east-1"},
                      .multipart_threshold = 100'000,
                      .part_size = 64 * 1024,
                      .allow_private = true};
    return std::make_unique<S3BlobStore>(*client_, rt.loop_executor(), rt.blocking(), options);
  }

  runtime::Runtime rt;
  std::unique_ptr<sluice::testing::S3rver> server_;
  std::unique_ptr<http::HttpClient> client_;
  sluice::testing::TempDir dir;
  std::string content;
};

TEST_F(S3BlobStoreTest, MultipartFilesRoundTrip) {
  std::unique_ptr<S3BlobStore> s3 = Store();
  S3BlobStore& store = *s3;
  std::ofstream(dir.path() / "big.bin", std::ios::binary) << content;
  Result<PutOutcome> put = rt.Run(store.PutFile("objects/big", dir.path() / "big.bin", {}));
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_TRUE(put->created);
  EXPECT_EQ(*rt.Run(store.Get("objects/big", std::nullopt)), content);
  EXPECT_EQ(rt.Run(store.Stat("objects/big"))->size, static_cast<int64_t>(content.size()));
  EXPECT_FALSE(rt.Run(store.PutFile("objects/big", dir.path() / "big.bin", {}))->created);
  EXPECT_EQ(store.Describe(), StrCat("s3://sluice-test at ", server_->endpoint()));
}

asio::awaitable<void> Pause(std::chrono::milliseconds length) {
  asio::steady_timer timer(co_await asio::this_coro::executor, length);
  co_await timer.async_wait(asio::use_awaitable);
}

// Writes `content` to `file` in 100 KB steps, reporting each and pausing as a download would,
// then finishes the put under `key`.
asio::awaitable<Result<PutOutcome>> GrowThenFinish(StreamingPut& put, std::string key,
                                                   std::filesystem::path file,
                                                   std::string content) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  for (size_t at = 0; at < content.size(); at += 100'000) {
    out << content.substr(at, 100'000) << std::flush;
    put.Grew(file, static_cast<int64_t>(std::min(content.size(), at + 100'000)));
    co_await Pause(std::chrono::milliseconds(100));
  }
  co_return co_await put.Finish(std::move(key), file, static_cast<int64_t>(content.size()), {});
}

asio::awaitable<Result<PutOutcome>> RestartThenFinish(StreamingPut& put, std::string key,
                                                      std::filesystem::path file,
                                                      std::string content) {
  put.Grew(file, 300'000);
  co_await Pause(std::chrono::milliseconds(200));
  put.Restarted();
  std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
  co_return co_await put.Finish(std::move(key), file, static_cast<int64_t>(content.size()), {});
}

asio::awaitable<Status> GrowThenAbort(StreamingPut& put, std::filesystem::path file) {
  put.Grew(file, 300'000);
  co_await Pause(std::chrono::milliseconds(200));
  co_await put.Abort();
  co_await put.Abort();  // twice is fine
  co_return absl::OkStatus();
}

// A put that streams while its file grows: whole parts go up before Finish, the object is
// published under its key by a server-side copy, the provisional upload is gone afterwards; a
// second streaming put of the same bytes keeps the first; a source that starts over falls back
// to a plain put and still stores exactly the final bytes.
TEST_F(S3BlobStoreTest, StreamingPutsUploadWhileTheFileGrows) {
  std::unique_ptr<S3BlobStore> s3 = Store("media");
  S3BlobStore& store = *s3;
  std::filesystem::path file = dir.path() / "growing.bin";

  auto grow_then_finish = [&](StreamingPut& put, std::string key) {
    return rt.Run(GrowThenFinish(put, std::move(key), file, content));
  };
  std::unique_ptr<StreamingPut> first = store.BeginStreamingPut();
  ASSERT_NE(first, nullptr);
  Result<PutOutcome> put = grow_then_finish(*first, "objects/streamed");
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_TRUE(put->created);
  EXPECT_GE(first->sent_before_finish(), 2) << "parts went up while the file grew";
  EXPECT_EQ(*rt.Run(store.Get("objects/streamed", std::nullopt)), content);
  EXPECT_TRUE(rt.Run(store.List("uploads/"))->empty()) << "the provisional object is removed";

  std::unique_ptr<StreamingPut> again = store.BeginStreamingPut();
  Result<PutOutcome> second = grow_then_finish(*again, "objects/streamed");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->created);
  EXPECT_TRUE(rt.Run(store.List("uploads/"))->empty());

  std::unique_ptr<StreamingPut> restarted = store.BeginStreamingPut();
  std::ofstream(file, std::ios::binary | std::ios::trunc) << std::string(300'000, 'x');
  // The server ignored our Range after 300 KB: the body starts over with the real bytes.
  Result<PutOutcome> fallback =
      rt.Run(RestartThenFinish(*restarted, "objects/restarted", file, content));
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  EXPECT_EQ(*rt.Run(store.Get("objects/restarted", std::nullopt)), content);
  EXPECT_TRUE(rt.Run(store.List("uploads/"))->empty());

  std::unique_ptr<StreamingPut> abandoned = store.BeginStreamingPut();
  ASSERT_TRUE(rt.Run(GrowThenAbort(*abandoned, file)).ok());
  EXPECT_TRUE(rt.Run(store.List("uploads/"))->empty());
}

TEST(S3UriTest, ParsesS3Locations) {
  S3Options options;
  ASSERT_TRUE(ParseS3Uri("s3://media/brand-a/", options).ok());
  EXPECT_EQ(options.bucket, "media");
  EXPECT_EQ(options.prefix, "brand-a");
  ASSERT_TRUE(ParseS3Uri("s3://media", options).ok());
  EXPECT_EQ(options.prefix, "");
  EXPECT_EQ(ParseS3Uri("file:///tmp", options).code(), absl::StatusCode::kInvalidArgument);
}

// An object cut short under a key (s3rver keeps the part of a body it received before the
// connection closed) is not taken for the stored content: a put of the whole replaces it.
TEST_F(S3BlobStoreTest, AnObjectOfAnotherSizeUnderTheKeyIsReplaced) {
  auto store = Store("cut");
  ASSERT_TRUE(rt.Run(store->PutBytes("objects/ab/abc", "0123", {.overwrite = true})).ok());
  Result<PutOutcome> whole = rt.Run(store->PutBytes("objects/ab/abc", "0123456789", {}));
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_TRUE(whole->created);
  EXPECT_EQ(*rt.Run(store->Get("objects/ab/abc", std::nullopt)), "0123456789");
  Result<PutOutcome> again = rt.Run(store->PutBytes("objects/ab/abc", "0123456789", {}));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created) << "the same size: stored already";
}

// S3 answering 503 SlowDown and 500 InternalError, and dropping a connection: single puts and
// multipart parts are sent again after a backoff and the upload completes; a store that keeps
// refusing fails with S3's own words once the attempts are spent, and the upload is aborted.
class S3RetryTest : public ::testing::Test {
 protected:
  void SetUp() override { client_ = std::move(*http::HttpClient::Create(rt.loop_executor(), {})); }
  std::unique_ptr<S3BlobStore> Store() {
    S3Options options{
        .endpoint = origin_.Url(""),
        .bucket = "b",
        .credentials = {.access_key = "AK", .secret_key = "SK", .region = "us-east-1"},
        .multipart_threshold = 1000,
        .part_size = 600,
        .allow_private = true,
        .retry = {.max_attempts = 4, .initial_backoff = runtime::Duration{5}}};
    return std::make_unique<S3BlobStore>(*client_, rt.loop_executor(), rt.blocking(), options);
  }
  static http::HttpReply Error(int status, const std::string& code) {
    return http::HttpReply{
        .status = status,
        .headers = {{"Content-Type", "application/xml"}},
        .body = "<Error><Code>" + code + "</Code><Message>try again</Message></Error>"};
  }

  runtime::Runtime rt;
  std::unique_ptr<http::HttpClient> client_;
  sluice::testing::ScriptedOrigin origin_;
  sluice::testing::TempDir dir_;
};

TEST_F(S3RetryTest, SlowDownAndInternalErrorsAreRetriedUntilTheUploadCompletes) {
  std::atomic<int> puts{0};
  std::string stored;
  origin_.Route("/b/small", [&](const http::HttpRequest& r, int) {
    if (r.method == "HEAD") return http::HttpReply{.status = 404};
    if (++puts <= 2) return Error(503, "SlowDown");
    stored = r.body;
    return http::HttpReply{.status = 200};
  });
  std::map<std::string, int> part_calls;
  std::map<int, std::string> parts;
  bool completed = false, aborted = false;
  origin_.Route("/b/big", [&](const http::HttpRequest& r, int) {
    if (r.method == "HEAD") return http::HttpReply{.status = 404};
    if (r.method == "POST" && r.target.find("?uploads") != std::string::npos) {
      return http::HttpReply{.body =
                                 "<InitiateMultipartUploadResult><UploadId>u1</UploadId>"
                                 "</InitiateMultipartUploadResult>"};
    }
    if (r.method == "PUT") {
      int n = std::stoi(r.target.substr(r.target.find("partNumber=") + 11));
      // Part 2 meets an InternalError, part 3 a dropped connection, once each.
      if (n == 2 && part_calls["2"]++ == 0) return Error(500, "InternalError");
      if (n == 3 && part_calls["3"]++ == 0) return http::HttpReply{.body = "x", .drop_after = 0};
      parts[n] = r.body;
      return http::HttpReply{.headers = {{"ETag", "\"e" + std::to_string(n) + "\""}}};
    }
    if (r.method == "POST") {
      completed = true;
      return http::HttpReply{.body = "<CompleteMultipartUploadResult/>"};
    }
    if (r.method == "DELETE") aborted = true;
    return http::HttpReply{.status = 204};
  });
  auto store = Store();
  Result<PutOutcome> small = rt.Run(store->PutBytes("small", "hello", {}));
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(stored, "hello");
  EXPECT_EQ(puts.load(), 3);

  std::string content(1'500, 'z');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>('a' + i % 26);
  std::ofstream(dir_.path() / "big") << content;
  Result<PutOutcome> big = rt.Run(store->PutFile("big", dir_.path() / "big", {}));
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_TRUE(completed);
  EXPECT_FALSE(aborted);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1] + parts[2] + parts[3], content);
  EXPECT_EQ(store->retries(), 2 + 1 + 1);
}

TEST_F(S3RetryTest, AStoreThatKeepsRefusingFailsInItsOwnWordsAndTheUploadIsAborted) {
  bool aborted = false;
  origin_.Route("/b/small", [](const http::HttpRequest& r, int) {
    if (r.method == "HEAD") return http::HttpReply{.status = 404};
    return Error(503, "SlowDown");
  });
  origin_.Route("/b/big", [&](const http::HttpRequest& r, int) {
    if (r.method == "HEAD") return http::HttpReply{.status = 404};
    if (r.method == "POST") {
      return http::HttpReply{.body =
                                 "<InitiateMultipartUploadResult><UploadId>u1</UploadId>"
                                 "</InitiateMultipartUploadResult>"};
    }
    if (r.method == "DELETE") {
      aborted = true;
      return http::HttpReply{.status = 204};
    }
    return Error(500, "InternalError");
  });
  auto store = Store();
  Result<PutOutcome> small = rt.Run(store->PutBytes("small", "hello", {}));
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(small.status().message().find("SlowDown"), std::string::npos) << small.status();
  EXPECT_EQ(origin_.Count("/b/small"), 1 + 4) << "a HEAD, then four attempts";

  std::ofstream(dir_.path() / "big") << std::string(1'500, 'q');
  Result<PutOutcome> big = rt.Run(store->PutFile("big", dir_.path() / "big", {}));
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("InternalError"), std::string::npos) << big.status();
  EXPECT_TRUE(aborted) << "a failed multipart upload is aborted, not left behind";
}

}  // namespace
}  // namespace sluice::storage
