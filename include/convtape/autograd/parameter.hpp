// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// `Parameter<S>`, a trainable tensor and its gradient, where layers, tapes and optimizers meet;
/// `ParameterRef<S>`, the handle through which tapes and optimizers refer to one; and
/// `parameters(model, ...)`, which gathers the refs of a whole model for one optimizer.

#include <iterator>
#include <limits>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

namespace detail {

/// Names `S` if gradients can be taken in it; stops compilation with a sentence otherwise. Every
/// autograd, layer and optimizer class names it, so the sentence is the first error a user sees.
template <class S>
struct Differentiable {
  static_assert(!std::numeric_limits<S>::is_integer,
                "convtape: gradients need a floating-point scalar type (float, double, ...); an "
                "integer Tape, Var, Parameter, layer or optimizer cannot hold them. Use float or "
                "double, converting integer data with Tensor::cast<double>().");
  using type = S;
};

}  // namespace detail

template <class S>
struct Parameter;
template <class S>
class ParameterRef;

namespace detail {

/// Where one parameter lives now, shared by the parameter and every `ParameterRef` to it: a move
/// re-points it, destruction clears it.
template <class S>
struct ParameterSlot {
  Parameter<S>* where = nullptr;
};

}  // namespace detail

/// A trainable tensor and its gradient, owned by a layer (or by you) and outliving the tapes it is
/// used on. `tape.parameter(p)` records it on a tape; every `backward` through that tape adds into
/// `grad`, which keeps accumulating until `zero_grad()`, as in PyTorch.
///
/// Optimizers and tapes refer to a parameter through a `ParameterRef`, which follows it when it
/// moves (a layer in a growing `std::vector`) and knows when it is gone: a step or a `backward`
/// over a destroyed parameter throws `shape_error` instead of writing through a dangling pointer.
/// A copy is a new parameter (refs keep referring to the original); a move takes the parameter's
/// identity with it (refs now refer to the move's target, and refs to the parameter a
/// move-assignment overwrote refer to nothing). To change a parameter's tensor in place, assign
/// to `value`.
template <class S>
struct Parameter {
  /// The scalar type, `S` (a floating-point type: integers stop compilation with a sentence).
  using Scalar = typename detail::Differentiable<S>::type;

  Tensor<S> value;  ///< the trainable tensor, e.g. a layer's weight
  Tensor<S> grad;   ///< the accumulated gradient, shaped like `value`

  /// An empty parameter (shape (0, 0, 0, 0)).
  Parameter() = default;
  /// A parameter holding `initial`, with a zero gradient of the same shape.
  explicit Parameter(Tensor<S> initial) : value(std::move(initial)), grad(value.shape()) {}

  /// A new parameter with a copy of `other`'s value and gradient; refs to `other` stay with it.
  Parameter(const Parameter& other) : value(other.value), grad(other.grad) {}
  /// Takes over `other`: its tensors, and the refs to it, which now refer to this parameter.
  Parameter(Parameter&& other) noexcept
      : value(std::move(other.value)), grad(std::move(other.grad)), slot_(std::move(other.slot_)) {
    if (slot_) slot_->where = this;
  }
  /// Copies `other`'s value and gradient; refs to this parameter still refer to it.
  Parameter& operator=(const Parameter& other) {
    value = other.value;
    grad = other.grad;
    return *this;
  }
  /// Takes over `other` as the move constructor does; refs to the parameter this one was before
  /// refer to nothing from now on.
  Parameter& operator=(Parameter&& other) noexcept {
    if (this != &other) {
      release();
      value = std::move(other.value);
      grad = std::move(other.grad);
      slot_ = std::move(other.slot_);
      if (slot_) slot_->where = this;
    }
    return *this;
  }
  /// Refs to this parameter refer to nothing from now on.
  ~Parameter() { release(); }

  /// Sets `grad` to zeros shaped like `value` (also after `value` was replaced by another shape).
  void zero_grad() {
    if (grad.shape() == value.shape()) {
      grad.setZero();
    } else {
      grad = Tensor<S>(value.shape());
    }
  }

 private:
  friend class ParameterRef<S>;

  void release() {
    if (slot_) slot_->where = nullptr;
  }
  /// The slot, made on the first ref, so a parameter nobody refers to costs no allocation.
  const std::shared_ptr<detail::ParameterSlot<S>>& slot() {
    if (!slot_) slot_ = std::make_shared<detail::ParameterSlot<S>>(detail::ParameterSlot<S>{this});
    return slot_;
  }

  std::shared_ptr<detail::ParameterSlot<S>> slot_;
};

/// How optimizers, tapes and `parameters()` refer to a `Parameter`: a cheap handle that follows
/// the parameter when it is moved and reports when it is gone, where a raw pointer would dangle.
/// Made implicitly from a `Parameter<S>&` or a `Parameter<S>*`, so `SGD<S>({&w, &b}, lr)` and
/// `SGD<S>({w, b}, lr)` both work.
template <class S>
class ParameterRef {
 public:
  /// The scalar type, `S`.
  using Scalar = typename detail::Differentiable<S>::type;

  /// Refers to no parameter (`empty()`).
  ParameterRef() = default;
  /// Refers to `p`, wherever it moves. (Implicit: any parameter list takes parameters.)
  ParameterRef(Parameter<S>& p) : slot_(p.slot()) {}  // NOLINT(google-explicit-constructor)
  /// Refers to `*p`; to nothing (`empty()`) if `p` is null. (Implicit, like the reference.)
  ParameterRef(Parameter<S>* p)  // NOLINT(google-explicit-constructor)
      : slot_(p != nullptr ? p->slot() : nullptr) {}

  /// Whether this ref was made from no parameter (a null pointer, or default-constructed).
  bool empty() const { return slot_ == nullptr; }
  /// The parameter where it lives now, or null if it was destroyed (or move-assigned over), or
  /// if the ref is empty.
  Parameter<S>* get() const { return slot_ != nullptr ? slot_->where : nullptr; }

  ///@{
  /// Whether the ref refers to the parameter at `p` (now).
  friend bool operator==(const ParameterRef& r, const Parameter<S>* p) { return r.get() == p; }
  friend bool operator==(const Parameter<S>* p, const ParameterRef& r) { return r.get() == p; }
  friend bool operator!=(const ParameterRef& r, const Parameter<S>* p) { return r.get() != p; }
  friend bool operator!=(const Parameter<S>* p, const ParameterRef& r) { return r.get() != p; }
  ///@}

 private:
  std::shared_ptr<detail::ParameterSlot<S>> slot_;
};

namespace detail {

template <class T, class = void>
struct has_parameters : std::false_type {};
template <class T>
struct has_parameters<T, std::void_t<decltype(std::declval<T&>().parameters())>> : std::true_type {
};

template <class T, class = void>
struct is_range : std::false_type {};
template <class T>
struct is_range<T, std::void_t<decltype(std::begin(std::declval<T&>())),
                               decltype(std::end(std::declval<T&>()))>> : std::true_type {};

/// The scalar type of the parameters of `T`: a parameter, a pointer to or ref of one, an object
/// with `.parameters()`, or a range of any of these.
template <class T, class = void>
struct parameters_scalar {};
template <class S>
struct parameters_scalar<Parameter<S>> {
  using type = S;
};
template <class S>
struct parameters_scalar<Parameter<S>*> {
  using type = S;
};
template <class S>
struct parameters_scalar<ParameterRef<S>> {
  using type = S;
};
template <class T>
struct parameters_scalar<T, std::enable_if_t<has_parameters<T>::value>>
    : parameters_scalar<std::decay_t<decltype(*std::begin(std::declval<T&>().parameters()))>> {};
template <class T>
struct parameters_scalar<T, std::enable_if_t<!has_parameters<T>::value && is_range<T>::value>>
    : parameters_scalar<std::decay_t<decltype(*std::begin(std::declval<T&>()))>> {};

/// Appends the refs of `item`: a parameter, a pointer to or ref of one, an object with
/// `.parameters()`, or a range of any of these.
template <class S, class T>
void gather_parameters(std::vector<ParameterRef<S>>& out, T& item) {
  using U = std::remove_const_t<T>;
  if constexpr (std::is_same_v<U, Parameter<S>> || std::is_same_v<U, Parameter<S>*> ||
                std::is_same_v<U, ParameterRef<S>>) {
    out.emplace_back(item);
  } else if constexpr (has_parameters<T>::value) {
    for (auto&& p : item.parameters()) gather_parameters(out, p);
  } else {
    for (auto& element : item) gather_parameters(out, element);
  }
}

}  // namespace detail

/// The parameters of a whole model, in argument order, for one optimizer:
/// `SGD<float> sgd(convtape::parameters(conv1, conv2, fc), 0.1f)`. Each argument is a layer or
/// any object with a `parameters()` member (your own model struct), a `Parameter`, or a container
/// of these (`std::vector<Conv2D<float>>`). Inside a model's own `parameters()` member, call it
/// qualified: `return convtape::parameters(conv, fc);`.
template <class First, class... Rest>
std::vector<ParameterRef<typename detail::parameters_scalar<std::decay_t<First>>::type>> parameters(
    First&& first, Rest&&... rest) {
  using S = typename detail::parameters_scalar<std::decay_t<First>>::type;
  static_assert(
      (std::is_same_v<typename detail::parameters_scalar<std::decay_t<Rest>>::type, S> && ...),
      "convtape: parameters(a, b, ...) needs the parameters of every argument in the same scalar "
      "type; one optimizer updates one scalar type.");
  std::vector<ParameterRef<S>> out;
  detail::gather_parameters(out, first);
  (detail::gather_parameters(out, rest), ...);
  return out;
}

}  // namespace convtape
