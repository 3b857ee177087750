// The providers configuration loader (the [providers] tables of sluice.toml) over any file: a
// config is typed by hand, and every mistake must come back as "FILE:LINE: what", never a crash.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "methods/remote/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("sluice-fuzz-config." + std::to_string(getpid()));
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  auto no_environment = [](const std::string&) { return std::optional<std::string>(); };
  sluice::Result<sluice::methods::remote::ProvidersConfig> config =
      sluice::methods::remote::LoadProvidersConfig(file, no_environment);
  if (!config.ok() && config.status().message().empty()) __builtin_trap();  // errors say what
  return 0;
}
