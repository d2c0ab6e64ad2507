// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// `conv_transpose2d` on vars: one node whose forward is the tensor `conv_transpose2d` and whose
/// gradient rule is `conv_transpose2d_backward` (so `conv2d` and its weight gradient).

#include <utility>

#include "convtape/autograd/tape.hpp"
#include "convtape/conv_transpose2d.hpp"
#include "convtape/core.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

namespace detail {

/// The forward and gradient rule of both `conv_transpose2d` overloads on vars: operands x,
/// weight and, if `with_bias`, the bias. The shapes are checked once, by the function (and with
/// the messages) of the plain `conv_transpose2d`, and the rule reuses them.
template <class S>
Var<S> record_conv_transpose2d(Op<S>& op, bool with_bias, const ConvTranspose2dOptions& opts) {
  const VectorX<S> b = with_bias ? VectorX<S>(op.input(2).flat()) : VectorX<S>();
  const ConvTranspose2dShape s =
      conv_transpose2d_shape(op.input(0), op.input(1), b.size(), opts, op.name());
  // An empty bias is no bias (as in the plain function): it gets no gradient.
  const bool bias_grad = with_bias && b.size() != 0;
  return op.record(conv_transpose2d_forward(op.input(0), op.input(1), b, s, op.name()),
                   [s, bias_grad](GradContext<S>& g) {
                     Conv2dGrads<S> grads = conv_transpose2d_backward_shaped(
                         g.input(0), g.input(1), g.grad_output(), s, g.needs_grad(0));
                     if (g.needs_grad(0)) g.add_grad(0, std::move(grads.input));
                     g.add_grad(1, std::move(grads.weight));
                     if (bias_grad) g.add_grad(2, grads.bias);
                   });
}

}  // namespace detail

/// Transposed convolution (PyTorch's `conv_transpose2d`) of x (N, C_in, H, W) with weight
/// (C_in, C_out / groups, kh, kw) plus a bias var of C_out elements (any shape, e.g.
/// (1, C_out, 1, 1)); all options of `opts`. Gradients: x's is `conv2d` of the output gradient,
/// weight's is `conv2d`'s weight gradient, bias's the sum of the output gradient per channel.
/// @throws shape_error exactly as the plain `conv_transpose2d` with the same tensors.
template <class S>
Var<S> conv_transpose2d(const Var<S>& x, const Var<S>& weight, const Var<S>& bias,
                        const ConvTranspose2dOptions& opts = {}) {
  Op<S> op("conv_transpose2d", {x, weight, bias});
  return detail::record_conv_transpose2d(op, true, opts);
}

/// `conv_transpose2d` without a bias.
/// @throws shape_error exactly as the plain `conv_transpose2d` with the same tensors.
template <class S>
Var<S> conv_transpose2d(const Var<S>& x, const Var<S>& weight,
                        const ConvTranspose2dOptions& opts = {}) {
  Op<S> op("conv_transpose2d", {x, weight});
  return detail::record_conv_transpose2d(op, false, opts);
}

}  // namespace convtape
