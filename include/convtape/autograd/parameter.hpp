// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// `Parameter<S>`: a trainable tensor and its gradient, where layers, tapes and optimizers meet.

#include <limits>
#include <utility>

#include "convtape/core.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

namespace detail {

/// Names `S` if gradients can be taken in it; stops compilation with a sentence otherwise. Every
/// autograd, layer and optimizer class names it, so the sentence is the first error a user sees.
template <class S>
struct Differentiable {
  static_assert(!std::numeric_limits<S>::is_integer,
                "convtape: gradients need a floating-point scalar type (float, double, ...); an "
                "integer Tape, Var, Parameter, layer or optimizer cannot hold them. Use float or "
                "double, converting integer data with Tensor::cast<double>().");
  using type = S;
};

}  // namespace detail

/// A trainable tensor and its gradient, owned by a layer (or by you) and outliving the tapes it is
/// used on. `tape.parameter(p)` records it on a tape; every `backward` through that tape adds into
/// `grad`, which keeps accumulating until `zero_grad()`, as in PyTorch. A parameter must outlive
/// every `backward` over a tape it was recorded on.
template <class S>
struct Parameter {
  /// The scalar type, `S` (a floating-point type: integers stop compilation with a sentence).
  using Scalar = typename detail::Differentiable<S>::type;

  Tensor<S> value;  ///< the trainable tensor, e.g. a layer's weight
  Tensor<S> grad;   ///< the accumulated gradient, shaped like `value`

  /// An empty parameter (shape (0, 0, 0, 0)).
  Parameter() = default;
  /// A parameter holding `initial`, with a zero gradient of the same shape.
  explicit Parameter(Tensor<S> initial) : value(std::move(initial)), grad(value.shape()) {}

  /// Sets `grad` to zeros shaped like `value` (also after `value` was replaced by another shape).
  void zero_grad() {
    if (grad.shape() == value.shape()) {
      grad.setZero();
    } else {
      grad = Tensor<S>(value.shape());
    }
  }
};

}  // namespace convtape
