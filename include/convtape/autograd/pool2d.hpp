// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// Pooling on vars: `max_pool2d`, `avg_pool2d`, `adaptive_avg_pool2d` and `global_avg_pool2d`,
/// each one node whose forward is the tensor function of `pool2d.hpp` and whose gradient rule is
/// that header's backward. Each throws exactly what the tensor function throws for the same
/// shapes and options (and `shape_error` if x is empty or its tape is gone).

#include <utility>

#include "convtape/autograd/tape.hpp"
#include "convtape/core.hpp"
#include "convtape/pool2d.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// Max pooling of x (N, C, H, W), as the tensor `max_pool2d`. The gradient goes to the first
/// maximum of each window (the indices are kept on the tape, as PyTorch keeps them).
/// @throws shape_error as the tensor `max_pool2d`.
template <class S>
Var<S> max_pool2d(const Var<S>& x, Size2 kernel, const Pool2dOptions& opts = {}) {
  Op<S> op("max_pool2d", {x});
  const detail::Pool2dGeometry geometry =
      detail::pool2d_geometry(op.input(0), kernel, opts, op.name());
  Tensor<Index> indices;
  Tensor<S> y = detail::max_pool2d_planes<S, true>(op.input(0), geometry, &indices);
  return op.record(std::move(y), [indices = std::move(indices)](GradContext<S>& g) {
    g.add_grad(0, detail::max_pool2d_scatter(g.grad_output(), indices, g.input(0).shape()));
  });
}

/// Average pooling of x (N, C, H, W), as the tensor `avg_pool2d`; the gradient spreads each
/// output gradient evenly over its window.
/// @throws shape_error as the tensor `avg_pool2d`.
template <class S>
Var<S> avg_pool2d(const Var<S>& x, Size2 kernel, const Pool2dOptions& opts = {}) {
  Op<S> op("avg_pool2d", {x});
  const detail::Pool2dGeometry geometry =
      detail::pool2d_geometry(op.input(0), kernel, opts, op.name());
  return op.record(avg_pool2d(op.input(0), kernel, opts), [geometry](GradContext<S>& g) {
    g.add_grad(0,
               detail::avg_pool2d_backward_planes(g.grad_output(), geometry, g.input(0).shape()));
  });
}

/// Adaptive average pooling of x (N, C, H, W) to (N, C, output_size.rows, output_size.cols), as
/// the tensor `adaptive_avg_pool2d`.
/// @throws shape_error as the tensor `adaptive_avg_pool2d`.
template <class S>
Var<S> adaptive_avg_pool2d(const Var<S>& x, Size2 output_size) {
  Op<S> op("adaptive_avg_pool2d", {x});
  return op.record(adaptive_avg_pool2d(op.input(0), output_size), [](GradContext<S>& g) {
    g.add_grad(0, detail::adaptive_avg_pool2d_scatter(g.grad_output(), g.input(0).shape()));
  });
}

/// The mean of each (n, c) plane of x: (N, C, H, W) to (N, C, 1, 1).
/// @throws shape_error if x is empty or its tape is gone.
template <class S>
Var<S> global_avg_pool2d(const Var<S>& x) {
  Op<S> op("global_avg_pool2d", {x});
  return op.record(global_avg_pool2d(op.input(0)), [](GradContext<S>& g) {
    g.add_grad(0, detail::adaptive_avg_pool2d_scatter(g.grad_output(), g.input(0).shape()));
  });
}

}  // namespace convtape
