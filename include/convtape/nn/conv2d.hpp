// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// `Conv2D<S>`: a 2-D convolution layer (cross-correlation, as PyTorch's `nn.Conv2d`) holding
/// its weight and optional bias as `Parameter`s.

#include <cstdint>
#include <random>
#include <sstream>
#include <vector>

#include "convtape/autograd/ops.hpp"
#include "convtape/autograd/tape.hpp"
#include "convtape/conv2d.hpp"
#include "convtape/core.hpp"
#include "convtape/nn/init.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

namespace detail {

/// The layer's own checks of its constructor arguments (the options' ranges are checked by
/// `conv2d` when the layer is called).
inline void check_conv2d_layer(Index in_channels, Index out_channels, Size2 kernel, Index groups) {
  constexpr const char* fn = "Conv2D";
  if (in_channels <= 0 || out_channels <= 0 || kernel.rows <= 0 || kernel.cols <= 0) {
    std::ostringstream os;
    os << "needs positive channel counts and kernel, got in_channels = " << in_channels
       << ", out_channels = " << out_channels << ", kernel " << kernel;
    fail(fn, os.str());
  }
  if (groups <= 0 || in_channels % groups != 0 || out_channels % groups != 0) {
    std::ostringstream os;
    os << "in_channels = " << in_channels << " and out_channels = " << out_channels
       << " must both be divisible by groups = " << groups;
    fail(fn, os.str());
  }
}

}  // namespace detail

/// A convolution layer: `conv(x)` is `conv2d(x, weight, bias, options)` for x of shape
/// (N, in_channels, H, W), giving (N, out_channels, out_rows, out_cols).
///
///     convtape::Conv2D<double> conv(1, 1, {1, 2}, convtape::Conv2dOptions().bias(false));
///
/// Called on a var it records on that var's tape (the parameters' gradients flow into
/// `weight.grad` and `bias.grad`); called on a tensor it is inference, with no tape.
template <class S>
class Conv2D {
 public:
  /// The scalar type, `S` (a floating-point type: integers stop compilation with a sentence).
  using Scalar = typename detail::Differentiable<S>::type;

  /// (out_channels, in_channels / groups, kernel rows, kernel cols), OIHW as PyTorch.
  Parameter<S> weight;
  /// (1, out_channels, 1, 1), which broadcasts over an NCHW output; empty with `.bias(false)`.
  Parameter<S> bias;

  /// A layer with PyTorch's default initialization (`init::pytorch_default`) drawn from
  /// `std::mt19937_64(seed)`: the same weights for the same seed on every platform. Gradients
  /// start at zero. Padding, stride, dilation, groups and bias come from `opts`; their ranges are
  /// checked when the layer is called, exactly as `conv2d` does.
  /// @throws shape_error if a channel count or the kernel is not positive, or the channel counts
  ///   are not divisible by `opts.groups()`.
  Conv2D(Index in_channels, Index out_channels, Size2 kernel, const Conv2dOptions& opts = {},
         std::uint64_t seed = 0)
      : options_(opts) {
    detail::check_conv2d_layer(in_channels, out_channels, kernel, opts.groups());
    const Index groups = opts.groups();
    weight = Parameter<S>(Tensor<S>(out_channels, in_channels / groups, kernel.rows, kernel.cols));
    if (opts.bias()) bias = Parameter<S>(Tensor<S>(1, out_channels, 1, 1));
    std::mt19937_64 rng(seed);
    init::pytorch_default(weight.value, bias.value, rng);
  }

  /// The trainable parameters, for an optimizer: the weight, then the bias unless
  /// `.bias(false)`. The refs follow the layer when it moves (e.g. in a growing `std::vector`);
  /// once it is destroyed, a step over them throws.
  std::vector<ParameterRef<S>> parameters() {
    if (!has_bias()) return {weight};
    return {weight, bias};
  }

  /// Records the convolution of `x` on x's tape, with this layer's parameters as leaves.
  /// @throws shape_error as `conv2d` (and if x is empty or its tape is gone).
  Var<S> operator()(const Var<S>& x) {
    Tape<S> tape = x.tape();
    const Var<S> w = tape.parameter(weight);
    if (!has_bias()) return conv2d(x, w, options_);
    return conv2d(x, w, tape.parameter(bias), options_);
  }

  /// Inference on a tensor, without a tape.
  /// @throws shape_error as `conv2d`.
  Tensor<S> operator()(const Tensor<S>& x) const {
    return conv2d(x, weight.value, bias.value.flat(), options_);
  }

  /// Whether the layer has a bias (`Conv2dOptions::bias`).
  bool has_bias() const { return options_.bias(); }
  /// The options the layer was made with: padding, stride, dilation, groups and bias.
  const Conv2dOptions& options() const { return options_; }

 private:
  Conv2dOptions options_;
};

}  // namespace convtape
