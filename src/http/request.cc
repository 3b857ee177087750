#include "http/request.h"

#include "common/sha256.h"
#include "common/strings.h"

namespace sluice::http {
namespace {

struct Exchange {
  const ClientRequest* request = nullptr;
  ClientResponse response;
  bool too_large = false;
  ConnectGuard guard;
  char error[CURL_ERROR_SIZE] = {};

  static size_t OnBody(char* data, size_t size, size_t count, void* self) {
    auto* exchange = static_cast<Exchange*>(self);
    size_t n = size * count;
    if (static_cast<int64_t>(exchange->response.body.size() + n) >
        exchange->request->max_response_bytes) {
      exchange->too_large = true;
      return 0;
    }
    exchange->response.body.append(data, n);
    return n;
  }

  static size_t OnHeader(char* data, size_t size, size_t count, void* self) {
    auto* exchange = static_cast<Exchange*>(self);
    std::string_view line(data, size * count);
    if (line.starts_with("HTTP/")) {
      exchange->response.headers.clear();  // a 100 Continue or a redirect came first
    } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
      exchange->response.headers[ToLower(Trim(line.substr(0, colon)))] =
          std::string(Trim(line.substr(colon + 1)));
    }
    return size * count;
  }
};

}  // namespace

std::string ClientResponse::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

asio::awaitable<Result<ClientResponse>> Send(HttpClient& client, ClientRequest request) {
  co_return co_await SendKept(client, request);
}

asio::awaitable<Result<ClientResponse>> SendKept(HttpClient& client, const ClientRequest& request) {
  std::string scheme = ToLower(request.url.substr(0, request.url.find(':')));
  if (scheme != "http" && scheme != "https") {
    co_return Failure(absl::StatusCode::kPermissionDenied, "scheme_not_allowed",
                      StrCat("'", request.url, "': only http and https"));
  }
  std::optional<SigV4> sigv4 = request.sigv4;
  if (request.aws_credentials && sigv4) {
    SLUICE_CO_ASSIGN_OR_RETURN(AwsCredentials keys, co_await request.aws_credentials->Current());
    sigv4->access_key = std::move(keys.access_key);
    sigv4->secret_key = std::move(keys.secret_key);
    sigv4->session_token = std::move(keys.session_token);
  }
  EasyHandle easy = client.TakeEasyHandle();
  if (!easy) co_return absl::InternalError("curl_easy_init failed");
  CURL* e = easy.get();
  // Back to the client's pool when this exchange ends, whatever the outcome.
  struct Recycle {
    HttpClient& client;
    EasyHandle& handle;
    ~Recycle() { client.ReturnEasyHandle(std::move(handle)); }
  } recycle{client, easy};
  Exchange exchange;
  exchange.request = &request;
  exchange.guard.policy = &request.addresses;

  std::vector<std::pair<std::string, std::string>> headers = request.headers;
  if (sigv4) {
    SLUICE_CO_ASSIGN_OR_RETURN(SignedRequest signed_request,
                               SignV4(*sigv4, request.method, request.url, headers, request.body,
                                      std::chrono::system_clock::now()));
    headers = std::move(signed_request.headers);
  }
  CurlList header_list;
  for (const auto& [name, value] : headers) header_list.Append(StrCat(name, ": ", value));
  // Without this curl adds "Expect: 100-continue" to large bodies and waits for the server.
  header_list.Append("Expect:");

  curl_easy_setopt(e, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, exchange.error);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  // A HEAD answer announces a length but carries no body: curl must not wait for one.
  if (request.method == "HEAD") curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // JSON compresses well; curl decodes
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Exchange::OnBody);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Exchange::OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &exchange);
  exchange.guard.Install(e);

  CURLcode code = co_await client.Perform(e);
  if (exchange.too_large) {
    co_return Failure(absl::StatusCode::kFailedPrecondition, "too_large",
                      StrCat("the response exceeds ", request.max_response_bytes, " bytes"));
  }
  if (!exchange.guard.refused.ok() &&
      (code == CURLE_COULDNT_CONNECT || code == CURLE_ABORTED_BY_CALLBACK))
    co_return exchange.guard.refused;
  if (code == CURLE_OPERATION_TIMEDOUT) {
    co_return Failure(absl::StatusCode::kDeadlineExceeded, "timeout",
                      StrCat("no complete response within ", request.timeout.count(), " ms"));
  }
  if (code != CURLE_OK) co_return CurlFailureStatus(code, exchange.error, true);
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &exchange.response.status);
  co_return std::move(exchange.response);
}

}  // namespace sluice::http
