// Bringing decoded audio (AudioBlock: interleaved float at the stream's rate) to mono 16-bit
// PCM at a fixed rate — what speech recognisers and transcription APIs take (16 kHz).
//
// Not thread-safe: one resampler per sink.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace sluice::media {

class MonoResampler {
 public:
  // InvalidArgument for rates or channel counts libswresample refuses.
  static Result<std::unique_ptr<MonoResampler>> Create(int in_rate, int in_channels, int out_rate);
  virtual ~MonoResampler() = default;
  // Appends the resampled form of `frames` interleaved sample frames to `out`.
  virtual void Push(const float* samples, int frames, std::vector<int16_t>& out) = 0;
  // Appends what the filter still holds (call once, at the end).
  virtual void Flush(std::vector<int16_t>& out) = 0;
};

// `samples` (mono, 16-bit) as a RIFF/WAVE file at `rate`.
std::string WavFile(const int16_t* samples, size_t count, int rate);

}  // namespace sluice::media
