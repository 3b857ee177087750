// HttpServer: HTTP/1.1 on the runtime's event loop (Boost.Beast) for `sluice serve` — the same
// loop as fetches and provider calls: handlers await, and send blocking work to the pools.
//
// Connections stay open between requests. A request's header must arrive whole within
// `header_timeout` (which also ends an idle connection): a client that sends slowly cannot hold
// a connection. A body larger than `max_body_bytes` is refused with 413 before it is read, and
// must arrive within `body_timeout`. Requests on one connection are answered in order.
//
// Event-loop only.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice::api {

struct Request {
  std::string method;                          // "GET"
  std::string path;                            // percent-decoded, without the query
  std::map<std::string, std::string> query;    // decoded; the last of a repeated name
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  bool from_loopback = false;  // the peer's address is 127.0.0.0/8 or ::1
  // Route parameters ("{token}" → value), filled by the Router.
  std::map<std::string, std::string> params;

  // The header's value, or "" when absent. `name` lowercase.
  std::string Header(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using Handler = std::function<boost::asio::awaitable<Response>(Request)>;

struct ServerOptions {
  std::string address = "127.0.0.1";
  int port = 8080;  // 0: a free port (see HttpServer::port)
  int64_t max_body_bytes = int64_t{32} << 20;
  std::chrono::milliseconds header_timeout{15'000};
  std::chrono::milliseconds body_timeout{60'000};
};

class HttpServer {
 public:
  // Binds and listens. InvalidArgument for an address that is not an IP address; Unavailable
  // (cause "listen_failed") when it cannot be bound (in use, not ours).
  static Result<std::unique_ptr<HttpServer>> Listen(boost::asio::any_io_executor loop,
                                                    ServerOptions options, Handler handler);
  ~HttpServer();

  int port() const;
  // "http://127.0.0.1:8080"
  std::string url() const;
  // Whether the bound address is a loopback one.
  bool loopback() const;

  // Accepts connections until Stop(), serving each in a coroutine of its own; returns once the
  // acceptor is closed (connections end on their own or at Stop).
  boost::asio::awaitable<void> Run();
  // Closes the acceptor and every open connection. Idempotent.
  void Stop();

  struct State;  // shared with the connections' coroutines

 private:
  explicit HttpServer(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace sluice::api
