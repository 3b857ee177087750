// The AWS Bedrock Runtime wire format: the Converse API (images as bytes, structured output
// through a forced tool whose input schema is the wanted schema) and Titan text embeddings
// (InvokeModel), signed with SigV4 (http/sigv4.h).
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/strings.h"
#include "http/sigv4.h"
#include "methods/remote/provider.h"

namespace sluice::methods::remote {
namespace {

// x-amzn-ErrorType: "ThrottlingException:http://internal.amazon.com/..."; body {"message"}.
Status ClassifyBedrock(const http::ClientResponse& response, std::string_view provider) {
  std::string type = response.Header("x-amzn-errortype");
  type = type.substr(0, type.find(':'));
  boost::system::error_code ec;
  json::value body = json::parse(response.body, ec);
  std::string detail;
  if (!ec && body.is_object()) {
    for (const char* field : {"message", "Message"}) {
      if (const json::value* m = body.as_object().if_contains(field); m && m->is_string())
        detail = std::string(m->as_string());
    }
  }
  if (detail.empty()) detail = response.body.substr(0, 200);
  if (!type.empty()) detail = StrCat(type, ": ", detail);
  return StatusForHttp(response.status, provider, detail, type == "ServiceQuotaExceededException");
}

std::string ImageFormat(std::string_view mime) {
  std::string format(mime.substr(mime.find('/') + 1));
  return format == "jpg" ? "jpeg" : format;
}

class BedrockProvider : public Provider {
 public:
  BedrockProvider(ProviderConfig config, asio::any_io_executor loop, Transport& transport)
      : config_(std::move(config)),
        gate_(config_.name, loop, transport, config_.limits, &ClassifyBedrock) {
    if (config_.base_url.empty())
      config_.base_url = StrCat("https://bedrock-runtime.", config_.region, ".amazonaws.com");
    while (config_.base_url.back() == '/') config_.base_url.pop_back();
    config_.aws.region = config_.region;
    config_.aws.service = "bedrock";
  }

  const ProviderConfig& config() const override { return config_; }
  ProviderGate& gate() override { return gate_; }

  asio::awaitable<Result<ChatReply>> Chat(const ChatRequest& request) override {
    std::string model = request.model.empty() ? config_.chat_model : request.model;
    json::array messages;
    for (const Message& message : request.messages) {
      json::array content{json::object{{"text", message.text}}};
      for (const ImagePart& image : message.images) {
        content.push_back(json::object{
            {"image",
             {{"format", ImageFormat(image.mime)}, {"source", {{"bytes", Base64(image.bytes)}}}}}});
      }
      messages.push_back(json::object{{"role", message.role}, {"content", std::move(content)}});
    }
    json::object body{
        {"messages", std::move(messages)},
        {"inferenceConfig", {{"maxTokens", request.max_output_tokens}, {"temperature", 0}}}};
    if (!request.system.empty())
      body["system"] = json::array{json::object{{"text", request.system}}};
    if (!request.schema.empty()) {
      body["toolConfig"] = {
          {"tools", json::array{json::object{{"toolSpec",
                                              {{"name", request.schema_name},
                                               {"description", "Record the result."},
                                               {"inputSchema", {{"json", request.schema}}}}}}}},
          {"toolChoice", {{"tool", {{"name", request.schema_name}}}}}};
    }
    double estimate = EstimateTokens(request);
    SLUICE_CO_ASSIGN_OR_RETURN(http::ClientRequest call, Post(model, "converse", body));
    SLUICE_CO_ASSIGN_OR_RETURN(ProviderGate::Answer answer,
                               co_await gate_.Call(std::move(call), estimate));
    SLUICE_CO_ASSIGN_OR_RETURN(json::object o, ReplyObject(answer.response, config_.name));
    Usage usage = answer.usage;
    if (const json::value* u = o.if_contains("usage"); u && u->is_object()) {
      usage.input_tokens = CountIn(u->as_object(), "inputTokens");
      usage.output_tokens = CountIn(u->as_object(), "outputTokens");
    }
    gate_.RecordTokens(usage.input_tokens, usage.output_tokens, estimate);
    const json::value* content = nullptr;
    if (const json::value* output = o.if_contains("output"); output && output->is_object()) {
      if (const json::value* message = output->as_object().if_contains("message");
          message && message->is_object())
        content = message->as_object().if_contains("content");
    }
    if (!content || !content->is_array()) co_return BadReply(config_.name, "no output message");
    std::string text;
    for (const json::value& block : content->as_array()) {
      if (!block.is_object()) continue;
      if (const json::value* tool = block.as_object().if_contains("toolUse");
          tool && tool->is_object()) {
        if (const json::value* input = tool->as_object().if_contains("input")) {
          text = json::serialize(*input);
          break;
        }
      }
      if (const json::value* t = block.as_object().if_contains("text"); t && t->is_string())
        text += std::string_view(t->as_string());
    }
    co_return ChatReply{.text = std::move(text), .model = model, .usage = usage};
  }

  asio::awaitable<Result<EmbedReply>> Embed(std::vector<std::string> texts,
                                            std::string model) override {
    if (model.empty()) model = config_.embedding_model;
    EmbedReply out{.model = model};
    // Titan embeds one input per call.
    for (const std::string& text : texts) {
      // Bodies built before the co_await: g++ 12 cannot keep a braced list in the frame.
      json::object body;
      body["inputText"] = text;
      SLUICE_CO_ASSIGN_OR_RETURN(
          Usage usage, co_await InvokeEmbedding(model, std::move(body),
                                                static_cast<double>(text.size()) / 4, out));
      out.usage += usage;
    }
    co_return out;
  }

  asio::awaitable<Result<EmbedReply>> EmbedImages(std::vector<ImagePart> images,
                                                  std::string model) override {
    if (model.empty()) model = config_.image_embedding_model;
    if (model.empty()) {
      co_return Failure(absl::StatusCode::kFailedPrecondition, "no_model",
                        StrCat("provider ", config_.name, " names no image_embedding_model"));
    }
    EmbedReply out{.model = model};
    for (const ImagePart& image : images) {
      json::object body;
      body["inputImage"] = Base64(image.bytes);
      SLUICE_CO_ASSIGN_OR_RETURN(Usage usage,
                                 co_await InvokeEmbedding(model, std::move(body), 300, out));
      out.usage += usage;
    }
    co_return out;
  }

  asio::awaitable<Result<TranscriptReply>> Transcribe(std::string, std::string, std::string,
                                                      std::string) override {
    co_return Failure(absl::StatusCode::kUnimplemented, "not_supported",
                      StrCat("provider ", config_.name,
                             " (bedrock) has no transcription API; use an OpenAI-compatible one"));
  }

  asio::awaitable<Status> Probe() override {
    if (!config_.aws_credentials) {
      if (!config_.aws.access_key.empty() && !config_.aws.secret_key.empty())
        co_return absl::OkStatus();
      co_return Failure(absl::StatusCode::kFailedPrecondition, "no_credentials",
                        StrCat("no AWS credentials", config_.aws_problem.empty() ? "" : ": ",
                               config_.aws_problem));
    }
    Result<http::AwsCredentials> credentials = co_await config_.aws_credentials->Current();
    co_return credentials.status();
  }

 private:
  // One Titan embedding call with `body`; its vector is appended to `out`.
  asio::awaitable<Result<Usage>> InvokeEmbedding(const std::string& model, json::object body,
                                                 double estimate, EmbedReply& out) {
    SLUICE_CO_ASSIGN_OR_RETURN(http::ClientRequest call, Post(model, "invoke", body));
    SLUICE_CO_ASSIGN_OR_RETURN(ProviderGate::Answer answer,
                               co_await gate_.Call(std::move(call), estimate));
    SLUICE_CO_ASSIGN_OR_RETURN(json::object reply, ReplyObject(answer.response, config_.name));
    SLUICE_CO_ASSIGN_OR_RETURN(std::vector<float> values,
                               EmbeddingFrom(reply.if_contains("embedding"), config_.name));
    out.vectors.push_back(std::move(values));
    SLUICE_CO_RETURN_IF_ERROR(SameLength(out, config_.name));
    Usage usage = answer.usage;
    usage.input_tokens = CountIn(reply, "inputTextTokenCount");
    gate_.RecordTokens(usage.input_tokens, 0, estimate);
    co_return usage;
  }

  Result<http::ClientRequest> Post(std::string_view model, std::string_view action,
                                   const json::object& body) const {
    if (!config_.aws_credentials &&
        (config_.aws.access_key.empty() || config_.aws.secret_key.empty())) {
      return Failure(absl::StatusCode::kFailedPrecondition, "no_credentials",
                     StrCat("provider ", config_.name, ": no AWS credentials",
                            config_.aws_problem.empty() ? "" : ": ", config_.aws_problem));
    }
    http::ClientRequest request;
    request.method = "POST";
    request.url =
        StrCat(config_.base_url, "/model/", http::AwsUriEncode(model, false), "/", action);
    request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    request.body = json::serialize(body);
    request.sigv4 = config_.aws;
    request.aws_credentials = config_.aws_credentials;
    request.sigv4->sign_payload = false;     // Bedrock does not ask for x-amz-content-sha256
    request.addresses.allow_private = true;  // operator-configured endpoint
    return request;
  }

  ProviderConfig config_;
  ProviderGate gate_;
};

}  // namespace

std::unique_ptr<Provider> NewBedrockProvider(ProviderConfig config, asio::any_io_executor loop,
                                             Transport& transport) {
  return std::make_unique<BedrockProvider>(std::move(config), loop, transport);
}

}  // namespace sluice::methods::remote
