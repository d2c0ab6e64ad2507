// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// Differentiable functions of vars, each with its forward and its gradient rule side by side.
///
/// Primitives (each has its own gradient rule, gradient-checked in the tests): `a + b`, `a - b`,
/// `a * b`, `a / b` (elementwise, broadcasting as the tensor operators of `elementwise.hpp`),
/// `a + s`, `a * s` (with a scalar), `sum`, `relu`, `sigmoid`, `tanh`, `exp`, `log`, `reshape`,
/// `corr2d`, `conv2d`, `linear`. Everything else is composed from them, so it needs no gradient
/// rule of its own: `-a = a * -1`, `a / s = a * (1 / s)`, `s / a = (constant s) / a`,
/// `square(a) = a * a`, `mean(a) = sum(a) * (1 / size)`, `flatten(a) = reshape(a, N, C*H*W, 1, 1)`.
/// (`squared_loss` in `nn/loss.hpp` is one primitive too, as PyTorch's `mse_loss` is one kernel.)
///
/// Broadcasting: in `a + b`, `a - b`, `a * b` and `a / b` a dimension of size 1 stretches to the
/// other operand's (NumPy's rule on the four NCHW dimensions), and its gradient is the output
/// gradient summed over the dimensions it was stretched along. Every function throws
/// `shape_error` naming itself if an operand is empty (default-constructed), its tape is gone, or
/// operands are on different tapes, and throws exactly what the same function on tensors throws
/// for the same shapes and options.

#include <string>

#include "convtape/autograd/op.hpp"
#include "convtape/autograd/tape.hpp"
#include "convtape/conv2d_grads.hpp"
#include "convtape/core.hpp"
#include "convtape/corr2d.hpp"
#include "convtape/detail/conv2d_backward.hpp"
#include "convtape/detail/conv2d_dispatch.hpp"
#include "convtape/detail/conv2d_forward.hpp"
#include "convtape/detail/conv2d_shape.hpp"
#include "convtape/detail/type_traits.hpp"
#include "convtape/elementwise.hpp"
#include "convtape/linear.hpp"
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

/// Adds d(loss)/d(result) `dy` to operand `i`'s gradient, summed over the dimensions along which
/// the operand was broadcast (none, and no copy, when it has the result's shape).
template <class S>
void add_summed_grad(GradContext<S>& g, std::size_t i, const Tensor<S>& dy) {
  if (!g.needs_grad(i)) return;
  const Shape4& shape = g.input(i).shape();
  if (shape == dy.shape()) {
    g.add_grad(i, dy.flat());
  } else {
    g.add_grad(i, sum_to(dy, shape));
  }
}

/// The same for a gradient computed at the result's shape, moved in when no sum is needed.
template <class S>
void add_summed_grad(GradContext<S>& g, std::size_t i, Tensor<S>&& grad) {
  if (!g.needs_grad(i)) return;
  const Shape4& shape = g.input(i).shape();
  if (shape == grad.shape()) {
    g.add_grad(i, std::move(grad));
  } else {
    g.add_grad(i, sum_to(grad, shape));
  }
}

/// The forward and gradient rule of both `linear` overloads on vars: operands x, weight and, if
/// `with_bias`, the bias. Shapes are checked by the function of the plain `linear`.
template <class S>
Var<S> record_linear(Op<S>& op, bool with_bias) {
  const Tensor<S>* bias = with_bias ? &op.input(2) : nullptr;
  const bool bias_grad = bias != nullptr && !bias->empty();  // an empty bias is no bias
  const LinearShape s =
      linear_shape(op.input(0), op.input(1), bias_grad ? bias->size() : -1, "linear");
  return op.record(linear_forward(op.input(0), op.input(1), bias_grad ? bias->data() : nullptr, s),
                   [s, bias_grad](GradContext<S>& g) {
                     LinearGrads<S> grads = linear_backward_shape(
                         g.input(0), g.input(1), g.grad_output(), s, g.needs_grad(0), bias_grad);
                     if (g.needs_grad(0)) g.add_grad(0, std::move(grads.input));
                     g.add_grad(1, std::move(grads.weight));
                     if (bias_grad) g.add_grad(2, grads.bias);
                   });
}

/// The forward and gradient rule of both `conv2d` overloads on vars: operands x, weight and, if
/// `with_bias`, the bias. The shapes are checked and resolved once (by the same function, with
/// the same messages, as the plain `conv2d`), and the rule reuses them.
template <class S>
Var<S> record_conv2d(Op<S>& op, bool with_bias, const Conv2dOptions& opts) {
  const VectorX<S> b = with_bias ? VectorX<S>(op.input(2).flat()) : VectorX<S>();
  const Conv2dShape s = conv2d_shape(op.input(0), op.input(1), b.size(), opts, "conv2d");
  const Conv2dPath path = conv2d_path<S>(s);
  // An empty bias is no bias (as in the plain conv2d): it gets no gradient.
  const bool has_bias = with_bias && b.size() != 0;
  return op.record(
      conv2d_forward(op.input(0), op.input(1), b, s, path), [s, path, has_bias](GradContext<S>& g) {
        Conv2dOutputMask mask;
        mask.grad_input = g.needs_grad(0);
        mask.grad_weight = g.needs_grad(1);
        mask.grad_bias = has_bias && g.needs_grad(2);
        Conv2dGrads<S> grads =
            conv2d_backward_path(g.input(0), g.input(1), g.grad_output(), s, path, mask);
        if (mask.grad_input) g.add_grad(0, std::move(grads.input));
        if (mask.grad_weight) g.add_grad(1, std::move(grads.weight));
        if (mask.grad_bias) g.add_grad(2, grads.bias);
      });
}

}  // namespace detail

// ---- primitives ---------------------------------------------------------------------------------

/// Elementwise sum with broadcasting. d/da = dy, d/db = dy, each summed over the dimensions that
/// operand was stretched along. @throws shape_error if the shapes do not broadcast.
template <class S>
Var<S> operator+(const Var<S>& a, const Var<S>& b) {
  Op<S> op("operator+", {a, b});
  return op.record(op.input(0) + op.input(1), [](GradContext<S>& g) {
    detail::add_summed_grad(g, 0, g.grad_output());
    detail::add_summed_grad(g, 1, g.grad_output());
  });
}

/// Elementwise difference with broadcasting. d/da = dy, d/db = -dy, each summed over the
/// dimensions that operand was stretched along. @throws shape_error as `a + b`.
template <class S>
Var<S> operator-(const Var<S>& a, const Var<S>& b) {
  Op<S> op("operator-", {a, b});
  return op.record(op.input(0) - op.input(1), [](GradContext<S>& g) {
    detail::add_summed_grad(g, 0, g.grad_output());
    if (!g.needs_grad(1)) return;
    if (g.input(1).shape() == g.grad_output().shape()) {
      g.add_grad(1, -g.grad_output().flat());
    } else {
      g.add_grad(1, -detail::sum_to(g.grad_output(), g.input(1).shape()).flat());
    }
  });
}

/// Elementwise product with broadcasting. d/da = dy * b, d/db = dy * a, each summed over the
/// dimensions that operand was stretched along. @throws shape_error as `a + b`.
template <class S>
Var<S> operator*(const Var<S>& a, const Var<S>& b) {
  Op<S> op("operator*", {a, b});
  return op.record(op.input(0) * op.input(1), [](GradContext<S>& g) {
    const Tensor<S>& dy = g.grad_output();
    if (g.input(0).shape() == g.input(1).shape()) {
      g.add_grad(0, dy.flat().cwiseProduct(g.input(1).flat()));
      g.add_grad(1, dy.flat().cwiseProduct(g.input(0).flat()));
      return;
    }
    if (g.needs_grad(0)) detail::add_summed_grad(g, 0, dy * g.input(1));
    if (g.needs_grad(1)) detail::add_summed_grad(g, 1, dy * g.input(0));
  });
}

/// Elementwise quotient with broadcasting, IEEE division. With y = a / b: d/da = dy / b,
/// d/db = -dy * y / b, each summed over the dimensions that operand was stretched along.
/// @throws shape_error as `a + b`.
template <class S>
Var<S> operator/(const Var<S>& a, const Var<S>& b) {
  Op<S> op("operator/", {a, b});
  return op.record(op.input(0) / op.input(1), [](GradContext<S>& g) {
    const Tensor<S>& dy = g.grad_output();
    if (g.input(0).shape() == g.input(1).shape()) {
      const auto dy_over_b = dy.flat().array() / g.input(1).flat().array();
      g.add_grad(0, dy_over_b.matrix());
      g.add_grad(1, (-dy_over_b * g.output().flat().array()).matrix());
      return;
    }
    Tensor<S> dy_over_b = dy / g.input(1);  // the result's shape
    if (g.needs_grad(1)) {
      detail::add_summed_grad(
          g, 1, detail::map_elements(dy_over_b * g.output(), [](const auto& x) { return -x; }));
    }
    detail::add_summed_grad(g, 0, std::move(dy_over_b));
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

/// Elementwise logistic sigmoid 1 / (1 + exp(-a)), as the tensor `sigmoid`.
/// d/da = dy * y * (1 - y).
template <class S>
Var<S> sigmoid(const Var<S>& a) {
  Op<S> op("sigmoid", {a});
  return op.record(sigmoid(op.input(0)), [](GradContext<S>& g) {
    const auto y = g.output().flat().array();
    g.add_grad(0, (g.grad_output().flat().array() * y * (S(1) - y)).matrix());
  });
}

/// Elementwise hyperbolic tangent. d/da = dy * (1 - y^2).
template <class S>
Var<S> tanh(const Var<S>& a) {
  Op<S> op("tanh", {a});
  return op.record(tanh(op.input(0)), [](GradContext<S>& g) {
    const auto y = g.output().flat().array();
    g.add_grad(0, (g.grad_output().flat().array() * (S(1) - y.square())).matrix());
  });
}

/// Elementwise e^a (IEEE: +Inf where it overflows). d/da = dy * y.
template <class S>
Var<S> exp(const Var<S>& a) {
  Op<S> op("exp", {a});
  return op.record(exp(op.input(0)), [](GradContext<S>& g) {
    g.add_grad(0, g.grad_output().flat().cwiseProduct(g.output().flat()));
  });
}

/// Elementwise natural logarithm with IEEE results, as PyTorch's: log(0) = -Inf and gradient
/// dy / 0 = ±Inf (NaN for dy = 0); log(a) = NaN for a < 0, and its gradient dy / a. It does not
/// throw: non-finite values propagate (see docs/reliability.md). d/da = dy / a.
template <class S>
Var<S> log(const Var<S>& a) {
  Op<S> op("log", {a});
  return op.record(log(op.input(0)), [](GradContext<S>& g) {
    g.add_grad(0, g.grad_output().flat().cwiseQuotient(g.input(0).flat()));
  });
}

/// The elements of `a` with shape (n, c, h, w), one extent possibly -1 (inferred), as the tensor
/// `reshape`; one node whose gradient is the result's gradient, reshaped back (the same elements
/// in the same order). @throws shape_error as the tensor `reshape`.
template <class S>
Var<S> reshape(const Var<S>& a, Index n, Index c, Index h, Index w) {
  Op<S> op("reshape", {a});
  return op.record(reshape(op.input(0), n, c, h, w),
                   [](GradContext<S>& g) { g.add_grad(0, g.grad_output().flat()); });
}

/// y = x Wᵀ + b, as the tensor `linear` of `linear.hpp` (x N rows of `in` features, weight
/// (out, in, 1, 1), a bias var of `out` elements, e.g. (1, out, 1, 1); result (N, out, 1, 1)).
/// Gradients are those of `linear_backward`, each one GEMM.
/// @throws shape_error exactly as the tensor `linear` with the same tensors.
template <class S>
Var<S> linear(const Var<S>& x, const Var<S>& weight, const Var<S>& bias) {
  Op<S> op("linear", {x, weight, bias});
  return detail::record_linear(op, true);
}

/// `linear` without a bias. @throws shape_error exactly as the tensor `linear`.
template <class S>
Var<S> linear(const Var<S>& x, const Var<S>& weight) {
  Op<S> op("linear", {x, weight});
  return detail::record_linear(op, false);
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

/// The scalar `s` divided by every element of `a` (IEEE division): a (1, 1, 1, 1) constant
/// holding `s`, divided by `a` with broadcasting.
template <class S>
Var<S> operator/(detail::non_deduced<S> s, const Var<S>& a) {
  return a.tape().constant(Tensor<S>::constant({1, 1, 1, 1}, s)) / a;
}

/// `a` as N rows of C*H*W features, shape (N, C*H*W, 1, 1) (the batch layout of `tensor.hpp`):
/// `reshape(a, N, C*H*W, 1, 1)`.
template <class S>
Var<S> flatten(const Var<S>& a) {
  const Shape4& s = a.shape();
  return reshape(a, s[0], s[1] * s[2] * s[3], 1, 1);
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
  prefix convtape::Var<S> convtape::detail::record_linear<S>(convtape::Op<S>&, bool);         \
  prefix convtape::Var<S> convtape::sum<S>(const convtape::Var<S>&);
CONVTAPE_DETAIL_EXTERN(CONVTAPE_DETAIL_INSTANTIATE_OPS)
