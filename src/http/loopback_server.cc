#include "http/loopback_server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <sstream>

#include "common/content_type.h"
#include "common/strings.h"

namespace sluice::http {

namespace asio = boost::asio;
using asio::ip::tcp;

std::string HttpRequest::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

namespace {

std::string_view Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

bool ParseRequestHead(std::string_view head, HttpRequest& request) {
  std::vector<std::string_view> lines = Split(head, "\r\n");
  if (lines.empty()) return false;
  std::vector<std::string_view> first = Split(lines[0], " ");
  if (first.size() != 3) return false;
  request.method = std::string(first[0]);
  request.target = std::string(first[1]);
  request.path = request.target.substr(0, request.target.find('?'));
  for (size_t i = 1; i < lines.size(); ++i) {
    size_t colon = lines[i].find(':');
    if (colon == std::string_view::npos) continue;
    request.headers[ToLower(lines[i].substr(0, colon))] =
        std::string(Trim(lines[i].substr(colon + 1)));
  }
  return true;
}

}  // namespace

struct LoopbackServer::Impl {
  LoopbackServer* owner;
  HttpHandler handler;
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::thread thread;

  asio::awaitable<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      // The head and the body go out in separate writes; with Nagle the body would wait for
      // the client's delayed ACK of the head (40 ms a response).
      socket.set_option(tcp::no_delay(true), ec);
      asio::co_spawn(io, Session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> Pause(std::chrono::milliseconds d) {
    asio::steady_timer timer(io, d);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }

  asio::awaitable<void> Session(tcp::socket socket) {
    std::string buffer;
    boost::system::error_code ec;
    for (;;) {
      size_t n = co_await asio::async_read_until(socket, asio::dynamic_buffer(buffer), "\r\n\r\n",
                                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      HttpRequest request;
      bool parsed = ParseRequestHead(std::string_view(buffer).substr(0, n - 4), request);
      buffer.erase(0, n);
      int64_t length = 0;
      if (parsed && ParseInt(request.Header("content-length"), length) && length > 0) {
        if (length > (int64_t{16} << 20)) co_return;
        if (buffer.size() < static_cast<size_t>(length)) {
          co_await asio::async_read(
              socket, asio::dynamic_buffer(buffer),
              asio::transfer_exactly(static_cast<size_t>(length) - buffer.size()),
              asio::redirect_error(asio::use_awaitable, ec));
          if (ec) co_return;
        }
        request.body = buffer.substr(0, static_cast<size_t>(length));
        buffer.erase(0, static_cast<size_t>(length));
      }
      owner->requests_.fetch_add(1);
      HttpReply reply;
      if (!parsed) {
        reply.status = 400;
        reply.close = true;
      } else {
        try {
          reply = handler(request);
        } catch (const std::exception& e) {
          reply = HttpReply{.status = 500, .body = e.what()};
        }
      }
      if (reply.delay.count() > 0) co_await Pause(reply.delay);
      std::string head = StrCat("HTTP/1.1 ", reply.status, " ", Reason(reply.status), "\r\n");
      for (const auto& [name, value] : reply.headers) StrAppend(head, name, ": ", value, "\r\n");
      if (reply.omit_length)
        reply.close = true;
      else
        StrAppend(head, "Content-Length: ", reply.declared_length.value_or(reply.body.size()),
                  "\r\n");
      if (reply.close || request.Header("connection") == "close")
        StrAppend(head, "Connection: close\r\n");
      StrAppend(head, "\r\n");
      co_await asio::async_write(socket, asio::buffer(head),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      size_t limit = request.method == "HEAD"
                         ? 0
                         : std::min(reply.body.size(), reply.drop_after.value_or(SIZE_MAX));
      size_t sent = 0;
      bool stalled = false;
      while (sent < limit) {
        if (reply.stall_after && !stalled && sent >= *reply.stall_after) {
          stalled = true;
          co_await Pause(reply.stall_for);
          continue;
        }
        size_t end = std::min(limit, sent + 64 * 1024);
        if (reply.stall_after && !stalled) end = std::min(end, *reply.stall_after);
        size_t wrote =
            co_await asio::async_write(socket, asio::buffer(reply.body.data() + sent, end - sent),
                                       asio::redirect_error(asio::use_awaitable, ec));
        owner->body_bytes_sent_.fetch_add(static_cast<int64_t>(wrote));
        if (ec) co_return;
        sent = end;
      }
      if (reply.drop_after && *reply.drop_after < reply.body.size()) {
        socket.close(ec);  // mid-body: the client sees a truncated response
        co_return;
      }
      if (reply.declared_length &&
          *reply.declared_length != static_cast<int64_t>(reply.body.size())) {
        socket.close(ec);  // the length was a lie; nothing else can follow on this connection
        co_return;
      }
      if (reply.close || request.Header("connection") == "close") {
        socket.shutdown(tcp::socket::shutdown_both, ec);
        co_return;
      }
    }
  }
};

Result<std::unique_ptr<LoopbackServer>> LoopbackServer::Start(HttpHandler handler,
                                                              std::string address, int port) {
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(address, ec);
  if (ec || !ip.is_loopback()) {
    return absl::InvalidArgumentError(StrCat("'", address, "' is not a loopback address"));
  }
  std::unique_ptr<LoopbackServer> server(new LoopbackServer());
  server->impl_ = std::make_unique<Impl>();
  Impl& impl = *server->impl_;
  impl.owner = server.get();
  impl.handler = std::move(handler);
  tcp::endpoint endpoint(ip, static_cast<unsigned short>(port));
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        StrCat("cannot listen on ", address, ":", port, ": ", ec.message()));
  }
  server->address_ = address;
  server->port_ = impl.acceptor.local_endpoint().port();
  asio::co_spawn(impl.io, impl.Accept(), asio::detached);
  impl.thread = std::thread([&impl] { impl.io.run(); });
  return server;
}

LoopbackServer::~LoopbackServer() {
  if (!impl_) return;
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string LoopbackServer::base_url() const {
  return StrCat("http://",
                address_.find(':') != std::string::npos ? "[" + address_ + "]" : address_, ":",
                port_);
}

HttpReply ServeBytes(const HttpRequest& request, std::string body, std::string content_type,
                     std::string etag, std::string last_modified) {
  HttpReply reply;
  reply.headers.emplace_back("Content-Type", content_type);
  reply.headers.emplace_back("Accept-Ranges", "bytes");
  if (!etag.empty()) reply.headers.emplace_back("ETag", etag);
  if (!last_modified.empty()) reply.headers.emplace_back("Last-Modified", last_modified);
  std::string range = request.Header("range");
  std::string if_range = request.Header("if-range");
  bool validator_matches = if_range.empty() || if_range == etag || if_range == last_modified;
  std::string_view spec = range;
  if (!range.empty() && validator_matches && ConsumePrefix(spec, "bytes=") &&
      spec.find(',') == spec.npos) {
    size_t dash = spec.find('-');
    int64_t size = static_cast<int64_t>(body.size());
    int64_t first = 0, last = size - 1;
    bool ok = dash != spec.npos && ParseInt(spec.substr(0, dash), first) &&
              (dash + 1 == spec.size() || ParseInt(spec.substr(dash + 1), last));
    if (ok) {
      if (first >= size) {
        reply.status = 416;
        reply.headers.emplace_back("Content-Range", StrCat("bytes */", size));
        return reply;
      }
      last = std::min(last, size - 1);
      reply.status = 206;
      reply.headers.emplace_back("Content-Range", StrCat("bytes ", first, "-", last, "/", size));
      reply.body = body.substr(static_cast<size_t>(first), static_cast<size_t>(last - first + 1));
      return reply;
    }
  }
  reply.body = std::move(body);
  return reply;
}

HttpReply ServeDirectory(const HttpRequest& request, const std::filesystem::path& root) {
  std::filesystem::path relative =
      std::filesystem::path(request.path).relative_path().lexically_normal();
  if (relative.empty() || *relative.begin() == "..")
    return HttpReply{.status = 403, .body = "forbidden"};
  std::filesystem::path file = root / relative;
  std::ifstream in(file, std::ios::binary);
  std::error_code ec;
  if (!in || std::filesystem::is_directory(file, ec)) {
    return HttpReply{.status = 404,
                     .headers = {{"Content-Type", "text/html"}},
                     .body = "<!DOCTYPE html><html><body>404 not found</body></html>"};
  }
  std::ostringstream content;
  content << in.rdbuf();
  std::string body = content.str();
  std::string type = SniffContentType(body).mime;
  std::string etag = StrCat("\"", body.size(), "-", std::hash<std::string>{}(body), "\"");
  return ServeBytes(request, std::move(body), type, etag);
}

}  // namespace sluice::http
