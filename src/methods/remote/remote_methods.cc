#include "methods/remote/remote_methods.h"

#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "common/file_io.h"
#include "common/strings.h"
#include "embed_batcher.h"  // private to this folder
#include "media/frame.h"
#include "media/image_header.h"
#include "methods/remote/json_schema.h"
#include "remote_internal.h"  // private to this folder
#include "runtime/offload.h"

namespace sluice::methods::remote {
namespace {

json::object Parse(std::string_view text) { return json::parse(text).as_object(); }

cv::Mat Scaled(const cv::Mat& picture, int max_side) {
  double scale = std::min(
      1.0, static_cast<double>(max_side) / std::max(1, std::max(picture.cols, picture.rows)));
  cv::Mat scaled;
  cv::resize(picture, scaled,
             cv::Size(std::max(1, static_cast<int>(std::lround(picture.cols * scale))),
                      std::max(1, static_cast<int>(std::lround(picture.rows * scale)))),
             0, 0, cv::INTER_AREA);
  return scaled;
}

ImagePart Jpeg(const cv::Mat& picture) {
  std::vector<uchar> jpeg;
  cv::imencode(".jpg", picture, jpeg, {cv::IMWRITE_JPEG_QUALITY, 85});
  return ImagePart{.mime = "image/jpeg", .bytes = std::string(jpeg.begin(), jpeg.end())};
}

// The pictures the model gets: for an image, the stored bytes when they are a common format
// within `max_side` and 4 MiB, otherwise decoded, scaled and re-encoded as JPEG; for a video,
// `frames` pictures sampled over its length. CPU work: call on the CPU pool.
Result<std::vector<ImagePart>> PicturesForModel(const ItemContext& item, int max_side, int frames) {
  constexpr int64_t kMaxBytes = int64_t{4} << 20;
  if (item.kind == MediaKind::kImage && item.size <= kMaxBytes &&
      (item.mime == "image/jpeg" || item.mime == "image/png" || item.mime == "image/webp" ||
       item.mime == "image/gif")) {
    // An item's steps share one header read and one file read when it has its shared image.
    std::optional<media::ImageSize> size =
        item.image ? item.image->DeclaredSize() : media::ReadImageSize(item.file);
    if (size && size->width <= max_side && size->height <= max_side) {
      if (item.image) {
        if (Result<const std::string*> bytes = item.image->Bytes(); bytes.ok())
          return std::vector<ImagePart>{{.mime = item.mime, .bytes = **bytes}};
      } else if (Result<std::string> bytes = ReadWholeFile(item.file.string()); bytes.ok()) {
        return std::vector<ImagePart>{{.mime = item.mime, .bytes = *std::move(bytes)}};
      }
    }
  }
  if (item.kind == MediaKind::kImage && item.image) {
    SLUICE_ASSIGN_OR_RETURN(const cv::Mat* picture, item.image->Get());
    return std::vector<ImagePart>{Jpeg(Scaled(*picture, max_side))};
  }
  SLUICE_ASSIGN_OR_RETURN(std::vector<cv::Mat> sampled, media::SampleFrames(item.file, frames));
  std::vector<ImagePart> parts;
  for (const cv::Mat& frame : sampled) parts.push_back(Jpeg(Scaled(frame, max_side)));
  return parts;
}

// The shots of the item's video.shots result that have keyframes: at most `count`, the longest,
// in time order. Empty when the item has no such result.
std::vector<const json::object*> ShotsToShow(const ItemContext& item, int count) {
  std::vector<const json::object*> shots;
  const json::value* result = item.results ? item.results->if_contains("video.shots") : nullptr;
  if (!result || !result->is_object()) return shots;
  const json::value* list = result->as_object().if_contains("shots");
  if (!list || !list->is_array()) return shots;
  for (const json::value& shot : list->as_array()) {
    if (shot.is_object() && shot.as_object().contains("keyframe"))
      shots.push_back(&shot.as_object());
  }
  auto length = [](const json::object* shot) {
    return shot->at("end_s").to_number<double>() - shot->at("start_s").to_number<double>();
  };
  std::stable_sort(shots.begin(), shots.end(), [&](const json::object* a, const json::object* b) {
    return length(a) > length(b);
  });
  if (shots.size() > static_cast<size_t>(count)) shots.resize(static_cast<size_t>(count));
  std::sort(shots.begin(), shots.end(), [](const json::object* a, const json::object* b) {
    return a->at("start_s").to_number<double>() < b->at("start_s").to_number<double>();
  });
  return shots;
}

// The keyframes of `shots` (ShotsToShow), read from the store.
asio::awaitable<Result<std::vector<ImagePart>>> KeyframePictures(
    ItemContext item, std::vector<const json::object*> shots) {
  std::vector<ImagePart> parts;
  for (const json::object* shot : shots) {
    SLUICE_CO_ASSIGN_OR_RETURN(
        std::string jpeg,
        co_await item.read_artifact("video.shots", std::string(shot->at("keyframe").as_string())));
    parts.push_back({.mime = "image/jpeg", .bytes = std::move(jpeg)});
  }
  co_return parts;
}

// The item's transcript (audio.transcript) as timed lines for a prompt, at most `max_chars`;
// "" when it has none.
std::string TranscriptForPrompt(const ItemContext& item, size_t max_chars) {
  const json::value* result =
      item.results ? item.results->if_contains("audio.transcript") : nullptr;
  if (!result || !result->is_object()) return "";
  const json::value* segments = result->as_object().if_contains("segments");
  if (!segments || !segments->is_array() || segments->as_array().empty()) return "";
  std::string text = "Transcript of the soundtrack, [start-end] in seconds:\n";
  for (const json::value& segment : segments->as_array()) {
    std::string line = StrCat("[", segment.at("start_s").to_number<double>(), "-",
                              segment.at("end_s").to_number<double>(), "] ",
                              std::string_view(segment.at("text").as_string()), "\n");
    if (text.size() + line.size() > max_chars) {
      text += "[the rest is cut]\n";
      break;
    }
    text += line;
  }
  return text;
}

// A chat method over one item's picture: subclasses give the spec, prompt, schema and the
// shaping of the validated answer.
class ImageChatMethod : public AsyncMethod, protected RemoteBase {
 public:
  ImageChatMethod(RemoteEnv env, MethodSpec spec, std::string prompt, json::object schema)
      : RemoteBase(env, false),
        spec_(std::move(spec)),
        prompt_(std::move(prompt)),
        schema_(std::move(schema)) {
    AddProviderParams(spec_);
    spec_.params["max_side"] = 768;
    spec_.params["max_reasks"] = 2;
  }

  const MethodSpec& spec() const override { return spec_; }
  Status CompleteParams(json::object& params) const override { return Complete(params); }

  asio::awaitable<Result<MethodOutput>> Run(ItemContext item, json::object params) const override {
    SLUICE_CO_ASSIGN_OR_RETURN(Provider * provider, ProviderFor(params));
    int max_side = static_cast<int>(params.at("max_side").to_number<int64_t>());
    if (max_side < 64 || max_side > 4096)
      co_return absl::InvalidArgumentError("max_side must be between 64 and 4096");
    int frames =
        params.contains("frames") ? static_cast<int>(params.at("frames").to_number<int64_t>()) : 1;
    if (frames < 1 || frames > 16)
      co_return absl::InvalidArgumentError("frames must be between 1 and 16");
    std::vector<ImagePart> pictures;
    // A video whose shots are known is shown one keyframe per shot, not arbitrary moments.
    std::vector<const json::object*> shots;
    if (item.kind == MediaKind::kVideo && item.read_artifact) shots = ShotsToShow(item, frames);
    if (!shots.empty()) {
      SLUICE_CO_ASSIGN_OR_RETURN(pictures, co_await KeyframePictures(item, std::move(shots)));
    } else {
      SLUICE_CO_ASSIGN_OR_RETURN(pictures, co_await runtime::RunOn(env_.runtime->cpu(), [&] {
                                   return PicturesForModel(item, max_side, frames);
                                 }));
    }
    ChatRequest request{.model = std::string(params.at("model").as_string()),
                        .system = "You analyse media for a catalogue. Answer with JSON only.",
                        .schema = SchemaFor(item),
                        .schema_name = "result"};
    std::string prompt = PromptFor(item, params);
    if (std::string transcript = TranscriptForPrompt(item, 6000); !transcript.empty())
      StrAppend(prompt, "\n\n", transcript);
    request.messages.push_back(
        {.role = "user", .text = std::move(prompt), .images = std::move(pictures)});
    SLUICE_CO_ASSIGN_OR_RETURN(
        JsonAnswer answer,
        co_await AskJson(*provider, std::move(request),
                         static_cast<int>(params.at("max_reasks").to_number<int64_t>())));
    json::object value = Shape(std::move(answer.value.as_object()), item, params);
    value["model"] = params.at("model");
    co_return MethodOutput{.value = std::move(value), .cost = answer.usage};
  }

 protected:
  virtual std::string Prompt(const json::object& /*params*/) const { return prompt_; }
  // For videos a method may ask otherwise (another prompt, another set of answers).
  virtual std::string PromptFor(const ItemContext& /*item*/, const json::object& params) const {
    return Prompt(params);
  }
  virtual const json::object& SchemaFor(const ItemContext& /*item*/) const { return schema_; }
  virtual json::object Shape(json::object value, const ItemContext& /*item*/,
                             const json::object& /*params*/) const {
    return value;
  }

 private:
  MethodSpec spec_;
  std::string prompt_;
  json::object schema_;
};

std::string Lower(std::string_view text) { return ToLower(Trim(text)); }

class TagsMethod : public ImageChatMethod {
 public:
  explicit TagsMethod(RemoteEnv env)
      : ImageChatMethod(
            env,
            {.name = "llm.tags",
             .kinds = {MediaKind::kImage},
             .inputs = {"file", "image"},
             .description = "attribute tags for an image (objects, colours, style, setting)",
             .params = {{"max_tags", 12}}},
            "",
            Parse(R"({"type":"object","properties":{"tags":{"type":"array","minItems":1,)"
                  R"("maxItems":30,"items":{"type":"string","minLength":1,"maxLength":60}}},)"
                  R"("required":["tags"],"additionalProperties":false})")) {}

 protected:
  std::string Prompt(const json::object& params) const override {
    return StrCat("List up to ", params.at("max_tags").to_number<int64_t>(),
                  " attribute tags for this image: the objects shown, colours, materials, "
                  "style, setting and mood. One or two lowercase words each, most salient first.");
  }
  json::object Shape(json::object value, const ItemContext&,
                     const json::object& params) const override {
    auto limit = static_cast<size_t>(params.at("max_tags").to_number<int64_t>());
    json::array tags;
    std::set<std::string> seen;
    for (const json::value& tag : value.at("tags").as_array()) {
      std::string text = Lower(tag.as_string());
      if (!text.empty() && seen.insert(text).second && tags.size() < limit) tags.emplace_back(text);
    }
    return {{"tags", std::move(tags)}};
  }
};

class SeoFilenameMethod : public ImageChatMethod {
 public:
  explicit SeoFilenameMethod(RemoteEnv env)
      : ImageChatMethod(
            env,
            {.name = "llm.seo_filename",
             .kinds = {MediaKind::kImage},
             .inputs = {"file", "image"},
             .description = "a descriptive, search-friendly file name and alt text for an image"},
            "Propose a search-friendly file name for this image: three to six lowercase English "
            "words joined by hyphens, most specific first, no extension. Also write alt text of "
            "one short sentence.",
            Parse(R"({"type":"object","properties":{"filename":{"type":"string","minLength":1,)"
                  R"("maxLength":120},"alt_text":{"type":"string","maxLength":300}},)"
                  R"("required":["filename","alt_text"],"additionalProperties":false})")) {}

 protected:
  json::object Shape(json::object value, const ItemContext& item,
                     const json::object&) const override {
    std::string slug;
    for (char c : Lower(value.at("filename").as_string())) {
      bool word = std::isalnum(static_cast<unsigned char>(c)) != 0;
      if (word) {
        slug += c;
      } else if (!slug.empty() && slug.back() != '-') {
        slug += '-';
      }
    }
    while (!slug.empty() && slug.back() == '-') slug.pop_back();
    if (slug.size() > 60) slug = slug.substr(0, slug.rfind('-', 60));
    if (slug.empty()) slug = "image";
    std::string extension =
        item.mime == "image/jpeg" ? "jpg" : item.mime.substr(item.mime.find('/') + 1);
    return {{"filename", StrCat(slug, ".", extension)}, {"alt_text", value.at("alt_text")}};
  }
};

class ContentTypeMethod : public ImageChatMethod {
 public:
  explicit ContentTypeMethod(RemoteEnv env)
      : ImageChatMethod(
            env,
            {.name = "llm.content_type",
             .version = 2,
             .kinds = {MediaKind::kImage, MediaKind::kVideo},
             .inputs = {"file", "image", "result?:video.shots", "result?:audio.transcript"},
             .description = "what kind of picture an image is (photo, illustration, screenshot, "
                            "...), or of content a video is (from its keyframes and transcript)",
             .params = {{"frames", 8}}},
            "Classify this image as exactly one of: photo, illustration, screenshot, "
            "text_document, chart, logo, product_shot, meme, other. Give your confidence from "
            "0 to 1.",
            Parse(R"({"type":"object","properties":{"content_type":{"type":"string","enum":)"
                  R"(["photo","illustration","screenshot","text_document","chart","logo",)"
                  R"("product_shot","meme","other"]},"confidence":{"type":"number","minimum":0,)"
                  R"("maximum":1}},"required":["content_type","confidence"],)"
                  R"("additionalProperties":false})")),
        video_schema_(
            Parse(R"({"type":"object","properties":{"content_type":{"type":"string","enum":)"
                  R"(["advertisement","product_demo","tutorial","talking_head","interview","news",)"
                  R"("sports","music_video","gaming","animation","screen_recording","vlog",)"
                  R"("test_pattern","other"]},"confidence":{"type":"number","minimum":0,)"
                  R"("maximum":1}},"required":["content_type","confidence"],)"
                  R"("additionalProperties":false})")) {}

 protected:
  std::string PromptFor(const ItemContext& item, const json::object& params) const override {
    if (item.kind != MediaKind::kVideo) return Prompt(params);
    return "These pictures are one keyframe per shot of one video, in order (or frames sampled "
           "over it). Classify the video as exactly one of: advertisement, product_demo, "
           "tutorial, talking_head, interview, news, sports, music_video, gaming, animation, "
           "screen_recording, vlog, test_pattern, other. Use the transcript when there is one. "
           "Give your confidence from 0 to 1.";
  }
  const json::object& SchemaFor(const ItemContext& item) const override {
    return item.kind == MediaKind::kVideo ? video_schema_ : ImageChatMethod::SchemaFor(item);
  }

 private:
  json::object video_schema_;
};

class DescribeMethod : public ImageChatMethod {
 public:
  explicit DescribeMethod(RemoteEnv env)
      : ImageChatMethod(
            env,
            {.name = "llm.describe",
             .version = 2,
             .kinds = {MediaKind::kImage, MediaKind::kVideo},
             .inputs = {"file", "result?:video.shots", "result?:audio.transcript"},
             .description = "a description of an image, or of a video from one keyframe per "
                            "shot (frames sampled over it when its shots are not known) and its "
                            "transcript",
             .params = {{"frames", 8}}},
            "Describe this picture (or these pictures: one keyframe per shot of one video, in "
            "order, or frames sampled over it) in two or three factual sentences for a search "
            "index, and list the main subjects. Use the transcript when there is one.",
            Parse(R"({"type":"object","properties":{"description":{"type":"string","minLength":1,)"
                  R"("maxLength":2000},"subjects":{"type":"array","maxItems":12,"items":)"
                  R"({"type":"string","maxLength":80}}},"required":["description","subjects"],)"
                  R"("additionalProperties":false})")) {}
};

// Where embed.text finds text: method and field. (Namespace constants: g++ 12 cannot keep a
// braced list of string literals in a coroutine frame.)
constexpr std::array<std::pair<std::string_view, std::string_view>, 2> kTextSources{
    {{"llm.describe", "description"}, {"ocr.tesseract", "text"}}};
// The item results llm.set_summary shows the model.
constexpr std::array<std::string_view, 4> kSummarised{"llm.content_type", "llm.tags",
                                                      "llm.describe", "ocr.tesseract"};

// The description and OCR text of an item, one per line; `sources` names where they came from.
std::string TextToEmbed(const ItemContext& item, json::array& sources) {
  std::string text;
  for (const auto& [source, field] : kTextSources) {
    const json::value* result = item.results ? item.results->if_contains(source) : nullptr;
    if (!result || !result->is_object()) continue;
    const json::value* value = result->as_object().if_contains(field);
    if (!value || !value->is_string() || Trim(value->as_string()).empty()) continue;
    StrAppend(text, text.empty() ? "" : "\n", Trim(value->as_string()));
    sources.emplace_back(source);
  }
  return text;
}

template <class Input>
using Sender = typename EmbedBatcher<Input>::Send;

std::string BatchKey(const Provider& provider, std::string_view model) {
  return StrCat(provider.config().name, "\n", model);
}

// How many inputs one embedding request of `provider` carries: images go one per request as chat
// messages and on Bedrock (Titan takes one image per call).
EmbedBatchLimits BatchLimits(const ProviderConfig& provider, bool images) {
  bool one_each =
      images && (provider.kind == "bedrock" || provider.image_embedding_request == "messages");
  return {.max_inputs = one_each ? 1 : provider.embedding_batch,
          .max_wait =
              std::chrono::milliseconds(static_cast<int64_t>(provider.embedding_batch_wait_ms))};
}

json::array VectorJson(const std::vector<float>& vector) {
  json::array out;
  out.reserve(vector.size());
  for (float x : vector) out.emplace_back(x);
  return out;
}

// A search query's text embedded alone (one query: nothing to gather) by `model`.
asio::awaitable<Result<Embedding>> EmbedQuery(Result<Provider*> provider, std::string text,
                                              std::string model) {
  SLUICE_CO_RETURN_IF_ERROR(provider.status());
  std::vector<std::string> texts;  // (g++ 12 cannot keep a braced list in a coroutine frame)
  texts.push_back(std::move(text));
  SLUICE_CO_ASSIGN_OR_RETURN(EmbedReply reply,
                             co_await (*provider)->Embed(std::move(texts), model));
  if (reply.vectors.size() != 1 || reply.vectors.front().empty())
    co_return BadReply((*provider)->config().name, "no embedding for the query text");
  co_return Embedding{.model = std::move(model), .vector = std::move(reply.vectors.front())};
}

class EmbedTextMethod : public AsyncMethod, public TextQueryEmbedder, protected RemoteBase {
 public:
  explicit EmbedTextMethod(RemoteEnv env) : RemoteBase(env, true) {
    spec_ = {.name = "embed.text",
             .inputs = {"result?:llm.describe", "result?:ocr.tesseract"},
             .output = "embedding",
             .description = "an embedding of the item's description and OCR text"};
    AddProviderParams(spec_);
  }
  const MethodSpec& spec() const override { return spec_; }
  Status CompleteParams(json::object& params) const override { return Complete(params); }

  asio::awaitable<Result<MethodOutput>> Run(ItemContext item, json::object params) const override {
    json::array sources;
    std::vector<std::string> texts{TextToEmbed(item, sources)};
    if (texts.front().empty()) {
      co_return Failure(absl::StatusCode::kFailedPrecondition, "no_text",
                        "the item has no description or OCR text to embed");
    }
    SLUICE_CO_ASSIGN_OR_RETURN(Provider * provider, ProviderFor(params));
    std::string model(params.at("model").as_string());
    Sender<std::string> send = [provider, model](std::vector<std::string> batch) {
      return provider->Embed(std::move(batch), model);
    };
    SLUICE_CO_ASSIGN_OR_RETURN(
        BatchedEmbedding embedded,
        co_await batcher_.Embed(BatchKey(*provider, model), std::move(texts.front()),
                                BatchLimits(provider->config(), /*images=*/false), send));
    json::object value{{"model", params.at("model")},
                       {"dimensions", embedded.vector.size()},
                       {"sources", std::move(sources)},
                       {"vector", VectorJson(embedded.vector)}};
    co_return MethodOutput{.value = std::move(value), .cost = embedded.cost};
  }

  asio::awaitable<Result<Embedding>> EmbedQueryText(std::string text,
                                                    json::object params) const override {
    return EmbedQuery(ProviderFor(params), std::move(text),
                      std::string(params.at("model").as_string()));
  }

 private:
  MethodSpec spec_;
  mutable EmbedBatcher<std::string> batcher_;
};

// embed.image: the picture's embedding from the provider's image embedding model (a CLIP
// server, Titan Multimodal): with a multimodal model, embed.text queries land in the same space.
class EmbedImageMethod : public AsyncMethod, public TextQueryEmbedder, protected RemoteBase {
 public:
  explicit EmbedImageMethod(RemoteEnv env) : RemoteBase(env, true) {
    spec_ = {.name = "embed.image",
             .kinds = {MediaKind::kImage},
             .inputs = {"file", "image"},
             .output = "embedding",
             .description = "an embedding of the picture from a provider's image model",
             .params = {{"max_side", 512}}};
    AddProviderParams(spec_);
  }
  const MethodSpec& spec() const override { return spec_; }
  Status CompleteParams(json::object& params) const override {
    SLUICE_RETURN_IF_ERROR(RequireRange(params, "max_side", 64, 4096));
    SLUICE_ASSIGN_OR_RETURN(const ProviderConfig* provider, ConfiguredProvider(params));
    if (params.at("model").as_string().empty()) params["model"] = provider->image_embedding_model;
    if (params.at("model").as_string().empty()) {
      const std::string& name = provider->name;
      return Failure(
          absl::StatusCode::kInvalidArgument, "no_model",
          StrCat("provider '", name, "' names no image_embedding_model: set it in [providers.",
                 name, "] or pass params.model"));
    }
    return absl::OkStatus();
  }

  asio::awaitable<Result<MethodOutput>> Run(ItemContext item, json::object params) const override {
    SLUICE_CO_ASSIGN_OR_RETURN(Provider * provider, ProviderFor(params));
    int max_side = static_cast<int>(params.at("max_side").to_number<int64_t>());
    auto pictures = [&] { return PicturesForModel(item, max_side, 1); };
    SLUICE_CO_ASSIGN_OR_RETURN(std::vector<ImagePart> images,
                               co_await runtime::RunOn(env_.runtime->cpu(), pictures));
    std::string model(params.at("model").as_string());
    if (images.size() != 1) co_return absl::InternalError("one picture per item was expected");
    Sender<ImagePart> send = [provider, model](std::vector<ImagePart> batch) {
      return provider->EmbedImages(std::move(batch), model);
    };
    SLUICE_CO_ASSIGN_OR_RETURN(
        BatchedEmbedding embedded,
        co_await batcher_.Embed(BatchKey(*provider, model), std::move(images.front()),
                                BatchLimits(provider->config(), /*images=*/true), send));
    if (embedded.vector.empty())
      co_return BadReply(provider->config().name, "no embedding for the picture");
    json::object value{{"model", params.at("model")},
                       {"dimensions", embedded.vector.size()},
                       {"vector", VectorJson(embedded.vector)}};
    co_return MethodOutput{.value = std::move(value), .cost = embedded.cost};
  }

  // The image model's text side: with a multimodal model the text lands among the pictures.
  asio::awaitable<Result<Embedding>> EmbedQueryText(std::string text,
                                                    json::object params) const override {
    return EmbedQuery(ProviderFor(params), std::move(text),
                      std::string(params.at("model").as_string()));
  }

 private:
  MethodSpec spec_;
  mutable EmbedBatcher<ImagePart> batcher_;
};

class SetSummaryMethod : public AsyncSetMethod, protected RemoteBase {
 public:
  explicit SetSummaryMethod(RemoteEnv env) : RemoteBase(env, false) {
    spec_ = {.name = "llm.set_summary",
             .inputs = {"set", "result?:llm.content_type", "result?:llm.tags",
                        "result?:llm.describe", "result?:ocr.tesseract"},
             .output = "set",
             .description = "a summary of a whole set from its items' results (tags, descriptions)",
             .params = {{"max_items", 200}, {"max_reasks", 2}}};
    AddProviderParams(spec_);
  }
  const MethodSpec& spec() const override { return spec_; }
  Status CompleteParams(json::object& params) const override { return Complete(params); }

  asio::awaitable<Result<SetOutput>> Run(std::vector<SetItem> items,
                                         json::object params) const override {
    SLUICE_CO_ASSIGN_OR_RETURN(Provider * provider, ProviderFor(params));
    auto max_items = static_cast<size_t>(params.at("max_items").to_number<int64_t>());
    std::string listing;
    size_t listed = 0, ok = 0;
    for (const SetItem& item : items) {
      if (!item.ok) continue;
      ++ok;
      if (listed >= max_items) continue;
      ++listed;
      StrAppend(listing, "- ", item.url.substr(item.url.rfind('/') + 1), " (", item.kind, ")");
      for (std::string_view method : kSummarised) {
        auto it = item.results.find(method);
        if (it == item.results.end()) continue;
        std::string text = json::serialize(it->value());
        if (text.size() > 300) text = text.substr(0, 300) + "...";
        StrAppend(listing, " ", method, "=", text);
      }
      listing += "\n";
    }
    if (ok == 0) {
      co_return Failure(absl::StatusCode::kFailedPrecondition, "empty_set",
                        "the set has no analysed items to summarise");
    }
    ChatRequest request{
        .model = std::string(params.at("model").as_string()),
        .system = "You summarise collections of media for a catalogue. Answer with JSON only.",
        .schema = Parse(R"({"type":"object","properties":{"summary":{"type":"string",)"
                        R"("minLength":1,"maxLength":3000},"themes":{"type":"array","maxItems":12,)"
                        R"("items":{"type":"string","maxLength":80}}},"required":["summary",)"
                        R"("themes"],"additionalProperties":false})"),
        .schema_name = "set_summary",
        .max_output_tokens = 800};
    request.messages.push_back(
        {.role = "user",
         .text = StrCat("This set has ", ok, " media items",
                        listed < ok ? StrCat(" (the first ", listed, " listed)") : "",
                        ". Summarise what the set contains in a paragraph and list its main "
                        "themes.\n",
                        listing)});
    SLUICE_CO_ASSIGN_OR_RETURN(
        JsonAnswer answer,
        co_await AskJson(*provider, std::move(request),
                         static_cast<int>(params.at("max_reasks").to_number<int64_t>())));
    json::object value = std::move(answer.value.as_object());
    value["model"] = params.at("model");
    value["items"] = ok;
    co_return SetOutput{.value = std::move(value), .cost = answer.usage};
  }

 private:
  MethodSpec spec_;
};

}  // namespace

asio::awaitable<Result<JsonAnswer>> AskJson(Provider& provider, ChatRequest request,
                                            int max_reasks) {
  JsonAnswer answer;
  for (int ask = 0;; ++ask) {
    Result<ChatReply> reply = co_await provider.Chat(request);
    if (!reply.ok()) co_return reply.status();
    answer.usage += reply->usage;
    Result<json::value> value = DocumentFitting(reply->text, request.schema);
    if (value.ok()) {
      answer.value = std::move(*value);
      co_return answer;
    }
    Status fits = value.status();
    if (ask >= max_reasks) {
      co_return Failure(absl::StatusCode::kFailedPrecondition, "malformed_output",
                        StrCat("the model's reply did not fit the schema after ", ask + 1,
                               " asks: ", fits.message()));
    }
    request.messages.push_back({.role = "assistant", .text = reply->text});
    request.messages.push_back(
        {.role = "user",
         .text = StrCat("That reply is not usable: ", fits.message(),
                        ". Answer again with only a JSON document that fits the schema.")});
  }
}

std::vector<std::unique_ptr<MethodBase>> NewRemoteMethods(const RemoteEnv& env) {
  std::vector<std::unique_ptr<MethodBase>> methods;
  methods.push_back(std::make_unique<TagsMethod>(env));
  methods.push_back(std::make_unique<SeoFilenameMethod>(env));
  methods.push_back(std::make_unique<ContentTypeMethod>(env));
  methods.push_back(std::make_unique<DescribeMethod>(env));
  methods.push_back(std::make_unique<EmbedTextMethod>(env));
  methods.push_back(std::make_unique<EmbedImageMethod>(env));
  methods.push_back(std::make_unique<SetSummaryMethod>(env));
  methods.push_back(NewTranscriptMethod(env));
  methods.push_back(NewClipsMethod(env));
  return methods;
}

}  // namespace sluice::methods::remote
