// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/pool2d.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "convtape/reference.hpp"
#include "support/catch.hpp"
#include "support/compare.hpp"
#include "support/errors.hpp"
#include "support/op_cases.hpp"
#include "support/random.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::Index;
using convtape::Pool2dOptions;
using convtape::Shape4;
using convtape::Size2;
using convtape::Tensor;
using support::max_abs_diff;
using support::pattern;
using support::PoolCase;
using support::shape_error_message;
using support::tensor_of;

/// Checks max and avg pooling, forward and backward, in scalar S against the double reference
/// loops.
template <class S>
void check_against_reference(const PoolCase& c, support::Rng& rng) {
  const Tensor<S> x = rng.tensor<S>(c.x[0], c.x[1], c.x[2], c.x[3]);
  const Tensor<double> xd = x.template cast<double>();
  const double tol = support::tolerance<S>(c.kernel.rows * c.kernel.cols);

  const Tensor<S> max_y = convtape::max_pool2d(x, c.kernel, c.opts);
  const Tensor<double> max_ref = convtape::reference::max_pool2d(xd, c.kernel, c.opts);
  CHECK(max_abs_diff(max_y.template cast<double>(), max_ref) == 0.0);  // the same samples
  const Tensor<S> dy = rng.tensor<S>(max_y.dim(0), max_y.dim(1), max_y.dim(2), max_y.dim(3));
  const convtape::MaxPool2dResult<S> with_indices =
      convtape::max_pool2d_with_indices(x, c.kernel, c.opts);
  CHECK(max_abs_diff(with_indices.output, max_y) == 0.0);
  const Tensor<S> max_dx = convtape::max_pool2d_backward(dy, with_indices.indices, x.shape());
  const Tensor<double> max_dx_ref =
      convtape::reference::max_pool2d_backward(xd, dy.template cast<double>(), c.kernel, c.opts);
  CHECK(max_abs_diff(max_dx.template cast<double>(), max_dx_ref) <=
        support::tolerance<S>(c.kernel.rows * c.kernel.cols));

  const Tensor<S> avg_y = convtape::avg_pool2d(x, c.kernel, c.opts);
  const Tensor<double> avg_ref = convtape::reference::avg_pool2d(xd, c.kernel, c.opts);
  CHECK(max_abs_diff(avg_y.template cast<double>(), avg_ref) <= tol);
  const Tensor<S> avg_dx = convtape::avg_pool2d_backward(dy, x.shape(), c.kernel, c.opts);
  const Tensor<double> avg_dx_ref = convtape::reference::avg_pool2d_backward(
      xd.shape(), dy.template cast<double>(), c.kernel, c.opts);
  CHECK(max_abs_diff(avg_dx.template cast<double>(), avg_dx_ref) <= tol);
}

TEST_CASE("max_pool2d and avg_pool2d match the reference loops on random shapes and options",
          "[pool2d]") {
  support::Rng rng(2024);
  bool fast = false, one_by_one = false, whole_input = false, ceil_partial = false;
  bool padded = false, strided = false, non_square = false, batched = false;
  for (int trial = 0; trial < 300; ++trial) {
    const PoolCase c = support::random_pool_case(rng, 9);
    INFO("trial " << trial << ": " << c.text);
    const Size2 out = convtape::pool2d_output_size({c.x[2], c.x[3]}, c.kernel, c.opts);
    const Size2 floor_out = convtape::pool2d_output_size({c.x[2], c.x[3]}, c.kernel,
                                                         Pool2dOptions(c.opts).ceil_mode(false));
    fast |= c.kernel == Size2(2, 2) && c.opts.stride() == Size2(0, 0) &&
            c.opts.padding() == Size2(0, 0) && 2 * out.rows <= c.x[2] && 2 * out.cols <= c.x[3];
    one_by_one |= c.kernel == Size2(1, 1);
    whole_input |= c.kernel == Size2(c.x[2], c.x[3]) && c.opts.padding() == Size2(0, 0);
    ceil_partial |= out != floor_out;
    padded |= c.opts.padding() != Size2(0, 0);
    strided |= c.opts.stride() != Size2(0, 0) && c.opts.stride() != c.kernel;
    non_square |= c.x[2] != c.x[3] && c.kernel.rows != c.kernel.cols;
    batched |= c.x[0] > 1;
    check_against_reference<double>(c, rng);
    check_against_reference<float>(c, rng);
  }
  // The generator met every situation the test is meant to cover.
  CHECK(fast);
  CHECK(one_by_one);
  CHECK(whole_input);
  CHECK(ceil_partial);
  CHECK(padded);
  CHECK(strided);
  CHECK(non_square);
  CHECK(batched);
}

TEST_CASE("max_pool2d on a plane too small for the fast path's rows still uses every window",
          "[pool2d]") {
  // 2x2 stride 2 with ceil_mode over odd extents: the last row and column of windows are partial.
  const Tensor<double> x = pattern({1, 1, 3, 5}, 7, 11, 5, 2);
  const Pool2dOptions ceil = Pool2dOptions().ceil_mode(true);
  const Tensor<double> y = convtape::max_pool2d(x, 2, ceil);
  REQUIRE(y.shape() == Shape4{1, 1, 2, 3});
  CHECK(max_abs_diff(y, convtape::reference::max_pool2d(x, 2, ceil)) == 0.0);
  CHECK(convtape::avg_pool2d(x, 2).shape() == Shape4{1, 1, 1, 2});
}

// The expected values below are PyTorch 1.13's, printed by tests/data/make_pytorch_values.py
// for the same closed-form inputs (`support::pattern`): an independent oracle, like hand-worked
// values. The output gradient is pattern(shape, 3, 7, 3, 2) of the output's shape.

TEST_CASE("max_pool2d with padding and ceil_mode gives PyTorch's values, indices and gradients",
          "[pool2d][pytorch]") {
  const Tensor<double> x = pattern({1, 2, 5, 4}, 3, 5, 2, 1);  // many ties
  const Pool2dOptions opts = Pool2dOptions().stride(2, 1).padding(1, 1).ceil_mode(true);
  const convtape::MaxPool2dResult<double> r = convtape::max_pool2d_with_indices(x, {3, 2}, opts);
  const Shape4 out{1, 2, 3, 5};
  CHECK(max_abs_diff(r.output,
                     tensor_of(out, {0.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0,
                                     1.0, 2.0, 2.0, 2.0, 0.0, 0.0, 1.0, 1.0, 2.0, 2.0,
                                     2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 0.0})) == 0.0);
  CHECK(max_abs_diff(
            r.indices.cast<double>(),
            tensor_of(out, {4.0,  1.0,  1.0,  3.0,  3.0,  8.0,  8.0,  13.0, 6.0,  11.0,
                            16.0, 13.0, 13.0, 18.0, 19.0, 4.0,  1.0,  1.0,  3.0,  3.0,
                            8.0,  8.0,  13.0, 6.0,  11.0, 16.0, 13.0, 13.0, 18.0, 19.0})) == 0.0);
  const Tensor<double> dx =
      convtape::max_pool2d_backward(pattern(out, 3, 7, 3, 2), r.indices, x.shape());
  CHECK(max_abs_diff(
            dx, tensor_of(x.shape(), {0.0, 1.5,  0.0, 0.5,  -1.5, 0.0, 0.0,  0.0, -0.5, 0.0,
                                      0.0, 1.5,  0.0, -1.5, 0.0,  0.0, -0.5, 0.0, 0.5,  -1.5,
                                      0.0, 1.0,  0.0, 0.0,  0.0,  0.0, 1.5,  0.0, -1.0, 0.0,
                                      0.0, -0.5, 0.0, -0.5, 0.0,  0.0, 1.0,  0.0, -1.5, 0.0})) ==
        0.0);

  SECTION("ties in the 2x2 fast path go to the first maximum in row-major order") {
    const convtape::MaxPool2dResult<double> t =
        convtape::max_pool2d_with_indices(pattern({1, 1, 4, 6}, 2, 3, 1, 1), 2);
    CHECK(max_abs_diff(t.indices.cast<double>(),
                       tensor_of({1, 1, 2, 3}, {1.0, 2.0, 4.0, 13.0, 14.0, 16.0})) == 0.0);
  }
}

TEST_CASE("max_pool2d propagates NaN and routes its gradient as PyTorch does",
          "[pool2d][pytorch]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor<double> x = tensor_of({1, 1, 4, 4}, {1.0, nan, 3.0, nan, nan, 2.0, 5.0, 4.0, 7.0,
                                                    8.0, -1.0, -2.0, 9.0, 9.0, 9.0, 9.0});
  struct Case {
    Index kernel, stride;
    std::initializer_list<double> output, indices;
  };
  // A NaN in a window wins over numbers, and a later NaN over an earlier one (PyTorch's CPU
  // kernel); the 2x2 case runs the fast path, the 3x3 one the general loop.
  const Case cases[] = {{2, 2, {nan, nan, 9.0, 9.0}, {4.0, 3.0, 12.0, 14.0}},
                        {3, 1, {nan, nan, nan, 9.0}, {4.0, 3.0, 4.0, 13.0}}};
  for (const Case& c : cases) {
    INFO("kernel " << c.kernel << ", stride " << c.stride);
    const convtape::MaxPool2dResult<double> r =
        convtape::max_pool2d_with_indices(x, c.kernel, Pool2dOptions().stride(c.stride));
    const Tensor<double> want = tensor_of({1, 1, 2, 2}, c.output);
    for (Index i = 0; i < 4; ++i) {
      CHECK(std::isnan(r.output.data()[i]) == std::isnan(want.data()[i]));
      if (!std::isnan(want.data()[i])) CHECK(r.output.data()[i] == want.data()[i]);
    }
    CHECK(max_abs_diff(r.indices.cast<double>(), tensor_of({1, 1, 2, 2}, c.indices)) == 0.0);
    const Tensor<double> ref = convtape::reference::max_pool2d_backward(
        x, Tensor<double>(1, 1, 2, 2).setConstant(1.0), c.kernel, Pool2dOptions().stride(c.stride));
    CHECK(max_abs_diff(convtape::max_pool2d_backward(Tensor<double>(1, 1, 2, 2).setConstant(1.0),
                                                     r.indices, x.shape()),
                       ref) == 0.0);
  }
  SECTION("a window of -infinity points at its first sample inside the input") {
    const Tensor<double> minus_inf = Tensor<double>(1, 1, 3, 3).setConstant(-inf);
    const convtape::MaxPool2dResult<double> r =
        convtape::max_pool2d_with_indices(minus_inf, 2, Pool2dOptions().stride(1).padding(1));
    CHECK(max_abs_diff(r.indices.cast<double>(),
                       tensor_of({1, 1, 4, 4}, {0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 1.0, 2.0, 3.0, 3.0,
                                                4.0, 5.0, 6.0, 6.0, 7.0, 8.0})) == 0.0);
    CHECK((r.output.flat().array() == -inf).all());
  }
}

TEST_CASE("avg_pool2d with padding and ceil_mode gives PyTorch's values and gradients",
          "[pool2d][pytorch]") {
  const Tensor<double> x = pattern({1, 2, 5, 4}, 3, 5, 2, 1);
  const Pool2dOptions opts = Pool2dOptions().stride(2, 1).padding(1, 1).ceil_mode(true);
  const Shape4 out{1, 2, 3, 5};
  const Tensor<double> dy = pattern(out, 3, 7, 3, 2);
  SECTION("counting the padding (PyTorch's default)") {
    // clang-format off
    const Tensor<double> y = tensor_of(out, {
        -0.3333333333333333, -0.5, -0.16666666666666666, 0.16666666666666666, 0.16666666666666666,
        0.16666666666666666, 0.16666666666666666, -0.16666666666666666, -0.5, -0.3333333333333333,
        0.0, 0.16666666666666666, 0.5, 0.0, -0.3333333333333333, -0.3333333333333333, -0.5,
        -0.16666666666666666, 0.16666666666666666, 0.16666666666666666, 0.16666666666666666,
        0.16666666666666666, -0.16666666666666666, -0.5, -0.3333333333333333, 0.0,
        0.16666666666666666, 0.5, 0.0, -0.3333333333333333});
    const Tensor<double> dx = tensor_of(x.shape(), {
        -0.25, 0.25, 0.16666666666666669, 0.08333333333333333, -0.3333333333333333,
        0.08333333333333331, -0.08333333333333331, 0.3333333333333333, -0.08333333333333333,
        -0.16666666666666669, -0.25, 0.25, 0.0, -0.16666666666666669, -0.3333333333333333,
        0.08333333333333331, 0.08333333333333333, 0.0, -0.08333333333333333, -0.16666666666666669,
        0.25, 0.16666666666666669, 0.08333333333333333, 0.0, 0.08333333333333331,
        -0.08333333333333331, 0.3333333333333333, 0.16666666666666669, -0.16666666666666669, -0.25,
        0.25, 0.16666666666666669, -0.16666666666666669, -0.3333333333333333, 0.08333333333333331,
        -0.08333333333333331, 0.0, -0.08333333333333333, -0.16666666666666669, -0.25});
    // clang-format on
    CHECK(max_abs_diff(convtape::avg_pool2d(x, {3, 2}, opts), y) < 1e-15);
    CHECK(max_abs_diff(convtape::avg_pool2d_backward(dy, x.shape(), {3, 2}, opts), dx) < 1e-15);
  }
  SECTION("counting only the input samples") {
    const Pool2dOptions no_pad = Pool2dOptions(opts).count_include_pad(false);
    // clang-format off
    const Tensor<double> y = tensor_of(out, {
        -1.0, -0.75, -0.25, 0.25, 0.5, 0.3333333333333333, 0.16666666666666666,
        -0.16666666666666666, -0.5, -0.6666666666666666, 0.0, 0.25, 0.75, 0.0, -1.0, -1.0, -0.75,
        -0.25, 0.25, 0.5, 0.3333333333333333, 0.16666666666666666, -0.16666666666666666, -0.5,
        -0.6666666666666666, 0.0, 0.25, 0.75, 0.0, -1.0});
    const Tensor<double> dx = tensor_of(x.shape(), {
        -0.75, 0.375, 0.25, 0.375, -0.9999999999999999, 0.20833333333333331, 0.0, 0.875, -0.25,
        -0.16666666666666669, -0.25, 0.5, -0.25, -0.16666666666666669, -0.375, -0.125, 0.0, 0.0,
        -0.125, -0.625, 0.375, 0.25, 0.125, -0.25, 0.29166666666666663, 0.0, 0.375,
        -0.16666666666666666, -0.08333333333333334, -0.25, 0.25, 0.08333333333333334,
        0.16666666666666663, -0.375, 0.0, -0.29166666666666663, 0.25, -0.125, -0.25, -0.375});
    // clang-format on
    CHECK(max_abs_diff(convtape::avg_pool2d(x, {3, 2}, no_pad), y) < 1e-15);
    CHECK(max_abs_diff(convtape::avg_pool2d_backward(dy, x.shape(), {3, 2}, no_pad), dx) < 1e-15);
  }
}

TEST_CASE("adaptive_avg_pool2d uses PyTorch's bins, shrinking and growing", "[pool2d][pytorch]") {
  SECTION("5x7 to 3x4: overlapping bins of different sizes") {
    const Tensor<double> x = pattern({1, 1, 5, 7}, 5, 17, 8, 4);
    const Tensor<double> y = convtape::adaptive_avg_pool2d(x, {3, 4});
    CHECK(max_abs_diff(y, tensor_of({1, 1, 3, 4}, {-1.25, 0.625, 0.2916666666666667, 0.75, -0.875,
                                                   0.05555555555555555, -0.2777777777777778, 1.125,
                                                   -0.5, -0.041666666666666664, -0.375, 0.4375})) <
          1e-15);
    CHECK(max_abs_diff(y, convtape::reference::adaptive_avg_pool2d(x, {3, 4})) < 1e-15);
    // clang-format off
    const Tensor<double> dx = tensor_of(x.shape(), {
        -0.375, -0.375, 0.0, 0.25, 0.25, 0.125, -0.125, -0.20833333333333334, -0.3194444444444444,
        -0.1111111111111111, 0.19444444444444445, 0.3055555555555556, -0.06944444444444445, -0.375,
        0.16666666666666666, 0.05555555555555555, -0.1111111111111111, -0.05555555555555555,
        0.05555555555555555, -0.19444444444444445, -0.25, 0.16666666666666666, 0.3055555555555556,
        0.1388888888888889, 0.11111111111111112, -0.027777777777777776, -0.02777777777777779, 0.0,
        0.0, 0.25, 0.25, 0.16666666666666669, -0.08333333333333333, 0.16666666666666669, 0.25});
    // clang-format on
    CHECK(max_abs_diff(
              convtape::adaptive_avg_pool2d_backward(pattern({1, 1, 3, 4}, 3, 7, 3, 2), x.shape()),
              dx) < 1e-15);
  }
  SECTION("2x3 to 3x5: more bins than samples") {
    const Tensor<double> x = pattern({1, 1, 2, 3}, 5, 17, 8, 4);
    CHECK(max_abs_diff(
              convtape::adaptive_avg_pool2d(x, {3, 5}),
              tensor_of({1, 1, 3, 5}, {-2.0, -1.375, -0.75, -0.125, 0.5, -0.125, -0.5625, -1.0,
                                       -0.375, 0.25, 1.75, 0.25, -1.25, -0.625, 0.0})) < 1e-15);
    CHECK(max_abs_diff(
              convtape::adaptive_avg_pool2d_backward(pattern({1, 1, 3, 5}, 3, 7, 3, 2), x.shape()),
              tensor_of(x.shape(), {-1.875, 0.625, 1.5, -0.375, -0.875, -0.5})) < 1e-15);
  }
  SECTION("on random shapes, against the reference loop") {
    support::Rng rng(77);
    for (int trial = 0; trial < 50; ++trial) {
      const Tensor<double> x =
          rng.tensor<double>(rng.index(1, 2), rng.index(1, 3), rng.index(1, 9), rng.index(1, 9));
      const Size2 out(rng.index(1, 10), rng.index(1, 10));
      INFO("x " << convtape::detail::shape_str(x.shape()) << " to " << out);
      CHECK(max_abs_diff(convtape::adaptive_avg_pool2d(x, out),
                         convtape::reference::adaptive_avg_pool2d(x, out)) < 1e-15);
    }
  }
}

TEST_CASE("global_avg_pool2d is the mean of each plane", "[pool2d]") {
  const Tensor<double> x = pattern({2, 3, 4, 5}, 7, 13, 6, 4);
  const Tensor<double> y = convtape::global_avg_pool2d(x);
  REQUIRE(y.shape() == Shape4{2, 3, 1, 1});
  for (Index n = 0; n < 2; ++n) {
    for (Index c = 0; c < 3; ++c) CHECK_THAT(y(n, c, 0, 0), WithinAbs(x.plane(n, c).mean(), 1e-15));
  }
}

TEST_CASE("pooling works on integer tensors", "[pool2d]") {
  Tensor<int> x(1, 2, 4, 5);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<int>((i * 7) % 11) - 5;
  for (const Size2 kernel : {Size2(2, 2), Size2(3, 2)}) {
    const Tensor<int> y = convtape::max_pool2d(x, kernel, Pool2dOptions().padding(1, 1));
    const Tensor<int> want =
        convtape::reference::max_pool2d(x, kernel, Pool2dOptions().padding(1, 1));
    CHECK(y.shape() == want.shape());
    CHECK((y.flat().array() == want.flat().array()).all());
  }
}

TEST_CASE("pool2d_output_size follows PyTorch's formula, ceil_mode included", "[pool2d]") {
  CHECK(convtape::pool2d_output_size({28, 28}, 2) == Size2(14, 14));
  CHECK(convtape::pool2d_output_size({5, 5}, 2) == Size2(2, 2));
  CHECK(convtape::pool2d_output_size({5, 5}, 2, Pool2dOptions().ceil_mode(true)) == Size2(3, 3));
  CHECK(convtape::pool2d_output_size({6, 6}, 2, Pool2dOptions().padding(1).ceil_mode(true)) ==
        Size2(4, 4));
  // ceil_mode drops a last window that would start in the trailing padding: ceil((5 + 2 - 2) / 2)
  // + 1 = 4 windows, but the fourth would start at 3 * 2 - 1 = 5, past the input.
  CHECK(convtape::pool2d_output_size({5, 5}, 2, Pool2dOptions().padding(1).ceil_mode(true)) ==
        Size2(3, 3));
  CHECK(convtape::pool2d_output_size(
            {5, 5}, 3, Pool2dOptions().stride(2).padding(1).ceil_mode(true)) == Size2(3, 3));
  CHECK(convtape::pool2d_output_size({1, 1}, 2, Pool2dOptions().ceil_mode(true)) == Size2(1, 1));
  CHECK(convtape::pool2d_output_size({7, 4}, {3, 1}, Pool2dOptions().stride(2, 3)) == Size2(3, 2));
  // The largest extent accepted, 2^32 (as conv2d): (2^32 + 2 - 3) / 1 + 1 = 2^32 windows.
  const Index max_extent = Index(1) << 32;
  CHECK(convtape::pool2d_output_size({max_extent, 4}, 3, Pool2dOptions().stride(1).padding(1)) ==
        Size2(max_extent, 4));
}

TEST_CASE("pool2d_output_size rejects an extent above 2^32 instead of overflowing",
          "[pool2d][errors]") {
  // Found by shapes_fuzz: in + 2 * padding - kernel overflowed for an extent near Index's maximum.
  const Index huge = std::numeric_limits<Index>::max();
  for (const Size2 in : {Size2(huge, 4), Size2(4, huge), Size2((Index(1) << 32) + 1, 4)}) {
    CHECK_THAT(shape_error_message(
                   [&] { (void)convtape::pool2d_output_size(in, 3, Pool2dOptions().padding(1)); }),
               Contains("pool2d_output_size:") && Contains("extent above 4294967296"));
  }
}

TEST_CASE("pooling rejects bad shapes and options with shape_error naming them",
          "[pool2d][errors]") {
  const Tensor<double> x(1, 2, 5, 4);
  using convtape::avg_pool2d;
  using convtape::max_pool2d;
  CHECK_THAT(shape_error_message([&] {
               (void)max_pool2d(x, {0, 2});
             }),
             Contains("max_pool2d:") && Contains("kernel") && Contains("0x2"));
  CHECK_THAT(shape_error_message([&] { (void)avg_pool2d(x, 2, Pool2dOptions().stride(-1, 1)); }),
             Contains("avg_pool2d:") && Contains("stride") && Contains("-1x1"));
  CHECK_THAT(shape_error_message([&] { (void)max_pool2d(x, 2, Pool2dOptions().padding(-1)); }),
             Contains("max_pool2d:") && Contains("padding"));
  CHECK_THAT(shape_error_message([&] { (void)max_pool2d(x, 3, Pool2dOptions().padding(2, 1)); }),
             Contains("max_pool2d:") && Contains("padding 2x1") && Contains("half the kernel 3x3"));
  CHECK_THAT(shape_error_message([&] {
               (void)avg_pool2d(x, {6, 2});
             }),
             Contains("avg_pool2d:") && Contains("kernel 6x2") && Contains("input 5x4"));
  CHECK_THAT(shape_error_message([&] { (void)max_pool2d(Tensor<double>(0, 2, 5, 4), 2); }),
             Contains("max_pool2d:") && Contains("empty") && Contains("(0, 2, 5, 4)"));
  CHECK_THAT(shape_error_message([&] { (void)max_pool2d(x, Size2(Index(1) << 31, 1)); }),
             Contains("max_pool2d:") && Contains("kernel"));
  CHECK_THAT(shape_error_message([&] { (void)convtape::max_pool2d_with_indices(x, 9); }),
             Contains("max_pool2d_with_indices:"));
  CHECK_THAT(shape_error_message([&] {
               (void)convtape::adaptive_avg_pool2d(x, {0, 3});
             }),
             Contains("adaptive_avg_pool2d:") && Contains("output size must be positive") &&
                 Contains("0x3"));
  CHECK_THAT(shape_error_message([&] { (void)convtape::adaptive_avg_pool2d(Tensor<double>(), 1); }),
             Contains("adaptive_avg_pool2d:") && Contains("empty"));
  CHECK_THAT(shape_error_message([&] { (void)convtape::global_avg_pool2d(Tensor<double>()); }),
             Contains("global_avg_pool2d:") && Contains("empty"));

  SECTION("the backward functions check their gradients and indices") {
    const convtape::MaxPool2dResult<double> r = convtape::max_pool2d_with_indices(x, 2);
    const Tensor<double> dy(r.output.shape());
    CHECK_THAT(
        shape_error_message([&] {
          (void)convtape::max_pool2d_backward(Tensor<double>(1, 2, 2, 3), r.indices, x.shape());
        }),
        Contains("max_pool2d_backward:") && Contains("(1, 2, 2, 3)") && Contains("(1, 2, 2, 2)"));
    CHECK_THAT(shape_error_message([&] {
                 (void)convtape::max_pool2d_backward(dy, r.indices, Shape4{1, 3, 5, 4});
               }),
               Contains("max_pool2d_backward:") && Contains("(1, 3, 5, 4)"));
    Tensor<Index> bad = r.indices;
    bad.data()[3] = 20;  // one past the 5x4 plane
    CHECK_THAT(
        shape_error_message([&] { (void)convtape::max_pool2d_backward(dy, bad, x.shape()); }),
        Contains("max_pool2d_backward:") && Contains("outside the input plane [0, 20)"));
    bad.data()[3] = -1;
    CHECK_THAT(
        shape_error_message([&] { (void)convtape::max_pool2d_backward(dy, bad, x.shape()); }),
        Contains("outside the input plane"));
    CHECK_THAT(
        shape_error_message(
            [&] { (void)convtape::avg_pool2d_backward(Tensor<double>(1, 2, 3, 2), x.shape(), 2); }),
        Contains("avg_pool2d_backward:") && Contains("(1, 2, 3, 2)") && Contains("(1, 2, 2, 2)"));
    CHECK_THAT(shape_error_message([&] {
                 (void)convtape::avg_pool2d_backward(dy, Shape4{1, 2, -5, 4}, 2);
               }),
               Contains("avg_pool2d_backward:") && Contains("negative"));
    CHECK_THAT(shape_error_message([&] {
                 (void)convtape::adaptive_avg_pool2d_backward(dy, Shape4{2, 2, 5, 4});
               }),
               Contains("adaptive_avg_pool2d_backward:") && Contains("(2, 2, 2, 2)"));
  }
}

}  // namespace
