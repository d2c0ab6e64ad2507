// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Comparing results: the largest elementwise difference between two matrices or tensors, and the
// tolerance a comparison of two different summation orders may need.

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "convtape/core.hpp"
#include "convtape/tensor.hpp"

namespace support {

using convtape::Index;

/// Tolerance for comparing two computations of sums of `reduction_length` products whose
/// magnitudes are at most `magnitude`, done in different orders: 0 for integer types (they must
/// agree exactly), otherwise 4 * epsilon * max(magnitude, 1) per term. The one tolerance of the
/// test suite: each test passes the reduction length and magnitude it has.
template <class S>
double tolerance(Index reduction_length, double magnitude = 1.0) {
  if constexpr (std::is_integral_v<S>) {
    return 0.0;
  } else {
    const double eps = static_cast<double>(std::numeric_limits<S>::epsilon());
    return 4.0 * eps * static_cast<double>(std::max<Index>(reduction_length, 1)) *
           std::max(magnitude, 1.0);
  }
}

/// max |a - b| over all elements, in double; +infinity when the shapes differ and NaN when a
/// difference is NaN, so a shape mismatch or a NaN fails any tolerance check.
template <class DA, class DB>
double max_abs_diff(const Eigen::MatrixBase<DA>& a, const Eigen::MatrixBase<DB>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return std::numeric_limits<double>::infinity();
  double m = 0.0;
  for (Index j = 0; j < a.cols(); ++j) {
    for (Index i = 0; i < a.rows(); ++i) {
      const double d = std::abs(static_cast<double>(a(i, j)) - static_cast<double>(b(i, j)));
      if (!(d <= m)) m = d;  // a NaN difference sticks
    }
  }
  return m;
}

/// The same for tensors (of any two scalar types).
template <class SA, class SB>
double max_abs_diff(const convtape::Tensor<SA>& a, const convtape::Tensor<SB>& b) {
  if (a.shape() != b.shape()) return std::numeric_limits<double>::infinity();
  double m = 0.0;
  for (Index i = 0; i < a.size(); ++i) {
    const double d = std::abs(static_cast<double>(a.data()[i]) - static_cast<double>(b.data()[i]));
    if (!(d <= m)) m = d;
  }
  return m;
}

/// Sum of a(i, j) * b(i, j) in double, for the adjoint identities; NaN when the shapes differ.
template <class DA, class DB>
double dot(const Eigen::MatrixBase<DA>& a, const Eigen::MatrixBase<DB>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0.0;
  for (Index j = 0; j < a.cols(); ++j) {
    for (Index i = 0; i < a.rows(); ++i) {
      s += static_cast<double>(a(i, j)) * static_cast<double>(b(i, j));
    }
  }
  return s;
}

template <class S>
double dot(const convtape::Tensor<S>& a, const convtape::Tensor<S>& b) {
  if (a.shape() != b.shape()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0.0;
  for (Index i = 0; i < a.size(); ++i) {
    s += static_cast<double>(a.data()[i]) * static_cast<double>(b.data()[i]);
  }
  return s;
}

}  // namespace support
