#include "http/fetcher.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/file_io.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "http/retry_after.h"
#include "runtime/offload.h"

namespace sluice::http {
namespace {

// "no_space" when the scratch disk is full (the operator frees space; a rerun continues),
// "scratch_write_failed" for any other write error.
std::string_view ScratchCause(const Status& written) {
  return absl::IsResourceExhausted(written) ? "no_space" : "scratch_write_failed";
}

using Clock = std::chrono::steady_clock;

// Bodies are written in chunks of this size; most images fit in one, so one write per file.
constexpr int64_t kWriteChunk = 128 * 1024;
// Error pages are read this far (to keep the connection reusable), then the transfer is cut.
constexpr int64_t kMaxDiscard = 64 * 1024;

// "bytes 100-199/1000" → start 100, total 1000 (-1 for "*").
bool ParseContentRange(std::string_view value, int64_t& start, int64_t& total) {
  value = Trim(value);
  if (!ConsumePrefix(value, "bytes ")) return false;
  size_t dash = value.find('-'), slash = value.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash)
    return false;
  if (!ParseInt(value.substr(0, dash), start)) return false;
  std::string_view total_text = value.substr(slash + 1);
  if (total_text == "*") {
    total = -1;
    return true;
  }
  return ParseInt(total_text, total);
}

}  // namespace

// The state of one Fetch across its attempts. curl callbacks receive a pointer to it.
struct Fetcher::Download {
  const FetchOptions* options = nullptr;
  std::string url;
  std::string final_url;
  bool is_file = false;
  std::filesystem::path path;
  int fd = -1;
  Sha256 hash;            // of the bytes written
  int64_t committed = 0;  // body bytes buffered or written
  std::string buffer;     // not yet written nor hashed
  std::string head;       // the first kSniffBytes of the body
  // Validators of the representation being downloaded, from its first 200 response.
  std::string etag, last_modified;
  int64_t total = -1;
  bool ranges_refused = false;
  // This attempt's response.
  long status = 0;
  std::string content_range, retry_after, accept_ranges, resp_etag, resp_last_modified;
  bool body_started = false;
  bool discarding = false;
  int64_t discarded = 0;
  Status abort;          // set when a callback cut the transfer
  ConnectGuard guard;    // the SSRF guard; `guard.refused` says why it refused an address
  bool restart = false;  // next attempt starts from byte 0
  // Totals.
  int requests = 0, resumes = 0;
  int64_t received = 0;
  Clock::time_point deadline;
  Clock::time_point last_activity;  // of this attempt: the last header line or body byte
  CURL* easy = nullptr;             // the running attempt's handle
  BodyObserver* observer = nullptr;
  char error[CURL_ERROR_SIZE] = {};

  ~Download() {
    if (fd < 0) return;
    close(fd);
    if (!path.empty()) unlink(path.c_str());
  }

  // The scratch file is made at the first write, off the loop for most bodies.
  Status OpenScratch() {
    if (fd >= 0) return absl::OkStatus();
    fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd >= 0) return absl::OkStatus();
    bool full = errno == ENOSPC || errno == EDQUOT;
    return Failure(full ? absl::StatusCode::kResourceExhausted : absl::StatusCode::kInternal,
                   full ? "no_space" : "scratch_write_failed",
                   StrCat("creating a scratch file in ", path.parent_path().string(), ": ",
                          std::strerror(errno)));
  }

  // Hashes and writes what is buffered. Touches nothing but this download: may run off the loop.
  Status WriteBuffered() {
    SLUICE_RETURN_IF_ERROR(OpenScratch());
    hash.Update(buffer);
    Status written = WriteAll(fd, buffer, path.string());
    buffer.clear();
    return WithCause(written, ScratchCause(written));
  }

  // On the loop.
  Status Flush() {
    SLUICE_RETURN_IF_ERROR(WriteBuffered());
    TellObserver();
    return absl::OkStatus();
  }

  void TellObserver() {
    if (observer != nullptr && committed > 0) observer->OnBodyBytes(path, committed);
  }

  void StartOver() {
    if (observer != nullptr && committed > 0) observer->OnBodyRestart();
    buffer.clear();
    head.clear();
    hash.Reset();
    committed = 0;
    if (fd >= 0 && (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)) {
      abort = Failure(absl::StatusCode::kInternal, "scratch_write_failed", std::strerror(errno));
    }
  }

  void ResetResponse() {
    status = 0;
    content_range.clear();
    retry_after.clear();
    accept_ranges.clear();
    resp_etag.clear();
    resp_last_modified.clear();
  }

  // Decides, at the first body byte of an attempt, what to do with the body.
  bool BeginBody() {
    body_started = true;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (is_file) status = 200;
    if (status < 200 || status >= 300) {
      discarding = true;
      return true;
    }
    if (committed > 0 && status == 206) {
      int64_t start = -1, range_total = -1;
      if (ParseContentRange(content_range, start, range_total) && start == committed &&
          (total < 0 || range_total < 0 || range_total == total)) {
        return true;
      }
      abort = Failure(absl::StatusCode::kUnavailable, "range_mismatch",
                      StrCat("server answered Range ", committed, "- with '", content_range, "'"));
      restart = true;
      return false;
    }
    if (status == 206) {
      abort = Failure(absl::StatusCode::kUnavailable, "range_mismatch", "unrequested 206 response");
      restart = true;
      return false;
    }
    // A full representation: a first download, or a server that ignored our Range.
    if (committed > 0) StartOver();
    etag = std::string_view(resp_etag).starts_with("W/") ? "" : resp_etag;
    last_modified = resp_last_modified;
    ranges_refused = ToLower(accept_ranges) == "none";
    curl_off_t length = -1;
    curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    total = length;
    // One allocation sized to the body (up to a write chunk) instead of repeated growth.
    buffer.reserve(static_cast<size_t>(std::clamp<int64_t>(total, 0, kWriteChunk)));
    if (total > options->max_bytes) {
      abort = TooLarge();
      return false;
    }
    return abort.ok();
  }

  Status TooLarge() const {
    return Failure(absl::StatusCode::kFailedPrecondition, "too_large",
                   StrCat("body exceeds the size limit of ", options->max_bytes, " bytes"));
  }

  size_t OnBody(const char* data, size_t n) {
    last_activity = Clock::now();
    if (!body_started && !BeginBody()) return 0;
    if (discarding) {
      discarded += static_cast<int64_t>(n);
      return discarded > kMaxDiscard ? 0 : n;
    }
    received += static_cast<int64_t>(n);
    if (committed + static_cast<int64_t>(n) > options->max_bytes) {
      abort = TooLarge();
      return 0;
    }
    if (head.size() < kSniffBytes) {
      head.append(data, std::min(n, kSniffBytes - head.size()));
      if (head.size() >= kSniffBytes) {
        if (Status s = CheckMedia(); !s.ok()) {
          abort = s;
          return 0;
        }
      }
    }
    buffer.append(data, n);
    committed += static_cast<int64_t>(n);
    if (buffer.size() >= kWriteChunk) {
      if (Status s = Flush(); !s.ok()) {
        abort = s;
        return 0;
      }
    }
    return n;
  }

  Status CheckMedia() const {
    SniffedType type = SniffContentType(head);
    if (type.kind != MediaKind::kOther) return absl::OkStatus();
    return Failure(absl::StatusCode::kFailedPrecondition, "unsupported_content",
                   StrCat("the body is ", type.mime, ", not an image, video or audio"));
  }

  void OnHeaderLine(std::string_view line) {
    last_activity = Clock::now();
    if (std::string_view(line).starts_with("HTTP/")) {
      ResetResponse();
      return;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    std::string name = ToLower(Trim(line.substr(0, colon)));
    std::string value(Trim(line.substr(colon + 1)));
    if (name == "content-range")
      content_range = value;
    else if (name == "retry-after")
      retry_after = value;
    else if (name == "accept-ranges")
      accept_ranges = value;
    else if (name == "etag")
      resp_etag = value;
    else if (name == "last-modified")
      resp_last_modified = value;
  }

  static size_t WriteCallback(char* data, size_t size, size_t count, void* self) {
    return static_cast<Download*>(self)->OnBody(data, size * count);
  }
  static size_t HeaderCallback(char* data, size_t size, size_t count, void* self) {
    static_cast<Download*>(self)->OnHeaderLine(std::string_view(data, size * count));
    return size * count;
  }
  // curl's own low-speed check averages over several seconds; this is "no byte for N s".
  static int ProgressCallback(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* download = static_cast<Download*>(self);
    Duration idle = std::chrono::duration_cast<Duration>(Clock::now() - download->last_activity);
    if (idle < download->options->stall_timeout) return 0;
    download->abort = Failure(absl::StatusCode::kUnavailable, "stalled",
                              StrCat("no data for ", idle.count(), " ms"));
    return 1;
  }
  bool Resumable() const {
    return !is_file && committed > 0 && !ranges_refused && !restart &&
           (!etag.empty() || !last_modified.empty() || total >= 0);
  }
};

namespace {

// Classifies an HTTP status that ended an attempt without a usable body.
Status StatusFailure(long status, std::string_view retry_after) {
  std::string cause = StrCat("http_", status);
  std::string message = StrCat("server answered HTTP ", status);
  if (!retry_after.empty()) StrAppend(message, " (Retry-After: ", retry_after, ")");
  if (status == 404 || status == 410) return Failure(absl::StatusCode::kNotFound, cause, message);
  if (status == 429) return Failure(absl::StatusCode::kResourceExhausted, cause, message);
  if (status == 408 || status == 425 || status >= 500) {
    return Failure(absl::StatusCode::kUnavailable, cause, message);
  }
  return Failure(absl::StatusCode::kFailedPrecondition, cause, message);
}

bool LooksLikeLocalPath(std::string_view url) {
  return std::string_view(url).starts_with("/") || std::string_view(url).starts_with("./") ||
         std::string_view(url).starts_with("../");
}

}  // namespace

Result<std::unique_ptr<Fetcher>> Fetcher::Create(HttpClient& client, runtime::Runtime& runtime,
                                                 FetchOptions options) {
  if (options.scratch_dir.empty())
    return absl::InvalidArgumentError("FetchOptions.scratch_dir is empty");
  std::error_code ec;
  std::filesystem::create_directories(options.scratch_dir, ec);
  if (ec || access(options.scratch_dir.c_str(), W_OK) != 0) {
    return Failure(absl::StatusCode::kFailedPrecondition, "data_dir_unwritable",
                   StrCat("cannot write to ", options.scratch_dir.string(),
                          ec ? StrCat(": ", ec.message()) : ""));
  }
  for (const std::string& endpoint : options.addresses.allowed_endpoints) {
    SLUICE_RETURN_IF_ERROR(ValidateEndpoint(endpoint));
  }
  return std::unique_ptr<Fetcher>(new Fetcher(client, runtime, std::move(options)));
}

Fetcher::Fetcher(HttpClient& client, runtime::Runtime& runtime, FetchOptions options)
    : client_(client),
      loop_(runtime.loop_executor()),
      blocking_(runtime.blocking()),
      options_(std::move(options)),
      random_(std::random_device{}()) {}

Fetcher::~Fetcher() = default;

void Fetcher::Stop() {
  stopped_ = true;
  for (asio::steady_timer* timer : sleepers_) timer->cancel();
  // Only this fetcher's transfers: the client also carries other sets' fetches, provider calls
  // and uploads.
  for (CURL* easy : std::set<CURL*>(active_)) client_.Abort(easy);
}

asio::awaitable<bool> Fetcher::Sleep(Duration duration) {
  asio::steady_timer timer(loop_, duration);
  sleepers_.insert(&timer);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  sleepers_.erase(&timer);
  co_return !stopped_;
}

asio::awaitable<Result<FetchedFile>> Fetcher::Fetch(std::string url, BodyObserver* observer) {
  auto interrupted = [] {
    return Failure(absl::StatusCode::kCancelled, "interrupted", "run interrupted");
  };
  if (stopped_) co_return interrupted();
  Download d;
  d.options = &options_;
  d.observer = observer;
  d.deadline = Clock::now() + options_.total_timeout;

  // Scheme and literal-address checks up front, for a clear message before any connection.
  std::string request_url = url;
  if (options_.allow_files && LooksLikeLocalPath(url)) {
    std::error_code ec;
    request_url = "file://" + std::filesystem::absolute(url, ec).lexically_normal().string();
  }
  auto parsed = boost::urls::parse_uri(request_url);
  if (!parsed) {
    co_return Failure(absl::StatusCode::kInvalidArgument, "bad_url",
                      StrCat("'", url, "' is not a URL (", parsed.error().message(), ")"));
  }
  std::string scheme = ToLower(parsed->scheme());
  d.is_file = scheme == "file";
  if (d.is_file && !options_.allow_files) {
    co_return Failure(absl::StatusCode::kPermissionDenied, "scheme_not_allowed",
                      "local files are refused unless --allow-files is given");
  }
  if (!d.is_file && scheme != "http" && scheme != "https") {
    co_return Failure(absl::StatusCode::kPermissionDenied, "scheme_not_allowed",
                      StrCat("scheme '", scheme, "' is refused: only http and https"));
  }
  if (!d.is_file) {
    std::string host =
        parsed->encoded_host_and_port().empty() ? "" : std::string(parsed->encoded_host());
    if (host.empty())
      co_return Failure(absl::StatusCode::kInvalidArgument, "bad_url", "the URL has no host");
    if (std::optional<sockaddr_storage> literal = ParseIpLiteral(host)) {
      int port = parsed->has_port() ? parsed->port_number() : (scheme == "https" ? 443 : 80);
      auto* sa = reinterpret_cast<sockaddr*>(&*literal);
      if (sa->sa_family == AF_INET)
        reinterpret_cast<sockaddr_in*>(sa)->sin_port = htons(port);
      else
        reinterpret_cast<sockaddr_in6*>(sa)->sin6_port = htons(port);
      SLUICE_CO_RETURN_IF_ERROR(options_.addresses.Check(sa));
    }
  }

  d.path = options_.scratch_dir / StrCat(std::to_string(random_()), ".part");
  d.url = request_url;

  int failures = 0;
  Status last;
  for (;;) {
    if (stopped_) co_return interrupted();
    int64_t before = d.committed;
    last = co_await Attempt(d);
    if (last.ok()) break;
    if (stopped_) co_return interrupted();
    if (Clock::now() >= d.deadline) {
      co_return Failure(absl::StatusCode::kDeadlineExceeded, "timeout",
                        StrCat("gave up after ", options_.total_timeout.count() / 1000,
                               " s (last error: ", last.message(), ")"));
    }
    if (!IsRetryable(last)) co_return last;
    // A dropped connection that made progress is resumed at once for free; a stall spends a
    // retry (the server is unhealthy), though the next attempt still resumes with Range.
    bool dropped = CauseOf(last) == "truncated" || CauseOf(last) == "connection_dropped";
    if (dropped && d.Resumable() && d.committed > before && d.resumes < options_.max_resumes) {
      ++d.resumes;
      continue;  // progress was made: resume at once without spending a retry
    }
    if (++failures >= options_.retry.max_attempts) co_return last;
    std::optional<Duration> hint = ParseRetryAfter(d.retry_after, std::chrono::system_clock::now());
    Duration wait = options_.retry.Backoff(failures, hint, random_);
    auto left = std::chrono::duration_cast<Duration>(d.deadline - Clock::now());
    if (!co_await Sleep(std::min(wait, left))) co_return interrupted();
    if (d.committed > 0 && d.Resumable()) ++d.resumes;
  }

  if (d.committed == 0) {
    co_return Failure(absl::StatusCode::kFailedPrecondition, "empty_body", "the body is empty");
  }
  SLUICE_CO_RETURN_IF_ERROR(d.CheckMedia());
  // The body's last chunk (most images: all of it) is hashed and written on the blocking pool:
  // that is most of a download's CPU, and the loop goes on with the other transfers meanwhile.
  auto write_last_chunk = [&d]() -> Status {
    SLUICE_RETURN_IF_ERROR(d.WriteBuffered());
    close(std::exchange(d.fd, -1));
    return absl::OkStatus();
  };
  SLUICE_CO_RETURN_IF_ERROR(co_await runtime::RunOn(blocking_, write_last_chunk));
  d.TellObserver();
  FetchedFile out;
  out.url = url;
  out.final_url = d.final_url;
  out.path = std::exchange(d.path, {});
  out.sha256 = d.hash.FinishHex();
  out.size = d.committed;
  out.type = SniffContentType(d.head);
  out.requests = d.requests;
  out.resumes = d.resumes;
  out.bytes_received = d.received;
  co_return out;
}

asio::awaitable<Status> Fetcher::Attempt(Download& d) {
  EasyHandle easy = client_.TakeEasyHandle();
  if (!easy) co_return absl::InternalError("curl_easy_init failed");
  CURL* e = easy.get();
  d.easy = e;
  d.ResetResponse();
  d.body_started = false;
  d.discarding = false;
  d.discarded = 0;
  d.abort = absl::OkStatus();
  d.error[0] = '\0';
  if (d.restart) {
    d.StartOver();
    d.restart = false;
  } else if (!d.Resumable() && d.committed > 0) {
    d.StartOver();
  }
  ++d.requests;
  d.last_activity = Clock::now();

  auto remaining = std::chrono::duration_cast<Duration>(d.deadline - Clock::now());
  curl_easy_setopt(e, CURLOPT_URL, d.url.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, d.error);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
                   options_.allow_files ? "http,https,file" : "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, options_.max_redirects);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, std::max<long>(1, static_cast<long>(remaining.count())));
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(
      e, CURLOPT_LOW_SPEED_TIME,
      std::max<long>(1, static_cast<long>((options_.stall_timeout.count() + 999) / 1000)));
  curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(options_.max_bytes));
  curl_easy_setopt(e, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 64L * 1024);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Download::WriteCallback);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &d);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Download::HeaderCallback);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &d);
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, &Download::ProgressCallback);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, &d);
  d.guard = ConnectGuard{&options_.addresses, absl::OkStatus()};
  d.guard.Install(e);
  CurlList resolve, headers;
  for (const std::string& entry : options_.resolve) resolve.Append(entry);
  if (resolve.get()) curl_easy_setopt(e, CURLOPT_RESOLVE, resolve.get());
  std::string range;
  if (d.committed > 0) {
    SLUICE_CO_RETURN_IF_ERROR(d.Flush());
    range = StrCat(d.committed, "-");
    curl_easy_setopt(e, CURLOPT_RANGE, range.c_str());
    // If-Range makes a changed resource come back whole (200) instead of a wrong tail.
    if (!d.etag.empty())
      headers.Append("If-Range: " + d.etag);
    else if (!d.last_modified.empty())
      headers.Append("If-Range: " + d.last_modified);
    if (headers.get()) curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get());
  }

  active_.insert(e);
  CURLcode code = co_await client_.Perform(e);
  active_.erase(e);
  // The handle goes back to the pool when this attempt ends (after the getinfo calls below).
  struct Recycle {
    Fetcher* fetcher;
    EasyHandle& handle;
    ~Recycle() { fetcher->client_.ReturnEasyHandle(std::move(handle)); }
  } recycle{this, easy};
  d.easy = nullptr;
  char* effective = nullptr;
  curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &effective);
  if (effective) d.final_url = effective;
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  if (d.is_file && code == CURLE_OK) status = 200;

  if (!d.abort.ok()) co_return d.abort;
  if (!d.guard.refused.ok() && (code == CURLE_COULDNT_CONNECT || code == CURLE_ABORTED_BY_CALLBACK))
    co_return d.guard.refused;
  if (code == CURLE_OK || (d.discarding && code == CURLE_WRITE_ERROR)) {
    if (status < 200 || status >= 300) co_return StatusFailure(status, d.retry_after);
    if (d.total >= 0 && d.committed != d.total) {
      co_return Failure(absl::StatusCode::kUnavailable, "truncated",
                        StrCat("received ", d.committed, " of ", d.total, " bytes"));
    }
    co_return absl::OkStatus();
  }
  curl_off_t connect_time = 0;
  curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connect_time);
  co_return CurlFailureStatus(code, d.error, connect_time > 0 || status != 0);
}

}  // namespace sluice::http
