#include "methods/local/keras_net.h"

#include <cmath>
#include <numeric>
#include <optional>

#include "common/strings.h"

namespace sluice::methods {

namespace json = boost::json;

namespace {

// A layer output's shape per sample: channels × height × width (height = width = 1 once flat).
struct Shape {
  int channels = 0, height = 0, width = 0;
  int size() const { return channels * height * width; }
};

Status Unsupported(const KerasLayer& layer, std::string_view what) {
  return Failure(absl::StatusCode::kInvalidArgument, "bad_model",
                 StrCat("layer ", layer.name, " (", layer.class_name, "): ", what));
}

std::optional<int> IntAt(const json::object& config, std::string_view key, size_t index) {
  const json::value* value = config.if_contains(key);
  if (!value) return std::nullopt;
  if (value->is_int64()) return static_cast<int>(value->as_int64());
  if (value->is_array() && index < value->as_array().size() && value->as_array()[index].is_int64())
    return static_cast<int>(value->as_array()[index].as_int64());
  return std::nullopt;
}

std::string StringOf(const json::object& config, std::string_view key, std::string_view otherwise) {
  const json::value* value = config.if_contains(key);
  return value && value->is_string() ? std::string(value->as_string()) : std::string(otherwise);
}

// Output extent of a window of `kernel` (dilated) moved by `stride`, as TensorFlow pads.
int Extent(int input, int kernel, int stride, int dilation, bool same) {
  if (same) return (input + stride - 1) / stride;
  return (input - (kernel - 1) * dilation - 1) / stride + 1;
}

class Builder {
 public:
  explicit Builder(const TfjsModel& model) : model_(model) {}

  Status Add(const KerasLayer& layer) {
    const std::string& kind = layer.class_name;
    if (StringOf(layer.config, "data_format", "channels_last") != "channels_last")
      return Unsupported(layer, "only channels_last data");
    if (kind == "InputLayer") return Input(layer);
    if (layer.inputs.empty()) return Unsupported(layer, "no inputs");
    if (kind == "Dropout") return Alias(layer);
    if (kind == "ZeroPadding2D") return Padding(layer);
    if (kind == "Conv2D" || kind == "DepthwiseConv2D") return Convolution(layer);
    if (kind == "BatchNormalization") return BatchNorm(layer);
    if (kind == "ReLU") return Relu(layer);
    if (kind == "Activation") {
      SLUICE_ASSIGN_OR_RETURN(std::string last, Activation(layer, Of(layer.inputs[0]), ""));
      Define(layer.name, last, shapes_.at(layer.inputs[0]));
      return absl::OkStatus();
    }
    if (kind == "Add") return Sum(layer);
    if (kind == "AveragePooling2D" || kind == "MaxPooling2D" || kind == "GlobalAveragePooling2D")
      return Pooling(layer);
    if (kind == "Flatten") return Flatten(layer);
    if (kind == "Dense") return Dense(layer);
    return Unsupported(layer, "layer type not supported");
  }

  cv::dnn::Net net;
  std::map<std::string, std::string> output_of;
  Shape input;

 private:
  const std::string& Of(const std::string& keras) const { return output_of.at(keras); }

  void Define(const std::string& keras, const std::string& opencv, Shape shape) {
    output_of[keras] = opencv;
    shapes_[keras] = shape;
  }

  // Adds an OpenCV layer reading the outputs of `inputs` (OpenCV layer names).
  void Emit(const std::string& name, const std::string& type, cv::dnn::LayerParams params,
            const std::vector<std::string>& inputs) {
    params.name = name;
    params.type = type;
    int id = net.addLayer(name, type, params);
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i] == kInput) {
        net.connect(0, 0, id, static_cast<int>(i));
      } else {
        net.connect(net.getLayerId(inputs[i]), 0, id, static_cast<int>(i));
      }
    }
  }

  Result<const TfjsTensor*> Weight(const KerasLayer& layer, const std::string& suffix,
                                   size_t count) const {
    auto it = model_.weights.find(StrCat(layer.name, "/", suffix));
    if (it == model_.weights.end()) return Unsupported(layer, StrCat("no weight ", suffix));
    if (it->second.values.size() != count)
      return Unsupported(layer, StrCat("weight ", suffix, " has ", it->second.values.size(),
                                       " values, not ", count));
    return &it->second;
  }

  static cv::Mat Row(const std::vector<float>& values) {
    return cv::Mat(1, static_cast<int>(values.size()), CV_32F, const_cast<float*>(values.data()))
        .clone();
  }

  Status Input(const KerasLayer& layer) {
    const json::value* shape = layer.config.if_contains("batch_input_shape");
    if (!shape || !shape->is_array() || shape->as_array().size() != 4)
      return Unsupported(layer, "an input that is not a batch of pictures (N, H, W, C)");
    auto extent = [&](size_t i) {
      const json::value& v = shape->as_array()[i];
      return v.is_int64() ? static_cast<int>(v.as_int64()) : 0;
    };
    if (!output_of.empty()) return Unsupported(layer, "more than one input");
    input = Shape{.channels = extent(3), .height = extent(1), .width = extent(2)};
    if (input.channels <= 0 || input.height <= 0 || input.width <= 0)
      return Unsupported(layer, "an input without fixed height, width and channels");
    net.setInputsNames({layer.name});
    Define(layer.name, kInput, input);
    return absl::OkStatus();
  }

  Status Alias(const KerasLayer& layer) {
    Define(layer.name, Of(layer.inputs[0]), shapes_.at(layer.inputs[0]));
    if (auto it = flattened_from_.find(layer.inputs[0]); it != flattened_from_.end())
      flattened_from_[layer.name] = it->second;
    return absl::OkStatus();
  }

  Status Padding(const KerasLayer& layer) {
    const json::value* padding = layer.config.if_contains("padding");
    int pads[4] = {0, 0, 0, 0};  // top, bottom, left, right
    if (padding && padding->is_int64()) {
      for (int& p : pads) p = static_cast<int>(padding->as_int64());
    } else if (padding && padding->is_array() && padding->as_array().size() == 2) {
      for (size_t axis = 0; axis < 2; ++axis) {
        const json::value& pair = padding->as_array()[axis];
        if (pair.is_int64()) {
          pads[2 * axis] = pads[2 * axis + 1] = static_cast<int>(pair.as_int64());
        } else if (pair.is_array() && pair.as_array().size() == 2 &&
                   pair.as_array()[0].is_int64() && pair.as_array()[1].is_int64()) {
          pads[2 * axis] = static_cast<int>(pair.as_array()[0].as_int64());
          pads[2 * axis + 1] = static_cast<int>(pair.as_array()[1].as_int64());
        } else {
          return Unsupported(layer, "malformed padding");
        }
      }
    } else {
      return Unsupported(layer, "malformed padding");
    }
    int paddings[8] = {0, 0, 0, 0, pads[0], pads[1], pads[2], pads[3]};  // N, C, H, W
    cv::dnn::LayerParams params;
    params.set("paddings", cv::dnn::DictValue::arrayInt(paddings, 8));
    params.set("type", "constant");
    params.set("value", 0);
    Emit(layer.name, "Padding", params, {Of(layer.inputs[0])});
    Shape in = shapes_.at(layer.inputs[0]);
    Define(layer.name, layer.name,
           Shape{.channels = in.channels,
                 .height = in.height + pads[0] + pads[1],
                 .width = in.width + pads[2] + pads[3]});
    return absl::OkStatus();
  }

  // Appends the layer's activation after `last` (an OpenCV layer); returns the last layer's
  // name. `suffix` names the activation layer ("" when it is the Keras layer itself).
  Result<std::string> Activation(const KerasLayer& layer, const std::string& last,
                                 const std::string& suffix) {
    std::string activation = StringOf(layer.config, "activation", "linear");
    std::string name = suffix.empty() ? layer.name : StrCat(layer.name, "/", suffix);
    cv::dnn::LayerParams params;
    if (activation == "linear") return last;
    if (activation == "relu") {
      params.set("negative_slope", 0.0f);
      Emit(name, "ReLU", params, {last});
    } else if (activation == "relu6") {
      params.set("min_value", 0.0f);
      params.set("max_value", 6.0f);
      Emit(name, "ReLU6", params, {last});
    } else if (activation == "sigmoid") {
      Emit(name, "Sigmoid", params, {last});
    } else if (activation == "softmax") {
      params.set("axis", 1);
      Emit(name, "Softmax", params, {last});
    } else {
      return Unsupported(layer, StrCat("activation ", activation));
    }
    return name;
  }

  Status Convolution(const KerasLayer& layer) {
    bool depthwise = layer.class_name == "DepthwiseConv2D";
    Shape in = shapes_.at(layer.inputs[0]);
    int kh = IntAt(layer.config, "kernel_size", 0).value_or(0);
    int kw = IntAt(layer.config, "kernel_size", 1).value_or(kh);
    int sh = IntAt(layer.config, "strides", 0).value_or(1);
    int sw = IntAt(layer.config, "strides", 1).value_or(sh);
    int dh = IntAt(layer.config, "dilation_rate", 0).value_or(1);
    int dw = IntAt(layer.config, "dilation_rate", 1).value_or(dh);
    std::string padding = StringOf(layer.config, "padding", "valid");
    if (kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 || dh <= 0 || dw <= 0)
      return Unsupported(layer, "kernel, strides or dilation not positive");
    if (padding != "valid" && padding != "same") return Unsupported(layer, "padding " + padding);
    int multiplier = depthwise ? IntAt(layer.config, "depth_multiplier", 0).value_or(1) : 0;
    int filters =
        depthwise ? in.channels * multiplier : IntAt(layer.config, "filters", 0).value_or(0);
    if (filters <= 0) return Unsupported(layer, "no filters");
    const char* kernel_name = depthwise ? "depthwise_kernel" : "kernel";
    size_t in_per_group = depthwise ? 1 : static_cast<size_t>(in.channels);
    SLUICE_ASSIGN_OR_RETURN(
        const TfjsTensor* kernel,
        Weight(layer, kernel_name, static_cast<size_t>(kh) * kw * in_per_group * filters));
    // Keras: [kh, kw, in, out] (depthwise: [kh, kw, in, multiplier]); OpenCV: [out, in, kh, kw]
    // (depthwise: output channel c * multiplier + m reads input channel c).
    int dims[4] = {filters, static_cast<int>(in_per_group), kh, kw};
    cv::Mat weights(4, dims, CV_32F);
    float* out = weights.ptr<float>();
    for (int o = 0; o < filters; ++o)
      for (size_t i = 0; i < in_per_group; ++i)
        for (int y = 0; y < kh; ++y)
          for (int x = 0; x < kw; ++x) {
            size_t source =
                depthwise ? ((static_cast<size_t>(y) * kw + x) * in.channels + o / multiplier) *
                                    multiplier +
                                o % multiplier
                          : ((static_cast<size_t>(y) * kw + x) * in_per_group + i) * filters + o;
            *out++ = kernel->values[source];
          }
    cv::dnn::LayerParams params;
    params.set("kernel_h", kh);
    params.set("kernel_w", kw);
    params.set("stride_h", sh);
    params.set("stride_w", sw);
    params.set("dilation_h", dh);
    params.set("dilation_w", dw);
    params.set("pad_mode", padding == "same" ? "SAME" : "VALID");
    params.set("num_output", filters);
    params.set("group", depthwise ? in.channels : 1);
    params.blobs.push_back(weights);
    bool bias = layer.config.contains("use_bias") && layer.config.at("use_bias").is_bool() &&
                layer.config.at("use_bias").as_bool();
    params.set("bias_term", bias);
    if (bias) {
      SLUICE_ASSIGN_OR_RETURN(const TfjsTensor* b,
                              Weight(layer, "bias", static_cast<size_t>(filters)));
      params.blobs.push_back(Row(b->values));
    }
    std::string convolution = StrCat(layer.name, "/convolution");
    Emit(convolution, "Convolution", params, {Of(layer.inputs[0])});
    SLUICE_ASSIGN_OR_RETURN(std::string last, Activation(layer, convolution, "activation"));
    Define(layer.name, last,
           Shape{.channels = filters,
                 .height = Extent(in.height, kh, sh, dh, padding == "same"),
                 .width = Extent(in.width, kw, sw, dw, padding == "same")});
    if (shapes_.at(layer.name).height <= 0 || shapes_.at(layer.name).width <= 0)
      return Unsupported(layer, "the kernel is larger than its input");
    return absl::OkStatus();
  }

  Status BatchNorm(const KerasLayer& layer) {
    Shape in = shapes_.at(layer.inputs[0]);
    const json::value* axis = layer.config.if_contains("axis");
    if (axis && !(axis->is_int64() && (axis->as_int64() == -1 || axis->as_int64() == 3)) &&
        !(axis->is_array() && axis->as_array().size() == 1 && axis->as_array()[0].is_int64() &&
          axis->as_array()[0].as_int64() == 3))
      return Unsupported(layer, "normalisation over an axis other than the channels");
    size_t n = static_cast<size_t>(in.channels);
    cv::dnn::LayerParams params;
    SLUICE_ASSIGN_OR_RETURN(const TfjsTensor* mean, Weight(layer, "moving_mean", n));
    SLUICE_ASSIGN_OR_RETURN(const TfjsTensor* variance, Weight(layer, "moving_variance", n));
    params.blobs = {Row(mean->values), Row(variance->values)};
    auto flag = [&](const char* key) {
      const json::value* v = layer.config.if_contains(key);
      return !v || (v->is_bool() && v->as_bool());
    };
    if (flag("scale")) {
      SLUICE_ASSIGN_OR_RETURN(const TfjsTensor* gamma, Weight(layer, "gamma", n));
      params.blobs.push_back(Row(gamma->values));
    }
    if (flag("center")) {
      SLUICE_ASSIGN_OR_RETURN(const TfjsTensor* beta, Weight(layer, "beta", n));
      params.blobs.push_back(Row(beta->values));
    }
    params.set("has_weight", flag("scale"));
    params.set("has_bias", flag("center"));
    const json::value* epsilon = layer.config.if_contains("epsilon");
    params.set("eps", epsilon && epsilon->is_number() ? epsilon->to_number<float>() : 1e-3f);
    Emit(layer.name, "BatchNorm", params, {Of(layer.inputs[0])});
    Define(layer.name, layer.name, in);
    return absl::OkStatus();
  }

  Status Relu(const KerasLayer& layer) {
    auto number = [&](const char* key) -> std::optional<float> {
      const json::value* v = layer.config.if_contains(key);
      if (!v || v->is_null()) return std::nullopt;
      return v->is_number() ? std::optional<float>(v->to_number<float>()) : std::nullopt;
    };
    if (number("threshold").value_or(0) != 0) return Unsupported(layer, "a non-zero threshold");
    float slope = number("negative_slope").value_or(0);
    std::optional<float> max_value = number("max_value");
    cv::dnn::LayerParams params;
    if (max_value && slope == 0) {
      params.set("min_value", 0.0f);
      params.set("max_value", *max_value);
      Emit(layer.name, "ReLU6", params, {Of(layer.inputs[0])});
    } else if (!max_value) {
      params.set("negative_slope", slope);
      Emit(layer.name, "ReLU", params, {Of(layer.inputs[0])});
    } else {
      return Unsupported(layer, "a capped leaky ReLU");
    }
    Define(layer.name, layer.name, shapes_.at(layer.inputs[0]));
    return absl::OkStatus();
  }

  Status Sum(const KerasLayer& layer) {
    std::vector<std::string> inputs;
    Shape shape = shapes_.at(layer.inputs[0]);
    for (const std::string& input : layer.inputs) {
      const Shape& other = shapes_.at(input);
      if (other.channels != shape.channels || other.height != shape.height ||
          other.width != shape.width)
        return Unsupported(layer, "inputs of different shapes");
      inputs.push_back(Of(input));
    }
    cv::dnn::LayerParams params;
    params.set("operation", "sum");
    Emit(layer.name, "Eltwise", params, inputs);
    Define(layer.name, layer.name, shape);
    return absl::OkStatus();
  }

  Status Pooling(const KerasLayer& layer) {
    Shape in = shapes_.at(layer.inputs[0]);
    cv::dnn::LayerParams params;
    params.set("pool", layer.class_name == "MaxPooling2D" ? "max" : "ave");
    if (layer.class_name == "GlobalAveragePooling2D") {
      params.set("global_pooling", true);
      Emit(layer.name, "Pooling", params, {Of(layer.inputs[0])});
      Define(layer.name, layer.name, Shape{.channels = in.channels, .height = 1, .width = 1});
      return absl::OkStatus();
    }
    int kh = IntAt(layer.config, "pool_size", 0).value_or(2);
    int kw = IntAt(layer.config, "pool_size", 1).value_or(kh);
    int sh = IntAt(layer.config, "strides", 0).value_or(kh);
    int sw = IntAt(layer.config, "strides", 1).value_or(sh);
    std::string padding = StringOf(layer.config, "padding", "valid");
    if (padding != "valid" && padding != "same") return Unsupported(layer, "padding " + padding);
    if (kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0)
      return Unsupported(layer, "pool size or strides not positive");
    params.set("kernel_h", kh);
    params.set("kernel_w", kw);
    params.set("stride_h", sh);
    params.set("stride_w", sw);
    params.set("pad_mode", padding == "same" ? "SAME" : "VALID");
    // Keras averages only over the picture, never over padding.
    params.set("ave_pool_padded_area", false);
    Emit(layer.name, "Pooling", params, {Of(layer.inputs[0])});
    Shape out{.channels = in.channels,
              .height = Extent(in.height, kh, sh, 1, padding == "same"),
              .width = Extent(in.width, kw, sw, 1, padding == "same")};
    if (out.height <= 0 || out.width <= 0)
      return Unsupported(layer, "a pool larger than its input");
    Define(layer.name, layer.name, out);
    return absl::OkStatus();
  }

  Status Flatten(const KerasLayer& layer) {
    Shape in = shapes_.at(layer.inputs[0]);
    cv::dnn::LayerParams params;
    params.set("axis", 1);
    Emit(layer.name, "Flatten", params, {Of(layer.inputs[0])});
    Define(layer.name, layer.name, Shape{.channels = in.size(), .height = 1, .width = 1});
    flattened_from_[layer.name] = in;
    return absl::OkStatus();
  }

  Status Dense(const KerasLayer& layer) {
    Shape in = shapes_.at(layer.inputs[0]);
    if (in.height != 1 || in.width != 1)
      return Unsupported(layer, "a Dense layer over pictures (flatten them first)");
    int units = IntAt(layer.config, "units", 0).value_or(0);
    if (units <= 0) return Unsupported(layer, "no units");
    size_t inputs = static_cast<size_t>(in.channels);
    SLUICE_ASSIGN_OR_RETURN(const TfjsTensor* kernel,
                            Weight(layer, "kernel", inputs * static_cast<size_t>(units)));
    // Keras flattens H, W, C; OpenCV flattens C, H, W: read each input from its Keras row.
    Shape source{.channels = in.channels, .height = 1, .width = 1};
    if (auto it = flattened_from_.find(layer.inputs[0]); it != flattened_from_.end())
      source = it->second;
    cv::Mat weights(units, static_cast<int>(inputs), CV_32F);  // OpenCV: [out, in]
    for (int c = 0; c < source.channels; ++c)
      for (int y = 0; y < source.height; ++y)
        for (int x = 0; x < source.width; ++x) {
          size_t opencv_index = (static_cast<size_t>(c) * source.height + y) * source.width + x;
          size_t keras_index = (static_cast<size_t>(y) * source.width + x) * source.channels + c;
          for (int o = 0; o < units; ++o)
            weights.at<float>(o, static_cast<int>(opencv_index)) =
                kernel->values[keras_index * units + o];
        }
    cv::dnn::LayerParams params;
    params.set("num_output", units);
    params.set("axis", 1);
    params.blobs.push_back(weights);
    bool bias = !layer.config.contains("use_bias") ||
                (layer.config.at("use_bias").is_bool() && layer.config.at("use_bias").as_bool());
    params.set("bias_term", bias);
    if (bias) {
      SLUICE_ASSIGN_OR_RETURN(const TfjsTensor* b,
                              Weight(layer, "bias", static_cast<size_t>(units)));
      params.blobs.push_back(Row(b->values));
    }
    std::string product = StrCat(layer.name, "/matmul");
    Emit(product, "InnerProduct", params, {Of(layer.inputs[0])});
    SLUICE_ASSIGN_OR_RETURN(std::string last, Activation(layer, product, "activation"));
    Define(layer.name, last, Shape{.channels = units, .height = 1, .width = 1});
    return absl::OkStatus();
  }

  static constexpr const char* kInput = "";
  const TfjsModel& model_;
  std::map<std::string, Shape> shapes_;
  std::map<std::string, Shape> flattened_from_;
};

}  // namespace

Result<KerasNet> KerasNet::Build(const TfjsModel& model) {
  Builder builder(model);
  for (const KerasLayer& layer : model.layers) {
    if (layer.class_name != "InputLayer" && builder.output_of.empty())
      return Unsupported(layer, "the model does not start with an InputLayer");
    SLUICE_RETURN_IF_ERROR(builder.Add(layer));
  }
  if (builder.output_of.empty())
    return Failure(absl::StatusCode::kInvalidArgument, "bad_model", "a model without layers");
  KerasNet net;
  net.net_ = std::move(builder.net);
  net.net_.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.net_.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  net.input_height_ = builder.input.height;
  net.input_width_ = builder.input.width;
  net.input_channels_ = builder.input.channels;
  net.output_of_ = std::move(builder.output_of);
  return net;
}

Result<std::vector<cv::Mat>> KerasNet::Forward(const cv::Mat& blob,
                                               const std::vector<std::string>& layers) {
  if (blob.dims != 4 || blob.type() != CV_32F || blob.size[1] != input_channels_ ||
      blob.size[2] != input_height_ || blob.size[3] != input_width_)
    return absl::InvalidArgumentError(StrCat("the network takes N × ", input_channels_, " × ",
                                             input_height_, " × ", input_width_, " float32 blobs"));
  std::vector<cv::String> names;
  for (const std::string& layer : layers) {
    auto it = output_of_.find(layer);
    if (it == output_of_.end() || it->second.empty())
      return absl::InvalidArgumentError(StrCat("no layer ", layer, " in the network"));
    names.push_back(it->second);
  }
  net_.setInput(blob);
  std::vector<cv::Mat> outputs;
  net_.forward(outputs, names);
  for (cv::Mat& output : outputs) output = output.reshape(1, blob.size[0]);
  return outputs;
}

}  // namespace sluice::methods
