// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// Losses: `squared_loss` is one recorded function with its own gradient rule (one node on the
/// tape instead of the three of `square(y_hat - y)`: the loss of every training step), and
/// `mse_loss` reduces it with the functions of `autograd/ops.hpp`.

#include "convtape/autograd/op.hpp"
#include "convtape/autograd/ops.hpp"
#include "convtape/autograd/tape.hpp"

namespace convtape {

/// How `mse_loss` reduces the elementwise errors to one number.
enum class Reduction { mean, sum };

/// Elementwise squared error (y_hat - y)^2, shaped like the operands: the notebook's
/// `(Y_hat - Y)**2`. Unlike d2l's linear-regression `squared_loss`, it is not halved.
/// d/dy_hat = 2 (y_hat - y) dl, d/dy = -2 (y_hat - y) dl.
/// @throws shape_error if the shapes differ, or as any differentiable function.
template <class S>
Var<S> squared_loss(const Var<S>& y_hat, const Var<S>& y) {
  Op<S> op("squared_loss", {y_hat, y});
  detail::check_same_shape(op.name(), op.input(0).shape(), op.input(1).shape());
  const auto error = op.input(0).flat() - op.input(1).flat();
  return op.record(
      tensor_from_flat<S>(op.input(0).shape(), error.cwiseAbs2()), [](GradContext<S>& g) {
        const auto twice_error = S(2) * (g.input(0).flat() - g.input(1).flat()).array();
        const auto dl = g.grad_output().flat().array();
        g.add_grad(0, (twice_error * dl).matrix());
        g.add_grad(1, (-twice_error * dl).matrix());
      });
}

/// Mean (the default, as PyTorch's `mse_loss`) or sum of the squared error, as a (1, 1, 1, 1) var.
/// @throws shape_error as `squared_loss`, and for the mean of no elements.
template <class S>
Var<S> mse_loss(const Var<S>& y_hat, const Var<S>& y, Reduction reduction = Reduction::mean) {
  detail::check_elementwise("mse_loss", y_hat, y);
  const Var<S> errors = squared_loss(y_hat, y);
  return reduction == Reduction::sum ? sum(errors) : mean(errors);
}

}  // namespace convtape

/// `squared_loss`'s explicit instantiation for scalar S, after `prefix` (`template` or
/// `extern template`): see convtape/instantiate.hpp.
#define CONVTAPE_DETAIL_INSTANTIATE_LOSS(prefix, S)                          \
  prefix convtape::Var<S> convtape::squared_loss<S>(const convtape::Var<S>&, \
                                                    const convtape::Var<S>&);
CONVTAPE_DETAIL_EXTERN(CONVTAPE_DETAIL_INSTANTIATE_LOSS)
