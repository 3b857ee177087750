// The TensorFlow.js model reader, the Keras → OpenCV network builder (against a direct
// computation in Keras's own layout), and image.embedding / image.safety against TensorFlow.js's
// outputs for the same network and picture.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdlib>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/file_io.h"
#include "common/strings.h"
#include "methods/builtin.h"
#include "methods/local/keras_net.h"
#include "methods/local/local_methods.h"
#include "methods/local/tfjs_model.h"
#include "methods/registry.h"
#include "methods/runner.h"
#include "storage/memory/memory_blob_store.h"
#include "testing/fixtures.h"
#include "testing/temp_dir.h"

namespace sluice::methods {
namespace {

namespace fx = sluice::testing;

const std::filesystem::path kTestdata = std::filesystem::path(SOURCE_DIR) / "local/testdata";

// A small network with every layout conversion KerasNet does: a 3 × 3 convolution with stride 2
// and TensorFlow's asymmetric "same" padding, a depthwise convolution with two outputs per
// channel, a flatten over 2 × 2 pictures and a dense layer (its bias stored quantised).
constexpr int kSide = 4, kChannels = 2, kFilters = 3, kMultiplier = 2, kUnits = 3;

std::vector<float> Ramp(size_t count, float start, float step) {
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i)
    values[i] = start + step * static_cast<float>((i * 7) % 11) - step * static_cast<float>(i % 3);
  return values;
}

struct TinyModel {
  std::vector<float> conv_kernel = Ramp(3 * 3 * kChannels * kFilters, -0.5f, 0.1f);
  std::vector<float> conv_bias = {0.1f, -0.2f, 0.05f};
  std::vector<float> depthwise = Ramp(kFilters * kMultiplier, 0.5f, 0.25f);
  std::vector<float> dense_kernel = Ramp(2 * 2 * kFilters * kMultiplier * kUnits, -0.3f, 0.07f);
  std::vector<uint8_t> dense_bias_q = {0, 10, 255};
  float bias_min = -1.0f, bias_scale = 0.01f;

  std::filesystem::path Write(const std::filesystem::path& dir) const {
    std::string layers = R"([
      {"name":"in","class_name":"InputLayer","config":{"batch_input_shape":[null,4,4,2]},"inbound_nodes":[]},
      {"name":"conv","class_name":"Conv2D","config":{"filters":3,"kernel_size":[3,3],"strides":[2,2],"padding":"same","activation":"relu","use_bias":true},"inbound_nodes":[[["in",0,0,{}]]]},
      {"name":"dw","class_name":"DepthwiseConv2D","config":{"kernel_size":[1,1],"strides":[1,1],"padding":"valid","depth_multiplier":2,"activation":"linear","use_bias":false},"inbound_nodes":[[["conv",0,0,{}]]]},
      {"name":"flat","class_name":"Flatten","config":{},"inbound_nodes":[[["dw",0,0,{}]]]},
      {"name":"drop","class_name":"Dropout","config":{"rate":0.5},"inbound_nodes":[[["flat",0,0,{}]]]},
      {"name":"dense","class_name":"Dense","config":{"units":3,"activation":"linear","use_bias":true},"inbound_nodes":[[["drop",0,0,{}]]]}])";
    std::string weights = StrCat(
        R"([{"name":"conv/kernel","shape":[3,3,2,3],"dtype":"float32"},)",
        R"({"name":"conv/bias","shape":[3],"dtype":"float32"},)",
        R"({"name":"dw/depthwise_kernel","shape":[1,1,3,2],"dtype":"float32"},)",
        R"({"name":"dense/kernel","shape":[24,3],"dtype":"float32"},)",
        R"({"name":"dense/bias","shape":[3],"dtype":"float32","quantization":{"dtype":"uint8","min":-1.0,"scale":0.01}}])");
    std::string json = StrCat(
        R"({"format":"layers-model","modelTopology":{"model_config":{"class_name":"Model","config":{"layers":)",
        layers,
        R"(,"output_layers":[["dense",0,0]]}}},"weightsManifest":[{"paths":["w.bin"],"weights":)",
        weights, "}]}");
    std::string bytes;
    for (const auto* part : {&conv_kernel, &conv_bias, &depthwise, &dense_kernel})
      bytes.append(reinterpret_cast<const char*>(part->data()), part->size() * sizeof(float));
    bytes.append(reinterpret_cast<const char*>(dense_bias_q.data()), dense_bias_q.size());
    EXPECT_TRUE(WriteFileAtomically((dir / "model.json").string(), json).ok());
    EXPECT_TRUE(WriteFileAtomically((dir / "w.bin").string(), bytes).ok());
    return dir / "model.json";
  }

  // The same network computed directly in Keras's layout (NHWC, kernels [kh, kw, in, out]).
  std::vector<float> Expected(const std::vector<float>& picture) const {  // picture: HWC
    constexpr int kOut = 2;  // ceil(4 / 2); "same" pads 0 before and 1 after
    std::vector<float> conv(kOut * kOut * kFilters);
    for (int y = 0; y < kOut; ++y)
      for (int x = 0; x < kOut; ++x)
        for (int f = 0; f < kFilters; ++f) {
          float sum = conv_bias[f];
          for (int ky = 0; ky < 3; ++ky)
            for (int kx = 0; kx < 3; ++kx)
              for (int c = 0; c < kChannels; ++c) {
                int iy = y * 2 + ky, ix = x * 2 + kx;
                if (iy >= kSide || ix >= kSide) continue;
                sum += picture[(iy * kSide + ix) * kChannels + c] *
                       conv_kernel[((ky * 3 + kx) * kChannels + c) * kFilters + f];
              }
          conv[(y * kOut + x) * kFilters + f] = std::max(sum, 0.0f);
        }
    std::vector<float> flat;  // H, W, C × multiplier, as Keras flattens
    for (int p = 0; p < kOut * kOut; ++p)
      for (int c = 0; c < kFilters; ++c)
        for (int m = 0; m < kMultiplier; ++m)
          flat.push_back(conv[p * kFilters + c] * depthwise[c * kMultiplier + m]);
    std::vector<float> out(kUnits);
    for (int u = 0; u < kUnits; ++u) {
      out[u] = bias_min + bias_scale * dense_bias_q[u];
      for (size_t i = 0; i < flat.size(); ++i) out[u] += flat[i] * dense_kernel[i * kUnits + u];
    }
    return out;
  }
};

TEST(KerasNetTest, MatchesTheNetworkComputedInKerasLayout) {
  fx::TempDir dir;
  TinyModel tiny;
  Result<TfjsModel> model = LoadTfjsModel(tiny.Write(dir.path()));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_NEAR(model->weights.at("dense/bias").values[2], -1.0f + 0.01f * 255, 1e-6);
  Result<KerasNet> net = KerasNet::Build(*model);
  ASSERT_TRUE(net.ok()) << net.status();
  ASSERT_EQ(net->input_height(), kSide);
  ASSERT_EQ(net->input_channels(), kChannels);

  std::vector<float> picture = Ramp(kSide * kSide * kChannels, -1.0f, 0.3f);
  int dims[4] = {1, kChannels, kSide, kSide};  // N × C × H × W
  cv::Mat blob(4, dims, CV_32F);
  for (int c = 0; c < kChannels; ++c)
    for (int i = 0; i < kSide * kSide; ++i) blob.ptr<float>(0, c)[i] = picture[i * kChannels + c];
  Result<std::vector<cv::Mat>> outputs = net->Forward(blob, {"dense", "conv"});
  ASSERT_TRUE(outputs.ok()) << outputs.status();
  std::vector<float> expected = tiny.Expected(picture);
  ASSERT_EQ((*outputs)[0].cols, kUnits);
  for (int u = 0; u < kUnits; ++u) EXPECT_NEAR((*outputs)[0].at<float>(0, u), expected[u], 1e-4);
  EXPECT_EQ((*outputs)[1].cols, 2 * 2 * kFilters);  // an intermediate layer, flattened

  EXPECT_EQ(net->Forward(blob, {"nowhere"}).status().code(), absl::StatusCode::kInvalidArgument);
  cv::Mat wrong = cv::dnn::blobFromImage(cv::Mat(5, 5, CV_32FC3, cv::Scalar(0)));
  EXPECT_EQ(net->Forward(wrong, {"dense"}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KerasNetTest, BadModelsAreRefusedWithWhatIsWrong) {
  fx::TempDir dir;
  std::filesystem::path file = TinyModel().Write(dir.path());
  std::string json = *ReadWholeFile(file.string());
  std::string bytes = *ReadWholeFile((dir.path() / "w.bin").string());
  auto refusal = [&](std::string model_json, std::string weights) {
    EXPECT_TRUE(WriteFileAtomically(file.string(), model_json).ok());
    EXPECT_TRUE(WriteFileAtomically((dir.path() / "w.bin").string(), weights).ok());
    Result<TfjsModel> model = LoadTfjsModel(file);
    Status status = model.ok() ? KerasNet::Build(*model).status() : model.status();
    EXPECT_EQ(CauseOf(status), "bad_model") << status;
    return std::string(status.message());
  };
  EXPECT_NE(refusal(json, bytes.substr(0, bytes.size() - 1)).find("end before"), std::string::npos);
  EXPECT_NE(refusal(json, bytes + "x").find("past the manifest"), std::string::npos);
  EXPECT_NE(refusal("{not json", bytes).find("not JSON"), std::string::npos);
  std::string lstm = json;
  lstm.replace(lstm.find("\"Flatten\""), 9, "\"LSTM\"");
  EXPECT_NE(refusal(lstm, bytes).find("flat (LSTM)"), std::string::npos);
  std::string tanh = json;
  tanh.replace(tanh.find("\"relu\""), 6, "\"tanh\"");
  EXPECT_NE(refusal(tanh, bytes).find("activation tanh"), std::string::npos);
  std::string misordered = json;
  misordered.replace(misordered.find("[[[\"in\""), 7, "[[[\"dw\"");
  EXPECT_NE(refusal(misordered, bytes).find("before it is defined"), std::string::npos);
  EXPECT_TRUE(WriteFileAtomically(file.string(), json).ok());
  std::filesystem::remove(dir.path() / "w.bin");
  EXPECT_EQ(LoadTfjsModel(file).status().code(), absl::StatusCode::kNotFound);
}

class ImageNetworkTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(RegisterBuiltinMethods(registry_).ok()); }

  json::object Output(const std::string& method, const std::filesystem::path& file) {
    Result<StepResult> step = rt_.Run(runner_.Run(method, file, {}));
    EXPECT_TRUE(step.ok()) << step.status();
    if (!step.ok()) return {};
    EXPECT_TRUE(step->status.ok()) << method << ": " << step->status;
    return step->output.is_object() ? step->output.as_object() : json::object{};
  }

  std::vector<float> Embedding(const std::filesystem::path& file) {
    json::object output = Output("image.embedding", file);
    std::vector<float> vector;
    if (!output.contains("vector")) return vector;
    for (const json::value& x : output["vector"].as_array())
      vector.push_back(static_cast<float>(x.to_number<double>()));
    return vector;
  }

  runtime::Runtime rt_;
  Registry registry_;
  storage::MemoryBlobStore store_;
  MethodRunner runner_{registry_, rt_, &store_};
  fx::TempDir dir_;
};

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) dot += static_cast<double>(a[i]) * b[i];
  return dot;  // both are L2-normalised
}

TEST_F(ImageNetworkTest, GivesWhatTensorflowJsGivesForTheSameNetworkAndPicture) {
  json::value reference =
      boost::json::parse(*ReadWholeFile((kTestdata / "shoe224.tfjs.json").string()));
  std::vector<float> expected;
  for (const json::value& x : reference.at("features").as_array())
    expected.push_back(static_cast<float>(x.to_number<double>()));
  std::vector<float> features = Embedding(kTestdata / "shoe224.png");
  ASSERT_EQ(features.size(), 1280u);
  EXPECT_GT(Cosine(features, expected), 0.99999);
  for (size_t i = 0; i < features.size(); ++i) ASSERT_NEAR(features[i], expected[i], 1e-5) << i;

  json::object safety = Output("image.safety", kTestdata / "shoe224.png");
  const char* classes[] = {"drawing", "hentai", "neutral", "porn", "sexy"};
  for (size_t i = 0; i < 5; ++i)
    EXPECT_NEAR(safety["scores"].at(classes[i]).to_number<double>(),
                reference.at("classes").as_array()[i].to_number<double>(), 1e-3)
        << classes[i];
  EXPECT_EQ(safety["top"].as_string(), "drawing");
  EXPECT_NEAR(safety["unsafe"].to_number<double>(), 0.05, 0.002);
}

TEST_F(ImageNetworkTest, ANearDuplicateLiesCloserThanUnrelatedPictures) {
  // A picture, its resized JPEG copy, and unrelated pictures of other kinds.
  std::filesystem::path shoe = kTestdata / "shoe224.png";
  cv::Mat original = cv::imread(shoe.string());
  cv::Mat smaller;
  cv::resize(original, smaller, cv::Size(180, 180), 0, 0, cv::INTER_AREA);
  std::filesystem::path copy = dir_.path() / "shoe-copy.jpg";
  cv::imwrite(copy.string(), smaller, {cv::IMWRITE_JPEG_QUALITY, 70});
  std::vector<std::filesystem::path> others = {
      fx::MakeTextImage(dir_.path(), "sale.png", "SUMMER SALE"),
      fx::MakeFaceImage(dir_.path(), "face.png"),
      fx::MakeSolidImage(dir_.path(), "red.png", "#d01010"),
      fx::MakeTextImage(dir_.path(), "coffee.png", "FRESH COFFEE 2 FOR 1", "400x800")};
  std::vector<float> anchor = Embedding(shoe);
  double near = Cosine(anchor, Embedding(copy));
  EXPECT_GT(near, 0.9);
  for (const std::filesystem::path& other : others)
    EXPECT_LT(Cosine(anchor, Embedding(other)), near - 0.1) << other;
}

TEST_F(ImageNetworkTest, AMissingNetworkIsRefusedBeforeAnyItemRuns) {
  const char* saved = std::getenv("SLUICE_MODELS");
  std::string restore = saved ? saved : "";
  setenv("SLUICE_MODELS", (dir_.path() / "nowhere").c_str(), 1);
  for (const char* method : {"image.embedding", "image.safety"}) {
    json::object params;
    Status status = registry_.Find(method)->CompleteParams(params);
    EXPECT_EQ(CauseOf(status), "model_missing") << status;
    EXPECT_NE(status.message().find("scripts/fetch-models.sh"), absl::string_view::npos);
  }
  if (saved) {
    setenv("SLUICE_MODELS", restore.c_str(), 1);
  } else {
    unsetenv("SLUICE_MODELS");
  }
}

}  // namespace
}  // namespace sluice::methods
