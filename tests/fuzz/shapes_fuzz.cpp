// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors

// libFuzzer target over the shape and option space of corr2d, conv2d, conv2d_backward,
// broadcasting + - * /, linear, max/avg/adaptive pooling, conv_transpose2d and the tape. The input
// decodes into sizes and options (zero, negative and huge values included) and tensor values.
// Every call must either throw `shape_error` or return what the reference loops of reference.hpp
// return (within a tolerance scaled by the reduction length); anything else -- another exception,
// a wrong shape or number, a crash, a sanitizer report -- aborts.
//
// The shape functions (conv2d_geometry, conv2d_output_size, pool2d_output_size,
// conv_transpose2d_output_size, Tensor's element count) see the raw values, huge ones included,
// and are checked against 128-bit arithmetic; the computing functions run only when every buffer
// involved stays small (see kMaxElements).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>

#include "convtape/autograd/conv_transpose2d.hpp"
#include "convtape/autograd/ops.hpp"
#include "convtape/autograd/pool2d.hpp"
#include "convtape/autograd/tape.hpp"
#include "convtape/conv2d.hpp"
#include "convtape/conv_transpose2d.hpp"
#include "convtape/core.hpp"
#include "convtape/corr2d.hpp"
#include "convtape/elementwise.hpp"
#include "convtape/linear.hpp"
#include "convtape/pool2d.hpp"
#include "convtape/reference.hpp"
#include "convtape/tensor.hpp"
#include "support/compare.hpp"

namespace {

using convtape::Conv2dGeometry;
using convtape::Conv2dOptions;
using convtape::ConvTranspose2dOptions;
using convtape::Index;
using convtape::MatrixX;
using convtape::PaddingMode;
using convtape::Pool2dOptions;
using convtape::Size2;
using convtape::Tensor;
using convtape::VectorX;
// For the oracle of the shape arithmetic only (clang and g++ have it; __extension__ keeps
// -Wpedantic quiet).
__extension__ typedef __int128 Wide;

/// Largest buffer (elements) the computing part may touch: keeps each run fast and small.
constexpr Index kMaxElements = Index(1) << 14;

[[noreturn]] void die(const char* what, const char* detail = "") {
  std::fprintf(stderr, "shapes_fuzz: %s %s\n", what, detail);
  std::abort();
}

/// Reads the fuzz input front to back; zeros once it runs out.
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

  std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }

  std::int64_t int64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | byte();
    std::int64_t r;
    std::memcpy(&r, &v, sizeof r);
    return r;
  }

  /// Mostly small sizes (-1..6), sometimes boundary values and raw 64-bit integers.
  Index extent() {
    const std::uint8_t b = byte();
    if (b < 224) return Index(b % 8) - 1;
    switch (b % 8) {
      case 0:
        return int64();
      case 1:
        return Index(1) << 30;
      case 2:
        return (Index(1) << 30) + 1;
      case 3:
        return Index(1) << 31;
      case 4:
        return Index(1) << 32;
      case 5:
        return std::numeric_limits<Index>::max();
      case 6:
        return std::numeric_limits<Index>::min();
      default:
        return Index(1) << 62;
    }
  }

  /// A small tensor value, some exact in binary, all finite.
  double value() { return (int(byte()) - 128) / 16.0; }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

struct Config {
  Index batch, in_channels, out_channels, rows, cols, kernel_rows, kernel_cols, groups;
  Conv2dOptions opts;
  bool bias;
};

Config decode(Reader& in) {
  Config c;
  c.batch = in.extent();
  c.in_channels = in.extent();
  c.out_channels = in.extent();
  c.rows = in.extent();
  c.cols = in.extent();
  c.kernel_rows = in.extent();
  c.kernel_cols = in.extent();
  c.groups = in.extent();
  c.opts.stride(in.extent(), in.extent()).dilation(in.extent(), in.extent());
  const std::uint8_t padding = in.byte();
  switch (padding % 4) {
    case 0:
      c.opts.padding(Size2(in.extent(), in.extent()));
      break;
    case 1: {
      const Index top = in.extent(), bottom = in.extent(), left = in.extent();
      c.opts.padding(top, bottom, left, in.extent());
      break;
    }
    case 2:
      c.opts.padding_same();
      break;
    default:
      break;  // no padding
  }
  c.opts.padding_mode(static_cast<PaddingMode>((padding / 4) % 4));
  c.opts.groups(c.groups);
  c.bias = (padding / 16) % 2 != 0;
  return c;
}

/// Runs `f`; a `shape_error` means "rejected" (false), anything else thrown aborts.
template <class F>
bool accepted(const char* what, F&& f) {
  try {
    f();
    return true;
  } catch (const convtape::shape_error&) {
    return false;
  } catch (const std::exception& e) {
    die(what, e.what());
  } catch (...) {
    die(what, "threw something that is not a std::exception");
  }
}

/// The padding conv2d_geometry should use, in wide arithmetic (nullopt-free: returns false for
/// an option outside the documented range).
struct WideDim {
  Wide in, kernel, stride, dilation, before, after;
};

/// Whether one dimension is valid by the documented rules, and its output extent.
bool wide_output(const WideDim& d, Wide& out) {
  const Wide padded = d.in + d.before + d.after;
  const Wide span = d.dilation * (d.kernel - 1) + 1;
  if (span > padded) return false;
  out = (padded - span) / d.stride + 1;
  return true;
}

/// Checks conv2d_geometry (through conv2d_output_size) against 128-bit arithmetic: any values
/// at all, the huge ones included.
void check_geometry(const Config& c) {
  const Conv2dOptions& o = c.opts;
  Conv2dGeometry g;
  const bool ok = accepted("conv2d_geometry", [&] {
    g = convtape::conv2d_geometry(c.rows, c.cols, c.kernel_rows, c.kernel_cols, o);
  });
  Size2 size;
  const bool ok2 = accepted("conv2d_output_size", [&] {
    size = convtape::conv2d_output_size({c.rows, c.cols}, {c.kernel_rows, c.kernel_cols}, o);
  });
  if (ok != ok2) die("conv2d_output_size and conv2d_geometry disagree on validity");
  if (!ok) return;
  if (size != Size2(g.out_rows, g.out_cols)) die("conv2d_output_size differs from the geometry");
  const Index limit = convtape::detail::kMaxOptionValue;
  const auto in_range = [&](Index v, Index min) { return v >= min && v <= limit; };
  if (c.rows <= 0 || c.cols <= 0 || c.kernel_rows <= 0 || c.kernel_cols <= 0) {
    die("accepted an empty input or kernel");
  }
  if (!in_range(o.stride().rows, 1) || !in_range(o.stride().cols, 1) ||
      !in_range(o.dilation().rows, 1) || !in_range(o.dilation().cols, 1)) {
    die("accepted a stride or dilation out of range");
  }
  if (!o.is_padding_same()) {
    const auto p = o.padding();
    if (!in_range(p.top, 0) || !in_range(p.bottom, 0) || !in_range(p.left, 0) ||
        !in_range(p.right, 0)) {
      die("accepted a padding out of range");
    }
    if (g.pad != p) die("geometry padding differs from the options");
  } else {
    // TensorFlow's 'same': total = max((ceil(in / s) - 1) * s + d * (k - 1) + 1 - in, 0).
    const auto same_total = [](Wide in, Wide k, Wide s, Wide d) {
      const Wide total = ((in + s - 1) / s - 1) * s + d * (k - 1) + 1 - in;
      return total > 0 ? total : Wide(0);
    };
    const Wide tr = same_total(c.rows, c.kernel_rows, o.stride().rows, o.dilation().rows);
    const Wide tc = same_total(c.cols, c.kernel_cols, o.stride().cols, o.dilation().cols);
    if (Wide(g.pad.top) != tr / 2 || Wide(g.pad.bottom) != tr - tr / 2 ||
        Wide(g.pad.left) != tc / 2 || Wide(g.pad.right) != tc - tc / 2) {
      die("wrong 'same' padding");
    }
  }
  Wide out_rows = 0, out_cols = 0;
  const bool rows_ok = wide_output(
      {c.rows, c.kernel_rows, o.stride().rows, o.dilation().rows, g.pad.top, g.pad.bottom},
      out_rows);
  const bool cols_ok = wide_output(
      {c.cols, c.kernel_cols, o.stride().cols, o.dilation().cols, g.pad.left, g.pad.right},
      out_cols);
  if (!rows_ok || !cols_ok) die("accepted a kernel larger than the padded input");
  if (Wide(g.out_rows) != out_rows || Wide(g.out_cols) != out_cols) die("wrong output extent");
  if (g.out_rows <= 0 || g.out_cols <= 0) die("non-positive output extent");
  // The documented bound: the padded plane (hence every plane buffer) has at most
  // kMaxPlaneElements elements.
  const Wide padded = Wide(g.padded_rows()) * Wide(g.padded_cols());
  if (padded > Wide(convtape::detail::kMaxPlaneElements)) die("accepted a padded plane too large");
}

/// Tensor's element count on raw extents, against 128-bit arithmetic.
void check_numel(Reader& in) {
  const convtape::Shape4 shape{in.extent(), in.extent(), in.extent(), in.extent()};
  Index n = -1;
  const bool ok =
      accepted("checked_numel", [&] { n = convtape::detail::checked_numel(shape, "f"); });
  Wide wide = 1;
  bool negative = false;
  for (Index e : shape) negative = negative || e < 0;
  if (negative) {
    if (ok) die("checked_numel accepted a negative extent");
    return;
  }
  // Stop at the first product above Index's range: the next factor could overflow even 128 bits.
  bool overflow = false;
  const bool has_zero = std::find(shape.begin(), shape.end(), 0) != shape.end();
  if (has_zero) {
    wide = 0;
  } else {
    for (Index e : shape) {
      wide *= e;
      if (wide > Wide(std::numeric_limits<Index>::max())) {
        overflow = true;
        break;
      }
    }
  }
  if (ok && (overflow || Wide(n) != wide)) die("checked_numel wrong");
  // With a zero extent, a huge extent before it may be rejected (the count is checked in order).
  if (!ok && !has_zero && !overflow && wide <= Wide(std::numeric_limits<Index>::max() / 8)) {
    die("checked_numel rejected a representable shape");
  }
}

template <class S>
Tensor<S> random_tensor(Reader& in, Index n, Index c, Index h, Index w) {
  Tensor<S> t(n, c, h, w);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = static_cast<S>(in.value());
  return t;
}

/// |a - b| <= tol, elementwise; tol scales with the reduction length and the magnitudes.
template <class A, class B>
void expect_close(const char* what, const A& a, const B& b, double tol) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) die(what, "shape differs from the reference");
  for (Index i = 0; i < a.rows(); ++i) {
    for (Index j = 0; j < a.cols(); ++j) {
      const double x = static_cast<double>(a(i, j)), y = static_cast<double>(b(i, j));
      if (!(std::abs(x - y) <= tol)) {
        std::fprintf(stderr, "shapes_fuzz: %s: %.17g vs reference %.17g at (%ld, %ld), tol %g\n",
                     what, x, y, long(i), long(j), tol);
        std::abort();
      }
    }
  }
}

template <class S>
void expect_close_tensor(const char* what, const Tensor<S>& a, const Tensor<S>& b, double tol) {
  if (a.shape() != b.shape()) die(what, "shape differs from the reference");
  expect_close(what, a.flat(), b.flat(), tol);
}

/// Values are at most 8 in magnitude, so each product is at most 64 and a sum of `reduction`
/// products at most 64 * reduction; rounding error grows at most linearly with the length.
template <class S>
double tolerance(Index reduction) {
  return support::tolerance<S>(reduction + 1, 64.0 * 64.0 / 4.0);
}

/// Plane corr2d and its adjoints against the reference loops.
template <class S>
void check_plane(const Config& c, Reader& in) {
  if (c.rows < 1 || c.cols < 1 || c.kernel_rows < 1 || c.kernel_cols < 1) return;
  if (c.rows > kMaxElements || c.cols > kMaxElements || c.kernel_rows > kMaxElements ||
      c.kernel_cols > kMaxElements) {
    return;
  }
  if (c.rows * c.cols > kMaxElements || c.kernel_rows * c.kernel_cols > kMaxElements) return;
  Conv2dGeometry g;
  if (!accepted("geometry", [&] {
        g = convtape::conv2d_geometry(c.rows, c.cols, c.kernel_rows, c.kernel_cols, c.opts);
      })) {
    // Everything below must reject it too.
    MatrixX<S> x = MatrixX<S>::Zero(c.rows, c.cols),
               k = MatrixX<S>::Zero(c.kernel_rows, c.kernel_cols);
    if (accepted("corr2d", [&] { (void)convtape::corr2d(x, k, c.opts); })) {
      die("corr2d accepted what conv2d_geometry rejects");
    }
    return;
  }
  if (g.padded_rows() * g.padded_cols() > kMaxElements || g.out_rows * g.out_cols > kMaxElements ||
      g.out_rows * g.out_cols * g.kernel_rows * g.kernel_cols > 16 * kMaxElements) {
    return;
  }
  MatrixX<S> x(c.rows, c.cols), k(c.kernel_rows, c.kernel_cols);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<S>(in.value());
  for (Index i = 0; i < k.size(); ++i) k.data()[i] = static_cast<S>(in.value());
  const double tol = tolerance<S>(k.size());
  MatrixX<S> y;
  if (!accepted("corr2d", [&] { y = convtape::corr2d(x, k, c.opts); })) {
    die("corr2d rejected a valid geometry");
  }
  const MatrixX<S> y_ref = convtape::reference::corr2d(x, k, c.opts);
  expect_close("corr2d", y, y_ref, tol);
  // Row-major input: a different code path (solved directly, not transposed).
  const convtape::RowMatrixX<S> xr = x;
  expect_close("corr2d row-major", convtape::corr2d(xr, k, c.opts), y_ref, tol);

  MatrixX<S> dy(g.out_rows, g.out_cols);
  for (Index i = 0; i < dy.size(); ++i) dy.data()[i] = static_cast<S>(in.value());
  const double tol_in = tolerance<S>(k.size());
  const double tol_k = tolerance<S>(dy.size());
  expect_close("corr2d_grad_input", convtape::corr2d_grad_input(dy, k, c.rows, c.cols, c.opts),
               convtape::reference::corr2d_grad_input(dy, k, c.rows, c.cols, c.opts), tol_in);
  expect_close("corr2d_grad_kernel",
               convtape::corr2d_grad_kernel(x, dy, c.kernel_rows, c.kernel_cols, c.opts),
               convtape::reference::corr2d_grad_kernel(x, dy, c.kernel_rows, c.kernel_cols, c.opts),
               tol_k);
  // A dy of the wrong shape is a shape_error.
  MatrixX<S> bad_dy = MatrixX<S>::Zero(g.out_rows + 1, g.out_cols);
  if (accepted("corr2d_grad_input",
               [&] { (void)convtape::corr2d_grad_input(bad_dy, k, c.rows, c.cols, c.opts); })) {
    die("corr2d_grad_input accepted a dy of the wrong shape");
  }
}

/// Whether every extent is in [1, kMaxElements] and the product fits too.
bool small_shape(Index n, Index c, Index h, Index w) {
  for (Index e : {n, c, h, w}) {
    if (e < 1 || e > kMaxElements) return false;
  }
  return n * c <= kMaxElements && n * c * h <= kMaxElements && n * c * h * w <= kMaxElements;
}

/// Batched conv2d, conv2d_backward and the tape against the reference loops.
template <class S>
void check_batched(const Config& c, Reader& in) {
  // Weight input channels: usually consistent with groups, sometimes as decoded.
  const bool consistent = in.byte() % 4 != 0;
  Index weight_in = c.in_channels;
  if (consistent && c.groups >= 1 && c.groups <= kMaxElements) weight_in = c.in_channels / c.groups;
  if (!small_shape(c.batch, c.in_channels, c.rows, c.cols)) return;
  if (!small_shape(c.out_channels, weight_in, c.kernel_rows, c.kernel_cols)) return;
  Conv2dGeometry g;
  const bool plane_ok = accepted("geometry", [&] {
    g = convtape::conv2d_geometry(c.rows, c.cols, c.kernel_rows, c.kernel_cols, c.opts);
  });
  if (plane_ok && (g.padded_rows() * g.padded_cols() > kMaxElements ||
                   !small_shape(c.batch, c.out_channels, g.out_rows, g.out_cols))) {
    return;
  }
  if (plane_ok && c.batch * c.out_channels * g.out_rows * g.out_cols * weight_in * c.kernel_rows *
                          c.kernel_cols >
                      64 * kMaxElements) {
    return;  // the reference loops would be slow
  }
  const Tensor<S> x = random_tensor<S>(in, c.batch, c.in_channels, c.rows, c.cols);
  const Tensor<S> w = random_tensor<S>(in, c.out_channels, weight_in, c.kernel_rows, c.kernel_cols);
  VectorX<S> b;
  if (c.bias) {
    b.resize(c.out_channels);
    for (Index i = 0; i < b.size(); ++i) b[i] = static_cast<S>(in.value());
  }
  Tensor<S> y;
  const bool ok = accepted("conv2d", [&] { y = convtape::conv2d(x, w, b, c.opts); });
  Tensor<S> y_ref;
  const bool ref_ok =
      accepted("reference::conv2d", [&] { y_ref = convtape::reference::conv2d(x, w, b, c.opts); });
  if (ok != ref_ok) die("conv2d and reference::conv2d disagree on validity");
  if (!ok) {
    // The tape and backward must reject it too.
    convtape::Tape<S> tape;
    if (accepted("tape conv2d",
                 [&] { (void)convtape::conv2d(tape.variable(x), tape.variable(w), c.opts); })) {
      die("tape conv2d accepted what conv2d rejects");
    }
    return;
  }
  const Index reduction = weight_in * c.kernel_rows * c.kernel_cols;
  expect_close_tensor("conv2d", y, y_ref, tolerance<S>(reduction));

  const Tensor<S> dy = random_tensor<S>(in, c.batch, c.out_channels, g.out_rows, g.out_cols);
  convtape::Conv2dGrads<S> grads;
  if (!accepted("conv2d_backward", [&] { grads = convtape::conv2d_backward(x, w, dy, c.opts); })) {
    die("conv2d_backward rejected what conv2d accepts");
  }
  const convtape::Conv2dGrads<S> ref = convtape::reference::conv2d_backward(x, w, dy, c.opts);
  const double tol_x = tolerance<S>(c.out_channels * c.kernel_rows * c.kernel_cols);
  const double tol_w = tolerance<S>(c.batch * g.out_rows * g.out_cols);
  expect_close_tensor("conv2d_backward input", grads.input, ref.input, tol_x);
  expect_close_tensor("conv2d_backward weight", grads.weight, ref.weight, tol_w);
  expect_close("conv2d_backward bias", grads.bias, ref.bias, tol_w);
  if (accepted("conv2d_backward", [&] { (void)convtape::conv2d_backward(x, w, y, c.opts); }) &&
      y.shape() != dy.shape()) {
    die("conv2d_backward accepted a grad_out of the wrong shape");
  }

  // The tape: forward equal to conv2d, gradients equal to the reference backward.
  convtape::Tape<S> tape;
  auto xv = tape.variable(x);
  auto wv = tape.variable(w);
  convtape::Var<S> yv;
  if (c.bias) {
    Tensor<S> bias(1, c.out_channels, 1, 1);  // the same values as the plain call's bias
    for (Index i = 0; i < b.size(); ++i) bias.data()[i] = b[i];
    auto bv = tape.variable(std::move(bias));
    if (!accepted("tape conv2d", [&] { yv = convtape::conv2d(xv, wv, bv, c.opts); })) {
      die("tape conv2d rejected what conv2d accepts");
    }
    expect_close_tensor("tape conv2d", yv.value(), y_ref, tolerance<S>(reduction));
    convtape::backward(yv, dy);
    expect_close("tape bias grad", bv.grad().flat(), ref.bias, tol_w);
  } else {
    if (!accepted("tape conv2d", [&] { yv = convtape::conv2d(xv, wv, c.opts); })) {
      die("tape conv2d rejected what conv2d accepts");
    }
    expect_close_tensor("tape conv2d", yv.value(), y_ref, tolerance<S>(reduction));
    convtape::backward(yv, dy);
  }
  expect_close_tensor("tape input grad", xv.grad(), ref.input, tol_x);
  expect_close_tensor("tape weight grad", wv.grad(), ref.weight, tol_w);
}

/// NumPy's broadcasting of two raw shapes, the oracle of broadcast_shape: false if they do not
/// broadcast.
bool broadcast_oracle(const convtape::Shape4& a, const convtape::Shape4& b, convtape::Shape4& out) {
  for (std::size_t d = 0; d < 4; ++d) {
    if (a[d] == b[d] || b[d] == 1) {
      out[d] = a[d];
    } else if (a[d] == 1) {
      out[d] = b[d];
    } else {
      return false;
    }
  }
  return true;
}

/// Whether every extent is in [0, kMaxElements] and the element count is at most kMaxElements.
bool small_or_empty(const convtape::Shape4& s) {
  Index n = 1;
  for (Index e : s) {
    if (e < 0 || e > kMaxElements) return false;
    n *= e;
    if (n > kMaxElements) return false;
  }
  return true;
}

/// Broadcasting + - * / on tensors and on the tape, against loops: raw shapes for the shape rule,
/// small ones for the values and the gradients (summed over the stretched dimensions).
template <class S>
void check_broadcast(Reader& in) {
  const convtape::Shape4 a_shape{in.extent(), in.extent(), in.extent(), in.extent()};
  const convtape::Shape4 b_shape{in.extent(), in.extent(), in.extent(), in.extent()};
  convtape::Shape4 want;
  const bool want_ok = broadcast_oracle(a_shape, b_shape, want);
  convtape::Shape4 got;
  const bool ok =
      accepted("broadcast_shape", [&] { got = convtape::broadcast_shape(a_shape, b_shape); });
  if (ok != want_ok) die("broadcast_shape disagrees with NumPy's rule on validity");
  if (ok && got != want) die("broadcast_shape gives the wrong shape");
  if (!small_or_empty(a_shape) || !small_or_empty(b_shape)) return;
  const Tensor<S> a = random_tensor<S>(in, a_shape[0], a_shape[1], a_shape[2], a_shape[3]);
  const Tensor<S> b = random_tensor<S>(in, b_shape[0], b_shape[1], b_shape[2], b_shape[3]);
  Tensor<S> sum;
  if (accepted("operator+", [&] { sum = a + b; }) != want_ok) die("operator+ validity");
  if (!want_ok || !small_or_empty(want)) return;
  const Tensor<S> results[] = {sum, a - b, a * b, a / b};
  const auto at = [](const Tensor<S>& t, Index n, Index c, Index h, Index w) {
    const convtape::Shape4& s = t.shape();
    return t(s[0] == 1 ? 0 : n, s[1] == 1 ? 0 : c, s[2] == 1 ? 0 : h, s[3] == 1 ? 0 : w);
  };
  for (const Tensor<S>& r : results) {
    if (r.shape() != want) die("a broadcast result has the wrong shape");
  }
  for (Index n = 0; n < want[0]; ++n) {
    for (Index c = 0; c < want[1]; ++c) {
      for (Index h = 0; h < want[2]; ++h) {
        for (Index w = 0; w < want[3]; ++w) {
          const S x = at(a, n, c, h, w);
          const S y = at(b, n, c, h, w);
          const S expected[] = {S(x + y), S(x - y), S(x * y), S(x / y)};
          for (int k = 0; k < 4; ++k) {
            const S r = results[k](n, c, h, w);
            // IEEE arithmetic on the same operands: equal, or both NaN (0 / 0).
            if (!(r == expected[k] || (std::isnan(r) && std::isnan(expected[k])))) {
              die("a broadcast operation differs from the loop");
            }
          }
        }
      }
    }
  }
  // The tape: d sum(dy * (a * b)) / da is dy * b summed over a's stretched dimensions.
  const Tensor<S> dy = random_tensor<S>(in, want[0], want[1], want[2], want[3]);
  convtape::Tape<S> tape;
  const convtape::Var<S> av = tape.variable(a);
  const convtape::Var<S> bv = tape.variable(b);
  const convtape::Var<S> yv = av * bv + av - bv;
  convtape::backward(yv, dy);
  Tensor<S> da(a_shape);
  Tensor<S> db(b_shape);
  const auto at_ref = [](Tensor<S>& t, Index n, Index c, Index h, Index w) -> S& {
    const convtape::Shape4& s = t.shape();
    return t(s[0] == 1 ? 0 : n, s[1] == 1 ? 0 : c, s[2] == 1 ? 0 : h, s[3] == 1 ? 0 : w);
  };
  for (Index n = 0; n < want[0]; ++n) {
    for (Index c = 0; c < want[1]; ++c) {
      for (Index h = 0; h < want[2]; ++h) {
        for (Index w = 0; w < want[3]; ++w) {
          const S g = dy(n, c, h, w);
          at_ref(da, n, c, h, w) += g * at(b, n, c, h, w) + g;
          at_ref(db, n, c, h, w) += g * at(a, n, c, h, w) - g;
        }
      }
    }
  }
  const Index stretch = want[0] * want[1] * want[2] * want[3];
  expect_close_tensor("broadcast grad a", av.grad(), da, tolerance<S>(stretch));
  expect_close_tensor("broadcast grad b", bv.grad(), db, tolerance<S>(stretch));
}

/// linear and linear_backward on tensors and the tape against loops, and the same rejections.
template <class S>
void check_linear(Reader& in) {
  const Index n = in.extent(), c = in.extent(), h = in.extent(), w = in.extent();
  const Index out = in.extent();
  const std::uint8_t flags = in.byte();
  if (!small_or_empty({n, c, h, w}) || out < 0 || out > kMaxElements) return;
  const Index features = c * h * w;
  // The weight's input extent: usually the features of x, sometimes as decoded (mismatched).
  const Index weight_in = flags % 4 != 0 ? features : in.extent();
  const bool with_bias = (flags / 4) % 2 != 0;
  const Index bias_size = (flags / 8) % 4 != 0 ? out : in.extent();
  if (!small_or_empty({out, weight_in, 1, 1}) || !small_or_empty({1, bias_size, 1, 1})) return;
  if (n * out * (weight_in + 1) > 16 * kMaxElements) return;
  const Tensor<S> x = random_tensor<S>(in, n, c, h, w);
  const Tensor<S> weight = random_tensor<S>(in, out, weight_in, 1, 1);
  const Tensor<S> bias = with_bias ? random_tensor<S>(in, 1, bias_size, 1, 1) : Tensor<S>();
  Tensor<S> y;
  const bool ok = accepted("linear", [&] { y = convtape::linear(x, weight, bias); });
  Tensor<S> y_ref;
  const bool ref_ok =
      accepted("reference::linear", [&] { y_ref = convtape::reference::linear(x, weight, bias); });
  if (ok != ref_ok) die("linear and reference::linear disagree on validity");
  const bool valid = weight_in == features && (!with_bias || bias_size == out || bias_size == 0);
  if (ok != valid) die("linear's validity is not the documented rule");
  convtape::Tape<S> tape;
  const convtape::Var<S> xv = tape.variable(x);
  const convtape::Var<S> wv = tape.variable(weight);
  const convtape::Var<S> bv = tape.variable(bias);
  convtape::Var<S> yv;
  if (accepted("tape linear", [&] { yv = convtape::linear(xv, wv, bv); }) != ok) {
    die("tape linear disagrees with linear on validity");
  }
  if (!ok) return;
  expect_close_tensor("linear", y, y_ref, tolerance<S>(features));
  expect_close_tensor("tape linear", yv.value(), y_ref, tolerance<S>(features));
  const Tensor<S> dy = random_tensor<S>(in, n, out, 1, 1);
  convtape::LinearGrads<S> g;
  if (!accepted("linear_backward", [&] { g = convtape::linear_backward(x, weight, dy); })) {
    die("linear_backward rejected what linear accepts");
  }
  Tensor<S> dx(x.shape());
  Tensor<S> dw(weight.shape());
  VectorX<S> db = VectorX<S>::Zero(out);
  for (Index r = 0; r < n; ++r) {
    for (Index o = 0; o < out; ++o) {
      const S gy = dy(r, o, 0, 0);
      db[o] += gy;
      for (Index i = 0; i < features; ++i) {
        dx.data()[r * features + i] += gy * weight(o, i, 0, 0);
        dw(o, i, 0, 0) += gy * x.data()[r * features + i];
      }
    }
  }
  expect_close_tensor("linear_backward input", g.input, dx, tolerance<S>(out));
  expect_close_tensor("linear_backward weight", g.weight, dw, tolerance<S>(n));
  expect_close("linear_backward bias", g.bias, db, tolerance<S>(n));
  convtape::backward(yv, dy);
  expect_close_tensor("tape linear input grad", xv.grad(), dx, tolerance<S>(out));
  expect_close_tensor("tape linear weight grad", wv.grad(), dw, tolerance<S>(n));
  if (with_bias && bias_size != 0) {
    expect_close("tape linear bias grad", bv.grad().flat(), db, tolerance<S>(n));
  }
}

/// Whether `v` is in [min, 2^30], the documented range of every option.
bool option_in_range(Index v, Index min) {
  return v >= min && v <= convtape::detail::kMaxOptionValue;
}

/// Pooling (max, avg, adaptive) on tensors and on the tape against the reference loops, and
/// pool2d_output_size against 128-bit arithmetic. The kernel, stride and padding (top, left) come
/// from the decoded convolution; ceil_mode and count_include_pad from the next byte.
template <class S>
void check_pool(const Config& c, Reader& in) {
  const std::uint8_t flags = in.byte();
  const Size2 kernel(c.kernel_rows, c.kernel_cols);
  Pool2dOptions opts;
  // A stride of 0x0 means "the kernel"; as decoded otherwise.
  opts.stride(c.opts.stride()).padding(c.opts.padding().top, c.opts.padding().left);
  opts.ceil_mode(flags % 2 != 0).count_include_pad((flags / 2) % 2 != 0);
  if (flags / 4 % 2 != 0) opts.stride(0, 0);

  // The shape rules, in wide arithmetic: PyTorch's pooling_output_shape and parameter checks.
  const Size2 stride = opts.stride() == Size2(0, 0) ? kernel : opts.stride();
  const Size2 pad = opts.padding();
  Size2 size;
  const bool ok = accepted("pool2d_output_size", [&] {
    size = convtape::pool2d_output_size({c.rows, c.cols}, kernel, opts);
  });
  constexpr Index max_extent = convtape::detail::kMaxPlaneElements;  // as conv2d's
  bool valid = c.rows >= 1 && c.cols >= 1 && c.rows <= max_extent && c.cols <= max_extent &&
               option_in_range(kernel.rows, 1) && option_in_range(kernel.cols, 1) &&
               option_in_range(stride.rows, 1) && option_in_range(stride.cols, 1) &&
               option_in_range(pad.rows, 0) && option_in_range(pad.cols, 0) &&
               2 * Wide(pad.rows) <= Wide(kernel.rows) && 2 * Wide(pad.cols) <= Wide(kernel.cols);
  Wide out[2] = {0, 0};
  if (valid) {
    const Index ins[2] = {c.rows, c.cols}, ks[2] = {kernel.rows, kernel.cols};
    const Index ss[2] = {stride.rows, stride.cols}, ps[2] = {pad.rows, pad.cols};
    for (int d = 0; d < 2; ++d) {
      const Wide span = Wide(ins[d]) + 2 * Wide(ps[d]) - Wide(ks[d]) +
                        (opts.ceil_mode() ? Wide(ss[d]) - 1 : Wide(0));
      if (span < 0) {
        valid = false;
        break;
      }
      out[d] = span / ss[d] + 1;
      if (opts.ceil_mode() && (out[d] - 1) * ss[d] >= Wide(ins[d]) + ps[d]) --out[d];
      if (out[d] < 1) valid = false;
    }
  }
  if (ok != valid)
    die(ok ? "pool2d_output_size accepted invalid options"
           : "pool2d_output_size rejected valid options");
  if (ok && (Wide(size.rows) != out[0] || Wide(size.cols) != out[1])) die("wrong pooled extent");

  if (!small_shape(c.batch, c.in_channels, c.rows, c.cols)) return;
  if (ok && (!small_shape(c.batch, c.in_channels, size.rows, size.cols) ||
             Wide(size.rows) * size.cols * kernel.rows * kernel.cols > 16 * kMaxElements)) {
    return;  // the reference loops would be slow
  }
  const Tensor<S> x = random_tensor<S>(in, c.batch, c.in_channels, c.rows, c.cols);
  Tensor<S> y_max, y_avg;
  const bool max_ok =
      accepted("max_pool2d", [&] { y_max = convtape::max_pool2d(x, kernel, opts); });
  const bool avg_ok =
      accepted("avg_pool2d", [&] { y_avg = convtape::avg_pool2d(x, kernel, opts); });
  if (max_ok != ok || avg_ok != ok) die("pooling and pool2d_output_size disagree on validity");
  convtape::Tape<S> tape;
  const auto xv = tape.variable(x);
  convtape::Var<S> yv;
  if (!ok) {
    if (accepted("tape max_pool2d", [&] { (void)convtape::max_pool2d(xv, kernel, opts); }) ||
        accepted("tape avg_pool2d", [&] { (void)convtape::avg_pool2d(xv, kernel, opts); })) {
      die("tape pooling accepted what the tensor functions reject");
    }
    return;
  }
  const double tol = tolerance<S>(kernel.rows * kernel.cols);
  expect_close_tensor("max_pool2d", y_max, convtape::reference::max_pool2d(x, kernel, opts), 0.0);
  expect_close_tensor("avg_pool2d", y_avg, convtape::reference::avg_pool2d(x, kernel, opts), tol);
  const Tensor<S> dy = random_tensor<S>(in, c.batch, c.in_channels, size.rows, size.cols);
  const Tensor<S> dx_max = convtape::reference::max_pool2d_backward(x, dy, kernel, opts);
  const Tensor<S> dx_avg = convtape::reference::avg_pool2d_backward(x.shape(), dy, kernel, opts);
  expect_close_tensor("avg_pool2d_backward",
                      convtape::avg_pool2d_backward(dy, x.shape(), kernel, opts), dx_avg, tol);
  if (!accepted("tape max_pool2d", [&] { yv = convtape::max_pool2d(xv, kernel, opts); })) {
    die("tape max_pool2d rejected what max_pool2d accepts");
  }
  expect_close_tensor("tape max_pool2d", yv.value(), y_max, 0.0);
  convtape::backward(yv, dy);
  expect_close_tensor("tape max_pool2d grad", xv.grad(), dx_max, tol);

  // Adaptive pooling to the kernel's extents (bins of every size, also more bins than samples).
  if (!small_shape(c.batch, c.in_channels, kernel.rows, kernel.cols)) return;
  convtape::Tape<S> tape2;
  const auto xv2 = tape2.variable(x);
  convtape::Var<S> av;
  if (!accepted("tape adaptive_avg_pool2d",
                [&] { av = convtape::adaptive_avg_pool2d(xv2, kernel); })) {
    die("adaptive_avg_pool2d rejected a small positive output size");
  }
  const double tol_adaptive = tolerance<S>(c.rows * c.cols);
  expect_close_tensor("adaptive_avg_pool2d", av.value(),
                      convtape::reference::adaptive_avg_pool2d(x, kernel), tol_adaptive);
}

/// conv_transpose2d and its backward on tensors and on the tape against the scatter loops, and
/// conv_transpose2d_output_size against 128-bit arithmetic. Weight (C_in, C_out, kh, kw) from the
/// decoded convolution, padding (top, left), output_padding from two more extents.
template <class S>
void check_transposed(const Config& c, Reader& in) {
  const bool consistent = in.byte() % 4 != 0;
  const Index weight_in = consistent ? c.in_channels : in.extent();
  ConvTranspose2dOptions opts;
  opts.stride(c.opts.stride())
      .dilation(c.opts.dilation())
      .padding(c.opts.padding().top, c.opts.padding().left)
      .groups(c.groups);
  const Index op_rows = in.extent(), op_cols = in.extent();
  opts.output_padding(op_rows, op_cols);
  const Size2 kernel(c.kernel_rows, c.kernel_cols);

  // The documented plane rules, in wide arithmetic.
  Size2 size;
  const bool size_ok = accepted("conv_transpose2d_output_size", [&] {
    size = convtape::conv_transpose2d_output_size({c.rows, c.cols}, kernel, opts);
  });
  const Size2 st = opts.stride(), d = opts.dilation(), p = opts.padding(),
              op = opts.output_padding();
  bool valid =
      c.rows >= 1 && c.cols >= 1 && kernel.rows >= 1 && kernel.cols >= 1 &&
      option_in_range(c.groups, 1) && option_in_range(st.rows, 1) && option_in_range(st.cols, 1) &&
      option_in_range(d.rows, 1) && option_in_range(d.cols, 1) && option_in_range(p.rows, 0) &&
      option_in_range(p.cols, 0) && option_in_range(op.rows, 0) && option_in_range(op.cols, 0) &&
      op.rows < std::max(st.rows, d.rows) && op.cols < std::max(st.cols, d.cols);
  Wide reach[2] = {0, 0}, out[2] = {0, 0};
  if (valid) {
    const Index ins[2] = {c.rows, c.cols}, ks[2] = {kernel.rows, kernel.cols};
    const Index ss[2] = {st.rows, st.cols}, ds[2] = {d.rows, d.cols};
    const Index ps[2] = {p.rows, p.cols}, ops[2] = {op.rows, op.cols};
    for (int i = 0; i < 2; ++i) {
      reach[i] = Wide(ins[i] - 1) * ss[i] + Wide(ds[i]) * (ks[i] - 1) + 1;
      out[i] = reach[i] - 2 * Wide(ps[i]) + ops[i];
    }
  }
  // Each extent is bounded before any product (two extents of 2^93 overflow even 128 bits);
  // an output extent is at most its reach plus 2^30.
  const Wide plane_limit = convtape::detail::kMaxPlaneElements;
  const bool extents_ok =
      valid && out[0] >= 1 && out[1] >= 1 && reach[0] <= plane_limit && reach[1] <= plane_limit;
  const bool in_limits =
      extents_ok && out[0] * out[1] <= plane_limit && reach[0] * reach[1] <= plane_limit;
  if (size_ok && !in_limits) die("conv_transpose2d_output_size accepted invalid options");
  if (!size_ok && extents_ok && out[0] * out[1] <= (Wide(1) << 20) &&
      reach[0] * reach[1] <= (Wide(1) << 20)) {
    die("conv_transpose2d_output_size rejected valid options");
  }
  if (size_ok && (Wide(size.rows) != out[0] || Wide(size.cols) != out[1])) {
    die("wrong transposed output extent");
  }

  if (!small_shape(c.batch, c.in_channels, c.rows, c.cols)) return;
  if (!small_shape(weight_in, c.out_channels, c.kernel_rows, c.kernel_cols)) return;
  if (size_ok && (c.groups > kMaxElements ||
                  !small_shape(c.batch, c.out_channels * c.groups, size.rows, size.cols))) {
    return;
  }
  if (size_ok && Wide(c.batch) * c.in_channels * c.rows * c.cols * c.out_channels * c.kernel_rows *
                         c.kernel_cols >
                     64 * kMaxElements) {
    return;  // the reference loops would be slow
  }
  const Tensor<S> x = random_tensor<S>(in, c.batch, c.in_channels, c.rows, c.cols);
  const Tensor<S> w = random_tensor<S>(in, weight_in, c.out_channels, c.kernel_rows, c.kernel_cols);
  VectorX<S> b;
  if (c.bias && c.groups >= 1 && c.groups <= kMaxElements &&
      c.out_channels * c.groups <= kMaxElements) {
    b.resize(c.out_channels * c.groups);
    for (Index i = 0; i < b.size(); ++i) b[i] = static_cast<S>(in.value());
  }
  Tensor<S> y, y_ref;
  const bool ok =
      accepted("conv_transpose2d", [&] { y = convtape::conv_transpose2d(x, w, b, opts); });
  const bool ref_ok = accepted("reference::conv_transpose2d", [&] {
    y_ref = convtape::reference::conv_transpose2d(x, w, b, opts);
  });
  if (ok != ref_ok) die("conv_transpose2d and reference::conv_transpose2d disagree on validity");
  if (ok && !size_ok) die("conv_transpose2d accepted what conv_transpose2d_output_size rejects");
  if (!ok) {
    convtape::Tape<S> tape;
    if (accepted(
            "tape conv_transpose2d",
            [&] { (void)convtape::conv_transpose2d(tape.variable(x), tape.variable(w), opts); }) &&
        b.size() == 0) {
      die("tape conv_transpose2d accepted what conv_transpose2d rejects");
    }
    return;
  }
  const double tol_y = tolerance<S>(weight_in * c.kernel_rows * c.kernel_cols);
  expect_close_tensor("conv_transpose2d", y, y_ref, tol_y);
  const Tensor<S> dy = random_tensor<S>(in, y.dim(0), y.dim(1), y.dim(2), y.dim(3));
  const convtape::Conv2dGrads<S> ref =
      convtape::reference::conv_transpose2d_backward(x, w, dy, opts);
  const double tol_x = tolerance<S>(c.out_channels * c.kernel_rows * c.kernel_cols);
  const double tol_w = tolerance<S>(c.batch * c.rows * c.cols);
  const double tol_b = tolerance<S>(y.size());
  convtape::Conv2dGrads<S> grads;
  if (!accepted("conv_transpose2d_backward",
                [&] { grads = convtape::conv_transpose2d_backward(x, w, dy, opts); })) {
    die("conv_transpose2d_backward rejected what conv_transpose2d accepts");
  }
  expect_close_tensor("conv_transpose2d_backward input", grads.input, ref.input, tol_x);
  expect_close_tensor("conv_transpose2d_backward weight", grads.weight, ref.weight, tol_w);
  expect_close("conv_transpose2d_backward bias", grads.bias, ref.bias, tol_b);

  convtape::Tape<S> tape;
  auto xv = tape.variable(x);
  auto wv = tape.variable(w);
  convtape::Var<S> yv;
  if (!accepted("tape conv_transpose2d", [&] { yv = convtape::conv_transpose2d(xv, wv, opts); })) {
    die("tape conv_transpose2d rejected what conv_transpose2d accepts");
  }
  convtape::backward(yv, dy);
  expect_close_tensor("tape conv_transpose2d input grad", xv.grad(), ref.input, tol_x);
  expect_close_tensor("tape conv_transpose2d weight grad", wv.grad(), ref.weight, tol_w);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in(data, size);
  const std::uint8_t what = in.byte();
  const Config c = decode(in);
  check_geometry(c);
  switch (what % 4) {
    case 0:
      check_numel(in);
      break;
    case 1:
      check_plane<double>(c, in);
      break;
    case 2:
      check_plane<float>(c, in);
      break;
    default: {
      // Bits 6 and 7 pick the family (0: as before they were used, so the corpus keeps its
      // meaning): in family 0 bits 2 and 3 pick conv2d in double or float, broadcasting or
      // linear (bit 4 their scalar type); pooling and conv_transpose2d take bit 2 as the type.
      const bool dbl = (what / 4) % 2 == 0;
      switch (what / 64) {
        case 0:
          switch ((what / 4) % 4) {
            case 0:
              check_batched<double>(c, in);
              break;
            case 1:
              check_batched<float>(c, in);
              break;
            case 2:
              (what / 16) % 2 == 0 ? check_broadcast<double>(in) : check_broadcast<float>(in);
              break;
            default:
              (what / 16) % 2 == 0 ? check_linear<double>(in) : check_linear<float>(in);
              break;
          }
          break;
        case 1:
          dbl ? check_pool<double>(c, in) : check_pool<float>(c, in);
          break;
        default:
          dbl ? check_transposed<double>(c, in) : check_transposed<float>(c, in);
          break;
      }
      break;
    }
  }
  return 0;
}
