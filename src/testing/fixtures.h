// Media fixtures generated at test time with ImageMagick, ffmpeg (lavfi) and espeak-ng —
// nothing downloaded. Each returns the file's path; throws std::runtime_error when a tool fails.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace sluice::testing {

// An ad-like image: `size` ("640x360"), a vertical gradient, and `text` in large black letters
// on a white band (easy for OCR). Format from the extension.
std::filesystem::path MakeTextImage(const std::filesystem::path& dir, const std::string& name,
                                    const std::string& text, const std::string& size = "800x300");
// A solid image of one colour ("#ff0000").
std::filesystem::path MakeSolidImage(const std::filesystem::path& dir, const std::string& name,
                                     const std::string& color, const std::string& size = "64x64");
// `source` re-encoded smaller and at lower quality: a near-duplicate.
std::filesystem::path MakeNearDuplicate(const std::filesystem::path& source,
                                        const std::string& name);
// A cartoon face (skin-coloured disc, eyes, mouth) large enough for a frontal-face cascade.
std::filesystem::path MakeFaceImage(const std::filesystem::path& dir, const std::string& name);
// `seconds` of 320x240 test-pattern video at 25 fps (H.264 in MP4), with a sine tone when
// `audio`.
std::filesystem::path MakeVideo(const std::filesystem::path& dir, const std::string& name,
                                int seconds, bool audio);
// The outputs of an ffmpeg filter graph `graph` (lavfi sources only), labelled [out_v] for the
// picture and [out_a] for the sound (either may be absent), encoded by the extension's default
// codecs unless `codec_args` names others (for .mp4: H.264 ultrafast, yuv420p, AAC). For
// fixtures whose truth is the graph's own timing.
std::filesystem::path MakeFromFilterGraph(const std::filesystem::path& dir, const std::string& name,
                                          const std::string& graph,
                                          std::vector<std::string> codec_args = {});
// A PNG of 16x16 pixels whose header declares `width` x `height`: a decompression bomb.
std::filesystem::path MakePngBomb(const std::filesystem::path& dir, const std::string& name,
                                  uint32_t width, uint32_t height);

}  // namespace sluice::testing
