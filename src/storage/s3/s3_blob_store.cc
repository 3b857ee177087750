#include "storage/s3/s3_blob_store.h"

#include <algorithm>
#include <fstream>
#include <pugixml.hpp>

#include "common/strings.h"
#include "http/aws_error.h"
#include "http/request.h"
#include "runtime/limiter.h"
#include "runtime/offload.h"
#include "runtime/task_group.h"

namespace sluice::storage {
namespace {

Status S3Error(const http::ClientResponse& response, std::string_view what) {
  std::string text = http::ParseAwsError(response, what).text;
  switch (response.status) {
    case 404:
      return absl::NotFoundError(text);
    case 403:
      return Failure(absl::StatusCode::kPermissionDenied, "auth_failed", text);
    case 416:
      return absl::OutOfRangeError(text);
    default:
      if (response.status >= 500 || response.status == 429)
        return Failure(absl::StatusCode::kUnavailable, "store_unavailable", text);
      return Failure(absl::StatusCode::kInternal, "store_error", text);
  }
}

}  // namespace

// One put of a key at a time from this process; the limiter is the lock.
struct S3BlobStore::KeyLock {
  explicit KeyLock(asio::any_io_executor executor) : limiter(executor, 1) {}
  runtime::Limiter limiter;
  int users = 0;
};

// Holds a key's lock; the last holder removes the key's entry.
class S3BlobStore::KeyGuard {
 public:
  KeyGuard(S3BlobStore* store, std::string key, std::shared_ptr<KeyLock> lock,
           runtime::Limiter::Permit permit)
      : store_(store), key_(std::move(key)), lock_(std::move(lock)), permit_(std::move(permit)) {}
  KeyGuard(KeyGuard&&) = default;
  ~KeyGuard() {
    if (!lock_) return;
    permit_.Reset();
    if (--lock_->users == 0) store_->putting_.erase(key_);
  }

 private:
  S3BlobStore* store_;
  std::string key_;
  std::shared_ptr<KeyLock> lock_;
  runtime::Limiter::Permit permit_;
};

asio::awaitable<S3BlobStore::KeyGuard> S3BlobStore::LockKey(std::string key) {
  std::shared_ptr<KeyLock>& slot = putting_[key];
  if (!slot) slot = std::make_shared<KeyLock>(loop_);
  std::shared_ptr<KeyLock> lock = slot;
  ++lock->users;
  runtime::Limiter::Permit permit = co_await lock->limiter.Acquire();
  co_return KeyGuard(this, std::move(key), std::move(lock), std::move(permit));
}

asio::awaitable<Result<int64_t>> S3BlobStore::StoredSize(std::string key) {
  SLUICE_CO_ASSIGN_OR_RETURN(http::ClientResponse response,
                             co_await Send(Request("HEAD", ObjectName(key))));
  if (!response.successful()) co_return S3Error(response, StrCat("stat of ", key));
  int64_t size = 0;
  ParseInt(response.Header("content-length"), size);
  co_return size;
}

Status ParseS3Uri(std::string_view uri, S3Options& options) {
  if (!ConsumePrefix(uri, "s3://") || uri.empty() || uri.front() == '/') {
    return absl::InvalidArgumentError(
        StrCat("'", uri, "' is not an S3 location (s3://bucket or s3://bucket/prefix)"));
  }
  size_t slash = uri.find('/');
  options.bucket = std::string(uri.substr(0, slash));
  std::string_view prefix = slash == std::string_view::npos ? "" : uri.substr(slash + 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  options.prefix = std::string(prefix);
  return absl::OkStatus();
}

S3BlobStore::S3BlobStore(http::HttpClient& client, asio::any_io_executor loop,
                         asio::thread_pool& blocking, S3Options options)
    : client_(client), loop_(loop), blocking_(blocking), options_(std::move(options)) {
  options_.credentials.service = "s3";
  options_.credentials.sign_payload = true;
  while (!options_.endpoint.empty() && options_.endpoint.back() == '/')
    options_.endpoint.pop_back();
}

std::string S3BlobStore::ObjectName(std::string_view key) const {
  return options_.prefix.empty() ? std::string(key) : StrCat(options_.prefix, "/", key);
}

std::string S3BlobStore::Describe() const {
  return StrCat("s3://", options_.bucket, options_.prefix.empty() ? "" : "/", options_.prefix,
                " at ", options_.endpoint);
}

http::ClientRequest S3BlobStore::Request(std::string method, std::string_view object,
                                         std::string_view query) const {
  http::ClientRequest request;
  request.method = std::move(method);
  request.url = StrCat(options_.endpoint, "/", options_.bucket, object.empty() ? "" : "/",
                       http::AwsUriEncode(object, true), query.empty() ? "" : "?", query);
  request.sigv4 = options_.credentials;
  request.addresses.allow_private = options_.allow_private;
  request.timeout = runtime::Duration{300'000};
  return request;
}

asio::awaitable<Result<http::ClientResponse>> S3BlobStore::Send(http::ClientRequest request) {
  co_return co_await http::Send(client_, std::move(request));
}

asio::awaitable<Status> S3BlobStore::EnsureBucket() {
  SLUICE_CO_ASSIGN_OR_RETURN(http::ClientResponse response, co_await Send(Request("PUT", "")));
  if (response.successful() || response.status == 409)
    co_return absl::OkStatus();  // exists already
  co_return S3Error(response, StrCat("creating bucket ", options_.bucket));
}

asio::awaitable<Result<PutOutcome>> S3BlobStore::PutBytes(std::string key, std::string bytes,
                                                          PutOptions options) {
  SLUICE_CO_RETURN_IF_ERROR(ValidateKey(key));
  KeyGuard guard = co_await LockKey(key);
  co_return co_await PutBytesLocked(std::move(key), std::move(bytes), options);
}

asio::awaitable<Result<PutOutcome>> S3BlobStore::PutBytesLocked(std::string key, std::string bytes,
                                                                PutOptions options) {
  std::string object = ObjectName(key);
  auto size = static_cast<int64_t>(bytes.size());
  if (!options.overwrite) {
    // Endpoints that ignore If-None-Match (s3rver) would overwrite: ask first.
    Result<int64_t> stored = co_await StoredSize(key);
    if (stored.ok()) co_return PutOutcome{.created = false, .size = *stored};
  }
  http::ClientRequest put = Request("PUT", object);
  put.body = std::move(bytes);
  put.headers.emplace_back("Content-Type", "application/octet-stream");
  if (!options.overwrite) put.headers.emplace_back("If-None-Match", "*");
  SLUICE_CO_ASSIGN_OR_RETURN(http::ClientResponse response, co_await Send(std::move(put)));
  if (response.status == 412) co_return PutOutcome{.created = false, .size = size};
  if (!response.successful()) co_return S3Error(response, StrCat("putting ", key));
  co_return PutOutcome{.created = true, .size = size};
}

asio::awaitable<Result<PutOutcome>> S3BlobStore::PutFile(std::string key,
                                                         std::filesystem::path source,
                                                         PutOptions options) {
  SLUICE_CO_RETURN_IF_ERROR(ValidateKey(key));
  std::error_code ec;
  auto size = static_cast<int64_t>(std::filesystem::file_size(source, ec));
  if (ec)
    co_return absl::NotFoundError(StrCat("cannot read ", source.string(), ": ", ec.message()));
  // The whole put under the key's lock: small files and multipart uploads alike.
  KeyGuard guard = co_await LockKey(key);
  Result<PutOutcome> outcome = absl::UnknownError("not stored");
  if (size > options_.multipart_threshold) {
    Result<int64_t> stored = absl::NotFoundError("");
    if (!options.overwrite) stored = co_await StoredSize(key);
    if (stored.ok()) {
      outcome = PutOutcome{.created = false, .size = *stored};
    } else {
      outcome = co_await PutMultipart(ObjectName(key), source, size);
    }
  } else {
    auto read_file = [&]() -> Result<std::string> {
      std::ifstream in(source, std::ios::binary);
      std::string data(static_cast<size_t>(size), '\0');
      if (!in.read(data.data(), size))
        return absl::NotFoundError(StrCat("cannot read ", source.string()));
      return data;
    };
    Result<std::string> bytes = co_await runtime::RunOn(blocking_, read_file);
    SLUICE_CO_RETURN_IF_ERROR(bytes.status());
    outcome = co_await PutBytesLocked(key, std::move(*bytes), options);
  }
  if (outcome.ok() && options.consume_source) std::filesystem::remove(source, ec);
  co_return outcome;
}

asio::awaitable<Result<PutOutcome>> S3BlobStore::PutMultipart(std::string object,
                                                              std::filesystem::path source,
                                                              int64_t size) {
  SLUICE_CO_ASSIGN_OR_RETURN(http::ClientResponse started,
                             co_await Send(Request("POST", object, "uploads")));
  if (!started.successful()) co_return S3Error(started, StrCat("starting the upload of ", object));
  pugi::xml_document doc;
  doc.load_buffer(started.body.data(), started.body.size());
  std::string upload_id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
  if (upload_id.empty()) co_return absl::InternalError("S3 gave no UploadId");
  std::string upload_query = StrCat("uploadId=", http::AwsUriEncode(upload_id, false));

  int64_t parts = (size + options_.part_size - 1) / options_.part_size;
  std::vector<std::string> etags(static_cast<size_t>(parts));
  Status failed;
  runtime::Limiter in_flight(loop_, static_cast<size_t>(std::max(1, options_.parts_in_flight)));
  runtime::TaskGroup group(loop_);
  struct Part {
    S3BlobStore* store;
    std::string object;
    std::string query;
    std::filesystem::path source;
    int64_t offset, length;
    std::string* etag;
    Status* failed;
  };
  auto upload = [](Part part,
                   [[maybe_unused]] runtime::Limiter::Permit permit) -> asio::awaitable<void> {
    // Named, not written inside the co_await: g++ 12 double-frees some such lambdas.
    auto read_part = [&part]() -> Result<std::string> {
      std::ifstream in(part.source, std::ios::binary);
      in.seekg(part.offset);
      std::string data(static_cast<size_t>(part.length), '\0');
      if (!in.read(data.data(), part.length))
        return absl::DataLossError(StrCat(part.source.string(), " shrank while uploading"));
      return data;
    };
    Result<std::string> bytes = co_await runtime::RunOn(part.store->blocking_, read_part);
    if (!bytes.ok()) {
      if (part.failed->ok()) *part.failed = bytes.status();
      co_return;
    }
    http::ClientRequest put = part.store->Request("PUT", part.object, part.query);
    put.body = std::move(*bytes);
    Result<http::ClientResponse> response = co_await part.store->Send(std::move(put));
    if (response.ok() && response->successful()) {
      *part.etag = response->Header("etag");
    } else if (part.failed->ok()) {
      *part.failed = response.ok() ? S3Error(*response, "uploading a part") : response.status();
    }
  };
  for (int64_t n = 0; n < parts && failed.ok(); ++n) {
    runtime::Limiter::Permit permit = co_await in_flight.Acquire();
    int64_t offset = n * options_.part_size;
    // A named Part: g++ 12 mishandles a braced temporary passed to a coroutine.
    Part part{this,
              object,
              StrCat("partNumber=", n + 1, "&", upload_query),
              source,
              offset,
              std::min(options_.part_size, size - offset),
              &etags[static_cast<size_t>(n)],
              &failed};
    group.Spawn(upload(std::move(part), std::move(permit)));
  }
  co_await group.Wait();
  if (failed.ok()) {
    std::string complete = "<CompleteMultipartUpload>";
    for (size_t n = 0; n < etags.size(); ++n)
      StrAppend(complete, "<Part><PartNumber>", n + 1, "</PartNumber><ETag>", etags[n],
                "</ETag></Part>");
    complete += "</CompleteMultipartUpload>";
    http::ClientRequest finish = Request("POST", object, upload_query);
    finish.body = std::move(complete);
    Result<http::ClientResponse> done = co_await Send(std::move(finish));
    // S3 may answer 200 with an <Error> body when completing fails late.
    if (done.ok() && done->successful() && done->body.find("<Error>") == std::string::npos)
      co_return PutOutcome{.created = true, .size = size};
    failed =
        done.ok() ? S3Error(*done, StrCat("completing the upload of ", object)) : done.status();
  }
  Result<http::ClientResponse> aborted = co_await Send(Request("DELETE", object, upload_query));
  (void)aborted;  // best effort: a lifecycle rule cleans up what this leaves
  co_return failed;
}

asio::awaitable<Result<std::string>> S3BlobStore::Get(std::string key,
                                                      std::optional<ByteRange> range) {
  SLUICE_CO_RETURN_IF_ERROR(ValidateKey(key));
  http::ClientRequest get = Request("GET", ObjectName(key));
  get.max_response_bytes = int64_t{4} << 30;
  if (range) {
    get.headers.emplace_back("Range",
                             range->length < 0
                                 ? StrCat("bytes=", range->offset, "-")
                                 : StrCat("bytes=", range->offset, "-",
                                          range->offset + std::max<int64_t>(range->length, 1) - 1));
  }
  SLUICE_CO_ASSIGN_OR_RETURN(http::ClientResponse response, co_await Send(std::move(get)));
  if (response.status == 416) {
    // S3 refuses a range starting at the end; the contract reads it as empty.
    Result<BlobInfo> info = co_await Stat(key);
    if (info.ok() && range && range->offset == info->size) co_return std::string();
  }
  if (!response.successful()) co_return S3Error(response, StrCat("reading ", key));
  if (range && range->length == 0) co_return std::string();
  co_return std::move(response.body);
}

asio::awaitable<Result<BlobInfo>> S3BlobStore::Stat(std::string key) {
  SLUICE_CO_RETURN_IF_ERROR(ValidateKey(key));
  SLUICE_CO_ASSIGN_OR_RETURN(int64_t size, co_await StoredSize(key));
  co_return BlobInfo{.key = key, .size = size};
}

asio::awaitable<Status> S3BlobStore::Delete(std::string key) {
  SLUICE_CO_RETURN_IF_ERROR(ValidateKey(key));
  SLUICE_CO_ASSIGN_OR_RETURN(http::ClientResponse response,
                             co_await Send(Request("DELETE", ObjectName(key))));
  if (response.successful() || response.status == 404) co_return absl::OkStatus();
  co_return S3Error(response, StrCat("deleting ", key));
}

asio::awaitable<Result<std::vector<BlobInfo>>> S3BlobStore::List(std::string prefix) {
  std::string full = options_.prefix.empty() ? prefix : StrCat(options_.prefix, "/", prefix);
  size_t strip = options_.prefix.empty() ? 0 : options_.prefix.size() + 1;
  std::vector<BlobInfo> out;
  std::string token;
  for (;;) {
    std::string query = StrCat("list-type=2&prefix=", http::AwsUriEncode(full, false));
    if (!token.empty()) StrAppend(query, "&continuation-token=", http::AwsUriEncode(token, false));
    SLUICE_CO_ASSIGN_OR_RETURN(http::ClientResponse response,
                               co_await Send(Request("GET", "", query)));
    if (!response.successful()) co_return S3Error(response, StrCat("listing ", prefix));
    pugi::xml_document doc;
    if (!doc.load_buffer(response.body.data(), response.body.size()))
      co_return absl::InternalError("S3 sent a listing that is not XML");
    pugi::xml_node result = doc.child("ListBucketResult");
    for (pugi::xml_node item : result.children("Contents")) {
      std::string name = item.child_value("Key");
      int64_t size = 0;
      ParseInt(item.child_value("Size"), size);
      if (name.size() >= strip) out.push_back({name.substr(strip), size});
    }
    token = result.child_value("NextContinuationToken");
    if (std::string_view(result.child_value("IsTruncated")) != "true" || token.empty()) break;
  }
  std::sort(out.begin(), out.end(),
            [](const BlobInfo& a, const BlobInfo& b) { return a.key < b.key; });
  co_return out;
}

asio::awaitable<Status> S3BlobStore::Flush() { co_return absl::OkStatus(); }

}  // namespace sluice::storage
