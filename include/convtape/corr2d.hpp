// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// Single-plane 2-D cross-correlation, its two adjoints, and true convolution.
///
/// The math, stated once. For an input X (H x W), a kernel K (h x w), stride (s_r, s_c),
/// dilation (d_r, d_c) and padding (top, bottom, left, right), with Xp the padded input,
///
///     Y(i, j) = sum_{a < h, b < w} Xp(i*s_r + a*d_r, j*s_c + b*d_c) * K(a, b)
///     out_rows = (H + top + bottom - d_r*(h - 1) - 1) / s_r + 1      (likewise out_cols)
///
/// The kernel is **not flipped**: this is cross-correlation, what the d2l chapter, PyTorch's
/// `conv2d` and OpenCV's `filter2D` compute. `convolve2d` is the true convolution (kernel rotated
/// by 180 degrees), what `scipy.signal.convolve2d` computes.
///
/// Every function takes any `Eigen::MatrixBase` (row- or column-major matrices, `Map`, `Block`,
/// expressions) and returns a plain column-major `Eigen::Matrix`. Inputs with direct access are
/// read in place; expressions are evaluated once.

#include <type_traits>

#include "convtape/core.hpp"
#include "convtape/detail/plane.hpp"

namespace convtape {

namespace detail {

template <class DA, class DB>
constexpr void check_same_scalar() {
  static_assert(std::is_same_v<typename DA::Scalar, typename DB::Scalar>,
                "convtape: both operands must have the same scalar type; cast one with "
                ".template cast<T>() first.");
}

/// Runs a row-major plane kernel `op(a, b, g, out)` on a rows x cols result (zeroed first when
/// `zeroed`, for kernels that accumulate; left uninitialized for kernels that assign every
/// element), and returns that result column-major. A column-major operand's memory is the
/// row-major transpose, so column-major inputs are solved as the transposed problem in place;
/// row-major inputs are solved directly and the result is copied once.
template <class DA, class DB, class Op>
MatrixX<typename DA::Scalar> solve_on_rows(const Eigen::MatrixBase<DA>& a,
                                           const Eigen::MatrixBase<DB>& b, const Conv2dGeometry& g,
                                           Index rows, Index cols, Op op, bool zeroed = true) {
  using S = typename DA::Scalar;
  MatrixX<S> out(rows, cols);
  if constexpr (static_cast<bool>(DA::IsRowMajor)) {
    RowMatrixX<S> out_rows(rows, cols);
    if (zeroed) out_rows.setZero();
    op(ConstRowRef<S>(a.derived()), ConstRowRef<S>(b.derived()), g, RowRef<S>(out_rows));
    out = out_rows;
  } else {
    if (zeroed) out.setZero();
    op(ConstRowRef<S>(a.derived().transpose()), ConstRowRef<S>(b.derived().transpose()),
       g.transposed(), RowRef<S>(out.transpose()));
  }
  return out;
}

inline void check_output_grad_shape(const char* fn, Index rows, Index cols,
                                    const Conv2dGeometry& g) {
  if (rows != g.out_rows || cols != g.out_cols) {
    std::ostringstream os;
    os << "grad_output is " << rows << "x" << cols << " but the output of a " << g.in_rows << "x"
       << g.in_cols << " input with a " << g.kernel_rows << "x" << g.kernel_cols << " kernel is "
       << g.out_rows << "x" << g.out_cols;
    fail(fn, os.str());
  }
}

template <class DX, class DK>
MatrixX<typename DX::Scalar> corr2d_named(const Eigen::MatrixBase<DX>& x,
                                          const Eigen::MatrixBase<DK>& k, const Conv2dOptions& opts,
                                          const char* fn) {
  check_same_scalar<DX, DK>();
  using S = typename DX::Scalar;
  const Conv2dGeometry g = conv2d_geometry(x.rows(), x.cols(), k.rows(), k.cols(), opts, fn);
  return solve_on_rows(
      x, k, g, g.out_rows, g.out_cols,
      [](const auto& xr, const auto& kr, const auto& gr, auto yr) {
        corr2d_accumulate<S>(xr, kr, gr, yr, Store::assign);
      },
      /*zeroed=*/false);
}

}  // namespace detail

/// Cross-correlation of plane `x` with kernel `k` (kernel not flipped), with the padding, stride
/// and dilation of `opts` (`groups` and `bias` are ignored). With default options this is the
/// notebook's valid `corr2d`: `corr2d([[0,1,2],[3,4,5],[6,7,8]], [[0,1],[2,3]]) ==
/// [[19,25],[37,43]]`.
///
/// @returns an out_rows x out_cols matrix (see the file comment).
/// @throws shape_error if x or k is empty, an option is out of range, or the dilated kernel does
///   not fit the padded input.
template <class DX, class DK>
MatrixX<typename DX::Scalar> corr2d(const Eigen::MatrixBase<DX>& x,
                                    const Eigen::MatrixBase<DK>& k,
                                    const Conv2dOptions& opts = {}) {
  return detail::corr2d_named(x, k, opts, "corr2d");
}

/// Gradient of `corr2d(X, k, opts)` with respect to X, for an X of x_rows x x_cols, given the
/// gradient `dy` of the output (the adjoint: a "full" correlation with the kernel flipped,
/// strided and dilated, folded back through the padding).
///
/// @returns an x_rows x x_cols matrix.
/// @throws shape_error as `corr2d`, and if `dy` is not the shape `corr2d` returns.
template <class DY, class DK>
MatrixX<typename DY::Scalar> corr2d_grad_input(const Eigen::MatrixBase<DY>& dy,
                                               const Eigen::MatrixBase<DK>& k, Index x_rows,
                                               Index x_cols, const Conv2dOptions& opts = {}) {
  detail::check_same_scalar<DY, DK>();
  using S = typename DY::Scalar;
  constexpr const char* fn = "corr2d_grad_input";
  const Conv2dGeometry g = conv2d_geometry(x_rows, x_cols, k.rows(), k.cols(), opts, fn);
  detail::check_output_grad_shape(fn, dy.rows(), dy.cols(), g);
  return detail::solve_on_rows(dy, k, g, x_rows, x_cols,
                               [](const auto& dyr, const auto& kr, const auto& gr, auto dxr) {
                                 detail::corr2d_grad_input_accumulate<S>(dyr, kr, gr, dxr);
                               });
}

/// Gradient of `corr2d(x, K, opts)` with respect to a kernel K of k_rows x k_cols, given the
/// gradient `dy` of the output (the correlation of the padded input with `dy`).
///
/// @returns a k_rows x k_cols matrix.
/// @throws shape_error as `corr2d`, and if `dy` is not the shape `corr2d` returns.
template <class DX, class DY>
MatrixX<typename DX::Scalar> corr2d_grad_kernel(const Eigen::MatrixBase<DX>& x,
                                                const Eigen::MatrixBase<DY>& dy, Index k_rows,
                                                Index k_cols, const Conv2dOptions& opts = {}) {
  detail::check_same_scalar<DX, DY>();
  using S = typename DX::Scalar;
  constexpr const char* fn = "corr2d_grad_kernel";
  const Conv2dGeometry g = conv2d_geometry(x.rows(), x.cols(), k_rows, k_cols, opts, fn);
  detail::check_output_grad_shape(fn, dy.rows(), dy.cols(), g);
  return detail::solve_on_rows(x, dy, g, k_rows, k_cols,
                               [](const auto& xr, const auto& dyr, const auto& gr, auto dkr) {
                                 detail::corr2d_grad_kernel_accumulate<S>(xr, dyr, gr, dkr);
                               });
}

/// True 2-D convolution: `corr2d` with the kernel rotated by 180 degrees (what
/// `scipy.signal.convolve2d` and the signal-processing textbooks compute; *not* what PyTorch's
/// `conv2d` or OpenCV's `filter2D` compute). Options as `corr2d`.
///
/// @throws shape_error as `corr2d`.
template <class DX, class DK>
MatrixX<typename DX::Scalar> convolve2d(const Eigen::MatrixBase<DX>& x,
                                        const Eigen::MatrixBase<DK>& k,
                                        const Conv2dOptions& opts = {}) {
  detail::check_same_scalar<DX, DK>();
  const MatrixX<typename DK::Scalar> flipped = k.reverse();
  return detail::corr2d_named(x, flipped, opts, "convolve2d");
}

}  // namespace convtape
