// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// NaN and Inf through corr2d, conv2d (every path), their gradients and the tape: they propagate
// as IEEE arithmetic on the reference loops says (a non-finite sample makes exactly the results
// whose sums contain it non-finite, Inf * 0 = NaN, Inf - Inf = NaN), with the two documented
// differences of the fast paths (docs/reliability.md): Winograd may turn an infinite output
// into NaN, and the stride-1 input gradient of a non-finite weight covers the whole input plane.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "convtape/autograd/ops.hpp"
#include "convtape/conv2d.hpp"
#include "convtape/corr2d.hpp"
#include "convtape/reference.hpp"
#include "support/catch.hpp"
#include "support/internals.hpp"

namespace {

using convtape::Conv2dGrads;
using convtape::Conv2dOptions;
using convtape::Index;
using convtape::MatrixX;
using convtape::PaddingMode;
using convtape::RowMatrixX;
using convtape::Tensor;
using convtape::VectorX;
using support::Conv2dPath;
using support::kAllPaths;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

/// 'N' for NaN, '+' / '-' for +-Inf, '.' for a finite value.
char kind(double v) {
  if (std::isnan(v)) return 'N';
  if (std::isinf(v)) return v > 0 ? '+' : '-';
  return '.';
}

/// The kinds of n values, as a string (so that a failure shows the whole pattern).
template <class T>
std::string pattern(const T* data, Index n) {
  std::string s;
  for (Index i = 0; i < n; ++i) s += kind(double(data[i]));
  return s;
}
template <class M>
std::string pattern(const M& m) {
  const MatrixX<double> c = m.template cast<double>();  // column-major order for both layouts
  return pattern(c.data(), c.size());
}
std::string pattern(const Tensor<double>& t) { return pattern(t.data(), t.size()); }

/// The input-gradient pattern of a non-finite weight on a stride-1 fast path, given the
/// reference's pattern `want` over [first, first + n) and the pattern `got`: that path correlates
/// the zero-padded dy with the flipped kernel, so the weight also meets padding zeros (0 * NaN =
/// 0 * Inf = NaN) and, with a non-zero padding mode, such NaNs fold back onto the border samples:
/// every sample is non-finite, NaN where the reference is finite or NaN; where the reference is
/// +-Inf, that Inf or NaN. Returns `want` with this applied (and `got`'s choice at the Infs).
std::string whole_plane(std::string want, const std::string& got, Index first, Index n) {
  for (Index i = first; i < first + n; ++i) {
    const auto j = static_cast<std::size_t>(i);
    if (want[j] == '.') want[j] = 'N';
    if ((want[j] == '+' || want[j] == '-') && got[j] == 'N') want[j] = 'N';
  }
  return want;
}

/// Finite elements agree within `tol` (the non-finite ones are compared by pattern); one
/// assertion per array, naming the first element that differs.
void check_finite_close(const double* got, const double* want, Index n, double tol) {
  Index bad = -1;
  for (Index i = 0; i < n && bad < 0; ++i) {
    if (std::isfinite(want[i]) && std::isfinite(got[i]) && !(std::abs(got[i] - want[i]) <= tol)) {
      bad = i;
    }
  }
  INFO("first differing element: " << bad);
  CHECK(bad == -1);
}

TEST_CASE("corr2d propagates NaN and Inf as IEEE arithmetic on the textbook loop: hand-worked",
          "[nonfinite][corr2d]") {
  MatrixX<double> x(3, 3);
  x << 0, 1, 2, 3, 4, 5, 6, 7, 8;
  MatrixX<double> k(2, 2);
  k << 0, 1, 2, 3;
  SECTION("a NaN in the center is in every window") {
    x(1, 1) = kNaN;
    CHECK(pattern(convtape::corr2d(x, k)) == "NNNN");
  }
  SECTION("a NaN in a corner is in one window only") {
    x(0, 0) = kNaN;
    const MatrixX<double> y = convtape::corr2d(x, k);
    CHECK(pattern(y) == "N...");
    CHECK(y(0, 1) == 25);  // the notebook's values elsewhere: [[19, 25], [37, 43]]
    CHECK(y(1, 0) == 37);
    CHECK(y(1, 1) == 43);
  }
  SECTION("Inf times a zero tap is NaN, times a positive tap is Inf") {
    x(0, 0) = kInf;  // read by tap k(0, 0) = 0 in window (0, 0) only
    x(2, 2) = kInf;  // read by tap k(1, 1) = 3 in window (1, 1) only
    CHECK(pattern(convtape::corr2d(x, k)) == "N..+");
  }
  SECTION("+Inf and -Inf in one window give NaN") {
    x(1, 1) = kInf;
    x(1, 2) = -kInf;  // windows (0, 1) and (1, 1) hold both; (0, 0) and (1, 0) only +Inf
    CHECK(pattern(convtape::corr2d(x, k)) == "++NN");
  }
  SECTION("a NaN tap reaches every output, also over zero padding (0 * NaN = NaN)") {
    k(1, 1) = kNaN;
    CHECK(pattern(convtape::corr2d(x, k, Conv2dOptions().padding(1))) == std::string(16, 'N'));
  }
}

/// Plane options covering every padding kind and mode, strides and dilations.
std::vector<Conv2dOptions> plane_options() {
  return {Conv2dOptions(),
          Conv2dOptions().padding(1),
          Conv2dOptions().padding(0, 2, 1, 0).padding_mode(PaddingMode::reflect),
          Conv2dOptions().padding_same().padding_mode(PaddingMode::replicate),
          Conv2dOptions().padding(2).padding_mode(PaddingMode::circular),
          Conv2dOptions().stride(2).padding(1),
          Conv2dOptions().stride(1, 2).dilation(2, 1).padding(1)};
}

/// corr2d and both adjoints on x, k, dy stored as M, against the reference's patterns and values.
template <class M>
void check_plane(const MatrixX<double>& xd, const MatrixX<double>& kd, const MatrixX<double>& dyd,
                 const Conv2dOptions& opts, bool bad_kernel) {
  const M x = xd, k = kd, dy = dyd;
  const MatrixX<double> want = convtape::reference::corr2d(xd, kd, opts);
  const MatrixX<double> want_dx =
      convtape::reference::corr2d_grad_input(dyd, kd, xd.rows(), xd.cols(), opts);
  const MatrixX<double> want_dk =
      convtape::reference::corr2d_grad_kernel(xd, dyd, kd.rows(), kd.cols(), opts);
  const MatrixX<double> y = convtape::corr2d(x, k, opts);
  const MatrixX<double> dx = convtape::corr2d_grad_input(dy, k, xd.rows(), xd.cols(), opts);
  const MatrixX<double> dk = convtape::corr2d_grad_kernel(x, dy, kd.rows(), kd.cols(), opts);
  CHECK(pattern(y) == pattern(want));
  if (bad_kernel && opts.stride() == convtape::Size2(1, 1)) {
    CHECK(pattern(dx) == whole_plane(pattern(want_dx), pattern(dx), 0, dx.size()));
  } else {
    CHECK(pattern(dx) == pattern(want_dx));  // for a non-finite x: all finite
  }
  CHECK(pattern(dk) == pattern(want_dk));
  check_finite_close(y.data(), want.data(), y.size(), 1e-12);
  check_finite_close(dx.data(), want_dx.data(), dx.size(), 1e-12);
  check_finite_close(dk.data(), want_dk.data(), dk.size(), 1e-12);
}

TEST_CASE(
    "corr2d and its adjoints give the reference loops' NaN and Inf pattern for every "
    "option, position and storage order",
    "[nonfinite][corr2d]") {
  const double bad_values[] = {kNaN, kInf, -kInf};
  // 3x3 kernels, and a 6x6 one, which takes the separable (rank-one) two-pass kernel when finite.
  const Index kernel_sizes[] = {3, 6};
  for (const Conv2dOptions& opts : plane_options()) {
    for (const Index ks : kernel_sizes) {
      MatrixX<double> x(7, 8), k(ks, ks);
      for (Index i = 0; i < x.size(); ++i) x.data()[i] = 0.25 + 0.125 * double(i % 5);
      for (Index i = 0; i < ks; ++i) {
        for (Index j = 0; j < ks; ++j) k(i, j) = (1.0 + 0.5 * double(i)) * (1.0 + double(j % 2));
      }
      k(0, 0) = 0;  // rank one still (a zero row scale would not be): Inf * 0 taps exist
      k.row(0).setZero();
      convtape::Conv2dGeometry g;
      try {
        g = convtape::conv2d_geometry(7, 8, ks, ks, opts);
      } catch (const convtape::shape_error&) {
        continue;  // the 6x6 kernel dilated is taller than the padded input
      }
      const MatrixX<double> dy = MatrixX<double>::Constant(g.out_rows, g.out_cols, 0.5);
      for (const double bad : bad_values) {
        for (const auto& at : {std::pair<Index, Index>{0, 0}, {3, 4}, {6, 7}, {2, 7}}) {
          INFO("padding (" << g.pad.top << ", " << g.pad.bottom << ", " << g.pad.left << ", "
                           << g.pad.right << ") " << convtape::to_string(g.mode) << ", stride "
                           << g.stride << ", dilation " << g.dilation << ", kernel " << ks << ", x("
                           << at.first << ", " << at.second << ") = " << bad);
          MatrixX<double> xb = x;
          xb(at.first, at.second) = bad;
          check_plane<MatrixX<double>>(xb, k, dy, opts, false);
          check_plane<RowMatrixX<double>>(xb, k, dy, opts, false);
        }
        INFO("kernel " << ks << ", k(1, 2) = " << bad);
        MatrixX<double> kb = k;
        kb(1, 2) = bad;
        check_plane<MatrixX<double>>(x, kb, dy, opts, true);
        check_plane<RowMatrixX<double>>(x, kb, dy, opts, true);
      }
    }
  }
}

/// Batched problems on which every path runs (Winograd on the 3x3, stride-1, undilated ones).
std::vector<std::pair<Conv2dOptions, Index>> batched_options() {
  return {{Conv2dOptions(), 3},
          {Conv2dOptions().padding(1), 3},
          {Conv2dOptions().padding(1).padding_mode(PaddingMode::circular), 3},
          {Conv2dOptions().padding_same().padding_mode(PaddingMode::reflect), 3},
          {Conv2dOptions().stride(2).padding(1), 3},
          {Conv2dOptions().stride(1, 2), 3},
          {Conv2dOptions().dilation(2).padding(1), 2},
          {Conv2dOptions().groups(2).padding(1), 3}};
}

TEST_CASE(
    "conv2d and conv2d_backward on every path give the reference loops' NaN and Inf "
    "pattern, with the documented Winograd and stride-1 input-gradient differences",
    "[nonfinite][conv2d]") {
  const double bad_values[] = {kNaN, kInf, -kInf};
  for (const auto& [opts, ks] : batched_options()) {
    const Index groups = opts.groups();
    Tensor<double> x(2, 4, 6, 7), w(4, 4 / groups, ks, ks);
    for (Index i = 0; i < x.size(); ++i) x.data()[i] = 0.25 + 0.125 * double(i % 5);
    for (Index i = 0; i < w.size(); ++i) w.data()[i] = 0.5 - 0.25 * double(i % 4);  // has zeros
    const VectorX<double> bias = VectorX<double>::Constant(4, 0.5);
    const support::Conv2dShape s = support::shape_of(x, w, opts);
    Tensor<double> dy(s.output_shape());
    dy.setConstant(0.5);
    for (const double bad : bad_values) {
      for (int where = 0; where < 4; ++where) {
        Tensor<double> xb = x, wb = w;
        if (where == 0) xb(1, 2, 3, 4) = bad;  // inside
        if (where == 1) xb(0, 0, 0, 6) = bad;  // a corner
        if (where == 2) wb(1, 0, 1, 1) = bad;  // a weight tap
        if (where == 3) wb(3, 1, 0, 0) = bad;  // a corner tap of the last group
        const bool bad_weight = where >= 2;
        const Tensor<double> want = convtape::reference::conv2d(xb, wb, bias, opts);
        const Conv2dGrads<double> want_grads =
            convtape::reference::conv2d_backward(xb, wb, dy, opts);
        for (const Conv2dPath path : kAllPaths) {
          INFO("stride " << opts.stride() << ", dilation " << opts.dilation() << ", groups "
                         << groups << ", kernel " << ks << ", "
                         << convtape::to_string(opts.padding_mode()) << ", non-finite case "
                         << where << " = " << bad << ", path " << support::path_name(path));
          const support::ForcePath force(path);
          const Tensor<double> y = convtape::conv2d(xb, wb, bias, opts);
          const Conv2dGrads<double> grads = convtape::conv2d_backward(xb, wb, dy, opts);
          const bool winograd = support::runs_winograd(path, s);
          // Forward: the reference's pattern; Winograd's transforms add and subtract the samples
          // of a tile, so an infinite output may come out NaN (Inf - Inf), never finite.
          const std::string want_y = pattern(want);
          std::string got_y = pattern(y);
          if (winograd) {
            for (std::size_t i = 0; i < got_y.size(); ++i) {
              if (got_y[i] == 'N' && (want_y[i] == '+' || want_y[i] == '-')) got_y[i] = want_y[i];
            }
          }
          CHECK(got_y == want_y);
          check_finite_close(y.data(), want.data(), y.size(), 1e-12);
          // Weight and bias gradients: exactly the reference's pattern on every path.
          CHECK(pattern(grads.weight) == pattern(want_grads.weight));
          CHECK(pattern(grads.bias.data(), 4) == pattern(want_grads.bias.data(), 4));
          check_finite_close(grads.weight.data(), want_grads.weight.data(), w.size(), 1e-12);
          // Input gradient: depends on the weights and dy only, so a non-finite input leaves it
          // finite and exact. For a non-finite weight, every stride-1 path but im2col_gemm and
          // pixel_gemm computes it as the correlation of the zero-padded dy with the flipped
          // kernel, so it also multiplies that weight by padding zeros: every sample of the input
          // channels it connects to is non-finite (see whole_plane).
          const bool spreads = bad_weight && path != Conv2dPath::im2col_gemm &&
                               path != Conv2dPath::pixel_gemm &&
                               s.geometry.stride == convtape::Size2(1, 1);
          const std::string want_dx = pattern(want_grads.input);
          const std::string got_dx = pattern(grads.input);
          if (spreads) {
            const Index o = where == 2 ? 1 : 3;
            const Index group = o / s.out_per_group;
            const Index c = where == 2 ? 0 : 1;
            const Index plane = s.geometry.in_rows * s.geometry.in_cols;
            std::string expect = want_dx;
            for (Index n = 0; n < 2; ++n) {
              expect =
                  whole_plane(expect, got_dx, (n * 4 + group * s.in_per_group + c) * plane, plane);
            }
            CHECK(got_dx == expect);
          } else {
            CHECK(got_dx == want_dx);
          }
          if (!bad_weight) CHECK(got_dx == std::string(got_dx.size(), '.'));
          check_finite_close(grads.input.data(), want_grads.input.data(), x.size(), 1e-12);
        }
      }
    }
  }
}

TEST_CASE(
    "a NaN input on the tape gives a NaN loss and NaN gradients exactly where the reference "
    "loops say, and backward neither throws nor hangs",
    "[nonfinite][tape]") {
  Tensor<double> xt(1, 1, 5, 5), wt(1, 1, 3, 3);
  for (Index i = 0; i < xt.size(); ++i) xt.data()[i] = 0.1 * double(i);
  for (Index i = 0; i < wt.size(); ++i) wt.data()[i] = 0.2 * double(i) - 0.7;
  xt(0, 0, 0, 1) = kNaN;  // read by outputs (0, 0) and (0, 1) of the valid 3x3 output only
  convtape::Tape<double> tape;
  const convtape::Var<double> x = tape.variable(xt);
  const convtape::Var<double> w = tape.variable(wt);
  const convtape::Var<double> y = convtape::conv2d(x, w);
  const convtape::Var<double> loss = convtape::sum(y);  // dy = 1 everywhere: finite
  CHECK(pattern(y.value()) == "NN.......");
  CHECK(std::isnan(loss.item()));
  convtape::backward(loss);
  Tensor<double> ones(1, 1, 3, 3);
  ones.setConstant(1);
  const Conv2dGrads<double> want = convtape::reference::conv2d_backward(xt, wt, ones, {});
  // dw(a, b) reads x(a + i, b + j) over all outputs: NaN for the taps (0, 0) and (0, 1) only.
  CHECK(pattern(w.grad()) == "NN.......");
  CHECK(pattern(w.grad()) == pattern(want.weight));
  // dx = sum of dy * w: finite, and the reference's values.
  CHECK(pattern(x.grad()) == std::string(25, '.'));
  check_finite_close(x.grad().data(), want.input.data(), 25, 1e-12);

  SECTION("a loss that squares y sends NaN back through dy = 2y to every input it touches") {
    convtape::Tape<double> t2;
    const convtape::Var<double> x2 = t2.variable(xt);
    const convtape::Var<double> l2 =
        convtape::sum(convtape::square(convtape::conv2d(x2, t2.constant(wt))));
    convtape::backward(l2);
    // dy is NaN at outputs (0, 0) and (0, 1), which read rows 0..2 and columns 0..3.
    Tensor<double> dy(1, 1, 3, 3);
    dy.flat() = 2 * convtape::reference::conv2d(xt, wt, VectorX<double>(), {}).flat();
    const Tensor<double> want_dx = convtape::reference::conv2d_backward(xt, wt, dy, {}).input;
    CHECK(pattern(x2.grad()) == pattern(want_dx));
    CHECK(pattern(x2.grad()) == "NNNN.NNNN.NNNN." + std::string(10, '.'));
  }
}

}  // namespace
