// The registry of methods, by name. Built once at start (methods/builtin.h), then read-only
// and safe to read from any thread.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "methods/method.h"

namespace sluice::methods {

// The limits an item's media is decoded under.
struct MediaLimits {
  media::ImageLimits image;
  media::StreamLimits stream;
};

// The decoded media of one item (ItemContext points into it).
struct ItemMedia {
  std::unique_ptr<media::SharedImage> image;
  std::unique_ptr<media::DecodePass> stream;
};

class Registry {
 public:
  // AlreadyExists when a method of that name is registered; InvalidArgument for a spec without a
  // name, a version < 1, a params value that is not an object, or an item method declaring
  // "set" input.
  Status Add(std::unique_ptr<MethodBase> method);
  // Replaces (or adds) the method of that name: tests swap a real method for a fake.
  void ReplaceForTest(std::unique_ptr<MethodBase> method);

  // Null when absent.
  const MethodBase* Find(std::string_view name) const;
  // NotFound listing close names when absent.
  Result<const MethodBase*> Get(std::string_view name) const;
  // Every method, by name.
  std::vector<const MethodBase*> All() const;

  // How images are decoded and video and audio streamed for the methods (media::OpenSharedImage
  // and media::OpenDecodePass, set by the built-in registration): the analyser and the runner
  // open each item's media through them, and so name no decoder themselves.
  using ImageOpener = std::unique_ptr<media::SharedImage> (*)(std::filesystem::path file,
                                                              media::ImageLimits limits);
  using StreamOpener = std::unique_ptr<media::DecodePass> (*)(std::filesystem::path file,
                                                              media::StreamLimits limits);
  void SetMediaOpeners(ImageOpener image, StreamOpener stream) {
    open_image_ = image;
    open_stream_ = stream;
  }
  // What `item.kind` needs, opened over `item.file` (decoded on first use), with `item.image` /
  // `item.stream` pointed at it: an image for images, a decoding pass for videos and audio.
  // Nothing when no opener was registered. The returned owner must outlive the item's steps.
  ItemMedia OpenMedia(ItemContext& item, const MediaLimits& limits) const;

 private:
  std::map<std::string, std::unique_ptr<MethodBase>, std::less<>> methods_;
  ImageOpener open_image_ = nullptr;
  StreamOpener open_stream_ = nullptr;
};

}  // namespace sluice::methods
