// The local methods: no network calls; they run on the CPU pool. The image network's file comes
// from a package (scripts/fetch-models.sh), like OpenCV's cascades and Tesseract's languages.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>

#include "methods/method.h"

namespace sluice::methods {

std::unique_ptr<MethodBase> NewProbeMethod();      // media.probe
std::unique_ptr<MethodBase> NewPhashMethod();      // image.phash
std::unique_ptr<MethodBase> NewColorsMethod();     // image.colors
std::unique_ptr<MethodBase> NewThumbnailMethod();  // image.thumbnail
std::unique_ptr<MethodBase> NewFacesMethod();      // image.faces
std::unique_ptr<MethodBase> NewOcrMethod();        // ocr.tesseract
// One MobileNetV2 forward pass per item serves both (image_network.cc).
std::unique_ptr<MethodBase> NewImageEmbeddingMethod();  // image.embedding
std::unique_ptr<MethodBase> NewImageSafetyMethod();     // image.safety
// Stream methods: fed by the item's one decoding pass (media/stream.h).
std::unique_ptr<MethodBase> NewVideoShotsMethod();    // video.shots
std::unique_ptr<MethodBase> NewVideoDefectsMethod();  // video.defects
std::unique_ptr<MethodBase> NewVideoClipsMethod();    // video.clips (cuts llm.clips' choice)

// Where the local networks' files are: $SLUICE_MODELS, else the build's .models folder.
std::filesystem::path LocalModelDir();

// The item's decoded image (decoded once, shared by its steps). FailedPrecondition (cause
// "not_an_image") for an item without one; the decode error otherwise.
Result<const cv::Mat*> ImageOf(const ItemContext& item);

}  // namespace sluice::methods
