// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// What every optimizer shares: the parameter list, zero_grad, the learning rate, and the checks
// that run before a step modifies anything. Not for direct inclusion.

#include <cmath>
#include <initializer_list>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "convtape/autograd/tape.hpp"
#include "convtape/core.hpp"
#include "convtape/tensor.hpp"

namespace convtape::detail {

/// Throws unless `value` is finite and at least `min`, naming the optimizer and the argument.
template <class S>
void check_hyperparameter(const char* fn, const char* name, S value, S min) {
  if (!(std::isfinite(value) && value >= min)) {
    std::ostringstream os;
    os << name << " must be finite and at least " << min << ", got " << value;
    fail(fn, os.str());
  }
}

/// Throws `NAME::step: parameter I WHAT`.
[[noreturn]] inline void fail_step(const char* name, std::size_t i, const std::string& what) {
  fail((std::string(name) + "::step").c_str(), "parameter " + std::to_string(i) + " " + what);
}

template <class S>
class OptimizerBase {
 public:
  using Scalar = typename Differentiable<S>::type;

  /// Sets every parameter's gradient to zero.
  void zero_grad() {
    for (Parameter<S>* p : params_) p->zero_grad();
  }

  /// The parameters this optimizer updates.
  const std::vector<Parameter<S>*>& parameters() const { return params_; }

  /// The learning rate, and a setter for schedules. @throws shape_error if negative or not finite.
  S lr() const { return lr_; }
  void set_lr(S lr) {
    check_hyperparameter(name_, "lr", lr, S(0));
    lr_ = lr;
  }

 protected:
  OptimizerBase(const char* name, std::vector<Parameter<S>*> params, S lr)
      : name_(name), params_(std::move(params)) {
    if (params_.empty()) fail(name_, "got an empty parameter list");
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (params_[i] == nullptr) fail(name_, "parameter " + std::to_string(i) + " is null");
    }
    set_lr(lr);
  }

  /// Before a step: every gradient is shaped like its value, and every per-parameter state tensor
  /// in `state` (one list per kind of state, empty before the first step) is too.
  void check_step(std::initializer_list<const std::vector<Tensor<S>>*> state) const {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const Parameter<S>& p = *params_[i];
      if (p.grad.shape() != p.value.shape()) {
        fail_step(
            name_, i,
            "has value " + shape_str(p.value.shape()) + " but grad " + shape_str(p.grad.shape()));
      }
      for (const std::vector<Tensor<S>>* tensors : state) {
        if (!tensors->empty() && (*tensors)[i].shape() != p.value.shape()) {
          fail_step(name_, i,
                    "changed shape from " + shape_str((*tensors)[i].shape()) + " to " +
                        shape_str(p.value.shape()) + " since the last step");
        }
      }
    }
  }

  const char* name_;
  std::vector<Parameter<S>*> params_;
  S lr_ = 0;
};

}  // namespace convtape::detail
