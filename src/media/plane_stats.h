// Statistics of 8-bit planes that video detectors take of every frame: block means (a plane
// reduced by averaging square blocks, the cheap overview detectors compare and classify instead
// of the whole picture) and sums of absolute differences. SSE2 where the machine has it.
//
// Pure and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <opencv2/core.hpp>

namespace sluice::media {

// `out` becomes max(1, rows / block) × max(1, cols / block) (CV_8UC1): each pixel the rounded
// mean of its block of `plane` (CV_8UC1, any stride). Pixels past the last whole block are left
// out; a plane smaller than a block is averaged whole along that side. SSE2 for blocks of 4 and
// 8, plain code otherwise.
void BlockMeans(const cv::Mat& plane, int block, cv::Mat& out);

// The three planes of a 4:2:0 picture (any strides) packed as one I420 picture (Y, then U, then
// V, contiguous) of `size` (default: y's): copied, or reduced with area averaging where the
// sizes differ. `size` must be even on both sides.
cv::Mat PackI420(const cv::Mat& y, const cv::Mat& u, const cv::Mat& v, cv::Size size = {});

// Views of the Y, U and V planes of a picture PackI420 made.
std::array<cv::Mat, 3> I420Planes(const cv::Mat& i420);

// Σ |a - b| over two CV_8UC1 planes of the same size (any strides).
uint64_t SumOfAbsoluteDifferences(const cv::Mat& a, const cv::Mat& b);

}  // namespace sluice::media
