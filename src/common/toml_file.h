// A TOML file (a pipeline, the config file) parsed once, with errors that name FILE:LINE so a
// person can go straight to the mistake. Shared by every reader of TOML in sluice.
//
// Any thread; a TomlFile is read-only once parsed.
#pragma once

#include <toml++/toml.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

class TomlFile {
 public:
  // Parses `file`. NotFound "cannot read the WHAT FILE" when it is not a readable file;
  // InvalidArgument "FILE:LINE: what is wrong" for a syntax error.
  static Result<TomlFile> Parse(const std::filesystem::path& file, std::string_view what);

  const toml::table& root() const { return root_; }
  const std::string& name() const { return name_; }
  // InvalidArgument "FILE:LINE: what", LINE being where `node` starts.
  Status ErrorAt(const toml::node& node, std::string_view what) const;
  // InvalidArgument "FILE: what", for what has no line (a missing section).
  Status Error(std::string_view what) const;

 private:
  std::string name_;
  toml::table root_;
};

}  // namespace sluice
