// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// `SGD<S>`: stochastic gradient descent with momentum and weight decay, PyTorch's update rule.

#include <utility>
#include <vector>

#include "convtape/autograd/parameter.hpp"
#include "convtape/optim/optimizer.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// Gradient descent on parameters, as PyTorch's `torch.optim.SGD` (no dampening, no Nesterov).
/// For each parameter p with gradient g, one `step()` does
///
///     d = g + weight_decay * p
///     b = momentum * b + d        (b = d on the first step; without momentum b is just d)
///     p = p - lr * b
///
/// The notebook's update `weight -= lr * grad` is `SGD<S>(params, lr)`.
template <class S>
class SGD : public Optimizer<S> {
 public:
  /// @throws shape_error if `params` is empty or holds an empty ref (a null pointer), or lr,
  /// momentum or
  ///   weight_decay is negative or not finite.
  SGD(std::vector<ParameterRef<S>> params, S lr, S momentum = 0, S weight_decay = 0)
      : Optimizer<S>("SGD", std::move(params), lr),
        momentum_(momentum),
        weight_decay_(weight_decay) {
    detail::check_hyperparameter("SGD", "momentum", momentum, S(0));
    detail::check_hyperparameter("SGD", "weight_decay", weight_decay, S(0));
  }

  /// One update of every parameter from its current gradient.
  /// @throws shape_error, before modifying anything, if a parameter no longer exists, a gradient
  ///   is not shaped like its parameter, or a parameter changed shape since the previous step.
  void step() override {
    this->check_step({&buffers_});
    const bool first = buffers_.empty();
    if (momentum_ != S(0) && first) buffers_.resize(this->parameters().size());
    for (std::size_t i = 0; i < this->parameters().size(); ++i) {
      auto p = this->parameter(i).value.flat();
      const auto g = this->parameter(i).grad.flat();
      if (momentum_ == S(0)) {
        p -= this->lr() * (g + weight_decay_ * p);
        continue;
      }
      Tensor<S>& b = buffers_[i];
      if (first) {
        b = Tensor<S>(this->parameter(i).value.shape());
        b.flat() = g + weight_decay_ * p;
      } else {
        b.flat() = momentum_ * b.flat() + g + weight_decay_ * p;
      }
      p -= this->lr() * b.flat();
    }
  }

  /// The momentum buffers b, `momentum_buffer.i` for parameter i (PyTorch's name), once a step
  /// with momentum was taken; empty before, and always without momentum.
  std::vector<NamedTensor<S>> state() const override {
    return this->pack_state({{"momentum_buffer", &buffers_}});
  }

  /// Restores buffers from `state()` (empty: as before the first step).
  /// @throws shape_error, before changing anything, if `state` is not empty and not exactly
  ///   `momentum_buffer.i` for every parameter i, shaped like it (without momentum: if it is not
  ///   empty).
  void load_state(const std::vector<NamedTensor<S>>& state) override {
    if (momentum_ == S(0)) {
      this->unpack_state(state, {}, {});
      return;
    }
    buffers_ = std::move(this->unpack_state(state, {"momentum_buffer"}, {}).first[0]);
  }

  /// The momentum factor given to the constructor.
  S momentum() const { return momentum_; }
  /// The weight decay (L2 penalty) given to the constructor.
  S weight_decay() const { return weight_decay_; }

 private:
  S momentum_;
  S weight_decay_;
  std::vector<Tensor<S>> buffers_;  ///< momentum buffers, one per parameter; empty until a step
};

}  // namespace convtape

/// `SGD`'s explicit instantiation for scalar S, after `prefix` (`template` or `extern template`):
/// see convtape/instantiate.hpp.
#define CONVTAPE_DETAIL_INSTANTIATE_SGD(prefix, S) prefix class convtape::SGD<S>;
CONVTAPE_DETAIL_EXTERN(CONVTAPE_DETAIL_INSTANTIATE_SGD)
