#include "testing/fault_proxy.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/strings.h"

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kPollMs = 20;

// Closes with RST instead of FIN.
void ResetAndClose(int fd) {
  linger hard{.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  close(fd);
}

int ConnectTo(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = found; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

// Sends all of `data`, waiting while the socket is full; false when the peer is gone.
bool SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

const char* FaultName(Fault fault) {
  switch (fault) {
    case Fault::kNone:
      return "none";
    case Fault::kLatency:
      return "latency";
    case Fault::kBandwidth:
      return "bandwidth";
    case Fault::kStall:
      return "stall";
    case Fault::kReset:
      return "reset";
    case Fault::kHalfOpen:
      return "half_open";
    case Fault::kRefuse:
      return "refuse";
    case Fault::kCloseIdle:
      return "close_idle";
  }
  return "?";
}

Result<std::unique_ptr<FaultProxy>> FaultProxy::Start(std::string target_host, int target_port) {
  std::unique_ptr<FaultProxy> proxy(new FaultProxy());
  proxy->target_host_ = std::move(target_host);
  proxy->target_port_ = target_port;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(fd, 256) != 0) {
    if (fd >= 0) close(fd);
    return absl::UnavailableError("fault proxy: cannot listen on 127.0.0.1");
  }
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  proxy->listener_ = fd;
  proxy->port_ = ntohs(address.sin_port);
  proxy->acceptor_ = std::thread([raw = proxy.get()] { raw->AcceptLoop(); });
  return proxy;
}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  close(listener_);
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    workers.swap(workers_);
  }
  for (std::thread& worker : workers) worker.join();
}

void FaultProxy::Set(FaultSettings settings) {
  std::lock_guard lock(mu_);
  settings_ = settings;
}

FaultSettings FaultProxy::settings() const {
  std::lock_guard lock(mu_);
  return settings_;
}

void FaultProxy::AcceptLoop() {
  while (!stopping_) {
    pollfd wait{.fd = listener_, .events = POLLIN, .revents = 0};
    if (poll(&wait, 1, kPollMs) <= 0) continue;
    int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ++connections_;
    if (settings().fault == Fault::kRefuse) {
      ++resets_;
      ++affected_;
      ResetAndClose(client);
      continue;
    }
    int one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mu_);
    workers_.emplace_back([this, client] { Serve(client); });
  }
}

void FaultProxy::Serve(int client) {
  if (settings().fault == Fault::kHalfOpen) {
    ++affected_;
    // Read and drop what the client sends; never answer, never close, until the fault lifts
    // (then close: the connection was never really open) or the proxy stops.
    char sink[4096];
    while (!stopping_ && settings().fault == Fault::kHalfOpen) {
      pollfd wait{.fd = client, .events = POLLIN, .revents = 0};
      if (poll(&wait, 1, kPollMs) > 0 && recv(client, sink, sizeof sink, 0) <= 0) break;
    }
    close(client);
    return;
  }
  int server = ConnectTo(target_host_, target_port_);
  if (server < 0) {
    ResetAndClose(client);
    return;
  }
  Connection connection;
  std::thread upstream([&] { Pump(client, server, false, connection); });
  Pump(server, client, true, connection);
  upstream.join();
  if (connection.ending.load() == kResetEnd) {
    ResetAndClose(client);
  } else {
    close(client);
  }
  close(server);
}

void FaultProxy::Pump(int from, int to, bool from_server, Connection& connection) {
  std::atomic<int64_t>& server_bytes = connection.server_bytes;
  std::atomic<int>& ending = connection.ending;
  std::atomic<bool>& touched = connection.touched;
  char buffer[16 * 1024];
  auto touch = [&] {
    if (!touched.exchange(true)) ++affected_;
  };
  while (!stopping_ && ending.load() == kRunning) {
    FaultSettings now = settings();
    if (now.fault == Fault::kRefuse) {
      // The server went away: its open connections die with it.
      touch();
      ++resets_;
      ending = kResetEnd;
      return;
    }
    if (now.fault == Fault::kStall || now.fault == Fault::kHalfOpen) {
      touch();
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
      continue;
    }
    pollfd wait{.fd = from, .events = POLLIN, .revents = 0};
    if (poll(&wait, 1, kPollMs) <= 0) continue;
    size_t want = sizeof buffer;
    if (from_server && now.fault == Fault::kBandwidth) {
      // At most 1/50 s of the allowance per read, then wait out its share of the second.
      want = static_cast<size_t>(std::clamp<int64_t>(now.bytes_per_second / 50, 1, sizeof buffer));
    }
    ssize_t n = recv(from, buffer, want, 0);
    if (n <= 0) break;
    if (!from_server && now.fault == Fault::kCloseIdle && connection.answered.load()) {
      // The client reuses a connection an answer already came back on: the server has just
      // ended its keep-alive, and the request meets a closed connection. Nothing of it is
      // passed on (a server that got half a body would see a request cut short instead).
      touch();
      ending = kCloseEnd;
      break;
    }
    if (now.fault == Fault::kLatency) {
      touch();
      std::this_thread::sleep_for(now.latency);
    }
    if (from_server && now.fault == Fault::kReset && server_bytes.load() + n >= now.reset_after) {
      // Pass on what fits under the limit, then reset the client's connection.
      touch();
      int64_t allowed = std::max<int64_t>(0, now.reset_after - server_bytes.load());
      SendAll(to, buffer, static_cast<size_t>(allowed));
      ++resets_;
      ending = kResetEnd;  // the other direction stops too; Serve resets the client
      return;
    }
    // Before the bytes go on: the client answers to them only once they have arrived.
    connection.answered = from_server;
    if (!SendAll(to, buffer, static_cast<size_t>(n))) break;
    if (from_server) {
      server_bytes += n;
      if (now.fault == Fault::kBandwidth) {
        touch();
        std::this_thread::sleep_for(
            std::chrono::microseconds(1'000'000 * n / now.bytes_per_second));
      }
    }
  }
  // Pass the close on: the other side's peer sees it, and its direction ends in turn.
  shutdown(to, SHUT_WR);
}

}  // namespace sluice::testing
