// The API through real HTTP on loopback: the server on the runtime's loop, the catalog and queue
// in SQLite, requests sent with sluice's own HTTP client.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>
#include <set>

#include "api/http_server.h"
#include "api/key_gate.h"
#include "api/routes.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "db/sqlite/sqlite_catalog.h"
#include "http/curl_client.h"
#include "http/request.h"
#include "runtime/offload.h"
#include "storage/memory/memory_blob_store.h"
#include "testing/temp_dir.h"

namespace sluice::api {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::move(*db::SqliteCatalog::Open(dir_.path() / "sluice.db"));
    parts_ = {.runtime = &rt_,
              .db = db_.get(),
              .store = &store_,
              .pipeline_named = [](const std::string& name) -> Result<pipeline::PipelineDef> {
                if (name == "default" || name == "video") return pipeline::PipelineDef{};
                return absl::InvalidArgumentError(StrCat("no pipeline '", name, "'"));
              },
              .metrics = &metrics_};
    AddRoutes(router_, parts_);
    client_ = std::move(*http::HttpClient::Create(rt_.loop_executor()));
  }

  // Runs `body` while the server listens; stops it afterwards. With `gate`, behind it.
  template <class F>
  void WithServer(F& body, ServerOptions options = {}, KeyGate* gate = nullptr) {
    options.port = 0;
    Handler dispatch = [this](Request request) { return router_.Dispatch(std::move(request)); };
    if (gate) dispatch = gate->Wrap(dispatch);
    Result<std::unique_ptr<HttpServer>> server =
        HttpServer::Listen(rt_.loop_executor(), options, dispatch);
    ASSERT_TRUE(server.ok()) << server.status();
    url_ = (*server)->url();
    port_ = (*server)->port();
    auto main = [&]() -> asio::awaitable<int> {
      asio::co_spawn(rt_.loop(), (*server)->Run(), asio::detached);
      std::exception_ptr error;  // a failed .at() in the body: stop the server all the same
      try {
        co_await body();
      } catch (...) {
        error = std::current_exception();
      }
      (*server)->Stop();
      if (error) std::rethrow_exception(error);
      co_return 0;
    };
    rt_.Run(main());
  }

  // (string_views: g++ 12 destroys some temporaries of a co_await expression twice, so callers
  // pass literals or named strings.)
  asio::awaitable<http::ClientResponse> Call(std::string_view method, std::string_view path,
                                             std::string_view body = {},
                                             std::string_view idempotency_key = {},
                                             std::string_view key = {}) {
    http::ClientRequest request{.method = std::string(method),
                                .url = StrCat(url_, path),
                                .body = std::string(body),
                                .addresses = {.allow_private = true}};
    if (!key.empty()) request.headers.emplace_back("Authorization", StrCat("Bearer ", key));
    for (auto& header : std::exchange(next_headers_, {})) request.headers.push_back(header);
    if (!body.empty()) request.headers.emplace_back("Content-Type", "application/json");
    if (!idempotency_key.empty())
      request.headers.emplace_back("Idempotency-Key", std::string(idempotency_key));
    Result<http::ClientResponse> response = co_await http::Send(*client_, std::move(request));
    EXPECT_TRUE(response.ok()) << response.status();
    co_return response.ok() ? *std::move(response) : http::ClientResponse{};
  }

  static json::object Json(const http::ClientResponse& response) {
    boost::system::error_code ec;
    json::value value = json::parse(response.body, ec);
    EXPECT_FALSE(ec) << response.body;
    return !ec && value.is_object() ? value.as_object() : json::object{};
  }

  testing::TempDir dir_;
  runtime::Runtime rt_;
  std::unique_ptr<db::SqliteCatalog> db_;
  storage::MemoryBlobStore store_;
  ApiMetrics metrics_;
  ApiParts parts_;
  Router router_;
  std::unique_ptr<http::HttpClient> client_;
  std::string url_;
  int port_ = 0;
  // Sent with the next Call only.
  std::vector<std::pair<std::string, std::string>> next_headers_;
};

TEST_F(ApiTest, EveryRouteIsInTheOpenApiDocumentAndNothingElse) {
  json::object document = json::parse(OpenApiDocument()).as_object();
  EXPECT_EQ(document.at("openapi").as_string(), "3.1.0");
  std::set<std::string> documented, served;
  for (const auto& [path, operations] : document.at("paths").as_object()) {
    for (const auto& [method, operation] : operations.as_object())
      documented.insert(StrCat(ToLower(std::string_view(method)), " ", std::string_view(path)));
  }
  for (const Router::Route& route : router_.routes())
    served.insert(StrCat(ToLower(route.method), " ", route.pattern));
  EXPECT_EQ(documented, served);
}

TEST_F(ApiTest, JobsAreSubmittedFollowedListedAndRetried) {
  auto body = [&]() -> asio::awaitable<void> {
    http::ClientResponse submitted = co_await Call(
        "POST", "/v1/jobs", R"({"set":"brand-a","urls":["http://a/1.jpg","http://a/2.jpg"]})");
    EXPECT_EQ(submitted.status, 202) << submitted.body;
    json::object job = Json(submitted);
    std::string token(job.at("token").as_string());
    EXPECT_EQ(submitted.Header("location"), "/v1/jobs/" + token);
    EXPECT_EQ(job.at("state").as_string(), "queued");
    EXPECT_EQ(job.at("pipeline").as_string(), "default");

    std::string job_path = "/v1/jobs/" + token, retry_path = job_path + "/retry";
    http::ClientResponse status = co_await Call("GET", job_path);
    EXPECT_EQ(status.status, 200);
    json::object progress = Json(status);
    EXPECT_EQ(progress.at("urls").as_int64(), 2);
    EXPECT_EQ(progress.at("items_ok").as_int64(), 0);

    // The same Idempotency-Key gives the same job; another key another one.
    const char* keyed = R"({"set":"brand-b","urls":["http://b/1.jpg"],"priority":5})";
    http::ClientResponse first = co_await Call("POST", "/v1/jobs", keyed, "k-1");
    http::ClientResponse again = co_await Call("POST", "/v1/jobs", keyed, "k-1");
    http::ClientResponse other = co_await Call("POST", "/v1/jobs", keyed, "k-2");
    EXPECT_EQ(first.status, 202);
    EXPECT_EQ(again.status, 200) << "an earlier request made it";
    EXPECT_EQ(Json(again).at("token"), Json(first).at("token"));
    EXPECT_NE(Json(other).at("token"), Json(first).at("token"));

    json::object listed = Json(co_await Call("GET", "/v1/jobs?state=queued&limit=2"));
    EXPECT_EQ(listed.at("jobs").as_array().size(), 2u);
    EXPECT_EQ(Json(co_await Call("GET", "/v1/jobs")).at("jobs").as_array().size(), 3u);

    // A queued job cannot be re-driven; an unknown one is not found.
    http::ClientResponse retry = co_await Call("POST", retry_path);
    EXPECT_EQ(retry.status, 409) << retry.body;
    EXPECT_EQ(retry.Header("content-type"), "application/problem+json");
    http::ClientResponse cancelled = co_await Call("DELETE", job_path);
    EXPECT_EQ(cancelled.status, 200) << cancelled.body;
    EXPECT_EQ(Json(cancelled).at("failure").at("cause").as_string(), "cancelled");
    EXPECT_EQ((co_await Call("DELETE", job_path)).status, 409) << "dead already";
    EXPECT_EQ((co_await Call("POST", retry_path)).status, 200) << "a cancelled job re-driven";
    http::ClientResponse unknown = co_await Call("GET", "/v1/jobs/no-such-token");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(Json(unknown).at("status").as_int64(), 404);
  };
  WithServer(body);
}

TEST_F(ApiTest, BadRequestsAreRefusedWithAProblemThatSaysWhy) {
  auto body = [&]() -> asio::awaitable<void> {
    struct Case {
      std::string method, path, body;
      int status;
      std::string detail;
    };
    std::vector<Case> cases = {
        {"POST", "/v1/jobs", "not json", 400, "not JSON"},
        {"POST", "/v1/jobs", "[1]", 400, "JSON object"},
        {"POST", "/v1/jobs", R"({"set":"bad name!","urls":["http://a/"]})", 400, "set name"},
        {"POST", "/v1/jobs", R"({"set":"s","urls":[]})", 400, "at least one URL"},
        {"POST", "/v1/jobs", R"({"set":"s","urls":["http://a/"],"colour":1})", 400, "'colour'"},
        {"POST", "/v1/jobs", R"({"set":"s","urls":["http://a/"],"pipeline":"nope"})", 400,
         "no pipeline 'nope'"},
        {"GET", "/v1/jobs?state=sleeping", "", 400, "state must be"},
        {"GET", "/v1/jobs?limit=0", "", 400, "limit must be"},
        {"GET", "/v1/sets/unknown/items", "", 404, "there is no set 'unknown'"},
        {"GET", "/v1/sets/brand-a/items?status=lost", "", 400, "status must be ok or failed"},
        {"GET", "/v1/items/not-a-digest", "", 400, "64 lowercase hex digits"},
        {"GET", StrCat("/v1/items/", std::string(64, 'a')), "", 404, "no item holds content"},
        {"GET", "/v1/sets/a%20b/ledger", "", 400, "may only use letters"},
        {"GET", "/v1/sets/never/ledger", "", 404, "has no ledger"},
        {"GET", "/v1/nothing-here", "", 404, "nothing is served"},
        {"DELETE", "/v1/sets", "", 405, "DELETE is not served"},
    };
    for (const Case& c : cases) {
      http::ClientResponse response = co_await Call(c.method, c.path, c.body);
      EXPECT_EQ(response.status, c.status) << c.method << " " << c.path << ": " << response.body;
      EXPECT_EQ(response.Header("content-type"), "application/problem+json") << c.path;
      EXPECT_NE(std::string(Json(response).at("detail").as_string()).find(c.detail),
                std::string::npos)
          << c.path << ": " << response.body;
    }
    http::ClientResponse wrong = co_await Call("PUT", "/v1/jobs");
    EXPECT_EQ(wrong.Header("allow"), "POST, GET");
    http::ClientResponse no_delete = co_await Call("PUT", "/v1/jobs/abc");
    EXPECT_EQ(no_delete.Header("allow"), "GET, DELETE");
  };
  WithServer(body);
}

TEST_F(ApiTest, SetItemsComeInPagesWithEveryMethodsResult) {
  std::vector<db::ItemRecord> items;
  for (int n = 0; n < 5; ++n)
    items.push_back({.url = StrCat("http://a/", n, ".jpg"),
                     .status = db::ItemStatus::kOk,
                     .sha256 = StrCat(std::string(63, 'a'), n),
                     .size = 10,
                     .mime = "image/jpeg",
                     .kind = "image",
                     .store_key = StrCat("objects/sha", n)});
  items.push_back(
      {.url = "http://a/gone.jpg", .status = db::ItemStatus::kFailed, .failure_cause = "http_404"});
  ASSERT_TRUE(db_->RecordItems("brand-a", items).ok());
  db::AnalysisCommit commit{
      .steps = {{.url = "http://a/0.jpg",
                 .method = "image.phash",
                 .version = 1,
                 .step_key = "k0",
                 .ok = true,
                 .output_json = R"({"phash":"00ff00ff00ff00ff"})",
                 .artifacts_json = "{}"},
                {.url = "http://a/1.jpg",
                 .method = "image.embedding",
                 .version = 1,
                 .step_key = "k1",
                 .ok = true,
                 .output_json = R"({"model":"m","dimensions":2,"vector":[0.25,0.5]})",
                 .artifacts_json = "{}"},
                {.url = "http://a/1.jpg",
                 .method = "ocr.tesseract",
                 .version = 1,
                 .step_key = "k2",
                 .ok = true,
                 .output_json = R"({"text":"Summer SALE"})",
                 .artifacts_json = "{}"},
                {.url = "",
                 .method = "set.summary",
                 .version = 1,
                 .step_key = "ks",
                 .ok = true,
                 .output_json = R"({"items":6})",
                 .artifacts_json = "{}"}}};
  ASSERT_TRUE(db_->CommitAnalysis("brand-a", commit, std::nullopt).ok());
  ASSERT_TRUE(db_->RecordItems("brand-b", {items[1]}).ok());
  auto body = [&]() -> asio::awaitable<void> {
    json::object sets = Json(co_await Call("GET", "/v1/sets"));
    EXPECT_EQ(sets.at("sets").at(0).at("ok").as_int64(), 5);
    json::object page = Json(co_await Call("GET", "/v1/sets/brand-a/items?limit=2&status=ok"));
    EXPECT_EQ(page.at("items").as_array().size(), 2u);
    if (page.at("items").as_array().size() != 2u) co_return;
    EXPECT_EQ(page.at("items").at(0).at("steps").at("image.phash").at("phash").as_string(),
              "00ff00ff00ff00ff");
    EXPECT_EQ(page.at("set_results").at("set.summary").at("items").as_int64(), 6);
    std::set<std::string> seen;
    std::string cursor(page.at("next_cursor").as_string());
    for (const auto& item : page.at("items").as_array())
      seen.insert(std::string(item.at("url").as_string()));
    while (!cursor.empty()) {
      std::string next_path = "/v1/sets/brand-a/items?limit=2&status=ok&cursor=" + cursor;
      json::object next = Json(co_await Call("GET", next_path));
      EXPECT_FALSE(next.contains("set_results"));
      for (const auto& item : next.at("items").as_array())
        EXPECT_TRUE(seen.insert(std::string(item.at("url").as_string())).second);
      cursor = next.contains("next_cursor") ? std::string(next.at("next_cursor").as_string()) : "";
    }
    EXPECT_EQ(seen.size(), 5u) << "every ok item once";
    json::object failed = Json(co_await Call("GET", "/v1/sets/brand-a/items?status=failed"));
    EXPECT_EQ(failed.at("items").as_array().size(), 1u);
    if (failed.at("items").as_array().size() != 1u) co_return;
    EXPECT_EQ(failed.at("items").at(0).at("failure").at("cause").as_string(), "http_404");
    // Filters by words in any result; vectors only when asked for.
    json::object sale = Json(co_await Call("GET", "/v1/sets/brand-a/items?q=sale"));
    EXPECT_EQ(sale.at("items").as_array().size(), 1u);
    if (sale.at("items").as_array().size() != 1u) co_return;
    const json::object& steps = sale.at("items").at(0).at("steps").as_object();
    EXPECT_EQ(steps.at("image.embedding").at("dimensions").as_int64(), 2);
    EXPECT_FALSE(steps.at("image.embedding").as_object().contains("vector"));
    json::object with = Json(co_await Call("GET", "/v1/sets/brand-a/items?q=sale&vectors=true"));
    EXPECT_EQ(with.at("items").at(0).at("steps").at("image.embedding").at("vector").at(1),
              json::value(0.5));
    EXPECT_TRUE(Json(co_await Call("GET", "/v1/sets/brand-a/items?q=winter"))
                    .at("items")
                    .as_array()
                    .empty())
        << "a known set with nothing matching is an empty page, not a 404";
    // One content, every item that holds it.
    json::object item = Json(co_await Call("GET", "/v1/items/" + items[1].sha256));
    EXPECT_EQ(item.at("kind").as_string(), "image");
    EXPECT_EQ(item.at("items").as_array().size(), 2u);
    if (item.at("items").as_array().size() != 2u) co_return;
    EXPECT_EQ(item.at("items").at(0).at("set").as_string(), "brand-a");
    EXPECT_EQ(item.at("items").at(0).at("steps").at("ocr.tesseract").at("text").as_string(),
              "Summer SALE");
    EXPECT_EQ(item.at("items").at(1).at("set").as_string(), "brand-b");
  };
  WithServer(body);
}

TEST_F(ApiTest, HealthReadinessAndTheDocumentAreServed) {
  auto body = [&]() -> asio::awaitable<void> {
    EXPECT_EQ(Json(co_await Call("GET", "/healthz")).at("status").as_string(), "ok");
    http::ClientResponse ready = co_await Call("GET", "/readyz");
    EXPECT_EQ(ready.status, 200) << ready.body;
    EXPECT_EQ(Json(ready).at("checks").at("database").as_string(), "ok");
    http::ClientResponse document = co_await Call("GET", "/v1/openapi.json");
    EXPECT_EQ(document.body, OpenApiDocument());
    co_await Call("POST", "/v1/jobs", R"({"set":"s","urls":["http://a/1"]})");
    co_await Call("GET", "/v1/jobs/one-token");
    co_await Call("GET", "/v1/jobs/another-token");
    http::ClientResponse metrics = co_await Call("GET", "/metrics");
    EXPECT_EQ(metrics.status, 200);
    EXPECT_EQ(metrics.Header("content-type"), "text/plain; version=0.0.4");
    for (const char* line :
         {"sluice_jobs{state=\"queued\"} 1", "sluice_jobs{state=\"dead\"} 0",
          R"(sluice_http_requests_total{method="GET",route="/v1/jobs/{token}",status="404"} 2)",
          R"(sluice_http_requests_total{method="POST",route="/v1/jobs",status="202"} 1)",
          R"(sluice_http_request_seconds_count{method="GET",route="/healthz"} 1)",
          "# TYPE sluice_http_request_seconds histogram", "sluice_items{status=\"ok\"} 0"})
      EXPECT_NE(metrics.body.find(line), std::string::npos) << line << "\n" << metrics.body;
  };
  WithServer(body);
}

TEST_F(ApiTest, OversizedBodiesAndSlowClientsAreCutOff) {
  auto body = [&]() -> asio::awaitable<void> {
    std::string big = StrCat(R"({"set":"s","urls":[")", std::string(2000, 'x'), R"("]})");
    http::ClientResponse refused = co_await Call("POST", "/v1/jobs", big);
    EXPECT_EQ(refused.status, 413) << refused.body;
    // A client that sends half a header and waits is disconnected after the header timeout.
    asio::ip::tcp::socket slow(rt_.loop());
    co_await slow.async_connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port_)},
                                asio::use_awaitable);
    co_await asio::async_write(slow, asio::buffer(std::string_view("GET /healthz HTTP/1.1\r\nHo")),
                               asio::use_awaitable);
    auto start = std::chrono::steady_clock::now();
    char byte;
    boost::system::error_code ec;
    co_await asio::async_read(slow, asio::buffer(&byte, 1),
                              asio::redirect_error(asio::use_awaitable, ec));
    EXPECT_EQ(ec, asio::error::eof) << ec.message();
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  };
  WithServer(body, {.max_body_bytes = 1000, .header_timeout = std::chrono::milliseconds(300)});
}

TEST_F(ApiTest, MediaAreServedByContentWithRangesAndValidators) {
  const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(100, 'p');
  const std::string sha = Sha256::HexOf(png);
  ASSERT_TRUE(rt_.Run(store_.PutBytes(storage::ContentKey(sha), png, {})).ok());
  ASSERT_TRUE(rt_.Run(store_.PutBytes("results/brand-a/ledger.json", "{}", {})).ok());
  auto body = [&]() -> asio::awaitable<void> {
    std::string path = "/v1/media/" + sha;
    http::ClientResponse whole = co_await Call("GET", path);
    EXPECT_EQ(whole.status, 200);
    EXPECT_EQ(whole.body, png);
    EXPECT_EQ(whole.Header("content-type"), "image/png");
    EXPECT_EQ(whole.Header("etag"), "\"" + sha + "\"");
    next_headers_ = {{"If-None-Match", "\"" + sha + "\""}};
    EXPECT_EQ((co_await Call("GET", path)).status, 304);
    next_headers_ = {{"Range", "bytes=2-5"}};
    http::ClientResponse part = co_await Call("GET", path);
    EXPECT_EQ(part.status, 206);
    EXPECT_EQ(part.body, png.substr(2, 4));
    EXPECT_EQ(part.Header("content-range"), "bytes 2-5/108");
    EXPECT_EQ(part.Header("content-type"), "image/png") << "sniffed from the start";
    next_headers_ = {{"Range", "bytes=-3"}};
    EXPECT_EQ((co_await Call("GET", path)).body, "ppp");
    next_headers_ = {{"Range", "bytes=500-"}};
    http::ClientResponse past = co_await Call("GET", path);
    EXPECT_EQ(past.status, 416);
    EXPECT_EQ(past.Header("content-range"), "bytes */108");
    // Only content-addressed objects, named by 64 hex digits: no other key can be reached.
    for (const char* bad : {"/v1/media/..%2F..%2Fresults%2Fbrand-a%2Fledger.json",
                            "/v1/media/ABCDEF", "/v1/media/results"}) {
      http::ClientResponse refused = co_await Call("GET", bad);
      EXPECT_TRUE(refused.status == 400 || refused.status == 404) << bad << " " << refused.status;
      EXPECT_EQ(refused.body.find("{}"), std::string::npos);
    }
    std::string unknown = "/v1/media/" + std::string(64, 'a');
    EXPECT_EQ((co_await Call("GET", unknown)).status, 404);
    EXPECT_EQ((co_await Call("GET", "/v1/sets/brand-a/ledger")).body, "{}")
        << "the ledger has its own route";
  };
  WithServer(body);
}

TEST_F(ApiTest, KeysAreAskedForCheckedRevokedAndRateLimited) {
  const std::string good = db::NewApiKeySecret(), slow = db::NewApiKeySecret();
  ASSERT_TRUE(db_->AddKey({.name = "good", .prefix = "sk_", .hash = Sha256::HexOf(good)}).ok());
  ASSERT_TRUE(db_->AddKey({.name = "slow",
                           .prefix = "sk_",
                           .hash = Sha256::HexOf(slow),
                           .requests_per_minute = 2})
                  .ok());
  KeyGate gate(rt_, *db_, /*required=*/true, std::chrono::milliseconds(0));
  auto body = [&]() -> asio::awaitable<void> {
    EXPECT_EQ((co_await Call("GET", "/healthz")).status, 200) << "probes need no key";
    http::ClientResponse none = co_await Call("GET", "/v1/sets");
    EXPECT_EQ(none.status, 401);
    EXPECT_EQ(none.Header("www-authenticate"), "Bearer");
    EXPECT_EQ(Json(none).at("cause").as_string(), "no_key");
    http::ClientResponse wrong = co_await Call("GET", "/v1/sets", {}, {}, "sk_not-a-key");
    EXPECT_EQ(Json(wrong).at("cause").as_string(), "bad_key");
    EXPECT_EQ((co_await Call("GET", "/v1/sets", {}, {}, good)).status, 200);
    // The web UI's files are open; its pictures send the key as a cookie, for reads only.
    EXPECT_EQ((co_await Call("GET", "/ui/app.js")).status, 200);
    EXPECT_EQ((co_await Call("GET", "/")).status, 302);
    next_headers_ = {{"Cookie", "theme=dark; sluice_key=" + good}};
    EXPECT_EQ((co_await Call("GET", "/v1/sets")).status, 200) << "a read with the cookie";
    next_headers_ = {{"Cookie", "sluice_key=" + good}};
    http::ClientResponse posted = co_await Call("POST", "/v1/jobs", "{}");
    EXPECT_EQ(posted.status, 401) << "a change needs the header: another site's form cannot";
    next_headers_ = {{"Cookie", "sluice_key=sk_nope"}};
    EXPECT_EQ((co_await Call("GET", "/v1/sets")).status, 401);

    EXPECT_EQ((co_await Call("GET", "/v1/sets", {}, {}, slow)).status, 200);
    EXPECT_EQ((co_await Call("GET", "/v1/sets", {}, {}, slow)).status, 200);
    http::ClientResponse limited = co_await Call("GET", "/v1/sets", {}, {}, slow);
    EXPECT_EQ(limited.status, 429) << limited.body;
    EXPECT_EQ(limited.Header("retry-after"), "30") << "one request every 30 s";
    EXPECT_EQ((co_await Call("GET", "/v1/sets", {}, {}, good)).status, 200) << "per key";

    auto revoke = [&] { return db_->RevokeKey("good").status(); };
    EXPECT_TRUE((co_await runtime::RunOn(rt_.blocking(), revoke)).ok());
    http::ClientResponse revoked = co_await Call("GET", "/v1/sets", {}, {}, good);
    EXPECT_EQ(revoked.status, 401);
    EXPECT_EQ(Json(revoked).at("cause").as_string(), "revoked_key");
  };
  WithServer(body, {}, &gate);
}

}  // namespace
}  // namespace sluice::api
