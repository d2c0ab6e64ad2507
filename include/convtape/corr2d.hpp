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
/// read in place; expressions are evaluated once. `corr2d_out` writes into a matrix you keep.
///
/// Speed: a register-blocked SIMD kernel (detail/corr2d_kernels.hpp) with whatever vector
/// instructions your flags enable (`-march=native` helps), padding built a panel of rows at a
/// time, strides along the storage order handled by gathering column phases, rank-one kernels
/// of 6x6 and up in two passes, rows split across threads when you compile with OpenMP. The
/// adjoints use the same kernel for the input gradient with unit stride and a vectorized
/// reduction for the kernel gradient without a stride along the storage order (`stride.cols`
/// for row-major inputs, `stride.rows` for column-major ones, Eigen's default); those strided
/// adjoints take a simple loop that streams the result once per kernel tap. The textbook loop
/// is `reference::corr2d`.
///
/// NaN and Inf propagate as IEEE arithmetic on the textbook loop says (zero padding included:
/// 0 * NaN = NaN), except that `corr2d_grad_input` with unit stride, a correlation of the
/// zero-padded output gradient with the flipped kernel, lets a NaN or Inf kernel tap make every
/// sample of the result non-finite (NaN where `reference::corr2d_grad_input` is finite); see
/// docs/reliability.md.

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

/// Runs a row-major plane kernel `op(a, b, g, out)` that accumulates into a zeroed rows x cols
/// result, and returns that result column-major. A column-major operand's memory is the
/// row-major transpose, so column-major inputs are solved as the transposed problem in place;
/// row-major inputs are solved directly and the result is copied once.
template <class DA, class DB, class Op>
MatrixX<typename DA::Scalar> solve_on_rows(const Eigen::MatrixBase<DA>& a,
                                           const Eigen::MatrixBase<DB>& b, const Conv2dGeometry& g,
                                           Index rows, Index cols, Op op) {
  using S = typename DA::Scalar;
  MatrixX<S> out = MatrixX<S>::Zero(rows, cols);
  if constexpr (static_cast<bool>(DA::IsRowMajor)) {
    RowMatrixX<S> out_rows = RowMatrixX<S>::Zero(rows, cols);
    op(ConstRowRef<S>(a.derived()), ConstRowRef<S>(b.derived()), g, RowRef<S>(out_rows));
    out = out_rows;
  } else {
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

/// Whether a plane kernel can write `out` in place when its operand has the storage order of
/// DX: `out` has direct access, unit inner stride and the same storage order.
template <class DO, class DX>
constexpr bool writes_in_place() {
  return (int(DO::Flags) & Eigen::DirectAccessBit) && DO::InnerStrideAtCompileTime == 1 &&
         bool(DO::IsRowMajor) == bool(DX::IsRowMajor);
}

/// Whether the memory of `a` and `b` (row-major views with a pitch) overlaps.
template <class A, class B>
bool overlaps(const A& a, const B& b) {
  const auto* a_end = a.data() + (a.rows() - 1) * a.outerStride() + a.cols();
  const auto* b_end = b.data() + (b.rows() - 1) * b.outerStride() + b.cols();
  return a.data() < b_end && b.data() < a_end;
}

/// out = corr2d(x, k) for geometry `g`, out already out_rows x out_cols. The plane kernel runs
/// on row-major memory: a row-major x directly, a column-major x as the transposed problem. It
/// writes `out` in place when `out` has the matching layout and shares no memory with x or k;
/// otherwise it writes a temporary that is then copied.
template <class DO, class DX, class DK>
void corr2d_into(Eigen::MatrixBase<DO>& out, const Eigen::MatrixBase<DX>& x,
                 const Eigen::MatrixBase<DK>& k, const Conv2dGeometry& g) {
  using S = typename DX::Scalar;
  auto run = [&](const ConstRowRef<S>& xr, const ConstRowRef<S>& kr, const Conv2dGeometry& gr,
                 auto&& out_rows) {
    if constexpr (writes_in_place<DO, DX>()) {
      RowRef<S> yr(out_rows);
      if (!overlaps(yr, xr) && !overlaps(yr, kr)) {
        corr2d_accumulate<S>(xr, kr, gr, yr, Store::assign);
        return;
      }
    }
    RowMatrixX<S> y(gr.out_rows, gr.out_cols);
    corr2d_accumulate<S>(xr, kr, gr, RowRef<S>(y), Store::assign);
    out_rows = y;
  };
  if constexpr (static_cast<bool>(DX::IsRowMajor)) {
    run(ConstRowRef<S>(x.derived()), ConstRowRef<S>(k.derived()), g, out.derived());
  } else {
    run(ConstRowRef<S>(x.derived().transpose()), ConstRowRef<S>(k.derived().transpose()),
        g.transposed(), out.derived().transpose());
  }
}

/// Makes `out` rows x cols: resizes a dynamic plain matrix, checks anything else.
template <class DO>
void fit_output(const char* fn, Eigen::MatrixBase<DO>& out, Index rows, Index cols) {
  if (out.rows() == rows && out.cols() == cols) return;
  if constexpr (std::is_base_of_v<Eigen::PlainObjectBase<DO>, DO> &&
                DO::RowsAtCompileTime == Eigen::Dynamic &&
                DO::ColsAtCompileTime == Eigen::Dynamic) {
    out.derived().resize(rows, cols);
  } else {
    std::ostringstream os;
    os << "out is " << out.rows() << "x" << out.cols()
       << " and cannot be resized, but the result is " << rows << "x" << cols;
    fail(fn, os.str());
  }
}

template <class DX, class DK>
MatrixX<typename DX::Scalar> corr2d_named(const Eigen::MatrixBase<DX>& x,
                                          const Eigen::MatrixBase<DK>& k, const Conv2dOptions& opts,
                                          const char* fn) {
  check_same_scalar<DX, DK>();
  const Conv2dGeometry g = conv2d_geometry(x.rows(), x.cols(), k.rows(), k.cols(), opts, fn);
  MatrixX<typename DX::Scalar> out(g.out_rows, g.out_cols);
  corr2d_into(out, x, k, g);
  return out;
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
MatrixX<typename DX::Scalar> corr2d(const Eigen::MatrixBase<DX>& x, const Eigen::MatrixBase<DK>& k,
                                    const Conv2dOptions& opts = {}) {
  return detail::corr2d_named(x, k, opts, "corr2d");
}

/// `corr2d(x, k, opts)` written into `out` instead of a new matrix (PyTorch's `_out` convention),
/// so a loop over images can reuse one result's memory, as OpenCV's `filter2D(src, dst)` does:
/// for large planes a fresh result costs more in page faults than the correlation itself. `out`
/// may be any writable matrix, map or block of either storage order; a dynamic-size `Matrix` is
/// resized to the result's shape, anything else must have it already. `out` may share memory
/// with x or k (the result then goes through a temporary).
///
/// @throws shape_error as `corr2d`, and if `out` has the wrong shape and cannot be resized (then
///   `out` is left untouched).
template <class DO, class DX, class DK>
void corr2d_out(Eigen::MatrixBase<DO>& out, const Eigen::MatrixBase<DX>& x,
                const Eigen::MatrixBase<DK>& k, const Conv2dOptions& opts = {}) {
  detail::check_same_scalar<DX, DK>();
  detail::check_same_scalar<DO, DX>();
  constexpr const char* fn = "corr2d_out";
  const Conv2dGeometry g = conv2d_geometry(x.rows(), x.cols(), k.rows(), k.cols(), opts, fn);
  detail::fit_output(fn, out, g.out_rows, g.out_cols);
  detail::corr2d_into(out, x, k, g);
}

/// Gradient of `corr2d(X, k, opts)` with respect to X, for an X of x_rows x x_cols, given the
/// gradient `grad_output` of the output (the adjoint: a "full" correlation with the kernel flipped,
/// strided and dilated, folded back through the padding).
///
/// @returns an x_rows x x_cols matrix.
/// @throws shape_error as `corr2d`, and if `grad_output` is not the shape `corr2d` returns.
template <class DY, class DK>
MatrixX<typename DY::Scalar> corr2d_grad_input(const Eigen::MatrixBase<DY>& grad_output,
                                               const Eigen::MatrixBase<DK>& k, Index x_rows,
                                               Index x_cols, const Conv2dOptions& opts = {}) {
  detail::check_same_scalar<DY, DK>();
  using S = typename DY::Scalar;
  constexpr const char* fn = "corr2d_grad_input";
  const Conv2dGeometry g = conv2d_geometry(x_rows, x_cols, k.rows(), k.cols(), opts, fn);
  detail::check_output_grad_shape(fn, grad_output.rows(), grad_output.cols(), g);
  return detail::solve_on_rows(
      grad_output, k, g, x_rows, x_cols,
      [](const auto& grad_output_rows, const auto& kr, const auto& gr, auto grad_input_rows) {
        detail::corr2d_grad_input_accumulate<S>(grad_output_rows, kr, gr, grad_input_rows);
      });
}

/// Gradient of `corr2d(x, K, opts)` with respect to a kernel K of k_rows x k_cols, given the
/// gradient `grad_output` of the output (the correlation of the padded input with it).
///
/// @returns a k_rows x k_cols matrix.
/// @throws shape_error as `corr2d`, and if `grad_output` is not the shape `corr2d` returns.
template <class DX, class DY>
MatrixX<typename DX::Scalar> corr2d_grad_kernel(const Eigen::MatrixBase<DX>& x,
                                                const Eigen::MatrixBase<DY>& grad_output,
                                                Index k_rows, Index k_cols,
                                                const Conv2dOptions& opts = {}) {
  detail::check_same_scalar<DX, DY>();
  using S = typename DX::Scalar;
  constexpr const char* fn = "corr2d_grad_kernel";
  const Conv2dGeometry g = conv2d_geometry(x.rows(), x.cols(), k_rows, k_cols, opts, fn);
  detail::check_output_grad_shape(fn, grad_output.rows(), grad_output.cols(), g);
  return detail::solve_on_rows(
      x, grad_output, g, k_rows, k_cols,
      [](const auto& xr, const auto& grad_output_rows, const auto& gr, auto grad_kernel_rows) {
        detail::corr2d_grad_kernel_accumulate<S>(xr, grad_output_rows, gr, grad_kernel_rows);
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
