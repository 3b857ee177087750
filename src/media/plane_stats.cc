#include "media/plane_stats.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <opencv2/imgproc.hpp>
#include <vector>

#if defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
#define SLUICE_PLANE_STATS_SSE2 1
#endif

namespace sluice::media {

void BlockMeans(const cv::Mat& plane, int block, cv::Mat& out) {
  CV_Assert(plane.type() == CV_8UC1 && block > 0 && !plane.empty());
  const int block_w = std::min(block, plane.cols), block_h = std::min(block, plane.rows);
  const int out_w = plane.cols / block_w, out_h = plane.rows / block_h;
  out.create(out_h, out_w, CV_8UC1);
  const uint32_t area = static_cast<uint32_t>(block_w * block_h);
  // Blocks of 4 and 8 have power-of-two areas: a shift instead of a division.
  const int shift = (area & (area - 1)) == 0 ? std::countr_zero(area) : -1;
  auto mean = [area, shift](uint32_t sum) {
    return static_cast<uint8_t>(shift >= 0 ? (sum + area / 2) >> shift : (sum + area / 2) / area);
  };
  // On the stack for the usual sizes: this runs three times a frame.
  cv::AutoBuffer<uint32_t, 512> sums(static_cast<size_t>(out_w));
  cv::AutoBuffer<const uint8_t*, 32> rows(static_cast<size_t>(block_h));
  for (int oy = 0; oy < out_h; ++oy) {
    for (int r = 0; r < block_h; ++r)
      rows[static_cast<size_t>(r)] = plane.ptr<uint8_t>(oy * block_h + r);
    uint8_t* o = out.ptr<uint8_t>(oy);
    int done = 0;  // output pixels written by the vector code
#ifdef SLUICE_PLANE_STATS_SSE2
    if (block_w == block_h && (block_w == 8 || block_w == 4)) {
      // psadbw against zero sums each 8-byte half of a 16-byte load; for blocks of 4, a second
      // sum over the low 4 bytes of each half splits it.
      const __m128i zero = _mm_setzero_si128();
      const __m128i low4 = _mm_set_epi32(0, -1, 0, -1);
      const int simd_end = out_w * block_w / 16 * 16;
      for (int x = 0; x < simd_end; x += 16) {
        // Rows summed in a tree, not a chain: the sums do not wait on each other.
        auto load = [&](int r) {
          return _mm_loadu_si128(
              reinterpret_cast<const __m128i*>(rows[static_cast<size_t>(r)] + x));
        };
        __m128i total, low = zero;
        if (block_w == 8) {
          __m128i a = _mm_add_epi64(_mm_sad_epu8(load(0), zero), _mm_sad_epu8(load(1), zero));
          __m128i b = _mm_add_epi64(_mm_sad_epu8(load(2), zero), _mm_sad_epu8(load(3), zero));
          __m128i c = _mm_add_epi64(_mm_sad_epu8(load(4), zero), _mm_sad_epu8(load(5), zero));
          __m128i d = _mm_add_epi64(_mm_sad_epu8(load(6), zero), _mm_sad_epu8(load(7), zero));
          total = _mm_add_epi64(_mm_add_epi64(a, b), _mm_add_epi64(c, d));
        } else {
          __m128i r0 = load(0), r1 = load(1), r2 = load(2), r3 = load(3);
          total = _mm_add_epi64(_mm_add_epi64(_mm_sad_epu8(r0, zero), _mm_sad_epu8(r1, zero)),
                                _mm_add_epi64(_mm_sad_epu8(r2, zero), _mm_sad_epu8(r3, zero)));
          low = _mm_add_epi64(_mm_add_epi64(_mm_sad_epu8(_mm_and_si128(r0, low4), zero),
                                            _mm_sad_epu8(_mm_and_si128(r1, low4), zero)),
                              _mm_add_epi64(_mm_sad_epu8(_mm_and_si128(r2, low4), zero),
                                            _mm_sad_epu8(_mm_and_si128(r3, low4), zero)));
        }
        auto t0 = static_cast<uint32_t>(_mm_cvtsi128_si32(total));
        auto t1 = static_cast<uint32_t>(_mm_cvtsi128_si32(_mm_unpackhi_epi64(total, total)));
        uint8_t* at = o + x / block_w;
        if (block_w == 8) {
          at[0] = mean(t0);
          at[1] = mean(t1);
        } else {
          auto l0 = static_cast<uint32_t>(_mm_cvtsi128_si32(low));
          auto l1 = static_cast<uint32_t>(_mm_cvtsi128_si32(_mm_unpackhi_epi64(low, low)));
          at[0] = mean(l0);
          at[1] = mean(t0 - l0);
          at[2] = mean(l1);
          at[3] = mean(t1 - l1);
        }
      }
      done = simd_end / block_w;
    }
#endif
    if (done == out_w) continue;
    std::fill(sums.data() + done, sums.data() + out_w, 0);
    for (int r = 0; r < block_h; ++r)
      for (int x = done * block_w; x < out_w * block_w; ++x)
        sums[static_cast<size_t>(x / block_w)] += rows[static_cast<size_t>(r)][x];
    for (int ox = done; ox < out_w; ++ox) o[ox] = mean(sums[static_cast<size_t>(ox)]);
  }
}

std::array<cv::Mat, 3> I420Planes(const cv::Mat& i420) {
  int w = i420.cols, h = i420.rows * 2 / 3;
  return {i420.rowRange(0, h), cv::Mat(h / 2, w / 2, CV_8UC1, i420.data + w * h),
          cv::Mat(h / 2, w / 2, CV_8UC1, i420.data + w * h + w * h / 4)};
}

cv::Mat PackI420(const cv::Mat& y, const cv::Mat& u, const cv::Mat& v, cv::Size size) {
  if (size.empty()) size = y.size();
  cv::Mat i420(size.height * 3 / 2, size.width, CV_8UC1);
  std::array<cv::Mat, 3> planes = I420Planes(i420);
  const cv::Mat* from[3] = {&y, &u, &v};
  for (size_t p = 0; p < 3; ++p) {
    if (from[p]->size() == planes[p].size()) {
      from[p]->copyTo(planes[p]);
    } else {
      cv::resize(*from[p], planes[p], planes[p].size(), 0, 0, cv::INTER_AREA);
    }
  }
  return i420;
}

uint64_t SumOfAbsoluteDifferences(const cv::Mat& a, const cv::Mat& b) {
  CV_Assert(a.type() == CV_8UC1 && b.type() == CV_8UC1 && a.size() == b.size());
  uint64_t sum = 0;
  for (int r = 0; r < a.rows; ++r) {
    const uint8_t *p = a.ptr<uint8_t>(r), *q = b.ptr<uint8_t>(r);
    int c = 0;
#ifdef SLUICE_PLANE_STATS_SSE2
    __m128i total = _mm_setzero_si128();
    for (; c + 16 <= a.cols; c += 16) {
      total = _mm_add_epi64(total,
                            _mm_sad_epu8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + c)),
                                         _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + c))));
    }
    sum += static_cast<uint64_t>(_mm_cvtsi128_si64(total)) +
           static_cast<uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(total, total)));
#endif
    for (; c < a.cols; ++c) sum += static_cast<uint64_t>(std::abs(int{p[c]} - int{q[c]}));
  }
  return sum;
}

}  // namespace sluice::media
