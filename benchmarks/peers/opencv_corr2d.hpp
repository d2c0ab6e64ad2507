// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// OpenCV's filter2D as a peer in corr2d_peers_bench, measured as in the shared peer scripts: one
// thread, anchor (0, 0) and a constant border, so the valid correlation is dst's top-left
// out_rows x out_cols; the full same-size call is timed, into an output reused across calls.
// Benchmarks only: convtape never depends on OpenCV.

#include <benchmark/benchmark.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "convtape/core.hpp"

namespace convtape_peers {

inline void bench_opencv_filter2d(benchmark::State& state, const convtape::MatrixX<float>& x,
                                  const convtape::MatrixX<float>& k) {
  cv::setNumThreads(1);
  // OpenCV is row-major: copy the data in that layout, outside the timed loop.
  const convtape::RowMatrixX<float> xr = x;
  const convtape::RowMatrixX<float> kr = k;
  const cv::Mat src(int(xr.rows()), int(xr.cols()), CV_32F, const_cast<float*>(xr.data()));
  const cv::Mat kernel(int(kr.rows()), int(kr.cols()), CV_32F, const_cast<float*>(kr.data()));
  cv::Mat dst;
  for (auto _ : state) {
    cv::filter2D(src, dst, -1, kernel, cv::Point(0, 0), 0, cv::BORDER_CONSTANT);
    benchmark::DoNotOptimize(dst.data);
    benchmark::ClobberMemory();
  }
}

}  // namespace convtape_peers
