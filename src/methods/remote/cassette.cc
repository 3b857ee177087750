#include "methods/remote/cassette.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <cstdio>

#include "common/file_io.h"
#include "common/sha256.h"
#include "common/strings.h"

namespace sluice::methods::remote {
namespace {

std::string PathOf(const std::string& url) {
  boost::system::result<boost::urls::url_view> parsed = boost::urls::parse_uri(url);
  if (!parsed) return url;
  std::string path(parsed->encoded_path());
  if (parsed->has_query()) StrAppend(path, "?", parsed->encoded_query());
  return path;
}

bool KeptHeader(const std::string& name) {
  return name == "content-type" || name == "retry-after" || name == "retry-after-ms" ||
         name == "x-amzn-errortype" || name.starts_with("x-ratelimit-");
}

std::filesystem::path FileFor(const std::filesystem::path& dir, const std::string& key) {
  return dir / StrCat(key, ".json");
}

}  // namespace

std::string CassetteKey(const http::ClientRequest& request) {
  return Sha256::HexOf(StrCat(request.method, "\n", PathOf(request.url), "\n", request.body))
      .substr(0, 24);
}

RecordingTransport::RecordingTransport(Transport& inner, std::filesystem::path dir)
    : inner_(inner), dir_(std::move(dir)) {}

asio::awaitable<Result<http::ClientResponse>> RecordingTransport::Exchange(
    const http::ClientRequest& request) {
  std::string key = CassetteKey(request);
  json::object cassette_request{{"method", request.method},
                                {"path", PathOf(request.url)},
                                {"body_sha256", Sha256::HexOf(request.body)}};
  if (request.body.size() <= 4096) cassette_request["body"] = request.body;
  Result<http::ClientResponse> response = co_await inner_.Exchange(request);
  json::object exchange;
  if (response.ok()) {
    json::object headers;
    for (const auto& [name, value] : response->headers) {
      if (KeptHeader(name)) headers[name] = value;
    }
    exchange = {{"status", response->status}, {"headers", headers}, {"body", response->body}};
  } else {
    exchange = {{"error",
                 {{"code", static_cast<int>(response.status().code())},
                  {"cause", CauseOf(response.status())},
                  {"message", std::string(response.status().message())}}}};
  }
  json::object& cassette = cassettes_[key];
  if (cassette.empty()) cassette = {{"request", cassette_request}, {"exchanges", json::array{}}};
  cassette["exchanges"].as_array().push_back(std::move(exchange));
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  Status written = WriteFileAtomically(FileFor(dir_, key).string(), json::serialize(cassette));
  if (written.ok()) {
    ++recorded_;
  } else {
    std::fprintf(stderr, "sluice: could not save a cassette: %s\n",
                 std::string(written.message()).c_str());
  }
  co_return response;
}

ReplayTransport::ReplayTransport(std::filesystem::path dir) : dir_(std::move(dir)) {}

asio::awaitable<Result<http::ClientResponse>> ReplayTransport::Exchange(
    const http::ClientRequest& request) {
  std::string key = CassetteKey(request);
  auto it = served_.find(key);
  if (it == served_.end()) {
    std::filesystem::path file = FileFor(dir_, key);
    Result<std::string> text = ReadWholeFile(file.string());
    if (!text.ok()) {
      co_return Failure(absl::StatusCode::kFailedPrecondition, "not_recorded",
                        StrCat("no recorded exchange for ", request.method, " ",
                               PathOf(request.url), " (cassette ", key, ") in ", dir_.string(),
                               "; record it with --record ", dir_.string()));
    }
    boost::system::error_code ec;
    json::value cassette = json::parse(*text, ec);
    const json::value* exchanges =
        !ec && cassette.is_object() ? cassette.as_object().if_contains("exchanges") : nullptr;
    if (!exchanges || !exchanges->is_array() || exchanges->as_array().empty()) {
      co_return Failure(absl::StatusCode::kDataLoss, "bad_cassette",
                        StrCat(file.string(), " is not a cassette"));
    }
    it = served_.emplace(key, std::make_pair(exchanges->as_array(), size_t{0})).first;
  }
  auto& [exchanges, next] = it->second;
  const json::value& exchange = exchanges[std::min(next, exchanges.size() - 1)];
  ++next;
  ++replayed_;
  try {
    const json::object& e = exchange.as_object();
    if (const json::value* error = e.if_contains("error")) {
      const json::object& f = error->as_object();
      co_return Failure(static_cast<absl::StatusCode>(f.at("code").to_number<int>()),
                        std::string_view(f.at("cause").as_string()),
                        std::string_view(f.at("message").as_string()));
    }
    http::ClientResponse response;
    response.status = e.at("status").to_number<long>();
    for (const auto& [name, value] : e.at("headers").as_object())
      response.headers[std::string(name)] = std::string(value.as_string());
    response.body = std::string(e.at("body").as_string());
    co_return response;
  } catch (const std::exception& e) {
    co_return Failure(absl::StatusCode::kDataLoss, "bad_cassette",
                      StrCat("cassette ", key, " in ", dir_.string(), ": ", e.what()));
  }
}

}  // namespace sluice::methods::remote
