#include "common/toml_file.h"

#include "common/strings.h"

namespace sluice {

Result<TomlFile> TomlFile::Parse(const std::filesystem::path& file, std::string_view what) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec))
    return absl::NotFoundError(StrCat("cannot read the ", what, " ", file.string()));
  TomlFile parsed;
  parsed.name_ = file.string();
  try {
    parsed.root_ = toml::parse_file(parsed.name_);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(
        StrCat(parsed.name_, ":", e.source().begin.line, ": ", e.description()));
  }
  return parsed;
}

Status TomlFile::ErrorAt(const toml::node& node, std::string_view what) const {
  return absl::InvalidArgumentError(StrCat(name_, ":", node.source().begin.line, ": ", what));
}

Status TomlFile::Error(std::string_view what) const {
  return absl::InvalidArgumentError(StrCat(name_, ": ", what));
}

}  // namespace sluice
