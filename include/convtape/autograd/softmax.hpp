// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// `log_softmax` on vars: one node, forward and gradient rule from `softmax.hpp`.

#include "convtape/autograd/tape.hpp"
#include "convtape/softmax.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// log(softmax(x)) over the C classes of each row of x (N, C, 1, 1), as the tensor
/// `log_softmax`. d/dx = dy - softmax(x) * sum(dy) per row.
/// @throws shape_error as the tensor `log_softmax`.
template <class S>
Var<S> log_softmax(const Var<S>& x) {
  Op<S> op("log_softmax", {x});
  return op.record(log_softmax(op.input(0)), [](GradContext<S>& g) {
    g.add_grad(0, detail::log_softmax_backward(g.output(), g.grad_output()));
  });
}

}  // namespace convtape
