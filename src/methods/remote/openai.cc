// The OpenAI-compatible wire format: /chat/completions (images as data URLs, JSON-schema
// structured output), /embeddings, /audio/transcriptions. Served by OpenAI, vLLM, llama.cpp's
// server, LiteLLM and Ollama alike.
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <utility>

#include "common/json_text.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "methods/remote/provider.h"

namespace sluice::methods::remote {
namespace {

// {"error": {"message", "type", "code"}}; OpenAI marks an exhausted quota "insufficient_quota".
Status ClassifyOpenAi(const http::ClientResponse& response, std::string_view provider) {
  boost::system::error_code ec;
  json::value body = json::parse(response.body, ec);
  std::string detail, code;
  if (!ec && body.is_object()) {
    if (const json::value* error = body.as_object().if_contains("error")) {
      if (error->is_object()) {
        const json::object& e = error->as_object();
        if (const json::value* m = e.if_contains("message"); m && m->is_string())
          detail = std::string(m->as_string());
        for (const char* field : {"code", "type"}) {
          if (const json::value* c = e.if_contains(field); c && c->is_string() && code.empty())
            code = std::string(c->as_string());
        }
      } else if (error->is_string()) {
        detail = std::string(error->as_string());
      }
    }
  }
  if (detail.empty()) detail = response.body.substr(0, 200);
  if (!code.empty()) detail = StrCat(code, ": ", detail);
  bool quota = code == "insufficient_quota" || code == "billing_hard_limit_reached";
  return StatusForHttp(response.status, provider, detail, quota);
}

Usage UsageOf(const json::object& body) {
  Usage usage;
  if (const json::value* u = body.if_contains("usage"); u && u->is_object()) {
    usage.input_tokens = CountIn(u->as_object(), "prompt_tokens");
    usage.output_tokens = CountIn(u->as_object(), "completion_tokens");
  }
  return usage;
}

// The /chat/completions request, written as text (what boost::json::serialize makes of the
// document {model, messages, max_tokens, temperature, response_format}, byte for byte, so that
// recorded cassettes still match) without building the document: images go in as data URLs.
std::string ChatBody(const ChatRequest& request, std::string_view model) {
  std::string body = "{\"model\":";
  AppendJsonString(body, model);
  body += ",\"messages\":[";
  bool first = true;
  auto open_message = [&body, &first](std::string_view role) {
    if (!std::exchange(first, false)) body += ',';
    body += "{\"role\":";
    AppendJsonString(body, role);
    body += ",\"content\":";
  };
  if (!request.system.empty()) {
    open_message("system");
    AppendJsonString(body, request.system);
    body += '}';
  }
  for (const Message& message : request.messages) {
    open_message(message.role);
    if (message.images.empty()) {
      AppendJsonString(body, message.text);
      body += '}';
      continue;
    }
    body += "[{\"type\":\"text\",\"text\":";
    AppendJsonString(body, message.text);
    body += '}';
    for (const ImagePart& image : message.images) {
      body += ",{\"type\":\"image_url\",\"image_url\":{\"url\":";
      std::string url = StrCat("data:", image.mime, ";base64,");
      AppendBase64(url, image.bytes);
      AppendJsonString(body, url);
      body += "}}";
    }
    body += "]}";
  }
  StrAppend(body, "],\"max_tokens\":", request.max_output_tokens, ",\"temperature\":0");
  if (!request.schema.empty()) {
    body += ",\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":";
    AppendJsonString(body, request.schema_name);
    body += ",\"schema\":";
    AppendSerializedJson(body, request.schema);
    body += ",\"strict\":true}}";
  }
  body += '}';
  return body;
}

// The reply's text and served model. `usage` gets the reply's token counts whenever its body is
// a JSON object: a reply that is refused or unreadable was still billed.
Result<ChatReply> ChatReplyOf(const http::ClientResponse& response, std::string_view provider,
                              std::string model, Usage& usage) {
  // The reply document lives only while its few fields are copied out: one arena, no
  // allocation per member.
  unsigned char arena_bytes[4096];
  json::monotonic_resource arena(arena_bytes, sizeof arena_bytes);
  SLUICE_ASSIGN_OR_RETURN(json::object o, ReplyObject(response, provider, &arena));
  usage = UsageOf(o);
  const json::value* choices = o.if_contains("choices");
  if (!choices || !choices->is_array() || choices->as_array().empty() ||
      !choices->as_array()[0].is_object())
    return BadReply(provider, "no choices");
  const json::value* message = choices->as_array()[0].as_object().if_contains("message");
  if (!message || !message->is_object()) return BadReply(provider, "no message");
  const json::object& m = message->as_object();
  if (const json::value* refusal = m.if_contains("refusal"); refusal && refusal->is_string()) {
    return Failure(absl::StatusCode::kFailedPrecondition, "refused",
                   StrCat("the model declined: ", std::string_view(refusal->as_string())));
  }
  const json::value* content = m.if_contains("content");
  if (!content || !content->is_string()) return BadReply(provider, "no message content");
  ChatReply out{
      .text = std::string(content->as_string()), .model = std::move(model), .usage = usage};
  if (const json::value* served = o.if_contains("model"); served && served->is_string())
    out.model = std::string(served->as_string());
  return out;
}

class OpenAiProvider : public Provider {
 public:
  OpenAiProvider(ProviderConfig config, asio::any_io_executor loop, Transport& transport)
      : config_(std::move(config)),
        transport_(transport),
        gate_(config_.name, loop, transport, config_.limits, &ClassifyOpenAi) {
    while (!config_.base_url.empty() && config_.base_url.back() == '/') config_.base_url.pop_back();
  }

  const ProviderConfig& config() const override { return config_; }
  ProviderGate& gate() override { return gate_; }

  asio::awaitable<Result<ChatReply>> Chat(const ChatRequest& request) override {
    std::string model = request.model.empty() ? config_.chat_model : request.model;
    double estimate = EstimateTokens(request);
    SLUICE_CO_ASSIGN_OR_RETURN(
        ProviderGate::Answer answer,
        co_await gate_.Call(Post("/chat/completions", ChatBody(request, model)), estimate));
    Usage usage;
    Result<ChatReply> reply = ChatReplyOf(answer.response, config_.name, model, usage);
    gate_.RecordTokens(usage.input_tokens, usage.output_tokens, estimate);
    if (!reply.ok()) co_return reply.status();
    reply->usage.calls = answer.usage.calls;
    reply->usage.retries = answer.usage.retries;
    reply->usage.provider_millis = answer.usage.provider_millis;
    co_return reply;
  }

  asio::awaitable<Result<EmbedReply>> Embed(std::vector<std::string> texts,
                                            std::string model) override {
    if (model.empty()) model = config_.embedding_model;
    json::array input;
    double estimate = 0;
    for (const std::string& text : texts) {
      input.emplace_back(text);
      estimate += static_cast<double>(text.size()) / 4;
    }
    json::object body{{"model", model}, {"input", std::move(input)}};
    co_return co_await Embeddings(std::move(body), texts.size(), std::move(model), estimate);
  }

  asio::awaitable<Result<EmbedReply>> EmbedImages(std::vector<ImagePart> images,
                                                  std::string model) override {
    if (model.empty()) model = config_.image_embedding_model;
    if (model.empty()) {
      co_return Failure(absl::StatusCode::kFailedPrecondition, "no_model",
                        StrCat("provider ", config_.name,
                               " names no image_embedding_model (the CLIP server's model)"));
    }
    // An image counts as a few hundred tokens in the tokens-per-minute bucket.
    constexpr double kImageTokens = 300;
    auto url = [](const ImagePart& image) {
      return StrCat("data:", image.mime, ";base64,", Base64(image.bytes));
    };
    if (config_.image_embedding_request == "messages") {
      EmbedReply out{.model = model};
      for (const ImagePart& image : images) {
        json::array content{
            json::object{{"type", "image_url"}, {"image_url", json::object{{"url", url(image)}}}}};
        json::object body{
            {"model", model},
            {"messages", json::array{json::object{{"role", "user"}, {"content", content}}}},
            {"encoding_format", "float"}};
        SLUICE_CO_ASSIGN_OR_RETURN(EmbedReply one,
                                   co_await Embeddings(std::move(body), 1, model, kImageTokens));
        out.vectors.push_back(std::move(one.vectors.at(0)));
        out.usage += one.usage;
      }
      co_return out;
    }
    json::array input;
    for (const ImagePart& image : images) input.emplace_back(url(image));
    json::object body{{"model", model},
                      {"input", std::move(input)},
                      {"modality", "image"},
                      {"encoding_format", "float"}};
    co_return co_await Embeddings(std::move(body), images.size(), std::move(model),
                                  kImageTokens * static_cast<double>(images.size()));
  }

  asio::awaitable<Result<TranscriptReply>> Transcribe(std::string audio, std::string mime,
                                                      std::string model,
                                                      std::string language) override {
    if (model.empty()) model = config_.transcription_model;
    // multipart/form-data with a boundary that cannot occur in the parts we write.
    std::string boundary = StrCat("sluice-", Sha256::HexOf(audio).substr(0, 32));
    std::string extension = mime.substr(mime.find('/') + 1);
    std::string body;
    auto field = [&](std::string_view name, std::string_view value) {
      StrAppend(body, "--", boundary, "\r\nContent-Disposition: form-data; name=\"", name,
                "\"\r\n\r\n", value, "\r\n");
    };
    field("model", model);
    // Segments with times: OpenAI Whisper, whisper.cpp's server, faster-whisper servers, vLLM.
    field("response_format", "verbose_json");
    if (!language.empty()) field("language", language);
    StrAppend(body, "--", boundary,
              "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"audio.", extension,
              "\"\r\nContent-Type: ", mime, "\r\n\r\n", audio, "\r\n--", boundary, "--\r\n");
    http::ClientRequest request = Request("/audio/transcriptions");
    request.headers.emplace_back("Content-Type",
                                 StrCat("multipart/form-data; boundary=", boundary));
    request.body = std::move(body);
    // A minute of speech is roughly a thousand tokens; the server reports no usage here.
    SLUICE_CO_ASSIGN_OR_RETURN(ProviderGate::Answer answer,
                               co_await gate_.Call(std::move(request), 1000));
    SLUICE_CO_ASSIGN_OR_RETURN(json::object reply, ReplyObject(answer.response, config_.name));
    const json::value* text = reply.if_contains("text");
    if (!text || !text->is_string()) co_return BadReply(config_.name, "no transcript text");
    TranscriptReply out{
        .text = std::string(text->as_string()), .model = model, .usage = answer.usage};
    if (const json::value* segments = reply.if_contains("segments");
        segments && segments->is_array()) {
      for (const json::value& segment : segments->as_array()) {
        const json::object* part = segment.if_object();
        if (!part || !part->contains("start") || !part->contains("end") ||
            !part->at("start").is_number() || !part->at("end").is_number() ||
            !part->contains("text") || !part->at("text").is_string())
          co_return BadReply(config_.name, "a transcript segment without start, end and text");
        TranscriptSegment read{.start_s = part->at("start").to_number<double>(),
                               .end_s = part->at("end").to_number<double>(),
                               .text = std::string(part->at("text").as_string())};
        if (!(read.start_s >= 0 && read.start_s <= read.end_s && std::isfinite(read.end_s)))
          co_return BadReply(config_.name, StrCat("a transcript segment from ", read.start_s,
                                                  " s to ", read.end_s, " s"));
        out.segments.push_back(std::move(read));
      }
    }
    if (out.segments.empty() && !out.text.empty()) {
      double duration = 0;
      if (const json::value* d = reply.if_contains("duration"); d && d->is_number())
        duration = d->to_number<double>();
      if (!(duration >= 0 && std::isfinite(duration))) duration = 0;
      out.segments.push_back({.start_s = 0, .end_s = duration, .text = out.text});
    }
    co_return out;
  }

 private:
  // POSTs `body` to /embeddings and reads `count` vectors back, in input order.
  asio::awaitable<Result<EmbedReply>> Embeddings(json::object body, size_t count, std::string model,
                                                 double estimate) {
    SLUICE_CO_ASSIGN_OR_RETURN(ProviderGate::Answer answer,
                               co_await gate_.Call(Post("/embeddings", body), estimate));
    SLUICE_CO_ASSIGN_OR_RETURN(json::object o, ReplyObject(answer.response, config_.name));
    EmbedReply out{.model = std::move(model), .usage = UsageOf(o)};
    gate_.RecordTokens(out.usage.input_tokens, 0, estimate);
    out.usage.calls = answer.usage.calls;
    out.usage.retries = answer.usage.retries;
    out.usage.provider_millis = answer.usage.provider_millis;
    const json::value* data = o.if_contains("data");
    if (!data || !data->is_array() || data->as_array().size() != count)
      co_return BadReply(config_.name, "not one embedding per input");
    out.vectors.resize(count);
    for (const json::value& entry : data->as_array()) {
      const json::value* index =
          entry.is_object() ? entry.as_object().if_contains("index") : nullptr;
      boost::system::error_code ec;
      auto i = index && index->is_number() ? index->to_number<int64_t>(ec) : -1;
      if (ec || i < 0 || static_cast<size_t>(i) >= count)
        co_return BadReply(config_.name, "an embedding without a valid index");
      if (!out.vectors[static_cast<size_t>(i)].empty())
        co_return BadReply(config_.name, StrCat("two embeddings for input ", i));
      SLUICE_CO_ASSIGN_OR_RETURN(
          out.vectors[static_cast<size_t>(i)],
          EmbeddingFrom(entry.as_object().if_contains("embedding"), config_.name));
    }
    SLUICE_CO_RETURN_IF_ERROR(SameLength(out, config_.name));
    co_return out;
  }

  http::ClientRequest Request(std::string_view path) const {
    http::ClientRequest request;
    request.method = "POST";
    request.url = StrCat(config_.base_url, path);
    if (!config_.api_key.empty())
      request.headers.emplace_back("Authorization", StrCat("Bearer ", config_.api_key));
    // The provider is the operator's choice (often a model server on this host), not input.
    request.addresses.allow_private = true;
    return request;
  }

  asio::awaitable<Status> Probe() override {
    http::ClientRequest request = Request("/models");
    request.timeout = runtime::Duration{10'000};
    SLUICE_CO_ASSIGN_OR_RETURN(http::ClientResponse response,
                               co_await transport_.Exchange(request));
    if (response.successful()) co_return absl::OkStatus();
    co_return Failure(
        response.status == 401 || response.status == 403 ? absl::StatusCode::kUnauthenticated
                                                         : absl::StatusCode::kUnavailable,
        "provider_error", StrCat("GET ", config_.base_url, "/models: HTTP ", response.status));
  }

  http::ClientRequest Post(std::string_view path, const json::object& body) const {
    return Post(path, json::serialize(body));
  }
  http::ClientRequest Post(std::string_view path, std::string body) const {
    http::ClientRequest request = Request(path);
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = std::move(body);
    return request;
  }

  ProviderConfig config_;
  Transport& transport_;
  ProviderGate gate_;
};

}  // namespace

std::unique_ptr<Provider> NewOpenAiProvider(ProviderConfig config, asio::any_io_executor loop,
                                            Transport& transport) {
  return std::make_unique<OpenAiProvider>(std::move(config), loop, transport);
}

}  // namespace sluice::methods::remote
