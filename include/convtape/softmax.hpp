// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// `log_softmax` over the classes of a batch of rows, and the kernels of `cross_entropy`
/// (`nn/loss.hpp`), all through the log-sum-exp trick: each row is shifted by its maximum before
/// `exp`, so logits of any finite size (±1000 included) give finite results.
///
/// Layout. A batch of N rows of C values (logits, features) is a tensor of shape (N, C, 1, 1):
/// the classes are dimension 1, as the output of a `Linear` layer or of `global_avg_pool2d` is
/// laid out, and as PyTorch's `(N, C)` is. `detail::class_rows` is the one place that reads it.

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

namespace detail {

/// The (N, C) view of a batch of rows of C values: x must be (N, C, 1, 1) and not empty.
/// @throws shape_error naming `fn` otherwise.
template <class S>
Eigen::Map<const RowMatrixX<S>> class_rows(const Tensor<S>& x, const char* fn) {
  if (x.empty() || x.dim(2) != 1 || x.dim(3) != 1) {
    fail(fn, "needs N rows of C values as a non-empty tensor of shape (N, C, 1, 1), got " +
                 shape_str(x.shape()));
  }
  return Eigen::Map<const RowMatrixX<S>>(x.data(), x.dim(0), x.dim(1));
}

/// log_softmax of each row of `z` into `y` (same shape): z - max - log(sum(exp(z - max))).
template <class S, class Out>
void log_softmax_rows(const Eigen::Map<const RowMatrixX<S>>& z, Out&& y) {
  for (Index n = 0; n < z.rows(); ++n) {
    const S m = z.row(n).maxCoeff();
    y.row(n).array() = z.row(n).array() - m;
    y.row(n).array() -= std::log(y.row(n).array().exp().sum());
  }
}

/// Gradient of `log_softmax_rows` with respect to z given y = log_softmax(z) and dy:
/// dz = dy - softmax(z) * sum(dy) per row.
template <class S>
Tensor<S> log_softmax_backward(const Tensor<S>& y, const Tensor<S>& dy) {
  Tensor<S> dz = uninitialized_tensor<S>(y.shape());  // every element is assigned
  const Index rows = y.dim(0);
  const Index cols = y.dim(1);
  const Eigen::Map<const RowMatrixX<S>> ym(y.data(), rows, cols);
  const Eigen::Map<const RowMatrixX<S>> dym(dy.data(), rows, cols);
  Eigen::Map<RowMatrixX<S>> dzm(dz.data(), rows, cols);
  for (Index n = 0; n < rows; ++n) {
    dzm.row(n).array() = dym.row(n).array() - ym.row(n).array().exp() * dym.row(n).sum();
  }
  return dz;
}

/// Checks that `labels` holds one class index in [0, C) per row of the (N, C, 1, 1) logits.
/// @throws shape_error naming `fn`, the counts, and the first bad label and its row.
template <class S>
Eigen::Map<const RowMatrixX<S>> check_labels(const Tensor<S>& logits,
                                             const std::vector<Index>& labels, const char* fn) {
  const Eigen::Map<const RowMatrixX<S>> z = class_rows(logits, fn);
  if (static_cast<Index>(labels.size()) != z.rows()) {
    fail(fn, std::to_string(labels.size()) + " labels for " + std::to_string(z.rows()) +
                 " rows of logits " + shape_str(logits.shape()));
  }
  for (std::size_t n = 0; n < labels.size(); ++n) {
    if (labels[n] < 0 || labels[n] >= z.cols()) {
      fail(fn, "label " + std::to_string(labels[n]) + " of row " + std::to_string(n) +
                   " is outside [0, " + std::to_string(z.cols()) + ") for logits " +
                   shape_str(logits.shape()));
    }
  }
  return z;
}

/// -log_softmax(z)[n, labels[n]] for every row n: N losses, each finite for finite logits.
template <class S>
VectorX<S> cross_entropy_rows(const Eigen::Map<const RowMatrixX<S>>& z,
                              const std::vector<Index>& labels) {
  VectorX<S> losses(z.rows());
  for (Index n = 0; n < z.rows(); ++n) {
    const S m = z.row(n).maxCoeff();
    const S log_sum = std::log((z.row(n).array() - m).exp().sum());
    losses[n] = log_sum - (z(n, labels[static_cast<std::size_t>(n)]) - m);
  }
  return losses;
}

/// Gradient of the losses of `cross_entropy_rows` with respect to z, row n scaled by
/// `weights[n]`: (softmax(z[n]) - onehot(labels[n])) * weights[n].
template <class S>
Tensor<S> cross_entropy_rows_backward(const Tensor<S>& logits, const std::vector<Index>& labels,
                                      const VectorX<S>& weights) {
  Tensor<S> dz = uninitialized_tensor<S>(logits.shape());  // every element is assigned
  const Index rows = logits.dim(0);
  const Index cols = logits.dim(1);
  const Eigen::Map<const RowMatrixX<S>> z(logits.data(), rows, cols);
  Eigen::Map<RowMatrixX<S>> d(dz.data(), rows, cols);
  for (Index n = 0; n < rows; ++n) {
    d.row(n).array() = (z.row(n).array() - z.row(n).maxCoeff()).exp();
    d.row(n) *= weights[n] / d.row(n).sum();
    d(n, labels[static_cast<std::size_t>(n)]) -= weights[n];
  }
  return dz;
}

}  // namespace detail

/// log(softmax(x)) over the C classes of each of the N rows of x (N, C, 1, 1), computed as
/// x - max - log(sum(exp(x - max))) per row, so any finite logits give finite results (PyTorch's
/// `log_softmax(x, dim=1)`).
/// @returns (N, C, 1, 1).
/// @throws shape_error if x is empty or not of shape (N, C, 1, 1).
template <class S>
Tensor<S> log_softmax(const Tensor<S>& x) {
  const Eigen::Map<const RowMatrixX<S>> z = detail::class_rows(x, "log_softmax");
  Tensor<S> y = detail::uninitialized_tensor<S>(x.shape());  // every element is assigned
  detail::log_softmax_rows(z, Eigen::Map<RowMatrixX<S>>(y.data(), z.rows(), z.cols()));
  return y;
}

}  // namespace convtape

/// The explicit instantiations of `log_softmax` and the cross-entropy rows for scalar S, after
/// `prefix` (`template` or `extern template`): see convtape/instantiate.hpp. They cover the
/// tensor and var functions of log_softmax and cross_entropy (nn/loss.hpp).
#define CONVTAPE_DETAIL_INSTANTIATE_SOFTMAX(prefix, S)                                        \
  prefix convtape::Tensor<S> convtape::log_softmax<S>(const convtape::Tensor<S>&);            \
  prefix convtape::Tensor<S> convtape::detail::log_softmax_backward<S>(                       \
      const convtape::Tensor<S>&, const convtape::Tensor<S>&);                                \
  prefix convtape::VectorX<S> convtape::detail::cross_entropy_rows<S>(                        \
      const Eigen::Map<const convtape::RowMatrixX<S>>&, const std::vector<convtape::Index>&); \
  prefix convtape::Tensor<S> convtape::detail::cross_entropy_rows_backward<S>(                \
      const convtape::Tensor<S>&, const std::vector<convtape::Index>&,                        \
      const convtape::VectorX<S>&);
CONVTAPE_DETAIL_EXTERN(CONVTAPE_DETAIL_INSTANTIATE_SOFTMAX)
