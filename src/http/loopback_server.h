// LoopbackServer: a small HTTP/1.1 server on a loopback address, on its own thread.
//
// `sluice demo` serves the bundled sample media with it; the tests and benchmarks use its fault
// knobs to play a misbehaving origin: drop the connection mid-body, stall, lie about the length,
// answer slowly. Not a production web server: request bodies by Content-Length only, no TLS.
//
// Thread-safe: Start and the destructor from any one thread; handlers run on the server's
// thread; the counters may be read from anywhere.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"

namespace sluice::http {

struct HttpRequest {
  std::string method;
  std::string target;                          // as sent: path and query
  std::string path;                            // target without the query
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;  // per Content-Length (at most 16 MiB); chunked bodies are not supported

  // The header's value, or "" when absent. `name` lowercase.
  std::string Header(const std::string& name) const;
};

struct HttpReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Content-Length to announce instead of body.size(): a lie when they differ.
  std::optional<int64_t> declared_length;
  // Close the connection after sending this many body bytes.
  std::optional<size_t> drop_after;
  // Send nothing for `stall_for` after this many body bytes.
  std::optional<size_t> stall_after;
  std::chrono::milliseconds stall_for{0};
  // Send no Content-Length and end the body by closing the connection (HTTP/1.0 style), so the
  // client cannot know the size in advance.
  bool omit_length = false;
  // Wait before sending the status line.
  std::chrono::milliseconds delay{0};
  // Close the connection after this reply.
  bool close = false;
};

using HttpHandler = std::function<HttpReply(const HttpRequest&)>;

class LoopbackServer {
 public:
  // Listens on `address`:`port` (0 picks a free port). InvalidArgument for a non-loopback
  // address; Unavailable when the port cannot be bound.
  static Result<std::unique_ptr<LoopbackServer>> Start(HttpHandler handler,
                                                       std::string address = "127.0.0.1",
                                                       int port = 0);
  ~LoopbackServer();

  int port() const { return port_; }
  // "http://127.0.0.1:PORT"
  std::string base_url() const;
  int64_t requests() const { return requests_.load(); }
  int64_t body_bytes_sent() const { return body_bytes_sent_.load(); }

 private:
  struct Impl;
  LoopbackServer() = default;
  std::unique_ptr<Impl> impl_;
  std::string address_;
  int port_ = 0;
  std::atomic<int64_t> requests_{0};
  std::atomic<int64_t> body_bytes_sent_{0};
};

// A reply for `body` honouring Range and If-Range: 206 with Content-Range for a satisfiable
// range, 416 past the end, 200 otherwise. `etag` and `last_modified` are sent when not empty.
HttpReply ServeBytes(const HttpRequest& request, std::string body, std::string content_type,
                     std::string etag = "", std::string last_modified = "");

// A reply serving the file at `root` + request path (Range honoured; 404 when absent; 403 for
// paths that escape `root`).
HttpReply ServeDirectory(const HttpRequest& request, const std::filesystem::path& root);

}  // namespace sluice::http
