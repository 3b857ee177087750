#include "testing/origin.h"

#include <algorithm>
#include <random>
#include <stdexcept>
#include <string_view>

namespace sluice::testing {

ScriptedOrigin::ScriptedOrigin() {
  auto started =
      http::LoopbackServer::Start([this](const http::HttpRequest& r) { return Handle(r); });
  if (!started.ok()) throw std::runtime_error(std::string(started.status().message()));
  server_ = std::move(*started);
}

void ScriptedOrigin::Route(const std::string& path, Handler handler) {
  std::lock_guard lock(mu_);
  routes_[path] = std::move(handler);
}

std::string ScriptedOrigin::MediaBody(size_t size, int seed) {
  std::string body(size, '\0');
  std::mt19937 random(static_cast<unsigned>(seed));
  for (char& c : body) c = static_cast<char>(random() & 0xff);
  const std::string_view jpeg_magic("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00", 11);
  body.replace(0, std::min(size, jpeg_magic.size()),
               jpeg_magic.substr(0, std::min(size, jpeg_magic.size())));
  return body;
}

http::HttpReply ScriptedOrigin::Handle(const http::HttpRequest& request) {
  Handler route;
  int call = 0;
  {
    std::lock_guard lock(mu_);
    log_.push_back({request.path, request.Header("range"), request.method, request.headers,
                    request.body, std::chrono::steady_clock::now()});
    auto it = routes_.find(request.path);
    if (it == routes_.end()) return http::HttpReply{.status = 404, .body = "no such route"};
    route = it->second;
    call = calls_[request.path]++;
  }
  return route(request, call);
}

std::vector<LoggedRequest> ScriptedOrigin::Log() const {
  std::lock_guard lock(mu_);
  return log_;
}

int ScriptedOrigin::Count(const std::string& path) const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& entry : log_) n += entry.path == path;
  return n;
}

void ScriptedOrigin::ClearLog() {
  std::lock_guard lock(mu_);
  log_.clear();
}

std::string FormValue(const std::string& body, const std::string& name) {
  std::string_view rest = body;
  while (!rest.empty()) {
    std::string_view pair = rest.substr(0, rest.find('&'));
    rest.remove_prefix(std::min(rest.size(), pair.size() + 1));
    if (pair.substr(0, pair.find('=')) != name) continue;
    std::string_view encoded = pair.substr(std::min(pair.size(), name.size() + 1));
    std::string value;
    for (size_t i = 0; i < encoded.size(); ++i) {
      if (encoded[i] == '%' && i + 2 < encoded.size()) {
        value += static_cast<char>(std::stoi(std::string(encoded.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        value += encoded[i] == '+' ? ' ' : encoded[i];
      }
    }
    return value;
  }
  return "";
}

http::HttpReply XmlReply(int status, std::string body) {
  return http::HttpReply{
      .status = status, .headers = {{"Content-Type", "text/xml"}}, .body = std::move(body)};
}

}  // namespace sluice::testing
