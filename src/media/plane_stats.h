// Statistics of 8-bit planes that video detectors take of every frame: block means (a plane
// reduced by averaging square blocks, the cheap overview detectors compare and classify instead
// of the whole picture) and sums of absolute differences. SSE2 where the machine has it.
//
// Pure and thread-safe.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>

namespace sluice::media {

// `out` becomes max(1, rows / block) × max(1, cols / block) (CV_8UC1): each pixel the rounded
// mean of its block of `plane` (CV_8UC1, any stride). Pixels past the last whole block are left
// out; a plane smaller than a block is averaged whole along that side. SSE2 for blocks of 4 and
// 8, plain code otherwise.
void BlockMeans(const cv::Mat& plane, int block, cv::Mat& out);

// Σ |a - b| over two CV_8UC1 planes of the same size (any strides).
uint64_t SumOfAbsoluteDifferences(const cv::Mat& a, const cv::Mat& b);

}  // namespace sluice::media
