#include "testing/fake_provider.h"

#include <algorithm>
#include <boost/archive/iterators/binary_from_base64.hpp>
#include <boost/archive/iterators/transform_width.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <functional>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "common/strings.h"

namespace sluice::testing {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

http::HttpReply JsonReply(int status, const json::value& body) {
  return http::HttpReply{.status = status,
                         .headers = {{"Content-Type", "application/json"}},
                         .body = json::serialize(body)};
}

std::vector<double> EmbeddingOf(std::string_view text, int dimensions) {
  std::vector<double> vector;
  uint64_t h = std::hash<std::string_view>{}(text);
  double norm = 0;
  for (int i = 0; i < dimensions; ++i) {
    h = h * 6364136223846793005ULL + 1442695040888963407ULL;
    double x = static_cast<double>(h >> 11) / static_cast<double>(1ULL << 53) - 0.5;
    vector.push_back(x);
    norm += x * x;
  }
  for (double& x : vector) x /= std::sqrt(norm);
  return vector;
}

std::string DecodeBase64(std::string_view text) {
  namespace it = boost::archive::iterators;
  using Decoder =
      it::transform_width<it::binary_from_base64<std::string_view::const_iterator>, 8, 6>;
  std::string_view data = text.substr(0, text.find('='));  // the padding is not data
  return std::string(Decoder(data.begin()), Decoder(data.end()));
}

// The fake's "multimodal model": a picture (a data URL, or base64 for Titan) lands near the word
// of its dominant colour — "red", "green", "blue" or "gray" — so a text query for a colour finds
// the pictures of that colour first, as a CLIP model's would; the picture's own hash moves it a
// little, so different pictures stay apart. Anything else is embedded as text.
std::vector<double> FakeEmbedding(std::string_view input, bool base64_image, int dimensions) {
  std::string_view base64;
  if (base64_image) {
    base64 = input;
  } else if (input.starts_with("data:image/") && input.find(";base64,") != std::string_view::npos) {
    base64 = input.substr(input.find(";base64,") + 8);
  } else {
    return EmbeddingOf(input, dimensions);
  }
  std::string bytes = DecodeBase64(base64);
  cv::Mat picture = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8U, bytes.data()),
                                 cv::IMREAD_COLOR);
  if (picture.empty()) return EmbeddingOf(input, dimensions);
  cv::Scalar bgr = cv::mean(picture);
  double spread = std::max({bgr[0], bgr[1], bgr[2]}) - std::min({bgr[0], bgr[1], bgr[2]});
  std::string_view colour = spread < 40                            ? "gray"
                            : bgr[2] >= bgr[1] && bgr[2] >= bgr[0] ? "red"
                            : bgr[1] >= bgr[0]                     ? "green"
                                                                   : "blue";
  std::vector<double> vector = EmbeddingOf(colour, dimensions);
  std::vector<double> own = EmbeddingOf(input, dimensions);
  double norm = 0;
  for (int i = 0; i < dimensions; ++i) {
    vector[i] += 0.3 * own[i];
    norm += vector[i] * vector[i];
  }
  for (double& x : vector) x /= std::sqrt(norm);
  return vector;
}

// vLLM's multimodal embedding request: the picture's data URL in the first message, or the
// messages as text when there is none.
std::string ImageUrlOf(const json::value& messages) {
  const json::value* content =
      messages.is_array() && !messages.as_array().empty() && messages.as_array().front().is_object()
          ? messages.as_array().front().as_object().if_contains("content")
          : nullptr;
  if (content && content->is_array()) {
    for (const json::value& part : content->as_array()) {
      const json::value* url =
          part.is_object() ? part.as_object().if_contains("image_url") : nullptr;
      url = url && url->is_object() ? url->as_object().if_contains("url") : nullptr;
      if (url && url->is_string()) return std::string(url->as_string());
    }
  }
  return json::serialize(messages);
}

}  // namespace

json::value ValueForSchema(const json::object& schema, uint64_t seed) {
  std::string type = schema.contains("type") && schema.at("type").is_string()
                         ? std::string(schema.at("type").as_string())
                         : "object";
  if (const json::value* values = schema.if_contains("enum");
      values && values->is_array() && !values->as_array().empty()) {
    const json::array& options = values->as_array();
    return options[seed % options.size()];
  }
  if (type == "object") {
    json::object out;
    if (const json::value* properties = schema.if_contains("properties")) {
      uint64_t k = 0;
      for (const auto& [name, sub] : properties->as_object())
        out[name] = ValueForSchema(sub.as_object(), seed + 31 * ++k);
    }
    return out;
  }
  if (type == "array") {
    int64_t count = 3;
    if (const json::value* min = schema.if_contains("minItems"))
      count = std::max(count, min->to_number<int64_t>());
    if (const json::value* max = schema.if_contains("maxItems"))
      count = std::min(count, max->to_number<int64_t>());
    json::array out;
    json::object items;
    if (const json::value* i = schema.if_contains("items"); i && i->is_object())
      items = i->as_object();
    for (int64_t i = 0; i < count; ++i)
      out.push_back(ValueForSchema(items, seed * 7 + static_cast<uint64_t>(i)));
    return out;
  }
  if (type == "string") return json::value(StrCat("sample-", seed % 1000));
  if (type == "integer") return json::value(1);
  if (type == "number") {
    double low = 0, high = 1;
    if (const json::value* min = schema.if_contains("minimum")) low = min->to_number<double>();
    if (const json::value* max = schema.if_contains("maximum")) high = max->to_number<double>();
    return json::value(low + (high - low) * 0.75);
  }
  if (type == "boolean") return json::value(true);
  return nullptr;
}

Result<std::unique_ptr<FakeProvider>> FakeProvider::Start(FakeProviderOptions options, int port) {
  std::unique_ptr<FakeProvider> fake(new FakeProvider());
  fake->options_ = options;
  FakeProvider* self = fake.get();
  SLUICE_ASSIGN_OR_RETURN(
      fake->server_, http::LoopbackServer::Start(
                         [self](const http::HttpRequest& request) { return self->Handle(request); },
                         "127.0.0.1", port));
  return fake;
}

std::string FakeProvider::openai_url() const { return server_->base_url() + "/v1"; }
std::string FakeProvider::bedrock_url() const { return server_->base_url(); }

void FakeProvider::SetLatency(std::chrono::milliseconds latency) {
  std::lock_guard lock(mu_);
  options_.latency = latency;
}

void FakeProvider::Throttle(int count, std::chrono::milliseconds retry_after, bool in_ms) {
  std::lock_guard lock(mu_);
  throttle_left_ = count;
  throttle_after_ = retry_after;
  throttle_in_ms_ = in_ms;
}

void FakeProvider::SetOutage(bool down) {
  std::lock_guard lock(mu_);
  outage_ = down;
}

void FakeProvider::SetQuotaExhausted(bool exhausted) {
  std::lock_guard lock(mu_);
  quota_exhausted_ = exhausted;
}

void FakeProvider::RefuseEmbeddingInputsContaining(std::string needle) {
  std::lock_guard lock(mu_);
  refused_input_ = std::move(needle);
}

std::vector<size_t> FakeProvider::embedding_batches() const {
  std::lock_guard lock(mu_);
  return embedding_batches_;
}

void FakeProvider::SendMalformed(int count) {
  std::lock_guard lock(mu_);
  malformed_left_ = count;
}

void FakeProvider::AnswerChatsWith(std::string answer, std::string schema_name) {
  std::lock_guard lock(mu_);
  canned_.emplace_back(std::move(schema_name), std::move(answer));
}

int64_t FakeProvider::requests() const {
  std::lock_guard lock(mu_);
  return static_cast<int64_t>(arrivals_.size());
}

int64_t FakeProvider::requests_of(const std::string& kind) const {
  std::lock_guard lock(mu_);
  auto it = by_kind_.find(kind);
  return it == by_kind_.end() ? 0 : it->second;
}

int64_t FakeProvider::peak_concurrency() const {
  std::vector<std::pair<Clock::time_point, int>> events;
  {
    std::lock_guard lock(mu_);
    for (const auto& [begin, end] : busy_) {
      events.emplace_back(begin, +1);
      events.emplace_back(end, -1);
    }
  }
  std::sort(events.begin(),
            events.end());  // an answer (-1) sorts before an arrival at the same instant
  int64_t now = 0, peak = 0;
  for (const auto& [at, delta] : events) peak = std::max(peak, now += delta);
  return peak;
}

int64_t FakeProvider::max_arrivals_within(std::chrono::milliseconds window) const {
  std::vector<Clock::time_point> arrivals;
  {
    std::lock_guard lock(mu_);
    arrivals = arrivals_;
  }
  std::sort(arrivals.begin(), arrivals.end());
  int64_t best = 0;
  size_t begin = 0;
  for (size_t end = 0; end < arrivals.size(); ++end) {
    while (arrivals[end] - arrivals[begin] >= window) ++begin;
    best = std::max(best, static_cast<int64_t>(end - begin + 1));
  }
  return best;
}

std::vector<json::object> FakeProvider::chat_requests() const {
  std::lock_guard lock(mu_);
  return chat_requests_;
}

http::HttpReply FakeProvider::Handle(const http::HttpRequest& request) {
  Clock::time_point now = Clock::now();
  std::string path = request.path;
  bool bedrock = path.starts_with("/model/");
  std::string kind = bedrock                              ? path.substr(path.rfind('/') + 1)
                     : path == "/v1/chat/completions"     ? "chat"
                     : path == "/v1/embeddings"           ? "embeddings"
                     : path == "/v1/audio/transcriptions" ? "transcriptions"
                     : path == "/v1/models"               ? "models"
                                                          : "unknown";
  std::lock_guard lock(mu_);
  arrivals_.push_back(now);
  ++by_kind_[kind];
  busy_.emplace_back(now, now + options_.latency);
  auto reply = [&](http::HttpReply r) {
    r.delay = options_.latency;
    if (options_.advertised_requests_per_minute > 0) {
      int64_t recent = std::count_if(arrivals_.begin(), arrivals_.end(), [&](Clock::time_point t) {
        return now - t < std::chrono::minutes(1);
      });
      r.headers.emplace_back("x-ratelimit-limit-requests",
                             std::to_string(options_.advertised_requests_per_minute));
      r.headers.emplace_back(
          "x-ratelimit-remaining-requests",
          std::to_string(std::max<int64_t>(0, options_.advertised_requests_per_minute - recent)));
      r.headers.emplace_back("x-ratelimit-reset-requests", "1s");
    }
    return r;
  };

  if (bedrock && !request.Header("authorization").starts_with("AWS4-HMAC-SHA256 Credential=")) {
    http::HttpReply r = JsonReply(403, json::object{{"message", "missing or malformed signature"}});
    r.headers.emplace_back("x-amzn-ErrorType", "UnrecognizedClientException");
    return reply(r);
  }
  if (outage_)
    return reply(JsonReply(503, json::object{{"error", {{"message", "the model is down"}}}}));
  if (options_.failure_percent > 0 && kind != "models" &&
      static_cast<int>(random_() % 100) < options_.failure_percent) {
    return reply(JsonReply(500, json::object{{"error", {{"message", "an injected failure"}}}}));
  }
  if (quota_exhausted_) {
    if (bedrock) {
      http::HttpReply r =
          JsonReply(400, json::object{{"message", "quota exceeded for this account"}});
      r.headers.emplace_back("x-amzn-ErrorType", "ServiceQuotaExceededException");
      return reply(r);
    }
    return reply(JsonReply(
        429, json::object{{"error",
                           {{"message", "You exceeded your current quota, please check your plan."},
                            {"type", "insufficient_quota"},
                            {"code", "insufficient_quota"}}}}));
  }
  if (throttle_left_ > 0) {
    --throttle_left_;
    http::HttpReply r = JsonReply(
        429, json::object{
                 {"error", {{"message", "Rate limit reached"}, {"code", "rate_limit_exceeded"}}}});
    if (throttle_in_ms_) {
      r.headers.emplace_back("retry-after-ms", std::to_string(throttle_after_.count()));
    } else {
      r.headers.emplace_back("Retry-After", std::to_string((throttle_after_.count() + 999) / 1000));
    }
    if (bedrock) r.headers.emplace_back("x-amzn-ErrorType", "ThrottlingException");
    return reply(r);
  }

  if (kind == "models") {
    return reply(JsonReply(
        200, json::object{
                 {"object", "list"},
                 {"data", json::array{json::object{{"id", "fake-model"}, {"object", "model"}}}}}));
  }
  boost::system::error_code ec;
  json::value body = json::parse(request.body, ec);
  if (kind == "transcriptions") {
    // Two segments, as verbose_json gives them; times within any chunk of 4 s or more.
    return reply(JsonReply(
        200,
        json::object{
            {"text", "a fake transcript of the audio"},
            {"language", "english"},
            {"segments",
             json::array{json::object{{"start", 0.5}, {"end", 1.5}, {"text", " a fake transcript"}},
                         json::object{{"start", 2.0}, {"end", 3.0}, {"text", " of the audio"}}}}}));
  }
  if (ec || !body.is_object()) {
    return reply(JsonReply(
        400,
        json::object{{"error", {{"message", "the body is not JSON"}, {"code", "invalid_json"}}}}));
  }
  const json::object& o = body.as_object();
  uint64_t seed = std::hash<std::string>{}(request.body);
  auto tokens = [](size_t chars) { return static_cast<int64_t>(chars / 4 + 1); };

  if (kind == "embeddings") {
    json::array data;
    int64_t used = 0;
    const json::value* input = o.if_contains("input");
    // vLLM's multimodal form: one chat message instead of inputs.
    const json::value* messages = o.if_contains("messages");
    json::array inputs = input && input->is_array() ? input->as_array()
                         : input                    ? json::array{*input}
                         : messages                 ? json::array{ImageUrlOf(*messages)}
                                                    : json::array{""};
    embedding_batches_.push_back(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      std::string text = inputs[i].is_string() ? std::string(inputs[i].as_string()) : "";
      if (!refused_input_.empty() && text.find(refused_input_) != std::string::npos) {
        return reply(
            JsonReply(400, json::object{{"error",
                                         {{"message", StrCat("input ", i, " is not a valid image")},
                                          {"type", "invalid_request_error"}}}}));
      }
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      std::string text = inputs[i].is_string() ? std::string(inputs[i].as_string()) : "";
      used += tokens(text.size());
      json::array vector;
      for (double x : FakeEmbedding(text, false, options_.dimensions)) vector.push_back(x);
      data.push_back(json::object{{"object", "embedding"}, {"index", i}, {"embedding", vector}});
    }
    return reply(JsonReply(
        200, json::object{{"object", "list"},
                          {"data", data},
                          {"model", o.contains("model") ? o.at("model") : json::value("fake")},
                          {"usage", {{"prompt_tokens", used}, {"total_tokens", used}}}}));
  }
  if (kind == "invoke") {
    // Titan: a text, or (multimodal) an image in base64.
    bool image = o.contains("inputImage") && o.at("inputImage").is_string();
    std::string text = o.contains("inputText") && o.at("inputText").is_string()
                           ? std::string(o.at("inputText").as_string())
                       : image ? std::string(o.at("inputImage").as_string())
                               : "";
    json::array vector;
    for (double x : FakeEmbedding(text, image, options_.dimensions)) vector.push_back(x);
    return reply(JsonReply(
        200, json::object{{"embedding", vector}, {"inputTextTokenCount", tokens(text.size())}}));
  }
  if (kind == "chat" || kind == "converse") {
    chat_requests_.push_back(o);
    const json::object* schema = nullptr;
    if (kind == "chat") {
      if (const json::value* format = o.if_contains("response_format"))
        schema = &format->at("json_schema").at("schema").as_object();
    } else if (const json::value* tools = o.if_contains("toolConfig")) {
      schema = &tools->at("tools").at(0).at("toolSpec").at("inputSchema").at("json").as_object();
    }
    std::string content = schema ? json::serialize(ValueForSchema(*schema, seed))
                                 : "A fake description of the media.";
    std::string name;
    if (const json::value* format = o.if_contains("response_format"))
      name = std::string(format->at("json_schema").at("name").as_string());
    for (auto it = canned_.begin(); it != canned_.end(); ++it) {
      if (it->first.empty() || it->first == name) {
        content = std::move(it->second);
        canned_.erase(it);
        break;
      }
    }
    bool malformed = malformed_left_ > 0;
    if (malformed) {
      --malformed_left_;
      content = "Sure! Here is the JSON you asked for: {\"tags\": [";
    }
    int64_t in = tokens(request.body.size()), out = tokens(content.size());
    if (kind == "chat") {
      return reply(JsonReply(
          200,
          json::object{
              {"id", "chatcmpl-fake"},
              {"object", "chat.completion"},
              {"model", o.contains("model") ? o.at("model") : json::value("fake")},
              {"choices",
               json::array{json::object{{"index", 0},
                                        {"message", {{"role", "assistant"}, {"content", content}}},
                                        {"finish_reason", "stop"}}}},
              {"usage",
               {{"prompt_tokens", in}, {"completion_tokens", out}, {"total_tokens", in + out}}}}));
    }
    json::object block;
    if (schema && !malformed) {
      block = {
          {"toolUse",
           {{"toolUseId", "tooluse-fake"}, {"name", "result"}, {"input", json::parse(content)}}}};
    } else {
      block = {{"text", content}};
    }
    return reply(JsonReply(
        200,
        json::object{
            {"output", {{"message", {{"role", "assistant"}, {"content", json::array{block}}}}}},
            {"stopReason", schema ? "tool_use" : "end_turn"},
            {"usage", {{"inputTokens", in}, {"outputTokens", out}, {"totalTokens", in + out}}}}));
  }
  return reply(
      JsonReply(404, json::object{{"error", {{"message", StrCat("no route ", request.path)}}}}));
}

}  // namespace sluice::testing
