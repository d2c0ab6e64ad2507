// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// The options of a transposed convolution (`ConvTranspose2dOptions`), its output size
/// (`conv_transpose2d_output_size`) and the checks of its shapes, without the kernels: what
/// `conv_transpose2d.hpp` and the reference loops of `reference.hpp` share. See
/// `conv_transpose2d.hpp` for the definition.

#include <sstream>
#include <string>

#include "convtape/core.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// Options of a transposed convolution, set with libtorch-style chained setters:
/// `ConvTranspose2dOptions().stride(2).padding(1).output_padding(1).dilation(1).groups(1)`.
/// Each setter has a getter of the same name. Values are checked where they are used (a bad one
/// throws `shape_error` naming that function). Padding is zero padding, the same on both sides
/// of a dimension, as in PyTorch.
class ConvTranspose2dOptions {
 public:
  ///@{
  /// Step of the matching `conv2d`, i.e. the upsampling factor (default 1): one number for both
  /// dimensions, a `Size2`, or (rows, cols).
  ConvTranspose2dOptions& stride(Size2 s) {
    stride_ = s;
    return *this;
  }
  ConvTranspose2dOptions& stride(Index rows, Index cols) { return stride(Size2(rows, cols)); }
  Size2 stride() const { return stride_; }
  ///@}

  ///@{
  /// Padding of the matching `conv2d` (default 0): `padding` samples are cropped from both ends
  /// of each dimension of the full output.
  ConvTranspose2dOptions& padding(Size2 p) {
    padding_ = p;
    return *this;
  }
  ConvTranspose2dOptions& padding(Index rows, Index cols) { return padding(Size2(rows, cols)); }
  Size2 padding() const { return padding_; }
  ///@}

  ///@{
  /// Extra samples at the bottom and right of the output (default 0); must be smaller than the
  /// stride or the dilation of its dimension, as in PyTorch.
  ConvTranspose2dOptions& output_padding(Size2 p) {
    output_padding_ = p;
    return *this;
  }
  ConvTranspose2dOptions& output_padding(Index rows, Index cols) {
    return output_padding(Size2(rows, cols));
  }
  Size2 output_padding() const { return output_padding_; }
  ///@}

  ///@{
  /// Spacing between kernel taps (default 1).
  ConvTranspose2dOptions& dilation(Size2 d) {
    dilation_ = d;
    return *this;
  }
  ConvTranspose2dOptions& dilation(Index rows, Index cols) { return dilation(Size2(rows, cols)); }
  Size2 dilation() const { return dilation_; }
  ///@}

  ///@{
  /// Number of channel groups (default 1).
  ConvTranspose2dOptions& groups(Index g) {
    groups_ = g;
    return *this;
  }
  Index groups() const { return groups_; }
  ///@}

  ///@{
  /// Whether a `ConvTranspose2D` layer has a bias (read by the layer only; default true).
  ConvTranspose2dOptions& bias(bool on) {
    bias_ = on;
    return *this;
  }
  bool bias() const { return bias_; }
  ///@}

 private:
  Size2 stride_{1, 1};
  Size2 padding_{0, 0};
  Size2 output_padding_{0, 0};
  Size2 dilation_{1, 1};
  Index groups_ = 1;
  bool bias_ = true;
};

namespace detail {

/// The shapes of one transposed convolution, resolved and checked once, and the `conv2d` it is
/// the adjoint of: that convolution reads a "frame", the top-left frame_rows x frame_cols of the
/// output (the rest of the output, when output_padding exceeds padding, receives no input
/// sample), with padding (top, bottom, left, right) = (padding, frame_bottom, ...).
struct ConvTranspose2dShape {
  Index batch = 0;         ///< N
  Index in_channels = 0;   ///< C_in
  Index out_channels = 0;  ///< C_out
  Index groups = 1;        ///< channel groups
  Index in_rows = 0;       ///< H
  Index in_cols = 0;       ///< W
  Index out_rows = 0;      ///< output extent along the rows
  Index out_cols = 0;      ///< output extent along the columns
  Index frame_rows = 0;    ///< rows of the output that input samples reach (may be <= 0)
  Index frame_cols = 0;    ///< columns of the output that input samples reach (may be <= 0)
  Conv2dOptions conv;      ///< the adjoint conv2d's options on the frame

  /// (N, C_out, out_rows, out_cols).
  Shape4 output_shape() const { return {batch, out_channels, out_rows, out_cols}; }
  /// (N, C_out, frame_rows, frame_cols): the input of the adjoint conv2d.
  Shape4 frame_shape() const { return {batch, out_channels, frame_rows, frame_cols}; }
  /// Whether no input sample reaches the output (everything is cropped by the padding).
  bool empty_frame() const { return frame_rows <= 0 || frame_cols <= 0; }
  /// Whether the frame is the whole output.
  bool full_frame() const { return frame_rows == out_rows && frame_cols == out_cols; }
};

/// One dimension of `conv_transpose2d_shape`: the output extent, the frame extent and the
/// frame's bottom (or right) padding, or false if the output would be empty or too long.
inline bool transposed_extent(Index in, Index kernel, Index stride, Index padding, Index dilation,
                              Index output_padding, Index& out, Index& frame, Index& frame_after) {
  // The reach is estimated in double first (in may be near 2^60, stride and dilation 2^30), so
  // the integer arithmetic below only runs on values far from overflowing.
  const double span = double(in - 1) * double(stride) + double(dilation) * double(kernel - 1) + 1;
  if (span > double(kMaxPlaneElements)) return false;
  const Index reach = (in - 1) * stride + dilation * (kernel - 1) + 1;  // full output extent
  out = reach - 2 * padding + output_padding;
  if (out < 1) return false;
  // The adjoint conv2d on `frame` samples with padding (padding, frame_after) has exactly `in`
  // outputs and reaches every sample an input sample reaches: frame + frame_after = reach -
  // padding, frame_after >= 0.
  frame = std::min(out, reach - padding);
  frame_after = reach - padding - frame;
  return true;
}

/// Checks the shapes of x, weight and bias against each other and `opts`; `fn` names the caller
/// in messages. @throws shape_error as documented for `conv_transpose2d`.
inline ConvTranspose2dShape conv_transpose2d_shape(const Shape4& x, const Shape4& weight,
                                                   Index bias_size,
                                                   const ConvTranspose2dOptions& opts,
                                                   const char* fn) {
  const auto empty = [](const Shape4& t) {
    return t[0] <= 0 || t[1] <= 0 || t[2] <= 0 || t[3] <= 0;
  };
  if (empty(x)) fail(fn, "x is empty, shape " + shape_str(x));
  if (empty(weight)) fail(fn, "weight is empty, shape " + shape_str(weight));
  const Index groups = opts.groups();
  if (groups < 1 || groups > kMaxOptionValue) {
    fail(fn, "groups must be positive, got " + std::to_string(groups));
  }
  ConvTranspose2dShape s;
  s.batch = x[0];
  s.in_channels = x[1];
  s.groups = groups;
  if (weight[0] != s.in_channels) {
    std::ostringstream os;
    os << "weight " << shape_str(weight) << " has " << weight[0] << " input channels but x "
       << shape_str(x) << " has " << s.in_channels << " (weight is (C_in, C_out / groups, kh, kw))";
    fail(fn, os.str());
  }
  if (s.in_channels % groups != 0) {
    std::ostringstream os;
    os << "x " << shape_str(x) << " has " << s.in_channels
       << " channels, not divisible by groups = " << groups;
    fail(fn, os.str());
  }
  if (double(weight[1]) * double(groups) > double(kMaxTensorElements)) {
    std::ostringstream os;
    os << "weight " << shape_str(weight) << " with groups = " << groups
       << " has too many output channels";
    fail(fn, os.str());
  }
  s.out_channels = weight[1] * groups;
  if (bias_size != 0 && bias_size != s.out_channels) {
    std::ostringstream os;
    os << "bias has " << bias_size << " elements but weight " << shape_str(weight)
       << " with groups = " << groups << " has " << s.out_channels << " output channels";
    fail(fn, os.str());
  }
  check_option_range(fn, "stride", opts.stride(), 1);
  check_option_range(fn, "dilation", opts.dilation(), 1);
  check_option_range(fn, "padding", opts.padding(), 0);
  check_option_range(fn, "output_padding", opts.output_padding(), 0);
  const Size2 st = opts.stride();
  const Size2 d = opts.dilation();
  const Size2 op = opts.output_padding();
  if (op.rows >= std::max(st.rows, d.rows) || op.cols >= std::max(st.cols, d.cols)) {
    std::ostringstream os;
    os << "output_padding " << op << " must be smaller than the stride " << st
       << " or the dilation " << d << " in each dimension";
    fail(fn, os.str());
  }
  const Size2 p = opts.padding();
  s.in_rows = x[2];
  s.in_cols = x[3];
  Index after_rows = 0;
  Index after_cols = 0;
  const bool rows_ok = transposed_extent(s.in_rows, weight[2], st.rows, p.rows, d.rows, op.rows,
                                         s.out_rows, s.frame_rows, after_rows);
  const bool cols_ok = transposed_extent(s.in_cols, weight[3], st.cols, p.cols, d.cols, op.cols,
                                         s.out_cols, s.frame_cols, after_cols);
  if (!rows_ok || !cols_ok) {
    std::ostringstream os;
    os << "x " << shape_str(x) << " and weight " << shape_str(weight) << " with stride " << st
       << ", padding " << p << ", dilation " << d << ", output_padding " << op
       << " give an output plane ";
    if (rows_ok && cols_ok) os << s.out_rows << "x" << s.out_cols << " ";
    os << "that is empty or longer than " << kMaxPlaneElements << " samples";
    fail(fn, os.str());
  }
  // The output, and the padded frame the adjoint conv2d reads (the conv2d bounds), stay in range.
  const double full_rows = double(s.frame_rows + p.rows + after_rows);
  const double full_cols = double(s.frame_cols + p.cols + after_cols);
  if (double(s.out_rows) * double(s.out_cols) > double(kMaxPlaneElements) ||
      full_rows * full_cols > double(kMaxPlaneElements) ||
      double(s.out_channels) * full_rows * full_cols > double(kMaxTensorElements) ||
      double(s.batch) * double(s.out_channels) * double(s.out_rows) * double(s.out_cols) >
          double(kMaxTensorElements)) {
    std::ostringstream os;
    os << "x " << shape_str(x) << " and weight " << shape_str(weight) << " need an output of shape "
       << shape_str(s.output_shape()) << "; a plane may have at most " << kMaxPlaneElements
       << " and the output (and its padded copy) at most " << kMaxTensorElements << " elements";
    fail(fn, os.str());
  }
  s.conv.stride(st).dilation(d).groups(groups).padding(p.rows, after_rows, p.cols, after_cols);
  return s;
}

/// `conv_transpose2d_shape` of two tensors.
template <class S>
ConvTranspose2dShape conv_transpose2d_shape(const Tensor<S>& x, const Tensor<S>& weight,
                                            Index bias_size, const ConvTranspose2dOptions& opts,
                                            const char* fn) {
  return conv_transpose2d_shape(x.shape(), weight.shape(), bias_size, opts, fn);
}

}  // namespace detail

/// Output extent of `conv_transpose2d` for an `in`-sized input plane and a `kernel`-sized
/// kernel: (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1 per
/// dimension.
/// @throws shape_error as `conv_transpose2d` for such a plane.
inline Size2 conv_transpose2d_output_size(Size2 in, Size2 kernel,
                                          const ConvTranspose2dOptions& opts = {}) {
  constexpr const char* fn = "conv_transpose2d_output_size";
  if (opts.groups() < 1 || opts.groups() > detail::kMaxOptionValue) {
    detail::fail(fn, "groups must be positive, got " + std::to_string(opts.groups()));
  }
  // One channel in and out: only the plane and the options are checked.
  const detail::ConvTranspose2dShape s =
      detail::conv_transpose2d_shape({1, 1, in.rows, in.cols}, {1, 1, kernel.rows, kernel.cols}, 0,
                                     ConvTranspose2dOptions(opts).groups(1), fn);
  return {s.out_rows, s.out_cols};
}

}  // namespace convtape
