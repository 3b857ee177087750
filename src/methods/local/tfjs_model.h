// A TensorFlow.js layers model read from disk (model.json + its weight files): the Keras layer
// configurations and every weight as float32, dequantised. The format is TensorFlow.js's own
// (https://www.tensorflow.org/js/guide/save_load): `modelTopology.model_config` is a Keras
// functional model, `weightsManifest` lists weight groups whose files, concatenated in order,
// hold each weight's bytes one after another.
//
// Thread-safe: LoadTfjsModel has no shared state; a loaded model is immutable.
#pragma once

#include <boost/json/object.hpp>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::methods {

struct TfjsTensor {
  std::vector<int> shape;     // as Keras lays it out (a Conv2D kernel is [kh, kw, in, out])
  std::vector<float> values;  // row-major, product(shape) of them
};

// One layer of the functional model: its class ("Conv2D"), name, configuration and the layers
// it reads (inbound node names, in order).
struct KerasLayer {
  std::string class_name;
  std::string name;
  boost::json::object config;
  std::vector<std::string> inputs;
};

struct TfjsModel {
  std::vector<KerasLayer> layers;  // in the model's order: every layer after its inputs
  std::vector<std::string> outputs;
  std::map<std::string, TfjsTensor> weights;  // by name: "Conv1/kernel", "bn_Conv1/gamma"
};

// Reads `model_json` and the weight files it names (relative to its folder). Supported weight
// encodings: float32, and uint8/uint16 quantisation (value = q * scale + min). Errors:
// NotFound for a missing file; InvalidArgument (cause "bad_model") for a model that is not a
// layers model, a weight file shorter or longer than the manifest says, an unsupported dtype or
// quantisation, or a layer whose inputs are not defined before it.
Result<TfjsModel> LoadTfjsModel(const std::filesystem::path& model_json);

}  // namespace sluice::methods
