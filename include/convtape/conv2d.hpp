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
///
/// Algorithms: chosen from the shape, never by the caller (per-plane loops, a direct kernel for
/// depthwise layers, an implicit GEMM that reads the im2col matrix in place, explicit im2col
/// tiles that may span images, Winograd F(2x2, 3x3)): a cost model estimates each one's time
/// from the shape and the cheapest runs. `detail/conv2d_dispatch.hpp` lists them and holds the
/// model. Every one computes the same function; the tests hold each to the loops of
/// `reference.hpp`.
///
/// Threads: compiled with OpenMP, the work of a call is cut into independent items (image x
/// block of groups x band of output rows x block of output channels; for the weight gradient,
/// blocks of input channels x ranges of images and bands, their partial sums added once), all
/// run in one parallel loop on OpenMP's team (`OMP_NUM_THREADS`), capped at what the estimated
/// work and the number of items can feed; one level only, never Eigen's threaded GEMM; without
/// OpenMP, on the calling thread. Results are the same to the bit for a given thread count. The
/// workspace bound and the measured speed are in docs/performance.md; how NaN and Inf propagate
/// is in docs/reliability.md.

#include <type_traits>

#include "convtape/conv2d_grads.hpp"
#include "convtape/core.hpp"
#include "convtape/detail/conv2d_backward.hpp"
#include "convtape/detail/conv2d_dispatch.hpp"
#include "convtape/detail/conv2d_forward.hpp"
#include "convtape/detail/conv2d_shape.hpp"
#include "convtape/detail/type_traits.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// Batched cross-correlation (PyTorch's `conv2d`): x (N, C_in, H, W), weight
/// (C_out, C_in / groups, kh, kw), bias of C_out elements or empty for none; padding, stride,
/// dilation and groups from `opts`. See the file comment for the formula and the algorithms.
///
/// @returns (N, C_out, out_rows, out_cols).
/// @throws shape_error if x or weight is empty, channels do not match or do not divide by
///   groups, bias has the wrong size, the plane shapes are invalid (see `conv2d_geometry`), or
///   the output or the padded copy of one image would have more than 2^40 elements
///   (`detail::kMaxTensorElements`).
template <class S>
Tensor<S> conv2d(const Tensor<S>& x, const Tensor<S>& weight,
                 const detail::non_deduced<VectorX<S>>& bias, const Conv2dOptions& opts = {}) {
  const detail::Conv2dShape s = detail::conv2d_shape(x, weight, bias.size(), opts, "conv2d");
  return detail::conv2d_forward(x, weight, bias, s, detail::conv2d_path<S>(s));
}

/// `conv2d` without a bias.
template <class S>
Tensor<S> conv2d(const Tensor<S>& x, const Tensor<S>& weight, const Conv2dOptions& opts = {}) {
  return conv2d(x, weight, VectorX<S>(), opts);
}

/// `conv2d` with the bias as a tensor of C_out elements, any shape (a `Conv2D` layer's is
/// (1, C_out, 1, 1)), or empty for none: `conv2d(x, conv.weight.value, conv.bias.value, opts)`.
/// @throws shape_error as `conv2d` with the bias as a vector.
template <class S, class Bias, std::enable_if_t<std::is_same_v<Bias, Tensor<S>>, int> = 0>
Tensor<S> conv2d(const Tensor<S>& x, const Tensor<S>& weight, const Bias& bias,
                 const Conv2dOptions& opts = {}) {
  return conv2d(x, weight, VectorX<S>(bias.flat()), opts);
}

/// Backward pass of `conv2d(x, weight, bias, opts)`: given the output gradient `grad_out`
/// (N, C_out, out_rows, out_cols), the gradients with respect to x, weight and bias.
/// With `compute_grad_input` false the input gradient is skipped and left empty (shape
/// (0, 0, 0, 0)): the common case of a constant input, as PyTorch's `output_mask`.
///
/// @throws shape_error as `conv2d`, and if grad_out is not the shape `conv2d` returns.
template <class S>
Conv2dGrads<S> conv2d_backward(const Tensor<S>& x, const Tensor<S>& weight,
                               const Tensor<S>& grad_out, const Conv2dOptions& opts = {},
                               bool compute_grad_input = true) {
  constexpr const char* fn = "conv2d_backward";
  const detail::Conv2dShape s = detail::conv2d_shape(x, weight, 0, opts, fn);
  if (grad_out.shape() != s.output_shape()) {
    detail::fail(fn, "grad_out has shape " + detail::shape_str(grad_out.shape()) +
                         " but the output of x " + detail::shape_str(x.shape()) + " and weight " +
                         detail::shape_str(weight.shape()) + " has shape " +
                         detail::shape_str(s.output_shape()));
  }
  detail::Conv2dOutputMask mask;
  mask.grad_input = compute_grad_input;
  return detail::conv2d_backward_path(x, weight, grad_out, s, detail::conv2d_path<S>(s), mask);
}

}  // namespace convtape
