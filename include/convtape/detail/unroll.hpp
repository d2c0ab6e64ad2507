// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Compile-time unrolling shared by the register-blocked kernels (corr2d_kernels.hpp, gemm.hpp).
// Not for direct inclusion.

#include <Eigen/Core>
#include <type_traits>
#include <utility>

namespace convtape::detail {

template <class F, int... I>
EIGEN_ALWAYS_INLINE void unroll_impl(F& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>()), ...);
}

/// Calls f(integral_constant<int, 0>), ..., f(integral_constant<int, N - 1>): a loop the compiler
/// must unroll at any optimization level, so that packet arrays indexed by it stay in registers.
template <int N, class F>
EIGEN_ALWAYS_INLINE void unroll(F&& f) {
  unroll_impl(f, std::make_integer_sequence<int, N>());
}

}  // namespace convtape::detail
