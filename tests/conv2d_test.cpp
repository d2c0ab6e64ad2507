// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/conv2d.hpp"

#include <string>

#include "convtape/corr2d.hpp"
#include "convtape/reference.hpp"
#include "support/cases.hpp"
#include "support/catch.hpp"
#include "support/compare.hpp"
#include "support/errors.hpp"
#include "support/literal.hpp"
#include "support/random.hpp"

namespace {

using convtape::conv2d;
using convtape::conv2d_backward;
using convtape::Conv2dGrads;
using convtape::Conv2dOptions;
using convtape::Index;
using convtape::MatrixX;
using convtape::PaddingMode;
using convtape::Shape4;
using convtape::Tensor;
using convtape::VectorX;
using support::literal;
using support::max_abs_diff;
using support::shape_error_message;
using support::tolerance;

/// A random batched convolution: batch, groups, channels (sometimes depthwise: one input channel
/// per group), plane options from random_plane_case, with or without a bias.
struct BatchedCase {
  Index batch = 1;
  Index in_channels = 1;
  Index out_channels = 1;
  support::PlaneCase plane;
  bool with_bias = true;

  Index groups() const { return plane.opts.groups(); }
  std::string describe() const {
    return "batch " + std::to_string(batch) + ", C_in " + std::to_string(in_channels) + ", C_out " +
           std::to_string(out_channels) + (with_bias ? ", bias, " : ", no bias, ") +
           support::describe(plane);
  }
};

BatchedCase random_batched_case(support::Rng& rng) {
  BatchedCase c;
  c.plane = support::random_plane_case(rng, 7, 4);
  const Index groups = rng.index(1, 3);
  const bool depthwise = rng.index(0, 3) == 0;
  c.batch = rng.index(1, 3);
  c.in_channels = groups * (depthwise ? 1 : rng.index(1, 2));
  c.out_channels = groups * rng.index(1, 2);
  c.plane.opts.groups(groups);
  c.with_bias = rng.coin();
  return c;
}

/// What conv2d must compute, assembled from single-plane reference correlations with the group
/// arithmetic written out here: y[n, o] = bias[o] + sum_i corr2d(x[n, g * C_in/G + i], w[o, i]).
template <class S>
Tensor<S> per_plane_sum(const Tensor<S>& x, const Tensor<S>& weight, const VectorX<S>& bias,
                        const Conv2dOptions& opts) {
  const Index groups = opts.groups();
  const Index in_per_group = x.dim(1) / groups;
  const Index out_per_group = weight.dim(0) / groups;
  Tensor<S> y;
  for (Index n = 0; n < x.dim(0); ++n) {
    for (Index o = 0; o < weight.dim(0); ++o) {
      const Index g = o / out_per_group;
      MatrixX<S> acc;
      for (Index i = 0; i < in_per_group; ++i) {
        const MatrixX<S> term =
            convtape::reference::corr2d(x.plane(n, g * in_per_group + i), weight.plane(o, i), opts);
        acc = i == 0 ? term : MatrixX<S>(acc + term);
      }
      if (bias.size() != 0) acc.array() += bias[o];
      if (y.empty()) y = Tensor<S>(x.dim(0), weight.dim(0), acc.rows(), acc.cols());
      y.plane(n, o) = acc;
    }
  }
  return y;
}

/// What conv2d_backward must compute, from single-plane reference adjoints.
template <class S>
Conv2dGrads<S> per_plane_grads(const Tensor<S>& x, const Tensor<S>& weight, const Tensor<S>& dy,
                               const Conv2dOptions& opts) {
  const Index groups = opts.groups();
  const Index in_per_group = x.dim(1) / groups;
  const Index out_per_group = weight.dim(0) / groups;
  Conv2dGrads<S> grads{Tensor<S>(x.shape()), Tensor<S>(weight.shape()),
                       VectorX<S>::Zero(weight.dim(0))};
  for (Index n = 0; n < x.dim(0); ++n) {
    for (Index o = 0; o < weight.dim(0); ++o) {
      const Index g = o / out_per_group;
      grads.bias[o] += dy.plane(n, o).sum();
      for (Index i = 0; i < in_per_group; ++i) {
        const Index c = g * in_per_group + i;
        grads.input.plane(n, c) += convtape::reference::corr2d_grad_input(
            dy.plane(n, o), weight.plane(o, i), x.dim(2), x.dim(3), opts);
        grads.weight.plane(o, i) += convtape::reference::corr2d_grad_kernel(
            x.plane(n, c), dy.plane(n, o), weight.dim(2), weight.dim(3), opts);
      }
    }
  }
  return grads;
}

// ---------------------------------------------------------------------------------------------
// Hand-worked

TEST_CASE("conv2d finds the notebook's edges on X.reshape(1, 1, 6, 8)", "[conv2d][notebook]") {
  const MatrixX<double> X = literal<double>(6, 8, {1, 1, 0, 0, 0, 0, 1, 1,  //
                                                   1, 1, 0, 0, 0, 0, 1, 1,  //
                                                   1, 1, 0, 0, 0, 0, 1, 1,  //
                                                   1, 1, 0, 0, 0, 0, 1, 1,  //
                                                   1, 1, 0, 0, 0, 0, 1, 1,  //
                                                   1, 1, 0, 0, 0, 0, 1, 1});
  const Tensor<double> x = Tensor<double>::from_matrix(X);
  Tensor<double> weight(1, 1, 1, 2);
  weight(0, 0, 0, 0) = 1.0;
  weight(0, 0, 0, 1) = -1.0;
  const Tensor<double> y = conv2d(x, weight);
  CHECK(y.shape() == Shape4{1, 1, 6, 7});
  CHECK(y.matrix() == literal<double>(6, 7, {0, 1, 0, 0, 0, -1, 0,  //
                                             0, 1, 0, 0, 0, -1, 0,  //
                                             0, 1, 0, 0, 0, -1, 0,  //
                                             0, 1, 0, 0, 0, -1, 0,  //
                                             0, 1, 0, 0, 0, -1, 0,  //
                                             0, 1, 0, 0, 0, -1, 0}));
}

TEST_CASE("conv2d sums channels, adds the bias and keeps groups apart, as worked by hand",
          "[conv2d]") {
  // x: one sample, two 2x2 channels [[1 2] [3 4]] and [[10 20] [30 40]]; 1x1 kernels.
  Tensor<double> x(1, 2, 2, 2);
  x.plane(0, 0) = literal<double>(2, 2, {1, 2, 3, 4});
  x.plane(0, 1) = literal<double>(2, 2, {10, 20, 30, 40});
  SECTION("groups 1: one output channel, 2 * x0 + 3 * x1 + bias 1") {
    Tensor<double> w(1, 2, 1, 1);
    w(0, 0, 0, 0) = 2.0;
    w(0, 1, 0, 0) = 3.0;
    VectorX<double> bias(1);
    bias << 1.0;
    const Tensor<double> y = conv2d(x, w, bias);
    CHECK(y.shape() == Shape4{1, 1, 2, 2});
    CHECK(y.matrix() == literal<double>(2, 2, {33, 65, 97, 129}));
  }
  SECTION("groups 2 (depthwise): output c reads input c only") {
    Tensor<double> w(2, 1, 1, 1);
    w(0, 0, 0, 0) = 2.0;
    w(1, 0, 0, 0) = 3.0;
    const Tensor<double> y = conv2d(x, w, Conv2dOptions().groups(2));
    CHECK(y.shape() == Shape4{1, 2, 2, 2});
    CHECK(MatrixX<double>(y.plane(0, 0)) == literal<double>(2, 2, {2, 4, 6, 8}));
    CHECK(MatrixX<double>(y.plane(0, 1)) == literal<double>(2, 2, {30, 60, 90, 120}));
  }
  SECTION("backward: bias gradient sums grad_out, weight gradient sums x * grad_out") {
    Tensor<double> w(1, 2, 1, 1);
    w(0, 0, 0, 0) = 2.0;
    w(0, 1, 0, 0) = 3.0;
    Tensor<double> dy(1, 1, 2, 2);
    dy.plane(0, 0) = literal<double>(2, 2, {1, 0, 0, 2});
    const Conv2dGrads<double> g = conv2d_backward(x, w, dy);
    CHECK(g.bias == literal<double>(1, 1, {3}));
    CHECK(g.weight(0, 0, 0, 0) == 1.0 * 1 + 2.0 * 4);
    CHECK(g.weight(0, 1, 0, 0) == 1.0 * 10 + 2.0 * 40);
    CHECK(MatrixX<double>(g.input.plane(0, 0)) == literal<double>(2, 2, {2, 0, 0, 4}));
    CHECK(MatrixX<double>(g.input.plane(0, 1)) == literal<double>(2, 2, {3, 0, 0, 6}));
  }
}

// ---------------------------------------------------------------------------------------------
// Differential

TEMPLATE_TEST_CASE("conv2d matches the reference loops and a per-plane sum of reference corr2d",
                   "[conv2d][reference]", float, double) {
  using S = TestType;
  support::Rng rng(23);
  support::CaseCoverage coverage;
  int depthwise = 0, grouped = 0, batched = 0, with_bias = 0, without_bias = 0;
  for (int trial = 0; trial < 120; ++trial) {
    const BatchedCase c = random_batched_case(rng);
    INFO("trial " << trial << ": " << c.describe());
    const Conv2dOptions& opts = c.plane.opts;
    const Tensor<S> x = rng.tensor<S>(c.batch, c.in_channels, c.plane.in_rows, c.plane.in_cols);
    const Tensor<S> w = rng.tensor<S>(c.out_channels, c.in_channels / c.groups(),
                                      c.plane.kernel_rows, c.plane.kernel_cols);
    const VectorX<S> bias = c.with_bias ? rng.vector<S>(c.out_channels) : VectorX<S>();
    const Tensor<S> y = conv2d(x, w, bias, opts);
    coverage.add(c.plane, y.dim(2), y.dim(3));
    depthwise += c.groups() > 1 && c.in_channels == c.groups();
    grouped += c.groups() > 1 && c.in_channels > c.groups();
    batched += c.batch > 1;
    (c.with_bias ? with_bias : without_bias) += 1;
    const double tol = tolerance<S>(w.size() / c.out_channels + 1);
    CHECK_THAT(max_abs_diff(y, convtape::reference::conv2d(x, w, bias, opts)), WithinAbs(0.0, tol));
    CHECK_THAT(max_abs_diff(y, per_plane_sum(x, w, bias, opts)), WithinAbs(0.0, tol));
    if (!c.with_bias) {
      CHECK(max_abs_diff(conv2d(x, w, opts), y) == 0.0);
      CHECK(max_abs_diff(conv2d(x, w, {}, opts), y) == 0.0);  // {} is "no bias"
    }
  }
  CHECK(coverage.missing() == "");
  CHECK(depthwise > 0);
  CHECK(grouped > 0);
  CHECK(batched > 0);
  CHECK(with_bias > 0);
  CHECK(without_bias > 0);
}

TEMPLATE_TEST_CASE("conv2d_backward matches the reference loops and per-plane reference adjoints",
                   "[conv2d][grad][reference]", float, double) {
  using S = TestType;
  support::Rng rng(29);
  for (int trial = 0; trial < 120; ++trial) {
    const BatchedCase c = random_batched_case(rng);
    INFO("trial " << trial << ": " << c.describe());
    const Conv2dOptions& opts = c.plane.opts;
    const Tensor<S> x = rng.tensor<S>(c.batch, c.in_channels, c.plane.in_rows, c.plane.in_cols);
    const Tensor<S> w = rng.tensor<S>(c.out_channels, c.in_channels / c.groups(),
                                      c.plane.kernel_rows, c.plane.kernel_cols);
    const Shape4 out = conv2d(x, w, opts).shape();
    const Tensor<S> dy = rng.tensor<S>(out[0], out[1], out[2], out[3]);
    const Conv2dGrads<S> g = conv2d_backward(x, w, dy, opts);
    const Conv2dGrads<S> ref = convtape::reference::conv2d_backward(x, w, dy, opts);
    const Conv2dGrads<S> planes = per_plane_grads(x, w, dy, opts);
    // Bounds on the number of products summed into one gradient element.
    const Index outputs_per_plane = out[2] * out[3];
    const double dx_tol = tolerance<S>(outputs_per_plane * w.size());
    const double dw_tol = tolerance<S>(outputs_per_plane * c.batch);
    CHECK_THAT(max_abs_diff(g.input, ref.input), WithinAbs(0.0, dx_tol));
    CHECK_THAT(max_abs_diff(g.input, planes.input), WithinAbs(0.0, dx_tol));
    CHECK_THAT(max_abs_diff(g.weight, ref.weight), WithinAbs(0.0, dw_tol));
    CHECK_THAT(max_abs_diff(g.weight, planes.weight), WithinAbs(0.0, dw_tol));
    CHECK_THAT(max_abs_diff(g.bias, ref.bias), WithinAbs(0.0, dw_tol));
    CHECK_THAT(max_abs_diff(g.bias, planes.bias), WithinAbs(0.0, dw_tol));
  }
}

TEMPLATE_TEST_CASE("conv2d_backward is the adjoint of conv2d: <y, dy> = <x, dx> = <w, dw>",
                   "[conv2d][grad]", float, double) {
  using S = TestType;
  support::Rng rng(31);
  for (int trial = 0; trial < 120; ++trial) {
    const BatchedCase c = random_batched_case(rng);
    INFO("trial " << trial << ": " << c.describe());
    const Conv2dOptions& opts = c.plane.opts;
    const Tensor<S> x = rng.tensor<S>(c.batch, c.in_channels, c.plane.in_rows, c.plane.in_cols);
    const Tensor<S> w = rng.tensor<S>(c.out_channels, c.in_channels / c.groups(),
                                      c.plane.kernel_rows, c.plane.kernel_cols);
    const VectorX<S> bias = rng.vector<S>(c.out_channels);
    const Tensor<S> y = conv2d(x, w, opts);
    const Shape4 out = y.shape();
    const Tensor<S> dy = rng.tensor<S>(out[0], out[1], out[2], out[3]);
    const Conv2dGrads<S> g = conv2d_backward(x, w, dy, opts);
    const double lhs = support::dot(y, dy);
    const double tol = tolerance<S>(y.size() * w.size());
    CHECK_THAT(support::dot(x, g.input), WithinAbs(lhs, tol));
    CHECK_THAT(support::dot(w, g.weight), WithinAbs(lhs, tol));
    // y is affine in the bias: <conv2d(x, w, b) - conv2d(x, w), dy> = <b, grad bias>.
    Tensor<S> shift = conv2d(x, w, bias, opts);
    shift.flat() -= y.flat();
    CHECK_THAT(support::dot(bias, g.bias), WithinAbs(support::dot(shift, dy), tol));
  }
}

TEST_CASE("conv2d and conv2d_backward agree exactly with the reference loops on int",
          "[conv2d][int]") {
  support::Rng rng(37);
  for (int trial = 0; trial < 40; ++trial) {
    const BatchedCase c = random_batched_case(rng);
    INFO("trial " << trial << ": " << c.describe());
    const Conv2dOptions& opts = c.plane.opts;
    const Tensor<int> x = rng.tensor<int>(c.batch, c.in_channels, c.plane.in_rows, c.plane.in_cols);
    const Tensor<int> w = rng.tensor<int>(c.out_channels, c.in_channels / c.groups(),
                                          c.plane.kernel_rows, c.plane.kernel_cols);
    const VectorX<int> bias = rng.vector<int>(c.out_channels);
    const Tensor<int> y = conv2d(x, w, bias, opts);
    CHECK(max_abs_diff(y, convtape::reference::conv2d(x, w, bias, opts)) == 0.0);
    const Shape4 out = y.shape();
    const Tensor<int> dy = rng.tensor<int>(out[0], out[1], out[2], out[3]);
    const Conv2dGrads<int> g = conv2d_backward(x, w, dy, opts);
    const Conv2dGrads<int> ref = convtape::reference::conv2d_backward(x, w, dy, opts);
    CHECK(max_abs_diff(g.input, ref.input) == 0.0);
    CHECK(max_abs_diff(g.weight, ref.weight) == 0.0);
    CHECK(g.bias == ref.bias);
  }
}

// ---------------------------------------------------------------------------------------------
// Bad input

TEST_CASE("conv2d and conv2d_backward reject bad shapes with a shape_error naming them",
          "[conv2d][errors]") {
  support::Rng rng(41);
  const Tensor<double> x = rng.tensor<double>(2, 4, 5, 6);
  const Tensor<double> w = rng.tensor<double>(3, 4, 3, 3);
  const VectorX<double> bias = rng.vector<double>(3);
  const Tensor<double> dy = rng.tensor<double>(2, 3, 3, 4);  // the right grad_out shape
  REQUIRE(conv2d(x, w, bias).shape() == dy.shape());
  const Tensor<double> x_before = x;
  const Tensor<double> w_before = w;
  const Tensor<double> dy_before = dy;
  const VectorX<double> bias_before = bias;

  // Each bad case is checked on conv2d and on conv2d_backward, which must name itself.
  const auto both = [&](const Tensor<double>& xx, const Tensor<double>& ww,
                        const Conv2dOptions& opts, const std::string& expected) {
    CHECK_THAT(shape_error_message([&] { conv2d(xx, ww, opts); }),
               Contains("conv2d: ") && Contains(expected));
    const Tensor<double> any_dy(1, 1, 1, 1);
    CHECK_THAT(shape_error_message([&] { conv2d_backward(xx, ww, any_dy, opts); }),
               Contains("conv2d_backward: ") && Contains(expected));
  };

  SECTION("empty x or weight") {
    both(Tensor<double>(0, 4, 5, 6), w, {}, "x is empty, shape (0, 4, 5, 6)");
    both(Tensor<double>(2, 4, 0, 6), w, {}, "x is empty, shape (2, 4, 0, 6)");
    both(x, Tensor<double>(3, 4, 3, 0), {}, "weight is empty, shape (3, 4, 3, 0)");
  }
  SECTION("groups not positive") {
    both(x, w, Conv2dOptions().groups(0), "groups must be positive, got 0");
    both(x, w, Conv2dOptions().groups(-2), "groups must be positive, got -2");
  }
  SECTION("channels not divisible by groups") {
    both(x, rng.tensor<double>(3, 1, 3, 3), Conv2dOptions().groups(3),
         "x (2, 4, 5, 6) has 4 channels, not divisible by groups = 3");
    both(x, rng.tensor<double>(3, 2, 3, 3), Conv2dOptions().groups(2),
         "weight (3, 2, 3, 3) has 3 output channels, not divisible by groups = 2");
  }
  SECTION("weight's input channels do not match x's") {
    both(x, rng.tensor<double>(3, 3, 3, 3), {},
         "weight (3, 3, 3, 3) has 3 input channels per group but x (2, 4, 5, 6) has 4 (groups = "
         "1)");
    both(x, rng.tensor<double>(2, 4, 3, 3), Conv2dOptions().groups(2),
         "weight (2, 4, 3, 3) has 4 input channels per group but x (2, 4, 5, 6) has 4 channels, "
         "2 per group (groups = 2)");
  }
  SECTION("kernel larger than the plane, and bad plane options") {
    both(x, rng.tensor<double>(3, 4, 6, 3), {}, "kernel 6x3 is larger than the input 5x6");
    both(x, w, Conv2dOptions().stride(0), "stride must be positive");
    both(x, w, Conv2dOptions().dilation(1, -1), "dilation must be positive");
    both(x, w, Conv2dOptions().padding(-1), "padding must be non-negative");
  }
  SECTION("bias of the wrong size") {
    CHECK_THAT(shape_error_message([&] { conv2d(x, w, rng.vector<double>(2)); }),
               Contains("conv2d: bias has 2 elements but weight (3, 4, 3, 3) has 3 output "
                        "channels"));
  }
  SECTION("grad_out of the wrong shape") {
    const Tensor<double> wrong(2, 3, 4, 3);
    CHECK_THAT(shape_error_message([&] { conv2d_backward(x, w, wrong); }),
               Contains("conv2d_backward: grad_out has shape (2, 3, 4, 3)") &&
                   Contains("x (2, 4, 5, 6)") && Contains("weight (3, 4, 3, 3)") &&
                   Contains("has shape (2, 3, 3, 4)"));
    CHECK_THAT(shape_error_message([&] { conv2d_backward(x, w, Tensor<double>(1, 3, 3, 4)); }),
               Contains("grad_out has shape (1, 3, 3, 4)"));
  }
  CHECK(max_abs_diff(x, x_before) == 0.0);
  CHECK(max_abs_diff(w, w_before) == 0.0);
  CHECK(max_abs_diff(dy, dy_before) == 0.0);
  CHECK(bias == bias_before);
}

TEST_CASE("reference::conv2d rejects what conv2d rejects", "[conv2d][reference][errors]") {
  const Tensor<double> x(1, 2, 4, 4);
  const Tensor<double> w(1, 3, 2, 2);
  CHECK_THAT(shape_error_message([&] { convtape::reference::conv2d(x, w, VectorX<double>(), {}); }),
             Contains("reference::conv2d") && Contains("3 input channels per group"));
  CHECK_THAT(shape_error_message([&] {
               convtape::reference::conv2d_backward(x, w, Tensor<double>(1, 1, 3, 3), {});
             }),
             Contains("reference::conv2d_backward") && Contains("3 input channels per group"));
}

// Found by tests/fuzz/shapes_fuzz: the input gradient's GEMM + col2im path formed a pointer into
// an empty partial-sum buffer (null + offset, undefined behaviour that UBSan reports; the value
// was never read, so only the sanitized suite can fail here). The values must still match.
TEST_CASE(
    "conv2d_backward with one reduction pass (stride 5x1, dilation 5, same, circular) "
    "matches the reference loops",
    "[conv2d][grad][reference][regression]") {
  support::Rng rng(61);
  const Conv2dOptions opts =
      Conv2dOptions().stride(5, 1).dilation(5).padding_same().padding_mode(PaddingMode::circular);
  const Tensor<double> x = rng.tensor<double>(6, 1, 6, 6);
  const Tensor<double> w = rng.tensor<double>(6, 1, 6, 6);
  const Shape4 out = conv2d(x, w, opts).shape();
  const Tensor<double> dy = rng.tensor<double>(out[0], out[1], out[2], out[3]);
  const Conv2dGrads<double> g = conv2d_backward(x, w, dy, opts);
  const Conv2dGrads<double> ref = convtape::reference::conv2d_backward(x, w, dy, opts);
  const double tol = tolerance<double>(out[2] * out[3] * w.size());
  CHECK_THAT(max_abs_diff(g.input, ref.input), WithinAbs(0.0, tol));
  CHECK_THAT(max_abs_diff(g.weight, ref.weight), WithinAbs(0.0, tol));
  CHECK_THAT(max_abs_diff(g.bias, ref.bias), WithinAbs(0.0, tol));
}

TEST_CASE(
    "conv2d, conv2d_backward and corr2d reject a padding of 2^30 per side with a shape_error, "
    "not bad_alloc",
    "[conv2d][errors][overflow][regression]") {
  // Each side is within the option bound (2^30), but the padded plane would have 2^62 elements.
  const Conv2dOptions opts = Conv2dOptions().padding(Index(1) << 30);
  const Tensor<double> x(1, 1, 2, 2), w(1, 1, 1, 1), dy(1, 1, 1, 1);
  const char* const expected = "padded input 2147483650x2147483650 (input 2x2";
  CHECK_THAT(shape_error_message([&] { conv2d(x, w, opts); }),
             Contains("conv2d: ") && Contains(expected));
  CHECK_THAT(shape_error_message([&] { conv2d_backward(x, w, dy, opts); }),
             Contains("conv2d_backward: ") && Contains(expected));
  const MatrixX<double> plane = MatrixX<double>::Zero(2, 2), k = MatrixX<double>::Ones(1, 1);
  CHECK_THAT(shape_error_message([&] { convtape::corr2d(plane, k, opts); }),
             Contains("corr2d: ") && Contains(expected));
  CHECK_THAT(shape_error_message([&] {
               convtape::corr2d(plane, k, Conv2dOptions(opts).padding_mode(PaddingMode::reflect));
             }),
             Contains(expected));
}

TEST_CASE("conv2d rejects an output or padded image of more than 2^40 elements with a shape_error",
          "[conv2d][errors][overflow]") {
  // A padding of 32767 per side keeps each padded plane (65535 x 65535) below 2^32 elements, but
  // 1024 of them are more than 2^40: an allocation of terabytes, computed from the options.
  const Conv2dOptions opts = Conv2dOptions().padding(32767);
  SECTION("the padded copy of 1024 channels") {
    const Tensor<float> x(1, 1024, 1, 1), w(1, 1024, 1, 1);
    CHECK_THAT(shape_error_message([&] { conv2d(x, w, opts); }),
               Contains("conv2d: x (1, 1024, 1, 1) and weight (1, 1024, 1, 1)") &&
                   Contains("padded image of 1024x65535x65535; each may have at most "
                            "1099511627776 elements"));
  }
  SECTION("the output of a batch of 1024") {
    const Tensor<float> x(1024, 1, 1, 1), w(1, 1, 1, 1), dy(1, 1, 1, 1);
    CHECK_THAT(shape_error_message([&] { conv2d(x, w, opts); }),
               Contains("need an output of shape (1024, 1, 65535, 65535)"));
    CHECK_THAT(shape_error_message([&] { conv2d_backward(x, w, dy, opts); }),
               Contains("conv2d_backward: ") && Contains("(1024, 1, 65535, 65535)"));
  }
}

}  // namespace
