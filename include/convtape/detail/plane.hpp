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

#include <algorithm>
#include <type_traits>
#include <vector>

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

/// A kernel as the register-blocked loops read it: contiguous row-major; the caller's memory
/// when it already is (a column-major kernel read transposed is), else a copy.
template <class S>
class ContiguousKernel {
 public:
  explicit ContiguousKernel(const ConstRowRef<S>& k) {
    if (k.outerStride() == k.cols()) {
      data_ = k.data();
    } else {
      storage_ = k;
      data_ = storage_.data();
    }
  }
  const S* data() const { return data_; }

 private:
  RowMatrixX<S> storage_;
  const S* data_ = nullptr;
};

/// The forward problem `y (+)= corr(in, kernel)` for geometry `g` (unit column stride) on
/// memory `in` (pitch in_ld) that holds every sample read; `kernel` is contiguous row-major.
template <class S>
DirectCorr<S> direct_problem(const S* in, Index in_ld, const S* kernel, const Conv2dGeometry& g,
                             S* y, Index ldy, Store store) {
  CONVTAPE_ASSERT(g.stride.cols == 1);
  DirectCorr<S> p;
  p.in = in;
  p.in_ld = in_ld;
  p.kernel = kernel;
  p.kernel_rows = g.kernel_rows;
  p.kernel_cols = g.kernel_cols;
  p.row_stride = g.stride.rows;
  p.row_dilation = g.dilation.rows;
  p.col_dilation = g.dilation.cols;
  p.out = y;
  p.out_ld = ldy;
  p.rows = g.out_rows;
  p.cols = g.out_cols;
  p.accumulate = store == Store::add;
  return p;
}

/// y (+)= the correlation, with unit column stride, of x read through padding: sample (r, c) of
/// the plane the kernel sees is x(padded_index(r - g.pad.top, ...), padded_index(c - g.pad.left,
/// ...)) in mode g.mode (offsets may be negative, which crops). Instead of a padded copy of the
/// whole plane, the padded rows of one panel of output rows at a time are built in a buffer that
/// stays in cache, so the input is read from memory once and nothing plane-sized is allocated.
template <class S>
void corr2d_padding_on_the_fly(const ConstRowRef<S>& x, const S* kernel, const Conv2dGeometry& g,
                               S* y, Index ldy, Store store) {
  CONVTAPE_ASSERT(g.stride.cols == 1);
  const Index width = g.out_cols + (g.kernel_cols - 1) * g.dilation.cols;
  const Index halo = (g.kernel_rows - 1) * g.dilation.rows + 1;
  // Buffer columns [c0, c1) are a run of x's row; the others come from `col_source`.
  std::vector<Index> col_source(static_cast<std::size_t>(width));
  for (Index c = 0; c < width; ++c) col_source[c] = padded_index(c - g.pad.left, g.in_cols, g.mode);
  const Index c0 = std::clamp<Index>(g.pad.left, 0, width);
  const Index c1 = std::clamp<Index>(g.pad.left + g.in_cols, c0, width);
  const Index panel = panel_rows<S>(width, halo, g.stride.rows);
  const DirectCorr<S> whole = direct_problem(x.data(), width, kernel, g, y, ldy, store);
  const DirectPlan<S> plan = plan_direct(whole);
  split_rows(g.out_rows, panel, direct_macs(whole), [&](Index begin, Index end) {
    const Scratch<S, ScratchSlot::padded_rows> buffer(
        ((std::min(panel, end - begin) - 1) * g.stride.rows + halo) * width);
    for (Index i0 = begin; i0 < end; i0 += panel) {
      const Index i1 = std::min(end, i0 + panel);
      const Index rows = (i1 - i0 - 1) * g.stride.rows + halo;
      for (Index t = 0; t < rows; ++t) {
        S* row = buffer.data() + t * width;
        const Index source = padded_index(i0 * g.stride.rows + t - g.pad.top, g.in_rows, g.mode);
        if (source < 0) {
          std::fill(row, row + width, S(0));
          continue;
        }
        const S* x_row = x.data() + source * x.outerStride();
        std::copy(x_row + (c0 - g.pad.left), x_row + (c1 - g.pad.left), row + c0);
        for (Index c = 0; c < c0; ++c) row[c] = col_source[c] < 0 ? S(0) : x_row[col_source[c]];
        for (Index c = c1; c < width; ++c) {
          row[c] = col_source[c] < 0 ? S(0) : x_row[col_source[c]];
        }
      }
      DirectCorr<S> p = whole;
      p.in = buffer.data();
      p.out = y + i0 * ldy;
      p.rows = i1 - i0;
      run_direct_rows(p, plan, 0, p.rows);
    }
  });
}

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
  const ContiguousKernel<S> kernel(k);
  direct_corr(direct_problem(xp, ld, kernel.data(), g, y.data(), y.outerStride(), store));
}

/// y += cross-correlation of an already padded plane `xp` (pitch `ld`) with kernel `k`.
template <class S>
void corr2d_padded(const S* xp, Index ld, const ConstRowRef<S>& k, const Conv2dGeometry& g,
                   RowRef<S> y) {
  corr2d_padded<S>(xp, ld, k, g, y, Store::add);
}

/// The kernel rotated by 180 degrees, contiguous. A scalar loop rather than Eigen's reverse(),
/// whose AVX-512 packet path trips GCC 12's uninitialized-variable warnings in user builds.
template <class S>
RowMatrixX<S> flipped_kernel(const ConstRowRef<S>& k) {
  RowMatrixX<S> f(k.rows(), k.cols());
  for (Index a = 0; a < k.rows(); ++a) {
    for (Index b = 0; b < k.cols(); ++b) f(a, b) = k(k.rows() - 1 - a, k.cols() - 1 - b);
  }
  return f;
}

/// The problem of the input gradient with unit stride, as a forward correlation: dy read through
/// zero padding of the dilated kernel's extent minus the forward padding (`top`, `left`; a
/// negative result crops), with the kernel flipped, giving `rows` x `cols` samples.
inline Conv2dGeometry grad_input_as_forward(const Conv2dGeometry& g, Index top, Index left,
                                            Index rows, Index cols) {
  Conv2dGeometry f = g;
  f.in_rows = g.out_rows;
  f.in_cols = g.out_cols;
  f.pad = {(g.kernel_rows - 1) * g.dilation.rows - top, 0,
           (g.kernel_cols - 1) * g.dilation.cols - left, 0};
  f.mode = PaddingMode::zeros;
  f.out_rows = rows;
  f.out_cols = cols;
  return f;
}

/// dxp += the adjoint of `corr2d_padded` with respect to the padded input, applied to `dy`.
/// With unit stride that is the full correlation of dy with the kernel flipped (dilated alike),
/// run by the forward kernel on dy zero-padded, on the fly, by the dilated kernel's extent. A
/// stride scatters dy with gaps, so strided problems take the tap-at-a-time Eigen loop.
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
  const RowMatrixX<S> flipped = flipped_kernel<S>(k);
  const Conv2dGeometry f = grad_input_as_forward(g, 0, 0, g.padded_rows(), g.padded_cols());
  corr2d_padding_on_the_fly<S>(dy, flipped.data(), f, dxp, ld, Store::add);
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
  if (g.stride.cols == 1) {
    const ContiguousKernel<S> kernel(k);
    if (g.has_padding()) {
      corr2d_padding_on_the_fly<S>(x, kernel.data(), g, y.data(), y.outerStride(), store);
    } else {
      direct_corr(direct_problem(x.data(), x.outerStride(), kernel.data(), g, y.data(),
                                 y.outerStride(), store));
    }
    return;
  }
  const PaddedPlane<S> xp(x, g);
  corr2d_padded<S>(xp.data(), xp.ld(), k, g, y, store);
}

/// dx += the gradient of corr2d(x, k) with respect to x, given the output gradient `dy`. With
/// unit stride and zero padding the padded border's gradient is dropped anyway, so only dx's
/// own samples are computed, straight into dx; other padding modes fold the border back.
template <class S>
void corr2d_grad_input_accumulate(const ConstRowRef<S>& dy, const ConstRowRef<S>& k,
                                  const Conv2dGeometry& g, RowRef<S> dx) {
  if (g.stride == Size2(1, 1) && (g.mode == PaddingMode::zeros || !g.has_padding())) {
    const RowMatrixX<S> flipped = flipped_kernel<S>(k);
    const Conv2dGeometry f = grad_input_as_forward(g, g.pad.top, g.pad.left, g.in_rows, g.in_cols);
    corr2d_padding_on_the_fly<S>(dy, flipped.data(), f, dx.data(), dx.outerStride(), Store::add);
    return;
  }
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
