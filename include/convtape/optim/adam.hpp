// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// `Adam<S>`: the Adam optimizer, PyTorch's update rule.

#include <cmath>
#include <sstream>
#include <utility>
#include <vector>

#include "convtape/autograd/parameter.hpp"
#include "convtape/optim/optimizer.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// Adam (Kingma and Ba), as PyTorch's `torch.optim.Adam` (weight decay as an L2 term added to
/// the gradient, not decoupled as AdamW; no AMSGrad). At step t = 1, 2, ..., for each parameter
/// p with gradient g:
///
///     g = g + weight_decay * p
///     m = beta1 * m + (1 - beta1) * g           (m and v start at zero)
///     v = beta2 * v + (1 - beta2) * g^2
///     p = p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
template <class S>
class Adam : public Optimizer<S> {
 public:
  /// @throws shape_error if `params` is empty or holds an empty ref (a null pointer), lr, eps or
  /// weight_decay is
  ///   negative or not finite, or a beta is outside [0, 1).
  explicit Adam(std::vector<ParameterRef<S>> params, S lr = S(1e-3), S beta1 = S(0.9),
                S beta2 = S(0.999), S eps = S(1e-8), S weight_decay = 0)
      : Optimizer<S>("Adam", std::move(params), lr),
        beta1_(beta1),
        beta2_(beta2),
        eps_(eps),
        weight_decay_(weight_decay) {
    check_beta("beta1", beta1);
    check_beta("beta2", beta2);
    detail::check_hyperparameter("Adam", "eps", eps, S(0));
    detail::check_hyperparameter("Adam", "weight_decay", weight_decay, S(0));
  }

  /// One update of every parameter from its current gradient.
  /// @throws shape_error, before modifying anything, if a parameter no longer exists, a gradient
  ///   is not shaped like its parameter, or a parameter changed shape since the previous step.
  void step() override {
    this->check_step({&m_, &v_});
    if (m_.empty()) {
      for (std::size_t i = 0; i < this->parameters().size(); ++i) {
        m_.emplace_back(this->parameter(i).value.shape());
        v_.emplace_back(this->parameter(i).value.shape());
      }
    }
    ++t_;
    const S correction1 = S(1) - std::pow(beta1_, static_cast<S>(t_));
    const S correction2 = S(1) - std::pow(beta2_, static_cast<S>(t_));
    for (std::size_t i = 0; i < this->parameters().size(); ++i) {
      auto p = this->parameter(i).value.flat().array();
      const auto g = (this->parameter(i).grad.flat().array() + weight_decay_ * p).eval();
      auto m = m_[i].flat().array();
      auto v = v_[i].flat().array();
      m = beta1_ * m + (S(1) - beta1_) * g;
      v = beta2_ * v + (S(1) - beta2_) * g.square();
      p -= this->lr() * (m / correction1) / ((v / correction2).sqrt() + eps_);
    }
  }

  /// Steps taken so far (t in the formula).
  long long steps() const { return t_; }

  /// The moments and the step count, once a step was taken (empty before), under PyTorch's
  /// names: `exp_avg.i` (m) and `exp_avg_sq.i` (v) for parameter i, shaped like it, then `step`
  /// (t, one value of type S: exact up to 2^24 steps in `float`).
  std::vector<NamedTensor<S>> state() const override {
    return this->pack_state({{"exp_avg", &m_}, {"exp_avg_sq", &v_}},
                            {{"step", static_cast<S>(t_)}});
  }

  /// Restores the moments and the step count from `state()` (empty: as before the first step).
  /// @throws shape_error, before changing anything, if `state` is not empty and not exactly
  ///   `exp_avg.i` and `exp_avg_sq.i` for every parameter i, shaped like it, and `step`, a
  ///   whole number of at least 1.
  void load_state(const std::vector<NamedTensor<S>>& state) override {
    auto unpacked = this->unpack_state(state, {"exp_avg", "exp_avg_sq"}, {"step"});
    const S step = unpacked.second[0];
    if (!state.empty() && !(std::isfinite(step) && step >= S(1) && std::floor(step) == step)) {
      std::ostringstream os;
      os << "state 'step' must be a whole number of at least 1, got " << step;
      detail::fail("Adam::load_state", os.str());
    }
    m_ = std::move(unpacked.first[0]);
    v_ = std::move(unpacked.first[1]);
    t_ = static_cast<long long>(step);
  }

 private:
  void check_beta(const char* name, S beta) const {
    if (!(beta >= S(0) && beta < S(1))) {
      std::ostringstream os;
      os << name << " must be in [0, 1), got " << beta;
      detail::fail("Adam", os.str());
    }
  }

  S beta1_;
  S beta2_;
  S eps_;
  S weight_decay_;
  long long t_ = 0;
  std::vector<Tensor<S>> m_;  ///< first-moment estimates, one per parameter; empty until a step
  std::vector<Tensor<S>> v_;  ///< second-moment estimates
};

}  // namespace convtape

/// `Adam`'s explicit instantiation for scalar S, after `prefix` (`template` or `extern template`):
/// see convtape/instantiate.hpp.
#define CONVTAPE_DETAIL_INSTANTIATE_ADAM(prefix, S) prefix class convtape::Adam<S>;
CONVTAPE_DETAIL_EXTERN(CONVTAPE_DETAIL_INSTANTIATE_ADAM)
