// The BlobStore on S3's REST API (any S3-compatible endpoint: AWS, MinIO, Ceph, s3rver), over
// the event loop's libcurl client, signed with SigV4 (http/sigv4.h).
//
//   s3://bucket/prefix  →  objects under `prefix/`; path-style requests to the endpoint
//   (AWS_ENDPOINT_URL, default https://s3.<region>.amazonaws.com).
//
// Puts of an existing key keep the stored object: `If-None-Match: *` makes the write itself
// conditional (a 412 means another writer won), and puts of one key from this process wait for
// each other, so exactly one reports `created`. Files above `multipart_threshold` go up in
// parts (`part_size`, at most `parts_in_flight` at once); a failed upload is aborted. Puts are
// durable when S3 acknowledges them, so Flush() has nothing to do.
//
// Event-loop only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/thread_pool.hpp>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "http/curl_client.h"
#include "http/request.h"
#include "http/sigv4.h"
#include "runtime/limiter.h"
#include "runtime/retry.h"
#include "storage/blob_store.h"

namespace sluice::storage {

struct S3Options {
  // "http://127.0.0.1:4568" or "https://s3.eu-west-1.amazonaws.com".
  std::string endpoint;
  std::string bucket;
  // Key prefix inside the bucket, without leading or trailing '/'; "" for none.
  std::string prefix;
  // Region (service is set to "s3"), and long-term keys when credential_provider is null.
  http::SigV4 credentials;
  // Where the keys come from when set (temporary credentials refreshed as they expire).
  std::shared_ptr<http::AwsCredentialProvider> credential_provider;
  int64_t multipart_threshold = int64_t{64} << 20;
  int64_t part_size = int64_t{16} << 20;
  int parts_in_flight = 4;
  // Endpoints on this machine or a private network (MinIO, s3rver) need this.
  bool allow_private = false;
  // Requests that meet a dropped connection, a timeout, 429 or a 5xx (SlowDown, InternalError)
  // are sent again after a jittered backoff (or the server's Retry-After), up to max_attempts.
  runtime::RetryPolicy retry{.max_attempts = 6};
};

// "s3://bucket/prefix" → bucket and prefix into `options`. InvalidArgument for other URIs.
Status ParseS3Uri(std::string_view uri, S3Options& options);

// The readers of S3's XML answers, apart from the calls (tests and the fuzz target use them).
// The UploadId of a CreateMultipartUpload answer; Internal when it gives none.
Result<std::string> UploadIdOf(std::string_view xml);
// One page of a ListObjectsV2 answer: full keys and sizes, and the token of the next page (""
// on the last). Internal when it is not XML, an entry has no size, or a cut page no token.
struct S3ListPage {
  std::vector<BlobInfo> objects;
  std::string next_token;
};
Result<S3ListPage> ListPageOf(std::string_view xml);

class S3BlobStore : public BlobStore {
 public:
  // `client`, `loop` and `blocking` (file reads for PutFile) outlive the store.
  S3BlobStore(http::HttpClient& client, asio::any_io_executor loop, asio::thread_pool& blocking,
              S3Options options);

  asio::awaitable<Result<PutOutcome>> PutFile(std::string key, std::filesystem::path source,
                                              PutOptions options) override;
  // Parts of a large download go up while it arrives (see StreamingPut); published by a
  // server-side copy from uploads/ once the content key is known.
  std::unique_ptr<StreamingPut> BeginStreamingPut() override;
  asio::awaitable<Result<PutOutcome>> PutBytes(std::string key, std::string bytes,
                                               PutOptions options) override;
  asio::awaitable<Result<std::string>> Get(std::string key,
                                           std::optional<ByteRange> range) override;
  asio::awaitable<Result<BlobInfo>> Stat(std::string key) override;
  asio::awaitable<Status> Delete(std::string key) override;
  asio::awaitable<Result<std::vector<BlobInfo>>> List(std::string prefix) override;
  asio::awaitable<Status> Flush() override;
  std::string Describe() const override;

  // Creates the bucket when absent (tests, local fleets). OK when it exists.
  asio::awaitable<Status> EnsureBucket();
  // Requests sent again after a retryable failure (tests, diagnostics).
  int64_t retries() const { return retries_; }

 private:
  struct KeyLock;
  class KeyGuard;
  // Waits until no other put of `key` from this process is in progress.
  asio::awaitable<KeyGuard> LockKey(std::string key);
  // The stored object's size: NotFound when absent.
  asio::awaitable<Result<int64_t>> StoredSize(std::string key);
  // PutBytes, with the key's lock held.
  asio::awaitable<Result<PutOutcome>> PutBytesLocked(std::string key, std::string bytes,
                                                     PutOptions options);
  http::ClientRequest Request(std::string method, std::string_view key,
                              std::string_view query = "") const;
  asio::awaitable<Result<http::ClientResponse>> Send(http::ClientRequest request);
  asio::awaitable<Result<PutOutcome>> PutMultipart(std::string object, std::filesystem::path source,
                                                   int64_t size);
  // Multipart pieces shared by PutMultipart and the streaming put.
  struct Part {
    std::string object;
    std::string upload_query;
    int number;  // from 1
    std::filesystem::path source;
    int64_t offset, length;
    std::string* etag;  // set when the part is stored
    Status* failed;     // set (first failure only) when not
  };
  class StreamingUpload;
  // The "uploadId=…" query of a new multipart upload of `object`.
  asio::awaitable<Result<std::string>> StartMultipart(std::string object);
  asio::awaitable<void> UploadPart(Part part, runtime::Limiter::Permit permit);
  asio::awaitable<Status> CompleteMultipart(std::string object, std::string upload_query,
                                            std::vector<std::string> etags);
  asio::awaitable<void> AbortMultipart(std::string object, std::string upload_query);
  std::string ObjectName(std::string_view key) const;

  http::HttpClient& client_;
  asio::any_io_executor loop_;
  asio::thread_pool& blocking_;
  S3Options options_;
  // Keys being put by this process, and how many puts wait on each.
  std::map<std::string, std::shared_ptr<KeyLock>> putting_;
  std::mt19937_64 random_{std::random_device{}()};
  int64_t retries_ = 0;
};

}  // namespace sluice::storage
