// ScriptedOrigin: a LoopbackServer whose routes are scripted per test, recording every request
// it receives (path, Range, arrival time) so tests can assert what the client really sent.
//
// Thread-safe: routes run on the server thread; Log() may be called from the test thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http/loopback_server.h"

namespace sluice::testing {

struct LoggedRequest {
  std::string path;
  std::string range;
  std::string method;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::chrono::steady_clock::time_point at;
};

class ScriptedOrigin {
 public:
  // A route gets the request and the index of this call to the same path (0 for the first).
  using Handler = std::function<http::HttpReply(const http::HttpRequest&, int call)>;

  ScriptedOrigin();
  // Routes may be added before or during serving. Unknown paths answer 404.
  void Route(const std::string& path, Handler handler);
  // A JPEG-looking body of `size` bytes, deterministic for `seed`.
  static std::string MediaBody(size_t size, int seed = 0);

  std::string Url(const std::string& path) const { return server_->base_url() + path; }
  int port() const { return server_->port(); }
  std::vector<LoggedRequest> Log() const;
  int Count(const std::string& path) const;
  void ClearLog();
  http::LoopbackServer& server() { return *server_; }

 private:
  http::HttpReply Handle(const http::HttpRequest& request);

  mutable std::mutex mu_;
  std::map<std::string, Handler> routes_;
  std::map<std::string, int> calls_;
  std::vector<LoggedRequest> log_;
  std::unique_ptr<http::LoopbackServer> server_;
};

// The value of `name` in an application/x-www-form-urlencoded body ("" when absent), as the
// AWS query protocols (STS, SQS) send their parameters.
std::string FormValue(const std::string& body, const std::string& name);

// An XML answer with `status`.
http::HttpReply XmlReply(int status, std::string body);

}  // namespace sluice::testing
