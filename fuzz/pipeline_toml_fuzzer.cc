// The pipeline file loader (TOML: steps, methods, params, kinds, conditions) against the real
// method registry, over any file: pipelines are written by hand, and every mistake must come
// back as "FILE:LINE: what" (or "FILE: what"), never a crash; a pipeline it accepts must pass
// the same checks again when built in code.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "methods/builtin.h"
#include "methods/registry.h"
#include "pipeline/definition.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("sluice-fuzz-pipeline." + std::to_string(getpid()));
  static sluice::methods::Registry* registry = [] {
    auto* r = new sluice::methods::Registry();
    if (!sluice::methods::RegisterBuiltinMethods(*r).ok()) __builtin_trap();
    return r;
  }();
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  sluice::Result<sluice::pipeline::PipelineDef> pipeline =
      sluice::pipeline::LoadPipelineFile(file, *registry);
  if (!pipeline.ok()) {
    // Errors name the file they are about.
    if (pipeline.status().message().find(file.string()) == std::string_view::npos) __builtin_trap();
    return 0;
  }
  if (!sluice::pipeline::ValidatePipeline(*pipeline, *registry).ok()) __builtin_trap();
  return 0;
}
