// The sample media the binary carries for `sluice demo`: made at build time by
// scripts/make-samples.sh (ad-like images with text, an exact and a near duplicate, a short
// video with speech, an HTML page posing as a JPEG) and embedded, so the demo needs no files
// beside the binary.
#pragma once

#include <filesystem>
#include <span>
#include <string_view>

#include "common/status.h"

namespace sluice::cli {

struct SampleFile {
  std::string_view name;
  std::string_view bytes;
};

// Every embedded sample, by file name.
std::span<const SampleFile> BundledSamples();

// Writes every bundled sample missing from `dir` into it (creating it). Returns how many were
// written. FailedPrecondition (cause "data_dir_unwritable") when `dir` cannot be written.
Result<int> WriteBundledSamples(const std::filesystem::path& dir);

}  // namespace sluice::cli
