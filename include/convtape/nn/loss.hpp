// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// Losses: `squared_loss` is one recorded function with its own gradient rule (one node on the
/// tape instead of the three of `square(y_hat - y)`: the loss of every training step), and
/// `mse_loss` reduces it with the functions of `autograd/ops.hpp`. `cross_entropy` (softmax
/// cross-entropy over integer class labels) is one recorded function too, on vars and on tensors.

#include <vector>

#include "convtape/autograd/op.hpp"
#include "convtape/autograd/ops.hpp"
#include "convtape/autograd/tape.hpp"
#include "convtape/softmax.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// How a loss reduces its per-element (`mse_loss`) or per-sample (`cross_entropy`) losses: their
/// mean (the default, as PyTorch), their sum, or not at all (`none`: the losses themselves).
enum class Reduction { mean, sum, none };

/// Elementwise squared error (y_hat - y)^2, shaped like the operands: the notebook's
/// `(Y_hat - Y)**2`. Unlike d2l's linear-regression `squared_loss`, it is not halved.
/// d/dy_hat = 2 (y_hat - y) dl, d/dy = -2 (y_hat - y) dl.
/// @throws shape_error if the shapes differ, or as any differentiable function.
template <class S>
Var<S> squared_loss(const Var<S>& y_hat, const Var<S>& y) {
  Op<S> op("squared_loss", {y_hat, y});
  detail::check_same_shape(op.name(), op.input(0).shape(), op.input(1).shape());
  const auto error = op.input(0).flat() - op.input(1).flat();
  return op.record(
      tensor_from_flat<S>(op.input(0).shape(), error.cwiseAbs2()), [](GradContext<S>& g) {
        const auto twice_error = S(2) * (g.input(0).flat() - g.input(1).flat()).array();
        const auto dl = g.grad_output().flat().array();
        g.add_grad(0, (twice_error * dl).matrix());
        g.add_grad(1, (-twice_error * dl).matrix());
      });
}

/// Mean (the default, as PyTorch's `mse_loss`) or sum of the squared error, as a (1, 1, 1, 1) var;
/// with `Reduction::none` the squared errors themselves (`squared_loss`).
/// @throws shape_error as `squared_loss`, and for the mean of no elements.
template <class S>
Var<S> mse_loss(const Var<S>& y_hat, const Var<S>& y, Reduction reduction = Reduction::mean) {
  detail::check_elementwise("mse_loss", y_hat, y);
  const Var<S> errors = squared_loss(y_hat, y);
  switch (reduction) {
    case Reduction::sum:
      return sum(errors);
    case Reduction::none:
      return errors;
    case Reduction::mean:
      break;
  }
  return mean(errors);
}

namespace detail {

/// The per-sample losses of `cross_entropy` reduced as `reduction` says: (1, 1, 1, 1) for mean
/// and sum, (N, 1, 1, 1) for none.
template <class S>
Tensor<S> reduce_losses(const VectorX<S>& losses, Reduction reduction) {
  if (reduction == Reduction::none) {
    return tensor_from_flat<S>({losses.size(), 1, 1, 1}, losses);
  }
  Tensor<S> total(1, 1, 1, 1);
  total.data()[0] = losses.sum();
  if (reduction == Reduction::mean) total.data()[0] /= static_cast<S>(losses.size());
  return total;
}

/// d(reduced loss)/d(loss of row n), given the reduced loss's gradient `dl`.
template <class S>
VectorX<S> loss_weights(const Tensor<S>& dl, Index rows, Reduction reduction) {
  if (reduction == Reduction::none) return dl.flat();
  const S scale = reduction == Reduction::mean ? S(1) / static_cast<S>(rows) : S(1);
  return VectorX<S>::Constant(rows, dl.data()[0] * scale);
}

}  // namespace detail

/// Softmax cross-entropy (PyTorch's `cross_entropy`): for logits (N, C, 1, 1), N rows of C
/// class scores, and `labels`, N class indices in [0, C), the losses
/// -log(softmax(logits[n])[labels[n]]), computed through log-sum-exp so that logits of any
/// finite size (±1000 included) give finite losses and gradients; reduced by `reduction` to
/// (1, 1, 1, 1) (mean, the default, or sum) or kept as (N, 1, 1, 1) (none).
/// d/dlogits[n] = (softmax(logits[n]) - onehot(labels[n])) times the row's share of dl.
/// @throws shape_error if logits are empty or not (N, C, 1, 1), the number of labels is not N,
///   or a label is outside [0, C) (naming the label, its row and the shape).
template <class S>
Var<S> cross_entropy(const Var<S>& logits, const std::vector<Index>& labels,
                     Reduction reduction = Reduction::mean) {
  Op<S> op("cross_entropy", {logits});
  const auto z = detail::check_labels(op.input(0), labels, op.name());
  return op.record(
      detail::reduce_losses(detail::cross_entropy_rows(z, labels), reduction),
      [labels, reduction](GradContext<S>& g) {
        const Tensor<S>& x = g.input(0);
        g.add_grad(0, detail::cross_entropy_rows_backward(
                          x, labels, detail::loss_weights(g.grad_output(), x.dim(0), reduction)));
      });
}

/// `cross_entropy` on tensors: the loss without a tape (evaluation).
/// @throws shape_error as `cross_entropy` on vars.
template <class S>
Tensor<S> cross_entropy(const Tensor<S>& logits, const std::vector<Index>& labels,
                        Reduction reduction = Reduction::mean) {
  const auto z = detail::check_labels(logits, labels, "cross_entropy");
  return detail::reduce_losses(detail::cross_entropy_rows(z, labels), reduction);
}

}  // namespace convtape

/// `squared_loss`'s explicit instantiation for scalar S, after `prefix` (`template` or
/// `extern template`): see convtape/instantiate.hpp.
#define CONVTAPE_DETAIL_INSTANTIATE_LOSS(prefix, S)                          \
  prefix convtape::Var<S> convtape::squared_loss<S>(const convtape::Var<S>&, \
                                                    const convtape::Var<S>&);
CONVTAPE_DETAIL_EXTERN(CONVTAPE_DETAIL_INSTANTIATE_LOSS)
