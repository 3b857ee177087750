// Cutting a clip out of a stored video into an MP4 file of its own. Synchronous, CPU: call on
// the CPU pool.
//
// A clip is copied packet for packet when it starts on a keyframe (fast, lossless). Otherwise an
// H.264 picture gets a smart cut: only the head up to the next keyframe is re-encoded (libx264)
// and the rest copied, so it starts exactly where asked at little cost; other codecs, and clips
// with no keyframe inside, are re-encoded whole. Audio is always copied. Thread-safe: each call
// has its own contexts.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::media {

enum class ClipMode {
  kAuto,    // copy when the start is on a keyframe, else re-encode the head only (or all)
  kCopy,    // always copy, from the keyframe at or before the start (the clip may begin early)
  kEncode,  // always re-encode the picture
};

struct ClipOptions {
  ClipMode mode = ClipMode::kAuto;
  // x264 constant rate factor when re-encoding (lower is better and bigger). Default 23.
  int crf = 23;
};

enum class ClipCut {
  kCopied,   // every packet copied
  kSmart,    // the head re-encoded up to a keyframe, the rest copied
  kEncoded,  // the whole picture re-encoded
};
// "copy", "smart", "encode".
std::string_view ClipCutName(ClipCut cut);

struct Clip {
  std::string mp4;     // the file's bytes (moov first: plays while it downloads)
  double start_s = 0;  // where the clip really starts in the source (kCopy may start early)
  double end_s = 0;
  ClipCut cut = ClipCut::kEncoded;
  double encoded_s = 0;  // how much of the picture was re-encoded (all of it for kEncoded)
};

// The part [start_s, end_s) of `file`. InvalidArgument (cause "undecodable") when the file has
// no picture stream or cannot be read; InvalidArgument (cause "bad_clip") for an empty range or
// one outside the video; FailedPrecondition (cause "no_encoder") when re-encoding is needed and
// libavcodec has no H.264 encoder.
Result<Clip> CutClip(const std::filesystem::path& file, double start_s, double end_s,
                     const ClipOptions& options = {});

}  // namespace sluice::media
