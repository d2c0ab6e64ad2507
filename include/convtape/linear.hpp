// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// `linear(x, weight, bias)`, PyTorch's `torch.nn.functional.linear`: y = x Wᵀ + b, and its
/// backward pass `linear_backward`, each one GEMM on Eigen maps of the tensors (no copies).
///
/// Shapes (the batch layout of `tensor.hpp`): x holds N rows of `in` features, any
/// (N, C, H, W) with C * H * W = in, read row by row (so a feature map needs no explicit
/// `flatten`); weight is (out, in, 1, 1), PyTorch's (out, in) matrix, row-major; bias has `out`
/// elements (e.g. (1, out, 1, 1), the shape `Linear` gives it) or none; the result is
/// (N, out, 1, 1):
///
///     y[n, o] = bias[o] + sum_i x[n, i] * weight[o, i]
///
/// Backward, for dy of shape (N, out, 1, 1): dx = dy W (shaped like x), dW = dyᵀ x, and db the
/// column sums of dy.

#include <string>

#include "convtape/core.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// Gradients of `linear` with respect to its three arguments.
template <class S>
struct LinearGrads {
  Tensor<S> input;   ///< shaped like x; empty when not requested
  Tensor<S> weight;  ///< (out, in, 1, 1)
  VectorX<S> bias;   ///< `out` values
};

/// The sizes of one `linear` call, checked once.
struct LinearShape {
  Index batch = 0;         ///< N, rows of x
  Index in_features = 0;   ///< in = C * H * W of x
  Index out_features = 0;  ///< out, rows of the weight
};

namespace detail {

/// Checks x, weight and a bias of `bias_size` elements (-1: none) against each other; `fn` names
/// the caller in messages.
template <class S>
LinearShape linear_shape(const Tensor<S>& x, const Tensor<S>& weight, Index bias_size,
                         const char* fn) {
  const Shape4& w = weight.shape();
  if (w[2] != 1 || w[3] != 1) {
    fail(fn,
         "weight must have shape (out, in, 1, 1), PyTorch's (out, in) matrix, got " + shape_str(w));
  }
  LinearShape s;
  s.batch = x.dim(0);
  s.in_features = x.dim(1) * x.dim(2) * x.dim(3);
  s.out_features = w[0];
  if (s.in_features != w[1]) {
    fail(fn, "x " + shape_str(x.shape()) + " has " + std::to_string(s.in_features) +
                 " features per row (C * H * W) but weight " + shape_str(w) + " takes " +
                 std::to_string(w[1]));
  }
  if (bias_size >= 0 && bias_size != s.out_features) {
    fail(fn, "bias has " + std::to_string(bias_size) + " elements but weight " + shape_str(w) +
                 " has " + std::to_string(s.out_features) + " outputs");
  }
  return s;
}

template <class S>
using ConstRowMap = Eigen::Map<const RowMatrixX<S>>;
template <class S>
using RowMap = Eigen::Map<RowMatrixX<S>>;

/// y = x Wᵀ (+ bias when `bias` is not null), for checked shapes.
template <class S>
Tensor<S> linear_forward(const Tensor<S>& x, const Tensor<S>& weight, const S* bias,
                         const LinearShape& s) {
  Tensor<S> y = uninitialized_tensor<S>({s.batch, s.out_features, 1, 1});
  RowMap<S> Y(y.data(), s.batch, s.out_features);
  const ConstRowMap<S> X(x.data(), s.batch, s.in_features);
  const ConstRowMap<S> W(weight.data(), s.out_features, s.in_features);
  if (y.empty()) return y;
  // (No Eigen expression touches the maps of an empty tensor: their data pointer is null.)
  if (s.in_features == 0) {
    Y.setZero();
  } else {
    Y.noalias() = X * W.transpose();
  }
  if (bias != nullptr) {
    Y.rowwise() += Eigen::Map<const Eigen::Matrix<S, 1, Eigen::Dynamic>>(bias, s.out_features);
  }
  return y;
}

/// The gradients for checked shapes; dx only when `compute_grad_input`, db only when
/// `compute_grad_bias`.
template <class S>
LinearGrads<S> linear_backward_shape(const Tensor<S>& x, const Tensor<S>& weight,
                                     const Tensor<S>& grad_out, const LinearShape& s,
                                     bool compute_grad_input, bool compute_grad_bias) {
  LinearGrads<S> grads;
  const ConstRowMap<S> X(x.data(), s.batch, s.in_features);
  const ConstRowMap<S> W(weight.data(), s.out_features, s.in_features);
  const ConstRowMap<S> dy(grad_out.data(), s.batch, s.out_features);
  // An empty factor makes a zero (or empty) gradient; no Eigen expression touches the maps of
  // an empty tensor, whose data pointer is null.
  if (compute_grad_input) {
    grads.input = Tensor<S>(x.shape());
    if (!grads.input.empty() && s.out_features != 0) {
      RowMap<S>(grads.input.data(), s.batch, s.in_features).noalias() = dy * W;
    }
  }
  grads.weight = Tensor<S>(weight.shape());
  if (!grads.weight.empty() && s.batch != 0) {
    RowMap<S>(grads.weight.data(), s.out_features, s.in_features).noalias() = dy.transpose() * X;
  }
  if (compute_grad_bias) {
    grads.bias = s.batch == 0 ? VectorX<S>::Zero(s.out_features).eval()
                              : VectorX<S>(dy.colwise().sum().transpose());
  }
  return grads;
}

}  // namespace detail

/// y = x Wᵀ + b, PyTorch's `linear`: x is N rows of `in` features (any (N, C, H, W) with
/// C * H * W = in), weight (out, in, 1, 1), bias `out` values (any shape, e.g. (1, out, 1, 1)),
/// or empty for none. Returns (N, out, 1, 1). See the file comment.
/// @throws shape_error if weight is not (out, in, 1, 1), x's rows do not have `in` features, or
///   a non-empty bias does not have `out` elements (messages name the shapes).
template <class S>
Tensor<S> linear(const Tensor<S>& x, const Tensor<S>& weight, const Tensor<S>& bias) {
  const bool has_bias = !bias.empty();
  const LinearShape s = detail::linear_shape(x, weight, has_bias ? bias.size() : -1, "linear");
  return detail::linear_forward(x, weight, has_bias ? bias.data() : nullptr, s);
}

/// `linear` without a bias: y = x Wᵀ.
/// @throws shape_error as `linear(x, weight, bias)`.
template <class S>
Tensor<S> linear(const Tensor<S>& x, const Tensor<S>& weight) {
  const LinearShape s = detail::linear_shape(x, weight, -1, "linear");
  return detail::linear_forward(x, weight, static_cast<const S*>(nullptr), s);
}

/// Backward pass of `linear(x, weight, bias)`: given grad_out (N, out, 1, 1), the gradients with
/// respect to x (shaped like x; skipped and left empty when `compute_grad_input` is false), the
/// weight
/// ((out, in, 1, 1)) and the bias (`out` values).
/// @throws shape_error as `linear`, and if grad_out is not (N, out, 1, 1).
template <class S>
LinearGrads<S> linear_backward(const Tensor<S>& x, const Tensor<S>& weight,
                               const Tensor<S>& grad_out, bool compute_grad_input = true) {
  constexpr const char* fn = "linear_backward";
  const LinearShape s = detail::linear_shape(x, weight, -1, fn);
  const Shape4 y_shape{s.batch, s.out_features, 1, 1};
  if (grad_out.shape() != y_shape) {
    detail::fail(fn, "grad_out has shape " + detail::shape_str(grad_out.shape()) +
                         " but the output of x " + detail::shape_str(x.shape()) + " and weight " +
                         detail::shape_str(weight.shape()) + " has shape " +
                         detail::shape_str(y_shape));
  }
  return detail::linear_backward_shape(x, weight, grad_out, s, compute_grad_input, true);
}

}  // namespace convtape
