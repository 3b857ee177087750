#include "api/http_server.h"

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <set>

#include "api/problem.h"
#include "common/strings.h"

namespace sluice::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

std::string Request::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

struct HttpServer::State {
  State(asio::any_io_executor loop, ServerOptions o, Handler h)
      : acceptor(loop), options(std::move(o)), handler(std::move(h)) {}
  tcp::acceptor acceptor;
  ServerOptions options;
  Handler handler;
  std::set<beast::tcp_stream*> open;  // connections now served (loop thread only)
  bool stopped = false;
};

namespace {

// The target's path (percent-decoded) and query parameters; nullopt when it does not parse.
std::optional<std::pair<std::string, std::map<std::string, std::string>>> SplitTarget(
    std::string_view target) {
  boost::system::result<boost::urls::url_view> url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  std::map<std::string, std::string> query;
  for (const auto& param : url->params()) query[param.key] = param.value;
  return std::pair{std::string(url->path()), std::move(query)};
}

bhttp::response<bhttp::string_body> ToBeast(Response response, unsigned version, bool keep_alive) {
  bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(response.status), version};
  out.set(bhttp::field::server, "sluice");
  if (!response.content_type.empty()) out.set(bhttp::field::content_type, response.content_type);
  for (auto& [name, value] : response.headers) out.insert(name, value);
  out.body() = std::move(response.body);
  out.keep_alive(keep_alive);
  out.prepare_payload();
  return out;
}

// Serves one connection until it closes, times out or the server stops.
asio::awaitable<void> Serve(std::shared_ptr<HttpServer::State> state, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  state->open.insert(&stream);
  boost::system::error_code ec;
  tcp::endpoint peer = stream.socket().remote_endpoint(ec);
  bool loopback = !ec && peer.address().is_loopback();
  beast::flat_buffer buffer;
  const ServerOptions& options = state->options;
  while (!state->stopped) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(static_cast<uint64_t>(options.max_body_bytes));
    stream.expires_after(options.header_timeout);
    co_await bhttp::async_read_header(stream, buffer, parser,
                                      asio::redirect_error(asio::use_awaitable, ec));
    std::optional<Response> refused;
    if (ec == bhttp::error::body_limit) {  // its Content-Length says too much: not read
      refused = Problem(413, "Request body too large",
                        StrCat("bodies are limited to ", options.max_body_bytes, " bytes"));
    } else if (ec) {
      break;  // closed, timed out (a slow or idle client), or malformed
    } else {
      stream.expires_after(options.body_timeout);
      co_await bhttp::async_read(stream, buffer, parser,
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec == bhttp::error::body_limit) {
        refused = Problem(413, "Request body too large",
                          StrCat("bodies are limited to ", options.max_body_bytes, " bytes"));
      } else if (ec) {
        break;
      }
    }
    bhttp::request<bhttp::string_body>& message = parser.get();
    bool keep_alive = !refused && message.keep_alive();
    Response response;
    if (refused) {
      response = std::move(*refused);
    } else if (auto target = SplitTarget(message.target()); !target) {
      response = Problem(400, "Bad request target", "the request target is not a path");
    } else {
      Request request{.method = std::string(message.method_string()),
                      .path = std::move(target->first),
                      .query = std::move(target->second),
                      .body = std::move(message.body()),
                      .from_loopback = loopback};
      for (const auto& field : message)
        request.headers[ToLower(std::string_view(field.name_string()))] =
            std::string(field.value());
      // A handler that throws (a bug) answers 500 on this request, not a dropped connection.
      std::string failure;
      try {
        response = co_await state->handler(std::move(request));
      } catch (const std::exception& e) {
        failure = e.what();
      }
      if (!failure.empty())
        response = Problem(500, "Internal error", StrCat("the request failed: ", failure));
    }
    auto reply = ToBeast(std::move(response), message.version(), keep_alive);
    stream.expires_after(options.body_timeout);
    co_await bhttp::async_write(stream, reply, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !keep_alive) break;
  }
  state->open.erase(&stream);
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  // Read what the client still sends (a refused body) for a moment: closing with unread data
  // would reset the connection and lose the answer.
  stream.expires_after(std::chrono::milliseconds(500));
  for (std::array<char, 4096> sink; !ec && !state->stopped;)
    co_await stream.async_read_some(asio::buffer(sink),
                                    asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace

HttpServer::HttpServer(std::shared_ptr<State> state) : state_(std::move(state)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Listen(asio::any_io_executor loop,
                                                       ServerOptions options, Handler handler) {
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(options.address, ec);
  if (ec)
    return absl::InvalidArgumentError(
        StrCat("'", options.address, "' is not an IP address to listen on"));
  auto state = std::make_shared<State>(loop, options, std::move(handler));
  tcp::endpoint endpoint(address, static_cast<uint16_t>(options.port));
  auto refuse = [&](std::string_view what) {
    return Failure(absl::StatusCode::kUnavailable, "listen_failed",
                   StrCat("cannot listen on ", options.address, ":", options.port, ": ", what, ": ",
                          ec.message()));
  };
  state->acceptor.open(endpoint.protocol(), ec);
  if (ec) return refuse("open");
  state->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  state->acceptor.bind(endpoint, ec);
  if (ec) return refuse("bind");
  state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return refuse("listen");
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(state)));
}

int HttpServer::port() const {
  boost::system::error_code ec;
  return state_->acceptor.local_endpoint(ec).port();
}

bool HttpServer::loopback() const {
  boost::system::error_code ec;
  return state_->acceptor.local_endpoint(ec).address().is_loopback();
}

std::string HttpServer::url() const {
  boost::system::error_code ec;
  tcp::endpoint local = state_->acceptor.local_endpoint(ec);
  std::string host = local.address().to_string();
  if (local.address().is_v6()) host = StrCat("[", host, "]");
  return StrCat("http://", host, ":", local.port());
}

asio::awaitable<void> HttpServer::Run() {
  std::shared_ptr<State> state = state_;
  while (!state->stopped) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await state->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (state->stopped || ec == asio::error::operation_aborted) break;
      continue;  // a connection that failed before it was accepted (EMFILE, reset): go on
    }
    asio::co_spawn(state->acceptor.get_executor(), Serve(state, std::move(socket)), asio::detached);
  }
}

void HttpServer::Stop() {
  if (state_->stopped) return;
  state_->stopped = true;
  boost::system::error_code ec;
  state_->acceptor.close(ec);
  for (beast::tcp_stream* stream : state_->open) stream->socket().cancel(ec);
}

}  // namespace sluice::api
