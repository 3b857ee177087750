#include "methods/registry.h"

#include "common/strings.h"

namespace sluice::methods {

Status Registry::Add(std::unique_ptr<MethodBase> method) {
  const MethodSpec& spec = method->spec();
  if (spec.name.empty()) return absl::InvalidArgumentError("a method spec needs a name");
  if (spec.version < 1)
    return absl::InvalidArgumentError(StrCat(spec.name, ": version must be at least 1"));
  bool is_set = IsSetMethod(method.get());
  for (const std::string& input : spec.inputs) {
    if (input == "set" && !is_set) {
      return absl::InvalidArgumentError(
          StrCat(spec.name, ": only set methods read the \"set\" input"));
    }
  }
  if (methods_.contains(spec.name)) {
    return absl::AlreadyExistsError(StrCat("a method named ", spec.name, " is already registered"));
  }
  methods_.emplace(spec.name, std::move(method));
  return absl::OkStatus();
}

void Registry::ReplaceForTest(std::unique_ptr<MethodBase> method) {
  std::string name = method->spec().name;
  methods_[name] = std::move(method);
}

const MethodBase* Registry::Find(std::string_view name) const {
  auto it = methods_.find(name);
  return it == methods_.end() ? nullptr : it->second.get();
}

Result<const MethodBase*> Registry::Get(std::string_view name) const {
  if (const MethodBase* method = Find(name)) return method;
  std::string known;
  for (const auto& [key, unused] : methods_) StrAppend(known, known.empty() ? "" : ", ", key);
  return absl::NotFoundError(StrCat("no method named '", name, "' (known: ", known, ")"));
}

std::vector<const MethodBase*> Registry::All() const {
  std::vector<const MethodBase*> all;
  for (const auto& [name, method] : methods_) all.push_back(method.get());
  return all;
}

ItemMedia Registry::OpenMedia(ItemContext& item, const MediaLimits& limits) const {
  ItemMedia media;
  if (item.kind == MediaKind::kImage && open_image_) {
    media.image = open_image_(item.file, limits.image);
  } else if ((item.kind == MediaKind::kVideo || item.kind == MediaKind::kAudio) && open_stream_) {
    media.stream = open_stream_(item.file, limits.stream);
  }
  item.image = media.image.get();
  item.stream = media.stream.get();
  return media;
}

}  // namespace sluice::methods
