// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// The one place where tests reach into convtape::detail; everything else goes through the public
// API. What is here, and why:
// - conv2d's paths: the list (`kAllPaths`), the hook that forces one (`ForcePath`, a guard read
//   by the dispatch, so the public conv2d / conv2d_backward / tape run that path), the path the
//   dispatch would choose (`chosen_path`) and the cost model's estimates behind it
//   (`choice_inputs`), and the resolved shape (`shape_of`: the effective stride, the channels per
//   group) that the tests size tolerances and expectations with;
// - the blocking constants and kernel entry points the corr2d kernel tests build their shapes
//   around, and two shared helpers (`internals::`), each used where its comment says.
// When a kernel or a threshold changes, this file lists the tests that know about it.

#include <sstream>
#include <string>

#include "convtape/conv2d.hpp"
#include "convtape/corr2d.hpp"
#include "convtape/tensor.hpp"

namespace support {

// ---- conv2d paths -------------------------------------------------------------------------------

using Conv2dPath = convtape::detail::Conv2dPath;
/// The resolved shapes of one batched convolution (N, channels per group, geometry after the
/// stride lowering of a dimension with one output sample).
using Conv2dShape = convtape::detail::Conv2dShape;
/// Every path `conv2d` has. Forced onto a shape it does not fit (not 3x3, stride 1, undilated),
/// `winograd` computes through `implicit_gemm`; on the shapes it fits it runs even with few
/// channels. `interleaved` computes through `direct` where a group has several input channels.
inline constexpr const auto& kAllPaths = convtape::detail::kConv2dPaths;
/// While alive, `conv2d`, `conv2d_backward` and the tape's `conv2d` on this thread run the given
/// path whatever the shape, and with a thread count > 0 also cut their work for (and start) that
/// many threads: `ForcePath guard(path)` or `ForcePath guard(path, threads)`.
using ForcePath = convtape::detail::ForceConv2dPath;

/// Name of a path, for INFO messages.
inline const char* path_name(Conv2dPath path) { return convtape::detail::to_string(path); }

/// The checked shape of `conv2d(x, weight, opts)`.
template <class S>
Conv2dShape shape_of(const convtape::Tensor<S>& x, const convtape::Tensor<S>& weight,
                     const convtape::Conv2dOptions& opts) {
  return convtape::detail::conv2d_shape(x, weight, 0, opts, "test");
}

/// The path `conv2d(x, weight, opts)` takes (outside any `ForcePath`).
template <class S>
Conv2dPath chosen_path(const convtape::Tensor<S>& x, const convtape::Tensor<S>& weight,
                       const convtape::Conv2dOptions& opts) {
  return convtape::detail::conv2d_path<S>(shape_of(x, weight, opts));
}

/// What the choice reads, for INFO messages: each path's estimated seconds (the cost model).
template <class S>
std::string choice_inputs(const convtape::Tensor<S>& x, const convtape::Tensor<S>& weight,
                          const convtape::Conv2dOptions& opts) {
  const Conv2dShape s = shape_of(x, weight, opts);
  std::ostringstream os;
  os << "estimated seconds:";
  for (Conv2dPath path : kAllPaths) {
    os << " " << path_name(path) << " " << convtape::detail::conv2d_cost<S>(s, path);
  }
  return os.str();
}

/// Whether forcing `path` on shape `s` runs Winograd's transforms (rather than `implicit_gemm`),
/// for the tests that know how Winograd rounds non-finite values.
inline bool runs_winograd(Conv2dPath path, const Conv2dShape& s) {
  return path == Conv2dPath::winograd && convtape::detail::winograd_fits(s.geometry);
}

// ---- shared helpers -----------------------------------------------------------------------------

/// What conv2d_fast_test.cpp holds to a plain triple loop: the product kernel of every GEMM path
/// (`shifted_product`: its register block, the narrower blocks of a last few rows or columns, the
/// reduction in chunks) with its operand view and dense sink.
namespace internals {
using convtape::detail::DenseStore;
using convtape::detail::GemmBlock;
using convtape::detail::kBPanelBytes;
using convtape::detail::kGroupDepth;
using convtape::detail::shifted_product;
using convtape::detail::StridedRows;
}  // namespace internals

/// What conv2d_fast_test.cpp holds to each other: the phases a strided band copy fills
/// (`phases_read`) and the cost model's count of them (`phases_read_count`).
namespace internals {
using convtape::detail::phases_read;
using convtape::detail::phases_read_count;
}  // namespace internals

/// What core_test.cpp and ops_test.cpp use: the one definition of every padding mode (tested
/// directly, sample by sample) and the shape printer of error messages (for INFO lines).
namespace internals {
using convtape::detail::grad_weight_algorithm;
using convtape::detail::grad_weight_dots;
using convtape::detail::grad_weight_gemm;
using convtape::detail::grad_weight_packed;
using convtape::detail::GradWeightAlgorithm;
using convtape::detail::interleaved_grad_weight;
using convtape::detail::kPackedSamples;
using convtape::detail::padded_index;
using convtape::detail::shape_str;
}  // namespace internals

// ---- corr2d kernel internals --------------------------------------------------------------------

/// What corr2d_fast_test.cpp builds its shapes around (register block, panels, scratch, the
/// kernel-gradient tap groups and strips, the OpenMP threshold, the rank-one split) and the two
/// kernel entry points it calls directly (`corr2d_from_padded` with either store, `plan_direct`).
namespace internals {
using convtape::detail::corr2d_from_padded;
using convtape::detail::DirectBlocking;
using convtape::detail::DirectCorr;
using convtape::detail::kGradKernelStripBytes;
using convtape::detail::kGradKernelTaps;
using convtape::detail::kPanelGrain;
using convtape::detail::kParallelMinMacs;
using convtape::detail::kRankOneTolerance;
using convtape::detail::kScratchKeepBytes;
using convtape::detail::kSeparableMinGain;
using convtape::detail::panel_rows;
using convtape::detail::plan_direct;
using convtape::detail::separable_pays;
using convtape::detail::split_rank_one;
using convtape::detail::Store;
}  // namespace internals

}  // namespace support
