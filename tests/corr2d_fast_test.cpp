// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors

// The fast paths behind corr2d and its adjoints (detail/corr2d_kernels.hpp, detail/plane.hpp)
// against the reference loops, run in double on the same data so the tolerance only has to
// cover the fast path's own rounding: every output is a sum of `terms` products of numbers in
// [-1, 1], so it may be off by at most terms * epsilon * (a small constant).
//
// Shapes are chosen around every size the kernels branch on: the packet width of this build
// (Eigen's packet_traits), the register block (DirectBlocking), padding and separable panels
// (panel_rows), kept scratch (kScratchKeepBytes), the tap group and strip of the
// kernel-gradient reduction, the OpenMP threshold (kParallelMinMacs); and each path-selection
// condition on both sides: row stride == row dilation (shared-row kernel), column stride 1 or
// gathered column phases, rank one or not and kSeparableMinGain, unit stride for the input
// gradient, zero or other padding.

#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "convtape/corr2d.hpp"
#include "convtape/reference.hpp"
#include "support/catch.hpp"
#include "support/compare.hpp"
#include "support/internals.hpp"
#include "support/random.hpp"

namespace {

using convtape::Conv2dOptions;
using convtape::Index;
using convtape::MatrixX;
using convtape::PaddingMode;
using convtape::RowMatrixX;
namespace internals = support::internals;
using support::max_abs_diff;
using support::tolerance;

template <class S>
constexpr int kPacket = Eigen::internal::packet_traits<S>::size;
constexpr int kBlockRows = internals::DirectBlocking::rows;
/// Columns of the widest register block for scalar type S.
template <class S>
constexpr int kBlockCols = internals::DirectBlocking::packets(1) * kPacket<S>;

std::string describe(Index rows, Index cols, Index kr, Index kc, const Conv2dOptions& o) {
  std::ostringstream os;
  os << "x " << rows << "x" << cols << ", k " << kr << "x" << kc << ", stride " << o.stride()
     << ", dilation " << o.dilation() << ", padding (" << o.padding().top << ","
     << o.padding().bottom << "," << o.padding().left << "," << o.padding().right << ")"
     << (o.is_padding_same() ? " same" : "") << ", mode " << convtape::to_string(o.padding_mode());
  return os.str();
}

/// Tracks the worst error relative to its tolerance over many cases, so a sweep reports the one
/// case that fails worst instead of thousands of assertions.
struct Worst {
  double ratio = 0.0;
  std::string where = "none";
  int cases = 0;
  void add(double error, double tol, const std::string& what) {
    ++cases;
    if (std::isnan(ratio)) return;  // a NaN stays the worst
    const double r = error / tol;
    if (!(r <= ratio)) {
      ratio = r;
      where = what;
    }
  }
  void check() const {
    INFO("worst case: " << where << " (error / tolerance = " << ratio << ", " << cases
                        << " cases)");
    CHECK(cases > 0);
    CHECK_THAT(ratio, WithinAbs(0.0, 1.0));  // ratio >= 0; NaN fails
  }
};

/// A row stride, a row dilation and a column stride.
struct Step {
  Index row_stride;
  Index row_dilation;
  Index col_stride;
};

/// corr2d(x, k, o) against the double reference loop; adds the result to `worst`.
template <class S>
void check_forward(const MatrixX<S>& x, const MatrixX<S>& k, const Conv2dOptions& o, Worst& worst) {
  const MatrixX<double> want =
      convtape::reference::corr2d(x.template cast<double>(), k.template cast<double>(), o);
  const MatrixX<S> got = convtape::corr2d(x, k, o);
  worst.add(max_abs_diff(got, want), tolerance<S>(k.size()),
            describe(x.rows(), x.cols(), k.rows(), k.cols(), o));
}

TEMPLATE_TEST_CASE(
    "corr2d matches the textbook loop for output widths around the packet and "
    "block sizes",
    "[corr2d][fast]", float, double) {
  using S = TestType;
  std::mt19937 gen(7);
  Worst worst;
  // Every output width up to two register blocks + 1 covers: narrower than a packet (the
  // half-packet and scalar path), whole packets, partial blocks, and a tail of any length.
  for (Index out_cols = 1; out_cols <= 2 * kBlockCols<S> + 1; ++out_cols) {
    for (Index kc : {1, 2, 3}) {
      for (Index kr : {1, 3}) {
        const Index out_rows = 1 + out_cols % (kBlockRows + 2);
        const MatrixX<S> x = support::uniform_matrix<S>(out_rows + kr - 1, out_cols + kc - 1, gen);
        check_forward<S>(x, support::uniform_matrix<S>(kr, kc, gen), {}, worst);
      }
    }
  }
  worst.check();
}

TEMPLATE_TEST_CASE(
    "corr2d matches the textbook loop for output heights around the row block "
    "and kernel heights around it",
    "[corr2d][fast]", float, double) {
  using S = TestType;
  std::mt19937 gen(11);
  Worst worst;
  // The shared-row kernel uses min(kernel rows, block rows) rows per block and shorter blocks
  // for the last rows: kernel heights below, at and above the block, outputs shorter than it.
  for (Index kr = 1; kr <= kBlockRows + 3; ++kr) {
    for (Index out_rows = 1; out_rows <= 3 * kBlockRows + 1; ++out_rows) {
      const Index out_cols = 1 + (out_rows * 7 + kr * 5) % (kBlockCols<S> + kPacket<S> + 3);
      const Index kc = 1 + (out_rows + kr) % 4;
      const MatrixX<S> x = support::uniform_matrix<S>(out_rows + kr - 1, out_cols + kc - 1, gen);
      check_forward<S>(x, support::uniform_matrix<S>(kr, kc, gen), {}, worst);
    }
  }
  worst.check();
}

TEMPLATE_TEST_CASE(
    "corr2d matches the textbook loop for 1x1 kernels, kernels equal to the input "
    "and 1x1 inputs",
    "[corr2d][fast]", float, double) {
  using S = TestType;
  std::mt19937 gen(13);
  Worst worst;
  for (Index rows : {Index(1), Index(2), Index(5), Index(kBlockRows + 1)}) {
    for (Index cols : {Index(1), Index(3), Index(kPacket<S>), Index(kBlockCols<S> + 5)}) {
      const MatrixX<S> x = support::uniform_matrix<S>(rows, cols, gen);
      check_forward<S>(x, support::uniform_matrix<S>(1, 1, gen), {}, worst);
      check_forward<S>(x, support::uniform_matrix<S>(rows, cols, gen), {}, worst);
    }
  }
  worst.check();
}

TEMPLATE_TEST_CASE("corr2d matches the textbook loop with strides and dilations on both kernels",
                   "[corr2d][fast]", float, double) {
  using S = TestType;
  std::mt19937 gen(17);
  Worst worst;
  // Row stride == row dilation takes the shared-row kernel, anything else the any-row kernel;
  // a column stride > 1 splits the kernel into column phases (one per residue of b * dilation
  // modulo the stride; fewer when the two share a factor or the kernel is narrow).
  for (Index sr = 1; sr <= 3; ++sr) {
    for (Index dr = 1; dr <= 3; ++dr) {
      for (Index sc = 1; sc <= 4; ++sc) {
        for (Index dc = 1; dc <= 3; ++dc) {
          for (int rep = 0; rep < 3; ++rep) {
            const Index kr = 1 + Index(gen() % 5);
            const Index kc = 1 + Index(gen() % 5);
            const Index rows = (kr - 1) * dr + 1 + Index(gen() % (3 * kBlockRows));
            const Index cols = (kc - 1) * dc + 1 + Index(gen() % (2 * kBlockCols<S> + 3));
            const Conv2dOptions o = Conv2dOptions().stride(sr, sc).dilation(dr, dc);
            check_forward<S>(support::uniform_matrix<S>(rows, cols, gen),
                             support::uniform_matrix<S>(kr, kc, gen), o, worst);
          }
        }
      }
    }
  }
  worst.check();
}

TEMPLATE_TEST_CASE("corr2d matches the textbook loop at the borders of every padding mode",
                   "[corr2d][fast][padding]", float, double) {
  using S = TestType;
  std::mt19937 gen(19);
  Worst worst;
  for (PaddingMode mode :
       {PaddingMode::zeros, PaddingMode::reflect, PaddingMode::replicate, PaddingMode::circular}) {
    for (int rep = 0; rep < 60; ++rep) {
      const Index rows = 1 + Index(gen() % 12);
      const Index cols = 1 + Index(gen() % (kBlockCols<S> + 9));
      const Index kr = 1 + Index(gen() % 5);
      const Index kc = 1 + Index(gen() % 5);
      Conv2dOptions o;
      o.padding_mode(mode).stride(1 + Index(gen() % 2), 1 + Index(gen() % 2));
      o.dilation(1 + Index(gen() % 2), 1 + Index(gen() % 2));
      if (rep % 5 == 0) {
        o.padding_same();
      } else {
        o.padding(Index(gen() % 4), Index(gen() % 4), Index(gen() % 4), Index(gen() % 4));
      }
      const MatrixX<S> x = support::uniform_matrix<S>(rows, cols, gen);
      const MatrixX<S> k = support::uniform_matrix<S>(kr, kc, gen);
      try {
        convtape::conv2d_geometry(rows, cols, kr, kc, o);
      } catch (const convtape::shape_error&) {
        continue;  // kernel larger than the padded input: not a case
      }
      check_forward<S>(x, k, o, worst);
    }
  }
  worst.check();
}

TEMPLATE_TEST_CASE("corr2d reads row-major, column-major, Map, Block and expression inputs alike",
                   "[corr2d][fast]", float, double) {
  using S = TestType;
  std::mt19937 gen(23);
  const Index rows = 2 * kBlockRows + 3;
  const Index cols = kBlockCols<S> + kPacket<S> / 2 + 4;
  const MatrixX<S> big = support::uniform_matrix<S>(rows + 5, cols + 7, gen);
  const MatrixX<S> x = big.block(2, 3, rows, cols);
  const MatrixX<S> k = support::uniform_matrix<S>(3, 4, gen);
  const Conv2dOptions o = Conv2dOptions().padding(1, 2).stride(2, 1).dilation(1, 2);
  const MatrixX<double> want =
      convtape::reference::corr2d(x.template cast<double>(), k.template cast<double>(), o);
  const double tol = tolerance<S>(k.size());

  SECTION("column-major") {
    CHECK_THAT(max_abs_diff(convtape::corr2d(x, k, o), want), WithinAbs(0.0, tol));
  }
  SECTION("row-major") {
    const RowMatrixX<S> xr = x;
    const RowMatrixX<S> kr = k;
    CHECK_THAT(max_abs_diff(convtape::corr2d(xr, kr, o), want), WithinAbs(0.0, tol));
  }
  SECTION("Block of a larger matrix, both storage orders") {
    CHECK_THAT(max_abs_diff(convtape::corr2d(big.block(2, 3, rows, cols), k, o), want),
               WithinAbs(0.0, tol));
    const RowMatrixX<S> big_r = big;
    CHECK_THAT(max_abs_diff(convtape::corr2d(big_r.block(2, 3, rows, cols), k, o), want),
               WithinAbs(0.0, tol));
  }
  SECTION("Map with an outer stride") {
    const Eigen::Map<const MatrixX<S>, 0, Eigen::OuterStride<>> xm(
        big.data() + 3 * big.rows() + 2, rows, cols, Eigen::OuterStride<>(big.rows()));
    CHECK_THAT(max_abs_diff(convtape::corr2d(xm, k, o), want), WithinAbs(0.0, tol));
  }
  SECTION("an expression") {
    const MatrixX<S> half_x = x / S(2);
    CHECK_THAT(max_abs_diff(convtape::corr2d(half_x + half_x, k, o), want), WithinAbs(0.0, tol));
  }
  SECTION("a transposed view") {
    const MatrixX<S> xt = x.transpose();
    CHECK_THAT(max_abs_diff(convtape::corr2d(xt.transpose(), k, o), want), WithinAbs(0.0, tol));
  }
}

TEMPLATE_TEST_CASE("the plane forward kernel overwrites or adds to its output as asked",
                   "[corr2d][fast]", float, double) {
  using S = TestType;
  std::mt19937 gen(29);
  Worst worst;
  for (Index out_cols : {Index(1), Index(kPacket<S> - 1 > 0 ? kPacket<S> - 1 : 1),
                         Index(kPacket<S> + 1), Index(kBlockCols<S> + kPacket<S> + 3)}) {
    for (Index out_rows : {Index(1), Index(kBlockRows + 1)}) {
      // Row steps for both block kernels; a column stride of 3 for three column phases, the
      // first of which assigns and the others add.
      for (Step sd : {Step{1, 1, 1}, Step{2, 1, 1}, Step{1, 1, 3}}) {
        const Index kr = 3, kc = 3;
        const Conv2dOptions o =
            Conv2dOptions().stride(sd.row_stride, sd.col_stride).dilation(sd.row_dilation, 1);
        const Index rows = (out_rows - 1) * sd.row_stride + (kr - 1) * sd.row_dilation + 1;
        const Index cols = (out_cols - 1) * sd.col_stride + kc;
        const RowMatrixX<S> x = support::uniform_matrix<S>(rows, cols, gen);
        const RowMatrixX<S> k = support::uniform_matrix<S>(kr, kc, gen);
        const convtape::Conv2dGeometry g = convtape::conv2d_geometry(rows, cols, kr, kc, o);
        const MatrixX<double> corr =
            convtape::reference::corr2d(x.template cast<double>(), k.template cast<double>(), o);
        // Assign must not read the output: start from NaN, which any read would spread.
        RowMatrixX<S> y =
            RowMatrixX<S>::Constant(out_rows, out_cols, std::numeric_limits<S>::quiet_NaN());
        internals::corr2d_from_padded<S>(x.data(), x.outerStride(), k, g, y,
                                         internals::Store::assign);
        worst.add(max_abs_diff(y, corr), tolerance<S>(kr * kc),
                  "assign, " + describe(rows, cols, kr, kc, o));
        const RowMatrixX<S> y0 = support::uniform_matrix<S>(out_rows, out_cols, gen);
        y = y0;
        internals::corr2d_from_padded<S>(x.data(), x.outerStride(), k, g, y, internals::Store::add);
        worst.add(max_abs_diff(y, corr + y0.template cast<double>()), tolerance<S>(kr * kc + 1),
                  "add, " + describe(rows, cols, kr, kc, o));
      }
    }
  }
  worst.check();
}

TEMPLATE_TEST_CASE(
    "corr2d matches the textbook loop on planes above and below the OpenMP "
    "threshold",
    "[corr2d][fast][openmp]", float, double) {
  using S = TestType;
  std::mt19937 gen(31);
  Worst worst;
  // A side x side input and a 3x3 kernel make (side - 2)^2 * 9 multiply-adds: just below and
  // well above kParallelMinMacs (the parallel split only exists when built with OpenMP).
  constexpr Index side_below = 300;
  constexpr Index side_above = 420;
  static_assert((side_below - 2) * (side_below - 2) * 9 < internals::kParallelMinMacs, "below");
  static_assert((side_above - 2) * (side_above - 2) * 9 > internals::kParallelMinMacs, "above");
  for (Index side : {side_below, side_above}) {
    const MatrixX<S> x = support::uniform_matrix<S>(side, side, gen);
    check_forward<S>(x, support::uniform_matrix<S>(3, 3, gen), {}, worst);
    check_forward<S>(x, support::uniform_matrix<S>(3, 3, gen), Conv2dOptions().padding(1), worst);
  }
  worst.check();
}

/// The adjoints against the reference loops, in double, for one shape and options.
template <class S>
void check_adjoints(Index rows, Index cols, Index kr, Index kc, const Conv2dOptions& o,
                    std::mt19937& gen, Worst& input_worst, Worst& kernel_worst) {
  const convtape::Conv2dGeometry g = convtape::conv2d_geometry(rows, cols, kr, kc, o);
  const MatrixX<S> x = support::uniform_matrix<S>(rows, cols, gen);
  const MatrixX<S> k = support::uniform_matrix<S>(kr, kc, gen);
  const MatrixX<S> dy = support::uniform_matrix<S>(g.out_rows, g.out_cols, gen);
  const MatrixX<double> dyd = dy.template cast<double>();
  const std::string what = describe(rows, cols, kr, kc, o);
  const MatrixX<double> dx_want =
      convtape::reference::corr2d_grad_input(dyd, k.template cast<double>(), rows, cols, o);
  // An input sample collects at most kr * kc products, more when padding folds samples onto it.
  const Index folds = o.padding_mode() == PaddingMode::zeros ? 1 : 4;
  input_worst.add(max_abs_diff(convtape::corr2d_grad_input(dy, k, rows, cols, o), dx_want),
                  tolerance<S>(kr * kc * folds), what);
  const MatrixX<double> dk_want =
      convtape::reference::corr2d_grad_kernel(x.template cast<double>(), dyd, kr, kc, o);
  kernel_worst.add(max_abs_diff(convtape::corr2d_grad_kernel(x, dy, kr, kc, o), dk_want),
                   tolerance<S>(g.out_rows * g.out_cols), what);
  // Row-major operands take the direct (untransposed) problem.
  const RowMatrixX<S> xr = x;
  const RowMatrixX<S> dyr = dy;
  kernel_worst.add(max_abs_diff(convtape::corr2d_grad_kernel(xr, dyr, kr, kc, o), dk_want),
                   tolerance<S>(g.out_rows * g.out_cols), "row-major, " + what);
  input_worst.add(max_abs_diff(convtape::corr2d_grad_input(dyr, k, rows, cols, o), dx_want),
                  tolerance<S>(kr * kc * folds), "row-major, " + what);
}

TEMPLATE_TEST_CASE("corr2d's adjoints match the reference loops on random shapes",
                   "[corr2d][fast][adjoint]", float, double) {
  using S = TestType;
  std::mt19937 gen(37);
  Worst input_worst, kernel_worst;
  for (int rep = 0; rep < 400; ++rep) {
    const Index kr = 1 + Index(gen() % 5);
    // Kernel widths across more than two tap groups of the kernel-gradient reduction.
    const Index kc = 1 + Index(gen() % (2 * internals::kGradKernelTaps + 2));
    Conv2dOptions o;
    // Unit stride takes the fast input gradient; any other stride the tap loop.
    if (rep % 3 == 0) o.stride(1 + Index(gen() % 3), 1 + Index(gen() % 2));
    o.dilation(1 + Index(gen() % 2), 1 + Index(gen() % 3));
    if (rep % 2 == 0) {
      o.padding(Index(gen() % 3), Index(gen() % 3), Index(gen() % 3), Index(gen() % 3));
      o.padding_mode(PaddingMode(gen() % 4));
    }
    const Index rows = (kr - 1) * o.dilation().rows + 1 + Index(gen() % 10);
    // Output widths from 1 to beyond two packets: scalar rows, whole packets, masked tails.
    const Index cols = (kc - 1) * o.dilation().cols + 1 + Index(gen() % (2 * kPacket<S> + 3));
    check_adjoints<S>(rows, cols, kr, kc, o, gen, input_worst, kernel_worst);
  }
  input_worst.check();
  kernel_worst.check();
}

TEMPLATE_TEST_CASE(
    "corr2d_grad_kernel matches the reference loop on planes of one and of many "
    "row strips",
    "[corr2d][fast][adjoint]", float, double) {
  using S = TestType;
  std::mt19937 gen(41);
  Worst input_worst, kernel_worst;
  // A strip holds kGradKernelStripBytes / (2 * row bytes) rows: 1024-sample rows make strips of
  // a few dozen rows, so 200 rows are several strips and 8 rows one.
  const Index cols = 1024;
  const Index strip_rows = internals::kGradKernelStripBytes / (2 * Index(sizeof(S)) * (cols + 2));
  REQUIRE(strip_rows < 200);
  for (Index rows : {Index(8), Index(200)}) {
    check_adjoints<S>(rows, cols, 3, 3, {}, gen, input_worst, kernel_worst);
    check_adjoints<S>(rows, cols, 2, 5, Conv2dOptions().stride(2, 1).padding(1), gen, input_worst,
                      kernel_worst);
  }
  input_worst.check();
  kernel_worst.check();
}

}  // namespace

TEMPLATE_TEST_CASE("corr2d_out writes what corr2d returns into any writable matrix",
                   "[corr2d][fast][out]", float, double) {
  using S = TestType;
  std::mt19937 gen(43);
  const Index rows = 2 * kBlockRows + 1;
  const Index cols = kBlockCols<S> + 3;
  const MatrixX<S> x = support::uniform_matrix<S>(rows, cols, gen);
  const MatrixX<S> k = support::uniform_matrix<S>(3, 2, gen);
  const Conv2dOptions o = Conv2dOptions().padding(1, 0).dilation(2, 1);
  const MatrixX<double> want =
      convtape::reference::corr2d(x.template cast<double>(), k.template cast<double>(), o);
  const double tol = tolerance<S>(k.size());

  SECTION("a dynamic matrix of another size is resized") {
    MatrixX<S> out(1, 1);
    convtape::corr2d_out(out, x, k, o);
    CHECK_THAT(max_abs_diff(out, want), WithinAbs(0.0, tol));
  }
  SECTION("a row-major result from a column-major input, and the reverse") {
    RowMatrixX<S> out;
    convtape::corr2d_out(out, x, k, o);
    CHECK_THAT(max_abs_diff(out, want), WithinAbs(0.0, tol));
    const RowMatrixX<S> xr = x;
    MatrixX<S> out_c;
    convtape::corr2d_out(out_c, xr, k, o);
    CHECK_THAT(max_abs_diff(out_c, want), WithinAbs(0.0, tol));
  }
  SECTION("a block of a larger matrix, the rest untouched") {
    MatrixX<S> big = MatrixX<S>::Constant(want.rows() + 3, want.cols() + 2, S(7));
    auto inner = big.block(1, 2, want.rows(), want.cols());
    convtape::corr2d_out(inner, x, k, o);
    CHECK_THAT(max_abs_diff(big.block(1, 2, want.rows(), want.cols()), want), WithinAbs(0.0, tol));
    big.block(1, 2, want.rows(), want.cols()).setConstant(S(7));
    CHECK((big.array() == S(7)).all());
  }
  SECTION("a block of the wrong shape throws and is left untouched") {
    MatrixX<S> big = MatrixX<S>::Constant(want.rows() + 3, want.cols() + 2, S(7));
    auto wrong = big.block(0, 0, want.rows() + 1, want.cols());
    CHECK_THROWS_AS(convtape::corr2d_out(wrong, x, k, o), convtape::shape_error);
    CHECK_THROWS_WITH(convtape::corr2d_out(wrong, x, k, o), Contains("corr2d_out"));
    CHECK((big.array() == S(7)).all());
  }
  SECTION("the input itself, with 'same' padding (out aliases x)") {
    const Conv2dOptions same = Conv2dOptions().padding_same();
    const MatrixX<double> want_same =
        convtape::reference::corr2d(x.template cast<double>(), k.template cast<double>(), same);
    MatrixX<S> inout = x;
    convtape::corr2d_out(inout, inout, k, same);
    CHECK_THAT(max_abs_diff(inout, want_same), WithinAbs(0.0, tol));
  }
}

TEMPLATE_TEST_CASE(
    "padded corr2d and its input gradient match the reference loops on planes of "
    "one and of many padding panels",
    "[corr2d][fast][padding]", float, double) {
  using S = TestType;
  std::mt19937 gen(47);
  Worst worst, input_worst, kernel_worst;
  // Padding is applied to one panel of output rows at a time (panel_rows): with 1000-sample
  // rows a panel is a few dozen rows, so 8 rows are one panel and 150 rows several.
  const Index cols = 1000;
  for (Index rows : {Index(8), Index(150)}) {
    for (PaddingMode mode : {PaddingMode::zeros, PaddingMode::reflect}) {
      const Conv2dOptions o = Conv2dOptions().padding(2, 1, 3, 0).padding_mode(mode);
      const convtape::Conv2dGeometry g = convtape::conv2d_geometry(rows, cols, 3, 4, o);
      const Index panel = internals::panel_rows<S>(g.out_cols + 3, 3, 1);
      INFO("panel rows " << panel);
      CHECK(panel % internals::kPanelGrain == 0);
      CHECK((rows < panel) == (rows == 8));
      check_forward<S>(support::uniform_matrix<S>(rows, cols, gen),
                       support::uniform_matrix<S>(3, 4, gen), o, worst);
      check_adjoints<S>(rows, cols, 3, 4, o, gen, input_worst, kernel_worst);
    }
  }
  worst.check();
  input_worst.check();
  kernel_worst.check();
}

TEMPLATE_TEST_CASE("rank-one kernels are recognised up to rounding and nothing else is",
                   "[corr2d][fast][separable]", float, double) {
  using S = TestType;
  std::mt19937 gen(53);
  convtape::VectorX<S> col, row;
  auto rank_one = [&](const RowMatrixX<S>& k) {
    return internals::split_rank_one(k.data(), k.rows(), k.cols(), col, row);
  };
  SECTION("Sobel factors exactly") {
    RowMatrixX<S> sobel(3, 3);
    sobel << 1, 0, -1, 2, 0, -2, 1, 0, -1;
    REQUIRE(rank_one(sobel));
    const RowMatrixX<S> product = col * row.transpose();
    CHECK(product == sobel);
  }
  SECTION("an outer product rounded once is rank one; a perturbation above the tolerance is not") {
    const MatrixX<S> u = support::uniform_matrix<S>(7, 1, gen);
    const MatrixX<S> v = support::uniform_matrix<S>(1, 6, gen);
    RowMatrixX<S> k = u * v;
    CHECK(rank_one(k));
    const S largest = k.cwiseAbs().maxCoeff();
    const S eps = std::numeric_limits<S>::epsilon();
    RowMatrixX<S> nudged = k;
    nudged(3, 2) += S(internals::kRankOneTolerance) * eps * largest / S(4);
    CHECK(rank_one(nudged));
    nudged = k;
    nudged(3, 2) += S(16 * internals::kRankOneTolerance) * eps * largest;
    CHECK_FALSE(rank_one(nudged));
  }
  SECTION("random, zero and non-finite kernels are not") {
    CHECK_FALSE(rank_one(support::uniform_matrix<S>(5, 5, gen)));
    CHECK_FALSE(rank_one(RowMatrixX<S>::Zero(4, 4)));
    RowMatrixX<S> k = RowMatrixX<S>::Ones(4, 4);
    k(1, 1) = std::numeric_limits<S>::quiet_NaN();
    CHECK_FALSE(rank_one(k));
    k(1, 1) = std::numeric_limits<S>::infinity();
    CHECK_FALSE(rank_one(k));
  }
}

TEST_CASE("two passes are planned exactly when a rank-one kernel saves kSeparableMinGain",
          "[corr2d][fast][separable]") {
  using internals::kSeparableMinGain;
  using internals::separable_pays;
  // taps >= kSeparableMinGain * (rows + cols): 6x6 is the smallest square on the line.
  static_assert(kSeparableMinGain == 3, "the sizes below assume a gain of 3");
  CHECK(separable_pays(6, 6));
  CHECK_FALSE(separable_pays(5, 5));
  CHECK(separable_pays(4, 12));
  CHECK_FALSE(separable_pays(4, 11));
  CHECK_FALSE(separable_pays(1, 50));
  CHECK_FALSE(separable_pays(50, 1));
  // A rank-one kernel on the line is planned as two passes, one just below it is not.
  RowMatrixX<double> big = RowMatrixX<double>::Ones(6, 6);
  RowMatrixX<double> small = RowMatrixX<double>::Ones(5, 5);
  internals::DirectCorr<double> p;
  p.kernel = big.data();
  p.kernel_rows = p.kernel_cols = 6;
  CHECK(internals::plan_direct(p).separable);
  p.kernel = small.data();
  p.kernel_rows = p.kernel_cols = 5;
  CHECK_FALSE(internals::plan_direct(p).separable);
}

TEMPLATE_TEST_CASE(
    "rank-one kernels (two passes) and nearly rank-one ones (direct) match the "
    "textbook loop",
    "[corr2d][fast][separable]", float, double) {
  using S = TestType;
  std::mt19937 gen(59);
  Worst worst;
  const S eps = std::numeric_limits<S>::epsilon();
  for (int rep = 0; rep < 60; ++rep) {
    const Index kr = 6 + Index(gen() % 10);
    const Index kc = 6 + Index(gen() % 10);
    const MatrixX<S> u = support::uniform_matrix<S>(kr, 1, gen);
    const MatrixX<S> v = support::uniform_matrix<S>(1, kc, gen);
    MatrixX<S> k = u * v;
    const bool nudge = rep % 2 == 1;
    if (nudge) k(Index(gen() % kr), Index(gen() % kc)) += S(64) * eps;
    {
      const RowMatrixX<S> kr_major = k;
      convtape::VectorX<S> col, row;
      REQUIRE(internals::separable_pays(kr, kc));
      REQUIRE(internals::split_rank_one(kr_major.data(), kr, kc, col, row) == !nudge);
    }
    Conv2dOptions o;
    o.stride(1 + Index(gen() % 2), 1).dilation(1 + Index(gen() % 2), 1 + Index(gen() % 2));
    if (rep % 3 == 0) o.padding(Index(gen() % 4), Index(gen() % 4), Index(gen() % 4), 2);
    if (rep % 3 == 1) o.padding_same().padding_mode(PaddingMode::reflect);
    // Every fourth plane is wide and tall enough for several panels (panel_rows).
    const bool many_panels = rep % 4 == 0;
    const Index rows =
        (kr - 1) * o.dilation().rows + 1 + Index(gen() % 60) + (many_panels ? 150 : 0);
    const Index cols = (kc - 1) * o.dilation().cols + 1 + Index(gen() % (3 * kBlockCols<S>)) +
                       (many_panels ? 1100 : 0);
    if (many_panels) {
      REQUIRE(internals::panel_rows<S>(cols, (kr - 1) * o.dilation().rows + 1, o.stride().rows) <
              rows / (2 * o.stride().rows));
    }
    const MatrixX<S> x = support::uniform_matrix<S>(rows, cols, gen);
    const MatrixX<double> want =
        convtape::reference::corr2d(x.template cast<double>(), k.template cast<double>(), o);
    // Two passes round differently and drop a residual of at most kRankOneTolerance epsilons
    // per tap: twice the direct path's tolerance.
    worst.add(max_abs_diff(convtape::corr2d(x, k, o), want), 2 * tolerance<S>(kr * kc),
              std::string(nudge ? "nudged, " : "rank one, ") + describe(rows, cols, kr, kc, o));
  }
  worst.check();
}

TEMPLATE_TEST_CASE("padding panels too large to keep between calls give the same results",
                   "[corr2d][fast][padding]", float, double) {
  using S = TestType;
  std::mt19937 gen(61);
  Worst worst;
  // A tall dilated kernel makes a panel read many rows: with 20000-sample rows its buffer is
  // beyond kScratchKeepBytes and is allocated for the call; one plane below it is kept.
  const Index kr = 3, kc = 2, dilation = 30;
  const Conv2dOptions o = Conv2dOptions().dilation(dilation, 1).padding(1, 2, 1, 0);
  for (Index cols : {Index(600), Index(20000)}) {
    const Index rows = (kr - 1) * dilation + 40;
    const Index width = cols + 1 + (kc - 1);
    const Index halo = (kr - 1) * dilation + 1;
    const Index out_rows = rows + 3 - (kr - 1) * dilation;
    const Index buffer_rows =
        std::min(internals::panel_rows<S>(width, halo, 1), out_rows) - 1 + halo;
    const bool kept = Index(sizeof(S)) * buffer_rows * width <= internals::kScratchKeepBytes;
    CHECK(kept == (cols == 600));
    check_forward<S>(support::uniform_matrix<S>(rows, cols, gen),
                     support::uniform_matrix<S>(kr, kc, gen), o, worst);
  }
  worst.check();
}

TEMPLATE_TEST_CASE("corr2d_grad_kernel keeps an infinite output gradient infinite, in any column",
                   "[corr2d][fast][adjoint]", float, double) {
  using S = TestType;
  std::mt19937 gen(67);
  // Columns past the last whole packet must not meet the infinity through a masked lane (0 * inf
  // would be NaN): every dk entry sums inf * x with x != 0 once, so it is +-inf, never NaN.
  const Index rows = 5;
  for (Index cols : {Index(kPacket<S> + 3), Index(2 * kPacket<S>), Index(3)}) {
    MatrixX<S> x = support::uniform_matrix<S>(rows + 1, cols + 2, gen);
    x = x.array().sign() * (x.array().abs() + S(0.5));  // no zeros
    MatrixX<S> dy = support::uniform_matrix<S>(rows, cols, gen);
    for (Index j = 0; j < cols; ++j) {
      dy(2, j) = std::numeric_limits<S>::infinity();
      const MatrixX<S> got = convtape::corr2d_grad_kernel(x, dy, 2, 3);
      const MatrixX<double> want = convtape::reference::corr2d_grad_kernel(
          x.template cast<double>(), dy.template cast<double>(), 2, 3, {});
      INFO("infinity in column " << j << " of " << cols);
      CHECK(got.template cast<double>() == want);
      CHECK(got.array().isInf().all());
      dy(2, j) = S(0);
    }
  }
}
