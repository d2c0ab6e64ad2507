// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// Differentiable functions of vars, each with its forward and its gradient rule side by side.
///
/// Primitives (each has its own gradient rule, gradient-checked in the tests): `a + b`, `a - b`,
/// `a * b` (elementwise, same shape), `a + s`, `a * s` (with a scalar), `sum`, `relu`, `corr2d`,
/// `conv2d`. Everything else is composed from them, so it needs no gradient rule of its own:
/// `-a = a * -1`, `a / s = a * (1 / s)`, `square(a) = a * a`, `mean(a) = sum(a) * (1 / size)`.
/// (`squared_loss` in `nn/loss.hpp` is one primitive too, as PyTorch's `mse_loss` is one kernel.)
///
/// Elementwise functions do not broadcast: operands must have the same shape. Every function
/// throws `shape_error` naming itself if an operand is empty (default-constructed), its tape is
/// gone, or operands are on different tapes; `corr2d` and `conv2d` throw exactly what the plain
/// tensor functions throw for the same shapes and options.

#include <string>

#include "convtape/autograd/op.hpp"
#include "convtape/autograd/tape.hpp"
#include "convtape/conv2d.hpp"
#include "convtape/core.hpp"
#include "convtape/corr2d.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

namespace detail {

inline void check_same_shape(const char* fn, const Shape4& a, const Shape4& b) {
  if (a != b) {
    fail(fn, "operands have different shapes " + shape_str(a) + " and " + shape_str(b) +
                 " (no broadcasting)");
  }
}

/// Checks the operands of a composite function under its own name, before its primitives run.
template <class S>
void check_elementwise(const char* fn, const Var<S>& a, const Var<S>& b) {
  const Op<S> op(fn, {a, b});
  check_same_shape(fn, op.input(0).shape(), op.input(1).shape());
}

/// The forward and gradient rule of both `conv2d` overloads on vars: operands x, weight and, if
/// `with_bias`, the bias. The shapes are checked and resolved once (by the same function, with
/// the same messages, as the plain `conv2d`), and the rule reuses them.
template <class S>
Var<S> record_conv2d(Op<S>& op, bool with_bias, const Conv2dOptions& opts) {
  const VectorX<S> b = with_bias ? VectorX<S>(op.input(2).flat()) : VectorX<S>();
  const Conv2dShape s = conv2d_shape(op.input(0), op.input(1), b.size(), opts, "conv2d");
  const Conv2dPath path = conv2d_path(s);
  // An empty bias is no bias (as in the plain conv2d): it gets no gradient.
  const bool bias_grad = with_bias && b.size() != 0;
  return op.record(conv2d_forward(op.input(0), op.input(1), b, s, path),
                   [s, path, bias_grad](GradContext<S>& g) {
                     Conv2dGrads<S> grads =
                         conv2d_backward_path(g.input(0), g.input(1), g.grad_output(), s, path,
                                              g.needs_grad(0), bias_grad);
                     if (g.needs_grad(0)) g.add_grad(0, std::move(grads.input));
                     g.add_grad(1, std::move(grads.weight));
                     if (bias_grad) g.add_grad(2, grads.bias);
                   });
}

}  // namespace detail

// ---- primitives ---------------------------------------------------------------------------------

/// Elementwise sum of two vars of the same shape. d/da = d/db = dy.
template <class S>
Var<S> operator+(const Var<S>& a, const Var<S>& b) {
  Op<S> op("operator+", {a, b});
  detail::check_same_shape(op.name(), op.input(0).shape(), op.input(1).shape());
  return op.record(
      tensor_from_flat<S>(op.input(0).shape(), op.input(0).flat() + op.input(1).flat()),
      [](GradContext<S>& g) {
        g.add_grad(0, g.grad_output().flat());
        g.add_grad(1, g.grad_output().flat());
      });
}

/// Elementwise difference of two vars of the same shape. d/da = dy, d/db = -dy.
template <class S>
Var<S> operator-(const Var<S>& a, const Var<S>& b) {
  Op<S> op("operator-", {a, b});
  detail::check_same_shape(op.name(), op.input(0).shape(), op.input(1).shape());
  return op.record(
      tensor_from_flat<S>(op.input(0).shape(), op.input(0).flat() - op.input(1).flat()),
      [](GradContext<S>& g) {
        g.add_grad(0, g.grad_output().flat());
        g.add_grad(1, -g.grad_output().flat());
      });
}

/// Elementwise product of two vars of the same shape. d/da = dy * b, d/db = dy * a.
template <class S>
Var<S> operator*(const Var<S>& a, const Var<S>& b) {
  Op<S> op("operator*", {a, b});
  detail::check_same_shape(op.name(), op.input(0).shape(), op.input(1).shape());
  return op.record(
      tensor_from_flat<S>(op.input(0).shape(), op.input(0).flat().cwiseProduct(op.input(1).flat())),
      [](GradContext<S>& g) {
        g.add_grad(0, g.grad_output().flat().cwiseProduct(g.input(1).flat()));
        g.add_grad(1, g.grad_output().flat().cwiseProduct(g.input(0).flat()));
      });
}

/// `a` plus the scalar `s` in every element. d/da = dy.
template <class S>
Var<S> operator+(const Var<S>& a, detail::non_deduced<S> s) {
  Op<S> op("operator+", {a});
  return op.record(
      tensor_from_flat<S>(op.input(0).shape(), (op.input(0).flat().array() + s).matrix()),
      [](GradContext<S>& g) { g.add_grad(0, g.grad_output().flat()); });
}

/// `a` times the scalar `s`. d/da = s * dy.
template <class S>
Var<S> operator*(const Var<S>& a, detail::non_deduced<S> s) {
  Op<S> op("operator*", {a});
  return op.record(tensor_from_flat<S>(op.input(0).shape(), op.input(0).flat() * s),
                   [s](GradContext<S>& g) { g.add_grad(0, g.grad_output().flat() * s); });
}

/// Sum of all elements, as a (1, 1, 1, 1) var. d/da = dy in every element.
template <class S>
Var<S> sum(const Var<S>& a) {
  Op<S> op("sum", {a});
  Tensor<S> y(1, 1, 1, 1);
  y.data()[0] = op.input(0).flat().sum();
  return op.record(std::move(y), [](GradContext<S>& g) {
    g.add_grad(0, VectorX<S>::Constant(g.input(0).size(), g.grad_output().data()[0]));
  });
}

/// Elementwise max(a, 0). d/da = dy where a > 0, else 0 (0 at a = 0, as PyTorch).
template <class S>
Var<S> relu(const Var<S>& a) {
  Op<S> op("relu", {a});
  return op.record(tensor_from_flat<S>(op.input(0).shape(), op.input(0).flat().cwiseMax(S(0))),
                   [](GradContext<S>& g) {
                     g.add_grad(0, (g.input(0).flat().array() > S(0))
                                       .select(g.grad_output().flat().array(), S(0))
                                       .matrix());
                   });
}

/// Single-plane cross-correlation (the notebook's `corr2d`, kernel not flipped) of x, shape
/// (1, 1, H, W), with kernel k, shape (1, 1, kh, kw), with the padding, stride and dilation of
/// `opts`; the result is (1, 1, out_rows, out_cols). For batches and channels use `conv2d`.
/// The gradients are `corr2d_grad_input` and `corr2d_grad_kernel` of `corr2d.hpp`.
/// @throws shape_error if x or k is not a single plane, and as the plain `corr2d`.
template <class S>
Var<S> corr2d(const Var<S>& x, const Var<S>& k, const Conv2dOptions& opts = {}) {
  Op<S> op("corr2d", {x, k});
  for (std::size_t i = 0; i < 2; ++i) {
    const Shape4& shape = op.input(i).shape();
    if (shape[0] != 1 || shape[1] != 1) {
      detail::fail(op.name(), std::string(i == 0 ? "x" : "k") +
                                  " must be a single plane of shape (1, 1, rows, cols), got " +
                                  detail::shape_str(shape));
    }
  }
  return op.record(
      Tensor<S>::from_matrix(corr2d(op.input(0).plane(0, 0), op.input(1).plane(0, 0), opts)),
      [opts](GradContext<S>& g) {
        const auto xp = g.input(0).plane(0, 0);
        const auto kp = g.input(1).plane(0, 0);
        const auto dy = g.grad_output().plane(0, 0);
        if (g.needs_grad(0)) {
          g.add_grad(0,
                     Tensor<S>::from_matrix(corr2d_grad_input(dy, kp, xp.rows(), xp.cols(), opts)));
        }
        if (g.needs_grad(1)) {
          g.add_grad(
              1, Tensor<S>::from_matrix(corr2d_grad_kernel(xp, dy, kp.rows(), kp.cols(), opts)));
        }
      });
}

/// Batched cross-correlation (PyTorch's `conv2d`) of x (N, C_in, H, W) with weight
/// (C_out, C_in / groups, kh, kw) plus a bias var of C_out elements (any shape, e.g.
/// (1, C_out, 1, 1)); all options of `opts`. Forward and gradients are `conv2d` and
/// `conv2d_backward` of `conv2d.hpp`.
/// @throws shape_error exactly as the plain `conv2d` with the same tensors.
template <class S>
Var<S> conv2d(const Var<S>& x, const Var<S>& weight, const Var<S>& bias,
              const Conv2dOptions& opts = {}) {
  Op<S> op("conv2d", {x, weight, bias});
  return detail::record_conv2d(op, true, opts);
}

/// `conv2d` without a bias.
/// @throws shape_error exactly as the plain `conv2d` with the same tensors.
template <class S>
Var<S> conv2d(const Var<S>& x, const Var<S>& weight, const Conv2dOptions& opts = {}) {
  Op<S> op("conv2d", {x, weight});
  return detail::record_conv2d(op, false, opts);
}

// ---- composites ---------------------------------------------------------------------------------

/// `s + a`.
template <class S>
Var<S> operator+(detail::non_deduced<S> s, const Var<S>& a) {
  return a + s;
}

/// `s * a`.
template <class S>
Var<S> operator*(detail::non_deduced<S> s, const Var<S>& a) {
  return a * s;
}

/// Elementwise negation, `a * -1`.
template <class S>
Var<S> operator-(const Var<S>& a) {
  return a * S(-1);
}

/// `a` minus the scalar `s` in every element.
template <class S>
Var<S> operator-(const Var<S>& a, detail::non_deduced<S> s) {
  return a + (-s);
}

/// The scalar `s` minus every element of `a`.
template <class S>
Var<S> operator-(detail::non_deduced<S> s, const Var<S>& a) {
  return -a + s;
}

/// `a` divided by the scalar `s`, `a * (1 / s)`.
template <class S>
Var<S> operator/(const Var<S>& a, detail::non_deduced<S> s) {
  return a * (S(1) / s);
}

/// Elementwise square, `a * a`.
template <class S>
Var<S> square(const Var<S>& a) {
  return a * a;
}

/// Mean of all elements as a (1, 1, 1, 1) var, `sum(a) * (1 / size)`.
/// @throws shape_error if `a` has no elements.
template <class S>
Var<S> mean(const Var<S>& a) {
  const Index n = a.value().size();
  if (n == 0)
    detail::fail("mean", "the var has no elements, shape " + detail::shape_str(a.shape()));
  return sum(a) * (S(1) / static_cast<S>(n));
}

}  // namespace convtape

/// The explicit instantiations of the most used differentiable functions for scalar S, after
/// `prefix` (`template` or `extern template`): see convtape/instantiate.hpp.
#define CONVTAPE_DETAIL_INSTANTIATE_OPS(prefix, S)                                            \
  prefix convtape::Var<S> convtape::detail::record_conv2d<S>(convtape::Op<S>&, bool,          \
                                                             const convtape::Conv2dOptions&); \
  prefix convtape::Var<S> convtape::sum<S>(const convtape::Var<S>&);
CONVTAPE_DETAIL_EXTERN(CONVTAPE_DETAIL_INSTANTIATE_OPS)
