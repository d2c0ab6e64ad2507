// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// The reference loops are the oracle of every other test, so they are checked here on their own:
// against hand-worked values, and against a construction from the notebook's plain loop alone
// (pad by hand, dilate the kernel by inserting zeros, subsample by the stride).
#include "convtape/reference.hpp"

#include "support/cases.hpp"
#include "support/catch.hpp"
#include "support/compare.hpp"
#include "support/errors.hpp"
#include "support/literal.hpp"
#include "support/random.hpp"

namespace {

using convtape::Conv2dGrads;
using convtape::Conv2dOptions;
using convtape::Index;
using convtape::MatrixX;
using convtape::PaddingMode;
using convtape::Tensor;
using convtape::VectorX;
using support::literal;
using support::max_abs_diff;
using support::shape_error_message;
using support::tolerance;
namespace reference = convtape::reference;

/// K with (dilation - 1) zeros between taps: a dilated kernel as a plain one.
MatrixX<double> dilate_by_hand(const MatrixX<double>& k, convtape::Size2 d) {
  MatrixX<double> out =
      MatrixX<double>::Zero((k.rows() - 1) * d.rows + 1, (k.cols() - 1) * d.cols + 1);
  for (Index a = 0; a < k.rows(); ++a) {
    for (Index b = 0; b < k.cols(); ++b) out(a * d.rows, b * d.cols) = k(a, b);
  }
  return out;
}

/// Every stride-th row and column, starting at the first.
MatrixX<double> subsample_by_hand(const MatrixX<double>& y, convtape::Size2 s) {
  MatrixX<double> out((y.rows() + s.rows - 1) / s.rows, (y.cols() + s.cols - 1) / s.cols);
  for (Index i = 0; i < out.rows(); ++i) {
    for (Index j = 0; j < out.cols(); ++j) out(i, j) = y(i * s.rows, j * s.cols);
  }
  return out;
}

TEST_CASE("reference::corr2d gives the notebook's three results", "[reference][notebook]") {
  const MatrixX<double> X3 = literal<double>(3, 3, {0, 1, 2, 3, 4, 5, 6, 7, 8});
  const MatrixX<double> K2 = literal<double>(2, 2, {0, 1, 2, 3});
  CHECK(reference::corr2d(X3, K2) == literal<double>(2, 2, {19, 25, 37, 43}));
  CHECK(reference::corr2d(X3, K2, Conv2dOptions()) == literal<double>(2, 2, {19, 25, 37, 43}));

  MatrixX<double> X = MatrixX<double>::Ones(6, 8);
  X.middleCols(2, 4).setZero();
  const MatrixX<double> K = literal<double>(1, 2, {1, -1});
  const MatrixX<double> Y = literal<double>(6, 7, {0, 1, 0, 0, 0, -1, 0,  //
                                                   0, 1, 0, 0, 0, -1, 0,  //
                                                   0, 1, 0, 0, 0, -1, 0,  //
                                                   0, 1, 0, 0, 0, -1, 0,  //
                                                   0, 1, 0, 0, 0, -1, 0,  //
                                                   0, 1, 0, 0, 0, -1, 0});
  CHECK(reference::corr2d(X, K) == Y);
  CHECK(reference::corr2d(X, K, Conv2dOptions()) == Y);
  CHECK(reference::corr2d(X.transpose(), K) == MatrixX<double>::Zero(8, 5));
}

TEST_CASE("reference::corr2d pads each border mode as worked out by hand", "[reference][padding]") {
  // 1x1 identity kernel: the output is the padded input. Padding wider than the 2x3 plane.
  const MatrixX<double> X = literal<double>(2, 3, {1, 2, 3, 4, 5, 6});
  const auto padded = [&](PaddingMode mode) {
    return reference::corr2d(X, literal<double>(1, 1, {1}),
                             Conv2dOptions().padding(2, 1, 1, 3).padding_mode(mode));
  };
  CHECK(padded(PaddingMode::zeros) == literal<double>(5, 7, {0, 0, 0, 0, 0, 0, 0,  //
                                                             0, 0, 0, 0, 0, 0, 0,  //
                                                             0, 1, 2, 3, 0, 0, 0,  //
                                                             0, 4, 5, 6, 0, 0, 0,  //
                                                             0, 0, 0, 0, 0, 0, 0}));
  CHECK(padded(PaddingMode::reflect) == literal<double>(5, 7, {2, 1, 2, 3, 2, 1, 2,  //
                                                               5, 4, 5, 6, 5, 4, 5,  //
                                                               2, 1, 2, 3, 2, 1, 2,  //
                                                               5, 4, 5, 6, 5, 4, 5,  //
                                                               2, 1, 2, 3, 2, 1, 2}));
  CHECK(padded(PaddingMode::replicate) == literal<double>(5, 7, {1, 1, 2, 3, 3, 3, 3,  //
                                                                 1, 1, 2, 3, 3, 3, 3,  //
                                                                 1, 1, 2, 3, 3, 3, 3,  //
                                                                 4, 4, 5, 6, 6, 6, 6,  //
                                                                 4, 4, 5, 6, 6, 6, 6}));
  CHECK(padded(PaddingMode::circular) == literal<double>(5, 7, {3, 1, 2, 3, 1, 2, 3,  //
                                                                6, 4, 5, 6, 4, 5, 6,  //
                                                                3, 1, 2, 3, 1, 2, 3,  //
                                                                6, 4, 5, 6, 4, 5, 6,  //
                                                                3, 1, 2, 3, 1, 2, 3}));
}

TEST_CASE("reference::corr2d handles stride, dilation and 'same' as worked out by hand",
          "[reference]") {
  const MatrixX<double> X45 = literal<double>(4, 5, {1,  2,  3,  4,  5,   //
                                                     6,  7,  8,  9,  10,  //
                                                     11, 12, 13, 14, 15,  //
                                                     16, 17, 18, 19, 20});
  CHECK(reference::corr2d(X45, literal<double>(1, 1, {1}), Conv2dOptions().stride(2, 3)) ==
        literal<double>(2, 2, {1, 4, 11, 14}));
  // Dilation (2, 3): 1 * X(0,0) + 2 * X(0,3) + 3 * X(2,0) + 4 * X(2,3).
  CHECK(reference::corr2d(X45.topLeftCorner(3, 4), literal<double>(2, 2, {1, 2, 3, 4}),
                          Conv2dOptions().dilation(2, 3)) ==
        literal<double>(1, 1, {1 * 1 + 2 * 4 + 3 * 11 + 4 * 14}));
  // 'same', 3x3 ones, stride 2: rows padded (0, 1), columns (1, 1).
  CHECK(reference::corr2d(X45, MatrixX<double>::Ones(3, 3),
                          Conv2dOptions().padding_same().stride(2)) ==
        literal<double>(2, 3, {39, 72, 57, 56, 93, 68}));
  // 'same', 2x2 ones, stride 1: the padding row/column at the bottom/right.
  CHECK(reference::corr2d(literal<double>(3, 3, {1, 2, 3, 4, 5, 6, 7, 8, 9}),
                          MatrixX<double>::Ones(2, 2), Conv2dOptions().padding_same()) ==
        literal<double>(3, 3, {12, 16, 9, 24, 28, 15, 15, 17, 9}));
}

TEST_CASE(
    "reference::corr2d equals the notebook loop on a hand-padded input with a hand-dilated "
    "kernel, subsampled by the stride",
    "[reference]") {
  support::Rng rng(43);
  for (int trial = 0; trial < 300; ++trial) {
    const support::PlaneCase c = support::random_plane_case(rng);
    INFO("trial " << trial << ": " << support::describe(c));
    const MatrixX<double> X = rng.matrix<double>(c.in_rows, c.in_cols);
    const MatrixX<double> K = rng.matrix<double>(c.kernel_rows, c.kernel_cols);
    const MatrixX<double> Xp =
        support::pad_by_hand(X, support::resolved_padding(c), c.opts.padding_mode());
    const MatrixX<double> full = reference::corr2d(Xp, dilate_by_hand(K, c.opts.dilation()));
    const MatrixX<double> expected = subsample_by_hand(full, c.opts.stride());
    CHECK_THAT(max_abs_diff(reference::corr2d(X, K, c.opts), expected),
               WithinAbs(0.0, tolerance<double>(K.size())));
  }
}

TEST_CASE("reference adjoints match hand-worked gradients", "[reference][grad]") {
  SECTION("valid") {
    const MatrixX<double> X = literal<double>(3, 3, {1, 2, 3, 4, 5, 6, 7, 8, 9});
    const MatrixX<double> K = literal<double>(2, 2, {1, 2, 3, 4});
    const MatrixX<double> dY = literal<double>(2, 2, {1, 2, 3, 4});
    CHECK(reference::corr2d_grad_input(dY, K, 3, 3, {}) ==
          literal<double>(3, 3, {1, 4, 4, 6, 20, 16, 9, 24, 16}));
    CHECK(reference::corr2d_grad_kernel(X, dY, 2, 2, {}) ==
          literal<double>(2, 2, {37, 47, 67, 77}));
  }
  SECTION("the border's gradient folds back onto the samples it copied") {
    // x = [1 2 3], K = [1 1], one column of padding each side, dY = [1 2 3 4].
    const MatrixX<double> X = literal<double>(1, 3, {1, 2, 3});
    const MatrixX<double> K = literal<double>(1, 2, {1, 1});
    const MatrixX<double> dY = literal<double>(1, 4, {1, 2, 3, 4});
    const auto opts = [](PaddingMode mode) {
      return Conv2dOptions().padding(0, 1).padding_mode(mode);
    };
    CHECK(reference::corr2d_grad_input(dY, K, 1, 3, opts(PaddingMode::zeros)) ==
          literal<double>(1, 3, {3, 5, 7}));
    CHECK(reference::corr2d_grad_input(dY, K, 1, 3, opts(PaddingMode::reflect)) ==
          literal<double>(1, 3, {3, 10, 7}));
    CHECK(reference::corr2d_grad_input(dY, K, 1, 3, opts(PaddingMode::replicate)) ==
          literal<double>(1, 3, {4, 5, 11}));
    CHECK(reference::corr2d_grad_input(dY, K, 1, 3, opts(PaddingMode::circular)) ==
          literal<double>(1, 3, {7, 5, 8}));
    CHECK(reference::corr2d_grad_kernel(X, dY, 1, 2, opts(PaddingMode::zeros)) ==
          literal<double>(1, 2, {20, 14}));
    CHECK(reference::corr2d_grad_kernel(X, dY, 1, 2, opts(PaddingMode::reflect)) ==
          literal<double>(1, 2, {22, 22}));
    CHECK(reference::corr2d_grad_kernel(X, dY, 1, 2, opts(PaddingMode::replicate)) ==
          literal<double>(1, 2, {21, 26}));
    CHECK(reference::corr2d_grad_kernel(X, dY, 1, 2, opts(PaddingMode::circular)) ==
          literal<double>(1, 2, {23, 18}));
  }
}

TEST_CASE("reference adjoints are the adjoints of reference::corr2d", "[reference][grad]") {
  support::Rng rng(47);
  for (int trial = 0; trial < 200; ++trial) {
    const support::PlaneCase c = support::random_plane_case(rng);
    INFO("trial " << trial << ": " << support::describe(c));
    const MatrixX<double> X = rng.matrix<double>(c.in_rows, c.in_cols);
    const MatrixX<double> K = rng.matrix<double>(c.kernel_rows, c.kernel_cols);
    const MatrixX<double> Y = reference::corr2d(X, K, c.opts);
    const MatrixX<double> dY = rng.matrix<double>(Y.rows(), Y.cols());
    const double lhs = support::dot(Y, dY);
    const double tol = tolerance<double>(Y.size() * K.size());
    CHECK_THAT(support::dot(X, reference::corr2d_grad_input(dY, K, X.rows(), X.cols(), c.opts)),
               WithinAbs(lhs, tol));
    CHECK_THAT(support::dot(K, reference::corr2d_grad_kernel(X, dY, K.rows(), K.cols(), c.opts)),
               WithinAbs(lhs, tol));
  }
}

TEST_CASE("reference::conv2d and conv2d_backward match a hand-worked grouped case",
          "[reference][conv2d]") {
  // Batch 2, two 2x2 channels, groups 2, one 1x2 kernel per group, bias (10, 20).
  Tensor<double> x(2, 2, 2, 2);
  x.plane(0, 0) = literal<double>(2, 2, {1, 2, 3, 4});
  x.plane(0, 1) = literal<double>(2, 2, {5, 6, 7, 8});
  x.plane(1, 0) = literal<double>(2, 2, {0, 1, 0, 1});
  x.plane(1, 1) = literal<double>(2, 2, {2, 0, 2, 0});
  Tensor<double> w(2, 1, 1, 2);
  w.plane(0, 0) = literal<double>(1, 2, {1, -1});
  w.plane(1, 0) = literal<double>(1, 2, {2, 1});
  VectorX<double> bias(2);
  bias << 10, 20;
  const Conv2dOptions groups2 = Conv2dOptions().groups(2);
  const Tensor<double> y = reference::conv2d(x, w, bias, groups2);
  REQUIRE(y.shape() == convtape::Shape4{2, 2, 2, 1});
  CHECK(MatrixX<double>(y.plane(0, 0)) == literal<double>(2, 1, {10 - 1, 10 - 1}));
  CHECK(MatrixX<double>(y.plane(0, 1)) == literal<double>(2, 1, {20 + 16, 20 + 22}));
  CHECK(MatrixX<double>(y.plane(1, 0)) == literal<double>(2, 1, {10 - 1, 10 - 1}));
  CHECK(MatrixX<double>(y.plane(1, 1)) == literal<double>(2, 1, {20 + 4, 20 + 4}));

  Tensor<double> dy(2, 2, 2, 1);
  dy.plane(0, 0) = literal<double>(2, 1, {1, 0});
  dy.plane(0, 1) = literal<double>(2, 1, {0, 1});
  dy.plane(1, 0) = literal<double>(2, 1, {0, 2});
  dy.plane(1, 1) = literal<double>(2, 1, {1, 1});
  const Conv2dGrads<double> g = reference::conv2d_backward(x, w, dy, groups2);
  CHECK(g.bias == literal<double>(2, 1, {3, 3}));
  // dw[o] = sum over n of corr2d(x[n, o], dy[n, o]) (1x2 each).
  CHECK(MatrixX<double>(g.weight.plane(0, 0)) == literal<double>(1, 2, {1 + 0, 2 + 2}));
  CHECK(MatrixX<double>(g.weight.plane(1, 0)) == literal<double>(1, 2, {7 + 4, 8 + 0}));
  // dx[n, c] = dy[n, c] scattered through the kernel of group c.
  CHECK(MatrixX<double>(g.input.plane(0, 0)) == literal<double>(2, 2, {1, -1, 0, 0}));
  CHECK(MatrixX<double>(g.input.plane(0, 1)) == literal<double>(2, 2, {0, 0, 2, 1}));
  CHECK(MatrixX<double>(g.input.plane(1, 0)) == literal<double>(2, 2, {0, 0, 2, -2}));
  CHECK(MatrixX<double>(g.input.plane(1, 1)) == literal<double>(2, 2, {2, 1, 2, 1}));
}

TEST_CASE("reference functions reject bad shapes with a shape_error naming them",
          "[reference][errors]") {
  const MatrixX<double> X = MatrixX<double>::Ones(3, 4);
  CHECK_THAT(shape_error_message([&] { reference::corr2d(X, MatrixX<double>::Ones(4, 1)); }),
             Contains("reference::corr2d") && Contains("kernel 4x1") && Contains("input 3x4"));
  CHECK_THAT(shape_error_message([&] { reference::corr2d(MatrixX<double>(0, 2), X); }),
             Contains("reference::corr2d") && Contains("input is empty (0x2)"));
  CHECK_THAT(
      shape_error_message([&] { reference::corr2d(X, X.topRows(1), Conv2dOptions().stride(0)); }),
      Contains("reference::corr2d") && Contains("stride must be positive"));
  CHECK_THAT(shape_error_message(
                 [&] { reference::corr2d_grad_input(X, MatrixX<double>::Ones(2, 2), 0, 2, {}); }),
             Contains("reference::corr2d_grad_input") && Contains("input is empty (0x2)"));
  CHECK_THAT(shape_error_message([&] { reference::corr2d_grad_kernel(X, X, 5, 1, {}); }),
             Contains("reference::corr2d_grad_kernel") && Contains("kernel 5x1"));
}

}  // namespace
