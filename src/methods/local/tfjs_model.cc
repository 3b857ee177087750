#include "methods/local/tfjs_model.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstring>
#include <set>

#include "common/file_io.h"
#include "common/strings.h"

namespace sluice::methods {

namespace json = boost::json;

namespace {

Status BadModel(const std::filesystem::path& file, std::string_view why) {
  return Failure(absl::StatusCode::kInvalidArgument, "bad_model", StrCat(file.string(), ": ", why));
}

const json::value* Member(const json::value& value, std::string_view key) {
  return value.is_object() ? value.as_object().if_contains(key) : nullptr;
}

Result<std::vector<std::string>> InboundNames(const json::value& inbound) {
  std::vector<std::string> names;
  if (!inbound.is_array() || inbound.as_array().empty()) return names;
  // One call per layer in the models this reads: [[["name", node, tensor, {kwargs}], ...]].
  if (inbound.as_array().size() != 1 || !inbound.as_array()[0].is_array())
    return absl::InvalidArgumentError("a layer called more than once");
  for (const json::value& input : inbound.as_array()[0].as_array()) {
    if (!input.is_array() || input.as_array().empty() || !input.as_array()[0].is_string())
      return absl::InvalidArgumentError("a malformed inbound node");
    names.emplace_back(input.as_array()[0].as_string());
  }
  return names;
}

// One weight's values from `bytes` at `offset` (advanced past it).
Result<std::vector<float>> Dequantise(const json::object& weight, size_t count,
                                      std::string_view bytes, size_t& offset) {
  const json::value* quantization = weight.if_contains("quantization");
  std::vector<float> values(count);
  auto take = [&](size_t width) -> Result<const unsigned char*> {
    if (bytes.size() - offset < count * width)
      return absl::InvalidArgumentError("the weight files end before the manifest does");
    const auto* start = reinterpret_cast<const unsigned char*>(bytes.data() + offset);
    offset += count * width;
    return start;
  };
  if (!quantization) {
    const json::value* dtype = weight.if_contains("dtype");
    if (dtype && (!dtype->is_string() || dtype->as_string() != "float32"))
      return absl::InvalidArgumentError(StrCat("dtype ", json::serialize(*dtype)));
    SLUICE_ASSIGN_OR_RETURN(const unsigned char* start, take(sizeof(float)));
    std::memcpy(values.data(), start, count * sizeof(float));
    return values;
  }
  const json::value* dtype = Member(*quantization, "dtype");
  const json::value* scale = Member(*quantization, "scale");
  const json::value* min = Member(*quantization, "min");
  if (!dtype || !dtype->is_string() || !scale || !scale->is_number() || !min || !min->is_number())
    return absl::InvalidArgumentError("a quantisation without dtype, scale and min");
  double step = scale->to_number<double>(), low = min->to_number<double>();
  if (dtype->as_string() == "uint8") {
    SLUICE_ASSIGN_OR_RETURN(const unsigned char* start, take(1));
    for (size_t i = 0; i < count; ++i) values[i] = static_cast<float>(start[i] * step + low);
  } else if (dtype->as_string() == "uint16") {
    SLUICE_ASSIGN_OR_RETURN(const unsigned char* start, take(2));
    for (size_t i = 0; i < count; ++i) {
      unsigned q = start[2 * i] | (static_cast<unsigned>(start[2 * i + 1]) << 8);  // little end
      values[i] = static_cast<float>(q * step + low);
    }
  } else {
    return absl::InvalidArgumentError(StrCat("quantisation to ", dtype->as_string()));
  }
  return values;
}

Status ReadWeights(const json::array& manifest, const std::filesystem::path& folder,
                   TfjsModel& model) {
  for (const json::value& group : manifest) {
    const json::value* paths = Member(group, "paths");
    const json::value* weights = Member(group, "weights");
    if (!paths || !paths->is_array() || !weights || !weights->is_array())
      return absl::InvalidArgumentError("a weight group without paths and weights");
    std::string bytes;
    for (const json::value& path : paths->as_array()) {
      if (!path.is_string()) return absl::InvalidArgumentError("a weight path that is no string");
      SLUICE_ASSIGN_OR_RETURN(std::string part,
                              ReadWholeFile((folder / std::string(path.as_string())).string()));
      bytes += part;
    }
    size_t offset = 0;
    for (const json::value& entry : weights->as_array()) {
      const json::value* name = Member(entry, "name");
      const json::value* shape = Member(entry, "shape");
      if (!name || !name->is_string() || !shape || !shape->is_array())
        return absl::InvalidArgumentError("a weight without name and shape");
      TfjsTensor tensor;
      size_t count = 1;
      for (const json::value& extent : shape->as_array()) {
        if (!extent.is_int64() || extent.as_int64() < 0 || extent.as_int64() > (1 << 24))
          return absl::InvalidArgumentError(StrCat("weight ", name->as_string(), "'s shape"));
        tensor.shape.push_back(static_cast<int>(extent.as_int64()));
        count *= static_cast<size_t>(extent.as_int64());
      }
      Result<std::vector<float>> values = Dequantise(entry.as_object(), count, bytes, offset);
      if (!values.ok())
        return absl::InvalidArgumentError(
            StrCat("weight ", name->as_string(), ": ", values.status().message()));
      tensor.values = *std::move(values);
      model.weights[std::string(name->as_string())] = std::move(tensor);
    }
    if (offset != bytes.size())
      return absl::InvalidArgumentError(
          StrCat("the weight files hold ", bytes.size() - offset, " bytes past the manifest"));
  }
  return absl::OkStatus();
}

}  // namespace

Result<TfjsModel> LoadTfjsModel(const std::filesystem::path& model_json) {
  SLUICE_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(model_json.string()));
  boost::system::error_code ec;
  json::value root = json::parse(text, ec);
  if (ec) return BadModel(model_json, StrCat("not JSON: ", ec.message()));
  const json::value* topology = Member(root, "modelTopology");
  const json::value* config = topology ? Member(*topology, "model_config") : nullptr;
  const json::value* class_name = config ? Member(*config, "class_name") : nullptr;
  const json::value* inner = config ? Member(*config, "config") : nullptr;
  const json::value* layers = inner ? Member(*inner, "layers") : nullptr;
  const json::value* outputs = inner ? Member(*inner, "output_layers") : nullptr;
  const json::value* manifest = Member(root, "weightsManifest");
  if (!class_name || !class_name->is_string() ||
      (class_name->as_string() != "Model" && class_name->as_string() != "Functional") || !layers ||
      !layers->is_array() || !outputs || !outputs->is_array() || !manifest || !manifest->is_array())
    return BadModel(model_json, "not a TensorFlow.js layers model of a Keras functional model");

  TfjsModel model;
  std::set<std::string> defined;
  for (const json::value& layer : layers->as_array()) {
    const json::value* name = Member(layer, "name");
    const json::value* kind = Member(layer, "class_name");
    const json::value* layer_config = Member(layer, "config");
    const json::value* inbound = Member(layer, "inbound_nodes");
    if (!name || !name->is_string() || !kind || !kind->is_string() || !layer_config ||
        !layer_config->is_object() || !inbound)
      return BadModel(model_json, "a layer without name, class_name, config or inbound_nodes");
    Result<std::vector<std::string>> inputs = InboundNames(*inbound);
    if (!inputs.ok())
      return BadModel(model_json,
                      StrCat("layer ", name->as_string(), ": ", inputs.status().message()));
    for (const std::string& input : *inputs) {
      if (!defined.contains(input))
        return BadModel(model_json, StrCat("layer ", name->as_string(), " reads ", input,
                                           " before it is defined"));
    }
    defined.emplace(name->as_string());
    model.layers.push_back(KerasLayer{.class_name = std::string(kind->as_string()),
                                      .name = std::string(name->as_string()),
                                      .config = layer_config->as_object(),
                                      .inputs = *std::move(inputs)});
  }
  for (const json::value& output : outputs->as_array()) {
    if (!output.is_array() || output.as_array().empty() || !output.as_array()[0].is_string() ||
        !defined.contains(std::string(output.as_array()[0].as_string())))
      return BadModel(model_json, "an output layer that is not a layer of the model");
    model.outputs.emplace_back(output.as_array()[0].as_string());
  }
  Status weights = ReadWeights(manifest->as_array(), model_json.parent_path(), model);
  if (absl::IsNotFound(weights)) return weights;
  if (!weights.ok()) return BadModel(model_json, std::string(weights.message()));
  return model;
}

}  // namespace sluice::methods
