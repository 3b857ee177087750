// /v1/search: look-alikes by stored content, words or an uploaded picture.
#include <filesystem>
#include <string>

#include "api/route_kit.h"
#include "common/file_io.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "pipeline/search.h"

namespace sluice::api {

namespace asio = boost::asio;

namespace {

// The JSON body of a vector search: {"vector": [numbers], "model": "…" (optional)}.
Result<methods::Embedding> VectorOf(const Request& request) {
  SLUICE_ASSIGN_OR_RETURN(boost::json::object body, BodyObject(request));
  methods::Embedding out;
  for (const auto& [key, value] : body) {
    if (key == "vector" && value.is_array()) {
      for (const boost::json::value& x : value.as_array()) {
        if (!x.is_number()) return absl::InvalidArgumentError("vector must hold numbers only");
        out.vector.push_back(static_cast<float>(x.to_number<double>()));
      }
    } else if (key == "model" && value.is_string()) {
      out.model = std::string(value.as_string());
    } else {
      return absl::InvalidArgumentError(
          StrCat("'", std::string_view(key),
                 "' is not a field of a vector search (vector: [numbers], model: string)"));
    }
  }
  if (out.vector.empty() || out.vector.size() > 65536)
    return absl::InvalidArgumentError("vector must hold 1 to 65536 numbers");
  return out;
}

class SearchRoutes {
 public:
  explicit SearchRoutes(const ApiParts& parts) : parts_(parts) {}

  // Similar contents: by stored content (like=SHA256) or words (text=…) as query parameters, or
  // by a picture sent as the body of a POST.
  asio::awaitable<Response> Search(Request request) {
    if (!parts_.registry || !parts_.indexes)
      co_return Problem(503, "Search unavailable", "this server was started without indexes");
    Result<int> k = IntParam(request, "k", 10, 1, 1000);
    if (!k.ok()) co_return ProblemFor(k.status());
    auto param = [&](const char* name) {
      auto it = request.query.find(name);
      return it == request.query.end() ? std::string() : it->second;
    };
    pipeline::SearchRequest query{.like = param("like"),
                                  .text = param("text"),
                                  .k = *k,
                                  .set = param("set"),
                                  .method = param("method")};
    if (query.method.empty()) query.method = "image.embedding";
    std::filesystem::path upload;
    if (request.method == "POST" &&
        request.Header("content-type").starts_with("application/json")) {
      // {"vector": [numbers], "model": "…"}: a caller's own embedding.
      Result<methods::Embedding> vector = VectorOf(request);
      if (!vector.ok()) co_return ProblemFor(vector.status());
      if (!query.like.empty() || !query.text.empty())
        co_return Problem(400, "Bad request", "a vector search takes no like or text");
      query.vector = std::move(*vector);
    } else if (request.method == "POST") {
      if (request.body.empty() || !query.like.empty() || !query.text.empty())
        co_return Problem(400, "Bad request",
                          "POST /v1/search takes a picture as the body (or a JSON vector) and no "
                          "like or text");
      std::error_code ec;
      std::filesystem::create_directories(parts_.scratch_dir, ec);
      upload = parts_.scratch_dir / StrCat("query-", Sha256::HexOf(request.body));
      auto write = [&] { return WriteFileAtomically(upload.string(), request.body); };
      if (Status written = co_await Blocking(parts_, write); !written.ok())
        co_return ProblemFor(written);
      query.like = upload.string();
    } else if (query.like.empty() == query.text.empty()) {
      co_return Problem(400, "Bad request",
                        "search like=SHA256 (stored content) or text=WORDS, one of them; or POST "
                        "a picture");
    } else if (!query.like.empty() && !IsSha256Hex(query.like)) {
      co_return Problem(400, "Bad request",
                        "like= names stored content by its SHA-256 (64 lowercase hex digits); "
                        "POST a picture to search by one");
    }
    Result<pipeline::SearchAnswer> answer = co_await pipeline::Search(
        *parts_.runtime, *parts_.registry, *parts_.db, *parts_.indexes, std::move(query));
    if (!upload.empty()) {
      std::error_code ec;
      std::filesystem::remove(upload, ec);
    }
    if (!answer.ok()) co_return ProblemFor(answer.status());
    co_return JsonResponse(200, pipeline::SearchAnswerToJson(*answer));
  }

 private:
  const ApiParts& parts_;
};

}  // namespace

void AddSearchRoutes(Router& router, const ApiParts& parts) {
  auto routes = std::make_shared<SearchRoutes>(parts);
  router.Add("GET", "/v1/search", BindRoute(routes, &SearchRoutes::Search));
  router.Add("POST", "/v1/search", BindRoute(routes, &SearchRoutes::Search));
}

}  // namespace sluice::api
