// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// Losses, composed from the differentiable functions of `autograd/ops.hpp` (so they need no
/// gradient rules of their own).

#include "convtape/autograd/ops.hpp"
#include "convtape/autograd/tape.hpp"

namespace convtape {

/// How `mse_loss` reduces the elementwise errors to one number.
enum class Reduction { mean, sum };

/// Elementwise squared error (y_hat - y)^2, shaped like the operands: the notebook's
/// `(Y_hat - Y)**2`. Unlike d2l's linear-regression `squared_loss`, it is not halved.
/// @throws shape_error if the shapes differ, or as any differentiable function.
template <class S>
Var<S> squared_loss(const Var<S>& y_hat, const Var<S>& y) {
  detail::check_elementwise("squared_loss", y_hat, y);
  return square(y_hat - y);
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
