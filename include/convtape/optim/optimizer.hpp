// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// `Optimizer<S>`: what every optimizer shares (the parameter list, `zero_grad`, the learning
/// rate, the checks before a step), and the base class of your own.

#include <algorithm>
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

/// One tensor of an optimizer's state (`Optimizer::state`), under a name in PyTorch's
/// vocabulary: `momentum_buffer.3` is parameter 3's SGD momentum buffer.
template <class S>
struct NamedTensor {
  std::string name;  ///< e.g. `exp_avg.0`, `step`
  Tensor<S> value;   ///< shaped like its parameter; (1, 1, 1, 1) for a count such as `step`
};

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

  /// The state a step reads besides the parameters and the hyperparameters (momentum buffers,
  /// moment estimates, the step count), copied, for saving with the model so that training can
  /// resume exactly: `load_state(state())` on an optimizer of the same kind over parameters of
  /// the same shapes continues bit for bit. Per-parameter tensors are named `kind.i` for
  /// parameter i (in the order of `parameters()`), shaped like it; see each optimizer for its
  /// kinds. Empty before the first step, and for an optimizer without state (this default).
  virtual std::vector<NamedTensor<S>> state() const { return {}; }

  /// Replaces the state with `state` (from `state()`, possibly saved and loaded; an empty list
  /// resets the optimizer to before its first step).
  /// @throws shape_error, before changing anything, if a name is missing, unknown or repeated,
  ///   or a tensor is not shaped like its parameter (the message names it and both shapes).
  virtual void load_state(const std::vector<NamedTensor<S>>& state) { unpack_state(state, {}, {}); }

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

  /// `state()` made of the per-parameter tensors `kinds` (each a name and one tensor per
  /// parameter, empty before the first step) and the one-value `scalars`, in that order;
  /// empty when every kind is empty.
  std::vector<NamedTensor<S>> pack_state(
      std::initializer_list<std::pair<const char*, const std::vector<Tensor<S>>*>> kinds,
      std::initializer_list<std::pair<const char*, S>> scalars = {}) const {
    std::vector<NamedTensor<S>> out;
    for (const auto& kind : kinds) {
      for (std::size_t i = 0; i < kind.second->size(); ++i) {
        out.push_back({std::string(kind.first) + "." + std::to_string(i), (*kind.second)[i]});
      }
    }
    if (out.empty()) return out;
    for (const auto& scalar : scalars) {
      Tensor<S> value(1, 1, 1, 1);
      value.data()[0] = scalar.second;
      out.push_back({scalar.first, std::move(value)});
    }
    return out;
  }

  /// What `load_state` checks and takes apart: `state` must be empty (returns empty lists and
  /// scalars 0) or hold exactly `kind.i` for every kind and parameter, shaped like parameter i,
  /// and every name of `scalars` as a (1, 1, 1, 1) tensor. Returns the tensors of each kind, in
  /// parameter order, and the scalars' values, in the order given.
  /// @throws shape_error naming `NAME::load_state` and the offending entry otherwise.
  std::pair<std::vector<std::vector<Tensor<S>>>, std::vector<S>> unpack_state(
      const std::vector<NamedTensor<S>>& state, std::initializer_list<const char*> kinds,
      std::initializer_list<const char*> scalars) const {
    const std::string fn = std::string(name_) + "::load_state";
    std::vector<std::vector<Tensor<S>>> tensors(kinds.size());
    std::vector<S> values(scalars.size(), S(0));
    if (state.empty()) return {std::move(tensors), std::move(values)};
    std::vector<std::string> expected;
    for (const char* kind : kinds) {
      for (std::size_t i = 0; i < params_.size(); ++i) {
        expected.push_back(std::string(kind) + "." + std::to_string(i));
      }
    }
    expected.insert(expected.end(), scalars.begin(), scalars.end());
    if (expected.empty()) {
      detail::fail(fn.c_str(), "this optimizer has no state, got '" + state.front().name + "'");
    }
    for (std::size_t i = 0; i < state.size(); ++i) {
      if (std::find(expected.begin(), expected.end(), state[i].name) == expected.end()) {
        detail::fail(fn.c_str(), "unknown state '" + state[i].name + "'");
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (state[j].name == state[i].name) {
          detail::fail(fn.c_str(), "state '" + state[i].name + "' is given twice");
        }
      }
    }
    const auto find = [&](const std::string& name) -> const Tensor<S>& {
      for (const NamedTensor<S>& t : state) {
        if (t.name == name) return t.value;
      }
      detail::fail(fn.c_str(), "state '" + name + "' is missing");
    };
    std::size_t k = 0;
    for (const char* kind : kinds) {
      for (std::size_t i = 0; i < params_.size(); ++i) {
        const std::string name = std::string(kind) + "." + std::to_string(i);
        const Tensor<S>& t = find(name);
        const Parameter<S>& p = check_exists("load_state", i);
        if (t.shape() != p.value.shape()) {
          detail::fail(fn.c_str(), "state '" + name + "' is " + detail::shape_str(t.shape()) +
                                       " but parameter " + std::to_string(i) + " is " +
                                       detail::shape_str(p.value.shape()));
        }
        tensors[k].push_back(t);
      }
      ++k;
    }
    k = 0;
    for (const char* scalar : scalars) {
      const Tensor<S>& t = find(scalar);
      if (t.size() != 1) {
        detail::fail(fn.c_str(), std::string("state '") + scalar + "' must hold one value, got " +
                                     detail::shape_str(t.shape()));
      }
      values[k++] = t.data()[0];
    }
    return {std::move(tensors), std::move(values)};
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
