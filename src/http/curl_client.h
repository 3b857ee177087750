// HttpClient: libcurl's multi-socket API driven by the Asio event loop (DESIGN.md §5).
//
// One client serves the whole process (app::Process owns it): media fetches, provider calls, S3
// and SQS requests share one multi handle, so connections (and HTTP/2 streams) are reused
// across requests to the same host, and DNS answers are cached once. Callers configure an
// easy handle (URL, callbacks, limits) and co_await Perform(); the coroutine resumes when the
// transfer has ended, with curl's result code.
//
// Event-loop only: create, call and destroy on the loop thread.
#pragma once

#include <curl/curl.h>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "http/address_guard.h"

namespace sluice::http {

namespace asio = boost::asio;

struct EasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;

struct HttpClientOptions {
  // Idle connections kept for reuse. Default 0: curl's default (4 × handles in use), which
  // shrinks as transfers finish; set it to the concurrency to keep connections warm.
  long connection_cache_size = 0;
};

// A curl_slist (request headers, --resolve entries) owned for the duration of a transfer.
class CurlList {
 public:
  CurlList() = default;
  CurlList(const CurlList&) = delete;
  CurlList& operator=(const CurlList&) = delete;
  ~CurlList() { curl_slist_free_all(list_); }
  // Keeps the list as it was when curl cannot allocate (the transfer then lacks the entry).
  void Append(const std::string& entry) {
    if (curl_slist* appended = curl_slist_append(list_, entry.c_str())) list_ = appended;
  }
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
};

// Checks every connection an easy handle opens against an AddressPolicy — the SSRF guard on the
// address actually connected, for every redirect hop — and, before each request is sent, the
// connection it goes out on, which may be one another transfer opened under a wider policy.
// When it refuses, `refused` holds why (PermissionDenied, cause "blocked_address") and the
// transfer fails with CURLE_COULDNT_CONNECT or CURLE_ABORTED_BY_CALLBACK. Must outlive the
// transfer.
struct ConnectGuard {
  const AddressPolicy* policy = nullptr;
  Status refused;
  void Install(CURL* easy);
};

// The Status for a curl error that ended a transfer, with a cause: "truncated",
// "connection_dropped", "stalled" / "connect_timeout" (by `connected`), "connect_failed",
// "dns_failed" (Unavailable); "too_many_redirects", "too_large", "tls_error"
// (FailedPrecondition); "scheme_not_allowed" (PermissionDenied); "bad_url"; "file_not_found";
// "interrupted" (Cancelled); "transfer_error" (Unavailable) otherwise.
Status CurlFailureStatus(CURLcode code, const char* detail, bool connected);

class HttpClient {
 public:
  // Fails (Internal) only when libcurl cannot initialise.
  static Result<std::unique_ptr<HttpClient>> Create(asio::any_io_executor loop,
                                                    HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Runs the transfer configured on `easy` until it ends and returns curl's code: CURLE_OK when
  // the HTTP exchange completed (any status), an error code otherwise. CURLE_ABORTED_BY_CALLBACK
  // after AbortAll(). The client owns CURLOPT_PRIVATE and the close-socket callback of `easy`.
  asio::awaitable<CURLcode> Perform(CURL* easy);

  // An easy handle for one transfer: a recycled one when available. A reset handle keeps its
  // buffers and caches, so reuse saves curl's per-transfer allocations.
  EasyHandle TakeEasyHandle();
  // Resets `handle` and keeps it for the next TakeEasyHandle (up to a bound).
  void ReturnEasyHandle(EasyHandle handle);

  // Ends every transfer in progress; their Perform() calls return CURLE_ABORTED_BY_CALLBACK.
  void AbortAll();
  // Keeps at least `connections` idle connections for reuse (never lowers the cache): a front
  // raises it to its concurrency so connections stay warm between items.
  void KeepConnections(long connections);
  // Ends the transfer of `easy` the same way; nothing when it is not in progress.
  void Abort(CURL* easy);
  size_t active_transfers() const { return transfers_.size(); }
  // Whether a wakeup for curl is pending. False once no transfer needs one: a pending timer
  // would keep the event loop, and Runtime::Run, alive for nothing.
  bool timer_pending() const { return timer_armed_; }

 private:
  struct Socket;
  struct Transfer {
    CURL* easy;
    asio::any_completion_handler<void(CURLcode)> handler;
  };

  explicit HttpClient(asio::any_io_executor loop);
  static int OnSocket(CURL* easy, curl_socket_t fd, int what, void* client, void* socket_data);
  static int OnTimer(CURLM* multi, long timeout_ms, void* client);
  static int OnCloseSocket(void* client, curl_socket_t fd);

  void ArmTimer();
  void Watch(curl_socket_t fd, int what);
  void Forget(curl_socket_t fd);
  void Arm(const std::shared_ptr<Socket>& socket, bool read);
  void Action(curl_socket_t fd, int events);
  void CompleteFinished();
  void Complete(CURL* easy, CURLcode code);

  asio::any_io_executor loop_;
  CURLM* multi_ = nullptr;
  long connection_cache_size_ = 0;
  asio::steady_timer timer_;
  // The deadline curl asked for, and the one the timer is set to (never later than it).
  std::optional<std::chrono::steady_clock::time_point> timer_wanted_;
  bool timer_armed_ = false;
  std::chrono::steady_clock::time_point timer_armed_at_;
  std::unordered_map<curl_socket_t, std::shared_ptr<Socket>> sockets_;
  std::unordered_map<CURL*, Transfer> transfers_;
  static constexpr size_t kMaxIdleHandles = 2048;
  std::vector<EasyHandle> idle_handles_;
};

}  // namespace sluice::http
