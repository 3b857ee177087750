// The contract between AI-method authors and the pipeline (DESIGN.md §4).
//
// A method takes one item (its stored file, its decoded image, earlier steps' results) or a whole
// set, and returns a JSON result. Prompts, model calls, parsing and retries live inside the
// method; the pipeline sees none of it. Methods do no I/O of their own beyond their provider:
// files they produce (a thumbnail) are returned as artifacts, which the framework stores.
//
//   Method       synchronous; the framework runs it on the CPU pool. Must be thread-safe (const).
//   AsyncMethod  awaitable, for remote calls; runs on the event loop. Never blocks.
//   StreamMethod synchronous, over a video's or audio file's decoded frames and samples: a sink
//                fed by the item's one decoding pass, shared with every other stream step of
//                the item that runs at the same time (media/stream.h).
//   AsyncStreamMethod  the same sink, then an awaitable remote call with what it gathered.
//   SetMethod    synchronous, over all item results of a set.
//
// A method never starts threads. Exceptions escaping Run are caught by the framework and fail
// only the item (cause "method_threw").
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/content_type.h"
#include "common/status.h"
#include "media/image.h"
#include "media/stream.h"

namespace sluice::methods {

namespace json = boost::json;

// Where a method runs. Not declared but derived from the class a method derives from: Method
// and SetMethod run on the CPU pool, AsyncMethod and AsyncSetMethod on the event loop.
enum class Placement { kCpuPool, kEventLoop };

struct MethodSpec {
  // Stable, dotted: "image.phash", "ocr.tesseract", "set.summary".
  std::string name;
  // Bump whenever the output for the same input changes: it is part of every step key.
  int version = 1;
  // Media kinds the method accepts; empty for any. Set methods leave it empty.
  std::vector<MediaKind> kinds;
  // What it reads: "file" (the stored bytes), "image" (decoded pixels, shared per item),
  // "stream" (a video's or audio file's frames and samples: stream methods only),
  // "result:<method>" (an earlier step's output), "result?:<method>" (the same when the item
  // has it: waited for when the pipeline runs that method, never required), "set" (the set's
  // items; set methods, which see of each item's results only those some step of the
  // pipeline reads: a set method lists every result it reads, as "result?:<method>" when
  // optional).
  std::vector<std::string> inputs;
  // Output kind: "json" (with optional artifacts), "embedding" (json of the form {model,
  // dimensions, vector: [floats]}: the framework also stores the vector in the database's
  // embeddings and the vector index of (method, model)), "hash" (json holding a 64-bit
  // perceptual hash as 16 hex digits in "phash": stored per content and kept in the method's
  // hash index, which set methods search through SetScope::known), or "set" for set methods.
  std::string output = "json";
  // The provider it draws on ("" for local methods): the unit of rate limits and breakers.
  std::string provider;
  std::string description;
  // Every parameter the method accepts, with its default. Others are refused.
  json::object params;
};

// One item as a method sees it. Cheap to copy (pointers into the step's owner).
struct ItemContext {
  std::string sha256;
  std::string mime;
  MediaKind kind = MediaKind::kOther;
  int64_t size = 0;
  // The stored bytes, readable for the duration of the call.
  std::filesystem::path file;
  // Decoded on first use and shared by every step of the item. Null when not an image.
  media::SharedImage* image = nullptr;
  // The decoding pass of a video or audio item, run by the framework for its StreamMethods.
  // Null for other kinds.
  media::DecodePass* stream = nullptr;
  // Outputs of earlier steps, by method name.
  const json::object* results = nullptr;
  // The bytes of artifact `name` of the earlier step `method` (a keyframe of video.shots, say):
  // a method may read the artifacts of the results it reads. NotFound for an unknown step or
  // name; the store's error otherwise. Set by the framework for asynchronous methods (it
  // awaits the store); null for the others.
  std::function<boost::asio::awaitable<Result<std::string>>(std::string method, std::string name)>
      read_artifact;
};

// A file a method produced; the framework stores it content-addressed and lists its key in the
// step result under `name`.
struct Artifact {
  std::string name;
  std::string mime;
  std::string bytes;
};

// What a call cost: remote calls, their retries, tokens and time waiting on the provider for
// remote methods; bytes processed for local methods.
struct Cost {
  int64_t calls = 0;
  // Inputs those calls carried for this item: an embedding request gathers many items' inputs,
  // so a run's ledger shows fewer calls than inputs.
  int64_t inputs = 0;
  int64_t retries = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t bytes = 0;
  double provider_millis = 0;

  Cost& operator+=(const Cost& other);
};

struct MethodOutput {
  json::value value;
  std::vector<Artifact> artifacts;
  Cost cost;
};

class MethodBase {
 public:
  virtual ~MethodBase() = default;
  virtual const MethodSpec& spec() const = 0;
  // Where it runs: fixed by the class it derives from (one source of truth).
  virtual Placement placement() const = 0;
  // Completes params whose defaults come from configuration (a provider's model), after the
  // spec's defaults were applied. InvalidArgument for values the method refuses.
  virtual Status CompleteParams(json::object& /*params*/) const { return absl::OkStatus(); }
};

class Method : public MethodBase {
 public:
  Placement placement() const final { return Placement::kCpuPool; }
  // `params` are resolved (defaults filled, types checked). Errors fail the item: InvalidArgument /
  // FailedPrecondition for input the method cannot handle, with a cause.
  virtual Result<MethodOutput> Run(const ItemContext& item, const json::object& params) const = 0;
};

class AsyncMethod : public MethodBase {
 public:
  Placement placement() const final { return Placement::kEventLoop; }
  virtual boost::asio::awaitable<Result<MethodOutput>> Run(ItemContext item,
                                                           json::object params) const = 0;
};

// The part of a stream method the decoding pass sees: a sink per item.
class StreamReader {
 public:
  virtual ~StreamReader() = default;
  // A sink for one item with resolved `params`. Errors fail only this step.
  virtual Result<std::unique_ptr<media::StreamSink>> NewSink(const ItemContext& item,
                                                             const json::object& params) const = 0;
};

// A method whose input is the item's decoded stream. The framework asks each stream step of a
// wave for a sink, runs the item's decoding pass once over all of them (on the CPU pool), then
// asks each for its output. Must be thread-safe (const); the sink holds the per-item state.
class StreamMethod : public MethodBase, public StreamReader {
 public:
  Placement placement() const final { return Placement::kCpuPool; }
  // The step's output from `sink` after a whole pass (`stats`), on the CPU pool. Errors as for
  // Method::Run.
  virtual Result<MethodOutput> Finish(media::StreamSink& sink, const media::PassStats& stats,
                                      const ItemContext& item,
                                      const json::object& params) const = 0;
};

// A stream method that ends with a remote call: its sink fills during the shared pass (CPU
// pool), then Finish sends what it gathered to a provider, on the event loop. Never blocks.
class AsyncStreamMethod : public MethodBase, public StreamReader {
 public:
  Placement placement() const final { return Placement::kEventLoop; }
  virtual boost::asio::awaitable<Result<MethodOutput>> Finish(
      std::unique_ptr<media::StreamSink> sink, media::PassStats stats, ItemContext item,
      json::object params) const = 0;
};

// One item of a set as a set method sees it.
struct SetItem {
  std::string url;
  std::string sha256;  // empty for items that failed before storing
  std::string kind;
  bool ok = false;
  json::object results;  // by method name
};

// A set method may ask for more item steps — another cycle over stored media.
struct ItemRerun {
  std::string sha256;
  std::vector<std::string> methods;
};

struct SetOutput {
  json::value value;
  std::vector<ItemRerun> rerun;
  Cost cost;
};

// A content of an earlier set near a hash (KnownImages::Near).
struct KnownImage {
  std::string sha256;
  int distance = 0;  // differing bits
  struct Holder {
    std::string set, url;
  };
  std::vector<Holder> items;  // its ok items in other sets, by set then URL
};

// What the sets analysed before hold, for set methods that compare a set with them ("is this
// creative already known?"). The pipeline provides it over the hash indexes and the catalog.
// Blocking (an index search and a database query); thread-safe.
class KnownImages {
 public:
  virtual ~KnownImages() = default;
  // For each of `hashes` (by hash method `method`, "image.phash"), the contents held by sets
  // other than `set` whose hash is at most `max_distance` bits away, nearest first, at most
  // `max_hits`. InvalidArgument for max_distance outside 0–64 or max_hits below 1; the index's
  // and the catalog's errors.
  virtual Result<std::vector<std::vector<KnownImage>>> Near(const std::string& method,
                                                            std::span<const uint64_t> hashes,
                                                            int max_distance, int max_hits,
                                                            const std::string& set) const = 0;
};

// What a set method sees beyond its items.
struct SetScope {
  std::string set;
  const KnownImages* known = nullptr;  // null when nothing is known (a method run alone)
};

class SetMethod : public MethodBase {
 public:
  Placement placement() const final { return Placement::kCpuPool; }
  virtual Result<SetOutput> Run(const std::vector<SetItem>& items, const json::object& params,
                                const SetScope& scope) const = 0;
};

// A set method that calls a provider: awaitable, on the event loop.
class AsyncSetMethod : public MethodBase {
 public:
  Placement placement() const final { return Placement::kEventLoop; }
  virtual boost::asio::awaitable<Result<SetOutput>> Run(std::vector<SetItem> items,
                                                        json::object params) const = 0;
};

// Whether `method` runs over sets (SetMethod or AsyncSetMethod).
bool IsSetMethod(const MethodBase* method);

// An input naming an earlier step's result: "result:m" (required) or "result?:m" (optional).
struct ResultInput {
  std::string_view method;
  bool optional = false;
};
// std::nullopt for inputs that are not results ("file", "image", "set").
std::optional<ResultInput> ParseResultInput(std::string_view input);

// `given` checked against the spec's params and completed with defaults. InvalidArgument naming
// the parameter for an unknown name or a value of the wrong JSON type.
Result<json::object> ResolveParams(const MethodSpec& spec, const json::object& given);

// For CompleteParams: InvalidArgument "NAME must be between MIN and MAX, not VALUE" unless the
// numeric param `name` lies in [min, max]. Checked when a pipeline is loaded, so a bad value is
// refused before anything runs.
Status RequireRange(const json::object& params, std::string_view name, double min, double max);

// The numeric param `name` of resolved params (its presence and type were checked when they
// were resolved).
double NumberParam(const json::object& params, std::string_view name);

// Seconds rounded to the millisecond, as result documents give times.
double RoundedSeconds(double seconds);

// ResolveParams, then the method's CompleteParams: what every step of `method` runs with.
Result<json::object> ResolveMethodParams(const MethodBase& method, const json::object& given);

// Whether the method accepts items of `kind`.
bool Accepts(const MethodSpec& spec, MediaKind kind);

// Compact JSON with object keys sorted at every level: the same value always prints the same.
std::string CanonicalJson(const json::value& value);
// The same text, appended to `out`.
void AppendCanonicalJson(std::string& out, const json::value& value);

// JSON Schema's name of a kind of value: "boolean", "number" (integers too), "string", "array",
// "object" or "null".
std::string_view JsonKindName(json::kind kind);

// The method's spec and placement as JSON (for `sluice methods --json`).
json::object SpecToJson(const MethodBase& method);

// The vector an "embedding" method's output holds ({model, dimensions, vector}), with its model;
// std::nullopt when the output does not have that form (no model, an empty vector, a value that
// is not a number, or a dimension that disagrees with the vector).
struct Embedding {
  std::string model;
  std::vector<float> vector;
};
std::optional<Embedding> EmbeddingOf(const json::value& output);

// The 64-bit hash a "hash" method's output holds (16 hex digits in "phash"); std::nullopt when
// the output does not have that form.
std::optional<uint64_t> HashOf(const json::value& output);

// The small grey picture a "hash" method's output may hold beside its hash, for checking what
// the hash alone cannot tell apart (set.near_duplicates): "thumb", kThumbSide² hex digits, one
// per pixel (its grey level / 16), rows top to bottom, of the whole picture squeezed to a
// square. std::nullopt when absent or malformed.
inline constexpr int kThumbSide = 32;
std::optional<std::vector<uint8_t>> ThumbOf(const json::value& output);

// An embedding method whose model also places text in the space of its outputs — a multimodal
// model (CLIP, Titan Multimodal) or a text embedding model: what `sluice search --text` asks for
// the query's vector. Implemented beside AsyncMethod by the methods that can (embed.image,
// embed.text); a method without it cannot be searched by text.
class TextQueryEmbedder {
 public:
  virtual ~TextQueryEmbedder() = default;
  // The embedding of `text` by the model of `params` (resolved with ResolveMethodParams).
  // Errors: as the method's steps (the provider's, "no_providers").
  virtual boost::asio::awaitable<Result<Embedding>> EmbedQueryText(std::string text,
                                                                   json::object params) const = 0;
};

}  // namespace sluice::methods
