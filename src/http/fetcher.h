// Fetcher: downloads one URL into a local scratch file, guarded and resumable (DESIGN.md §2, §6).
//
// The body streams to disk while it is hashed (SHA-256) and its first bytes sniffed; it is never
// held whole in memory. A dropped connection is resumed with a Range request, validated by the
// ETag / Last-Modified / length of the first response; when the server ignores the range the
// download starts over cleanly. Retryable failures (429, 5xx, drops, stalls) are retried under
// the RetryPolicy, honouring Retry-After.
//
// Refused before or while connecting: schemes other than http/https (file only with
// allow_files), and any address the AddressPolicy refuses — checked on the address actually
// being connected, on every redirect hop.
//
// Event-loop only. One Fetcher serves any number of concurrent Fetch() calls.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/content_type.h"
#include "common/status.h"
#include "http/address_guard.h"
#include "http/curl_client.h"
#include "runtime/retry.h"
#include "runtime/runtime.h"

namespace sluice::http {

using runtime::Duration;

struct FetchOptions {
  // Largest body accepted, counted while streaming (not only from Content-Length). Default 2 GiB.
  int64_t max_bytes = int64_t{2} << 30;
  // Redirects followed before failing with "too_many_redirects". Default 5.
  long max_redirects = 5;
  // TCP + TLS connect limit per attempt. Default 10 s.
  Duration connect_timeout{10'000};
  // Fail an attempt ("stalled") when no byte arrives for this long. Whole seconds. Default 30 s.
  Duration stall_timeout{30'000};
  // Limit for the whole fetch, retries and waits included ("timeout"). Default 30 min.
  Duration total_timeout{30 * 60'000};
  // Dropped connections resumed without spending a retry, as long as each resume made progress.
  int max_resumes = 16;
  // Which addresses may be connected to. Default: public addresses only.
  AddressPolicy addresses;
  // Accept file:// URLs and plain local paths. Default false.
  bool allow_files = false;
  // Retries of retryable failures.
  runtime::RetryPolicy retry;
  // Where bodies are written while downloading. Must be on the same filesystem as the object
  // store for the store to move files instead of copying them. Required.
  std::filesystem::path scratch_dir;
  std::string user_agent = "sluice/0.1 (+https://github.com/sluice)";
  // curl --resolve entries, "HOST:PORT:ADDRESS": pin a name to an address (tests, split DNS).
  std::vector<std::string> resolve;
};

// Told how a body grows on disk while it downloads, for work that starts before the body is
// complete (an upload streamed while the download arrives). Called on the event loop from
// inside the transfer: must not block.
class BodyObserver {
 public:
  virtual ~BodyObserver() = default;
  // The first `bytes` of the body are written to `file`.
  virtual void OnBodyBytes(const std::filesystem::path& file, int64_t bytes) = 0;
  // The body starts over from byte 0 (the server ignored a Range): what was reported is void.
  virtual void OnBodyRestart() = 0;
};

struct FetchedFile {
  std::string url;
  // After redirects.
  std::string final_url;
  // The complete body. The caller owns it: move it into the store or delete it.
  std::filesystem::path path;
  std::string sha256;
  int64_t size = 0;
  SniffedType type;
  // Requests made, resumes included.
  int requests = 0;
  // Requests that continued a dropped body with Range.
  int resumes = 0;
  // Body bytes received over the network, restarts included (≥ size).
  int64_t bytes_received = 0;
};

class Fetcher {
 public:
  // InvalidArgument when scratch_dir is empty; FailedPrecondition when it cannot be created or
  // written.
  // Transfers run on `runtime`'s loop; a body's last chunk is hashed and written on its
  // blocking pool.
  static Result<std::unique_ptr<Fetcher>> Create(HttpClient& client, runtime::Runtime& runtime,
                                                 FetchOptions options);
  ~Fetcher();

  // Downloads `url`. On success the body is complete in a scratch file, hashed, and sniffed as
  // image, video or audio. Failures carry a cause (CauseOf) and are:
  //   InvalidArgument    "bad_url"             not a URL, or no host
  //   PermissionDenied   "scheme_not_allowed"  not http/https (file without allow_files)
  //                      "blocked_address"     a non-public address (SSRF guard), any hop
  //   NotFound           "http_404"/"http_410", "file_not_found"
  //   FailedPrecondition "http_<code>"         other 4xx / unfollowable 3xx
  //                      "unsupported_content" the body is not media (e.g. an HTML page)
  //                      "empty_body", "too_large", "too_many_redirects", "tls_error"
  //   Unavailable        "http_5xx"/"http_429", "connection_dropped", "truncated",
  //                      "connect_failed", "dns_failed", "stalled" — after retries ran out
  //   DeadlineExceeded   "timeout"             total_timeout passed
  //   Cancelled          "interrupted"         Stop() was called
  // No scratch file is left behind on failure.
  // `observer`, when given, hears on the event loop how the body grows on disk.
  asio::awaitable<Result<FetchedFile>> Fetch(std::string url, BodyObserver* observer = nullptr);

  // Interrupts every fetch in progress, its transfer aborted at once (they return Cancelled),
  // and fails new ones the same way. Other transfers of the client go on.
  void Stop();

 private:
  struct Download;
  Fetcher(HttpClient& client, runtime::Runtime& runtime, FetchOptions options);
  asio::awaitable<Status> Attempt(Download& download);
  asio::awaitable<bool> Sleep(Duration duration);

  HttpClient& client_;
  asio::any_io_executor loop_;
  asio::thread_pool& blocking_;
  FetchOptions options_;
  std::mt19937_64 random_;
  bool stopped_ = false;
  std::set<asio::steady_timer*> sleepers_;
  // Transfers in progress, aborted by Stop().
  std::set<CURL*> active_;
};

}  // namespace sluice::http
