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
#include "convtape/conv_transpose2d_options.hpp"
#include "convtape/core.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

namespace detail {

/// conv2d's input gradient alone: for conv2d's output gradient `grad_out`, the gradient of an
/// input of shape `x_shape` (conv2d with `weight` and `opts`), computed by the algorithm
/// `conv2d_backward` takes for it, without the weight gradient. It is the forward pass of
/// `conv_transpose2d`, and the only function of this header that calls the internals of
/// `conv2d.hpp`. The shapes were checked by `conv_transpose2d_shape`; `fn` names the caller.
template <class S>
Tensor<S> conv2d_input_gradient(const Tensor<S>& grad_out, const Tensor<S>& weight,
                                const Shape4& x_shape, const Conv2dOptions& opts, const char* fn) {
  // The shape check reads only x's extents: an untouched allocation stands in for x.
  const Conv2dShape s = conv2d_shape(uninitialized_tensor<S>(x_shape), weight, 0, opts, fn);
  CONVTAPE_ASSERT(s.output_shape() == grad_out.shape());
  const Conv2dPath path = conv2d_path<S>(s);
  return grad_input_path(grad_out, weight, s, path, useful_threads(conv2d_cost<S>(s, path)));
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
  Tensor<S> out = uninitialized_tensor<S>(frame);  // every element is assigned
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

/// `conv_transpose2d_backward` after the checks; without `compute_grad_input` the input gradient is
/// left empty and not computed.
template <class S>
Conv2dGrads<S> conv_transpose2d_backward_shaped(const Tensor<S>& x, const Tensor<S>& weight,
                                                const Tensor<S>& grad_out,
                                                const ConvTranspose2dShape& s,
                                                bool compute_grad_input) {
  Conv2dGrads<S> grads;
  grads.bias = VectorX<S>::Zero(s.out_channels);
  for (Index n = 0; n < s.batch; ++n) {
    for (Index o = 0; o < s.out_channels; ++o) grads.bias[o] += grad_out.plane(n, o).sum();
  }
  if (s.empty_frame()) {
    grads.input = compute_grad_input ? Tensor<S>(x.shape()) : Tensor<S>();
    grads.weight = Tensor<S>(weight.shape());
    return grads;
  }
  // The adjoint conv2d reads the frame of grad_out: its forward pass is the input gradient, its
  // weight gradient (with x as its output gradient) the weight gradient.
  const Tensor<S> cropped = s.full_frame() ? Tensor<S>() : crop_frame(grad_out, s.frame_shape());
  const Tensor<S>& dy = s.full_frame() ? grad_out : cropped;
  if (compute_grad_input) grads.input = conv2d(dy, weight, s.conv);
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
/// like x), weight (`weight`) and bias (`bias`, C_out values). With `compute_grad_input` false the
/// input gradient is skipped and left empty.
/// @throws shape_error as `conv_transpose2d`, and if grad_out is not the shape it returns.
template <class S>
Conv2dGrads<S> conv_transpose2d_backward(const Tensor<S>& x, const Tensor<S>& weight,
                                         const Tensor<S>& grad_out,
                                         const ConvTranspose2dOptions& opts = {},
                                         bool compute_grad_input = true) {
  constexpr const char* fn = "conv_transpose2d_backward";
  const detail::ConvTranspose2dShape s = detail::conv_transpose2d_shape(x, weight, 0, opts, fn);
  if (grad_out.shape() != s.output_shape()) {
    detail::fail_transposed_grad_out(fn, grad_out.shape(), s.output_shape());
  }
  return detail::conv_transpose2d_backward_shaped(x, weight, grad_out, s, compute_grad_input);
}

}  // namespace convtape

/// The explicit instantiations of conv_transpose2d's use of conv2d's kernels for scalar S, after
/// `prefix` (`template` or `extern template`): see convtape/instantiate.hpp.
#define CONVTAPE_DETAIL_INSTANTIATE_CONV_TRANSPOSE2D(prefix, S)                        \
  prefix convtape::Tensor<S> convtape::detail::conv2d_input_gradient<S>(               \
      const convtape::Tensor<S>&, const convtape::Tensor<S>&, const convtape::Shape4&, \
      const convtape::Conv2dOptions&, const char*);
CONVTAPE_DETAIL_EXTERN(CONVTAPE_DETAIL_INSTANTIATE_CONV_TRANSPOSE2D)
