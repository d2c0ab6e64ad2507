// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// The reverse-mode tape. `Tape<S>` records one computation as a list of tensor-valued nodes,
/// `Var<S>` is a cheap handle to one node, `Parameter<S>` holds a trainable tensor and the
/// gradient accumulated into it across tapes, and `backward` walks a tape once in reverse. `Op<S>`
/// and `GradContext<S>` are how every differentiable function in `ops.hpp` records itself and
/// states its gradient rule, and how you can add your own.
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

#include <array>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

template <class S>
class Tape;
template <class S>
class Var;
template <class S>
class Op;
template <class S>
class GradContext;
template <class S>
struct Parameter;

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
  Parameter<S>* parameter = nullptr;          ///< where a parameter leaf's gradient also goes
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

template <class S>
struct TapeState {
  NodeStore<S> nodes;
  bool consumed = false;  ///< a backward pass without retain_tape has run
};

struct TapeAccess;

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

/// A trainable tensor and its gradient, owned by a layer (or by you) and outliving the tapes it is
/// used on. `tape.parameter(p)` records it on a tape; every `backward` through that tape adds into
/// `grad`, which keeps accumulating until `zero_grad()`, as in PyTorch. A parameter must outlive
/// every `backward` over a tape it was recorded on.
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

  /// Sets `grad` to zeros shaped like `value` (also after `value` was replaced by another shape).
  void zero_grad() {
    if (grad.shape() == value.shape()) {
      grad.setZero();
    } else {
      grad = Tensor<S>(value.shape());
    }
  }
};

/// While an object of this type is alive on a thread, differentiable functions on that thread
/// record values only: their results require no gradient, so nothing flows back through them
/// (PyTorch's `torch.no_grad()`). Leaves (`variable`, `parameter`) are unaffected. Useful to
/// evaluate var-based model code without gradient bookkeeping; plain tensor calls such as
/// `conv(tensor)` need no tape at all. Guards nest.
class NoGrad {
 public:
  NoGrad() { ++depth(); }
  ~NoGrad() { --depth(); }
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

  /// Whether a guard is alive on this thread.
  static bool active() { return depth() > 0; }

 private:
  static int& depth() {
    static thread_local int d = 0;
    return d;
  }
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
    return lock(fn)->nodes[static_cast<std::size_t>(index_)];
  }

  std::weak_ptr<detail::TapeState<S>> tape_;
  Index index_ = -1;
};

namespace detail {

/// The internals of Var, Tape and GradContext that Op and backward need, kept off the public
/// interface.
struct TapeAccess {
  template <class S>
  static GradContext<S> context(TapeState<S>& tape, Index index, std::vector<Tensor<S>>& grads,
                                std::vector<char>& reached) {
    return GradContext<S>(tape, index, grads, reached);
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
  Var<S> constant(Tensor<S> value) { return leaf(std::move(value), false, nullptr); }
  /// A leaf whose gradient `backward` computes; read it with `v.grad()`.
  Var<S> variable(Tensor<S> value) { return leaf(std::move(value), true, nullptr); }
  /// `p.value` as a leaf whose gradient `backward` adds into `p.grad`. The value is copied onto
  /// the tape, so changing `p.value` (an optimizer step) before `backward` cannot corrupt the
  /// gradients; `p` itself must outlive every `backward` over this tape.
  /// @throws shape_error if `p.grad` is not shaped like `p.value`.
  Var<S> parameter(Parameter<S>& p) {
    if (p.grad.shape() != p.value.shape()) {
      detail::fail("Tape::parameter",
                   "the parameter's grad has shape " + detail::shape_str(p.grad.shape()) +
                       " but its value has " + detail::shape_str(p.value.shape()) +
                       "; call zero_grad() after replacing the value");
    }
    return leaf(p.value, true, &p);
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

  Var<S> leaf(Tensor<S> value, bool requires_grad, Parameter<S>* parameter) {
    detail::Node<S>& n = state_->nodes.emplace_back();
    n.value = std::move(value);
    n.requires_grad = requires_grad;
    n.parameter = parameter;
    return detail::TapeAccess::make(state_, size() - 1);
  }

  std::shared_ptr<detail::TapeState<S>> state_;
};

template <class S>
Tape<S> Var<S>::tape() const {
  return detail::TapeAccess::tape(lock("Var::tape"));
}

/// A tensor of shape `shape` holding the flat (NCHW-order) vector expression `flat`.
template <class S, class Derived>
Tensor<S> tensor_from_flat(const Shape4& shape, const Eigen::MatrixBase<Derived>& flat) {
  Tensor<S> t(shape, detail::UninitializedTag());  // every element is assigned below
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
  const Tensor<S>& grad_output() const { return grads_[index_]; }
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
    if (reached_[j]) {
      grads_[j].flat() += flat;
    } else {
      grads_[j] = tensor_from_flat<S>(in.shape(), flat);
      reached_[j] = 1;
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
    if (reached_[j]) {
      grads_[j].flat() += grad.flat();
    } else {
      grads_[j] = std::move(grad);
      reached_[j] = 1;
    }
  }

 private:
  friend struct detail::TapeAccess;

  GradContext(detail::TapeState<S>& tape, Index index, std::vector<Tensor<S>>& grads,
              std::vector<char>& reached)
      : tape_(tape), index_(static_cast<std::size_t>(index)), grads_(grads), reached_(reached) {}

  const detail::Node<S>& node() const { return tape_.nodes[index_]; }
  Index input_index(std::size_t i) const {
    CONVTAPE_ASSERT(i < node().inputs.size());
    return node().inputs[i];
  }
  const detail::Node<S>& operand(std::size_t i) const {
    return tape_.nodes[static_cast<std::size_t>(input_index(i))];
  }

  detail::TapeState<S>& tape_;
  std::size_t index_;
  std::vector<Tensor<S>>& grads_;
  std::vector<char>& reached_;
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
    return tape_->nodes[static_cast<std::size_t>(inputs_[i])].value;
  }

  /// Appends the result `value` with its gradient rule, a callable `void(GradContext<S>&)`, and
  /// returns its var. The rule is kept only when the result requires a gradient: some operand
  /// does, and no `NoGrad` guard is alive. Call once.
  template <class Rule>
  Var<S> record(Tensor<S> value, Rule&& rule) {
    bool requires_grad = false;
    if (!NoGrad::active()) {
      for (Index j : inputs_) {
        requires_grad |= tape_->nodes[static_cast<std::size_t>(j)].requires_grad;
      }
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

namespace detail {

/// The reverse walk shared by both `backward` overloads; `seed` is d(loss)/d(root).
template <class S>
void backward_from(const Var<S>& root, Tensor<S> seed, bool retain_tape, const char* fn) {
  const std::shared_ptr<TapeState<S>> tape = TapeAccess::lock(root, fn);
  TapeState<S>& t = *tape;
  const Index last = TapeAccess::index(root);
  auto node = [&t](Index i) -> Node<S>& { return t.nodes[static_cast<std::size_t>(i)]; };

  if (t.consumed) {
    fail(fn,
         "this tape was already used by a backward pass; record a new Tape for each iteration, "
         "or pass retain_tape = true to every backward on it but the last");
  }
  if (!node(last).requires_grad) {
    fail(fn,
         "the var depends on no variable or parameter (it was computed from constants only, or "
         "under NoGrad), so there is nothing to differentiate");
  }
  // Checked before anything is modified, so a throw leaves every gradient as it was.
  for (Index i = 0; i <= last; ++i) {
    const Node<S>& n = node(i);
    if (n.parameter != nullptr && n.parameter->grad.shape() != n.value.shape()) {
      fail(fn, "a parameter's grad has shape " + shape_str(n.parameter->grad.shape()) +
                   " but it was recorded with shape " + shape_str(n.value.shape()));
    }
  }

  const auto count = static_cast<std::size_t>(last) + 1;
  std::vector<Tensor<S>> grads(count);
  std::vector<char> reached(count, 0);
  grads.back() = std::move(seed);
  reached.back() = 1;
  for (Index i = last; i >= 0; --i) {
    const Node<S>& n = node(i);
    if (!reached[static_cast<std::size_t>(i)] || !n.rule) continue;
    GradContext<S> context = TapeAccess::context(t, i, grads, reached);
    n.rule(context);
  }

  // The zero gradients of unreached nodes are allocated before anything is published, so that
  // not even a bad_alloc can leave some gradients updated and others not.
  for (Index i = 0; i <= last; ++i) {
    const Node<S>& n = node(i);
    if (n.requires_grad && !n.has_grad && !reached[static_cast<std::size_t>(i)]) {
      grads[static_cast<std::size_t>(i)] = Tensor<S>(n.value.shape());
    }
  }
  // Only now, with every rule done, do gradients become visible (nothing below allocates).
  for (Index i = 0; i <= last; ++i) {
    Node<S>& n = node(i);
    if (!n.requires_grad) continue;
    Tensor<S>& g = grads[static_cast<std::size_t>(i)];
    if (!reached[static_cast<std::size_t>(i)]) {
      if (!n.has_grad) n.grad = std::move(g);
    } else {
      if (n.parameter != nullptr) n.parameter->grad.flat() += g.flat();
      if (n.has_grad) {
        n.grad.flat() += g.flat();
      } else {
        n.grad = std::move(g);
      }
    }
    n.has_grad = true;
  }
  if (!retain_tape) t.consumed = true;
}

}  // namespace detail

/// Backpropagates from a one-element `loss` (seed gradient 1): every var it depends on gets
/// d(loss)/d(var) in `grad()`, and every parameter recorded on its tape gets it added into
/// `param.grad`. A tape allows one backward pass unless `retain_tape` is true (then a later
/// pass adds to all gradients again, as PyTorch's `retain_graph`).
/// @throws shape_error if `loss` is empty or its tape gone, has more than one element, depends
///   on no variable or parameter, its tape was already used by a backward pass without
///   `retain_tape`, or a parameter's grad no longer has the shape it was recorded with.
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

/// The reverse walk's explicit instantiation for scalar S, after `prefix` (`template` or
/// `extern template`): see convtape/instantiate.hpp.
#define CONVTAPE_DETAIL_INSTANTIATE_TAPE(prefix, S)                                            \
  prefix void convtape::detail::backward_from<S>(const convtape::Var<S>&, convtape::Tensor<S>, \
                                                 bool, const char*);
CONVTAPE_DETAIL_EXTERN(CONVTAPE_DETAIL_INSTANTIATE_TAPE)
