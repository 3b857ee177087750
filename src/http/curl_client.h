// HttpClient: libcurl's multi-socket API driven by the Asio event loop (DESIGN.md §5).
//
// Every transfer of the process shares one multi handle, so connections (and HTTP/2 streams)
// are reused across requests to the same host, and DNS answers are cached. Callers configure an
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
#include <unordered_map>

#include "common/status.h"

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

  // Ends every transfer in progress; their Perform() calls return CURLE_ABORTED_BY_CALLBACK.
  void AbortAll();
  size_t active_transfers() const { return transfers_.size(); }

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
  asio::steady_timer timer_;
  // The deadline curl asked for, and the one the timer is set to (never later than it).
  std::optional<std::chrono::steady_clock::time_point> timer_wanted_;
  bool timer_armed_ = false;
  std::chrono::steady_clock::time_point timer_armed_at_;
  std::unordered_map<curl_socket_t, std::shared_ptr<Socket>> sockets_;
  std::unordered_map<CURL*, Transfer> transfers_;
};

}  // namespace sluice::http
