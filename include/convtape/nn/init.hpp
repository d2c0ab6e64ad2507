// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// Initializers: fill a tensor from an explicitly seeded `std::mt19937_64`, the same numbers on
/// every platform (the engine's bits are fixed by the C++ standard; the transforms to reals are
/// ours, not the implementation-defined `std::` distributions). Each draws the tensor's elements
/// in NCHW order.
///
///     std::mt19937_64 rng(42);
///     convtape::init::uniform(conv.weight.value, -0.07, 0.07, rng);

#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>

#include "convtape/core.hpp"
#include "convtape/detail/random.hpp"
#include "convtape/tensor.hpp"

namespace convtape::init {

/// Inputs feeding one output of a layer with this OIHW weight: C_in / groups * kh * kw.
/// @throws shape_error if that is zero.
template <class S>
Index fan_in(const Tensor<S>& weight) {
  const Index fan = weight.dim(1) * weight.dim(2) * weight.dim(3);
  if (fan <= 0) {
    detail::fail("init::fan_in", "weight " + detail::shape_str(weight.shape()) + " has no inputs");
  }
  return fan;
}

/// Outputs one input of a layer with this OIHW weight feeds: C_out * kh * kw (PyTorch's fan_out;
/// for a `Linear` weight (out, in, 1, 1), `out`). @throws shape_error if that is zero.
template <class S>
Index fan_out(const Tensor<S>& weight) {
  const Index fan = weight.dim(0) * weight.dim(2) * weight.dim(3);
  if (fan <= 0) {
    detail::fail("init::fan_out",
                 "weight " + detail::shape_str(weight.shape()) + " has no outputs");
  }
  return fan;
}

/// Uniform in [low, high): low + (high - low) * u, u from the top 53 bits of one engine output.
/// @throws shape_error if low > high.
template <class S>
void uniform(Tensor<S>& t, double low, double high, std::mt19937_64& rng) {
  if (!(low <= high)) {
    std::ostringstream os;
    os << "needs low <= high, got [" << low << ", " << high << ")";
    detail::fail("init::uniform", os.str());
  }
  detail::fill_uniform(t.data(), t.size(), low, high, rng);
}

/// Normal with the given mean and standard deviation (Box-Muller on pairs of uniforms; bit-for-bit
/// reproducible wherever the C library's log, cos and sin agree).
/// @throws shape_error if stddev is negative.
template <class S>
void normal(Tensor<S>& t, double mean, double stddev, std::mt19937_64& rng) {
  if (!(stddev >= 0)) {
    std::ostringstream os;
    os << "needs a non-negative stddev, got " << stddev;
    detail::fail("init::normal", os.str());
  }
  detail::fill_normal(t.data(), t.size(), mean, stddev, rng);
}

/// All zeros.
template <class S>
void zeros(Tensor<S>& t) {
  t.setZero();
}

/// Every element `value`.
template <class S>
void constant(Tensor<S>& t, double value) {
  t.setConstant(static_cast<S>(value));
}

/// He/Kaiming uniform for a leaky-ReLU slope `a`, as PyTorch's `kaiming_uniform_` (fan_in mode):
/// uniform(±gain * sqrt(3 / fan_in)) with gain = sqrt(2 / (1 + a^2)).
/// @throws shape_error if `weight` has no inputs (see `fan_in`).
template <class S>
void kaiming_uniform(Tensor<S>& weight, double a, std::mt19937_64& rng) {
  const double gain = std::sqrt(2.0 / (1.0 + a * a));
  const double bound = gain * std::sqrt(3.0 / static_cast<double>(fan_in(weight)));
  uniform(weight, -bound, bound, rng);
}

/// PyTorch's default for `Conv2d` and `Linear`: the weight kaiming-uniform with a = sqrt(5), which
/// is uniform(±1 / sqrt(fan_in)), then the bias (if not empty) uniform(±1 / sqrt(fan_in)).
/// @throws shape_error if `weight` has no inputs.
template <class S>
void pytorch_default(Tensor<S>& weight, Tensor<S>& bias, std::mt19937_64& rng) {
  kaiming_uniform(weight, std::sqrt(5.0), rng);
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in(weight)));
  uniform(bias, -bound, bound, rng);
}

/// He/Kaiming normal for a leaky-ReLU slope `a` (0: ReLU), as PyTorch's `kaiming_normal_`
/// (fan_in mode): normal(0, gain / sqrt(fan_in)) with gain = sqrt(2 / (1 + a^2)).
/// @throws shape_error if `weight` has no inputs.
template <class S>
void kaiming_normal(Tensor<S>& weight, double a, std::mt19937_64& rng) {
  const double gain = std::sqrt(2.0 / (1.0 + a * a));
  normal(weight, 0.0, gain / std::sqrt(static_cast<double>(fan_in(weight))), rng);
}

/// `kaiming_normal` drawn from `std::mt19937_64(seed)`, the ReLU gain (a = 0) by default.
template <class S>
void kaiming_normal(Tensor<S>& weight, std::uint64_t seed, double a = 0.0) {
  std::mt19937_64 rng(seed);
  kaiming_normal(weight, a, rng);
}

/// Glorot/Xavier uniform, as PyTorch's `xavier_uniform_`: uniform(±gain * sqrt(6 / (fan_in +
/// fan_out))). @throws shape_error if `weight` has no inputs or no outputs.
template <class S>
void xavier_uniform(Tensor<S>& weight, double gain, std::mt19937_64& rng) {
  const double fans = static_cast<double>(fan_in(weight) + fan_out(weight));
  const double bound = gain * std::sqrt(6.0 / fans);
  uniform(weight, -bound, bound, rng);
}

/// `xavier_uniform` drawn from `std::mt19937_64(seed)`, gain 1 by default:
/// `init::xavier_uniform(fc.weight.value, 7)`.
template <class S>
void xavier_uniform(Tensor<S>& weight, std::uint64_t seed, double gain = 1.0) {
  std::mt19937_64 rng(seed);
  xavier_uniform(weight, gain, rng);
}

/// Glorot/Xavier normal, as PyTorch's `xavier_normal_`: normal(0, gain * sqrt(2 / (fan_in +
/// fan_out))). @throws shape_error if `weight` has no inputs or no outputs.
template <class S>
void xavier_normal(Tensor<S>& weight, double gain, std::mt19937_64& rng) {
  const double fans = static_cast<double>(fan_in(weight) + fan_out(weight));
  normal(weight, 0.0, gain * std::sqrt(2.0 / fans), rng);
}

/// `xavier_normal` drawn from `std::mt19937_64(seed)`, gain 1 by default.
template <class S>
void xavier_normal(Tensor<S>& weight, std::uint64_t seed, double gain = 1.0) {
  std::mt19937_64 rng(seed);
  xavier_normal(weight, gain, rng);
}

/// Half-width of MXNet's default initializer, `mxnet.init.Uniform()`.
constexpr double mxnet_default_scale = 0.07;

/// MXNet Gluon's default, what the notebook's `conv2d.initialize()` does: the weight
/// uniform(±0.07), the bias (if not empty) zeros.
template <class S>
void mxnet_default(Tensor<S>& weight, Tensor<S>& bias, std::mt19937_64& rng) {
  uniform(weight, -mxnet_default_scale, mxnet_default_scale, rng);
  zeros(bias);
}

}  // namespace convtape::init
