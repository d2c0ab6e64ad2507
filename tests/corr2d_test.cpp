// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/corr2d.hpp"

#include <vector>

#include "convtape/reference.hpp"
#include "support/cases.hpp"
#include "support/catch.hpp"
#include "support/compare.hpp"
#include "support/errors.hpp"
#include "support/literal.hpp"
#include "support/random.hpp"

namespace {

using convtape::Conv2dOptions;
using convtape::convolve2d;
using convtape::corr2d;
using convtape::corr2d_grad_input;
using convtape::corr2d_grad_kernel;
using convtape::Index;
using convtape::MatrixX;
using convtape::PaddingMode;
using convtape::RowMatrixX;
using support::literal;
using support::max_abs_diff;
using support::shape_error_message;
using support::tolerance;

/// Calls f(name, view) with `m` seen through every kind of Eigen input a user may pass: both
/// storage orders, maps (plain and with an inner stride), blocks of larger matrices of both
/// orders, and expressions without direct access.
template <class S, class F>
void for_each_view(const MatrixX<S>& m, F&& f) {
  const Index r = m.rows();
  const Index c = m.cols();
  f("column-major Matrix", m);
  const RowMatrixX<S> row = m;
  f("row-major Matrix", row);
  f("Map of column-major data", Eigen::Map<const MatrixX<S>>(m.data(), r, c));
  f("Map of row-major data", Eigen::Map<const RowMatrixX<S>>(row.data(), r, c));
  std::vector<S> spread(static_cast<std::size_t>(2 * r * c), S(77));  // every other element
  for (Index j = 0; j < c; ++j) {
    for (Index i = 0; i < r; ++i) spread[static_cast<std::size_t>(2 * (i + j * r))] = m(i, j);
  }
  using Strided = Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>;
  f("Map with an inner stride",
    Eigen::Map<const MatrixX<S>, 0, Strided>(spread.data(), r, c, Strided(2 * r, 2)));
  MatrixX<S> big = MatrixX<S>::Constant(r + 3, c + 4, S(99));
  big.block(1, 2, r, c) = m;
  f("Block of a column-major Matrix", big.block(1, 2, r, c));
  const RowMatrixX<S> big_row = big;
  f("Block of a row-major Matrix", big_row.block(1, 2, r, c));
  const MatrixX<S> stored_transpose = m.transpose();
  f("transpose of a column-major Matrix", stored_transpose.transpose());
  f("coefficient-wise expression", -(-m));
  f("row-major coefficient-wise expression", -(-row));
  f("product expression", m * MatrixX<S>::Identity(c, c));
}

/// A few views covering both storage orders, a block and an expression: for the second operand,
/// and for the adjoints, which take their inputs through the same code as corr2d (every view of
/// every operand would only multiply the compile time).
template <class S, class F>
void for_each_second_view(const MatrixX<S>& m, F&& f) {
  f("column-major Matrix", m);
  const RowMatrixX<S> row = m;
  f("row-major Matrix", row);
  MatrixX<S> big = MatrixX<S>::Constant(m.rows() + 2, m.cols() + 1, S(99));
  big.block(2, 1, m.rows(), m.cols()) = m;
  f("Block of a column-major Matrix", big.block(2, 1, m.rows(), m.cols()));
  f("coefficient-wise expression", -(-m));
}

/// K rotated by 180 degrees, element by element.
template <class S>
MatrixX<S> rotate180(const MatrixX<S>& k) {
  MatrixX<S> out(k.rows(), k.cols());
  for (Index a = 0; a < k.rows(); ++a) {
    for (Index b = 0; b < k.cols(); ++b) out(a, b) = k(k.rows() - 1 - a, k.cols() - 1 - b);
  }
  return out;
}

/// Stride and dilation of `opts`, without its padding.
Conv2dOptions unpadded(const Conv2dOptions& opts) {
  return Conv2dOptions().stride(opts.stride()).dilation(opts.dilation());
}

// The notebook's 6x8 "image": white (1) with the middle four columns black (0).
MatrixX<double> notebook_image() {
  return literal<double>(6, 8, {1, 1, 0, 0, 0, 0, 1, 1,  //
                                1, 1, 0, 0, 0, 0, 1, 1,  //
                                1, 1, 0, 0, 0, 0, 1, 1,  //
                                1, 1, 0, 0, 0, 0, 1, 1,  //
                                1, 1, 0, 0, 0, 0, 1, 1,  //
                                1, 1, 0, 0, 0, 0, 1, 1});
}

// ---------------------------------------------------------------------------------------------
// The notebook

TEST_CASE("corr2d reproduces the notebook's 3x3 example exactly", "[corr2d][notebook]") {
  SECTION("double") {
    Eigen::MatrixXd X(3, 3);
    X << 0, 1, 2, 3, 4, 5, 6, 7, 8;
    Eigen::MatrixXd K(2, 2);
    K << 0, 1, 2, 3;
    Eigen::MatrixXd expected(2, 2);
    expected << 19, 25, 37, 43;
    CHECK(corr2d(X, K) == expected);
  }
  SECTION("float, row-major") {
    const RowMatrixX<float> X = literal<float>(3, 3, {0, 1, 2, 3, 4, 5, 6, 7, 8});
    const RowMatrixX<float> K = literal<float>(2, 2, {0, 1, 2, 3});
    CHECK(corr2d(X, K) == literal<float>(2, 2, {19, 25, 37, 43}));
  }
  SECTION("int, fixed-size") {
    Eigen::Matrix3i X;
    X << 0, 1, 2, 3, 4, 5, 6, 7, 8;
    Eigen::Matrix2i K;
    K << 0, 1, 2, 3;
    CHECK(corr2d(X, K) == literal<int>(2, 2, {19, 25, 37, 43}));
  }
}

TEST_CASE("corr2d finds the notebook's edges: 1 from white to black, -1 from black to white",
          "[corr2d][notebook]") {
  const MatrixX<double> X = notebook_image();
  Eigen::Matrix<double, 1, 2> K;
  K << 1, -1;
  const MatrixX<double> expected = literal<double>(6, 7, {0, 1, 0, 0, 0, -1, 0,  //
                                                          0, 1, 0, 0, 0, -1, 0,  //
                                                          0, 1, 0, 0, 0, -1, 0,  //
                                                          0, 1, 0, 0, 0, -1, 0,  //
                                                          0, 1, 0, 0, 0, -1, 0,  //
                                                          0, 1, 0, 0, 0, -1, 0});
  CHECK(corr2d(X, K) == expected);
}

TEST_CASE("corr2d of the transposed notebook image with [1, -1] is all zeros",
          "[corr2d][notebook]") {
  const MatrixX<double> X = notebook_image();
  const MatrixX<double> K = literal<double>(1, 2, {1, -1});
  const MatrixX<double> expected = MatrixX<double>::Zero(8, 5);
  CHECK(corr2d(X.transpose(), K) == expected);
  const MatrixX<double> stored_transpose = X.transpose();
  CHECK(corr2d(stored_transpose, K) == expected);
}

// ---------------------------------------------------------------------------------------------
// Hand-worked values

TEST_CASE("corr2d steps by the stride and spreads taps by the dilation, as worked by hand",
          "[corr2d]") {
  const MatrixX<double> X45 = literal<double>(4, 5, {1,  2,  3,  4,  5,   //
                                                     6,  7,  8,  9,  10,  //
                                                     11, 12, 13, 14, 15,  //
                                                     16, 17, 18, 19, 20});
  SECTION("stride (2, 3) with a 1x1 kernel picks every second row and third column") {
    CHECK(corr2d(X45, literal<double>(1, 1, {1}), Conv2dOptions().stride(2, 3)) ==
          literal<double>(2, 2, {1, 4, 11, 14}));
  }
  SECTION("dilation (2, 3) spreads a 2x2 kernel over the corners of a 3x4 input") {
    const MatrixX<double> X34 = X45.topLeftCorner(3, 4);
    // 1 * X(0,0) + 2 * X(0,3) + 3 * X(2,0) + 4 * X(2,3)
    CHECK(corr2d(X34, literal<double>(2, 2, {1, 2, 3, 4}), Conv2dOptions().dilation(2, 3)) ==
          literal<double>(1, 1, {1 * 1 + 2 * 4 + 3 * 11 + 4 * 14}));
  }
}

TEST_CASE("corr2d handles 1x1 kernels, kernels as large as the input and single rows",
          "[corr2d][edge]") {
  const MatrixX<double> X = literal<double>(2, 3, {1, 2, 3, 4, 5, 6});
  SECTION("a 1x1 kernel scales the input") {
    CHECK(corr2d(X, literal<double>(1, 1, {2.5})) ==
          literal<double>(2, 3, {2.5, 5, 7.5, 10, 12.5, 15}));
  }
  SECTION("a kernel equal to the input gives one sample, the sum of squares") {
    CHECK(corr2d(X, X) == literal<double>(1, 1, {1 + 4 + 9 + 16 + 25 + 36}));
  }
  SECTION("a 1x1 input with a 1x1 kernel") {
    CHECK(corr2d(literal<double>(1, 1, {3}), literal<double>(1, 1, {4})) ==
          literal<double>(1, 1, {12}));
  }
  SECTION("a single row and a single column, as dynamic vectors") {
    Eigen::RowVectorXd row(5);
    row << 1, 2, 4, 8, 16;
    Eigen::RowVector2d k;
    k << 1, -1;
    CHECK(corr2d(row, k) == literal<double>(1, 4, {-1, -2, -4, -8}));
    const Eigen::VectorXd col = row.transpose();
    CHECK(corr2d(col, k.transpose()) == literal<double>(4, 1, {-1, -2, -4, -8}));
  }
  SECTION("a row and a column of a larger matrix") {
    const MatrixX<double> big = literal<double>(3, 3, {1, 2, 3, 4, 5, 6, 7, 8, 9});
    CHECK(corr2d(big.row(1), literal<double>(1, 2, {1, 10})) == literal<double>(1, 2, {54, 65}));
    CHECK(corr2d(big.col(2), literal<double>(2, 1, {1, 10})) == literal<double>(2, 1, {63, 96}));
  }
}

// ---------------------------------------------------------------------------------------------
// Padding

TEST_CASE("corr2d pads each border mode as worked out by hand, also wider than the plane",
          "[corr2d][padding]") {
  // A 1x1 identity kernel returns the padded input itself. Padding (top 2, bottom 1, left 1,
  // right 3) is wider than the 2x3 plane, so reflect and circular must keep going.
  const MatrixX<double> X = literal<double>(2, 3, {1, 2, 3, 4, 5, 6});
  const MatrixX<double> one = literal<double>(1, 1, {1});
  const auto padded = [&](PaddingMode mode) {
    return corr2d(X, one, Conv2dOptions().padding(2, 1, 1, 3).padding_mode(mode));
  };
  SECTION("zeros") {
    CHECK(padded(PaddingMode::zeros) == literal<double>(5, 7, {0, 0, 0, 0, 0, 0, 0,  //
                                                               0, 0, 0, 0, 0, 0, 0,  //
                                                               0, 1, 2, 3, 0, 0, 0,  //
                                                               0, 4, 5, 6, 0, 0, 0,  //
                                                               0, 0, 0, 0, 0, 0, 0}));
  }
  SECTION("reflect (mirror about the edge sample, which is not repeated)") {
    CHECK(padded(PaddingMode::reflect) == literal<double>(5, 7, {2, 1, 2, 3, 2, 1, 2,  //
                                                                 5, 4, 5, 6, 5, 4, 5,  //
                                                                 2, 1, 2, 3, 2, 1, 2,  //
                                                                 5, 4, 5, 6, 5, 4, 5,  //
                                                                 2, 1, 2, 3, 2, 1, 2}));
  }
  SECTION("replicate") {
    CHECK(padded(PaddingMode::replicate) == literal<double>(5, 7, {1, 1, 2, 3, 3, 3, 3,  //
                                                                   1, 1, 2, 3, 3, 3, 3,  //
                                                                   1, 1, 2, 3, 3, 3, 3,  //
                                                                   4, 4, 5, 6, 6, 6, 6,  //
                                                                   4, 4, 5, 6, 6, 6, 6}));
  }
  SECTION("circular") {
    CHECK(padded(PaddingMode::circular) == literal<double>(5, 7, {3, 1, 2, 3, 1, 2, 3,  //
                                                                  6, 4, 5, 6, 4, 5, 6,  //
                                                                  3, 1, 2, 3, 1, 2, 3,  //
                                                                  6, 4, 5, 6, 4, 5, 6,  //
                                                                  3, 1, 2, 3, 1, 2, 3}));
  }
}

TEST_CASE("corr2d feeds a kernel the padded samples of each border mode, as worked by hand",
          "[corr2d][padding]") {
  // One column of padding on each side, kernel [1, -1]: each output is p(j) - p(j + 1).
  const MatrixX<double> X = literal<double>(2, 3, {1, 2, 3, 4, 5, 6});
  const MatrixX<double> K = literal<double>(1, 2, {1, -1});
  const auto run = [&](PaddingMode mode) {
    return corr2d(X, K, Conv2dOptions().padding(0, 1).padding_mode(mode));
  };
  // zeros: [0 1 2 3 0], [0 4 5 6 0]
  CHECK(run(PaddingMode::zeros) == literal<double>(2, 4, {-1, -1, -1, 3, -4, -1, -1, 6}));
  // reflect: [2 1 2 3 2], [5 4 5 6 5]
  CHECK(run(PaddingMode::reflect) == literal<double>(2, 4, {1, -1, -1, 1, 1, -1, -1, 1}));
  // replicate: [1 1 2 3 3], [4 4 5 6 6]
  CHECK(run(PaddingMode::replicate) == literal<double>(2, 4, {0, -1, -1, 0, 0, -1, -1, 0}));
  // circular: [3 1 2 3 1], [6 4 5 6 4]
  CHECK(run(PaddingMode::circular) == literal<double>(2, 4, {2, -1, -1, 2, 2, -1, -1, 2}));
}

TEST_CASE("corr2d with padding_same matches hand-worked cases, extra padding at bottom/right",
          "[corr2d][padding][same]") {
  const MatrixX<double> X3 = literal<double>(3, 3, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const MatrixX<double> X45 = literal<double>(4, 5, {1,  2,  3,  4,  5,   //
                                                     6,  7,  8,  9,  10,  //
                                                     11, 12, 13, 14, 15,  //
                                                     16, 17, 18, 19, 20});
  const Conv2dOptions same = Conv2dOptions().padding_same();
  SECTION("odd kernel, stride 1: one zero row/column on every side") {
    CHECK(corr2d(X3, MatrixX<double>::Ones(3, 3), same) ==
          literal<double>(3, 3, {12, 21, 16, 27, 45, 33, 24, 39, 28}));
  }
  SECTION("even kernel, stride 1: the one padding row/column goes to the bottom/right") {
    // Were it at the top/left, the first output would be X(0, 0) = 1 alone.
    CHECK(corr2d(X3, MatrixX<double>::Ones(2, 2), same) ==
          literal<double>(3, 3, {12, 16, 9, 24, 28, 15, 15, 17, 9}));
  }
  SECTION("odd kernel, stride 2: rows pad (0, 1), columns (1, 1); output ceil(4/2) x ceil(5/2)") {
    CHECK(corr2d(X45, MatrixX<double>::Ones(3, 3), Conv2dOptions(same).stride(2)) ==
          literal<double>(2, 3, {39, 72, 57, 56, 93, 68}));
  }
  SECTION("even kernel, stride 2: rows need none, columns pad (0, 1)") {
    CHECK(corr2d(X45, MatrixX<double>::Ones(2, 2), Conv2dOptions(same).stride(2)) ==
          literal<double>(2, 3, {16, 24, 15, 56, 64, 35}));
  }
  SECTION("2x2 kernel with dilation 2 acts as 3x3: pad (1, 1); sums of diagonal neighbours") {
    const MatrixX<double> X34 = literal<double>(3, 4, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    CHECK(corr2d(X34, MatrixX<double>::Ones(2, 2), Conv2dOptions(same).dilation(2)) ==
          literal<double>(3, 4, {6, 12, 14, 7, 12, 24, 28, 14, 6, 12, 14, 7}));
  }
  SECTION("odd kernel, stride 1, reflect") {
    // reflect-padded: [5 4 5 6 5], [2 1 2 3 2], [5 4 5 6 5], [8 7 8 9 8], [5 4 5 6 5]
    CHECK(corr2d(X3, MatrixX<double>::Ones(3, 3),
                 Conv2dOptions(same).padding_mode(PaddingMode::reflect)) ==
          literal<double>(3, 3, {33, 36, 39, 42, 45, 48, 51, 54, 57}));
  }
}

TEST_CASE("padding_same gives ceil(in / stride) outputs for every kernel, stride and dilation",
          "[corr2d][padding][same]") {
  for (Index in = 1; in <= 7; ++in) {
    for (Index k = 1; k <= 5; ++k) {
      for (Index s = 1; s <= 3; ++s) {
        for (Index d = 1; d <= 2; ++d) {
          // Rows and columns get different geometries so they cannot be confused.
          const Index in_cols = in + 2;
          const Index k_cols = 6 - k;
          const MatrixX<double> X = MatrixX<double>::Ones(in, in_cols);
          const MatrixX<double> K = MatrixX<double>::Ones(k, k_cols);
          const MatrixX<double> Y =
              corr2d(X, K, Conv2dOptions().padding_same().stride(s, d).dilation(d, s));
          INFO("in " << in << "x" << in_cols << ", kernel " << k << "x" << k_cols << ", stride "
                     << s << "x" << d << ", dilation " << d << "x" << s);
          CHECK(Y.rows() == (in + s - 1) / s);
          CHECK(Y.cols() == (in_cols + d - 1) / d);
        }
      }
    }
  }
}

TEMPLATE_TEST_CASE("corr2d with padding equals the reference loop on a matrix padded by hand",
                   "[corr2d][padding][reference]", float, double) {
  using S = TestType;
  support::Rng rng(20260101);
  for (int trial = 0; trial < 300; ++trial) {
    const support::PlaneCase c = support::random_plane_case(rng);
    INFO("trial " << trial << ": " << support::describe(c));
    const MatrixX<S> X = rng.matrix<S>(c.in_rows, c.in_cols);
    const MatrixX<S> K = rng.matrix<S>(c.kernel_rows, c.kernel_cols);
    const MatrixX<S> Xp =
        support::pad_by_hand(X, support::resolved_padding(c), c.opts.padding_mode());
    const MatrixX<S> expected = convtape::reference::corr2d(Xp, K, unpadded(c.opts));
    CHECK_THAT(max_abs_diff(corr2d(X, K, c.opts), expected),
               WithinAbs(0.0, tolerance<S>(K.size())));
    if (c.opts.stride() == 1 && c.opts.dilation() == 1) {
      // The notebook's own loop on the padded matrix.
      CHECK_THAT(max_abs_diff(corr2d(X, K, c.opts), convtape::reference::corr2d(Xp, K)),
                 WithinAbs(0.0, tolerance<S>(K.size())));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Differential: the public functions against the reference loops

TEMPLATE_TEST_CASE("corr2d matches the reference loop on random shapes, options and input kinds",
                   "[corr2d][reference]", float, double) {
  using S = TestType;
  support::Rng rng(7);
  support::CaseCoverage coverage;
  for (int trial = 0; trial < 150; ++trial) {
    const support::PlaneCase c = support::random_plane_case(rng);
    INFO("trial " << trial << ": " << support::describe(c));
    const MatrixX<S> X = rng.matrix<S>(c.in_rows, c.in_cols);
    const MatrixX<S> K = rng.matrix<S>(c.kernel_rows, c.kernel_cols);
    const MatrixX<S> expected = convtape::reference::corr2d(X, K, c.opts);
    coverage.add(c, expected.rows(), expected.cols());
    const double tol = tolerance<S>(K.size());
    for_each_view(X, [&](const char* kind, const auto& x) {
      INFO("input: " << kind);
      CHECK_THAT(max_abs_diff(corr2d(x, K, c.opts), expected), WithinAbs(0.0, tol));
    });
    for_each_second_view(K, [&](const char* kind, const auto& k) {
      INFO("kernel: " << kind);
      CHECK_THAT(max_abs_diff(corr2d(X, k, c.opts), expected), WithinAbs(0.0, tol));
    });
  }
  CHECK(coverage.missing() == "");
}

TEMPLATE_TEST_CASE("corr2d_grad_input and corr2d_grad_kernel match the reference loops",
                   "[corr2d][grad][reference]", float, double) {
  using S = TestType;
  support::Rng rng(11);
  for (int trial = 0; trial < 150; ++trial) {
    const support::PlaneCase c = support::random_plane_case(rng);
    INFO("trial " << trial << ": " << support::describe(c));
    const MatrixX<S> X = rng.matrix<S>(c.in_rows, c.in_cols);
    const MatrixX<S> K = rng.matrix<S>(c.kernel_rows, c.kernel_cols);
    const convtape::Size2 out = convtape::conv2d_output_size(
        {c.in_rows, c.in_cols}, {c.kernel_rows, c.kernel_cols}, c.opts);
    const MatrixX<S> dY = rng.matrix<S>(out.rows, out.cols);
    const MatrixX<S> dx_expected =
        convtape::reference::corr2d_grad_input(dY, K, c.in_rows, c.in_cols, c.opts);
    const MatrixX<S> dk_expected =
        convtape::reference::corr2d_grad_kernel(X, dY, c.kernel_rows, c.kernel_cols, c.opts);
    // Bounds on the number of products summed into one element (reflect can fold many).
    const double dx_tol = tolerance<S>(dY.size() * K.size());
    const double dk_tol = tolerance<S>(dY.size());
    for_each_second_view(dY, [&](const char* kind, const auto& dy) {
      INFO("grad_output: " << kind);
      CHECK_THAT(max_abs_diff(corr2d_grad_input(dy, K, c.in_rows, c.in_cols, c.opts), dx_expected),
                 WithinAbs(0.0, dx_tol));
      CHECK_THAT(max_abs_diff(corr2d_grad_kernel(X, dy, c.kernel_rows, c.kernel_cols, c.opts),
                              dk_expected),
                 WithinAbs(0.0, dk_tol));
    });
    for_each_second_view(K, [&](const char* kind, const auto& k) {
      INFO("kernel: " << kind);
      CHECK_THAT(max_abs_diff(corr2d_grad_input(dY, k, c.in_rows, c.in_cols, c.opts), dx_expected),
                 WithinAbs(0.0, dx_tol));
    });
    for_each_second_view(X, [&](const char* kind, const auto& x) {
      INFO("input: " << kind);
      CHECK_THAT(max_abs_diff(corr2d_grad_kernel(x, dY, c.kernel_rows, c.kernel_cols, c.opts),
                              dk_expected),
                 WithinAbs(0.0, dk_tol));
    });
  }
}

TEMPLATE_TEST_CASE(
    "corr2d's adjoints satisfy <corr2d(X, K), dY> = <X, grad_input(dY, K)> = <K, grad_kernel(X, "
    "dY)>",
    "[corr2d][grad]", float, double) {
  using S = TestType;
  support::Rng rng(13);
  for (int trial = 0; trial < 200; ++trial) {
    const support::PlaneCase c = support::random_plane_case(rng);
    INFO("trial " << trial << ": " << support::describe(c));
    const MatrixX<S> X = rng.matrix<S>(c.in_rows, c.in_cols);
    const MatrixX<S> K = rng.matrix<S>(c.kernel_rows, c.kernel_cols);
    const MatrixX<S> Y = corr2d(X, K, c.opts);
    const MatrixX<S> dY = rng.matrix<S>(Y.rows(), Y.cols());
    const double lhs = support::dot(Y, dY);
    const double via_input = support::dot(X, corr2d_grad_input(dY, K, X.rows(), X.cols(), c.opts));
    const double via_kernel =
        support::dot(K, corr2d_grad_kernel(X, dY, K.rows(), K.cols(), c.opts));
    const double tol = tolerance<S>(Y.size() * K.size());
    CHECK_THAT(via_input, WithinAbs(lhs, tol));
    CHECK_THAT(via_kernel, WithinAbs(lhs, tol));
  }
}

TEST_CASE("corr2d and its adjoints agree exactly with the reference loops on int",
          "[corr2d][grad][int]") {
  support::Rng rng(17);
  for (int trial = 0; trial < 100; ++trial) {
    const support::PlaneCase c = support::random_plane_case(rng);
    INFO("trial " << trial << ": " << support::describe(c));
    const MatrixX<int> X = rng.matrix<int>(c.in_rows, c.in_cols);
    const MatrixX<int> K = rng.matrix<int>(c.kernel_rows, c.kernel_cols);
    const MatrixX<int> Y = corr2d(X, K, c.opts);
    CHECK(Y == convtape::reference::corr2d(X, K, c.opts));
    const RowMatrixX<int> X_row = X;
    CHECK(corr2d(X_row, K, c.opts) == Y);
    const MatrixX<int> dY = rng.matrix<int>(Y.rows(), Y.cols());
    CHECK(corr2d_grad_input(dY, K, X.rows(), X.cols(), c.opts) ==
          convtape::reference::corr2d_grad_input(dY, K, X.rows(), X.cols(), c.opts));
    CHECK(corr2d_grad_kernel(X_row, dY, K.rows(), K.cols(), c.opts) ==
          convtape::reference::corr2d_grad_kernel(X, dY, K.rows(), K.cols(), c.opts));
  }
}

TEST_CASE("corr2d_grad_input and corr2d_grad_kernel match hand-worked gradients",
          "[corr2d][grad]") {
  SECTION("valid: grad_input scatters K scaled by each dY, grad_kernel is corr2d(X, dY)") {
    const MatrixX<double> X = literal<double>(3, 3, {1, 2, 3, 4, 5, 6, 7, 8, 9});
    const MatrixX<double> K = literal<double>(2, 2, {1, 2, 3, 4});
    const MatrixX<double> dY = literal<double>(2, 2, {1, 2, 3, 4});
    CHECK(corr2d_grad_input(dY, K, 3, 3) == literal<double>(3, 3, {1, 4, 4, 6, 20, 16, 9, 24, 16}));
    CHECK(corr2d_grad_kernel(X, dY, 2, 2) == literal<double>(2, 2, {37, 47, 67, 77}));
  }
  SECTION("stride 2 skips the input samples no output reads") {
    const MatrixX<double> X = literal<double>(1, 5, {1, 2, 3, 4, 5});
    const MatrixX<double> K = literal<double>(1, 2, {1, 2});
    const MatrixX<double> dY = literal<double>(1, 2, {1, 1});
    const Conv2dOptions opts = Conv2dOptions().stride(1, 2);
    CHECK(corr2d(X, K, opts) == literal<double>(1, 2, {5, 11}));
    CHECK(corr2d_grad_input(dY, K, 1, 5, opts) == literal<double>(1, 5, {1, 2, 1, 2, 0}));
    CHECK(corr2d_grad_kernel(X, dY, 1, 2, opts) == literal<double>(1, 2, {4, 6}));
  }
  SECTION("each border mode folds the border's gradient back onto the samples it copied") {
    // x = [1 2 3], K = [1 1], one column of padding each side, dY = [1 2 3 4]. The padded
    // gradient is dp = [1 3 5 7 4]; each padded position adds to the sample it was read from.
    const MatrixX<double> X = literal<double>(1, 3, {1, 2, 3});
    const MatrixX<double> K = literal<double>(1, 2, {1, 1});
    const MatrixX<double> dY = literal<double>(1, 4, {1, 2, 3, 4});
    const auto opts = [](PaddingMode mode) {
      return Conv2dOptions().padding(0, 1).padding_mode(mode);
    };
    // zeros [0 1 2 3 0]: the border gradient is dropped.
    CHECK(corr2d_grad_input(dY, K, 1, 3, opts(PaddingMode::zeros)) ==
          literal<double>(1, 3, {3, 5, 7}));
    CHECK(corr2d_grad_kernel(X, dY, 1, 2, opts(PaddingMode::zeros)) ==
          literal<double>(1, 2, {20, 14}));
    // reflect [2 1 2 3 2]: both borders copy the middle sample.
    CHECK(corr2d_grad_input(dY, K, 1, 3, opts(PaddingMode::reflect)) ==
          literal<double>(1, 3, {3, 10, 7}));
    CHECK(corr2d_grad_kernel(X, dY, 1, 2, opts(PaddingMode::reflect)) ==
          literal<double>(1, 2, {22, 22}));
    // replicate [1 1 2 3 3]
    CHECK(corr2d_grad_input(dY, K, 1, 3, opts(PaddingMode::replicate)) ==
          literal<double>(1, 3, {4, 5, 11}));
    CHECK(corr2d_grad_kernel(X, dY, 1, 2, opts(PaddingMode::replicate)) ==
          literal<double>(1, 2, {21, 26}));
    // circular [3 1 2 3 1]
    CHECK(corr2d_grad_input(dY, K, 1, 3, opts(PaddingMode::circular)) ==
          literal<double>(1, 3, {7, 5, 8}));
    CHECK(corr2d_grad_kernel(X, dY, 1, 2, opts(PaddingMode::circular)) ==
          literal<double>(1, 2, {23, 18}));
  }
}

// ---------------------------------------------------------------------------------------------
// convolve2d

TEST_CASE("convolve2d flips the kernel, as scipy.signal.convolve2d(X, K, 'valid') does",
          "[convolve2d]") {
  const MatrixX<double> X = literal<double>(3, 3, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  const MatrixX<double> K = literal<double>(2, 2, {1, 2, 3, 4});
  // Y(0, 0) = 4 * X(0,0) + 3 * X(0,1) + 2 * X(1,0) + 1 * X(1,1) = 4 + 6 + 8 + 5
  CHECK(convolve2d(X, K) == literal<double>(2, 2, {23, 33, 53, 63}));
  // ... which is not what corr2d computes.
  CHECK(corr2d(X, K) == literal<double>(2, 2, {37, 47, 67, 77}));
}

TEMPLATE_TEST_CASE("convolve2d equals corr2d with the kernel rotated by 180 degrees",
                   "[convolve2d]", float, double) {
  using S = TestType;
  support::Rng rng(19);
  for (int trial = 0; trial < 100; ++trial) {
    const support::PlaneCase c = support::random_plane_case(rng);
    INFO("trial " << trial << ": " << support::describe(c));
    const MatrixX<S> X = rng.matrix<S>(c.in_rows, c.in_cols);
    const MatrixX<S> K = rng.matrix<S>(c.kernel_rows, c.kernel_cols);
    const MatrixX<S> expected = convtape::reference::corr2d(X, rotate180(K), c.opts);
    const double tol = tolerance<S>(K.size());
    for_each_second_view(K, [&](const char* kind, const auto& k) {
      INFO("kernel: " << kind);
      CHECK_THAT(max_abs_diff(convolve2d(X, k, c.opts), expected), WithinAbs(0.0, tol));
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Bad input

TEST_CASE("corr2d rejects bad shapes and options with a shape_error naming them",
          "[corr2d][errors]") {
  const MatrixX<double> X = literal<double>(3, 4, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  const MatrixX<double> K = literal<double>(2, 2, {1, 2, 3, 4});
  const MatrixX<double> X_before = X;
  const MatrixX<double> K_before = K;
  const auto message = [&](const auto& x, const auto& k, const Conv2dOptions& opts) {
    return shape_error_message([&] { corr2d(x, k, opts); });
  };
  const Conv2dOptions none;

  SECTION("empty input") {
    CHECK_THAT(message(MatrixX<double>(0, 3), K, none),
               Contains("corr2d") && Contains("input is empty (0x3)"));
    CHECK_THAT(message(MatrixX<double>(2, 0), K, none), Contains("input is empty (2x0)"));
  }
  SECTION("empty kernel") {
    CHECK_THAT(message(X, MatrixX<double>(0, 2), none),
               Contains("corr2d") && Contains("kernel is empty (0x2)"));
  }
  SECTION("kernel larger than the input") {
    CHECK_THAT(message(X, MatrixX<double>::Ones(4, 2), none),
               Contains("corr2d") && Contains("kernel 4x2") && Contains("input 3x4"));
    CHECK_THAT(message(X, MatrixX<double>::Ones(1, 5), none),
               Contains("kernel 1x5") && Contains("input 3x4"));
  }
  SECTION("kernel larger than the padded input") {
    CHECK_THAT(message(X, MatrixX<double>::Ones(6, 2), Conv2dOptions().padding(1, 0, 0, 1)),
               Contains("kernel 6x2") && Contains("padded input 4x5") && Contains("input 3x4") &&
                   Contains("top 1, bottom 0, left 0, right 1"));
  }
  SECTION("dilated kernel larger than the input") {
    // A 2x3 kernel with dilation 3 spans 4x7.
    CHECK_THAT(message(X, MatrixX<double>::Ones(2, 3), Conv2dOptions().dilation(3)),
               Contains("kernel 2x3 with dilation 3x3") && Contains("input 3x4"));
    // A dilation so large that (kernel - 1) * dilation would overflow a 32-bit int.
    CHECK_THAT(message(X, K, Conv2dOptions().dilation(1 << 30)),
               Contains("kernel 2x2 with dilation") && Contains("input 3x4"));
  }
  SECTION("zero or negative stride") {
    CHECK_THAT(message(X, K, Conv2dOptions().stride(0)),
               Contains("corr2d") && Contains("stride must be positive") && Contains("got 0x0"));
    CHECK_THAT(message(X, K, Conv2dOptions().stride(1, -2)),
               Contains("stride must be positive") && Contains("got 1x-2"));
  }
  SECTION("absurdly large stride") {
    CHECK_THAT(message(X, K, Conv2dOptions().stride(Index(1) << 40)),
               Contains("stride must be positive (at most"));
  }
  SECTION("zero or negative dilation") {
    CHECK_THAT(message(X, K, Conv2dOptions().dilation(0, 1)),
               Contains("dilation must be positive") && Contains("got 0x1"));
    CHECK_THAT(message(X, K, Conv2dOptions().dilation(-1)), Contains("got -1x-1"));
  }
  SECTION("negative padding") {
    CHECK_THAT(message(X, K, Conv2dOptions().padding(0, -1, 0, 0)),
               Contains("corr2d") && Contains("padding must be non-negative") &&
                   Contains("top 0, bottom -1, left 0, right 0"));
    CHECK_THAT(message(X, K, Conv2dOptions().padding(-2)), Contains("top -2, bottom -2"));
  }
  CHECK(X == X_before);
  CHECK(K == K_before);
}

TEST_CASE("the adjoints reject a grad_output of the wrong shape and bad extents",
          "[corr2d][grad][errors]") {
  const MatrixX<double> X = MatrixX<double>::Ones(4, 5);
  const MatrixX<double> K = MatrixX<double>::Ones(2, 3);
  const MatrixX<double> dY = MatrixX<double>::Ones(3, 3);  // the right shape
  const MatrixX<double> X_before = X;
  const MatrixX<double> K_before = K;
  const MatrixX<double> wrong = MatrixX<double>::Ones(3, 4);
  const MatrixX<double> wrong_before = wrong;

  SECTION("corr2d_grad_input") {
    REQUIRE(corr2d_grad_input(dY, K, 4, 5).rows() == 4);
    CHECK_THAT(shape_error_message([&] { corr2d_grad_input(wrong, K, 4, 5); }),
               Contains("corr2d_grad_input") && Contains("grad_output is 3x4") &&
                   Contains("4x5 input") && Contains("2x3 kernel is 3x3"));
    CHECK_THAT(shape_error_message([&] { corr2d_grad_input(dY, K, 0, 5); }),
               Contains("corr2d_grad_input") && Contains("input is empty (0x5)"));
    CHECK_THAT(shape_error_message([&] { corr2d_grad_input(dY, K, 1, 5); }),
               Contains("kernel 2x3") && Contains("input 1x5"));
    CHECK_THAT(
        shape_error_message([&] { corr2d_grad_input(dY, K, 4, 5, Conv2dOptions().stride(0)); }),
        Contains("corr2d_grad_input") && Contains("stride must be positive"));
  }
  SECTION("corr2d_grad_kernel") {
    REQUIRE(corr2d_grad_kernel(X, dY, 2, 3).rows() == 2);
    CHECK_THAT(
        shape_error_message([&] { corr2d_grad_kernel(X, wrong, 2, 3); }),
        Contains("corr2d_grad_kernel") && Contains("grad_output is 3x4") && Contains("is 3x3"));
    CHECK_THAT(shape_error_message([&] { corr2d_grad_kernel(X, dY, -1, 3); }),
               Contains("corr2d_grad_kernel") && Contains("kernel is empty (-1x3)"));
    CHECK_THAT(shape_error_message([&] { corr2d_grad_kernel(X, dY, 2, 6); }),
               Contains("kernel 2x6") && Contains("input 4x5"));
    CHECK_THAT(
        shape_error_message([&] { corr2d_grad_kernel(X, dY, 2, 3, Conv2dOptions().padding(-1)); }),
        Contains("corr2d_grad_kernel") && Contains("padding must be non-negative"));
  }
  CHECK(X == X_before);
  CHECK(K == K_before);
  CHECK(wrong == wrong_before);
}

TEST_CASE("convolve2d names itself in its errors", "[convolve2d][errors]") {
  const MatrixX<double> X = MatrixX<double>::Ones(2, 2);
  CHECK_THAT(shape_error_message([&] { convolve2d(X, MatrixX<double>::Ones(3, 1)); }),
             Contains("convolve2d") && Contains("kernel 3x1") && Contains("input 2x2"));
}

}  // namespace
