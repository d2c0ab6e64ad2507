// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Row-major plane kernels shared by `corr2d.hpp` (one plane) and `conv2d.hpp` (many planes):
// padding a plane, folding a padded gradient back, and the three tap loops (forward, gradient
// with respect to the input, gradient with respect to the kernel). Not for direct inclusion.
//
// The tap loops run the register-blocked kernels of `corr2d_kernels.hpp` whenever the columns
// they read are contiguous (unit column stride; for the input gradient, unit stride). The other
// cases take a simple loop that, for each kernel tap (a, b), touches the whole output at once
// through a strided Eigen view of the padded input: correct for every stride, but it streams
// the output once per tap.

#include <type_traits>

#include "convtape/core.hpp"
#include "convtape/detail/corr2d_kernels.hpp"

namespace convtape::detail {

/// Read-only row-major plane with any row pitch; binds to row-major matrices, maps and blocks
/// without a copy, and to the transpose of column-major ones.
template <class S>
using ConstRowRef = Eigen::Ref<const RowMatrixX<S>, 0, Eigen::OuterStride<>>;
/// Writable row-major plane with any row pitch.
template <class S>
using RowRef = Eigen::Ref<RowMatrixX<S>, 0, Eigen::OuterStride<>>;

/// Calls `f(i, j0, j1)` for every run [j0, j1) of padded-plane columns in row i that lies in the
/// border (outside the copy of the input), row by row.
template <class F>
void for_each_border_run(const Conv2dGeometry& g, F&& f) {
  const Index rows = g.padded_rows();
  const Index cols = g.padded_cols();
  const Index interior_end_col = g.pad.left + g.in_cols;
  for (Index i = 0; i < rows; ++i) {
    const bool interior_row = i >= g.pad.top && i < g.pad.top + g.in_rows;
    if (!interior_row) {
      f(i, Index(0), cols);
      continue;
    }
    if (g.pad.left > 0) f(i, Index(0), g.pad.left);
    if (interior_end_col < cols) f(i, interior_end_col, cols);
  }
}

/// The input padded as `g` says, as a contiguous row-major matrix.
template <class S>
RowMatrixX<S> pad_plane(const ConstRowRef<S>& x, const Conv2dGeometry& g) {
  RowMatrixX<S> xp(g.padded_rows(), g.padded_cols());
  xp.block(g.pad.top, g.pad.left, g.in_rows, g.in_cols) = x;
  for_each_border_run(g, [&](Index i, Index j0, Index j1) {
    const Index si = padded_index(i - g.pad.top, g.in_rows, g.mode);
    for (Index j = j0; j < j1; ++j) {
      const Index sj = padded_index(j - g.pad.left, g.in_cols, g.mode);
      xp(i, j) = (si < 0 || sj < 0) ? S(0) : x(si, sj);
    }
  });
  return xp;
}

/// dx += the gradient of a padded plane folded back onto the input: the interior directly, each
/// border sample onto the input sample it was read from (nothing for zero padding).
template <class S>
void fold_padding(const RowMatrixX<S>& dxp, const Conv2dGeometry& g, RowRef<S> dx) {
  dx += dxp.block(g.pad.top, g.pad.left, g.in_rows, g.in_cols);
  if (g.mode == PaddingMode::zeros) return;
  for_each_border_run(g, [&](Index i, Index j0, Index j1) {
    const Index si = padded_index(i - g.pad.top, g.in_rows, g.mode);
    for (Index j = j0; j < j1; ++j) {
      const Index sj = padded_index(j - g.pad.left, g.in_cols, g.mode);
      if (si >= 0 && sj >= 0) dx(si, sj) += dxp(i, j);
    }
  });
}

/// Calls `f(view)` with the out_rows x out_cols view of a padded plane that kernel tap (a, b)
/// reads: element (i, j) of the view is padded(i * stride.rows + a * dilation.rows,
/// j * stride.cols + b * dilation.cols). `T` is `S` or `const S`. With unit column stride the
/// view is contiguous along rows, which is what lets Eigen vectorize.
template <class T, class F>
void with_tap_view(T* padded, Index ld, const Conv2dGeometry& g, Index a, Index b, F&& f) {
  using Plane = std::conditional_t<std::is_const_v<T>, const RowMatrixX<std::remove_const_t<T>>,
                                   RowMatrixX<std::remove_const_t<T>>>;
  T* origin = padded + a * g.dilation.rows * ld + b * g.dilation.cols;
  if (g.stride.cols == 1) {
    f(Eigen::Map<Plane, 0, Eigen::OuterStride<>>(origin, g.out_rows, g.out_cols,
                                                 Eigen::OuterStride<>(ld * g.stride.rows)));
  } else {
    using Strided = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;
    f(Eigen::Map<Plane, 0, Strided>(origin, g.out_rows, g.out_cols,
                                    Strided(ld * g.stride.rows, g.stride.cols)));
  }
}

/// How a tap loop writes its result.
enum class Store { assign, add };

/// y (+)= cross-correlation of an already padded plane `xp` (pitch `ld`) with kernel `k`. With
/// unit column stride this is the register-blocked kernel of `corr2d_kernels.hpp`; a column
/// stride breaks the contiguity it needs, so those take the tap-at-a-time Eigen loop.
template <class S>
void corr2d_padded(const S* xp, Index ld, const ConstRowRef<S>& k, const Conv2dGeometry& g,
                   RowRef<S> y, Store store) {
  if (g.stride.cols != 1) {
    if (store == Store::assign) y.setZero();
    for (Index a = 0; a < g.kernel_rows; ++a) {
      for (Index b = 0; b < g.kernel_cols; ++b) {
        const S tap = k(a, b);
        with_tap_view(xp, ld, g, a, b, [&](const auto& view) { y += tap * view; });
      }
    }
    return;
  }
  const RowMatrixX<S> kernel = k;  // contiguous, whatever the caller's pitch
  DirectCorr<S> p;
  p.in = xp;
  p.in_ld = ld;
  p.kernel = kernel.data();
  p.kernel_rows = g.kernel_rows;
  p.kernel_cols = g.kernel_cols;
  p.row_stride = g.stride.rows;
  p.row_dilation = g.dilation.rows;
  p.col_dilation = g.dilation.cols;
  p.out = y.data();
  p.out_ld = y.outerStride();
  p.rows = g.out_rows;
  p.cols = g.out_cols;
  p.accumulate = store == Store::add;
  direct_corr(p);
}

/// y += cross-correlation of an already padded plane `xp` (pitch `ld`) with kernel `k`.
template <class S>
void corr2d_padded(const S* xp, Index ld, const ConstRowRef<S>& k, const Conv2dGeometry& g,
                   RowRef<S> y) {
  corr2d_padded<S>(xp, ld, k, g, y, Store::add);
}

/// dxp += the adjoint of `corr2d_padded` with respect to the padded input, applied to `dy`.
/// With unit stride that is the full correlation of dy with the kernel flipped (dilated alike),
/// run by the forward kernel on dy zero-padded by the dilated kernel's extent. A stride scatters
/// dy with gaps, so strided problems take the tap-at-a-time Eigen loop.
template <class S>
void corr2d_grad_padded_input(const ConstRowRef<S>& dy, const ConstRowRef<S>& k,
                              const Conv2dGeometry& g, S* dxp, Index ld) {
  if (g.stride != Size2(1, 1)) {
    for (Index a = 0; a < g.kernel_rows; ++a) {
      for (Index b = 0; b < g.kernel_cols; ++b) {
        const S tap = k(a, b);
        with_tap_view(dxp, ld, g, a, b, [&](auto&& view) { view += tap * dy; });
      }
    }
    return;
  }
  const Index pr = (g.kernel_rows - 1) * g.dilation.rows;
  const Index pc = (g.kernel_cols - 1) * g.dilation.cols;
  RowMatrixX<S> dyp(g.out_rows + 2 * pr, g.out_cols + 2 * pc);
  dyp.topRows(pr).setZero();
  dyp.bottomRows(pr).setZero();
  dyp.block(pr, 0, g.out_rows, pc).setZero();
  dyp.block(pr, pc + g.out_cols, g.out_rows, pc).setZero();
  dyp.block(pr, pc, g.out_rows, g.out_cols) = dy;
  const RowMatrixX<S> flipped = k.reverse();
  DirectCorr<S> p;
  p.in = dyp.data();
  p.in_ld = dyp.outerStride();
  p.kernel = flipped.data();
  p.kernel_rows = g.kernel_rows;
  p.kernel_cols = g.kernel_cols;
  p.row_stride = 1;
  p.row_dilation = g.dilation.rows;
  p.col_dilation = g.dilation.cols;
  p.out = dxp;
  p.out_ld = ld;
  p.rows = g.padded_rows();
  p.cols = g.padded_cols();
  p.accumulate = true;
  direct_corr(p);
}

/// dk += the adjoint of `corr2d_padded` with respect to the kernel, applied to `dy`: one
/// reduction per tap, done by `kernel_grad_corr` with unit column stride and by the
/// tap-at-a-time Eigen loop otherwise.
template <class S>
void corr2d_grad_kernel_padded(const S* xp, Index ld, const ConstRowRef<S>& dy,
                               const Conv2dGeometry& g, RowRef<S> dk) {
  if (g.stride.cols != 1) {
    for (Index a = 0; a < g.kernel_rows; ++a) {
      for (Index b = 0; b < g.kernel_cols; ++b) {
        with_tap_view(xp, ld, g, a, b,
                      [&](const auto& view) { dk(a, b) += view.cwiseProduct(dy).sum(); });
      }
    }
    return;
  }
  KernelGradCorr<S> p;
  p.in = xp;
  p.in_ld = ld;
  p.dy = dy.data();
  p.dy_ld = dy.outerStride();
  p.rows = g.out_rows;
  p.cols = g.out_cols;
  p.kernel_rows = g.kernel_rows;
  p.kernel_cols = g.kernel_cols;
  p.row_stride = g.stride.rows;
  p.row_dilation = g.dilation.rows;
  p.col_dilation = g.dilation.cols;
  p.dk = dk.data();
  p.dk_ld = dk.outerStride();
  kernel_grad_corr(p);
}

/// A plane as the tap loops read it: the input itself when there is no padding, otherwise a
/// padded copy. Borrows `x`, which must outlive it.
template <class S>
class PaddedPlane {
 public:
  PaddedPlane(const ConstRowRef<S>& x, const Conv2dGeometry& g) {
    if (g.has_padding()) {
      storage_ = pad_plane<S>(x, g);
      data_ = storage_.data();
      ld_ = storage_.outerStride();
    } else {
      data_ = x.data();
      ld_ = x.outerStride();
    }
  }
  const S* data() const { return data_; }
  Index ld() const { return ld_; }

 private:
  RowMatrixX<S> storage_;
  const S* data_ = nullptr;
  Index ld_ = 0;
};

/// y (+)= corr2d(x, k) for geometry `g` (padding applied here).
template <class S>
void corr2d_accumulate(const ConstRowRef<S>& x, const ConstRowRef<S>& k, const Conv2dGeometry& g,
                       RowRef<S> y, Store store = Store::add) {
  const PaddedPlane<S> xp(x, g);
  corr2d_padded<S>(xp.data(), xp.ld(), k, g, y, store);
}

/// dx += the gradient of corr2d(x, k) with respect to x, given the output gradient `dy`.
template <class S>
void corr2d_grad_input_accumulate(const ConstRowRef<S>& dy, const ConstRowRef<S>& k,
                                  const Conv2dGeometry& g, RowRef<S> dx) {
  if (!g.has_padding()) {
    corr2d_grad_padded_input<S>(dy, k, g, dx.data(), dx.outerStride());
    return;
  }
  RowMatrixX<S> dxp = RowMatrixX<S>::Zero(g.padded_rows(), g.padded_cols());
  corr2d_grad_padded_input<S>(dy, k, g, dxp.data(), dxp.outerStride());
  fold_padding<S>(dxp, g, dx);
}

/// dk += the gradient of corr2d(x, k) with respect to k, given the output gradient `dy`.
template <class S>
void corr2d_grad_kernel_accumulate(const ConstRowRef<S>& x, const ConstRowRef<S>& dy,
                                   const Conv2dGeometry& g, RowRef<S> dk) {
  const PaddedPlane<S> xp(x, g);
  corr2d_grad_kernel_padded<S>(xp.data(), xp.ld(), dy, g, dk);
}

}  // namespace convtape::detail
