// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// How a tape stores its recording: the nodes, their operand lists, the block store that keeps
// them in place, and the access the tape's classes grant each other. The idea of the tape is in
// autograd/tape.hpp; this is its machinery. Not for direct inclusion.

#include <array>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "convtape/autograd/parameter.hpp"  // ParameterRef, detail::Differentiable
#include "convtape/core.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

template <class S>
class Tape;
template <class S>
class Var;
template <class S>
class GradContext;

namespace detail {

/// The operand node indices of a recorded function: up to `kInline` (every function of this
/// library has at most three) stored in place, more on the heap. Recording a node then allocates
/// nothing for its operands; on the notebook's training loop, a malloc per node is a tenth of the
/// time.
class OperandList {
 public:
  static constexpr std::size_t kInline = 4;

  OperandList() = default;
  /// `n` operands, to be assigned through `operator[]`.
  explicit OperandList(std::size_t n) : size_(n) {
    if (n > kInline) heap_.resize(n);
  }
  std::size_t size() const { return size_; }
  Index& operator[](std::size_t i) { return size_ > kInline ? heap_[i] : inline_[i]; }
  Index operator[](std::size_t i) const { return size_ > kInline ? heap_[i] : inline_[i]; }
  const Index* begin() const { return size_ > kInline ? heap_.data() : inline_.data(); }
  const Index* end() const { return begin() + size_; }

 private:
  std::size_t size_ = 0;
  std::array<Index, kInline> inline_{};
  std::vector<Index> heap_;
};

/// One recorded value: a tensor, the operands it was computed from, and the rule that sends its
/// gradient back to them.
template <class S>
struct Node {
  Tensor<S> value;
  Tensor<S> grad;              ///< sum over the backward passes that ran over this node
  bool requires_grad = false;  ///< depends on a variable or parameter, not recorded under NoGrad
  bool has_grad = false;       ///< a backward pass has run over this node
  OperandList inputs;          ///< operand nodes, all earlier on the tape
  std::function<void(GradContext<S>&)> rule;  ///< empty for leaves and nodes without a gradient
  ParameterRef<S> parameter;  ///< a parameter leaf's parameter, which its gradient also goes to
};

/// The nodes of a tape, in blocks that never move, so that a reference from `Var::value()` stays
/// valid while recording goes on. The first `kFirst` nodes live in place (a tape is allocated
/// with its first block, so a short tape, such as one training step of a small model, costs one
/// allocation), the rest in heap blocks of `kBlock`.
template <class S>
class NodeStore {
 public:
  static constexpr std::size_t kFirst = 8;
  static constexpr std::size_t kBlock = 64;

  std::size_t size() const { return size_; }
  Node<S>& operator[](std::size_t i) {
    return i < kFirst ? first_[i] : blocks_[(i - kFirst) / kBlock][(i - kFirst) % kBlock];
  }
  const Node<S>& operator[](std::size_t i) const {
    return i < kFirst ? first_[i] : blocks_[(i - kFirst) / kBlock][(i - kFirst) % kBlock];
  }
  /// Appends a default node and returns it.
  Node<S>& emplace_back() {
    if (size_ >= kFirst && (size_ - kFirst) % kBlock == 0) {
      blocks_.push_back(std::make_unique<Node<S>[]>(kBlock));
    }
    return (*this)[size_++];
  }

 private:
  std::array<Node<S>, kFirst> first_;
  std::vector<std::unique_ptr<Node<S>[]>> blocks_;
  std::size_t size_ = 0;
};

/// What a `Tape` handle shares: the nodes and whether a backward pass used them up.
template <class S>
struct TapeState {
  NodeStore<S> nodes;
  bool consumed = false;  ///< a backward pass without retain_tape has run

  Node<S>& node(Index i) { return nodes[static_cast<std::size_t>(i)]; }
  const Node<S>& node(Index i) const { return nodes[static_cast<std::size_t>(i)]; }
};

/// The scratch space of one backward pass: a gradient and a "reached" flag per node up to the
/// root. A node's gradient is complete once every node after it has run its rule.
template <class S>
struct PassGradients {
  std::vector<Tensor<S>> grads;
  std::vector<char> reached;

  /// Scratch for nodes 0 .. root, the root's gradient being `seed`.
  PassGradients(Index root, Tensor<S> seed)
      : grads(static_cast<std::size_t>(root) + 1), reached(grads.size(), 0) {
    grads.back() = std::move(seed);
    reached.back() = 1;
  }
  Tensor<S>& grad(Index i) { return grads[static_cast<std::size_t>(i)]; }
  bool was_reached(Index i) const { return reached[static_cast<std::size_t>(i)] != 0; }
};

/// The internals of Var, Tape and GradContext that Op and backward need, kept off the public
/// interface. Defined in autograd/tape.hpp.
struct TapeAccess;

/// The thread's count of live `NoGrad` guards (read by `Op::record`).
inline int& no_grad_depth() {
  static thread_local int depth = 0;
  return depth;
}

// Messages built here, once, rather than in every instantiation of the templates that throw them.
[[noreturn]] inline void fail_other_tape(const char* fn, int operand) {
  fail(fn, "operand " + std::to_string(operand) +
               " is on a different tape than operand 0; every var one loss depends on must be "
               "recorded on the same Tape");
}
[[noreturn]] inline void fail_grad_size(std::size_t operand, Index size, const Shape4& shape) {
  fail("GradContext::add_grad", "gradient for operand " + std::to_string(operand) + " has " +
                                    std::to_string(size) + " elements but the operand has shape " +
                                    shape_str(shape));
}
[[noreturn]] inline void fail_grad_shape(std::size_t operand, const Shape4& got,
                                         const Shape4& shape) {
  fail("GradContext::add_grad", "gradient for operand " + std::to_string(operand) + " has shape " +
                                    shape_str(got) + " but the operand has shape " +
                                    shape_str(shape));
}

}  // namespace detail
}  // namespace convtape
