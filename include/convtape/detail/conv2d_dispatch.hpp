// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Which algorithm computes a batched convolution: the list of algorithms (`Conv2dPath`, each
// described once, here), the choice among them from the shape alone (`conv2d_path`), the
// backward pass's own choices (`grad_weight_by_dots`, `grad_input_algorithm`), and the constants
// these use. The caller never picks (a test may, with `ForceConv2dPath`); every algorithm computes
// the same function, and the tests hold each to the loops of `reference.hpp`. Not for direct
// inclusion.
//
// Backward: `planes` runs the plane tap loops for both gradients. On the other paths the weight
// gradient is a GEMM of the in-place im2col rows with the output gradient (`grad_weight_gemm`),
// or dot products when few output channels per group would leave the GEMM block mostly empty
// (`grad_weight_dots`, always on `direct`); the input gradient is, for stride 1, the forward
// correlation of the padded output gradient with the flipped kernel (`grad_input_flipped`, on
// `shifted_conv`, or Winograd again on `winograd`), else GEMM W^T dy + col2im
// (`grad_input_col2im`), except on `direct` with a stride, which takes the plane tap loops
// (`grad_input_planes`); `im2col_gemm` always uses col2im. The drivers that run the choice are
// `conv2d_forward.hpp` and `conv2d_backward.hpp`.

#include "convtape/core.hpp"
#include "convtape/detail/conv2d_shape.hpp"
#include "convtape/detail/gemm.hpp"
#include "convtape/detail/winograd.hpp"

namespace convtape::detail {

/// The algorithms behind `conv2d` and `conv2d_backward`. `conv2d_path` picks one from the shape;
/// every one computes the same function (the tests hold each to `reference::conv2d`).
enum class Conv2dPath {
  /// Tiny problems: per-plane tap loops (`detail/plane.hpp`), nothing to set up.
  planes,
  /// Few output channels per group (depthwise layers): per output channel, every tap multiplied
  /// into a register strip of outputs read in place from a padded copy of the input
  /// (`depthwise_rows`); weight gradient by vectorized dot products (`tap_dots`).
  direct,
  /// GEMM of the weights with the im2col matrix, read in place from a padded, stride-phase-split
  /// copy of one image (`detail/im2col.hpp`) by a register-blocked packet kernel
  /// (`detail/gemm.hpp`); backward as GEMMs too (input gradient as the correlation of the padded
  /// output gradient with the flipped kernel for stride 1, else GEMM + col2im).
  implicit_gemm,
  /// As `implicit_gemm`, but on explicitly gathered im2col tiles (`pack_panel`), for shapes where
  /// the in-place grid would compute too many discarded columns (kernels nearly as wide as the
  /// input); input gradient by GEMM + col2im.
  im2col_gemm,
  /// 3x3, stride 1, no dilation, enough channels: Winograd's F(2x2, 3x3) (`detail/winograd.hpp`)
  /// for the forward pass and the input gradient (2.25 times fewer multiplications), the weight
  /// gradient as in `implicit_gemm`. Integer scalars, and (when forced) geometries it does not
  /// fit, compute through `implicit_gemm`.
  winograd,
};

/// Every path, in the order of `Conv2dPath`: what the tests iterate over to hold each path to the
/// reference loops.
inline constexpr Conv2dPath kConv2dPaths[] = {Conv2dPath::planes, Conv2dPath::direct,
                                              Conv2dPath::implicit_gemm, Conv2dPath::im2col_gemm,
                                              Conv2dPath::winograd};

/// Name of a path, for messages and benchmark labels.
inline const char* to_string(Conv2dPath path) {
  switch (path) {
    case Conv2dPath::planes:
      return "planes";
    case Conv2dPath::direct:
      return "direct";
    case Conv2dPath::implicit_gemm:
      return "implicit_gemm";
    case Conv2dPath::im2col_gemm:
      return "im2col_gemm";
    case Conv2dPath::winograd:
      return "winograd";
  }
  return "?";
}

/// Below this many multiply-adds (N * C_out * out_rows * out_cols * C_in / groups * kh * kw) the
/// setup of the other paths (a padded copy, packed weights) costs more than it saves.
constexpr Index kPlanesMaxMacs = Index(1) << 13;
/// Up to this many output channels per group, `direct` replaces the GEMM paths: a GEMM register
/// block of 6 rows would be mostly padding.
constexpr Index kDirectMaxOutPerGroup = 2;
/// Above this ratio of computed to real output samples (see `grid_waste`), `im2col_gemm`
/// replaces `implicit_gemm`.
constexpr double kMaxGridWaste = 1.25;
/// Input and output channels per group from which `winograd` is chosen for 3x3 stride-1 layers:
/// its 16 GEMMs have these as their sizes and need a few register blocks' worth to run at speed.
constexpr Index kWinogradMinChannels = 16;

/// Samples the in-place wide grid computes per real output sample: each output row is computed
/// over the full (stride-phase) width of the padded input.
inline double grid_waste(const Conv2dGeometry& g) {
  const Index pitch = (g.padded_cols() + g.stride.cols - 1) / g.stride.cols;
  return double((g.out_rows - 1) * pitch + g.out_cols) / double(g.out_rows * g.out_cols);
}

/// Multiply-adds of the forward pass.
inline Index conv2d_macs(const Conv2dShape& s) {
  return s.batch * s.out_channels * s.geometry.out_rows * s.geometry.out_cols * s.in_per_group *
         s.geometry.kernel_rows * s.geometry.kernel_cols;
}

/// The path forced on the calling thread by the innermost live `ForceConv2dPath`, or null.
inline const Conv2dPath*& forced_conv2d_path() {
  thread_local const Conv2dPath* forced = nullptr;
  return forced;
}

/// The one hook that overrides the choice, for tests: while a guard lives, `conv2d_path` returns
/// `path` on the guard's thread, whatever the shape, so `conv2d`, `conv2d_backward` and the
/// tape's `conv2d` run that path. Every path computes every shape (`winograd`, on a geometry it
/// does not fit or on integers, computes through `implicit_gemm`). Guards nest, the innermost
/// wins; other threads choose as usual.
class ForceConv2dPath {
 public:
  explicit ForceConv2dPath(Conv2dPath path) : path_(path), outer_(forced_conv2d_path()) {
    forced_conv2d_path() = &path_;
  }
  ~ForceConv2dPath() { forced_conv2d_path() = outer_; }
  ForceConv2dPath(const ForceConv2dPath&) = delete;
  ForceConv2dPath& operator=(const ForceConv2dPath&) = delete;

 private:
  Conv2dPath path_;
  const Conv2dPath* outer_;
};

/// Whether `shifted_conv` runs with a one-row register block (the `direct` kernel) rather than
/// the GEMM block for `out_per_group` output channels per group: in the forward pass (the
/// `direct` path), and in the stride-1 input gradient, whose output channels are the forward's
/// input channels.
inline bool one_row_block(Index out_per_group) { return out_per_group <= kDirectMaxOutPerGroup; }

/// The path `conv2d` and `conv2d_backward` take for shape `s`: `planes` below `kPlanesMaxMacs`;
/// else `direct` for at most `kDirectMaxOutPerGroup` output channels per group; else `winograd`
/// for 3x3, stride-1, undilated kernels with at least `kWinogradMinChannels` input and output
/// channels per group; else `im2col_gemm` when `grid_waste` exceeds `kMaxGridWaste`; else
/// `implicit_gemm`. A live `ForceConv2dPath` on the calling thread overrides all of this.
inline Conv2dPath conv2d_path(const Conv2dShape& s) {
  if (const Conv2dPath* forced = forced_conv2d_path()) return *forced;
  if (conv2d_macs(s) < kPlanesMaxMacs) return Conv2dPath::planes;
  if (one_row_block(s.out_per_group)) return Conv2dPath::direct;
  if (winograd_fits(s.geometry) && s.in_per_group >= kWinogradMinChannels &&
      s.out_per_group >= kWinogradMinChannels) {
    return Conv2dPath::winograd;
  }
  if (grid_waste(s.geometry) > kMaxGridWaste) return Conv2dPath::im2col_gemm;
  return Conv2dPath::implicit_gemm;
}

/// Whether the weight gradient on `path` (not `planes`) goes through `grad_weight_dots` rather
/// than `grad_weight_gemm`: on `direct`, and where fewer than half the lanes of the GEMM's
/// output-channel block would be used.
template <class S>
bool grad_weight_by_dots(const Conv2dShape& s, Conv2dPath path) {
  return path == Conv2dPath::direct || 2 * s.out_per_group <= GemmBlock<S>::nr;
}

/// How the input gradient is computed on a path other than `planes`.
enum class GradInputAlgorithm {
  /// Stride 1: the forward correlation of the output gradient, zero-padded by the dilated
  /// kernel's extent, with the flipped kernel (`grad_input_flipped`), by `shifted_conv` or, on
  /// `winograd`, `winograd_conv`.
  flipped,
  /// The GEMM W^T dy followed by col2im (`grad_input_col2im`): any stride.
  col2im,
  /// The plane tap loops (`grad_input_planes`): few channels, any stride.
  tap_loops,
};

/// The input gradient's algorithm on `path` (not `planes`): `flipped` for stride 1 except on
/// `im2col_gemm`; else `tap_loops` on `direct` and `col2im` on the others.
inline GradInputAlgorithm grad_input_algorithm(const Conv2dShape& s, Conv2dPath path) {
  CONVTAPE_ASSERT(path != Conv2dPath::planes);
  if (path != Conv2dPath::im2col_gemm && s.geometry.stride == Size2(1, 1)) {
    return GradInputAlgorithm::flipped;
  }
  return path == Conv2dPath::direct ? GradInputAlgorithm::tap_loops : GradInputAlgorithm::col2im;
}

}  // namespace convtape::detail
