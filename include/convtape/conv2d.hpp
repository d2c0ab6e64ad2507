// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// Batched, multi-channel, grouped 2-D cross-correlation on NCHW tensors (PyTorch's
/// `torch.nn.functional.conv2d`; the kernel is not flipped) and its backward pass.
///
/// Shapes: x is (N, C_in, H, W); weight is OIHW, (C_out, C_in / groups, kh, kw); bias has C_out
/// elements or none; the output is (N, C_out, out_rows, out_cols) with the plane arithmetic of
/// `corr2d.hpp`. Output channel o belongs to group g = o / (C_out / groups) and reads input
/// channels g * (C_in / groups) ... (g + 1) * (C_in / groups) - 1:
///
///     y[n, o] = bias[o] + sum_{i < C_in/groups} corr2d(x[n, g*C_in/groups + i], weight[o, i])

#include <sstream>
#include <type_traits>

#include "convtape/core.hpp"
#include "convtape/detail/plane.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// Gradients of `conv2d` with respect to its three arguments.
template <class S>
struct Conv2dGrads {
  Tensor<S> input;   ///< shaped like x
  Tensor<S> weight;  ///< shaped like weight
  VectorX<S> bias;   ///< C_out elements (computed whether or not the forward had a bias)
};

/// The shapes of one batched convolution, resolved and checked once.
struct Conv2dShape {
  Index batch = 0;
  Index in_channels = 0;
  Index out_channels = 0;
  Index groups = 1;
  Index in_per_group = 0;
  Index out_per_group = 0;
  Conv2dGeometry plane;  ///< per-plane geometry (same for every plane)

  /// Shape of the output, (N, C_out, out_rows, out_cols).
  Shape4 output_shape() const { return {batch, out_channels, plane.out_rows, plane.out_cols}; }
};

namespace detail {

template <class T>
struct type_identity {
  using type = T;
};
/// Keeps an argument out of template deduction, so that `conv2d(x, w, {}, opts)` and Eigen
/// expressions as biases deduce `S` from the tensors alone.
template <class T>
using non_deduced = typename type_identity<T>::type;

/// Checks x, weight and bias against each other and `opts`; `fn` names the caller in messages.
template <class S>
Conv2dShape conv2d_shape(const Tensor<S>& x, const Tensor<S>& weight, Index bias_size,
                         const Conv2dOptions& opts, const char* fn) {
  if (x.empty()) fail(fn, "x is empty, shape " + shape_str(x.shape()));
  if (weight.empty()) fail(fn, "weight is empty, shape " + shape_str(weight.shape()));
  const Index groups = opts.groups();
  if (groups < 1 || groups > kMaxOptionValue) {
    fail(fn, "groups must be positive, got " + std::to_string(groups));
  }
  Conv2dShape s;
  s.batch = x.dim(0);
  s.in_channels = x.dim(1);
  s.out_channels = weight.dim(0);
  s.groups = groups;
  std::ostringstream os;
  if (s.in_channels % groups != 0) {
    os << "x " << shape_str(x.shape()) << " has " << s.in_channels
       << " channels, not divisible by groups = " << groups;
    fail(fn, os.str());
  }
  if (s.out_channels % groups != 0) {
    os << "weight " << shape_str(weight.shape()) << " has " << s.out_channels
       << " output channels, not divisible by groups = " << groups;
    fail(fn, os.str());
  }
  s.in_per_group = s.in_channels / groups;
  s.out_per_group = s.out_channels / groups;
  if (weight.dim(1) != s.in_per_group) {
    os << "weight " << shape_str(weight.shape()) << " has " << weight.dim(1)
       << " input channels per group but x " << shape_str(x.shape()) << " has " << s.in_channels;
    if (groups != 1) os << " channels, " << s.in_per_group << " per group";
    os << " (groups = " << groups << ")";
    fail(fn, os.str());
  }
  if (bias_size != 0 && bias_size != s.out_channels) {
    os << "bias has " << bias_size << " elements but weight " << shape_str(weight.shape())
       << " has " << s.out_channels << " output channels";
    fail(fn, os.str());
  }
  s.plane = conv2d_geometry(x.dim(2), x.dim(3), weight.dim(2), weight.dim(3), opts, fn);
  return s;
}

}  // namespace detail

/// Batched cross-correlation (PyTorch's `conv2d`): x (N, C_in, H, W), weight
/// (C_out, C_in / groups, kh, kw), bias of C_out elements or empty for none; padding, stride,
/// dilation and groups from `opts`. See the file comment for the formula.
///
/// @returns (N, C_out, out_rows, out_cols).
/// @throws shape_error if x or weight is empty, channels do not match or do not divide by
///   groups, bias has the wrong size, or the plane shapes are invalid (see `conv2d_geometry`).
template <class S>
Tensor<S> conv2d(const Tensor<S>& x, const Tensor<S>& weight,
                 const detail::non_deduced<VectorX<S>>& bias, const Conv2dOptions& opts = {}) {
  const Conv2dShape s = detail::conv2d_shape(x, weight, bias.size(), opts, "conv2d");
  const Conv2dGeometry& g = s.plane;
  Tensor<S> y(s.output_shape());
  for (Index n = 0; n < s.batch; ++n) {
    if (bias.size() != 0) {
      for (Index o = 0; o < s.out_channels; ++o) y.plane(n, o).setConstant(bias[o]);
    }
    for (Index c = 0; c < s.in_channels; ++c) {
      const Index group = c / s.in_per_group;
      const detail::PaddedPlane<S> xp(x.plane(n, c), g);
      for (Index o = group * s.out_per_group; o < (group + 1) * s.out_per_group; ++o) {
        detail::corr2d_padded<S>(xp.data(), xp.ld(), weight.plane(o, c % s.in_per_group), g,
                                 y.plane(n, o));
      }
    }
  }
  return y;
}

/// `conv2d` without a bias.
template <class S>
Tensor<S> conv2d(const Tensor<S>& x, const Tensor<S>& weight, const Conv2dOptions& opts = {}) {
  return conv2d(x, weight, VectorX<S>(), opts);
}

/// Backward pass of `conv2d(x, weight, bias, opts)`: given the output gradient `grad_out`
/// (N, C_out, out_rows, out_cols), the gradients with respect to x, weight and bias.
///
/// @throws shape_error as `conv2d`, and if grad_out is not the shape `conv2d` returns.
template <class S>
Conv2dGrads<S> conv2d_backward(const Tensor<S>& x, const Tensor<S>& weight,
                               const Tensor<S>& grad_out, const Conv2dOptions& opts = {}) {
  constexpr const char* fn = "conv2d_backward";
  const Conv2dShape s = detail::conv2d_shape(x, weight, 0, opts, fn);
  const Conv2dGeometry& g = s.plane;
  if (grad_out.shape() != s.output_shape()) {
    detail::fail(fn, "grad_out has shape " + detail::shape_str(grad_out.shape()) +
                         " but the output of x " + detail::shape_str(x.shape()) + " and weight " +
                         detail::shape_str(weight.shape()) + " has shape " +
                         detail::shape_str(s.output_shape()));
  }
  Conv2dGrads<S> grads{Tensor<S>(x.shape()), Tensor<S>(weight.shape()),
                       VectorX<S>::Zero(s.out_channels)};
  RowMatrixX<S> dxp;  // padded input gradient, reused across planes
  for (Index n = 0; n < s.batch; ++n) {
    for (Index o = 0; o < s.out_channels; ++o) grads.bias[o] += grad_out.plane(n, o).sum();
    for (Index c = 0; c < s.in_channels; ++c) {
      const Index group = c / s.in_per_group;
      const detail::PaddedPlane<S> xp(x.plane(n, c), g);
      S* dx_data = grads.input.plane(n, c).data();
      Index dx_ld = g.in_cols;
      if (g.has_padding()) {
        dxp.setZero(g.padded_rows(), g.padded_cols());
        dx_data = dxp.data();
        dx_ld = dxp.outerStride();
      }
      for (Index o = group * s.out_per_group; o < (group + 1) * s.out_per_group; ++o) {
        const auto dy = grad_out.plane(n, o);
        const Index i = c % s.in_per_group;
        detail::corr2d_grad_padded_input<S>(dy, weight.plane(o, i), g, dx_data, dx_ld);
        detail::corr2d_grad_kernel_padded<S>(xp.data(), xp.ld(), dy, g, grads.weight.plane(o, i));
      }
      if (g.has_padding()) detail::fold_padding<S>(dxp, g, grads.input.plane(n, c));
    }
  }
  return grads;
}

}  // namespace convtape
