// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// `ConvTranspose2D<S>`: a transposed convolution layer (PyTorch's `nn.ConvTranspose2d`) holding
/// its weight and optional bias as `Parameter`s.

#include <cstdint>
#include <random>
#include <sstream>
#include <vector>

#include "convtape/autograd/conv_transpose2d.hpp"
#include "convtape/autograd/tape.hpp"
#include "convtape/conv_transpose2d.hpp"
#include "convtape/core.hpp"
#include "convtape/nn/init.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

namespace detail {

/// The layer's own checks of its constructor arguments (the options' ranges are checked by
/// `conv_transpose2d` when the layer is called).
inline void check_conv_transpose2d_layer(Index in_channels, Index out_channels, Size2 kernel,
                                         Index groups) {
  constexpr const char* fn = "ConvTranspose2D";
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

/// A transposed convolution layer: `up(x)` is `conv_transpose2d(x, weight, bias, options)` for x
/// of shape (N, in_channels, H, W), giving (N, out_channels, out_rows, out_cols); with
/// `.stride(2)` and a 2x2 kernel it doubles the plane, the usual learned upsampling:
///
///     convtape::ConvTranspose2D<float> up(16, 8, 2, convtape::ConvTranspose2dOptions().stride(2));
///
/// Called on a var it records on that var's tape (the parameters' gradients flow into
/// `weight.grad` and `bias.grad`); called on a tensor it is inference, with no tape.
template <class S>
class ConvTranspose2D {
 public:
  /// The scalar type, `S` (a floating-point type: integers stop compilation with a sentence).
  using Scalar = typename detail::Differentiable<S>::type;

  /// (in_channels, out_channels / groups, kernel rows, kernel cols), as PyTorch.
  Parameter<S> weight;
  /// (1, out_channels, 1, 1), which broadcasts over an NCHW output; empty with `.bias(false)`.
  Parameter<S> bias;

  /// A layer with PyTorch's default initialization for `ConvTranspose2d` (`init::pytorch_default`:
  /// uniform(±1 / sqrt(fan_in)) for weight and bias, fan_in = out_channels / groups * kh * kw as
  /// PyTorch computes it from this weight layout) drawn from `std::mt19937_64(seed)`. Gradients
  /// start at zero. Stride, padding, output_padding, dilation, groups and bias come from `opts`;
  /// their ranges are checked when the layer is called, exactly as `conv_transpose2d` does.
  /// @throws shape_error if a channel count or the kernel is not positive, or the channel counts
  ///   are not divisible by `opts.groups()`.
  ConvTranspose2D(Index in_channels, Index out_channels, Size2 kernel,
                  const ConvTranspose2dOptions& opts = {}, std::uint64_t seed = 0)
      : options_(opts) {
    detail::check_conv_transpose2d_layer(in_channels, out_channels, kernel, opts.groups());
    weight = Parameter<S>(
        Tensor<S>(in_channels, out_channels / opts.groups(), kernel.rows, kernel.cols));
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

  /// Records the transposed convolution of `x` on x's tape, with this layer's parameters as
  /// leaves.
  /// @throws shape_error as `conv_transpose2d` (and if x is empty or its tape is gone).
  Var<S> operator()(const Var<S>& x) {
    Tape<S> tape = x.tape();
    const Var<S> w = tape.parameter(weight);
    if (!has_bias()) return conv_transpose2d(x, w, options_);
    return conv_transpose2d(x, w, tape.parameter(bias), options_);
  }

  /// Inference on a tensor, without a tape.
  /// @throws shape_error as `conv_transpose2d`.
  Tensor<S> operator()(const Tensor<S>& x) const {
    return conv_transpose2d(x, weight.value, bias.value.flat(), options_);
  }

  /// Whether the layer has a bias (`ConvTranspose2dOptions::bias`).
  bool has_bias() const { return options_.bias(); }
  /// The options the layer was made with.
  const ConvTranspose2dOptions& options() const { return options_; }

 private:
  ConvTranspose2dOptions options_;
};

}  // namespace convtape
