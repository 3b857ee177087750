// True peak per ITU-R BS.1770-4 annex 2: the largest magnitude of the signal oversampled four
// times (twice at 96 kHz and above, as is at 192 kHz), so peaks between samples count.
//
// The interpolator is libebur128's (a 49-tap Hann-windowed sinc split into phases), so the
// result agrees with it and with ffmpeg's ebur128 filter; the work is SSE-vectorised and blocks
// that cannot raise the peak (their own peak times the filter's gain stays below it) are skipped,
// which makes it several times cheaper than libebur128's true-peak mode.
//
// Not thread-safe: one meter per stream.
#pragma once

#include <vector>

namespace sluice::media {

class TruePeakMeter {
 public:
  TruePeakMeter(int channels, int sample_rate);
  // `frames` frames of `channels` interleaved samples (full scale ±1).
  void Add(const float* interleaved, int frames);
  // The true peak so far, linear (1.0 = full scale); 0 before any sample.
  double peak() const { return peak_; }

 private:
  int channels_;
  int factor_;  // 4, 2 or 1
  int taps_;    // per phase besides the identity one: 12 at 4x, 24 at 2x
  // Coefficients of the phases other than the identity one, taps_ each.
  std::vector<std::vector<float>> phases_;
  float gain_ = 1;  // the largest sum of |coefficients| of a phase
  std::vector<std::vector<float>>
      history_;  // per channel: the last taps_ - 1 samples, then a block
  double peak_ = 0;
};

}  // namespace sluice::media
