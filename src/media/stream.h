// One decoding pass over a video or audio file, shared by every detector of the item
// (DESIGN.md §2: decoded frames shared in memory).
//
// A pass demuxes the file once, decodes its best picture stream into frames at analysis
// resolution and its best audio stream into float samples, and hands each frame and each block
// of samples, in presentation order, to every StreamSink given to it. Nothing is written
// anywhere: memory is one frame and one audio block at a time plus what the sinks keep.
//
// Limits (duration, streams, resolution, decode time) fail the pass with a clear cause; a
// corrupt stretch (packets the decoder refuses) is skipped and counted, not fatal.
//
// The interface is decoder-free so that code which only hands streams around (the analyser,
// the method executor) names no decoder; OpenDecodePass is defined with the decoders and
// reaches the rest through the method registry (methods::Registry::OpenStream).
//
// Thread-safety: a DecodePass runs one pass at a time (Run serialises callers); sinks are
// called on the thread that runs the pass, one call at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <opencv2/core.hpp>
#include <vector>

#include "common/status.h"

namespace sluice::media {

struct StreamLimits {
  // Frames are scaled (keeping the aspect ratio) so that their short side is this many pixels;
  // smaller videos are not enlarged. Default 360. Detectors see only this size.
  int analysis_short_side = 360;
  // Longer files are refused before decoding (cause "too_long"). Default 4 h.
  double max_duration_s = 4 * 3600.0;
  // Files with more streams are refused (cause "too_many_streams"). Default 16.
  int max_streams = 16;
  // Pictures larger than this (width × height, as coded) are refused (cause "too_many_pixels").
  // Default 8K UHD: 7680 × 4320.
  int64_t max_pixels = 7680LL * 4320;
  // Wall time one pass may take; past it the pass stops (cause "decode_timeout"). Default 2 h.
  double max_decode_s = 2 * 3600.0;
  // A pass in which more than this fraction of packets is corrupt fails (cause
  // "mostly_corrupt"): below it, corrupt stretches are skipped and counted. Default 0.5.
  double max_corrupt_fraction = 0.5;
};

// What a sink learns before the first frame.
struct StreamInfo {
  bool has_video = false;
  int width = 0;  // analysis size of every frame (0 without video)
  int height = 0;
  int source_width = 0;  // as coded
  int source_height = 0;
  double frame_rate = 0;  // nominal frames per second (0 when unknown or without video)
  bool has_audio = false;
  int sample_rate = 0;    // of the samples handed to sinks: the stream's own rate
  int channels = 0;       // of the samples handed to sinks (at most 8; more are downmixed)
  double duration_s = 0;  // from the container; 0 when unknown
};

// One decoded picture at analysis resolution. Its planes (the Mats' pixels, not this struct)
// stay valid until the next frame's OnFrame calls have returned: a sink may keep views of the
// previous frame instead of copying it, and must copy what it keeps longer.
struct VideoFrame {
  int64_t index = 0;  // 0-based, in presentation order, counting only decoded frames
  double time_s = 0;  // presentation time from the stream start
  // The luma plane (8-bit, CV_8UC1, analysis size), and the chroma planes at half size
  // (CV_8UC1 each; 4:2:0 subsampling as in the video itself). Views: rows may have a stride.
  cv::Mat y, u, v;
  // The overview: luma in means of 8×8 blocks and chroma of 4×4 (media/plane_stats.h), so all
  // three are (width / 8) × (height / 8) — made once by the pass for every sink.
  cv::Mat small_y, small_u, small_v;
  // The picture as decoded, when it is 8-bit 4:2:0 and larger than the analysis size (else
  // empty: y, u, v are all there is). y, u, v are then reduced from it with a fast two-tap
  // filter (detectors read block means and histograms); a sink that keeps a few pictures to
  // show, such as keyframes, reduces these with area averaging instead.
  cv::Mat source_y, source_u, source_v;
  // The frame in colour (CV_8UC3 BGR, analysis size), converted on first call.
  std::function<const cv::Mat&()> bgr;
};

// Decoded audio: `frames` sample frames of `channels` interleaved floats in [-1, 1] at the
// stream's rate, starting at `time_s`. Valid only during the OnAudio call.
struct AudioBlock {
  double time_s = 0;
  const float* samples = nullptr;
  int frames = 0;
  int channels = 0;
  int sample_rate = 0;
};

// Totals of one pass.
struct PassStats {
  int64_t frames = 0;           // pictures handed to sinks
  int64_t audio_frames = 0;     // sample frames handed to sinks
  int64_t corrupt_packets = 0;  // refused by a decoder and skipped
  int64_t packets = 0;          // read from the selected streams
  double duration_s = 0;        // the end of the last frame or sample seen
  double decode_seconds = 0;    // wall time of the pass
};

// A detector's view of a pass. Implementations keep state across calls; the pass calls OnStart
// once, then OnFrame/OnAudio in presentation order (audio and video interleaved as they are
// decoded, each in its own order), then OnEnd once — unless the pass failed.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual void OnStart(const StreamInfo& /*info*/) {}
  virtual void OnFrame(const VideoFrame& /*frame*/) {}
  virtual void OnAudio(const AudioBlock& /*audio*/) {}
  virtual void OnEnd(const PassStats& /*stats*/) {}
  // Whether the sink reads pictures; when no sink does, the pass skips video decoding.
  virtual bool WantsVideo() const { return true; }
  // Whether the sink reads audio; when no sink does, the pass skips audio decoding.
  virtual bool WantsAudio() const { return true; }
};

// One item's decoding pass: each Run decodes the file once for all the sinks it is given.
class DecodePass {
 public:
  virtual ~DecodePass() = default;
  // Decodes the file, feeding every sink. Its stats on success. InvalidArgument (cause
  // "undecodable") when the file holds no decodable picture or audio stream; FailedPrecondition
  // with cause "too_long", "too_many_streams" or "too_many_pixels" past a limit;
  // DeadlineExceeded (cause "decode_timeout") past max_decode_s; InvalidArgument (cause
  // "mostly_corrupt") past max_corrupt_fraction. NotFound when the file does not exist.
  virtual Result<PassStats> Run(const std::vector<StreamSink*>& sinks) = 0;
  // The limits it decodes under (the analysis size is part of what detectors' results mean).
  virtual const StreamLimits& limits() const = 0;
  // How many passes decoded the file: lets tests prove one decode per item.
  virtual int runs() const = 0;
};

// A pass over `file` under `limits` (defined with the decoders).
std::unique_ptr<DecodePass> OpenDecodePass(std::filesystem::path file, StreamLimits limits);

}  // namespace sluice::media
