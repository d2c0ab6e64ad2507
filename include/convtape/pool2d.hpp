// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// 2-D pooling of NCHW tensors with PyTorch's semantics, forward and backward: `max_pool2d`,
/// `avg_pool2d`, `adaptive_avg_pool2d`, `global_avg_pool2d`. Every (n, c) plane is pooled on its
/// own; x is (N, C, H, W) and the result (N, C, out_rows, out_cols).
///
/// Windows. Along each dimension, window i starts at i * stride - padding and spans `kernel`
/// samples; the output extent is
///
///     out = floor((in + 2 * padding - kernel) / stride) + 1        (ceil_mode: ceil instead,
///                                                                  less one if the last window
///                                                                  would start in the padding
///                                                                  on the far side)
///
/// so every window holds at least one sample of the input. `max_pool2d` treats the padding as
/// -infinity: each output is the largest sample of its window, and its gradient goes to the
/// first largest sample in row-major order within the window (a NaN counts as larger than
/// anything, and a later NaN replaces an earlier one, as in PyTorch's CPU kernel). `avg_pool2d`
/// divides the window's sum by the window's size, the padding included (`count_include_pad`,
/// PyTorch's default), where a `ceil_mode` window that runs past the padding counts only up to
/// its end; with `.count_include_pad(false)` it divides by the number of input samples in the
/// window. `adaptive_avg_pool2d` averages bin i of [floor(i * in / out), ceil((i + 1) * in / out)).
///
/// Speed: the common 2x2, stride-2, unpadded pooling runs as Eigen expressions over whole output
/// rows; every other shape as a loop over each window. Compiled with OpenMP, the planes run in
/// parallel (`detail/parallel.hpp`).

#include <algorithm>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/detail/parallel.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// Options of `max_pool2d` and `avg_pool2d`, chained as libtorch's:
/// `Pool2dOptions().stride(2).padding(1).ceil_mode(true)`. Values are checked where they are
/// used (a bad one throws `shape_error` naming that function).
class Pool2dOptions {
 public:
  ///@{
  /// Step between windows, per dimension: one number for both, a `Size2`, or (rows, cols). By
  /// default (and when set to 0x0) the stride is the kernel, as in PyTorch.
  Pool2dOptions& stride(Size2 s) {
    stride_ = s;
    return *this;
  }
  Pool2dOptions& stride(Index rows, Index cols) { return stride(Size2(rows, cols)); }
  ///@}
  /// The stride set, or 0x0 for "the kernel" (see `stride(Size2)`).
  Size2 stride() const { return stride_; }

  ///@{
  /// Implicit padding on both sides of each dimension (default 0): `rows` above and below,
  /// `cols` left and right. It may be at most half the kernel, as in PyTorch.
  Pool2dOptions& padding(Size2 p) {
    padding_ = p;
    return *this;
  }
  Pool2dOptions& padding(Index rows, Index cols) { return padding(Size2(rows, cols)); }
  Size2 padding() const { return padding_; }
  ///@}

  ///@{
  /// Whether the output extent rounds up instead of down (default false), so that a last,
  /// partial window is kept as long as it starts inside the input or its leading padding.
  Pool2dOptions& ceil_mode(bool on) {
    ceil_mode_ = on;
    return *this;
  }
  bool ceil_mode() const { return ceil_mode_; }
  ///@}

  ///@{
  /// `avg_pool2d` only: whether padding samples count in the divisor (default true, as PyTorch).
  Pool2dOptions& count_include_pad(bool on) {
    count_include_pad_ = on;
    return *this;
  }
  bool count_include_pad() const { return count_include_pad_; }
  ///@}

 private:
  Size2 stride_{0, 0};
  Size2 padding_{0, 0};
  bool ceil_mode_ = false;
  bool count_include_pad_ = true;
};

namespace detail {

/// One pooling's plane shapes, resolved and checked once (see the file comment for the windows).
struct Pool2dGeometry {
  Index in_rows = 0;   ///< H
  Index in_cols = 0;   ///< W
  Size2 kernel;        ///< window extent
  Size2 stride;        ///< step between windows (the kernel when not set)
  Size2 padding;       ///< implicit padding on both sides
  Index out_rows = 0;  ///< output extent along the rows
  Index out_cols = 0;  ///< output extent along the columns
  bool count_include_pad = true;

  /// Whether the fast path applies: 2x2 windows with stride 2 and no padding, all inside the
  /// input (not so for a `ceil_mode` window past an odd extent).
  bool is_2x2() const {
    return kernel == Size2(2, 2) && stride == Size2(2, 2) && padding == Size2(0, 0) &&
           2 * out_rows <= in_rows && 2 * out_cols <= in_cols;
  }
};

/// One dimension of a pooling window: the samples [begin, end) of the input it covers, and the
/// extent it counts with its padding (`avg_pool2d` with `count_include_pad`).
struct PoolSpan {
  Index begin;
  Index end;
  Index padded;
};

/// Window i of one dimension, as PyTorch's kernels compute it.
inline PoolSpan pool_span(Index i, Index stride, Index padding, Index kernel, Index in) {
  const Index start = i * stride - padding;
  const Index padded_end = std::min(start + kernel, in + padding);
  return {std::max<Index>(start, 0), std::min(padded_end, in), padded_end - start};
}

/// Output extent of one dimension, or -1 when no window fits (PyTorch's `pooling_output_shape`).
inline Index pool_output_extent(Index in, Index kernel, Index stride, Index padding, bool ceil) {
  const Index span = in + 2 * padding - kernel + (ceil ? stride - 1 : 0);
  if (span < 0) return -1;
  Index out = span / stride + 1;
  if (ceil && (out - 1) * stride >= in + padding) --out;
  return out;
}

/// Checks a pooling's options against a plane of in_rows x in_cols and resolves them.
/// @throws shape_error naming `fn` if the plane or kernel is empty, a plane extent above 2^32
///   (as conv2d), the stride not positive, the padding negative or more than half the kernel, an
///   option above 2^30, or no window fits.
inline Pool2dGeometry pool2d_geometry(Index in_rows, Index in_cols, Size2 kernel,
                                      const Pool2dOptions& opts, const char* fn) {
  if (in_rows <= 0 || in_cols <= 0) {
    std::ostringstream os;
    os << "input plane is empty (" << in_rows << "x" << in_cols << ")";
    fail(fn, os.str());
  }
  // Bounded extents (and options, below) keep the output extent's arithmetic from overflowing.
  if (in_rows > kMaxPlaneElements || in_cols > kMaxPlaneElements) {
    std::ostringstream os;
    os << "input plane " << in_rows << "x" << in_cols << " has an extent above "
       << kMaxPlaneElements;
    fail(fn, os.str());
  }
  check_option_range(fn, "kernel", kernel, 1);
  Pool2dGeometry g;
  g.in_rows = in_rows;
  g.in_cols = in_cols;
  g.kernel = kernel;
  g.stride = opts.stride() == Size2(0, 0) ? kernel : opts.stride();
  check_option_range(fn, "stride", g.stride, 1);
  g.padding = opts.padding();
  check_option_range(fn, "padding", g.padding, 0);
  if (2 * g.padding.rows > kernel.rows || 2 * g.padding.cols > kernel.cols) {
    std::ostringstream os;
    os << "padding " << g.padding << " must be at most half the kernel " << kernel;
    fail(fn, os.str());
  }
  g.count_include_pad = opts.count_include_pad();
  g.out_rows =
      pool_output_extent(in_rows, kernel.rows, g.stride.rows, g.padding.rows, opts.ceil_mode());
  g.out_cols =
      pool_output_extent(in_cols, kernel.cols, g.stride.cols, g.padding.cols, opts.ceil_mode());
  if (g.out_rows < 1 || g.out_cols < 1) {
    std::ostringstream os;
    os << "kernel " << kernel << " is larger than the input " << in_rows << "x" << in_cols;
    if (g.padding != Size2(0, 0)) os << " with padding " << g.padding;
    fail(fn, os.str());
  }
  return g;
}

/// `pool2d_geometry` of x's planes, after checking that x is not empty.
template <class S>
Pool2dGeometry pool2d_geometry(const Tensor<S>& x, Size2 kernel, const Pool2dOptions& opts,
                               const char* fn) {
  if (x.empty()) fail(fn, "x is empty, shape " + shape_str(x.shape()));
  return pool2d_geometry(x.dim(2), x.dim(3), kernel, opts, fn);
}

/// Output shape of a pooling of x with geometry g.
template <class S>
Shape4 pool2d_output_shape(const Tensor<S>& x, const Pool2dGeometry& g) {
  return {x.dim(0), x.dim(1), g.out_rows, g.out_cols};
}

/// Whether a later sample `v` of a window replaces the maximum `m` so far: if larger or NaN
/// (PyTorch's rule), so that ties keep the first.
template <class S>
bool replaces_max(const S& v, const S& m) {
  return v > m || Eigen::numext::isnan(v);
}

/// Scratch of one thread for the 2x2 max-pooling rows.
template <class S>
struct MaxPool2x2Scratch {
  Eigen::Array<S, Eigen::Dynamic, 1> top, bottom;                 // pair maxima
  Eigen::Array<bool, Eigen::Dynamic, 1> top_right, bottom_right;  // right sample of the pair won
  Eigen::Array<bool, Eigen::Dynamic, 1> down;                     // bottom pair won
  Eigen::Array<Index, Eigen::Dynamic, 1> even;                    // 0, 2, 4, ...
};

/// Max pooling of one plane (x: in_rows x in_cols, row-major) into y, with the flat input
/// position of each maximum in `indices` when `kIndices`.
template <class S, bool kIndices>
void max_pool2d_plane(const S* x, const Pool2dGeometry& g, S* y, Index* indices,
                      MaxPool2x2Scratch<S>& scratch) {
  const Index in_cols = g.in_cols;
  if (g.is_2x2()) {
    using Array = Eigen::Array<S, Eigen::Dynamic, 1>;
    using Pairs = Eigen::Map<const Array, 0, Eigen::InnerStride<2>>;
    const Index n = g.out_cols;
    MaxPool2x2Scratch<S>& w = scratch;
    if (kIndices && w.even.size() != n) {
      w.even = Eigen::Array<Index, Eigen::Dynamic, 1>::LinSpaced(n, 0, 2 * (n - 1));
    }
    for (Index r = 0; r < g.out_rows; ++r) {
      const S* top = x + 2 * r * in_cols;
      const S* bottom = top + in_cols;
      const Pairs t0(top, n), t1(top + 1, n), b0(bottom, n), b1(bottom + 1, n);
      // The maximum of each pair of a row, then of the two pairs: under `replaces_max` (a later
      // NaN wins, a tie keeps the earlier sample) this reduction picks the sample the
      // row-major scan of the general loop picks.
      w.top_right = (t1 > t0) || t1.isNaN();
      w.bottom_right = (b1 > b0) || b1.isNaN();
      w.top = w.top_right.select(t1, t0);
      w.bottom = w.bottom_right.select(b1, b0);
      w.down = (w.bottom > w.top) || w.bottom.isNaN();
      Eigen::Map<Array>(y + r * n, n) = w.down.select(w.bottom, w.top);
      if constexpr (kIndices) {
        Eigen::Map<Eigen::Array<Index, Eigen::Dynamic, 1>>(indices + r * n, n) =
            w.even + 2 * r * in_cols +
            w.down.select(in_cols + w.bottom_right.template cast<Index>(),
                          w.top_right.template cast<Index>());
      }
    }
    return;
  }
  for (Index i = 0; i < g.out_rows; ++i) {
    const PoolSpan rows = pool_span(i, g.stride.rows, g.padding.rows, g.kernel.rows, g.in_rows);
    for (Index j = 0; j < g.out_cols; ++j) {
      const PoolSpan cols = pool_span(j, g.stride.cols, g.padding.cols, g.kernel.cols, in_cols);
      Index best = rows.begin * in_cols + cols.begin;
      S m = x[best];
      for (Index h = rows.begin; h < rows.end; ++h) {
        for (Index c = cols.begin; c < cols.end; ++c) {
          const S v = x[h * in_cols + c];
          if (replaces_max(v, m)) {
            m = v;
            best = h * in_cols + c;
          }
        }
      }
      y[i * g.out_cols + j] = m;
      if constexpr (kIndices) indices[i * g.out_cols + j] = best;
    }
  }
}

/// Divisor of `avg_pool2d`'s window (PyTorch's rule, see the file comment).
inline Index avg_pool_divisor(const PoolSpan& rows, const PoolSpan& cols, bool count_include_pad) {
  return count_include_pad ? rows.padded * cols.padded
                           : (rows.end - rows.begin) * (cols.end - cols.begin);
}

/// Average pooling of one plane into y.
template <class S>
void avg_pool2d_plane(const S* x, const Pool2dGeometry& g, S* y) {
  const Index in_cols = g.in_cols;
  if (g.is_2x2()) {
    using Array = Eigen::Array<S, Eigen::Dynamic, 1>;
    using Pairs = Eigen::Map<const Array, 0, Eigen::InnerStride<2>>;
    const Index n = g.out_cols;
    for (Index r = 0; r < g.out_rows; ++r) {
      const S* top = x + 2 * r * in_cols;
      const S* bottom = top + in_cols;
      Eigen::Map<Array>(y + r * n, n) =
          (Pairs(top, n) + Pairs(top + 1, n) + Pairs(bottom, n) + Pairs(bottom + 1, n)) / S(4);
    }
    return;
  }
  for (Index i = 0; i < g.out_rows; ++i) {
    const PoolSpan rows = pool_span(i, g.stride.rows, g.padding.rows, g.kernel.rows, g.in_rows);
    for (Index j = 0; j < g.out_cols; ++j) {
      const PoolSpan cols = pool_span(j, g.stride.cols, g.padding.cols, g.kernel.cols, in_cols);
      S sum(0);
      for (Index h = rows.begin; h < rows.end; ++h) {
        for (Index c = cols.begin; c < cols.end; ++c) sum += x[h * in_cols + c];
      }
      y[i * g.out_cols + j] =
          sum / static_cast<S>(avg_pool_divisor(rows, cols, g.count_include_pad));
    }
  }
}

/// Gradient of `avg_pool2d_plane`: each output gradient spread evenly over its window, added
/// into dx (zero on entry).
template <class S>
void avg_pool2d_backward_plane(const S* dy, const Pool2dGeometry& g, S* dx) {
  const Index in_cols = g.in_cols;
  if (g.is_2x2()) {
    using Array = Eigen::Array<S, Eigen::Dynamic, 1>;
    using Pairs = Eigen::Map<Array, 0, Eigen::InnerStride<2>>;
    const Index n = g.out_cols;
    for (Index r = 0; r < g.out_rows; ++r) {
      S* top = dx + 2 * r * in_cols;
      S* bottom = top + in_cols;
      Pairs t0(top, n);
      t0 = Eigen::Map<const Array>(dy + r * n, n) / S(4);
      Pairs(top + 1, n) = t0;
      Pairs(bottom, n) = t0;
      Pairs(bottom + 1, n) = t0;
    }
    return;
  }
  for (Index i = 0; i < g.out_rows; ++i) {
    const PoolSpan rows = pool_span(i, g.stride.rows, g.padding.rows, g.kernel.rows, g.in_rows);
    for (Index j = 0; j < g.out_cols; ++j) {
      const PoolSpan cols = pool_span(j, g.stride.cols, g.padding.cols, g.kernel.cols, in_cols);
      const S share = dy[i * g.out_cols + j] /
                      static_cast<S>(avg_pool_divisor(rows, cols, g.count_include_pad));
      for (Index h = rows.begin; h < rows.end; ++h) {
        for (Index c = cols.begin; c < cols.end; ++c) dx[h * in_cols + c] += share;
      }
    }
  }
}

/// Runs `f(plane, thread)` for every (n, c) plane of an (N, C, ., .) tensor, the planes in
/// parallel when compiled with OpenMP.
template <class F>
void for_each_plane(const Shape4& shape, F&& f) {
  parallel_for(shape[0] * shape[1], available_threads(), std::forward<F>(f));
}

/// `max_pool2d` with or without the indices of the maxima.
template <class S, bool kIndices>
Tensor<S> max_pool2d_planes(const Tensor<S>& x, const Pool2dGeometry& g, Tensor<Index>* indices) {
  const Shape4 shape = pool2d_output_shape(x, g);
  Tensor<S> y = uninitialized_tensor<S>(shape);  // every element is written
  if constexpr (kIndices) *indices = uninitialized_tensor<Index>(shape);
  const Index in_plane = g.in_rows * g.in_cols;
  const Index out_plane = g.out_rows * g.out_cols;
  std::vector<MaxPool2x2Scratch<S>> scratch(static_cast<std::size_t>(available_threads()));
  for_each_plane(shape, [&](Index p, int thread) {
    max_pool2d_plane<S, kIndices>(x.data() + p * in_plane, g, y.data() + p * out_plane,
                                  kIndices ? indices->data() + p * out_plane : nullptr,
                                  scratch[static_cast<std::size_t>(thread)]);
  });
  return y;
}

/// Bins of `adaptive_avg_pool2d` along one dimension: [floor(i * in / out),
/// ceil((i + 1) * in / out)) for i < out (PyTorch's).
inline PoolSpan adaptive_span(Index i, Index in, Index out) {
  const Index begin = i * in / out;
  const Index end = ((i + 1) * in + out - 1) / out;
  return {begin, end, end - begin};
}

/// Checks `adaptive_avg_pool2d`'s arguments: x not empty, the output extents positive, at most
/// 2^30 (`kMaxOptionValue`) and their product with the input extents representable.
inline void check_adaptive_pool(const char* fn, const Shape4& x, Size2 out) {
  if (x[0] * x[1] * x[2] * x[3] == 0) fail(fn, "x is empty, shape " + shape_str(x));
  check_option_range(fn, "output size", out, 1);
  // (i + 1) * in must not overflow: in * out below 2^62.
  if (x[2] > (Index(1) << 62) / out.rows || x[3] > (Index(1) << 62) / out.cols) {
    std::ostringstream os;
    os << "output size " << out << " of an input plane " << x[2] << "x" << x[3]
       << " is beyond the bin arithmetic (extent products above 2^62)";
    fail(fn, os.str());
  }
  if (double(x[0]) * double(x[1]) * double(out.rows) * double(out.cols) >
      double(kMaxTensorElements)) {
    std::ostringstream os;
    os << "output size " << out << " of x " << shape_str(x) << " gives more than "
       << kMaxTensorElements << " elements";
    fail(fn, os.str());
  }
}

/// `max_pool2d_backward` without its checks: indices are valid positions in the input planes.
template <class S>
Tensor<S> max_pool2d_scatter(const Tensor<S>& grad_out, const Tensor<Index>& indices,
                             const Shape4& input_shape) {
  Tensor<S> dx(input_shape);
  const Index in_plane = input_shape[2] * input_shape[3];
  const Index out_plane = grad_out.dim(2) * grad_out.dim(3);
  for_each_plane(grad_out.shape(), [&](Index p, int) {
    const S* dy = grad_out.data() + p * out_plane;
    const Index* at = indices.data() + p * out_plane;
    S* d = dx.data() + p * in_plane;
    for (Index j = 0; j < out_plane; ++j) d[at[j]] += dy[j];
  });
  return dx;
}

/// `avg_pool2d_backward` without its checks: grad_out has the output shape of geometry g.
template <class S>
Tensor<S> avg_pool2d_backward_planes(const Tensor<S>& grad_out, const Pool2dGeometry& g,
                                     const Shape4& input_shape) {
  Tensor<S> dx(input_shape);
  const Index in_plane = g.in_rows * g.in_cols;
  const Index out_plane = g.out_rows * g.out_cols;
  for_each_plane(grad_out.shape(), [&](Index p, int) {
    avg_pool2d_backward_plane(grad_out.data() + p * out_plane, g, dx.data() + p * in_plane);
  });
  return dx;
}

/// `adaptive_avg_pool2d_backward` without its checks: each output gradient spread evenly over
/// its bin.
template <class S>
Tensor<S> adaptive_avg_pool2d_scatter(const Tensor<S>& grad_out, const Shape4& input_shape) {
  Tensor<S> dx(input_shape);
  const Index in_rows = input_shape[2];
  const Index in_cols = input_shape[3];
  const Index out_rows = grad_out.dim(2);
  const Index out_cols = grad_out.dim(3);
  for_each_plane(grad_out.shape(), [&](Index p, int) {
    const S* dy = grad_out.data() + p * out_rows * out_cols;
    S* d = dx.data() + p * in_rows * in_cols;
    for (Index i = 0; i < out_rows; ++i) {
      const PoolSpan rows = adaptive_span(i, in_rows, out_rows);
      for (Index j = 0; j < out_cols; ++j) {
        const PoolSpan cols = adaptive_span(j, in_cols, out_cols);
        const S share = dy[i * out_cols + j] / static_cast<S>(rows.padded * cols.padded);
        for (Index h = rows.begin; h < rows.end; ++h) {
          for (Index c = cols.begin; c < cols.end; ++c) d[h * in_cols + c] += share;
        }
      }
    }
  });
  return dx;
}

// Messages built once here rather than in every instantiation.
[[noreturn]] inline void fail_grad_out_shape(const char* fn, const Shape4& got,
                                             const Shape4& want) {
  fail(fn, "grad_out has shape " + shape_str(got) + " but the output has shape " + shape_str(want));
}

}  // namespace detail

/// Output extent of `max_pool2d` / `avg_pool2d` over an `in`-sized plane.
/// @throws shape_error as those functions do for a plane of that size.
inline Size2 pool2d_output_size(Size2 in, Size2 kernel, const Pool2dOptions& opts = {}) {
  const detail::Pool2dGeometry g =
      detail::pool2d_geometry(in.rows, in.cols, kernel, opts, "pool2d_output_size");
  return {g.out_rows, g.out_cols};
}

/// The result of `max_pool2d_with_indices`.
template <class S>
struct MaxPool2dResult {
  Tensor<S> output;       ///< (N, C, out_rows, out_cols), as `max_pool2d`
  Tensor<Index> indices;  ///< same shape: flat position h * W + w of each maximum in its plane
};

/// Max pooling (PyTorch's `max_pool2d`) of x (N, C, H, W) with `kernel`-sized windows; stride,
/// padding (as -infinity) and ceil_mode from `opts` (see the file comment).
/// @returns (N, C, out_rows, out_cols).
/// @throws shape_error if x is empty, the kernel or stride is not positive, the padding is
///   negative or more than half the kernel, an option exceeds 2^30, or the kernel is larger
///   than the padded input.
template <class S>
Tensor<S> max_pool2d(const Tensor<S>& x, Size2 kernel, const Pool2dOptions& opts = {}) {
  const detail::Pool2dGeometry g = detail::pool2d_geometry(x, kernel, opts, "max_pool2d");
  return detail::max_pool2d_planes<S, false>(x, g, nullptr);
}

/// `max_pool2d`, also returning where each maximum is (PyTorch's `return_indices=True`): the
/// first largest sample of its window in row-major order, as a flat position h * W + w within
/// its (n, c) plane. `max_pool2d_backward` takes them.
/// @throws shape_error as `max_pool2d`.
template <class S>
MaxPool2dResult<S> max_pool2d_with_indices(const Tensor<S>& x, Size2 kernel,
                                           const Pool2dOptions& opts = {}) {
  const detail::Pool2dGeometry g =
      detail::pool2d_geometry(x, kernel, opts, "max_pool2d_with_indices");
  MaxPool2dResult<S> r;
  r.output = detail::max_pool2d_planes<S, true>(x, g, &r.indices);
  return r;
}

/// Gradient of `max_pool2d` with respect to x: each output gradient added to the input sample
/// its index names. grad_out and indices are (N, C, out_rows, out_cols); the result has
/// `input_shape` (x's shape).
/// @throws shape_error if grad_out and indices differ in shape, their N or C differs from
///   `input_shape`'s, or an index is outside [0, H * W).
template <class S>
Tensor<S> max_pool2d_backward(const Tensor<S>& grad_out, const Tensor<Index>& indices,
                              const Shape4& input_shape) {
  constexpr const char* fn = "max_pool2d_backward";
  detail::checked_numel(input_shape, fn);
  if (grad_out.shape() != indices.shape()) {
    detail::fail(fn, "grad_out has shape " + detail::shape_str(grad_out.shape()) +
                         " but indices have shape " + detail::shape_str(indices.shape()));
  }
  if (grad_out.dim(0) != input_shape[0] || grad_out.dim(1) != input_shape[1]) {
    detail::fail(fn, "grad_out " + detail::shape_str(grad_out.shape()) +
                         " does not have the batch and channels of the input " +
                         detail::shape_str(input_shape));
  }
  const Index in_plane = input_shape[2] * input_shape[3];
  if (indices.size() != 0 &&
      (indices.flat().minCoeff() < 0 || indices.flat().maxCoeff() >= in_plane)) {
    detail::fail(fn, "an index is outside the input plane [0, " + std::to_string(in_plane) +
                         ") of " + detail::shape_str(input_shape));
  }
  return detail::max_pool2d_scatter(grad_out, indices, input_shape);
}

/// Average pooling (PyTorch's `avg_pool2d`) of x (N, C, H, W) with `kernel`-sized windows;
/// stride, zero padding, ceil_mode and count_include_pad from `opts` (see the file comment).
/// @returns (N, C, out_rows, out_cols).
/// @throws shape_error as `max_pool2d`.
template <class S>
Tensor<S> avg_pool2d(const Tensor<S>& x, Size2 kernel, const Pool2dOptions& opts = {}) {
  const detail::Pool2dGeometry g = detail::pool2d_geometry(x, kernel, opts, "avg_pool2d");
  const Shape4 shape = detail::pool2d_output_shape(x, g);
  Tensor<S> y = detail::uninitialized_tensor<S>(shape);  // every element is written
  const Index in_plane = g.in_rows * g.in_cols;
  const Index out_plane = g.out_rows * g.out_cols;
  detail::for_each_plane(shape, [&](Index p, int) {
    detail::avg_pool2d_plane(x.data() + p * in_plane, g, y.data() + p * out_plane);
  });
  return y;
}

/// Gradient of `avg_pool2d(x, kernel, opts)` with respect to x, given grad_out (the output's
/// shape); x's shape is `input_shape`.
/// @throws shape_error as `avg_pool2d` for `input_shape`, and if grad_out is not the output's
///   shape.
template <class S>
Tensor<S> avg_pool2d_backward(const Tensor<S>& grad_out, const Shape4& input_shape, Size2 kernel,
                              const Pool2dOptions& opts = {}) {
  constexpr const char* fn = "avg_pool2d_backward";
  if (detail::checked_numel(input_shape, fn) == 0) {
    detail::fail(fn, "x is empty, shape " + detail::shape_str(input_shape));
  }
  const detail::Pool2dGeometry g =
      detail::pool2d_geometry(input_shape[2], input_shape[3], kernel, opts, fn);
  const Shape4 out{input_shape[0], input_shape[1], g.out_rows, g.out_cols};
  if (grad_out.shape() != out) detail::fail_grad_out_shape(fn, grad_out.shape(), out);
  return detail::avg_pool2d_backward_planes(grad_out, g, input_shape);
}

/// Adaptive average pooling (PyTorch's `adaptive_avg_pool2d`): x (N, C, H, W) to
/// (N, C, output_size.rows, output_size.cols), output (i, j) the mean of rows
/// [floor(i * H / rows), ceil((i + 1) * H / rows)) and the columns likewise. Any positive output
/// size works, larger than the input too (bins then repeat samples).
/// @throws shape_error if x is empty or an output extent is not in [1, 2^30].
template <class S>
Tensor<S> adaptive_avg_pool2d(const Tensor<S>& x, Size2 output_size) {
  detail::check_adaptive_pool("adaptive_avg_pool2d", x.shape(), output_size);
  const Shape4 shape{x.dim(0), x.dim(1), output_size.rows, output_size.cols};
  Tensor<S> y = detail::uninitialized_tensor<S>(shape);  // every element is written
  const Index in_rows = x.dim(2);
  const Index in_cols = x.dim(3);
  detail::for_each_plane(shape, [&](Index p, int) {
    const S* xp = x.data() + p * in_rows * in_cols;
    S* yp = y.data() + p * output_size.rows * output_size.cols;
    for (Index i = 0; i < output_size.rows; ++i) {
      const detail::PoolSpan rows = detail::adaptive_span(i, in_rows, output_size.rows);
      for (Index j = 0; j < output_size.cols; ++j) {
        const detail::PoolSpan cols = detail::adaptive_span(j, in_cols, output_size.cols);
        S sum(0);
        for (Index h = rows.begin; h < rows.end; ++h) {
          for (Index c = cols.begin; c < cols.end; ++c) sum += xp[h * in_cols + c];
        }
        yp[i * output_size.cols + j] = sum / static_cast<S>(rows.padded * cols.padded);
      }
    }
  });
  return y;
}

/// Gradient of `adaptive_avg_pool2d` with respect to x (shape `input_shape`), given grad_out
/// (N, C, out_rows, out_cols): each output gradient spread evenly over its bin.
/// @throws shape_error as `adaptive_avg_pool2d` for `input_shape` and grad_out's extents, and
///   if grad_out's N or C differs from `input_shape`'s.
template <class S>
Tensor<S> adaptive_avg_pool2d_backward(const Tensor<S>& grad_out, const Shape4& input_shape) {
  constexpr const char* fn = "adaptive_avg_pool2d_backward";
  detail::checked_numel(input_shape, fn);
  const Size2 out(grad_out.dim(2), grad_out.dim(3));
  detail::check_adaptive_pool(fn, input_shape, out);
  const Shape4 want{input_shape[0], input_shape[1], out.rows, out.cols};
  if (grad_out.shape() != want) detail::fail_grad_out_shape(fn, grad_out.shape(), want);
  return detail::adaptive_avg_pool2d_scatter(grad_out, input_shape);
}

/// The mean of each (n, c) plane: x (N, C, H, W) to (N, C, 1, 1), as
/// `adaptive_avg_pool2d(x, {1, 1})` (the head of ResNet-style networks).
/// @throws shape_error if x is empty.
template <class S>
Tensor<S> global_avg_pool2d(const Tensor<S>& x) {
  if (x.empty())
    detail::fail("global_avg_pool2d", "x is empty, shape " + detail::shape_str(x.shape()));
  return adaptive_avg_pool2d(x, Size2(1, 1));
}

}  // namespace convtape

/// The pooling workers' explicit instantiations for scalar S, after `prefix` (`template` or
/// `extern template`): see convtape/instantiate.hpp. They cover the tensor functions and their
/// backward passes, and the var functions of autograd/pool2d.hpp.
#define CONVTAPE_DETAIL_INSTANTIATE_POOL2D(prefix, S)                                             \
  prefix convtape::Tensor<S> convtape::detail::max_pool2d_planes<S, false>(                       \
      const convtape::Tensor<S>&, const convtape::detail::Pool2dGeometry&,                        \
      convtape::Tensor<convtape::Index>*);                                                        \
  prefix convtape::Tensor<S> convtape::detail::max_pool2d_planes<S, true>(                        \
      const convtape::Tensor<S>&, const convtape::detail::Pool2dGeometry&,                        \
      convtape::Tensor<convtape::Index>*);                                                        \
  prefix convtape::Tensor<S> convtape::detail::max_pool2d_scatter<S>(                             \
      const convtape::Tensor<S>&, const convtape::Tensor<convtape::Index>&,                       \
      const convtape::Shape4&);                                                                   \
  prefix convtape::Tensor<S> convtape::avg_pool2d<S>(const convtape::Tensor<S>&, convtape::Size2, \
                                                     const convtape::Pool2dOptions&);             \
  prefix convtape::Tensor<S> convtape::detail::avg_pool2d_backward_planes<S>(                     \
      const convtape::Tensor<S>&, const convtape::detail::Pool2dGeometry&,                        \
      const convtape::Shape4&);                                                                   \
  prefix convtape::Tensor<S> convtape::adaptive_avg_pool2d<S>(const convtape::Tensor<S>&,         \
                                                              convtape::Size2);                   \
  prefix convtape::Tensor<S> convtape::detail::adaptive_avg_pool2d_scatter<S>(                    \
      const convtape::Tensor<S>&, const convtape::Shape4&);                                       \
  prefix convtape::Tensor<S> convtape::global_avg_pool2d<S>(const convtape::Tensor<S>&);
CONVTAPE_DETAIL_EXTERN(CONVTAPE_DETAIL_INSTANTIATE_POOL2D)
