#include "media/loudness.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace sluice::media {
namespace {

constexpr double kAbsoluteGateLufs = -70;

double Lufs(double mean_square) { return -0.691 + 10 * std::log10(mean_square); }
double MeanSquareAt(double lufs) { return std::pow(10.0, (lufs + 0.691) / 10); }

// Mean squares of windows of `width` sub-blocks, one per sub-block once the window is full.
std::vector<double> Windows(const std::vector<double>& sub_blocks, size_t width,
                            int samples_per_100ms) {
  std::vector<double> windows;
  double sum = 0;
  for (size_t i = 0; i < sub_blocks.size(); ++i) {
    sum += sub_blocks[i];
    if (i >= width) sum -= sub_blocks[i - width];
    if (i + 1 >= width)
      windows.push_back(std::max(0.0, sum) / static_cast<double>(width * samples_per_100ms));
  }
  return windows;
}

}  // namespace

LoudnessMeter::LoudnessMeter(int channels, int sample_rate)
    : channels_(std::max(1, channels)),
      samples_per_100ms_(std::max(1, (sample_rate + 5) / 10)),
      state_(static_cast<size_t>(channels_)) {
  // K-weighting: a high shelf (the head's effect) then a high pass (RLB), designed for the
  // sample rate by the bilinear transform as libebur128 does; the high pass's numerator is
  // left unnormalised as in BS.1770.
  double rate = std::max(1, sample_rate);
  double f0 = 1681.974450955533, gain_db = 3.999843853973347, q = 0.7071752369554196;
  double k = std::tan(std::numbers::pi * f0 / rate);
  double vh = std::pow(10.0, gain_db / 20), vb = std::pow(vh, 0.4996667741545416);
  double a0 = 1 + k / q + k * k;
  shelf_ = {(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0,
            2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0};
  f0 = 38.13547087602444;
  q = 0.5003270373238773;
  k = std::tan(std::numbers::pi * f0 / rate);
  a0 = 1 + k / q + k * k;
  highpass_ = {1, -2, 1, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0};
  // libebur128's default channel map: L R C (LFE) Ls Rs, or L R Ls Rs for four channels.
  for (int c = 0; c < channels_; ++c) {
    double weight = 1;
    if (channels_ == 4) {
      weight = c >= 2 ? 1.41 : 1;
    } else if (channels_ == 5) {
      weight = c >= 3 ? 1.41 : 1;
    } else if (channels_ > 5) {
      weight = c == 3 || c > 5 ? 0 : c >= 4 ? 1.41 : 1;
    }
    state_[static_cast<size_t>(c)].weight = weight;
  }
}

void LoudnessMeter::Add(const float* interleaved, int frames) {
  // A channel at a time up to each 100 ms boundary, its filter state in locals: the chain of
  // one sample to the next is the cost, so it must not go through memory.
  for (int done = 0; done < frames;) {
    int run = std::min(frames - done, samples_per_100ms_ - filled_);
    for (int c = 0; c < channels_; ++c) {
      ChannelState& ch = state_[static_cast<size_t>(c)];
      if (ch.weight == 0) continue;
      const Biquad s = shelf_, h = highpass_;
      double s0 = ch.shelf[0], s1 = ch.shelf[1], h0 = ch.highpass[0], h1 = ch.highpass[1];
      double sum = 0;
      const float* x = interleaved + static_cast<size_t>(done) * channels_ + c;
      for (int f = 0; f < run; ++f, x += channels_) {
        double in = *x;
        double mid = s.b0 * in + s0;
        s0 = s.b1 * in - s.a1 * mid + s1;
        s1 = s.b2 * in - s.a2 * mid;
        double out = h.b0 * mid + h0;
        h0 = h.b1 * mid - h.a1 * out + h1;
        h1 = h.b2 * mid - h.a2 * out;
        sum += out * out;
      }
      ch.shelf = {s0, s1};
      ch.highpass = {h0, h1};
      energy_ += ch.weight * sum;
    }
    done += run;
    filled_ += run;
    if (filled_ == samples_per_100ms_) {
      sub_blocks_.push_back(energy_);
      energy_ = 0;
      filled_ = 0;
    }
  }
}

double LoudnessMeter::IntegratedLufs() const {
  std::vector<double> blocks = Windows(sub_blocks_, 4, samples_per_100ms_);
  double absolute = MeanSquareAt(kAbsoluteGateLufs);
  double sum = 0;
  size_t count = 0;
  for (double z : blocks) {
    if (z > absolute) {
      sum += z;
      ++count;
    }
  }
  if (count == 0) return -std::numeric_limits<double>::infinity();
  double relative = sum / static_cast<double>(count) * MeanSquareAt(-10) / MeanSquareAt(0);
  sum = 0;
  count = 0;
  for (double z : blocks) {
    if (z > absolute && z > relative) {
      sum += z;
      ++count;
    }
  }
  return count ? Lufs(sum / static_cast<double>(count)) : -std::numeric_limits<double>::infinity();
}

double LoudnessMeter::RangeLu() const {
  std::vector<double> blocks = Windows(sub_blocks_, 30, samples_per_100ms_);
  double absolute = MeanSquareAt(kAbsoluteGateLufs);
  std::vector<double> kept;
  double sum = 0;
  for (double z : blocks) {
    if (z > absolute) {
      kept.push_back(z);
      sum += z;
    }
  }
  if (kept.size() < 2) return 0;
  double relative = sum / static_cast<double>(kept.size()) * MeanSquareAt(-20) / MeanSquareAt(0);
  std::erase_if(kept, [relative](double z) { return z < relative; });
  if (kept.size() < 2) return 0;
  std::sort(kept.begin(), kept.end());
  auto at = [&](double fraction) {
    return kept[static_cast<size_t>(static_cast<double>(kept.size() - 1) * fraction + 0.5)];
  };
  return Lufs(at(0.95)) - Lufs(at(0.10));
}

}  // namespace sluice::media
