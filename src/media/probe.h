// Probing a media file with libavformat: what it is and how big, read from its headers only.
//
// Media is probed from a local file (never from a URL: DESIGN.md §6), under limits on how much
// is read and how many streams are accepted. Thread-safe: each call has its own context.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/content_type.h"
#include "common/status.h"

namespace sluice::media {

struct ProbeLimits {
  // Bytes libavformat may read to identify the streams. Default 5 MB.
  int64_t probe_bytes = 5'000'000;
  // Microseconds of media analysed for stream parameters. Default 5 s.
  int64_t analyze_us = 5'000'000;
  // Files with more streams are refused (a crafted file can declare thousands). Default 16.
  int max_streams = 16;
  // Images declaring more pixels are refused from their header, before libavformat decodes
  // anything to learn stream parameters. Default 100 MP.
  int64_t max_pixels = 100'000'000;
};

struct ProbeResult {
  MediaKind kind = MediaKind::kOther;
  std::string format;  // libavformat's short name, e.g. "png_pipe", "mov,mp4,m4a,3gp,3g2,mj2"
  int width = 0;       // of the first video stream (images are one-frame video streams)
  int height = 0;
  double duration_s = 0;    // 0 for still images and when unknown
  double frame_rate = 0;    // 0 for still images
  std::string video_codec;  // "h264", "mjpeg", "png", ...
  std::string audio_codec;  // "" when there is no audio
  bool has_audio = false;
  int streams = 0;
};

// InvalidArgument (cause "undecodable") when the file is not media libavformat can read or a
// video stream has no size; FailedPrecondition (cause "too_many_streams" / "too_many_pixels")
// past a limit; NotFound when the file does not exist.
Result<ProbeResult> Probe(const std::filesystem::path& file, const ProbeLimits& limits = {});

}  // namespace sluice::media
