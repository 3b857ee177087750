// image.embedding and image.safety: one forward pass of the MobileNetV2 that nsfwjs publishes
// (scripts/fetch-models.sh), run through OpenCV's dnn module. Its layers up to block 10 are
// ImageNet-trained and the rest were retrained on five content classes, so the pooled 1280-d
// features place look-alike pictures together and the head scores the picture's content.
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>

#include "common/strings.h"
#include "methods/local/keras_net.h"
#include "methods/local/local_methods.h"

namespace sluice::methods {

namespace {

constexpr const char* kNetworkFolder = "nsfwjs-mobilenet_v2";
constexpr const char* kModelName = "nsfwjs-mobilenet_v2@4.4.0";
constexpr const char* kFeatureLayer = "average_pooling2d_1";  // pooled 7 × 7 × 1280
constexpr const char* kClassLayer = "dense_3";                // softmax over the classes
constexpr std::array<const char*, 5> kClasses = {"drawing", "hentai", "neutral", "porn", "sexy"};

std::filesystem::path NetworkFile() { return LocalModelDir() / kNetworkFolder / "model.json"; }

Status ModelMissing() {
  return Failure(absl::StatusCode::kFailedPrecondition, "model_missing",
                 StrCat("the local image network is not installed at ", NetworkFile().string(),
                        ": run scripts/fetch-models.sh, or set SLUICE_MODELS to the folder that "
                        "holds ",
                        kNetworkFolder));
}

// OK when the network's file is there; ModelMissing otherwise.
Status RequireNetwork() {
  std::error_code ec;
  return std::filesystem::exists(NetworkFile(), ec) ? absl::OkStatus() : ModelMissing();
}

struct NetworkOutputs {
  std::vector<float> features;  // L2-normalised
  std::vector<float> classes;   // probabilities, kClasses' order
};

// The model, read once per process; every CPU-pool thread builds its own network from it
// (OpenCV's Net is not safe to share).
class ImageNetwork {
 public:
  static ImageNetwork& Get() {
    static ImageNetwork network;
    return network;
  }

  // The outputs for `item`'s picture: computed once when both methods of an item ask (the
  // second waits for the first), kept for the last few items.
  Result<NetworkOutputs> Outputs(const ItemContext& item) {
    std::shared_future<Result<NetworkOutputs>> pending;
    std::promise<Result<NetworkOutputs>> promise;
    bool compute = false;
    {
      std::lock_guard lock(mutex_);
      auto it = recent_.find(item.sha256);
      if (it == recent_.end()) {
        pending = promise.get_future().share();
        recent_.emplace(item.sha256, pending);
        order_.push_back(item.sha256);
        if (order_.size() > kRemembered) {
          recent_.erase(order_.front());
          order_.pop_front();
        }
        compute = true;
      } else {
        pending = it->second;
      }
    }
    if (compute) promise.set_value(Compute(item));
    return pending.get();
  }

 private:
  static constexpr size_t kRemembered = 64;

  Result<const TfjsModel*> Model() {
    std::call_once(loaded_, [this] {
      if (Status present = RequireNetwork(); !present.ok()) {
        model_ = present;
        return;
      }
      model_ = LoadTfjsModel(NetworkFile());
    });
    if (!model_.ok()) return model_.status();
    return &*model_;
  }

  Result<NetworkOutputs> Compute(const ItemContext& item) {
    SLUICE_ASSIGN_OR_RETURN(const cv::Mat* image, ImageOf(item));
    SLUICE_ASSIGN_OR_RETURN(const TfjsModel* model, Model());
    thread_local std::unique_ptr<KerasNet> net;
    if (!net) {
      SLUICE_ASSIGN_OR_RETURN(KerasNet built, KerasNet::Build(*model));
      net = std::make_unique<KerasNet>(std::move(built));
    }
    cv::Mat rgb;
    if (image->channels() == 1) {
      cv::cvtColor(*image, rgb, cv::COLOR_GRAY2RGB);
    } else if (image->channels() == 4) {
      cv::cvtColor(*image, rgb, cv::COLOR_BGRA2RGB);
    } else {
      cv::cvtColor(*image, rgb, cv::COLOR_BGR2RGB);
    }
    cv::Size size(net->input_width(), net->input_height());
    bool shrinking = rgb.cols > size.width || rgb.rows > size.height;
    cv::resize(rgb, rgb, size, 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
    // nsfwjs feeds RGB scaled to [0, 1].
    cv::Mat blob = cv::dnn::blobFromImage(rgb, 1.0 / 255.0);
    SLUICE_ASSIGN_OR_RETURN(std::vector<cv::Mat> outputs,
                            net->Forward(blob, {kFeatureLayer, kClassLayer}));
    NetworkOutputs result;
    result.features.assign(outputs[0].ptr<float>(), outputs[0].ptr<float>() + outputs[0].cols);
    result.classes.assign(outputs[1].ptr<float>(), outputs[1].ptr<float>() + outputs[1].cols);
    if (result.classes.size() != kClasses.size())
      return Failure(
          absl::StatusCode::kInternal, "bad_model",
          StrCat("the network scores ", result.classes.size(), " classes, not ", kClasses.size()));
    double norm = 0;
    for (float x : result.features) norm += static_cast<double>(x) * x;
    norm = std::sqrt(norm);
    if (norm > 0)
      for (float& x : result.features) x = static_cast<float>(x / norm);
    return result;
  }

  std::once_flag loaded_;
  Result<TfjsModel> model_ = absl::UnknownError("not loaded");
  std::mutex mutex_;
  std::map<std::string, std::shared_future<Result<NetworkOutputs>>> recent_;
  std::deque<std::string> order_;
};

class EmbeddingMethod : public Method {
 public:
  const MethodSpec& spec() const override {
    static const MethodSpec spec{
        .name = "image.embedding",
        .version = 1,
        .kinds = {MediaKind::kImage},
        .inputs = {"image"},
        .output = "embedding",
        .description =
            "A 1280-d embedding of the picture (MobileNetV2 pooled features, "
            "L2-normalised): look-alikes lie close, for similarity search"};
    return spec;
  }
  Status CompleteParams(json::object& /*params*/) const override { return RequireNetwork(); }
  Result<MethodOutput> Run(const ItemContext& item, const json::object& /*params*/) const override {
    SLUICE_ASSIGN_OR_RETURN(NetworkOutputs outputs, ImageNetwork::Get().Outputs(item));
    json::array vector;
    vector.reserve(outputs.features.size());
    for (float x : outputs.features) vector.emplace_back(x);
    return MethodOutput{.value = json::object{{"model", kModelName},
                                              {"dimensions", outputs.features.size()},
                                              {"vector", std::move(vector)}}};
  }
};

class SafetyMethod : public Method {
 public:
  const MethodSpec& spec() const override {
    static const MethodSpec spec{
        .name = "image.safety",
        .version = 1,
        .kinds = {MediaKind::kImage},
        .inputs = {"image"},
        .description =
            "Content scores for brand safety (drawing, hentai, neutral, porn, sexy; "
            "MobileNetV2 from nsfwjs): the top class and `unsafe`, the share of the "
            "last three"};
    return spec;
  }
  Status CompleteParams(json::object& /*params*/) const override { return RequireNetwork(); }
  Result<MethodOutput> Run(const ItemContext& item, const json::object& /*params*/) const override {
    SLUICE_ASSIGN_OR_RETURN(NetworkOutputs outputs, ImageNetwork::Get().Outputs(item));
    json::object scores;
    size_t top = 0;
    double unsafe = 0;
    for (size_t i = 0; i < kClasses.size(); ++i) {
      // Three decimals: the class scores of a quantised network carry no more.
      double score = std::round(outputs.classes[i] * 1000.0) / 1000.0;
      scores[kClasses[i]] = score;
      if (outputs.classes[i] > outputs.classes[top]) top = i;
      if (std::string_view(kClasses[i]) != "drawing" && std::string_view(kClasses[i]) != "neutral")
        unsafe += outputs.classes[i];
    }
    return MethodOutput{.value = json::object{{"model", kModelName},
                                              {"top", kClasses[top]},
                                              {"unsafe", std::round(unsafe * 1000.0) / 1000.0},
                                              {"scores", std::move(scores)}}};
  }
};

}  // namespace

std::filesystem::path LocalModelDir() {
  if (const char* dir = std::getenv("SLUICE_MODELS"); dir && *dir) return dir;
  return SLUICE_DEFAULT_MODEL_DIR;
}

std::unique_ptr<MethodBase> NewImageEmbeddingMethod() {
  return std::make_unique<EmbeddingMethod>();
}
std::unique_ptr<MethodBase> NewImageSafetyMethod() { return std::make_unique<SafetyMethod>(); }

}  // namespace sluice::methods
