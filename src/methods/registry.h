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

  // How images are decoded for the methods (media::OpenSharedImage, set by the built-in
  // registration): the analyser and the runner open each item's image through it, and so name
  // no decoder themselves.
  using ImageOpener = std::unique_ptr<media::SharedImage> (*)(std::filesystem::path file,
                                                              media::ImageLimits limits);
  void SetImageOpener(ImageOpener opener) { open_image_ = opener; }
  // The item's image, decoded on first use; null when no decoder was registered.
  std::unique_ptr<media::SharedImage> OpenImage(std::filesystem::path file,
                                                media::ImageLimits limits) const {
    return open_image_ ? open_image_(std::move(file), limits) : nullptr;
  }

 private:
  std::map<std::string, std::unique_ptr<MethodBase>, std::less<>> methods_;
  ImageOpener open_image_ = nullptr;
};

}  // namespace sluice::methods
