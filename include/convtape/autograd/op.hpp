// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// The extension point of the tape: `Op<S>` records one differentiable function (its value, its
/// operands and its gradient rule), and `GradContext<S>` is what the rule sees during `backward`.
/// Every function of `ops.hpp` is written with them, and so can yours; `tensor_from_flat` builds a
/// result from an Eigen expression.

#include <cstddef>
#include <initializer_list>
#include <memory>
#include <utility>

#include "convtape/autograd/tape.hpp"
#include "convtape/core.hpp"
#include "convtape/detail/tape_storage.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// A tensor of shape `shape` holding the flat (NCHW-order) vector expression `flat`.
template <class S, class Derived>
Tensor<S> tensor_from_flat(const Shape4& shape, const Eigen::MatrixBase<Derived>& flat) {
  Tensor<S> t = detail::uninitialized_tensor<S>(shape);  // every element is assigned below
  CONVTAPE_ASSERT(flat.size() == t.size());
  t.flat() = flat;
  return t;
}

/// What a gradient rule sees during `backward`: the gradient of its result, the values of its
/// operands and result, and a way to add to each operand's gradient.
template <class S>
class GradContext {
 public:
  /// d(loss)/d(result), shaped like the result.
  const Tensor<S>& grad_output() const { return pass_.grad(index_); }
  /// The result's value.
  const Tensor<S>& output() const { return node().value; }
  /// The value of operand `i` (in the order given to `Op`).
  const Tensor<S>& input(std::size_t i) const { return operand(i).value; }
  /// Whether operand `i` wants a gradient; `add_grad` does nothing for one that does not.
  bool needs_grad(std::size_t i) const { return operand(i).requires_grad; }

  /// Adds `flat` (an Eigen vector expression, with as many elements as operand `i`, in NCHW
  /// order) to operand `i`'s gradient. Lazy expressions are not evaluated when no gradient is
  /// needed. @throws shape_error if the size is wrong (a bug in the rule).
  template <class Derived>
  void add_grad(std::size_t i, const Eigen::MatrixBase<Derived>& flat) {
    if (!needs_grad(i)) return;
    const Tensor<S>& in = input(i);
    if (flat.size() != in.size()) detail::fail_grad_size(i, flat.size(), in.shape());
    const Index j = input_index(i);
    if (pass_.was_reached(j)) {
      pass_.grad(j).flat() += flat;
    } else {
      pass_.grad(j) = tensor_from_flat<S>(in.shape(), flat);
      pass_.reached[static_cast<std::size_t>(j)] = 1;
    }
  }

  /// Adds a whole tensor shaped like operand `i` to its gradient (moved in when it is the first).
  /// @throws shape_error if the shape is wrong (a bug in the rule).
  void add_grad(std::size_t i, Tensor<S>&& grad) {
    if (!needs_grad(i)) return;
    if (grad.shape() != input(i).shape()) {
      detail::fail_grad_shape(i, grad.shape(), input(i).shape());
    }
    const Index j = input_index(i);
    if (pass_.was_reached(j)) {
      pass_.grad(j).flat() += grad.flat();
    } else {
      pass_.grad(j) = std::move(grad);
      pass_.reached[static_cast<std::size_t>(j)] = 1;
    }
  }

 private:
  friend struct detail::TapeAccess;

  GradContext(detail::TapeState<S>& tape, Index index, detail::PassGradients<S>& pass)
      : tape_(tape), index_(index), pass_(pass) {}

  const detail::Node<S>& node() const { return tape_.node(index_); }
  Index input_index(std::size_t i) const {
    CONVTAPE_ASSERT(i < node().inputs.size());
    return node().inputs[i];
  }
  const detail::Node<S>& operand(std::size_t i) const { return tape_.node(input_index(i)); }

  detail::TapeState<S>& tape_;
  Index index_;
  detail::PassGradients<S>& pass_;
};

/// Records one differentiable function on the tape of its operands: the building block of every
/// function in `ops.hpp`, and the way to add your own. Construct it (which checks the operands),
/// compute the value from `input(i)`, then `record` the value with its gradient rule:
///
///     template <class S>
///     Var<S> cube(const Var<S>& x) {
///       Op<S> op("cube", {x});
///       const auto v = op.input(0).flat().array();  // a view of x's value
///       return op.record(tensor_from_flat<S>(x.shape(), v.cube().matrix()),
///                        [](GradContext<S>& g) {  // d/dx x^3 = 3 x^2
///                          const auto xs = g.input(0).flat().array();
///                          const auto dy = g.grad_output().flat().array();
///                          g.add_grad(0, (3 * xs.square() * dy).matrix());
///                        });
///     }
///
/// Check new rules with `gradcheck`.
template <class S>
class Op {
 public:
  /// Starts recording function `name` (used in error messages) of `operands`.
  /// @throws shape_error if an operand is empty, its tape is gone, or the operands are on
  ///   different tapes.
  Op(const char* name, std::initializer_list<Var<S>> operands)
      : name_(name), inputs_(operands.size()) {
    int i = 0;
    for (const Var<S>& v : operands) {
      std::shared_ptr<detail::TapeState<S>> t = detail::TapeAccess::lock(v, name, i);
      if (!tape_) {
        tape_ = std::move(t);
      } else if (t != tape_) {
        detail::fail_other_tape(name, i);
      }
      inputs_[static_cast<std::size_t>(i)] = detail::TapeAccess::index(v);
      ++i;
    }
    CONVTAPE_ASSERT(tape_);
  }

  /// The function's name, for error messages.
  const char* name() const { return name_; }
  /// The value of operand `i`.
  const Tensor<S>& input(std::size_t i) const {
    CONVTAPE_ASSERT(i < inputs_.size());
    return tape_->node(inputs_[i]).value;
  }

  /// Appends the result `value` with its gradient rule, a callable `void(GradContext<S>&)`, and
  /// returns its var. The rule is kept only when the result requires a gradient: some operand
  /// does, and no `NoGrad` guard is alive. Call once.
  template <class Rule>
  Var<S> record(Tensor<S> value, Rule&& rule) {
    bool requires_grad = false;
    if (detail::no_grad_depth() == 0) {
      for (Index j : inputs_) requires_grad |= tape_->node(j).requires_grad;
    }
    detail::Node<S>& n = tape_->nodes.emplace_back();
    n.value = std::move(value);
    n.requires_grad = requires_grad;
    if (requires_grad) {
      n.inputs = std::move(inputs_);
      n.rule = std::forward<Rule>(rule);
    }
    return detail::TapeAccess::make(tape_, static_cast<Index>(tape_->nodes.size()) - 1);
  }

 private:
  const char* name_;
  std::shared_ptr<detail::TapeState<S>> tape_;
  detail::OperandList inputs_;
};

}  // namespace convtape
