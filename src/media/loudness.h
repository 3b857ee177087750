// Loudness per ITU-R BS.1770-4 and EBU R128: integrated loudness (gated 400 ms blocks, 100 ms
// apart) and loudness range (EBU Tech 3342: 3 s short-term blocks ten times a second, gated, the
// spread between their 10th and 95th percentiles). Channel weights as libebur128's default map
// (surround channels ×1.41, LFE left out).
//
// The K-weighting runs in double precision, all channels of a frame in one step so their filter
// chains overlap; the blocks keep only their energies (8 bytes per 100 ms of audio).
//
// Not thread-safe: one meter per stream.
#pragma once

#include <array>
#include <vector>

namespace sluice::media {

class LoudnessMeter {
 public:
  LoudnessMeter(int channels, int sample_rate);
  // `frames` frames of `channels` interleaved samples (full scale ±1).
  void Add(const float* interleaved, int frames);
  // Integrated loudness in LUFS; -infinity when no block is above the absolute gate (silence).
  double IntegratedLufs() const;
  // Loudness range in LU; 0 when fewer than two short-term blocks pass the gates.
  double RangeLu() const;

 private:
  struct Biquad {
    double b0, b1, b2, a1, a2;
  };
  struct ChannelState {
    double weight = 1;
    std::array<double, 2> shelf{}, highpass{};  // transposed direct form II states
  };
  int channels_;
  int samples_per_100ms_;
  Biquad shelf_{}, highpass_{};
  std::vector<ChannelState> state_;
  double energy_ = 0;               // Σ weight × y² in the current 100 ms
  int filled_ = 0;                  // samples in the current 100 ms
  std::vector<double> sub_blocks_;  // Σ weight × y² per 100 ms
};

}  // namespace sluice::media
