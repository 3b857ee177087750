// Decoding the first picture of any libavcodec-readable file (GIF, WebP, video) to 8-bit BGR:
// the fallback for images OpenCV cannot read, and the source of video frames.
//
// Thread-safe: each call has its own decoder.
#pragma once

#include <filesystem>
#include <opencv2/core.hpp>
#include <vector>

#include "common/status.h"

namespace sluice::media {

// InvalidArgument (cause "undecodable") when no picture can be decoded.
Result<cv::Mat> DecodeFirstFrame(const std::filesystem::path& file);

// `count` pictures spread over a video: the middle of each of `count` equal spans (one picture
// for a still image or a stream that cannot seek). Errors as DecodeFirstFrame.
Result<std::vector<cv::Mat>> SampleFrames(const std::filesystem::path& file, int count);

// The first picture at or after `seconds` from the start (a clip's poster). Errors as
// DecodeFirstFrame.
Result<cv::Mat> FrameAt(const std::filesystem::path& file, double seconds);

}  // namespace sluice::media
