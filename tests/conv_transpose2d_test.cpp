// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/conv_transpose2d.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "convtape/conv2d.hpp"
#include "convtape/reference.hpp"
#include "support/catch.hpp"
#include "support/compare.hpp"
#include "support/errors.hpp"
#include "support/op_cases.hpp"
#include "support/random.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::Conv2dGrads;
using convtape::Conv2dOptions;
using convtape::ConvTranspose2dOptions;
using convtape::Index;
using convtape::Shape4;
using convtape::Size2;
using convtape::Tensor;
using convtape::VectorX;
using support::max_abs_diff;
using support::pattern;
using support::shape_error_message;
using support::tensor_of;

using Case = support::TransposedCase;

/// Forward and backward of one case in scalar S against the double reference loops.
template <class S>
void check_against_reference(const Case& c, support::Rng& rng) {
  const Tensor<S> x = rng.tensor<S>(c.x[0], c.x[1], c.x[2], c.x[3]);
  const Tensor<S> w = rng.tensor<S>(c.weight[0], c.weight[1], c.weight[2], c.weight[3]);
  const VectorX<S> b = c.bias ? rng.vector<S>(c.out_channels()) : VectorX<S>();
  const Tensor<S> y = convtape::conv_transpose2d(x, w, b, c.opts);
  const Tensor<double> want =
      convtape::reference::conv_transpose2d(x.template cast<double>(), w.template cast<double>(),
                                            VectorX<double>(b.template cast<double>()), c.opts);
  // Each output sums at most C_in / groups * kh * kw products of values below 1.
  const Index terms = c.weight[0] / c.opts.groups() * c.weight[2] * c.weight[3] + 1;
  CHECK(max_abs_diff(y.template cast<double>(), want) <= support::tolerance<S>(terms));
  const Tensor<S> dy = rng.tensor<S>(y.dim(0), y.dim(1), y.dim(2), y.dim(3));
  const Conv2dGrads<S> g = convtape::conv_transpose2d_backward(x, w, dy, c.opts);
  const Conv2dGrads<double> ref = convtape::reference::conv_transpose2d_backward(
      x.template cast<double>(), w.template cast<double>(), dy.template cast<double>(), c.opts);
  CHECK(max_abs_diff(g.input.template cast<double>(), ref.input) <=
        support::tolerance<S>(c.weight[1] * c.weight[2] * c.weight[3]));
  CHECK(max_abs_diff(g.weight.template cast<double>(), ref.weight) <=
        support::tolerance<S>(c.x[0] * c.x[2] * c.x[3]));
  CHECK(support::max_abs_diff(g.bias.template cast<double>(), ref.bias) <=
        support::tolerance<S>(y.size()));
  // Skipping the input gradient leaves it empty and the others unchanged.
  const Conv2dGrads<S> no_input = convtape::conv_transpose2d_backward(x, w, dy, c.opts, false);
  CHECK(no_input.input.empty());
  CHECK(max_abs_diff(no_input.weight, g.weight) == 0.0);
}

TEST_CASE("conv_transpose2d matches the scatter loops on random shapes and options",
          "[conv_transpose2d]") {
  support::Rng rng(4242);
  bool grouped = false, strided = false, dilated = false, padded = false, out_padded = false;
  bool out_padding_beyond_stride = false, cropped_frame = false, one_by_one = false;
  bool non_square = false;
  for (int trial = 0; trial < 300; ++trial) {
    const Case c = support::random_transposed_case(rng);
    INFO("trial " << trial << ": " << c.text);
    const ConvTranspose2dOptions& o = c.opts;
    grouped |= o.groups() > 1;
    strided |= o.stride() != Size2(1, 1);
    dilated |= o.dilation() != Size2(1, 1);
    padded |= o.padding() != Size2(0, 0);
    out_padded |= o.output_padding() != Size2(0, 0);
    out_padding_beyond_stride |= o.output_padding().rows >= o.stride().rows;
    cropped_frame |= o.output_padding().rows > o.padding().rows;
    one_by_one |= c.weight[2] == 1 && c.weight[3] == 1;
    non_square |= c.x[2] != c.x[3] && c.weight[2] != c.weight[3];
    check_against_reference<double>(c, rng);
    check_against_reference<float>(c, rng);
  }
  CHECK(grouped);
  CHECK(strided);
  CHECK(dilated);
  CHECK(padded);
  CHECK(out_padded);
  CHECK(out_padding_beyond_stride);
  CHECK(cropped_frame);
  CHECK(one_by_one);
  CHECK(non_square);
}

TEST_CASE("conv_transpose2d matches the scatter loops on shapes that take conv2d's fast paths",
          "[conv_transpose2d]") {
  // The adjoint conv2d of each has C_out = C_in of the transposed one and C_in = its C_out. Its
  // algorithm (`detail::conv2d_path`) and input-gradient kernel, in order: Winograd with the
  // flipped-kernel correlation; implicit GEMM with col2im (twice, strided); direct (depthwise)
  // with the flipped correlation; direct with the plane loops (strided); implicit GEMM with
  // col2im (dilated); im2col GEMM with col2im. The tiny random cases above take the plane loops.
  struct Fast {
    Shape4 x;
    Shape4 weight;
    ConvTranspose2dOptions opts;
  };
  const Fast cases[] = {
      {{2, 16, 6, 7}, {16, 16, 3, 3}, ConvTranspose2dOptions().padding(1)},
      {{1, 8, 5, 6},
       {8, 12, 3, 3},
       ConvTranspose2dOptions().stride(2).padding(1).output_padding(1)},
      {{2, 6, 4, 5}, {6, 10, 4, 4}, ConvTranspose2dOptions().stride(2)},
      {{2, 12, 7, 6}, {12, 1, 3, 3}, ConvTranspose2dOptions().groups(12).padding(1)},
      {{2, 12, 9, 10}, {12, 1, 3, 3}, ConvTranspose2dOptions().groups(12).stride(2)},
      {{1, 8, 6, 6}, {8, 6, 3, 2}, ConvTranspose2dOptions().dilation(2, 1).stride(1, 2)},
      {{1, 9, 3, 10}, {9, 8, 3, 9}, ConvTranspose2dOptions().groups(3).padding(1, 4)},
  };
  support::Rng rng(99);
  for (const Fast& f : cases) {
    Case c{f.x, f.weight, f.opts, true, ""};
    INFO("x " << convtape::detail::shape_str(f.x) << ", weight "
              << convtape::detail::shape_str(f.weight));
    check_against_reference<double>(c, rng);
    check_against_reference<float>(c, rng);
  }
}

TEST_CASE("conv_transpose2d is the adjoint of conv2d with the same options", "[conv_transpose2d]") {
  // <conv2d(u, w), v> = <u, conv_transpose2d(v, w)>, with the output_padding that gives back u's
  // size: (in + 2 * padding - dilation * (kernel - 1) - 1) mod stride.
  support::Rng rng(4343);
  for (int trial = 0; trial < 200; ++trial) {
    const Index groups = rng.index(1, 3);
    const Index c_in = groups * rng.index(1, 3);   // conv2d's input channels
    const Index c_out = groups * rng.index(1, 3);  // conv2d's output channels
    const Size2 kernel(rng.index(1, 3), rng.index(1, 3));
    const Size2 stride(rng.index(1, 3), rng.index(1, 3));
    const Size2 dilation(rng.index(1, 2), rng.index(1, 2));
    const Size2 padding(rng.index(0, 2), rng.index(0, 2));
    const Size2 in(rng.index(dilation.rows * (kernel.rows - 1) + 1, 8),
                   rng.index(dilation.cols * (kernel.cols - 1) + 1, 8));
    const Size2 output_padding(
        (in.rows + 2 * padding.rows - dilation.rows * (kernel.rows - 1) - 1) % stride.rows,
        (in.cols + 2 * padding.cols - dilation.cols * (kernel.cols - 1) - 1) % stride.cols);
    const Conv2dOptions conv =
        Conv2dOptions().stride(stride).dilation(dilation).padding(padding).groups(groups);
    const ConvTranspose2dOptions transposed = ConvTranspose2dOptions()
                                                  .stride(stride)
                                                  .dilation(dilation)
                                                  .padding(padding)
                                                  .output_padding(output_padding)
                                                  .groups(groups);
    const Tensor<double> u = rng.tensor<double>(rng.index(1, 2), c_in, in.rows, in.cols);
    const Tensor<double> w = rng.tensor<double>(c_out, c_in / groups, kernel.rows, kernel.cols);
    const Tensor<double> cu = convtape::conv2d(u, w, conv);
    const Tensor<double> v = rng.tensor<double>(cu.dim(0), cu.dim(1), cu.dim(2), cu.dim(3));
    const Tensor<double> tv = convtape::conv_transpose2d(v, w, transposed);
    INFO("trial " << trial << ": u " << convtape::detail::shape_str(u.shape()) << ", w "
                  << convtape::detail::shape_str(w.shape()) << ", stride " << stride
                  << ", dilation " << dilation << ", padding " << padding << ", output_padding "
                  << output_padding);
    REQUIRE(tv.shape() == u.shape());
    const double lhs = support::dot(cu, v);
    const double rhs = support::dot(u, tv);
    CHECK_THAT(lhs, WithinAbs(rhs, 1e-12 * (1.0 + static_cast<double>(u.size() * w.size()))));
  }
}

// The expected values below are PyTorch 1.13's `conv_transpose2d` and its autograd gradients,
// printed by tests/data/make_pytorch_values.py for the same closed-form inputs
// (`support::pattern`): an independent oracle, like hand-worked values. The output gradient is
// pattern(shape, 3, 7, 3, 2) of the output's shape.

TEST_CASE("conv_transpose2d gives PyTorch's values and gradients", "[conv_transpose2d][pytorch]") {
  SECTION("stride (2, 1), padding (0, 1), output_padding (1, 0), with a bias") {
    const Tensor<double> x = pattern({1, 2, 2, 3}, 1, 7, 3, 4);
    const Tensor<double> w = pattern({2, 3, 2, 2}, 5, 11, 5, 8);
    VectorX<double> b(3);
    b << 0.5, -0.25, 1.0;
    const ConvTranspose2dOptions opts =
        ConvTranspose2dOptions().stride(2, 1).padding(0, 1).output_padding(1, 0);
    const Tensor<double> y = convtape::conv_transpose2d(x, w, b, opts);
    // clang-format off
    const Tensor<double> want = tensor_of({1, 3, 5, 2}, {
        1.28125, 0.1875, 0.75, 0.09375, 0.1875, 0.1875, 0.53125, 0.75, 0.5, 0.5, 0.15625,
        -0.40625, 0.3125, -0.15625, -0.21875, -0.125, -0.21875, -0.25, -0.25, -0.25, 1.71875,
        1.34375, 1.875, 1.59375, 1.03125, 0.875, 1.03125, 0.75, 1.0, 1.0});
    const Tensor<double> dx = tensor_of(x.shape(), {
        0.0625, 0.8125, 0.1875, 0.625, -1.1875, -0.1875, -0.5625, 0.125, -0.5625, 0.625, -0.75,
        -0.4375});
    const Tensor<double> dw = tensor_of(w.shape(), {
        0.5, 0.875, -1.25, -1.25, -0.375, -0.125, 0.5, 0.375, 0.5, 0.625, -0.375, -0.625, 0.875,
        -1.375, -1.25, 1.375, -0.125, -0.75, 0.375, -1.5, 0.625, 1.625, -0.625, -0.875});
    // clang-format on
    CHECK(max_abs_diff(y, want) < 1e-15);
    const Conv2dGrads<double> g =
        convtape::conv_transpose2d_backward(x, w, pattern(y.shape(), 3, 7, 3, 2), opts);
    CHECK(max_abs_diff(g.input, dx) < 1e-15);
    CHECK(max_abs_diff(g.weight, dw) < 1e-15);
    VectorX<double> db(3);
    db << 0.0, -0.5, -1.0;
    CHECK(support::max_abs_diff(g.bias, db) < 1e-15);
  }
  SECTION("groups 2, stride (1, 2), padding (1, 0), output_padding (1, 1), dilation (2, 1)") {
    // output_padding 1 along the rows is beyond stride 1 (allowed by dilation 2) and beyond
    // padding 0 along the columns: the last row and column receive nothing.
    const Tensor<double> x = pattern({2, 4, 3, 2}, 7, 13, 6, 5);
    const Tensor<double> w = pattern({4, 1, 2, 3}, 3, 5, 2, 3);
    const ConvTranspose2dOptions opts =
        ConvTranspose2dOptions().groups(2).stride(1, 2).padding(1, 0).output_padding(1, 1).dilation(
            2, 1);
    const Tensor<double> y = convtape::conv_transpose2d(x, w, opts);
    // clang-format off
    const Tensor<double> want = tensor_of({2, 2, 4, 6}, {
        0.5333333333333333, -0.19999999999999998, 0.1333333333333333, -0.19999999999999998,
        0.5333333333333333, 0.0, -0.33333333333333326, 0.19999999999999996, 0.8666666666666667,
        -0.7333333333333333, 0.7333333333333333, 0.0, -0.6666666666666666, 0.26666666666666666,
        0.8, -0.6666666666666666, 0.06666666666666665, 0.0, -0.5333333333333333,
        0.13333333333333333, 0.8666666666666667, -0.7999999999999999, 0.0, 0.0,
        0.4666666666666667, 0.13333333333333333, -0.4666666666666667, -0.6666666666666666,
        0.26666666666666666, 0.0, 0.7333333333333333, 0.06666666666666668, 0.4666666666666666,
        -0.7333333333333333, 0.13333333333333333, 0.0, 0.13333333333333333, -0.2, 1.0,
        -0.19999999999999998, 0.06666666666666665, 0.0, 0.06666666666666665, -0.19999999999999998,
        1.0, -0.2, 0.13333333333333333, 0.0, 0.6, -0.19999999999999998, 0.13333333333333333, -0.2,
        0.4666666666666667, 0.0, 1.3333333333333333, 0.33333333333333337, -0.9333333333333333,
        -0.6, 0.7333333333333333, 0.0, -0.7999999999999999, 0.39999999999999997,
        0.7333333333333333, -0.5333333333333333, 0.13333333333333333, 0.0, -0.6666666666666666,
        0.26666666666666666, 0.8, -0.6666666666666666, 0.06666666666666665, 0.0,
        0.39999999999999997, 0.0, -0.39999999999999997, -0.7999999999999999, 0.39999999999999997,
        0.0, 0.7333333333333334, -0.06666666666666668, -1.2, 0.0, -0.6666666666666667, 0.0,
        0.19999999999999998, -0.19999999999999998, 1.0, -0.19999999999999998, 0.0, 0.0,
        0.13333333333333333, -0.2, 1.0, -0.19999999999999998, 0.06666666666666665, 0.0});
    const Tensor<double> dx = tensor_of(x.shape(), {
        0.3333333333333333, 0.3333333333333333, 0.8333333333333334, -3.5, -0.49999999999999994,
        1.0, 1.0, -1.1666666666666667, -0.3333333333333333, 1.8333333333333333, 1.5,
        0.16666666666666674, -1.5, -1.1666666666666667, 1.5, 1.6666666666666665,
        -0.33333333333333326, -2.5, 1.3333333333333333, 1.0, -0.5, -0.8333333333333333,
        0.8333333333333334, 1.6666666666666665, 0.33333333333333337, -2.0, -0.49999999999999994,
        1.0, 1.6666666666666665, 0.8333333333333334, -0.8333333333333333, 0.5, 1.5,
        0.16666666666666674, -2.5, -0.3333333333333333, 0.6666666666666666, 1.0,
        -0.33333333333333326, -2.5, 0.16666666666666674, 1.5, -0.8333333333333333,
        -1.1666666666666665, 0.8333333333333334, 1.6666666666666665, 1.0, -0.5});
    const Tensor<double> dw = tensor_of(w.shape(), {
        1.5, 3.5, 0.5999999999999999, -2.8999999999999995, 2.1999999999999993, -0.3999999999999999,
        0.6000000000000001, 3.5, 1.5, -2.0999999999999996, -0.6000000000000001, 2.3000000000000003,
        0.0, 0.8, 1.6000000000000003, -4.8, 0.6, -1.6999999999999997, 1.8, 1.4000000000000001,
        1.0, -2.3, -0.5, 2.7});
    // clang-format on
    CHECK(max_abs_diff(y, want) < 1e-14);
    const Conv2dGrads<double> g =
        convtape::conv_transpose2d_backward(x, w, pattern(y.shape(), 3, 7, 3, 2), opts);
    CHECK(max_abs_diff(g.input, dx) < 1e-14);
    CHECK(max_abs_diff(g.weight, dw) < 1e-14);
  }
  SECTION("every input sample cropped by the padding: the output is the bias") {
    const Tensor<double> one = Tensor<double>(1, 1, 1, 1).setConstant(1.0);
    VectorX<double> b(1);
    b << 0.5;
    const ConvTranspose2dOptions opts =
        ConvTranspose2dOptions().stride(3).padding(1).output_padding(2);
    const Tensor<double> y = convtape::conv_transpose2d(one, one, b, opts);
    CHECK(max_abs_diff(y, tensor_of({1, 1, 1, 1}, {0.5})) == 0.0);
    const Conv2dGrads<double> g = convtape::conv_transpose2d_backward(one, one, one, opts);
    CHECK(g.input.flat().isZero(0.0));
    CHECK(g.weight.flat().isZero(0.0));
    CHECK(g.bias[0] == 1.0);
  }
}

TEST_CASE("conv_transpose2d_output_size follows PyTorch's formula", "[conv_transpose2d]") {
  using convtape::conv_transpose2d_output_size;
  CHECK(conv_transpose2d_output_size({14, 14}, 2, ConvTranspose2dOptions().stride(2)) ==
        Size2(28, 28));
  CHECK(conv_transpose2d_output_size({5, 7}, {3, 2}) == Size2(7, 8));
  CHECK(conv_transpose2d_output_size(
            {4, 5}, 3, ConvTranspose2dOptions().stride(2, 3).padding(1).output_padding(1, 2)) ==
        Size2(8, 15));
  CHECK(conv_transpose2d_output_size({3, 3}, 3, ConvTranspose2dOptions().dilation(2, 1)) ==
        Size2(7, 5));
  CHECK_THAT(shape_error_message([] {
               (void)conv_transpose2d_output_size({3, 3}, 3, ConvTranspose2dOptions().groups(0));
             }),
             Contains("conv_transpose2d_output_size:") && Contains("groups"));
}

TEST_CASE("conv_transpose2d rejects bad shapes and options with shape_error naming them",
          "[conv_transpose2d][errors]") {
  const Tensor<double> x(1, 4, 3, 3);
  const Tensor<double> w(4, 2, 3, 3);
  using convtape::conv_transpose2d;
  CHECK_THAT(shape_error_message([&] { (void)conv_transpose2d(x, Tensor<double>(3, 2, 3, 3)); }),
             Contains("conv_transpose2d:") && Contains("(3, 2, 3, 3)") &&
                 Contains("(1, 4, 3, 3)") && Contains("3 input channels"));
  CHECK_THAT(shape_error_message(
                 [&] { (void)conv_transpose2d(x, w, ConvTranspose2dOptions().groups(3)); }),
             Contains("not divisible by groups = 3"));
  CHECK_THAT(shape_error_message(
                 [&] { (void)conv_transpose2d(x, w, ConvTranspose2dOptions().groups(0)); }),
             Contains("groups must be positive"));
  CHECK_THAT(shape_error_message([&] { (void)conv_transpose2d(x, w, VectorX<double>::Zero(3)); }),
             Contains("bias has 3 elements") && Contains("2 output channels"));
  CHECK_THAT(shape_error_message(
                 [&] { (void)conv_transpose2d(x, w, ConvTranspose2dOptions().stride(0, 1)); }),
             Contains("stride") && Contains("0x1"));
  CHECK_THAT(shape_error_message(
                 [&] { (void)conv_transpose2d(x, w, ConvTranspose2dOptions().padding(-1)); }),
             Contains("padding"));
  CHECK_THAT(shape_error_message(
                 [&] { (void)conv_transpose2d(x, w, ConvTranspose2dOptions().dilation(1, 0)); }),
             Contains("dilation"));
  CHECK_THAT(
      shape_error_message([&] {
        (void)conv_transpose2d(x, w, ConvTranspose2dOptions().stride(2).output_padding(2));
      }),
      Contains("output_padding 2x2 must be smaller than the stride 2x2 or the dilation 1x1"));
  CHECK_THAT(shape_error_message([&] {
               (void)conv_transpose2d(x, w, ConvTranspose2dOptions().output_padding(0, -1));
             }),
             Contains("output_padding"));
  CHECK_THAT(shape_error_message(
                 [&] { (void)conv_transpose2d(x, w, ConvTranspose2dOptions().padding(3)); }),
             Contains("conv_transpose2d:") && Contains("empty"));
  CHECK_THAT(shape_error_message([&] { (void)conv_transpose2d(Tensor<double>(0, 4, 3, 3), w); }),
             Contains("x is empty"));
  CHECK_THAT(shape_error_message([&] { (void)conv_transpose2d(x, Tensor<double>(4, 0, 3, 3)); }),
             Contains("weight is empty"));
  CHECK_THAT(shape_error_message([&] {
               (void)conv_transpose2d(Tensor<double>(1, 4, 5, 3), w,
                                      ConvTranspose2dOptions().stride(Index(1) << 30, 1));
             }),
             Contains("conv_transpose2d:") && Contains("longer than 4294967296"));
  CHECK_THAT(shape_error_message([&] {
               (void)conv_transpose2d(x, w, ConvTranspose2dOptions().stride(Index(1) << 30, 1));
             }),
             Contains("conv_transpose2d:") && Contains("(1, 2, 2147483651, 5)") &&
                 Contains("a plane may have at most 4294967296"));
  CHECK_THAT(shape_error_message([&] {
               (void)convtape::conv_transpose2d_backward(x, w, Tensor<double>(1, 2, 5, 4));
             }),
             Contains("conv_transpose2d_backward:") && Contains("(1, 2, 5, 4)") &&
                 Contains("(1, 2, 5, 5)"));
}

}  // namespace
