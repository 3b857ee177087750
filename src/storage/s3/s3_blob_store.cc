#include "storage/s3/s3_blob_store.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fstream>
#include <pugixml.hpp>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "http/aws_error.h"
#include "http/request.h"
#include "http/retry_after.h"
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
  request.aws_credentials = options_.credential_provider;
  request.addresses.allow_private = options_.allow_private;
  request.timeout = runtime::Duration{300'000};
  return request;
}

asio::awaitable<Result<http::ClientResponse>> S3BlobStore::Send(http::ClientRequest request) {
  // Every S3 request is idempotent at the key (PUTs of whole objects or numbered parts, GETs,
  // DELETEs, a copy); sending one again after a drop or a 5xx is what AWS asks clients to do.
  std::string what = StrCat("S3 ", request.method, " ", request.url);
  for (int attempt = 1;; ++attempt) {
    bool last = attempt >= options_.retry.max_attempts;
    // Kept here for the next attempt: a part's body is not copied per attempt.
    Result<http::ClientResponse> response = co_await http::SendKept(client_, request);
    std::optional<runtime::Duration> hint;
    if (response.ok()) {
      if (response->status < 500 && response->status != 429) co_return response;
      hint =
          http::ParseRetryAfter(response->Header("retry-after"), std::chrono::system_clock::now());
    } else if (!absl::IsUnavailable(response.status()) &&
               !absl::IsDeadlineExceeded(response.status())) {
      co_return response;  // refused by the guard, too large: not going to change
    }
    if (last) {
      if (response.ok()) co_return response;  // the caller reads S3's error document
      co_return Failure(
          absl::StatusCode::kUnavailable, CauseOf(response.status()),
          StrCat(what, " after ", attempt, " attempts: ", response.status().message()));
    }
    ++retries_;
    asio::steady_timer wait(loop_, options_.retry.Backoff(attempt, hint, random_));
    boost::system::error_code ignored;
    co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
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
  bool replace = options.overwrite;
  if (!options.overwrite) {
    // Endpoints that ignore If-None-Match (s3rver) would overwrite: ask first. An object of
    // another size under the key is one cut short (a store that kept a body whose connection
    // closed mid-way, as s3rver does): it is replaced.
    Result<int64_t> stored = co_await StoredSize(key);
    if (stored.ok() && *stored == size) co_return PutOutcome{.created = false, .size = *stored};
    replace = stored.ok();
  }
  http::ClientRequest put = Request("PUT", object);
  put.body = std::move(bytes);
  put.headers.emplace_back("Content-Type", "application/octet-stream");
  if (!replace) put.headers.emplace_back("If-None-Match", "*");
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
    if (stored.ok() && *stored == size) {
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

Result<std::string> UploadIdOf(std::string_view xml) {
  pugi::xml_document doc;
  doc.load_buffer(xml.data(), xml.size());
  std::string upload_id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
  if (upload_id.empty()) return absl::InternalError("S3 gave no UploadId");
  return upload_id;
}

Result<S3ListPage> ListPageOf(std::string_view xml) {
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size()))
    return absl::InternalError("S3 sent a listing that is not XML");
  pugi::xml_node result = doc.child("ListBucketResult");
  S3ListPage page;
  for (pugi::xml_node item : result.children("Contents")) {
    BlobInfo object{.key = item.child_value("Key"), .size = 0};
    if (!ParseInt(item.child_value("Size"), object.size) || object.size < 0)
      return absl::InternalError(StrCat("S3 listed ", object.key, " without a size"));
    page.objects.push_back(std::move(object));
  }
  if (std::string_view(result.child_value("IsTruncated")) == "true") {
    page.next_token = result.child_value("NextContinuationToken");
    if (page.next_token.empty())
      return absl::InternalError("S3 sent a cut listing without a continuation token");
  }
  return page;
}

asio::awaitable<Result<std::string>> S3BlobStore::StartMultipart(std::string object) {
  SLUICE_CO_ASSIGN_OR_RETURN(http::ClientResponse started,
                             co_await Send(Request("POST", object, "uploads")));
  if (!started.successful()) co_return S3Error(started, StrCat("starting the upload of ", object));
  SLUICE_CO_ASSIGN_OR_RETURN(std::string upload_id, UploadIdOf(started.body));
  co_return StrCat("uploadId=", http::AwsUriEncode(upload_id, false));
}

asio::awaitable<void> S3BlobStore::UploadPart(Part part,
                                              [[maybe_unused]] runtime::Limiter::Permit permit) {
  // Named, not written inside the co_await: g++ 12 double-frees some such lambdas.
  auto read_part = [&part]() -> Result<std::string> {
    std::ifstream in(part.source, std::ios::binary);
    in.seekg(part.offset);
    std::string data(static_cast<size_t>(part.length), '\0');
    if (!in.read(data.data(), part.length))
      return absl::DataLossError(StrCat(part.source.string(), " shrank while uploading"));
    return data;
  };
  Result<std::string> bytes = co_await runtime::RunOn(blocking_, read_part);
  if (!bytes.ok()) {
    if (part.failed->ok()) *part.failed = bytes.status();
    co_return;
  }
  http::ClientRequest put =
      Request("PUT", part.object, StrCat("partNumber=", part.number, "&", part.upload_query));
  put.body = std::move(*bytes);
  Result<http::ClientResponse> response = co_await Send(std::move(put));
  if (response.ok() && response->successful()) {
    *part.etag = response->Header("etag");
  } else if (part.failed->ok()) {
    *part.failed = response.ok() ? S3Error(*response, "uploading a part") : response.status();
  }
}

asio::awaitable<Status> S3BlobStore::CompleteMultipart(std::string object, std::string upload_query,
                                                       std::vector<std::string> etags) {
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
    co_return absl::OkStatus();
  co_return done.ok() ? S3Error(*done, StrCat("completing the upload of ", object)) : done.status();
}

asio::awaitable<void> S3BlobStore::AbortMultipart(std::string object, std::string upload_query) {
  Result<http::ClientResponse> aborted = co_await Send(Request("DELETE", object, upload_query));
  (void)aborted;  // best effort: a lifecycle rule cleans up what this leaves
}

asio::awaitable<Result<PutOutcome>> S3BlobStore::PutMultipart(std::string object,
                                                              std::filesystem::path source,
                                                              int64_t size) {
  SLUICE_CO_ASSIGN_OR_RETURN(std::string upload_query, co_await StartMultipart(object));
  int64_t parts = (size + options_.part_size - 1) / options_.part_size;
  std::vector<std::string> etags(static_cast<size_t>(parts));
  Status failed;
  runtime::Limiter in_flight(loop_, static_cast<size_t>(std::max(1, options_.parts_in_flight)));
  runtime::TaskGroup group(loop_);
  for (int64_t n = 0; n < parts && failed.ok(); ++n) {
    runtime::Limiter::Permit permit = co_await in_flight.Acquire();
    int64_t offset = n * options_.part_size;
    // A named Part: g++ 12 mishandles a braced temporary passed to a coroutine.
    Part part{object,
              upload_query,
              static_cast<int>(n + 1),
              source,
              offset,
              std::min(options_.part_size, size - offset),
              &etags[static_cast<size_t>(n)],
              &failed};
    group.Spawn(UploadPart(std::move(part), std::move(permit)));
  }
  co_await group.Wait();
  if (failed.ok()) failed = co_await CompleteMultipart(object, upload_query, etags);
  if (failed.ok()) co_return PutOutcome{.created = true, .size = size};
  co_await AbortMultipart(object, upload_query);
  co_return failed;
}

// The streaming put: parts go up as the download grows the file, into a provisional object
// under uploads/; Finish completes it there and copies it to the content key (server side), so
// the network upload overlaps the download. Anything unusual — a restart of the source, a
// failed part — falls back to a plain PutFile of the finished file.
class S3BlobStore::StreamingUpload : public StreamingPut {
 public:
  explicit StreamingUpload(S3BlobStore& store)
      : store_(store),
        poke_(store.loop_),
        in_flight_(store.loop_, static_cast<size_t>(std::max(1, store.options_.parts_in_flight))),
        pump_(store.loop_),
        parts_(store.loop_) {}

  void Grew(const std::filesystem::path& file, int64_t bytes) override {
    if (broken_ || finishing_) return;
    file_ = file;
    available_ = bytes;
    if (!started_ && bytes >= store_.options_.multipart_threshold) {
      started_ = true;
      // Grew runs inside libcurl's write callback, where no new transfer may start: the pump
      // begins from the loop's queue instead.
      asio::post(store_.loop_, [this] { pump_.Spawn(Pump()); });
    }
    poke_.cancel();
  }

  void Restarted() override {
    broken_ = true;
    poke_.cancel();
  }

  asio::awaitable<Result<PutOutcome>> Finish(std::string key, std::filesystem::path file,
                                             int64_t size, PutOptions options) override {
    SLUICE_CO_RETURN_IF_ERROR(ValidateKey(key));
    finishing_ = true;
    file_ = file;
    final_size_ = size;
    poke_.cancel();
    co_await PumpStarted();
    co_await pump_.Wait();
    if (!started_ || broken_ || !failed_.ok()) {
      co_await Abort();
      co_return co_await store_.PutFile(std::move(key), std::move(file), options);
    }
    Status completed = co_await store_.CompleteMultipart(staging_, upload_query_, etags_);
    if (!completed.ok()) {
      co_await Abort();
      co_return co_await store_.PutFile(std::move(key), std::move(file), options);
    }
    upload_query_.clear();  // completed: nothing to abort any more
    Result<PutOutcome> outcome = co_await Publish(key, size, options);
    Result<http::ClientResponse> removed = co_await store_.Send(store_.Request("DELETE", staging_));
    (void)removed;  // best effort: uploads/ is provisional by name
    std::error_code ec;
    if (outcome.ok() && options.consume_source) std::filesystem::remove(file, ec);
    co_return outcome;
  }

  asio::awaitable<void> Abort() override {
    broken_ = true;
    poke_.cancel();
    co_await PumpStarted();
    co_await pump_.Wait();
    if (!upload_query_.empty()) {
      co_await store_.AbortMultipart(staging_, upload_query_);
      upload_query_.clear();
    }
  }

  int64_t sent_before_finish() const override { return sent_before_finish_; }

 private:
  // Starts the provisional upload, then sends every whole part as it becomes available, and
  // the rest once Finish gave the final size.
  asio::awaitable<void> Pump() {
    staging_ = store_.ObjectName(StrCat("uploads/", RandomHex()));
    Result<std::string> query = co_await store_.StartMultipart(staging_);
    if (!query.ok()) {
      failed_ = query.status();
      co_return;
    }
    upload_query_ = *query;
    const int64_t part_size = store_.options_.part_size;
    while (!broken_ && failed_.ok()) {
      int64_t offset = next_part_ * part_size;
      int64_t limit = finishing_ ? final_size_ : available_;
      bool whole = offset + part_size <= limit;
      bool tail = finishing_ && offset < final_size_;
      if (whole || tail) {
        runtime::Limiter::Permit permit = co_await in_flight_.Acquire();
        if (broken_) break;
        etags_.emplace_back();
        Part part{staging_, upload_query_, static_cast<int>(next_part_ + 1),
                  file_,    offset,        std::min(part_size, limit - offset),
                  nullptr,  &failed_};
        ++next_part_;
        if (!finishing_) ++sent_before_finish_;
        parts_.Spawn(UploadPartAt(std::move(part), std::move(permit)));
        continue;
      }
      if (finishing_) break;  // every byte is on its way
      poke_.expires_at(asio::steady_timer::time_point::max());
      boost::system::error_code ec;
      co_await poke_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_await parts_.Wait();
  }

  // The pump's start is posted by Grew; the loop's queue is FIFO, so once a post made now has
  // run, the pump is in its TaskGroup and Wait() sees it.
  asio::awaitable<void> PumpStarted() {
    if (started_) co_await asio::post(store_.loop_, asio::use_awaitable);
  }

  // etags_ grows while parts fly: each part finds its slot by number when it lands.
  asio::awaitable<void> UploadPartAt(Part part, runtime::Limiter::Permit permit) {
    std::string etag;
    part.etag = &etag;
    size_t slot = static_cast<size_t>(part.number - 1);
    co_await store_.UploadPart(std::move(part), std::move(permit));
    etags_[slot] = std::move(etag);
  }

  // The completed provisional object becomes `key`: kept as it is when the key exists already
  // (content-addressed: same bytes), else copied on the server.
  asio::awaitable<Result<PutOutcome>> Publish(std::string key, int64_t size, PutOptions options) {
    KeyGuard guard = co_await store_.LockKey(key);
    if (!options.overwrite) {
      Result<int64_t> stored = co_await store_.StoredSize(key);
      if (stored.ok()) co_return PutOutcome{.created = false, .size = *stored};
    }
    http::ClientRequest copy = store_.Request("PUT", store_.ObjectName(key));
    copy.headers.emplace_back("x-amz-copy-source", StrCat("/", store_.options_.bucket, "/",
                                                          http::AwsUriEncode(staging_, true)));
    SLUICE_CO_ASSIGN_OR_RETURN(http::ClientResponse copied, co_await store_.Send(std::move(copy)));
    if (!copied.successful() || copied.body.find("<Error>") != std::string::npos)
      co_return S3Error(copied, StrCat("publishing ", key));
    co_return PutOutcome{.created = true, .size = size};
  }

  static std::string RandomHex() {
    thread_local std::mt19937_64 random(std::random_device{}());
    return absl::StrCat(absl::Hex(random(), absl::kZeroPad16),
                        absl::Hex(random(), absl::kZeroPad16));
  }

  S3BlobStore& store_;
  asio::steady_timer poke_;
  runtime::Limiter in_flight_;
  runtime::TaskGroup pump_;
  runtime::TaskGroup parts_;
  std::filesystem::path file_;
  int64_t available_ = 0;
  int64_t final_size_ = 0;
  int64_t next_part_ = 0;
  int64_t sent_before_finish_ = 0;
  bool started_ = false, finishing_ = false, broken_ = false;
  std::string staging_, upload_query_;
  std::vector<std::string> etags_;
  Status failed_;
};

std::unique_ptr<StreamingPut> S3BlobStore::BeginStreamingPut() {
  return std::make_unique<StreamingUpload>(*this);
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
    SLUICE_CO_ASSIGN_OR_RETURN(S3ListPage page, ListPageOf(response.body));
    for (BlobInfo& object : page.objects) {
      if (object.key.size() >= strip) out.push_back({object.key.substr(strip), object.size});
    }
    token = std::move(page.next_token);
    if (token.empty()) break;
  }
  std::sort(out.begin(), out.end(),
            [](const BlobInfo& a, const BlobInfo& b) { return a.key < b.key; });
  co_return out;
}

asio::awaitable<Status> S3BlobStore::Flush() { co_return absl::OkStatus(); }

}  // namespace sluice::storage
