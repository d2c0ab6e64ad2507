// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// `Linear<S>`: a fully connected layer (PyTorch's `nn.Linear`) holding its weight and bias as
/// `Parameter`s.

#include <cstdint>
#include <random>
#include <sstream>
#include <vector>

#include "convtape/autograd/ops.hpp"
#include "convtape/autograd/parameter.hpp"
#include "convtape/autograd/tape.hpp"
#include "convtape/core.hpp"
#include "convtape/linear.hpp"
#include "convtape/nn/init.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// A fully connected layer: `fc(x)` is `linear(x, weight, bias)` for x holding N rows of
/// `in_features` (any (N, C, H, W) with C * H * W = in_features, e.g. a feature map straight from
/// a convolution), giving (N, out_features, 1, 1) (the batch layout of `tensor.hpp`).
///
///     convtape::Linear<float> fc(16 * 5 * 5, 120, 7);  // LeNet's first dense layer, seed 7
///
/// Called on a var it records on that var's tape (the gradients flow into `weight.grad` and
/// `bias.grad`); called on a tensor it is inference, with no tape.
template <class S>
class Linear {
 public:
  /// The scalar type, `S` (a floating-point type: integers stop compilation with a sentence).
  using Scalar = typename detail::Differentiable<S>::type;

  /// (out_features, in_features, 1, 1): PyTorch's (out, in) matrix, row-major.
  Parameter<S> weight;
  /// (1, out_features, 1, 1), which broadcasts over an (N, out_features, 1, 1) output.
  Parameter<S> bias;

  /// A layer with PyTorch's default initialization (`init::pytorch_default`: weight and bias
  /// uniform in ±1 / sqrt(in_features)) drawn from `std::mt19937_64(seed)`: the same numbers for
  /// the same seed on every platform. Gradients start at zero.
  /// @throws shape_error if a feature count is not positive.
  Linear(Index in_features, Index out_features, std::uint64_t seed = 0) {
    if (in_features <= 0 || out_features <= 0) {
      std::ostringstream os;
      os << "needs positive feature counts, got in_features = " << in_features
         << ", out_features = " << out_features;
      detail::fail("Linear", os.str());
    }
    weight = Parameter<S>(Tensor<S>(out_features, in_features, 1, 1));
    bias = Parameter<S>(Tensor<S>(1, out_features, 1, 1));
    std::mt19937_64 rng(seed);
    init::pytorch_default(weight.value, bias.value, rng);
  }

  /// The trainable parameters, for an optimizer: the weight, then the bias. The refs follow the
  /// layer when it moves; once it is destroyed, a step over them throws.
  std::vector<ParameterRef<S>> parameters() { return {weight, bias}; }

  /// Records `linear(x, weight, bias)` on x's tape, with this layer's parameters as leaves.
  /// @throws shape_error as `linear` (and if x is empty or its tape is gone).
  Var<S> operator()(const Var<S>& x) {
    Tape<S> tape = x.tape();
    return linear(x, tape.parameter(weight), tape.parameter(bias));
  }

  /// Inference on a tensor, without a tape. @throws shape_error as `linear`.
  Tensor<S> operator()(const Tensor<S>& x) const { return linear(x, weight.value, bias.value); }

  /// Number of input features per row.
  Index in_features() const { return weight.value.dim(1); }
  /// Number of outputs per row.
  Index out_features() const { return weight.value.dim(0); }
};

}  // namespace convtape
