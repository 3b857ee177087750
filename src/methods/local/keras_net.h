// A Keras functional model (as read by tfjs_model.h) built as an OpenCV dnn network, layer by
// layer through OpenCV's own layer types, so that no converter program or exchange format
// (ONNX) sits between the published weights and the network that runs.
//
// Layers supported: InputLayer, ZeroPadding2D, Conv2D, DepthwiseConv2D, BatchNormalization,
// ReLU (incl. max_value, i.e. ReLU6), Activation, Add, AveragePooling2D, MaxPooling2D,
// GlobalAveragePooling2D, Flatten, Dense, Dropout (identity at inference); channels_last data;
// activations linear, relu, relu6, sigmoid, softmax. That covers MobileNet-style networks.
//
// Not thread-safe: one KerasNet per thread (OpenCV's Net keeps per-run state).
#pragma once

#include <map>
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "methods/local/tfjs_model.h"

namespace sluice::methods {

class KerasNet {
 public:
  // The network of `model`. InvalidArgument (cause "bad_model") for an unsupported layer,
  // activation or data format, a missing weight or one of the wrong shape.
  static Result<KerasNet> Build(const TfjsModel& model);

  // The input the network takes: height × width × channels (RGB for ImageNet models).
  int input_height() const { return input_height_; }
  int input_width() const { return input_width_; }
  int input_channels() const { return input_channels_; }

  // Runs `blob` (N × C × H × W float32, as cv::dnn::blobFromImage makes) and returns the outputs
  // of the named Keras layers, flattened per sample to N × size. InvalidArgument for a name
  // that is not a layer of the model or a blob of the wrong shape.
  Result<std::vector<cv::Mat>> Forward(const cv::Mat& blob, const std::vector<std::string>& layers);

 private:
  KerasNet() = default;
  cv::dnn::Net net_;
  int input_height_ = 0, input_width_ = 0, input_channels_ = 0;
  std::map<std::string, std::string> output_of_;  // Keras layer → the OpenCV layer with its output
};

}  // namespace sluice::methods
