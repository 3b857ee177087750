#include "methods/method.h"

#include <absl/container/inlined_vector.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "common/json_text.h"
#include "common/strings.h"

namespace sluice::methods {
namespace {

std::string_view PlacementName(Placement placement) {
  return placement == Placement::kCpuPool ? "cpu_pool" : "event_loop";
}

}  // namespace

std::string_view JsonKindName(json::kind kind) {
  switch (kind) {
    case json::kind::bool_:
      return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
    case json::kind::null:
      return "null";
  }
  return "value";
}

Result<json::object> ResolveParams(const MethodSpec& spec, const json::object& given) {
  json::object out = spec.params;
  for (const auto& [key, value] : given) {
    auto it = spec.params.find(key);
    if (it == spec.params.end()) {
      std::string known;
      for (const auto& [name, unused] : spec.params)
        StrAppend(known, known.empty() ? "" : ", ", name);
      return absl::InvalidArgumentError(
          StrCat(spec.name, " has no parameter '", std::string_view(key), "'",
                 known.empty() ? " (it takes none)" : StrCat(" (it takes: ", known, ")")));
    }
    if (JsonKindName(it->value().kind()) != JsonKindName(value.kind())) {
      return absl::InvalidArgumentError(StrCat(spec.name, " parameter '", std::string_view(key),
                                               "' must be a ", JsonKindName(it->value().kind()),
                                               ", not a ", JsonKindName(value.kind())));
    }
    out[key] = value;
  }
  return out;
}

bool Accepts(const MethodSpec& spec, MediaKind kind) {
  return spec.kinds.empty() ||
         std::find(spec.kinds.begin(), spec.kinds.end(), kind) != spec.kinds.end();
}

void AppendCanonicalJson(std::string& out, const json::value& value) {
  if (const json::object* object = value.if_object()) {
    // Few members: a small array sorted in place allocates once, if at all.
    absl::InlinedVector<const json::key_value_pair*, 8> members;
    for (const auto& member : *object) members.push_back(&member);
    std::sort(members.begin(), members.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
    out += '{';
    bool first = true;
    for (const auto* member : members) {
      if (!std::exchange(first, false)) out += ',';
      AppendJsonString(out, member->key());
      out += ':';
      AppendCanonicalJson(out, member->value());
    }
    out += '}';
    return;
  }
  if (const json::array* array = value.if_array()) {
    out += '[';
    bool first = true;
    for (const auto& element : *array) {
      if (!std::exchange(first, false)) out += ',';
      AppendCanonicalJson(out, element);
    }
    out += ']';
    return;
  }
  AppendSerializedJson(out, value);
}

std::string CanonicalJson(const json::value& value) {
  std::string out;
  AppendCanonicalJson(out, value);
  return out;
}

json::object SpecToJson(const MethodBase& method) {
  const MethodSpec& spec = method.spec();
  json::array kinds, inputs;
  for (MediaKind kind : spec.kinds) kinds.emplace_back(MediaKindName(kind));
  for (const auto& input : spec.inputs) inputs.emplace_back(input);
  return json::object{{"name", spec.name},
                      {"version", spec.version},
                      {"kinds", kinds},
                      {"inputs", inputs},
                      {"output", spec.output},
                      {"placement", PlacementName(method.placement())},
                      {"provider", spec.provider},
                      {"description", spec.description},
                      {"params", spec.params}};
}

Cost& Cost::operator+=(const Cost& other) {
  calls += other.calls;
  inputs += other.inputs;
  retries += other.retries;
  input_tokens += other.input_tokens;
  output_tokens += other.output_tokens;
  bytes += other.bytes;
  provider_millis += other.provider_millis;
  return *this;
}

double NumberParam(const json::object& params, std::string_view name) {
  return params.at(name).to_number<double>();
}

double RoundedSeconds(double seconds) { return std::round(seconds * 1000.0) / 1000.0; }

Status RequireRange(const json::object& params, std::string_view name, double min, double max) {
  const json::value* value = params.if_contains(name);
  double number = value && value->is_number() ? value->to_number<double>() : min - 1;
  if (number >= min && number <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(StrCat(name, " must be between ", min, " and ", max, ", not ",
                                           value ? JsonText(*value) : "missing"));
}

Result<json::object> ResolveMethodParams(const MethodBase& method, const json::object& given) {
  SLUICE_ASSIGN_OR_RETURN(json::object params, ResolveParams(method.spec(), given));
  SLUICE_RETURN_IF_ERROR(method.CompleteParams(params));
  return params;
}

std::optional<std::vector<uint8_t>> ThumbOf(const json::value& output) {
  const json::object* object = output.if_object();
  const json::value* field = object ? object->if_contains("thumb") : nullptr;
  if (!field || !field->is_string() || field->get_string().size() != kThumbSide * kThumbSide)
    return std::nullopt;
  std::vector<uint8_t> levels;
  levels.reserve(kThumbSide * kThumbSide);
  for (char c : field->get_string()) {
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) return std::nullopt;
    levels.push_back(static_cast<uint8_t>(digit * 16 + 8));
  }
  return levels;
}

std::optional<uint64_t> HashOf(const json::value& output) {
  const json::object* object = output.if_object();
  const json::value* field = object ? object->if_contains("phash") : nullptr;
  if (!field || !field->is_string() || field->get_string().size() != 16) return std::nullopt;
  uint64_t value = 0;
  for (char c : field->get_string()) {
    int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (digit < 0) return std::nullopt;
    value = value << 4 | static_cast<uint64_t>(digit);
  }
  return value;
}

std::optional<Embedding> EmbeddingOf(const json::value& output) {
  const json::object* object = output.if_object();
  const json::value* model = object ? object->if_contains("model") : nullptr;
  const json::value* vector = object ? object->if_contains("vector") : nullptr;
  const json::value* dimensions = object ? object->if_contains("dimensions") : nullptr;
  if (!model || !model->is_string() || model->as_string().empty() || !vector ||
      !vector->is_array() || vector->as_array().empty())
    return std::nullopt;
  Embedding embedding{.model = std::string(model->as_string())};
  embedding.vector.reserve(vector->as_array().size());
  for (const json::value& x : vector->as_array()) {
    if (!x.is_number()) return std::nullopt;
    embedding.vector.push_back(static_cast<float>(x.to_number<double>()));
  }
  if (dimensions && (!dimensions->is_number() || dimensions->to_number<double>() !=
                                                     static_cast<double>(embedding.vector.size())))
    return std::nullopt;
  return embedding;
}

bool IsSetMethod(const MethodBase* method) {
  return dynamic_cast<const SetMethod*>(method) || dynamic_cast<const AsyncSetMethod*>(method);
}

std::optional<ResultInput> ParseResultInput(std::string_view input) {
  if (ConsumePrefix(input, "result:")) return ResultInput{input, false};
  if (ConsumePrefix(input, "result?:")) return ResultInput{input, true};
  return std::nullopt;
}

}  // namespace sluice::methods
