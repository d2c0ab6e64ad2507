// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// `Conv2dGrads`, what `conv2d_backward` (convtape/conv2d.hpp) and `reference::conv2d_backward`
/// return; a header of its own so that the reference loops and the tape can name it without
/// the batched kernels.

#include "convtape/core.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// Gradients of `conv2d` with respect to its three arguments.
template <class S>
struct Conv2dGrads {
  Tensor<S> input;   ///< shaped like x
  Tensor<S> weight;  ///< shaped like weight
  VectorX<S> bias;   ///< C_out elements (computed whether or not the forward had a bias)
};

}  // namespace convtape
