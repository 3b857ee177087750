#include "media/true_peak.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#if defined(__SSE2__)
#include <emmintrin.h>
#define SLUICE_TRUE_PEAK_SSE 1
#endif

namespace sluice::media {

TruePeakMeter::TruePeakMeter(int channels, int sample_rate)
    : channels_(std::max(1, channels)),
      factor_(sample_rate < 96000    ? 4
              : sample_rate < 192000 ? 2
                                     : 1),
      taps_(49 / factor_),
      history_(static_cast<size_t>(channels_), std::vector<float>(static_cast<size_t>(taps_ - 1))) {
  if (factor_ == 1) return;
  // libebur128's interpolator: 49 taps of sinc(m / factor) under a Hann window, m centred. Tap
  // j belongs to phase j % factor; phase 0 holds only the centre tap (the samples themselves).
  const int taps = 49;
  phases_.assign(static_cast<size_t>(factor_ - 1), std::vector<float>(static_cast<size_t>(taps_)));
  for (int j = 0; j < taps; ++j) {
    double m = j - (taps - 1) / 2.0;
    double c = std::fabs(m) > 1e-9
                   ? std::sin(m * std::numbers::pi / factor_) / (m * std::numbers::pi / factor_)
                   : 1.0;
    c *= 0.5 * (1 - std::cos(2 * std::numbers::pi * j / (taps - 1)));
    int phase = j % factor_, tap = j / factor_;
    if (phase == 0) continue;
    phases_[static_cast<size_t>(phase - 1)][static_cast<size_t>(tap)] = static_cast<float>(c);
  }
  for (const auto& phase : phases_) {
    float sum = 0;
    for (float c : phase) sum += std::fabs(c);
    gain_ = std::max(gain_, sum);
  }
}

void TruePeakMeter::Add(const float* interleaved, int frames) {
  if (frames <= 0) return;
  for (int ch = 0; ch < channels_; ++ch) {
    std::vector<float>& x = history_[static_cast<size_t>(ch)];  // taps_ - 1 old, then new
    x.resize(static_cast<size_t>(taps_ - 1 + frames));
    float block_peak = 0;
    for (int f = 0; f < frames; ++f) {
      float s = interleaved[static_cast<size_t>(f) * channels_ + ch];
      x[static_cast<size_t>(taps_ - 1 + f)] = s;
      block_peak = std::max(block_peak, std::fabs(s));
    }
    peak_ = std::max(peak_, static_cast<double>(block_peak));
    // Between samples the signal cannot exceed the block's (and the history's) peak times the
    // filter's gain: such blocks cannot raise the peak.
    float reach = block_peak;
    for (int i = 0; i < taps_ - 1; ++i)
      reach = std::max(reach, std::fabs(x[static_cast<size_t>(i)]));
    if (!phases_.empty() && reach * gain_ > peak_) {
      float found = 0;
      const float* newest = x.data() + taps_ - 1;  // newest[n - t] = x[n - t]
      for (const auto& c : phases_) {
        int n = 0;
#ifdef SLUICE_TRUE_PEAK_SSE
        const __m128 sign = _mm_set1_ps(-0.0f);
        __m128 most = _mm_setzero_ps();
        for (; n + 4 <= frames; n += 4) {
          __m128 sum = _mm_setzero_ps();
          for (int t = 0; t < taps_; ++t)
            sum = _mm_add_ps(sum, _mm_mul_ps(_mm_set1_ps(c[static_cast<size_t>(t)]),
                                             _mm_loadu_ps(newest + n - t)));
          most = _mm_max_ps(most, _mm_andnot_ps(sign, sum));
        }
        alignas(16) float lanes[4];
        _mm_store_ps(lanes, most);
        found = std::max({found, lanes[0], lanes[1], lanes[2], lanes[3]});
#endif
        for (; n < frames; ++n) {
          float sum = 0;
          for (int t = 0; t < taps_; ++t) sum += c[static_cast<size_t>(t)] * newest[n - t];
          found = std::max(found, std::fabs(sum));
        }
      }
      peak_ = std::max(peak_, static_cast<double>(found));
    }
    // Keep the last taps_ - 1 samples for the next block.
    std::copy(x.end() - (taps_ - 1), x.end(), x.begin());
    x.resize(taps_ - 1);
  }
}

}  // namespace sluice::media
