#include "http/curl_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>

#include "common/strings.h"

namespace sluice::http {

struct HttpClient::Socket {
  Socket(asio::any_io_executor ex, curl_socket_t fd) : descriptor(ex, fd), fd(fd) {}
  asio::posix::stream_descriptor descriptor;
  curl_socket_t fd;
  int wanted = 0;                    // CURL_POLL_IN / OUT bits curl asked for
  bool waiting[2] = {false, false};  // [0] write, [1] read: a wait or action is queued
  bool closed = false;
};

void ConnectGuard::Install(CURL* easy) {
  auto open_socket = [](void* self, curlsocktype purpose, curl_sockaddr* address) -> curl_socket_t {
    auto* guard = static_cast<ConnectGuard*>(self);
    if (purpose == CURLSOCKTYPE_IPCXN && guard->policy) {
      Status allowed = guard->policy->Check(&address->addr);
      if (!allowed.ok()) {
        guard->refused = allowed;
        return CURL_SOCKET_BAD;
      }
    }
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  };
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION,
                   static_cast<curl_opensocket_callback>(open_socket));
  curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, this);
  // A connection taken from the cache was checked for whoever opened it, under their policy:
  // every request is checked again here, on the address it is about to be sent to, so a media
  // URL cannot ride on the connection a credential or S3 request opened to a private address.
  auto before_request = [](void* self, char* primary_ip, char* /*local_ip*/, int primary_port,
                           int /*local_port*/) -> int {
    auto* guard = static_cast<ConnectGuard*>(self);
    if (!guard->policy) return CURL_PREREQFUNC_OK;
    std::optional<sockaddr_storage> address = ParseIpLiteral(primary_ip);
    if (!address) return CURL_PREREQFUNC_OK;  // not an IP connection (a unix socket)
    auto* raw = reinterpret_cast<sockaddr*>(&*address);
    if (raw->sa_family == AF_INET) {
      reinterpret_cast<sockaddr_in*>(raw)->sin_port = htons(static_cast<uint16_t>(primary_port));
    } else if (raw->sa_family == AF_INET6) {
      reinterpret_cast<sockaddr_in6*>(raw)->sin6_port = htons(static_cast<uint16_t>(primary_port));
    }
    Status allowed = guard->policy->Check(raw);
    if (allowed.ok()) return CURL_PREREQFUNC_OK;
    guard->refused = allowed;
    return CURL_PREREQFUNC_ABORT;
  };
  curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, static_cast<curl_prereq_callback>(before_request));
  curl_easy_setopt(easy, CURLOPT_PREREQDATA, this);
}

Status CurlFailureStatus(CURLcode code, const char* detail, bool connected) {
  std::string message = StrCat(curl_easy_strerror(code), detail[0] ? ": " : "", detail);
  auto fail = [&](absl::StatusCode c, std::string_view cause) {
    return Failure(c, cause, message);
  };
  switch (code) {
    case CURLE_PARTIAL_FILE:
      return fail(absl::StatusCode::kUnavailable, "truncated");
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return fail(absl::StatusCode::kUnavailable, "connection_dropped");
    case CURLE_OPERATION_TIMEDOUT:
      return fail(absl::StatusCode::kUnavailable, connected ? "stalled" : "connect_timeout");
    case CURLE_COULDNT_CONNECT:
      return fail(absl::StatusCode::kUnavailable, "connect_failed");
    case CURLE_COULDNT_RESOLVE_HOST:
      return fail(absl::StatusCode::kUnavailable, "dns_failed");
    case CURLE_TOO_MANY_REDIRECTS:
      return fail(absl::StatusCode::kFailedPrecondition, "too_many_redirects");
    case CURLE_UNSUPPORTED_PROTOCOL:
      return fail(absl::StatusCode::kPermissionDenied, "scheme_not_allowed");
    case CURLE_URL_MALFORMAT:
      return fail(absl::StatusCode::kInvalidArgument, "bad_url");
    case CURLE_FILESIZE_EXCEEDED:
      return fail(absl::StatusCode::kFailedPrecondition, "too_large");
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
      return fail(absl::StatusCode::kFailedPrecondition, "tls_error");
    case CURLE_FILE_COULDNT_READ_FILE:
      return fail(absl::StatusCode::kNotFound, "file_not_found");
    case CURLE_ABORTED_BY_CALLBACK:
      return fail(absl::StatusCode::kCancelled, "interrupted");
    default:
      return fail(absl::StatusCode::kUnavailable, "transfer_error");
  }
}

Result<std::unique_ptr<HttpClient>> HttpClient::Create(asio::any_io_executor loop,
                                                       HttpClientOptions options) {
  static std::once_flag once;
  static CURLcode global = CURLE_OK;
  std::call_once(once, [] { global = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (global != CURLE_OK) return absl::InternalError("curl_global_init failed");
  std::unique_ptr<HttpClient> client(new HttpClient(loop));
  if (!client->multi_) return absl::InternalError("curl_multi_init failed");
  CURLM* m = client->multi_;
  curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, &HttpClient::OnSocket);
  curl_multi_setopt(m, CURLMOPT_SOCKETDATA, client.get());
  curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, &HttpClient::OnTimer);
  curl_multi_setopt(m, CURLMOPT_TIMERDATA, client.get());
  curl_multi_setopt(m, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  client->KeepConnections(options.connection_cache_size);
  return client;
}

void HttpClient::KeepConnections(long connections) {
  if (connections <= connection_cache_size_) return;
  connection_cache_size_ = connections;
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, connections);
}

HttpClient::HttpClient(asio::any_io_executor loop)
    : loop_(loop), multi_(curl_multi_init()), timer_(loop) {}

HttpClient::~HttpClient() {
  AbortAll();
  // Closes cached connections through OnCloseSocket, which needs sockets_ still alive.
  if (multi_) curl_multi_cleanup(multi_);
  timer_.cancel();
}

asio::awaitable<CURLcode> HttpClient::Perform(CURL* easy) {
  curl_easy_setopt(easy, CURLOPT_PRIVATE, this);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, &HttpClient::OnCloseSocket);
  curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, this);
  auto initiation = [this, easy](auto handler) {
    transfers_.emplace(easy, Transfer{easy, std::move(handler)});
    CURLMcode added = curl_multi_add_handle(multi_, easy);
    if (added != CURLM_OK) Complete(easy, CURLE_FAILED_INIT);
  };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(CURLcode)>(
      initiation, asio::use_awaitable);
}

void HttpClient::AbortAll() {
  while (!transfers_.empty()) {
    CURL* easy = transfers_.begin()->first;
    curl_multi_remove_handle(multi_, easy);
    Complete(easy, CURLE_ABORTED_BY_CALLBACK);
  }
}

void HttpClient::Abort(CURL* easy) {
  if (!transfers_.contains(easy)) return;
  curl_multi_remove_handle(multi_, easy);
  Complete(easy, CURLE_ABORTED_BY_CALLBACK);
}

void HttpClient::Complete(CURL* easy, CURLcode code) {
  auto it = transfers_.find(easy);
  if (it == transfers_.end()) return;
  auto handler = std::move(it->second.handler);
  transfers_.erase(it);
  // Posted: curl must not be re-entered from inside its own callbacks.
  asio::post(loop_, [handler = std::move(handler), code]() mutable { std::move(handler)(code); });
}

int HttpClient::OnSocket(CURL*, curl_socket_t fd, int what, void* client, void*) {
  auto* self = static_cast<HttpClient*>(client);
  if (what == CURL_POLL_REMOVE) {
    self->Forget(fd);
  } else {
    self->Watch(fd, what);
  }
  return 0;
}

int HttpClient::OnCloseSocket(void* client, curl_socket_t fd) {
  static_cast<HttpClient*>(client)->Forget(fd);
  return close(fd);
}

int HttpClient::OnTimer(CURLM*, long timeout_ms, void* client) {
  auto* self = static_cast<HttpClient*>(client);
  if (timeout_ms < 0) {
    // No transfer needs a wakeup. Cancel rather than leave one pending: a pending timer keeps
    // the event loop (and Runtime::Run) alive until it fires. Rare, so cheap.
    self->timer_wanted_.reset();
    if (self->timer_armed_) {
      self->timer_armed_ = false;
      self->timer_.cancel();
    }
    return 0;
  }
  self->timer_wanted_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  self->ArmTimer();
  return 0;
}

// curl moves its deadline on almost every action; re-arming the timer each time costs a
// timerfd_settime syscall. So the timer is only moved earlier; when it fires before a later
// wanted deadline it simply re-arms for that one.
void HttpClient::ArmTimer() {
  if (!timer_wanted_ || (timer_armed_ && timer_armed_at_ <= *timer_wanted_)) return;
  timer_armed_ = true;
  timer_armed_at_ = *timer_wanted_;
  timer_.expires_at(timer_armed_at_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // replaced by an earlier deadline
    timer_armed_ = false;
    if (timer_wanted_ && *timer_wanted_ <= std::chrono::steady_clock::now()) {
      timer_wanted_.reset();
      Action(CURL_SOCKET_TIMEOUT, 0);
    }
    ArmTimer();
  });
}

void HttpClient::Watch(curl_socket_t fd, int what) {
  auto& socket = sockets_[fd];
  if (!socket) socket = std::make_shared<Socket>(loop_, fd);
  socket->wanted = what;
  std::shared_ptr<Socket> keep = socket;
  Arm(keep, true);
  Arm(keep, false);
}

void HttpClient::Forget(curl_socket_t fd) {
  auto it = sockets_.find(fd);
  if (it == sockets_.end()) return;
  it->second->closed = true;
  // Deregisters from epoll and cancels the waits without closing: curl owns the descriptor.
  it->second->descriptor.release();
  sockets_.erase(it);
}

// Asio waits on edge-triggered epoll and does not complete a wait for a descriptor that was
// already ready before the wait began; curl expects level-triggered readiness (it may leave
// bytes unread). So before each wait, a zero-timeout poll() checks for readiness already there.
void HttpClient::Arm(const std::shared_ptr<Socket>& socket, bool read) {
  int flag = read ? CURL_POLL_IN : CURL_POLL_OUT;
  if (socket->closed || !(socket->wanted & flag) || socket->waiting[read]) return;
  socket->waiting[read] = true;
  int events = read ? CURL_CSELECT_IN : CURL_CSELECT_OUT;
  auto resume = [this, socket, read, events](boost::system::error_code ec) {
    socket->waiting[read] = false;
    if (ec || socket->closed) return;
    Action(socket->fd, events);
    Arm(socket, read);
  };
  pollfd probe{socket->fd, static_cast<short>(read ? POLLIN : POLLOUT), 0};
  if (poll(&probe, 1, 0) > 0) {
    asio::post(loop_, [resume]() mutable { resume({}); });
    return;
  }
  socket->descriptor.async_wait(
      read ? asio::posix::descriptor_base::wait_read : asio::posix::descriptor_base::wait_write,
      resume);
}

void HttpClient::Action(curl_socket_t fd, int events) {
  int running = 0;
  curl_multi_socket_action(multi_, fd, events, &running);
  CompleteFinished();
}

void HttpClient::CompleteFinished() {
  int left = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
    if (message->msg != CURLMSG_DONE) continue;
    CURL* easy = message->easy_handle;
    CURLcode code = message->data.result;
    curl_multi_remove_handle(multi_, easy);
    Complete(easy, code);
  }
}

EasyHandle HttpClient::TakeEasyHandle() {
  if (idle_handles_.empty()) return EasyHandle(curl_easy_init());
  EasyHandle handle = std::move(idle_handles_.back());
  idle_handles_.pop_back();
  return handle;
}

void HttpClient::ReturnEasyHandle(EasyHandle handle) {
  if (!handle || idle_handles_.size() >= kMaxIdleHandles) return;
  curl_easy_reset(handle.get());
  idle_handles_.push_back(std::move(handle));
}

}  // namespace sluice::http
