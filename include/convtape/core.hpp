// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// The vocabulary every other header speaks: index and matrix aliases, `shape_error`, `Size2`,
/// `Conv2dOptions`, and the one place where a convolution's output shape is computed
/// (`Conv2dGeometry`, `conv2d_geometry`).

#include <Eigen/Core>
#include <cassert>
#include <cstdint>
#include <limits>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>

/// Checks an internal invariant on a hot path; never used for user input (that throws
/// `shape_error`). Define it before including convtape to route it elsewhere.
#ifndef CONVTAPE_ASSERT
#define CONVTAPE_ASSERT(condition) assert(condition)
#endif

/// With `CONVTAPE_EXTERN_TEMPLATES` defined, declares the float and double instantiations that
/// the macro `list(prefix, S)` lists as `extern template` (compiled once, by
/// convtape/instantiate.hpp); otherwise nothing. Each header ends with one for its heavy templates.
#ifdef CONVTAPE_EXTERN_TEMPLATES
#define CONVTAPE_DETAIL_EXTERN(list) list(extern template, float) list(extern template, double)
#else
#define CONVTAPE_DETAIL_EXTERN(list)
#endif

namespace convtape {

/// Signed index type used for every size and coordinate (same as Eigen's).
using Index = Eigen::Index;

/// Column-major dynamic matrix, the type plane operations return.
template <class S>
using MatrixX = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
/// Row-major dynamic matrix, the layout of a `Tensor` plane.
template <class S>
using RowMatrixX = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
/// Dynamic column vector (biases, flattened data).
template <class S>
using VectorX = Eigen::Matrix<S, Eigen::Dynamic, 1>;

/// Thrown for every bad shape or option at the public boundary; the message names the function,
/// the argument and the shapes involved.
class shape_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A (rows, cols) pair; implicit from one number for square sizes: `Size2 k = 3;` is 3x3.
struct Size2 {
  Index rows = 0;  ///< extent along the rows (height)
  Index cols = 0;  ///< extent along the columns (width)

  /// 0 x 0.
  constexpr Size2() = default;
  /// n x n.
  constexpr Size2(Index n) : rows(n), cols(n) {}  // NOLINT(google-explicit-constructor): 3 == 3x3
  /// r x c.
  constexpr Size2(Index r, Index c) : rows(r), cols(c) {}

  ///@{
  /// Equal when both extents are.
  friend constexpr bool operator==(Size2 a, Size2 b) {
    return a.rows == b.rows && a.cols == b.cols;
  }
  friend constexpr bool operator!=(Size2 a, Size2 b) { return !(a == b); }
  ///@}
  /// Prints `rows x cols` as `3x2`.
  friend std::ostream& operator<<(std::ostream& os, Size2 s) {
    return os << s.rows << 'x' << s.cols;
  }
};

/// Explicit zero-based padding on each side of a plane.
struct Padding2d {
  Index top = 0;     ///< rows added above
  Index bottom = 0;  ///< rows added below
  Index left = 0;    ///< columns added on the left
  Index right = 0;   ///< columns added on the right

  ///@{
  /// Equal when all four sides are.
  friend constexpr bool operator==(const Padding2d& a, const Padding2d& b) {
    return a.top == b.top && a.bottom == b.bottom && a.left == b.left && a.right == b.right;
  }
  friend constexpr bool operator!=(const Padding2d& a, const Padding2d& b) { return !(a == b); }
  ///@}
};

/// What the padded border holds. For an input row `i` outside `[0, n)`:
/// - `zeros`: 0;
/// - `reflect`: mirrored about the edge sample, without repeating it (`2 1 | 0 1 2 | 1 0`), as
///   numpy's `reflect` and PyTorch's `reflect`; padding wider than the plane keeps reflecting;
/// - `replicate`: the nearest edge sample (`0 0 | 0 1 2 | 2 2`);
/// - `circular`: wrapped around (`1 2 | 0 1 2 | 0 1`), any width.
enum class PaddingMode { zeros, reflect, replicate, circular };

/// Name of a padding mode, for messages and printing.
inline const char* to_string(PaddingMode mode) {
  switch (mode) {
    case PaddingMode::zeros:
      return "zeros";
    case PaddingMode::reflect:
      return "reflect";
    case PaddingMode::replicate:
      return "replicate";
    case PaddingMode::circular:
      return "circular";
  }
  return "?";
}

/// Options of a 2-D convolution, set with libtorch-style chained setters:
/// `Conv2dOptions().stride(2).padding(1).dilation(1).groups(1)`.
///
/// Each setter has a getter of the same name. Values are checked where they are used (and a bad
/// one throws `shape_error` naming that function), so an options object can be built freely.
class Conv2dOptions {
 public:
  ///@{
  /// Step between output samples, per dimension (default 1): set with one number for both
  /// dimensions, a `Size2`, or (rows, cols); read with `stride()`.
  Conv2dOptions& stride(Size2 s) {
    stride_ = s;
    return *this;
  }
  Conv2dOptions& stride(Index rows, Index cols) { return stride(Size2(rows, cols)); }
  Size2 stride() const { return stride_; }
  ///@}

  ///@{
  /// Symmetric padding (default 0): `rows` above and below, `cols` left and right; one number
  /// pads all four sides alike. Replaces `padding_same()`.
  Conv2dOptions& padding(Size2 p) { return padding(p.rows, p.rows, p.cols, p.cols); }
  Conv2dOptions& padding(Index rows, Index cols) { return padding(rows, rows, cols, cols); }
  ///@}
  /// Asymmetric padding, each side on its own. Replaces `padding_same()`.
  Conv2dOptions& padding(Index top, Index bottom, Index left, Index right) {
    padding_ = {top, bottom, left, right};
    same_ = false;
    return *this;
  }
  /// Explicit padding; all zero while `padding_same()` is in effect (see `Conv2dGeometry`).
  Padding2d padding() const { return padding_; }

  /// Pads so that the output has ceil(in / stride) samples per dimension, splitting the total as
  /// TensorFlow does: the odd row/column goes to the bottom/right. Works with any kernel size,
  /// stride and dilation. Replaces explicit padding.
  Conv2dOptions& padding_same() {
    padding_ = {};
    same_ = true;
    return *this;
  }
  /// Whether `padding_same()` is in effect (the padding is then computed per input size).
  bool is_padding_same() const { return same_; }

  ///@{
  /// What the padded border holds (default `zeros`).
  Conv2dOptions& padding_mode(PaddingMode mode) {
    mode_ = mode;
    return *this;
  }
  PaddingMode padding_mode() const { return mode_; }
  ///@}

  ///@{
  /// Spacing between kernel taps, per dimension (default 1, a contiguous kernel): set with one
  /// number, a `Size2`, or (rows, cols); read with `dilation()`.
  Conv2dOptions& dilation(Size2 d) {
    dilation_ = d;
    return *this;
  }
  Conv2dOptions& dilation(Index rows, Index cols) { return dilation(Size2(rows, cols)); }
  Size2 dilation() const { return dilation_; }
  ///@}

  ///@{
  /// Number of channel groups of a batched convolution (default 1; ignored by plane operations).
  Conv2dOptions& groups(Index g) {
    groups_ = g;
    return *this;
  }
  Index groups() const { return groups_; }
  ///@}

  ///@{
  /// Whether a `Conv2D` layer has a bias (read by the layer only; default true).
  Conv2dOptions& bias(bool on) {
    bias_ = on;
    return *this;
  }
  bool bias() const { return bias_; }
  ///@}

 private:
  Size2 stride_{1, 1};
  Size2 dilation_{1, 1};
  Padding2d padding_{};
  bool same_ = false;
  PaddingMode mode_ = PaddingMode::zeros;
  Index groups_ = 1;
  bool bias_ = true;
};

/// A convolution's shapes, resolved and checked once: the input and kernel extents, stride,
/// dilation, the actual padding on each side (after `padding_same`), and the output extent
///
///     out = (in + pad_before + pad_after - dilation * (kernel - 1) - 1) / stride + 1
///
/// per dimension. Build it with `conv2d_geometry`, which throws on anything invalid.
struct Conv2dGeometry {
  ///@{
  /// Extent of the input plane, before padding.
  Index in_rows = 0;
  Index in_cols = 0;
  ///@}
  ///@{
  /// Extent of the kernel, before dilation.
  Index kernel_rows = 0;
  Index kernel_cols = 0;
  ///@}
  Size2 stride{1, 1};                     ///< step between output samples
  Size2 dilation{1, 1};                   ///< spacing between kernel taps
  Padding2d pad{};                        ///< the padding actually used on each side
  PaddingMode mode = PaddingMode::zeros;  ///< what the padded border holds
  ///@{
  /// Extent of the output plane.
  Index out_rows = 0;
  Index out_cols = 0;
  ///@}

  ///@{
  /// Extent of the input with its padding.
  Index padded_rows() const { return in_rows + pad.top + pad.bottom; }
  Index padded_cols() const { return in_cols + pad.left + pad.right; }
  ///@}
  /// Whether any side is padded.
  bool has_padding() const { return pad != Padding2d{}; }

  /// The same convolution with rows and columns swapped: a row-major plane's memory read as a
  /// column-major one.
  Conv2dGeometry transposed() const {
    Conv2dGeometry t = *this;
    t.in_rows = in_cols;
    t.in_cols = in_rows;
    t.kernel_rows = kernel_cols;
    t.kernel_cols = kernel_rows;
    t.stride = {stride.cols, stride.rows};
    t.dilation = {dilation.cols, dilation.rows};
    t.pad = {pad.left, pad.right, pad.top, pad.bottom};
    t.out_rows = out_cols;
    t.out_cols = out_rows;
    return t;
  }
};

namespace detail {

template <class T>
struct type_identity {
  using type = T;
};
/// Keeps an argument out of template deduction, so that `conv2d(x, w, {}, opts)`, Eigen
/// expressions as biases, and `t * 2` on a float tensor or var deduce `S` from the tensors alone.
template <class T>
using non_deduced = typename type_identity<T>::type;

/// Options beyond this are surely a mistake, and bounding them keeps every size product below
/// 2^62, so shape arithmetic cannot overflow.
constexpr Index kMaxOptionValue = Index(1) << 30;

/// Most elements one plane of a convolution may have: the input plane with its padding (the
/// output plane is never larger). 2^32 elements is 16 GiB of `float` per plane -- a 65536 x 65536
/// image still fits -- while absurd paddings or extents (2^30 on each side, or a size read from
/// a corrupt file) throw `shape_error` instead of asking the allocator for exabytes. It also
/// bounds each extent, so no shape arithmetic can overflow.
constexpr Index kMaxPlaneElements = Index(1) << 32;

/// Most elements a batched convolution may produce or pad: the output (N, C_out, out_rows,
/// out_cols) and the padded copy of one image (C_in planes). 2^40 elements (4 TiB of `float`)
/// rejects nothing that could fit in memory, and keeps every buffer size, times an element size
/// or a few tiles of slack, far from overflowing `Index`.
constexpr Index kMaxTensorElements = Index(1) << 40;

inline std::string padding_str(const Padding2d& p) {
  std::ostringstream os;
  os << "(top " << p.top << ", bottom " << p.bottom << ", left " << p.left << ", right " << p.right
     << ")";
  return os.str();
}

/// Throws `shape_error` with `fn: message`.
[[noreturn]] inline void fail(const char* fn, const std::string& message) {
  throw shape_error(std::string(fn) + ": " + message);
}

inline void check_option_range(const char* fn, const char* what, Size2 value, Index min) {
  if (value.rows < min || value.cols < min || value.rows > kMaxOptionValue ||
      value.cols > kMaxOptionValue) {
    std::ostringstream os;
    os << what << " must be " << (min == 0 ? "non-negative" : "positive") << " (at most "
       << kMaxOptionValue << "), got " << value;
    fail(fn, os.str());
  }
}

/// One dimension of 'same' padding: total = max((ceil(in/s) - 1) * s + d*(k-1) + 1 - in, 0).
inline void same_padding(Index in, Index kernel, Index stride, Index dilation, Index& before,
                         Index& after) {
  const Index out = (in + stride - 1) / stride;
  const Index needed = (out - 1) * stride + dilation * (kernel - 1) + 1;
  const Index total = needed > in ? needed - in : 0;
  before = total / 2;
  after = total - before;
}

/// Maps a coordinate of the padded plane (relative to the unpadded origin, so it may be negative
/// or >= n) to the source sample it reads, or -1 for a zero. The single definition of every
/// padding mode: every path (reference, plane, batched, adjoints) goes through it.
inline Index padded_index(Index i, Index n, PaddingMode mode) {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PaddingMode::zeros:
      return -1;
    case PaddingMode::replicate:
      return i < 0 ? 0 : n - 1;
    case PaddingMode::circular: {
      const Index m = i % n;
      return m < 0 ? m + n : m;
    }
    case PaddingMode::reflect: {
      if (n == 1) return 0;
      const Index period = 2 * (n - 1);
      Index m = i % period;
      if (m < 0) m += period;
      return m < n ? m : period - m;
    }
  }
  return -1;
}

}  // namespace detail

/// Resolves and checks the shapes of one plane convolution. `fn` names the calling function in
/// error messages.
///
/// @throws shape_error if the input or kernel is empty, stride or dilation is not positive,
///   padding is negative, stride, dilation or a padding exceeds 2^30
///   (`detail::kMaxOptionValue`), an extent of the input or kernel or the padded input plane's
///   element count exceeds 2^32 (`detail::kMaxPlaneElements`), or the dilated kernel is larger
///   than the padded input.
inline Conv2dGeometry conv2d_geometry(Index in_rows, Index in_cols, Index kernel_rows,
                                      Index kernel_cols, const Conv2dOptions& opts,
                                      const char* fn = "conv2d_geometry") {
  using detail::fail;
  if (in_rows <= 0 || in_cols <= 0) {
    std::ostringstream os;
    os << "input is empty (" << in_rows << "x" << in_cols << ")";
    fail(fn, os.str());
  }
  if (kernel_rows <= 0 || kernel_cols <= 0) {
    std::ostringstream os;
    os << "kernel is empty (" << kernel_rows << "x" << kernel_cols << ")";
    fail(fn, os.str());
  }
  // Bounded extents keep the arithmetic below (padded sizes, dilated kernels) from overflowing.
  constexpr Index max_extent = detail::kMaxPlaneElements;
  if (in_rows > max_extent || in_cols > max_extent || kernel_rows > max_extent ||
      kernel_cols > max_extent) {
    std::ostringstream os;
    os << "input " << in_rows << "x" << in_cols << " or kernel " << kernel_rows << "x"
       << kernel_cols << " has an extent above " << max_extent;
    fail(fn, os.str());
  }
  detail::check_option_range(fn, "stride", opts.stride(), 1);
  detail::check_option_range(fn, "dilation", opts.dilation(), 1);

  Conv2dGeometry g;
  g.in_rows = in_rows;
  g.in_cols = in_cols;
  g.kernel_rows = kernel_rows;
  g.kernel_cols = kernel_cols;
  g.stride = opts.stride();
  g.dilation = opts.dilation();
  g.mode = opts.padding_mode();
  if (opts.is_padding_same()) {
    detail::same_padding(in_rows, kernel_rows, g.stride.rows, g.dilation.rows, g.pad.top,
                         g.pad.bottom);
    detail::same_padding(in_cols, kernel_cols, g.stride.cols, g.dilation.cols, g.pad.left,
                         g.pad.right);
  } else {
    g.pad = opts.padding();
    const Padding2d& p = g.pad;
    if (p.top < 0 || p.bottom < 0 || p.left < 0 || p.right < 0 || p.top > detail::kMaxOptionValue ||
        p.bottom > detail::kMaxOptionValue || p.left > detail::kMaxOptionValue ||
        p.right > detail::kMaxOptionValue) {
      fail(fn, "padding must be non-negative (at most " + std::to_string(detail::kMaxOptionValue) +
                   "), got " + detail::padding_str(p));
    }
  }

  // (kernel - 1) * dilation + 1 <= padded, written so that nothing overflows. (The common
  // undilated, unstrided case skips the 64-bit divisions: a training step of a small model
  // computes this geometry several times, and each division costs as much as a dozen FMAs.)
  const Index padded_rows = g.padded_rows();
  const Index padded_cols = g.padded_cols();
  // Each padded extent is below 2^63 (extents <= 2^32, paddings <= 2^30 or, for 'same', below
  // 2^62 + 2^32), but their product may not be: compared in double, which is exact near the
  // bound and cannot round a larger product below it. One multiplication, no division.
  if (double(padded_rows) * double(padded_cols) > double(detail::kMaxPlaneElements)) {
    std::ostringstream os;
    os << "padded input " << padded_rows << "x" << padded_cols << " (input " << in_rows << "x"
       << in_cols << ", padding " << detail::padding_str(g.pad) << ") has more than "
       << detail::kMaxPlaneElements << " elements";
    fail(fn, os.str());
  }
  const auto exceeds = [](Index kernel, Index padded, Index dilation) {
    return kernel > 1 && (dilation == 1 ? kernel > padded : (kernel - 1) > (padded - 1) / dilation);
  };
  const bool too_tall = exceeds(kernel_rows, padded_rows, g.dilation.rows);
  const bool too_wide = exceeds(kernel_cols, padded_cols, g.dilation.cols);
  if (too_tall || too_wide) {
    std::ostringstream os;
    os << "kernel " << kernel_rows << "x" << kernel_cols;
    if (g.dilation != Size2(1, 1)) os << " with dilation " << g.dilation;
    os << " is larger than the ";
    if (g.has_padding()) {
      os << "padded input " << padded_rows << "x" << padded_cols << " (input " << in_rows << "x"
         << in_cols << ", padding " << detail::padding_str(g.pad) << ")";
    } else {
      os << "input " << in_rows << "x" << in_cols;
    }
    fail(fn, os.str());
  }
  const auto out_size = [](Index padded, Index kernel, Index dilation, Index stride) {
    const Index last = padded - dilation * (kernel - 1) - 1;  // last valid window start
    return (stride == 1 ? last : last / stride) + 1;
  };
  g.out_rows = out_size(padded_rows, kernel_rows, g.dilation.rows, g.stride.rows);
  g.out_cols = out_size(padded_cols, kernel_cols, g.dilation.cols, g.stride.cols);
  return g;
}

/// Output extent of a plane convolution of an `in`-sized input with a `kernel`-sized kernel.
/// @throws shape_error as `conv2d_geometry`.
inline Size2 conv2d_output_size(Size2 in, Size2 kernel, const Conv2dOptions& opts = {}) {
  const Conv2dGeometry g =
      conv2d_geometry(in.rows, in.cols, kernel.rows, kernel.cols, opts, "conv2d_output_size");
  return {g.out_rows, g.out_cols};
}

}  // namespace convtape
