// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// Batched 2-D transposed convolution (PyTorch's `conv_transpose2d`, also called fractionally
/// strided convolution or, loosely, deconvolution) and its backward pass.
///
/// Shapes: x is (N, C_in, H, W); weight is (C_in, C_out / groups, kh, kw), PyTorch's layout for
/// transposed convolutions; bias has C_out elements or none; the output is
/// (N, C_out, out_rows, out_cols) with, per dimension,
///
///     out = (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1.
///
/// Definition: every input sample scatters itself, times the kernel, into the output window it
/// would have been computed from by `conv2d` with the same options: for input channel c of group
/// g = c / (C_in / groups) and output channel o = g * (C_out / groups) + m,
///
///     y[n, o, i * stride - padding + a * dilation, ...] += x[n, c, i, ...] * weight[c, m, a, ...]
///
/// for every kernel tap a (and the same along the columns), samples outside the output being
/// dropped. So `conv_transpose2d(y, w)` is the adjoint of `conv2d(x, w)` with the same options
/// (the weight read as conv2d's OIHW weight): <conv2d(x, w), y> = <x, conv_transpose2d(y, w)>.
/// `output_padding` only lengthens the output at the bottom and right, to pick one of the input
/// sizes that a strided `conv2d` maps to the same output size.
///
/// Algorithms: the forward pass is `conv2d`'s input gradient, the input gradient is `conv2d`
/// itself, and the weight gradient is `conv2d`'s weight gradient, so every fast path of
/// `conv2d.hpp` serves the transposed convolution too.

#include <algorithm>
#include <sstream>
#include <string>

#include "convtape/conv2d.hpp"
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

/// conv2d's input gradient alone: for conv2d's output gradient `grad_out`, the gradient of an
/// input of shape `x_shape` (conv2d with `weight` and `opts`), computed by the algorithm
/// `conv2d_backward` takes for it, without the weight gradient. It is the forward pass of
/// `conv_transpose2d`, and the only function of this header that calls the internals of
/// `conv2d.hpp`. The shapes were checked by `conv_transpose2d_shape`; `fn` names the caller.
template <class S>
Tensor<S> conv2d_input_gradient(const Tensor<S>& grad_out, const Tensor<S>& weight,
                                const Shape4& x_shape, const Conv2dOptions& opts, const char* fn) {
  Tensor<S> dx(x_shape);  // zero: the kernels below add into it
  const Conv2dShape s = conv2d_shape(dx, weight, 0, opts, fn);
  CONVTAPE_ASSERT(s.output_shape() == grad_out.shape());
  const Conv2dPath path = conv2d_path(s);
  if (path != Conv2dPath::planes && path != Conv2dPath::im2col_gemm &&
      s.plane.stride == Size2(1, 1)) {
    grad_input_flipped(grad_out, weight, s, path == Conv2dPath::winograd, dx);
  } else if (path == Conv2dPath::planes || path == Conv2dPath::direct) {
    grad_input_planes(grad_out, weight, s, dx);
  } else {
    grad_input_col2im(grad_out, weight, s, dx);
  }
  return dx;
}

/// `t` (N, C, frame_rows, frame_cols) placed at the top left of a zero tensor of `shape`.
template <class S>
Tensor<S> embed_frame(const Tensor<S>& t, const Shape4& shape) {
  Tensor<S> out(shape);
  for (Index n = 0; n < shape[0]; ++n) {
    for (Index c = 0; c < shape[1]; ++c) {
      out.plane(n, c).topLeftCorner(t.dim(2), t.dim(3)) = t.plane(n, c);
    }
  }
  return out;
}

/// The top-left frame_rows x frame_cols of every plane of `t`.
template <class S>
Tensor<S> crop_frame(const Tensor<S>& t, const Shape4& frame) {
  Tensor<S> out(frame, UninitializedTag());  // every element is assigned
  for (Index n = 0; n < frame[0]; ++n) {
    for (Index c = 0; c < frame[1]; ++c) {
      out.plane(n, c) = t.plane(n, c).topLeftCorner(frame[2], frame[3]);
    }
  }
  return out;
}

/// `conv_transpose2d` after the checks.
template <class S>
Tensor<S> conv_transpose2d_forward(const Tensor<S>& x, const Tensor<S>& weight,
                                   const VectorX<S>& bias, const ConvTranspose2dShape& s,
                                   const char* fn) {
  Tensor<S> y;
  if (s.empty_frame()) {
    y = Tensor<S>(s.output_shape());
  } else {
    Tensor<S> frame = conv2d_input_gradient(x, weight, s.frame_shape(), s.conv, fn);
    y = s.full_frame() ? std::move(frame) : embed_frame(frame, s.output_shape());
  }
  if (bias.size() != 0) {
    for (Index n = 0; n < s.batch; ++n) {
      for (Index o = 0; o < s.out_channels; ++o) y.plane(n, o).array() += bias[o];
    }
  }
  return y;
}

/// `conv_transpose2d_backward` after the checks; without `input_grad` the input gradient is left
/// empty and not computed.
template <class S>
Conv2dGrads<S> conv_transpose2d_backward_shaped(const Tensor<S>& x, const Tensor<S>& weight,
                                                const Tensor<S>& grad_out,
                                                const ConvTranspose2dShape& s, bool input_grad) {
  Conv2dGrads<S> grads;
  grads.bias = VectorX<S>::Zero(s.out_channels);
  for (Index n = 0; n < s.batch; ++n) {
    for (Index o = 0; o < s.out_channels; ++o) grads.bias[o] += grad_out.plane(n, o).sum();
  }
  if (s.empty_frame()) {
    grads.input = input_grad ? Tensor<S>(x.shape()) : Tensor<S>();
    grads.weight = Tensor<S>(weight.shape());
    return grads;
  }
  // The adjoint conv2d reads the frame of grad_out: its forward pass is the input gradient, its
  // weight gradient (with x as its output gradient) the weight gradient.
  const Tensor<S> cropped = s.full_frame() ? Tensor<S>() : crop_frame(grad_out, s.frame_shape());
  const Tensor<S>& dy = s.full_frame() ? grad_out : cropped;
  if (input_grad) grads.input = conv2d(dy, weight, s.conv);
  grads.weight = conv2d_backward(dy, weight, x, s.conv, false).weight;
  return grads;
}

[[noreturn]] inline void fail_transposed_grad_out(const char* fn, const Shape4& got,
                                                  const Shape4& want) {
  fail(fn, "grad_out has shape " + shape_str(got) + " but the output has shape " + shape_str(want));
}

}  // namespace detail

/// Transposed convolution (PyTorch's `conv_transpose2d`): x (N, C_in, H, W), weight
/// (C_in, C_out / groups, kh, kw), bias of C_out elements or empty for none; stride, padding,
/// output_padding, dilation and groups from `opts`. See the file comment for the definition and
/// the output size.
///
/// @returns (N, C_out, out_rows, out_cols).
/// @throws shape_error if x or weight is empty, weight's first extent is not x's channel count,
///   the channels do not divide by groups, bias has the wrong size, stride or dilation is not
///   positive, padding or output_padding is negative, an option exceeds 2^30, output_padding is
///   not smaller than the stride or the dilation of its dimension, the output would be empty, an
///   output plane, before or after the padding is cropped from it, would have more than 2^32
///   elements (`detail::kMaxPlaneElements`; an extent alone more than 2^32 is "longer than"), or
///   the output or its uncropped planes for one image more than 2^40
///   (`detail::kMaxTensorElements`).
template <class S>
Tensor<S> conv_transpose2d(const Tensor<S>& x, const Tensor<S>& weight,
                           const detail::non_deduced<VectorX<S>>& bias,
                           const ConvTranspose2dOptions& opts = {}) {
  constexpr const char* fn = "conv_transpose2d";
  const detail::ConvTranspose2dShape s =
      detail::conv_transpose2d_shape(x, weight, bias.size(), opts, fn);
  return detail::conv_transpose2d_forward(x, weight, bias, s, fn);
}

/// `conv_transpose2d` without a bias.
/// @throws shape_error as `conv_transpose2d` with a bias.
template <class S>
Tensor<S> conv_transpose2d(const Tensor<S>& x, const Tensor<S>& weight,
                           const ConvTranspose2dOptions& opts = {}) {
  return conv_transpose2d(x, weight, VectorX<S>(), opts);
}

/// Backward pass of `conv_transpose2d(x, weight, bias, opts)`: given the output gradient
/// `grad_out` (N, C_out, out_rows, out_cols), the gradients with respect to x (`input`, shaped
/// like x), weight (`weight`) and bias (`bias`, C_out values). With `input_grad` false the input
/// gradient is skipped and left empty.
/// @throws shape_error as `conv_transpose2d`, and if grad_out is not the shape it returns.
template <class S>
Conv2dGrads<S> conv_transpose2d_backward(const Tensor<S>& x, const Tensor<S>& weight,
                                         const Tensor<S>& grad_out,
                                         const ConvTranspose2dOptions& opts = {},
                                         bool input_grad = true) {
  constexpr const char* fn = "conv_transpose2d_backward";
  const detail::ConvTranspose2dShape s = detail::conv_transpose2d_shape(x, weight, 0, opts, fn);
  if (grad_out.shape() != s.output_shape()) {
    detail::fail_transposed_grad_out(fn, grad_out.shape(), s.output_shape());
  }
  return detail::conv_transpose2d_backward_shaped(x, weight, grad_out, s, input_grad);
}

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
