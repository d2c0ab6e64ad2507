// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// The reverse-mode tape. `Tape<S>` records one computation as a list of tensor-valued nodes,
/// `Var<S>` is a cheap handle to one node, and `backward` walks a tape once in reverse, adding
/// into the `Parameter`s (`parameter.hpp`) recorded on it. How each function records itself and
/// states its gradient rule, and how you add your own, is `Op<S>` and `GradContext<S>` in
/// `op.hpp`; the node storage is `detail/tape_storage.hpp`.
///
/// Memory model. A `Tape` is a handle to one recording: copies share it, like `std::shared_ptr`,
/// and the recording (every node's value and gradient) is freed when the last `Tape` handle goes
/// away, typically at the end of one training iteration. Vars hold only a weak reference, so a var
/// used after its tape is gone throws `shape_error` instead of reading freed memory, and a var kept
/// past its iteration cannot silently keep a whole tape alive.
///
/// Nodes are appended in creation order, which is already topological (every operand exists
/// before its result), so `backward` is one iterative reverse walk: no sort, no recursion, any
/// depth. A tape is not thread-safe; use one tape per thread.

#include <memory>
#include <ostream>
#include <string>
#include <utility>

#include "convtape/autograd/parameter.hpp"
#include "convtape/core.hpp"
#include "convtape/detail/tape_storage.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// While an object of this type is alive on a thread, differentiable functions on that thread
/// record values only: their results require no gradient, so nothing flows back through them
/// (PyTorch's `torch.no_grad()`). Leaves (`variable`, `parameter`) are unaffected. Useful to
/// evaluate var-based model code without gradient bookkeeping; plain tensor calls such as
/// `conv(tensor)` need no tape at all. Guards nest.
class NoGrad {
 public:
  NoGrad() { ++detail::no_grad_depth(); }
  ~NoGrad() { --detail::no_grad_depth(); }
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

  /// Whether a guard is alive on this thread.
  static bool active() { return detail::no_grad_depth() > 0; }
};

/// A handle to one tensor-valued node of a tape: copying it is cheap and never copies data.
/// Obtained from `Tape::constant`, `Tape::variable`, `Tape::parameter`, or any differentiable
/// function of vars. Every accessor throws `shape_error` if the var is empty (default-constructed)
/// or its tape is gone.
template <class S>
class Var {
 public:
  /// The scalar type, `S` (a floating-point type: integers stop compilation with a sentence).
  using Scalar = typename detail::Differentiable<S>::type;

  /// An empty handle, to be assigned from a tape before use.
  Var() = default;

  /// The value; the reference is valid while the tape lives.
  const Tensor<S>& value() const { return node("Var::value").value; }
  /// Shape of the value.
  const Shape4& shape() const { return value().shape(); }
  /// The single element of a one-element var, e.g. a loss (PyTorch's `item()`).
  /// @throws shape_error if the var has another number of elements.
  S item() const {
    const Tensor<S>& v = value();
    if (v.size() != 1) {
      detail::fail("Var::item",
                   "needs a one-element var, got shape " + detail::shape_str(v.shape()));
    }
    return v.data()[0];
  }
  /// Whether gradients flow to this var: it depends on a variable or parameter and was not
  /// computed under `NoGrad`.
  bool requires_grad() const { return node("Var::requires_grad").requires_grad; }
  /// d(loss)/d(this var), summed over the backward passes run on its tape so far; zeros if the
  /// loss did not depend on it. Shaped like the value; valid while the tape lives.
  /// @throws shape_error if the var requires no gradient or no backward pass has run over it.
  const Tensor<S>& grad() const {
    const detail::Node<S>& n = node("Var::grad");
    if (!n.requires_grad) {
      detail::fail("Var::grad",
                   "this var requires no gradient (it was computed from constants only, or under "
                   "NoGrad)");
    }
    if (!n.has_grad) detail::fail("Var::grad", "no gradient yet: run backward on a loss first");
    return n.grad;
  }
  /// The tape this var is recorded on (a handle sharing it).
  Tape<S> tape() const;

  /// Prints `Var (n, c, h, w)`, `, requires_grad` if it does, then the value's planes as a
  /// `Tensor` prints them. An empty var, or one whose tape is gone, prints as such (no throw).
  friend std::ostream& operator<<(std::ostream& os, const Var& v) {
    if (v.index_ < 0) return os << "Var (empty)";
    const std::shared_ptr<detail::TapeState<S>> tape = v.tape_.lock();
    if (!tape) return os << "Var (its tape is gone)";
    const detail::Node<S>& n = tape->node(v.index_);
    os << "Var " << n.value.shape();
    if (n.requires_grad) os << ", requires_grad";
    n.value.print_planes(os);
    return os;
  }

 private:
  friend struct detail::TapeAccess;

  Var(const std::shared_ptr<detail::TapeState<S>>& tape, Index index)
      : tape_(tape), index_(index) {}

  /// The tape, or a throw naming `fn` and the var: operand `operand`, or "the var" if negative.
  /// Messages are built only on failure; this runs for every operand of every function.
  std::shared_ptr<detail::TapeState<S>> lock(const char* fn, int operand = -1) const {
    auto what = [operand] {
      return operand < 0 ? std::string("the var") : "operand " + std::to_string(operand);
    };
    if (index_ < 0) {
      detail::fail(fn,
                   what() + " is an empty Var (default-constructed); assign it from a tape first");
    }
    std::shared_ptr<detail::TapeState<S>> tape = tape_.lock();
    if (!tape) {
      detail::fail(fn, what() +
                           " belongs to a Tape that no longer exists; keep the Tape alive while "
                           "its vars are used");
    }
    return tape;
  }

  detail::Node<S>& node(const char* fn) const {
    // The tape is kept alive by its owner, not by this temporary, so the reference stays valid.
    return lock(fn)->node(index_);
  }

  std::weak_ptr<detail::TapeState<S>> tape_;
  Index index_ = -1;
};

namespace detail {

/// The internals of Var, Tape and GradContext that Op and backward need, kept off the public
/// interface.
struct TapeAccess {
  template <class S>
  static GradContext<S> context(TapeState<S>& tape, Index index, PassGradients<S>& pass) {
    return GradContext<S>(tape, index, pass);
  }
  template <class S>
  static Var<S> make(const std::shared_ptr<TapeState<S>>& tape, Index index) {
    return Var<S>(tape, index);
  }
  template <class S>
  static std::shared_ptr<TapeState<S>> lock(const Var<S>& v, const char* fn, int operand = -1) {
    return v.lock(fn, operand);
  }
  template <class S>
  static Index index(const Var<S>& v) {
    return v.index_;
  }
  template <class S>
  static Tape<S> tape(std::shared_ptr<TapeState<S>> state) {
    return Tape<S>(std::move(state));
  }
};

}  // namespace detail

/// Records one computation for reverse-mode differentiation. Make one per training iteration:
///
///     convtape::Tape<double> tape;
///     auto l = convtape::squared_loss(conv(tape.constant(X)), tape.constant(Y));
///     convtape::backward(convtape::sum(l));
///
/// A `Tape` is a handle: copies refer to the same recording, which is freed when the last handle
/// goes away (see the file comment). Vars from different tapes cannot be mixed.
template <class S>
class Tape {
 public:
  /// The scalar type, `S` (a floating-point type: integers stop compilation with a sentence).
  using Scalar = typename detail::Differentiable<S>::type;

  /// A new, empty recording.
  Tape() : state_(std::make_shared<detail::TapeState<S>>()) {}
  ///@{
  /// Another handle to the same recording (no copy of it). Copy only, no move, so that a `Tape`
  /// always refers to a recording.
  Tape(const Tape&) = default;
  Tape& operator=(const Tape&) = default;
  ///@}
  ~Tape() = default;

  /// A value that needs no gradient (inputs, targets). Pass an rvalue to avoid a copy.
  Var<S> constant(Tensor<S> value) { return leaf(std::move(value), false, {}); }
  /// A leaf whose gradient `backward` computes; read it with `v.grad()`.
  Var<S> variable(Tensor<S> value) { return leaf(std::move(value), true, {}); }
  /// `p.value` as a leaf whose gradient `backward` adds into `p.grad`. The value is copied onto
  /// the tape, so changing `p.value` (an optimizer step) before `backward` cannot corrupt the
  /// gradients. The tape refers to `p` by a `ParameterRef`: `p` may move before `backward` (the
  /// gradient follows it), and if it is destroyed, `backward` throws.
  /// @throws shape_error if `p.grad` is not shaped like `p.value`.
  Var<S> parameter(Parameter<S>& p) {
    if (p.grad.shape() != p.value.shape()) {
      detail::fail("Tape::parameter",
                   "the parameter's grad has shape " + detail::shape_str(p.grad.shape()) +
                       " but its value has " + detail::shape_str(p.value.shape()) +
                       "; call zero_grad() after replacing the value");
    }
    return leaf(p.value, true, ParameterRef<S>(p));
  }

  /// Number of nodes recorded so far.
  Index size() const { return static_cast<Index>(state_->nodes.size()); }

  ///@{
  /// Whether two handles refer to the same recording.
  friend bool operator==(const Tape& a, const Tape& b) { return a.state_ == b.state_; }
  friend bool operator!=(const Tape& a, const Tape& b) { return !(a == b); }
  ///@}

 private:
  friend struct detail::TapeAccess;

  explicit Tape(std::shared_ptr<detail::TapeState<S>> state) : state_(std::move(state)) {}

  Var<S> leaf(Tensor<S> value, bool requires_grad, ParameterRef<S> parameter) {
    detail::Node<S>& n = state_->nodes.emplace_back();
    n.value = std::move(value);
    n.requires_grad = requires_grad;
    n.parameter = std::move(parameter);
    return detail::TapeAccess::make(state_, size() - 1);
  }

  std::shared_ptr<detail::TapeState<S>> state_;
};

template <class S>
Tape<S> Var<S>::tape() const {
  return detail::TapeAccess::tape(lock("Var::tape"));
}

namespace detail {

/// Before a backward pass changes anything: the tape is not used up, the root requires a
/// gradient, and every parameter recorded up to the root still has a grad shaped like the value
/// it was recorded with. So a throw leaves every gradient as it was.
template <class S>
void check_backward(const TapeState<S>& t, Index root, const char* fn) {
  if (t.consumed) {
    fail(fn,
         "this tape was already used by a backward pass; record a new Tape for each iteration, "
         "or pass retain_tape = true to every backward on it but the last");
  }
  if (!t.node(root).requires_grad) {
    fail(fn,
         "the var depends on no variable or parameter (it was computed from constants only, or "
         "under NoGrad), so there is nothing to differentiate");
  }
  for (Index i = 0; i <= root; ++i) {
    const Node<S>& n = t.node(i);
    if (n.parameter.empty()) continue;
    const Parameter<S>* p = n.parameter.get();
    if (p == nullptr) {
      fail(fn,
           "a parameter recorded on this tape no longer exists (its layer was destroyed, or "
           "another Parameter was move-assigned over it); keep layers alive until backward");
    }
    if (p->grad.shape() != n.value.shape()) {
      fail(fn, "a parameter's grad has shape " + shape_str(p->grad.shape()) +
                   " but it was recorded with shape " + shape_str(n.value.shape()));
    }
  }
}

/// After every rule has run, makes the pass's gradients visible: each node that requires one adds
/// its gradient (zeros if the root does not depend on it) into `grad`, and a parameter leaf also
/// into `param.grad`. The zeros are allocated first, so that not even a bad_alloc can leave some
/// gradients updated and others not; nothing after that allocates.
template <class S>
void publish_gradients(TapeState<S>& t, Index root, PassGradients<S>& pass) {
  for (Index i = 0; i <= root; ++i) {
    const Node<S>& n = t.node(i);
    if (n.requires_grad && !n.has_grad && !pass.was_reached(i)) {
      pass.grad(i) = Tensor<S>(n.value.shape());
    }
  }
  for (Index i = 0; i <= root; ++i) {
    Node<S>& n = t.node(i);
    if (!n.requires_grad) continue;
    Tensor<S>& g = pass.grad(i);
    if (!pass.was_reached(i)) {
      if (!n.has_grad) n.grad = std::move(g);
    } else {
      if (Parameter<S>* p = n.parameter.get()) p->grad.flat() += g.flat();
      if (n.has_grad) {
        n.grad.flat() += g.flat();
      } else {
        n.grad = std::move(g);
      }
    }
    n.has_grad = true;
  }
}

/// The reverse walk shared by both `backward` overloads; `seed` is d(loss)/d(root). Every operand
/// has a smaller index than its result, so when the walk reaches a node, every node that used it
/// has run: its gradient is complete, and its rule can pass it on.
template <class S>
void backward_from(const Var<S>& root, Tensor<S> seed, bool retain_tape, const char* fn) {
  const std::shared_ptr<TapeState<S>> tape = TapeAccess::lock(root, fn);
  const Index last = TapeAccess::index(root);
  check_backward(*tape, last, fn);
  PassGradients<S> pass(last, std::move(seed));
  for (Index i = last; i >= 0; --i) {
    const Node<S>& n = tape->node(i);
    if (!pass.was_reached(i) || !n.rule) continue;
    GradContext<S> context = TapeAccess::context(*tape, i, pass);
    n.rule(context);
  }
  publish_gradients(*tape, last, pass);
  if (!retain_tape) tape->consumed = true;
}

}  // namespace detail

/// Backpropagates from a one-element `loss` (seed gradient 1): every var it depends on gets
/// d(loss)/d(var) in `grad()`, and every parameter recorded on its tape gets it added into
/// `param.grad`. A tape allows one backward pass unless `retain_tape` is true (then a later
/// pass adds to all gradients again, as PyTorch's `retain_graph`).
/// @throws shape_error if `loss` is empty or its tape gone, has more than one element, depends
///   on no variable or parameter, its tape was already used by a backward pass without
///   `retain_tape`, or a parameter recorded on it no longer exists (was destroyed) or its grad
///   no longer has the shape it was recorded with. Nothing is modified then.
template <class S>
void backward(const Var<S>& loss, bool retain_tape = false) {
  const Tensor<S>& value = loss.value();
  if (value.size() != 1) {
    detail::fail("backward", "the loss has shape " + detail::shape_str(value.shape()) +
                                 ", not one element; reduce it with sum or mean, or pass a seed "
                                 "gradient of that shape: backward(v, seed)");
  }
  Tensor<S> seed(value.shape());
  seed.setConstant(S(1));
  detail::backward_from(loss, std::move(seed), retain_tape, "backward");
}

/// Backpropagates from a var of any shape, given d(loss)/d(v) as `seed` (shaped like `v`).
/// @throws shape_error as `backward(loss)` (except the one-element rule), and if `seed` is not
///   shaped like `v`.
template <class S>
void backward(const Var<S>& v, Tensor<S> seed, bool retain_tape = false) {
  const Tensor<S>& value = v.value();
  if (seed.shape() != value.shape()) {
    detail::fail("backward", "the seed has shape " + detail::shape_str(seed.shape()) +
                                 " but the var has shape " + detail::shape_str(value.shape()));
  }
  detail::backward_from(v, std::move(seed), retain_tape, "backward");
}

}  // namespace convtape

// backward runs each rule with a GradContext, and Op (op.hpp) records vars on a Tape: each of
// the two headers includes the other, so either one gives the whole tape.
#include "convtape/autograd/op.hpp"  // IWYU pragma: export

/// The reverse walk's explicit instantiation for scalar S, after `prefix` (`template` or
/// `extern template`): see convtape/instantiate.hpp.
#define CONVTAPE_DETAIL_INSTANTIATE_TAPE(prefix, S)                                            \
  prefix void convtape::detail::backward_from<S>(const convtape::Var<S>&, convtape::Tensor<S>, \
                                                 bool, const char*);
CONVTAPE_DETAIL_EXTERN(CONVTAPE_DETAIL_INSTANTIATE_TAPE)
