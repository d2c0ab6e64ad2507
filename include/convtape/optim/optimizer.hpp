// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// `Optimizer<S>`: what every optimizer shares (the parameter list, `zero_grad`, the learning
/// rate, the checks before a step), and the base class of your own.

#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "convtape/autograd/parameter.hpp"
#include "convtape/core.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

namespace detail {

/// Throws unless `value` is finite and at least `min`, naming the optimizer and the argument.
template <class S>
void check_hyperparameter(const char* fn, const char* name, S value, S min) {
  if (!(std::isfinite(value) && value >= min)) {
    std::ostringstream os;
    os << name << " must be finite and at least " << min << ", got " << value;
    fail(fn, os.str());
  }
}

/// Throws `NAME::METHOD: parameter I WHAT`.
[[noreturn]] inline void fail_parameter(const char* name, const char* method, std::size_t i,
                                        const std::string& what) {
  fail((std::string(name) + "::" + method).c_str(), "parameter " + std::to_string(i) + " " + what);
}

}  // namespace detail

/// The base of `SGD` and `Adam`, and of your own optimizer: it holds the parameters (as
/// `ParameterRef`s, so layers may move, e.g. in a growing `std::vector`, without invalidating
/// it), the learning rate, and `zero_grad`. A subclass implements `step()`, calling `check_step`
/// first and then updating `parameter(i)` for each i:
///
///     template <class S>
///     class SignSGD : public convtape::Optimizer<S> {
///      public:
///       SignSGD(std::vector<convtape::ParameterRef<S>> params, S lr)
///           : convtape::Optimizer<S>("SignSGD", std::move(params), lr) {}
///       void step() override {
///         this->check_step();
///         for (std::size_t i = 0; i < this->parameters().size(); ++i) {
///           convtape::Parameter<S>& p = this->parameter(i);
///           p.value.flat().array() -= this->lr() * p.grad.flat().array().sign();
///         }
///       }
///     };
///
/// `step` and `zero_grad` throw `shape_error` naming the optimizer and the parameter's index if a
/// parameter no longer exists (its layer was destroyed, or another `Parameter` was move-assigned
/// over it), instead of writing through a dangling pointer.
template <class S>
class Optimizer {
 public:
  /// The scalar type, `S` (a floating-point type: integers stop compilation with a sentence).
  using Scalar = typename detail::Differentiable<S>::type;

  virtual ~Optimizer() = default;

  /// One update of every parameter from its current gradient.
  virtual void step() = 0;

  /// Sets every parameter's gradient to zero (`Parameter::zero_grad`).
  /// @throws shape_error, before changing any gradient, if a parameter no longer exists.
  void zero_grad() {
    for (std::size_t i = 0; i < params_.size(); ++i) check_exists("zero_grad", i);
    for (const ParameterRef<S>& p : params_) p.get()->zero_grad();
  }

  /// The parameters this optimizer updates, in the order it was given them.
  const std::vector<ParameterRef<S>>& parameters() const { return params_; }

  /// The learning rate.
  S lr() const { return lr_; }
  /// Sets the learning rate, for schedules. @throws shape_error if negative or not finite.
  void set_lr(S lr) {
    detail::check_hyperparameter(name_, "lr", lr, S(0));
    lr_ = lr;
  }

  /// The optimizer's name, as its messages give it (`"SGD"`, `"Adam"`).
  const char* name() const { return name_; }

 protected:
  /// An optimizer called `name` (in error messages) of `params` with learning rate `lr`.
  /// @throws shape_error if `params` is empty or holds an empty ref (a null pointer), or `lr` is
  ///   negative or not finite.
  Optimizer(const char* name, std::vector<ParameterRef<S>> params, S lr)
      : name_(name), params_(std::move(params)) {
    if (params_.empty()) detail::fail(name_, "got an empty parameter list");
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (params_[i].empty()) detail::fail(name_, "parameter " + std::to_string(i) + " is null");
    }
    set_lr(lr);
  }
  ///@{
  /// Copyable and movable by subclasses only (no slicing through the base).
  Optimizer(const Optimizer&) = default;
  Optimizer(Optimizer&&) noexcept = default;
  Optimizer& operator=(const Optimizer&) = default;
  Optimizer& operator=(Optimizer&&) noexcept = default;
  ///@}

  /// Checks, before a step modifies anything, that every parameter still exists and has a
  /// gradient shaped like its value, and that every per-parameter state tensor in `state` (one
  /// list per kind of state, e.g. momentum buffers, empty before the first step) is still shaped
  /// like its parameter. @throws shape_error naming the step and the parameter otherwise.
  void check_step(std::initializer_list<const std::vector<Tensor<S>>*> state = {}) const {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      const Parameter<S>& p = check_exists("step", i);
      if (p.grad.shape() != p.value.shape()) {
        detail::fail_parameter(name_, "step", i,
                               "has value " + detail::shape_str(p.value.shape()) + " but grad " +
                                   detail::shape_str(p.grad.shape()));
      }
      for (const std::vector<Tensor<S>>* tensors : state) {
        if (!tensors->empty() && (*tensors)[i].shape() != p.value.shape()) {
          detail::fail_parameter(name_, "step", i,
                                 "changed shape from " + detail::shape_str((*tensors)[i].shape()) +
                                     " to " + detail::shape_str(p.value.shape()) +
                                     " since the last step");
        }
      }
    }
  }

  /// Parameter `i` where it lives now; call after `check_step`, which checks that it exists.
  Parameter<S>& parameter(std::size_t i) const {
    Parameter<S>* p = params_[i].get();
    CONVTAPE_ASSERT(p != nullptr);
    return *p;
  }

 private:
  const Parameter<S>& check_exists(const char* method, std::size_t i) const {
    const Parameter<S>* p = params_[i].get();
    if (p == nullptr) {
      detail::fail_parameter(name_, method, i,
                             "no longer exists (its layer was destroyed, or another Parameter "
                             "was move-assigned over it); keep layers alive while an optimizer "
                             "refers to them, or assign to .value to replace a tensor");
    }
    return *p;
  }

  const char* name_;
  std::vector<ParameterRef<S>> params_;
  S lr_ = 0;
};

}  // namespace convtape

/// `Optimizer`'s explicit instantiation for scalar S, after `prefix` (`template` or
/// `extern template`): see convtape/instantiate.hpp.
#define CONVTAPE_DETAIL_INSTANTIATE_OPTIMIZER(prefix, S) prefix class convtape::Optimizer<S>;
CONVTAPE_DETAIL_EXTERN(CONVTAPE_DETAIL_INSTANTIATE_OPTIMIZER)
