// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Row-major plane kernels shared by `corr2d.hpp` (one plane) and `conv2d.hpp` (many planes):
// padding a plane, folding a padded gradient back (`fold_padding`), and the three tap loops
// (forward, gradient with respect to the input, gradient with respect to the kernel). Not for
// direct inclusion.
//
// The forward tap loop always runs the register-blocked kernels of `corr2d_kernels.hpp`:
// straight from the input when it needs neither padding nor a column stride, otherwise from
// rows gathered a panel at a time (`corr2d_panels`). The input gradient with unit stride is a
// forward correlation (the kernel flipped) and the kernel gradient without a column stride a
// blocked reduction. The strided adjoints take a simple loop that, for each kernel tap (a, b),
// touches the whole output at once through a strided Eigen view of the padded input: correct
// for every stride, but it streams the output once per tap.

#include <algorithm>
#include <numeric>
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
  RowMatrixX<S> padded_x(g.padded_rows(), g.padded_cols());
  padded_x.block(g.pad.top, g.pad.left, g.in_rows, g.in_cols) = x;
  for_each_border_run(g, [&](Index i, Index j0, Index j1) {
    const Index si = padded_index(i - g.pad.top, g.in_rows, g.mode);
    for (Index j = j0; j < j1; ++j) {
      const Index sj = padded_index(j - g.pad.left, g.in_cols, g.mode);
      padded_x(i, j) = (si < 0 || sj < 0) ? S(0) : x(si, sj);
    }
  });
  return padded_x;
}

/// The adjoint of padding: grad_input (in_rows x in_cols, row-major, row pitch `ld`) +=
/// `padded_grad_input`, the gradient of the padded plane (padded_rows x padded_cols, row pitch
/// `padded_ld`), folded back onto the input: the interior directly, each border sample onto the
/// input sample it was read from (nothing for zero padding).
template <class S>
void fold_padding(const S* padded_grad_input, Index padded_ld, const Conv2dGeometry& g,
                  S* grad_input, Index ld) {
  using Plane = Eigen::Map<RowMatrixX<S>, 0, Eigen::OuterStride<>>;
  using ConstPlane = Eigen::Map<const RowMatrixX<S>, 0, Eigen::OuterStride<>>;
  Plane(grad_input, g.in_rows, g.in_cols, Eigen::OuterStride<>(ld)) +=
      ConstPlane(padded_grad_input + g.pad.top * padded_ld + g.pad.left, g.in_rows, g.in_cols,
                 Eigen::OuterStride<>(padded_ld));
  if (g.mode == PaddingMode::zeros) return;
  for_each_border_run(g, [&](Index i, Index j0, Index j1) {
    const Index si = padded_index(i - g.pad.top, g.in_rows, g.mode);
    for (Index j = j0; j < j1; ++j) {
      const Index sj = padded_index(j - g.pad.left, g.in_cols, g.mode);
      if (si >= 0 && sj >= 0) grad_input[si * ld + sj] += padded_grad_input[i * padded_ld + j];
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

/// One column phase of a correlation with column stride s: the kernel columns b0, b0 + step,
/// b0 + 2 step, ... (step = s / gcd(s, d), d the column dilation) all read padded columns
/// congruent to b0 * d modulo s, so gathering those columns, (q0 + c) * s + (b0 * d) % s for
/// c = 0, 1, ..., into a contiguous row turns them into a unit-stride correlation with the
/// sub-kernel of those columns and column dilation d / gcd(s, d). With unit stride there is one
/// phase: the whole kernel on contiguous rows.
template <class S>
struct ColumnPhase {
  RowMatrixX<S> kernel;       ///< kernel rows x taps of this phase, contiguous
  Index col_dilation = 1;     ///< between the phase's taps, in gathered columns
  Index width = 0;            ///< gathered columns
  std::vector<Index> source;  ///< x's column for each gathered column, -1 for a zero
  Index run_begin = 0;        ///< gathered columns [run_begin, run_end) read x's row itself,
  Index run_end = 0;          ///< every stride-th sample from source[run_begin]
};

template <class S>
std::vector<ColumnPhase<S>> column_phases(const S* kernel, const Conv2dGeometry& g) {
  const Index s = g.stride.cols;
  const Index d = g.dilation.cols;
  const Index common = std::gcd(s, d);
  const Index step = s / common;
  std::vector<ColumnPhase<S>> phases;
  for (Index b0 = 0; b0 < std::min(step, g.kernel_cols); ++b0) {
    ColumnPhase<S> ph;
    const Index taps = (g.kernel_cols - b0 + step - 1) / step;
    ph.kernel.resize(g.kernel_rows, taps);
    for (Index a = 0; a < g.kernel_rows; ++a) {
      for (Index t = 0; t < taps; ++t) ph.kernel(a, t) = kernel[a * g.kernel_cols + b0 + t * step];
    }
    ph.col_dilation = d / common;
    ph.width = g.out_cols + (taps - 1) * ph.col_dilation;
    const Index first = b0 * d;  // padded column of gathered column 0 is first + c * s
    ph.source.resize(static_cast<std::size_t>(ph.width));
    for (Index c = 0; c < ph.width; ++c) {
      ph.source[c] = padded_index(first + c * s - g.pad.left, g.in_cols, g.mode);
    }
    // Gathered columns whose source lies inside x: c with 0 <= first + c * s - pad.left < in_cols.
    const auto ceil_div = [s](Index n) { return n >= 0 ? (n + s - 1) / s : -((-n) / s); };
    ph.run_begin = std::clamp<Index>(ceil_div(g.pad.left - first), 0, ph.width);
    ph.run_end =
        std::clamp<Index>(ceil_div(g.pad.left - first + g.in_cols), ph.run_begin, ph.width);
    phases.push_back(std::move(ph));
  }
  return phases;
}

/// Gathers one row of phase `ph` from `x_row` (a row of x) into `row`.
template <class S>
void gather_row(const ColumnPhase<S>& ph, const S* x_row, Index stride, S* row) {
  if (ph.run_end > ph.run_begin) {
    const S* from = x_row + ph.source[ph.run_begin];
    const Index n = ph.run_end - ph.run_begin;
    S* to = row + ph.run_begin;
    // Compile-time strides let the compiler vectorize the common cases.
    switch (stride) {
      case 1:
        std::copy(from, from + n, to);
        break;
      case 2:
        for (Index c = 0; c < n; ++c) to[c] = from[2 * c];
        break;
      case 3:
        for (Index c = 0; c < n; ++c) to[c] = from[3 * c];
        break;
      default:
        for (Index c = 0; c < n; ++c) to[c] = from[c * stride];
    }
  }
  for (Index c = 0; c < ph.run_begin; ++c) row[c] = ph.source[c] < 0 ? S(0) : x_row[ph.source[c]];
  for (Index c = ph.run_end; c < ph.width; ++c) {
    row[c] = ph.source[c] < 0 ? S(0) : x_row[ph.source[c]];
  }
}

/// y (+)= the correlation of x read through padding, with any stride and dilation: sample
/// (r, c) of the plane the kernel sees is x(padded_index(r - g.pad.top, ...),
/// padded_index(c - g.pad.left, ...)) in mode g.mode (offsets may be negative, which crops).
/// One panel of output rows at a time, the rows it reads are gathered, phase by phase (see
/// `ColumnPhase`), into a buffer that stays in cache and handed to the register-blocked kernel:
/// the input is read from memory once and nothing plane-sized is allocated. `kernel` is
/// contiguous row-major.
template <class S>
void corr2d_panels(const ConstRowRef<S>& x, const S* kernel, const Conv2dGeometry& g, S* y,
                   Index ldy, Store store) {
  const std::vector<ColumnPhase<S>> phases = column_phases(kernel, g);
  const Index halo = (g.kernel_rows - 1) * g.dilation.rows + 1;
  Index width = 0;  // of all phases' rows together
  for (const ColumnPhase<S>& ph : phases) width += ph.width;
  const Index panel = panel_rows<S>(width, halo, g.stride.rows);
  std::vector<DirectCorr<S>> problems;
  std::vector<DirectPlan<S>> plans;
  double macs = 0;
  for (const ColumnPhase<S>& ph : phases) {
    Conv2dGeometry gp = g;
    gp.stride.cols = 1;
    gp.dilation.cols = ph.col_dilation;
    gp.kernel_cols = ph.kernel.cols();
    // The first phase assigns (when asked to), the others add to it.
    const Store phase_store = problems.empty() ? store : Store::add;
    problems.push_back(
        direct_problem<S>(nullptr, ph.width, ph.kernel.data(), gp, y, ldy, phase_store));
    plans.push_back(plan_direct(problems.back()));
    macs += direct_macs(problems.back());
  }
  split_rows(g.out_rows, panel, macs, [&](Index begin, Index end) {
    // Each phase's rows in a slice of the buffer; an input row is gathered into all of them at
    // once, while it is in L1.
    const Index most_rows = (std::min(panel, end - begin) - 1) * g.stride.rows + halo;
    const Scratch<S, ScratchSlot::padded_rows> buffer(most_rows * width);
    for (Index i0 = begin; i0 < end; i0 += panel) {
      const Index i1 = std::min(end, i0 + panel);
      const Index rows = (i1 - i0 - 1) * g.stride.rows + halo;
      for (Index t = 0; t < rows; ++t) {
        const Index source = padded_index(i0 * g.stride.rows + t - g.pad.top, g.in_rows, g.mode);
        const S* x_row = source < 0 ? nullptr : x.data() + source * x.outerStride();
        S* slice = buffer.data();
        for (const ColumnPhase<S>& ph : phases) {
          S* row = slice + t * ph.width;
          slice += most_rows * ph.width;
          if (x_row == nullptr) {
            std::fill(row, row + ph.width, S(0));
            continue;
          }
          gather_row(ph, x_row, g.stride.cols, row);
        }
      }
      const S* slice = buffer.data();
      for (std::size_t f = 0; f < phases.size(); ++f) {
        DirectCorr<S> p = problems[f];
        p.in = slice;
        p.out = y + i0 * ldy;
        p.rows = i1 - i0;
        run_direct_rows(p, plans[f], 0, p.rows);
        slice += most_rows * phases[f].width;
      }
    }
  });
}

/// y (+)= cross-correlation of an already padded plane `padded_x` (pitch `ld`) with kernel `k`, by
/// the register-blocked kernel of `corr2d_kernels.hpp`: directly with unit column stride, through
/// gathered column phases (`corr2d_panels`) otherwise.
template <class S>
void corr2d_from_padded(const S* padded_x, Index ld, const ConstRowRef<S>& k,
                        const Conv2dGeometry& g, RowRef<S> y, Store store) {
  const ContiguousKernel<S> kernel(k);
  if (g.stride.cols == 1) {
    direct_corr(direct_problem(padded_x, ld, kernel.data(), g, y.data(), y.outerStride(), store));
    return;
  }
  const Eigen::Map<const RowMatrixX<S>, 0, Eigen::OuterStride<>> plane(
      padded_x, g.padded_rows(), g.padded_cols(), Eigen::OuterStride<>(ld));
  Conv2dGeometry unpadded = g;
  unpadded.in_rows = g.padded_rows();
  unpadded.in_cols = g.padded_cols();
  unpadded.pad = {};
  corr2d_panels<S>(plane, kernel.data(), unpadded, y.data(), y.outerStride(), store);
}

/// y += cross-correlation of an already padded plane `padded_x` (pitch `ld`) with kernel `k`.
template <class S>
void corr2d_from_padded(const S* padded_x, Index ld, const ConstRowRef<S>& k,
                        const Conv2dGeometry& g, RowRef<S> y) {
  corr2d_from_padded<S>(padded_x, ld, k, g, y, Store::add);
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

/// padded_grad_input += the adjoint of `corr2d_from_padded` with respect to the padded input,
/// applied to the output gradient dy. With unit stride that is the full correlation of dy with the
/// kernel flipped (dilated alike), run by the forward kernel on dy zero-padded, on the fly, by the
/// dilated kernel's extent. A stride scatters dy with gaps, so strided problems take the
/// tap-at-a-time Eigen loop.
template <class S>
void corr2d_grad_padded_input(const ConstRowRef<S>& grad_output, const ConstRowRef<S>& k,
                              const Conv2dGeometry& g, S* padded_grad_input, Index ld) {
  if (g.stride != Size2(1, 1)) {
    for (Index a = 0; a < g.kernel_rows; ++a) {
      for (Index b = 0; b < g.kernel_cols; ++b) {
        const S tap = k(a, b);
        with_tap_view(padded_grad_input, ld, g, a, b,
                      [&](auto&& view) { view += tap * grad_output; });
      }
    }
    return;
  }
  const RowMatrixX<S> flipped = flipped_kernel<S>(k);
  const Conv2dGeometry f = grad_input_as_forward(g, 0, 0, g.padded_rows(), g.padded_cols());
  corr2d_panels<S>(grad_output, flipped.data(), f, padded_grad_input, ld, Store::add);
}

/// grad_kernel += the adjoint of `corr2d_from_padded` with respect to the kernel, applied to the
/// output gradient: one
/// reduction per tap, done by `kernel_grad_corr` with unit column stride and by the
/// tap-at-a-time Eigen loop otherwise.
template <class S>
void corr2d_grad_kernel_from_padded(const S* padded_x, Index ld, const ConstRowRef<S>& grad_output,
                                    const Conv2dGeometry& g, RowRef<S> grad_kernel) {
  if (g.stride.cols != 1) {
    for (Index a = 0; a < g.kernel_rows; ++a) {
      for (Index b = 0; b < g.kernel_cols; ++b) {
        with_tap_view(padded_x, ld, g, a, b, [&](const auto& view) {
          grad_kernel(a, b) += view.cwiseProduct(grad_output).sum();
        });
      }
    }
    return;
  }
  KernelGradCorr<S> p;
  p.in = padded_x;
  p.in_ld = ld;
  p.grad_output = grad_output.data();
  p.grad_output_ld = grad_output.outerStride();
  p.rows = g.out_rows;
  p.cols = g.out_cols;
  p.kernel_rows = g.kernel_rows;
  p.kernel_cols = g.kernel_cols;
  p.row_stride = g.stride.rows;
  p.row_dilation = g.dilation.rows;
  p.col_dilation = g.dilation.cols;
  p.grad_kernel = grad_kernel.data();
  p.grad_kernel_ld = grad_kernel.outerStride();
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

/// y (+)= corr2d(x, k) for geometry `g`: straight from x when it needs neither padding nor a
/// column stride, else through `corr2d_panels`.
template <class S>
void corr2d_accumulate(const ConstRowRef<S>& x, const ConstRowRef<S>& k, const Conv2dGeometry& g,
                       RowRef<S> y, Store store = Store::add) {
  const ContiguousKernel<S> kernel(k);
  if (g.stride.cols == 1 && !g.has_padding()) {
    direct_corr(direct_problem(x.data(), x.outerStride(), kernel.data(), g, y.data(),
                               y.outerStride(), store));
  } else {
    corr2d_panels<S>(x, kernel.data(), g, y.data(), y.outerStride(), store);
  }
}

/// grad_input += the gradient of corr2d(x, k) with respect to x, given the output gradient
/// `grad_output`. With unit stride and zero padding the padded border's gradient is dropped
/// anyway, so only the input's own samples are computed, straight into grad_input; other padding
/// modes fold the border back.
template <class S>
void corr2d_grad_input_accumulate(const ConstRowRef<S>& grad_output, const ConstRowRef<S>& k,
                                  const Conv2dGeometry& g, RowRef<S> grad_input) {
  if (g.stride == Size2(1, 1) && (g.mode == PaddingMode::zeros || !g.has_padding())) {
    const RowMatrixX<S> flipped = flipped_kernel<S>(k);
    const Conv2dGeometry f = grad_input_as_forward(g, g.pad.top, g.pad.left, g.in_rows, g.in_cols);
    corr2d_panels<S>(grad_output, flipped.data(), f, grad_input.data(), grad_input.outerStride(),
                     Store::add);
    return;
  }
  if (!g.has_padding()) {
    corr2d_grad_padded_input<S>(grad_output, k, g, grad_input.data(), grad_input.outerStride());
    return;
  }
  RowMatrixX<S> padded_grad_input = RowMatrixX<S>::Zero(g.padded_rows(), g.padded_cols());
  corr2d_grad_padded_input<S>(grad_output, k, g, padded_grad_input.data(),
                              padded_grad_input.outerStride());
  fold_padding<S>(padded_grad_input.data(), padded_grad_input.outerStride(), g, grad_input.data(),
                  grad_input.outerStride());
}

/// grad_kernel += the gradient of corr2d(x, k) with respect to k, given the output gradient
/// `grad_output`.
template <class S>
void corr2d_grad_kernel_accumulate(const ConstRowRef<S>& x, const ConstRowRef<S>& grad_output,
                                   const Conv2dGeometry& g, RowRef<S> grad_kernel) {
  const PaddedPlane<S> padded_x(x, g);
  corr2d_grad_kernel_from_padded<S>(padded_x.data(), padded_x.ld(), grad_output, g, grad_kernel);
}

}  // namespace convtape::detail

/// The plane kernels' explicit instantiations for scalar S, after `prefix` (`template` or
/// `extern template`): see convtape/instantiate.hpp.
#define CONVTAPE_DETAIL_INSTANTIATE_PLANE(prefix, S)                                          \
  prefix void convtape::detail::corr2d_accumulate<S>(                                         \
      const convtape::detail::ConstRowRef<S>&, const convtape::detail::ConstRowRef<S>&,       \
      const convtape::Conv2dGeometry&, convtape::detail::RowRef<S>, convtape::detail::Store); \
  prefix void convtape::detail::corr2d_grad_input_accumulate<S>(                              \
      const convtape::detail::ConstRowRef<S>&, const convtape::detail::ConstRowRef<S>&,       \
      const convtape::Conv2dGeometry&, convtape::detail::RowRef<S>);                          \
  prefix void convtape::detail::corr2d_grad_kernel_accumulate<S>(                             \
      const convtape::detail::ConstRowRef<S>&, const convtape::detail::ConstRowRef<S>&,       \
      const convtape::Conv2dGeometry&, convtape::detail::RowRef<S>);

CONVTAPE_DETAIL_EXTERN(CONVTAPE_DETAIL_INSTANTIATE_PLANE)
