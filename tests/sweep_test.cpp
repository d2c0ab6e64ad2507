// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// Randomized differential sweeps: thousands of tiny random configurations (batch, channels,
// groups incl. depthwise, plane and kernel sizes, stride, dilation, every padding kind and mode,
// bias or none), in float and double, each checked against the reference loops evaluated in
// double: conv2d forward and backward on the automatic path and on every forced path (its work
// cut for a random thread count), the backward pass also against central finite differences of
// the reference forward (double), a subset through the tape with `gradcheck`; the plane
// functions corr2d, corr2d_grad_input and corr2d_grad_kernel on row- and column-major matrices;
// max, average and adaptive pooling (every kernel, stride, padding, ceil_mode,
// count_include_pad) and conv_transpose2d (stride, padding, output_padding, dilation, groups,
// bias), forward and backward, on tensors and on the tape, a subset with `gradcheck`; and
// broadcasting + - * /, the activations and linear on random shapes.
//
// Reproduce a failure with the seed and configuration index it prints:
//   CONVTAPE_SWEEP_SEED=<seed> CONVTAPE_SWEEP_COUNT=<count> convtape_tests "[sweep]"
// (the defaults are kDefaultSeed and kDefaultCount).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "convtape/autograd/conv_transpose2d.hpp"
#include "convtape/autograd/ops.hpp"
#include "convtape/autograd/pool2d.hpp"
#include "convtape/conv2d.hpp"
#include "convtape/conv_transpose2d.hpp"
#include "convtape/corr2d.hpp"
#include "convtape/elementwise.hpp"
#include "convtape/gradcheck.hpp"
#include "convtape/linear.hpp"
#include "convtape/pool2d.hpp"
#include "convtape/reference.hpp"
#include "support/catch.hpp"
#include "support/internals.hpp"
#include "support/op_cases.hpp"
#include "support/random.hpp"

namespace {

using convtape::Conv2dGrads;
using convtape::Conv2dOptions;
using convtape::ConvTranspose2dOptions;
using convtape::Index;
using convtape::MatrixX;
using convtape::PaddingMode;
using convtape::Pool2dOptions;
using convtape::RowMatrixX;
using convtape::Size2;
using convtape::Tensor;
using convtape::Var;
using convtape::VectorX;
using support::Conv2dPath;
using support::kAllPaths;

constexpr std::uint64_t kDefaultSeed = 20260601;
constexpr std::uint64_t kDefaultCount = 2000;
/// Failures reported in full before a sweep stops (one bug usually fails many configurations).
constexpr int kMaxReported = 10;

/// The value of environment variable `name`, or `fallback` if it is unset.
std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (*end != '\0') FAIL(name << " must be a non-negative integer, got '" << text << "'");
  return v;
}

/// One random convolution: shapes and options.
struct Config {
  Index n = 1, c_in = 1, c_out = 1, h = 1, w = 1, kh = 1, kw = 1;
  Conv2dOptions opts;
  bool bias = false;
  std::string text;  ///< everything above, for failure messages
};

const char* kPaddingKinds[] = {"none", "symmetric", "asymmetric", "same"};

/// Draws a valid configuration: tiny shapes (so the reference loops are cheap), every option.
Config draw_config(support::Rng& rng, bool batched) {
  for (;;) {
    Config c;
    Index groups = 1, in_per_group = 1, out_per_group = 1;
    if (batched) {
      c.n = rng.index(1, 2);
      switch (rng.index(0, 2)) {
        case 0:  // dense
          in_per_group = rng.index(1, 3);
          out_per_group = rng.index(1, 3);
          break;
        case 1:  // grouped
          groups = rng.index(2, 3);
          in_per_group = rng.index(1, 2);
          out_per_group = rng.index(1, 3);
          break;
        default:  // depthwise, with or without a channel multiplier
          groups = rng.index(1, 4);
          out_per_group = rng.index(1, 2);
          break;
      }
    }
    c.c_in = groups * in_per_group;
    c.c_out = groups * out_per_group;
    c.h = rng.index(1, batched ? 7 : 9);
    c.w = rng.index(1, batched ? 7 : 9);
    c.kh = rng.index(1, batched ? 3 : 4);
    c.kw = rng.index(1, batched ? 3 : 4);
    // One batched draw in 16 is a 1x1 kernel on a 1x1 plane (the matrix path's shapes, when the
    // padding drawn below is none).
    if (batched && rng.index(0, 15) == 0) c.h = c.w = c.kh = c.kw = 1;
    c.opts.groups(groups);
    // Mostly unit stride and dilation (the common case, and the only one Winograd fits).
    c.opts.stride(rng.coin() ? 1 : rng.index(1, 3), rng.coin() ? 1 : rng.index(1, 3));
    c.opts.dilation(rng.coin() ? 1 : rng.index(1, 2), rng.coin() ? 1 : rng.index(1, 3));
    const Index padding_kind = rng.index(0, 3);
    if (padding_kind == 1) {
      c.opts.padding(rng.index(0, 2), rng.index(0, 2));
    } else if (padding_kind == 2) {
      c.opts.padding(rng.index(0, 3), rng.index(0, 3), rng.index(0, 3), rng.index(0, 3));
    } else if (padding_kind == 3) {
      c.opts.padding_same();
    }
    const PaddingMode modes[] = {PaddingMode::zeros, PaddingMode::reflect, PaddingMode::replicate,
                                 PaddingMode::circular};
    c.opts.padding_mode(modes[rng.index(0, 3)]);
    c.bias = batched && rng.coin();
    try {
      (void)convtape::conv2d_geometry(c.h, c.w, c.kh, c.kw, c.opts, "sweep");
    } catch (const convtape::shape_error&) {
      continue;  // kernel larger than the padded input: draw again
    }
    const convtape::Padding2d p = c.opts.padding();
    std::ostringstream os;
    os << "n " << c.n << ", c_in " << c.c_in << ", c_out " << c.c_out << ", groups " << groups
       << ", plane " << c.h << "x" << c.w << ", kernel " << c.kh << "x" << c.kw << ", stride "
       << c.opts.stride() << ", dilation " << c.opts.dilation() << ", padding "
       << kPaddingKinds[padding_kind] << " (" << p.top << ", " << p.bottom << ", " << p.left << ", "
       << p.right << "), mode " << convtape::to_string(c.opts.padding_mode())
       << (c.bias ? ", bias" : ", no bias");
    c.text = os.str();
    return c;
  }
}

/// Collects the worst comparison of one configuration.
struct Verdict {
  bool ok = true;
  std::string first_failure;

  /// Compares `got` (n elements) with the double-precision `want`: element i may differ by
  /// 8 * eps(S) * (terms + 1) * (1 + bound[i]), where bound[i] is the sum of the absolute values
  /// of the terms summed into element i (the same reference on |inputs|) and `terms` bounds
  /// their number. A plain summation's rounding error is at most about terms * eps * bound.
  template <class S>
  void close(const char* what, const S* got, const double* want, const double* bound, Index n,
             Index terms) {
    for (Index i = 0; i < n; ++i) {
      const double tol =
          8.0 * double(std::numeric_limits<S>::epsilon()) * double(terms + 1) * (1.0 + bound[i]);
      const double err = std::abs(double(got[i]) - want[i]);
      if (!(err <= tol)) {  // also fails on NaN
        fail(what, i, double(got[i]), want[i], tol);
        return;
      }
    }
  }

  void fail(const char* what, Index i, double got, double want, double tol) {
    if (!ok) return;
    ok = false;
    std::ostringstream os;
    os.precision(17);
    os << what << ": element " << i << " is " << got << ", expected " << want << " +- " << tol;
    first_failure = os.str();
  }
};

template <class S>
const char* scalar_name() {
  return sizeof(S) == sizeof(float) ? "float" : "double";
}

Tensor<double> abs_of(const Tensor<double>& t) {
  Tensor<double> a(t.shape());
  a.flat() = t.flat().cwiseAbs();
  return a;
}

/// sum(dy * reference::conv2d(x, w, b)) in double: the scalar whose gradient conv2d_backward is.
double weighted_output(const Tensor<double>& x, const Tensor<double>& w, const VectorX<double>& b,
                       const Tensor<double>& dy, const Conv2dOptions& opts) {
  return convtape::reference::conv2d(x, w, b, opts).flat().dot(dy.flat());
}

/// Checks one configuration in scalar type S; returns the verdict.
template <class S>
Verdict check_conv2d(const Config& c, support::Rng& rng, bool with_gradcheck) {
  Verdict v;
  const Index groups = c.opts.groups();
  const Tensor<S> x = rng.tensor<S>(c.n, c.c_in, c.h, c.w);
  const Tensor<S> weight = rng.tensor<S>(c.c_out, c.c_in / groups, c.kh, c.kw);
  const VectorX<S> bias = c.bias ? rng.vector<S>(c.c_out) : VectorX<S>();
  const support::Conv2dShape s = support::shape_of(x, weight, c.opts);
  const Tensor<S> dy = rng.tensor<S>(c.n, c.c_out, s.geometry.out_rows, s.geometry.out_cols);

  // The oracle, in double, and the same loops on absolute values for the error bounds.
  const Tensor<double> xd = x.template cast<double>();
  const Tensor<double> wd = weight.template cast<double>();
  const VectorX<double> bd = bias.template cast<double>();
  const Tensor<double> dyd = dy.template cast<double>();
  const Tensor<double> want = convtape::reference::conv2d(xd, wd, bd, c.opts);
  const Tensor<double> want_bound =
      convtape::reference::conv2d(abs_of(xd), abs_of(wd), VectorX<double>(bd.cwiseAbs()), c.opts);
  const Conv2dGrads<double> want_grads = convtape::reference::conv2d_backward(xd, wd, dyd, c.opts);
  const Conv2dGrads<double> grad_bound =
      convtape::reference::conv2d_backward(abs_of(xd), abs_of(wd), abs_of(dyd), c.opts);

  const Index taps = c.kh * c.kw;
  const Index outs = s.geometry.out_rows * s.geometry.out_cols;
  // With reflect/replicate/circular padding one input sample can be read by every tap of every
  // output; the bound's sum of |terms| grows with them, the count is bounded by this.
  const Index input_terms = s.out_per_group * taps * outs;
  const auto check_grads = [&](const Conv2dGrads<S>& g, const std::string& where) {
    const std::string gi = "grad input (" + where + ")";
    const std::string gw = "grad weight (" + where + ")";
    const std::string gb = "grad bias (" + where + ")";
    if (g.input.shape() != x.shape() || g.weight.shape() != weight.shape() ||
        g.bias.size() != c.c_out) {
      v.fail(("gradient shapes (" + where + ")").c_str(), 0, 0, 0, 0);
      return;
    }
    v.close(gi.c_str(), g.input.data(), want_grads.input.data(), grad_bound.input.data(), x.size(),
            input_terms);
    v.close(gw.c_str(), g.weight.data(), want_grads.weight.data(), grad_bound.weight.data(),
            weight.size(), c.n * outs);
    v.close(gb.c_str(), g.bias.data(), want_grads.bias.data(), grad_bound.bias.data(), c.c_out,
            c.n * outs);
  };
  const auto check_output = [&](const Tensor<S>& y, const std::string& where) {
    if (y.shape() != want.shape()) {
      v.fail(("output shape (" + where + ")").c_str(), 0, 0, 0, 0);
      return;
    }
    v.close(("output (" + where + ")").c_str(), y.data(), want.data(), want_bound.data(), y.size(),
            s.in_per_group * taps + 1);
  };

  // The public functions (automatic path), then every path forced.
  check_output(convtape::conv2d(x, weight, bias, c.opts), "conv2d");
  const Conv2dGrads<S> grads = convtape::conv2d_backward(x, weight, dy, c.opts);
  check_grads(grads, "conv2d_backward");
  // Each forced path's work is also cut for a random thread count (1 to 16): the items of every
  // split (bands, blocks of channels and images, partial sums) meet the reference too.
  const int threads = static_cast<int>(rng.index(1, 16));
  for (const Conv2dPath path : kAllPaths) {
    const std::string name = std::string("path ") + support::path_name(path) + ", work cut for " +
                             std::to_string(threads) + " threads";
    const support::ForcePath force(path, threads);
    check_output(convtape::conv2d(x, weight, bias, c.opts), name);
    check_grads(convtape::conv2d_backward(x, weight, dy, c.opts), name);
  }

  if constexpr (std::is_same_v<S, double>) {
    // conv2d_backward against central finite differences of the reference forward along one
    // random direction per argument: the weighted output L = sum(dy * y) is linear in each
    // argument, so (L(a + e d) - L(a - e d)) / 2e equals <dL/da, d> up to rounding only.
    const double e = 1e-3;
    const auto directional = [&](const char* what, const double* grad, Index size, auto shifted) {
      const VectorX<double> d = rng.vector<double>(size);
      const double fd = (shifted(d, e) - shifted(d, -e)) / (2 * e);
      const double tape = Eigen::Map<const VectorX<double>>(grad, size).dot(d);
      // L is about sum |dy| * |y| <= 1e3 here; its rounding, divided by 2e, stays below 1e-9.
      const double tol = 1e-9 * (1.0 + std::abs(fd));
      if (!(std::abs(tape - fd) <= tol)) v.fail(what, 0, tape, fd, tol);
    };
    directional("finite difference, input", grads.input.data(), x.size(),
                [&](const VectorX<double>& d, double step) {
                  Tensor<double> xs = xd;
                  xs.flat() += step * d;
                  return weighted_output(xs, wd, bd, dyd, c.opts);
                });
    directional("finite difference, weight", grads.weight.data(), weight.size(),
                [&](const VectorX<double>& d, double step) {
                  Tensor<double> ws = wd;
                  ws.flat() += step * d;
                  return weighted_output(xd, ws, bd, dyd, c.opts);
                });
    if (c.bias) {
      directional("finite difference, bias", grads.bias.data(), c.c_out,
                  [&](const VectorX<double>& d, double step) {
                    return weighted_output(xd, wd, VectorX<double>(bd + step * d), dyd, c.opts);
                  });
    }

    if (with_gradcheck) {
      // The tape's conv2d (forward, rule, accumulation) element by element.
      std::vector<Tensor<double>> inputs{xd, wd};
      if (c.bias) {
        Tensor<double> b(1, c.c_out, 1, 1);
        b.flat() = bd;
        inputs.push_back(b);
      }
      const bool with_bias = c.bias;
      const Conv2dOptions opts = c.opts;
      const convtape::GradcheckResult<double> r = convtape::gradcheck(
          [with_bias, opts](const std::vector<Var<double>>& in) {
            return with_bias ? convtape::conv2d(in[0], in[1], in[2], opts)
                             : convtape::conv2d(in[0], in[1], opts);
          },
          inputs);
      if (!r.passed) v.fail(("gradcheck: " + r.description).c_str(), 0, 0, 0, 0);
    }
  }
  return v;
}

/// Checks corr2d and its adjoints on one plane configuration, with x, k and dy stored as M
/// (row- or column-major) in scalar S.
template <class S, class M>
Verdict check_corr2d(const Config& c, support::Rng& rng) {
  Verdict v;
  const M x = rng.matrix<S>(c.h, c.w);
  const M k = rng.matrix<S>(c.kh, c.kw);
  const convtape::Conv2dGeometry g = convtape::conv2d_geometry(c.h, c.w, c.kh, c.kw, c.opts);
  const M dy = rng.matrix<S>(g.out_rows, g.out_cols);

  const MatrixX<double> xd = x.template cast<double>();
  const MatrixX<double> kd = k.template cast<double>();
  const MatrixX<double> dyd = dy.template cast<double>();
  const MatrixX<double> want = convtape::reference::corr2d(xd, kd, c.opts);
  const MatrixX<double> want_bound =
      convtape::reference::corr2d(xd.cwiseAbs(), kd.cwiseAbs(), c.opts);
  const MatrixX<double> want_dx = convtape::reference::corr2d_grad_input(dyd, kd, c.h, c.w, c.opts);
  const MatrixX<double> bound_dx =
      convtape::reference::corr2d_grad_input(dyd.cwiseAbs(), kd.cwiseAbs(), c.h, c.w, c.opts);
  const MatrixX<double> want_dk =
      convtape::reference::corr2d_grad_kernel(xd, dyd, c.kh, c.kw, c.opts);
  const MatrixX<double> bound_dk =
      convtape::reference::corr2d_grad_kernel(xd.cwiseAbs(), dyd.cwiseAbs(), c.kh, c.kw, c.opts);

  const MatrixX<S> y = convtape::corr2d(x, k, c.opts);
  const MatrixX<S> dx = convtape::corr2d_grad_input(dy, k, c.h, c.w, c.opts);
  const MatrixX<S> dk = convtape::corr2d_grad_kernel(x, dy, c.kh, c.kw, c.opts);
  const Index outs = g.out_rows * g.out_cols;
  if (y.rows() != want.rows() || y.cols() != want.cols()) {
    v.fail("corr2d shape", 0, double(y.rows()), double(want.rows()), 0);
    return v;
  }
  if (dx.rows() != c.h || dx.cols() != c.w || dk.rows() != c.kh || dk.cols() != c.kw) {
    v.fail("gradient shape", 0, 0, 0, 0);
    return v;
  }
  v.close("corr2d", y.data(), want.data(), want_bound.data(), y.size(), c.kh * c.kw);
  v.close("corr2d_grad_input", dx.data(), want_dx.data(), bound_dx.data(), dx.size(),
          c.kh * c.kw * outs);
  v.close("corr2d_grad_kernel", dk.data(), want_dk.data(), bound_dk.data(), dk.size(), outs);
  return v;
}

/// Reports a failed configuration with everything needed to reproduce it.
void report(const Verdict& v, std::uint64_t seed, std::uint64_t index, const std::string& text,
            const char* variant) {
  INFO("seed " << seed << " (CONVTAPE_SWEEP_SEED), configuration " << index << " [" << text << "], "
               << variant);
  FAIL_CHECK(v.first_failure);
}

void report(const Verdict& v, std::uint64_t seed, std::uint64_t index, const Config& c,
            const char* variant) {
  report(v, seed, index, c.text, variant);
}

/// A tensor of `shape` whose elements are distinct, 1/64 apart, in random order: max pooling
/// has a kink where two samples of a window are equal, which finite differences must not cross.
Tensor<double> distinct_tensor(Index n, Index c, Index h, Index w, support::Rng& rng) {
  Tensor<double> t(n, c, h, w);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = double(i) / 64.0 - 1.0;
  for (Index i = t.size() - 1; i > 0; --i) std::swap(t.data()[i], t.data()[rng.index(0, i)]);
  return t;
}

/// Checks max, average and adaptive pooling (to `adaptive`) of one configuration in scalar S.
template <class S>
Verdict check_pool(const support::PoolCase& p, Size2 adaptive, support::Rng& rng,
                   bool with_gradcheck) {
  Verdict v;
  const Tensor<S> x = rng.tensor<S>(p.x[0], p.x[1], p.x[2], p.x[3]);
  const Tensor<double> xd = x.template cast<double>();
  const Tensor<double> max_want = convtape::reference::max_pool2d(xd, p.kernel, p.opts);
  const Tensor<double> avg_want = convtape::reference::avg_pool2d(xd, p.kernel, p.opts);
  const Tensor<double> avg_bound = convtape::reference::avg_pool2d(abs_of(xd), p.kernel, p.opts);
  const Tensor<double> adaptive_want = convtape::reference::adaptive_avg_pool2d(xd, adaptive);
  const Tensor<double> adaptive_bound =
      convtape::reference::adaptive_avg_pool2d(abs_of(xd), adaptive);
  const Tensor<S> dy = rng.tensor<S>(p.x[0], p.x[1], max_want.dim(2), max_want.dim(3));
  const Tensor<double> dyd = dy.template cast<double>();
  const Tensor<double> max_dx = convtape::reference::max_pool2d_backward(xd, dyd, p.kernel, p.opts);
  const Tensor<double> max_dx_bound =
      convtape::reference::max_pool2d_backward(xd, abs_of(dyd), p.kernel, p.opts);
  const Tensor<double> max_bound = abs_of(max_want);
  const Tensor<double> avg_dx =
      convtape::reference::avg_pool2d_backward(xd.shape(), dyd, p.kernel, p.opts);
  const Tensor<double> avg_dx_bound =
      convtape::reference::avg_pool2d_backward(xd.shape(), abs_of(dyd), p.kernel, p.opts);
  const Index taps = p.kernel.rows * p.kernel.cols;
  const auto same_shape = [&](const char* what, const Tensor<S>& got, const Tensor<double>& want) {
    if (got.shape() != want.shape()) v.fail(what, 0, 0, 0, 0);
    return got.shape() == want.shape();
  };

  const Tensor<S> ym = convtape::max_pool2d(x, p.kernel, p.opts);
  if (same_shape("max_pool2d shape", ym, max_want)) {
    v.close("max_pool2d", ym.data(), max_want.data(), max_bound.data(), ym.size(), 0);
  }
  const Tensor<S> ya = convtape::avg_pool2d(x, p.kernel, p.opts);
  if (same_shape("avg_pool2d shape", ya, avg_want)) {
    v.close("avg_pool2d", ya.data(), avg_want.data(), avg_bound.data(), ya.size(), taps);
  }
  const Tensor<S> yad = convtape::adaptive_avg_pool2d(x, adaptive);
  if (same_shape("adaptive_avg_pool2d shape", yad, adaptive_want)) {
    v.close("adaptive_avg_pool2d", yad.data(), adaptive_want.data(), adaptive_bound.data(),
            yad.size(), p.x[2] * p.x[3]);
  }
  const convtape::MaxPool2dResult<S> r = convtape::max_pool2d_with_indices(x, p.kernel, p.opts);
  const Tensor<S> dxm = convtape::max_pool2d_backward(dy, r.indices, x.shape());
  v.close("max_pool2d_backward", dxm.data(), max_dx.data(), max_dx_bound.data(), dxm.size(), taps);
  const Tensor<S> dxa = convtape::avg_pool2d_backward(dy, x.shape(), p.kernel, p.opts);
  v.close("avg_pool2d_backward", dxa.data(), avg_dx.data(), avg_dx_bound.data(), dxa.size(), taps);

  // The tape: one backward pass through max and average pooling sums both reference gradients.
  convtape::Tape<S> tape;
  const Var<S> xv = tape.variable(x);
  convtape::backward(convtape::sum(convtape::max_pool2d(xv, p.kernel, p.opts) * tape.constant(dy) +
                                   convtape::avg_pool2d(xv, p.kernel, p.opts) * tape.constant(dy)));
  Tensor<double> both = max_dx;
  both.flat() += avg_dx.flat();
  Tensor<double> both_bound = max_dx_bound;
  both_bound.flat() += avg_dx_bound.flat();
  v.close("tape pooling gradient", xv.grad().data(), both.data(), both_bound.data(), x.size(),
          2 * taps);

  if constexpr (std::is_same_v<S, double>) {
    if (with_gradcheck) {
      const Tensor<double> xs = distinct_tensor(p.x[0], p.x[1], p.x[2], p.x[3], rng);
      const support::PoolCase q = p;
      const convtape::GradcheckResult<double> g = convtape::gradcheck(
          [q](const std::vector<Var<double>>& in) {
            return convtape::max_pool2d(in[0], q.kernel, q.opts) * 2.0 +
                   convtape::avg_pool2d(in[0], q.kernel, q.opts);
          },
          {xs});
      if (!g.passed) v.fail(("gradcheck: " + g.description).c_str(), 0, 0, 0, 0);
    }
  }
  return v;
}

/// Checks conv_transpose2d of one configuration in scalar S, forward and backward, on tensors
/// and (double) on the tape.
template <class S>
Verdict check_transposed(const support::TransposedCase& t, support::Rng& rng, bool with_gradcheck) {
  Verdict v;
  const Index groups = t.opts.groups();
  const Index c_in = t.x[1], c_out = t.out_channels(), kh = t.weight[2], kw = t.weight[3];
  const Index n = t.x[0], h = t.x[2], w = t.x[3];
  const Tensor<S> x = rng.tensor<S>(n, c_in, h, w);
  const Tensor<S> weight = rng.tensor<S>(c_in, c_out / groups, kh, kw);
  const VectorX<S> bias = t.bias ? rng.vector<S>(c_out) : VectorX<S>();
  const Tensor<double> xd = x.template cast<double>();
  const Tensor<double> wd = weight.template cast<double>();
  const VectorX<double> bd = bias.template cast<double>();
  const Tensor<double> want = convtape::reference::conv_transpose2d(xd, wd, bd, t.opts);
  const Tensor<double> want_bound = convtape::reference::conv_transpose2d(
      abs_of(xd), abs_of(wd), VectorX<double>(bd.cwiseAbs()), t.opts);
  const Tensor<S> dy = rng.tensor<S>(want.dim(0), want.dim(1), want.dim(2), want.dim(3));
  const Tensor<double> dyd = dy.template cast<double>();
  const Conv2dGrads<double> grads_want =
      convtape::reference::conv_transpose2d_backward(xd, wd, dyd, t.opts);
  const Conv2dGrads<double> grads_bound =
      convtape::reference::conv_transpose2d_backward(abs_of(xd), abs_of(wd), abs_of(dyd), t.opts);
  const Index taps = kh * kw;

  const Tensor<S> y = convtape::conv_transpose2d(x, weight, bias, t.opts);
  if (y.shape() != want.shape()) {
    v.fail("conv_transpose2d shape", 0, 0, 0, 0);
    return v;
  }
  v.close("conv_transpose2d", y.data(), want.data(), want_bound.data(), y.size(),
          c_in / groups * taps + 1);
  const Conv2dGrads<S> g = convtape::conv_transpose2d_backward(x, weight, dy, t.opts);
  const Index outs = want.dim(2) * want.dim(3);
  v.close("conv_transpose2d_backward input", g.input.data(), grads_want.input.data(),
          grads_bound.input.data(), x.size(), c_out / groups * taps);
  v.close("conv_transpose2d_backward weight", g.weight.data(), grads_want.weight.data(),
          grads_bound.weight.data(), weight.size(), n * h * w);
  v.close("conv_transpose2d_backward bias", g.bias.data(), grads_want.bias.data(),
          grads_bound.bias.data(), c_out, n * outs);

  if constexpr (std::is_same_v<S, double>) {
    convtape::Tape<double> tape;
    const Var<double> xv = tape.variable(x);
    const Var<double> wv = tape.variable(weight);
    convtape::backward(convtape::conv_transpose2d(xv, wv, t.opts), dy);
    v.close("tape input grad", xv.grad().data(), grads_want.input.data(), grads_bound.input.data(),
            x.size(), c_out / groups * taps);
    v.close("tape weight grad", wv.grad().data(), grads_want.weight.data(),
            grads_bound.weight.data(), weight.size(), n * h * w);
    if (with_gradcheck) {
      Tensor<double> b(1, c_out, 1, 1);
      b.flat() = rng.vector<double>(c_out);
      const ConvTranspose2dOptions opts = t.opts;
      const convtape::GradcheckResult<double> r = convtape::gradcheck(
          [opts](const std::vector<Var<double>>& in) {
            return convtape::conv_transpose2d(in[0], in[1], in[2], opts);
          },
          {xd, wd, b});
      if (!r.passed) v.fail(("gradcheck: " + r.description).c_str(), 0, 0, 0, 0);
    }
  }
  return v;
}

TEST_CASE(
    "conv2d and conv2d_backward agree with the reference loops on thousands of random "
    "configurations",
    "[sweep][conv2d]") {
  const std::uint64_t seed = env_or("CONVTAPE_SWEEP_SEED", kDefaultSeed);
  const std::uint64_t count = env_or("CONVTAPE_SWEEP_COUNT", kDefaultCount);
  CAPTURE(seed, count);
  support::Rng rng(seed);
  std::uint64_t passed = 0, gradchecked = 0;
  int failures = 0;
  for (std::uint64_t i = 0; i < count && failures < kMaxReported; ++i) {
    const Config c = draw_config(rng, true);
    // gradcheck evaluates the tape twice per input element: on a sixteenth of the configurations.
    const bool with_gradcheck = i % 16 == 0;
    const Verdict f = check_conv2d<float>(c, rng, false);
    const Verdict d = check_conv2d<double>(c, rng, with_gradcheck);
    if (!f.ok) report(f, seed, i, c, "float");
    if (!d.ok) report(d, seed, i, c, "double");
    if (f.ok && d.ok) {
      ++passed;
      gradchecked += with_gradcheck ? 1 : 0;
    } else {
      ++failures;
    }
  }
  CHECK(passed == count);
  std::cout << "sweep: " << passed << " of " << count
            << " conv2d configurations passed (float and double; forward and backward on the "
               "automatic and all "
            << std::size(kAllPaths)
            << " forced paths vs reference, backward vs finite differences; " << gradchecked
            << " also through the tape with gradcheck), seed " << seed << "\n";
}

TEST_CASE("corr2d and its adjoints agree with the reference loops on thousands of random planes",
          "[sweep][corr2d]") {
  const std::uint64_t seed = env_or("CONVTAPE_SWEEP_SEED", kDefaultSeed);
  const std::uint64_t count = env_or("CONVTAPE_SWEEP_COUNT", kDefaultCount);
  CAPTURE(seed, count);
  support::Rng rng(seed + 1);  // a different stream from the conv2d sweep
  std::uint64_t passed = 0;
  int failures = 0;
  for (std::uint64_t i = 0; i < count && failures < kMaxReported; ++i) {
    const Config c = draw_config(rng, false);
    const Verdict results[] = {
        check_corr2d<float, MatrixX<float>>(c, rng),
        check_corr2d<float, RowMatrixX<float>>(c, rng),
        check_corr2d<double, MatrixX<double>>(c, rng),
        check_corr2d<double, RowMatrixX<double>>(c, rng),
    };
    const char* variants[] = {"float, column-major", "float, row-major", "double, column-major",
                              "double, row-major"};
    bool all = true;
    for (int r = 0; r < 4; ++r) {
      if (!results[r].ok) {
        report(results[r], seed, i, c, variants[r]);
        all = false;
      }
    }
    passed += all ? 1 : 0;
    failures += all ? 0 : 1;
  }
  CHECK(passed == count);
  std::cout << "sweep: " << passed << " of " << count
            << " corr2d configurations passed (corr2d, corr2d_grad_input, corr2d_grad_kernel; "
               "float and double, row- and column-major), seed "
            << seed << "\n";
}

/// One random elementwise-and-linear configuration: two shapes that broadcast (each dimension of
/// either operand 1 or the full extent), and a linear layer on the broadcast result.
struct NetConfig {
  convtape::Shape4 a, b, out;
  Index linear_out = 1;
  std::string text;
};

NetConfig draw_net_config(support::Rng& rng) {
  NetConfig c;
  for (std::size_t d = 0; d < 4; ++d) {
    c.out[d] = rng.index(1, 4);
    c.a[d] = rng.coin() ? c.out[d] : 1;
    c.b[d] = rng.coin() ? c.out[d] : 1;
    if (c.a[d] == 1 && c.b[d] == 1) c.out[d] = 1;
  }
  c.linear_out = rng.index(1, 5);
  std::ostringstream os;
  os << "a " << c.a << ", b " << c.b << ", linear to " << c.linear_out;
  c.text = os.str();
  return c;
}

/// Element (n, c, h, w) of `t` broadcast: a dimension of extent 1 reads index 0.
template <class S>
double broadcast_at(const Tensor<S>& t, Index n, Index c, Index h, Index w) {
  const convtape::Shape4& s = t.shape();
  return double(t(s[0] == 1 ? 0 : n, s[1] == 1 ? 0 : c, s[2] == 1 ? 0 : h, s[3] == 1 ? 0 : w));
}

/// `a op b` for the four operators, the activations of the sum, and `linear` of the product, in S,
/// against loops in double over the double data; in double, the tape's gradients of a
/// broadcasting expression against finite differences (gradcheck) when `with_gradcheck`.
template <class S>
Verdict check_net_ops(const NetConfig& c, const Tensor<double>& a, const Tensor<double>& b,
                      const Tensor<double>& weight, const Tensor<double>& bias,
                      bool with_gradcheck) {
  Verdict v;
  const Tensor<S> as = a.cast<S>();
  const Tensor<S> bs = b.cast<S>();
  const Tensor<S> ops[] = {as + bs, as - bs, as * bs, as / bs};
  const char* names[] = {"a + b", "a - b", "a * b", "a / b"};
  const Index size = ops[0].size();
  std::vector<double> want[4];
  std::vector<double> bound;
  for (Index n = 0; n < c.out[0]; ++n) {
    for (Index ch = 0; ch < c.out[1]; ++ch) {
      for (Index h = 0; h < c.out[2]; ++h) {
        for (Index w = 0; w < c.out[3]; ++w) {
          // The operands as S rounds them, so only the operation's own rounding is compared.
          const double x = broadcast_at(as, n, ch, h, w);
          const double y = broadcast_at(bs, n, ch, h, w);
          want[0].push_back(x + y);
          want[1].push_back(x - y);
          want[2].push_back(x * y);
          want[3].push_back(x / y);
          bound.push_back(std::abs(x) + std::abs(y) + std::abs(x * y) + std::abs(x / y));
        }
      }
    }
  }
  for (int k = 0; k < 4; ++k) {
    if (ops[k].shape() != c.out) {
      v.fail(names[k], -1, double(ops[k].size()), double(size), 0.0);
      return v;
    }
    v.close(names[k], ops[k].data(), want[k].data(), bound.data(), size, 1);
  }
  // Activations of the sum, against <cmath> in double on the S-rounded inputs.
  const Tensor<S> sum = ops[0];
  const Tensor<S> acts[] = {convtape::sigmoid(sum), convtape::tanh(sum), convtape::exp(sum),
                            convtape::relu(sum)};
  const char* act_names[] = {"sigmoid", "tanh", "exp", "relu"};
  for (int k = 0; k < 4; ++k) {
    std::vector<double> want_act(static_cast<std::size_t>(size));
    std::vector<double> mag(static_cast<std::size_t>(size));
    for (Index i = 0; i < size; ++i) {
      const double x = double(sum.data()[i]);
      const double f[] = {1 / (1 + std::exp(-x)), std::tanh(x), std::exp(x), x > 0 ? x : 0.0};
      want_act[static_cast<std::size_t>(i)] = f[k];
      mag[static_cast<std::size_t>(i)] = std::abs(f[k]);
    }
    v.close(act_names[k], acts[k].data(), want_act.data(), mag.data(), size, 4);
  }
  // linear(a * b, weight, bias) against reference::linear in double on the S-rounded inputs.
  const Tensor<S> y = convtape::linear(ops[2], weight.cast<S>(), bias.cast<S>());
  const Tensor<double> x_rounded = ops[2].template cast<double>();
  const Tensor<double> w_rounded = weight.cast<S>().template cast<double>();
  const Tensor<double> b_rounded = bias.cast<S>().template cast<double>();
  const Tensor<double> want_y = convtape::reference::linear(x_rounded, w_rounded, b_rounded);
  Tensor<double> abs_x(x_rounded.shape());
  abs_x.flat() = x_rounded.flat().cwiseAbs();
  Tensor<double> abs_w(w_rounded.shape());
  abs_w.flat() = w_rounded.flat().cwiseAbs();
  Tensor<double> abs_b(b_rounded.shape());
  abs_b.flat() = b_rounded.flat().cwiseAbs();
  const Tensor<double> bound_y = convtape::reference::linear(abs_x, abs_w, abs_b);
  if (y.shape() != want_y.shape()) {
    v.fail("linear shape", -1, 0.0, 0.0, 0.0);
    return v;
  }
  v.close("linear", y.data(), want_y.data(), bound_y.data(), y.size(), weight.dim(1) + 1);
  if (with_gradcheck) {
    const auto check = convtape::gradcheck<double>(
        [](const std::vector<Var<double>>& vs) {
          const Var<double> h = convtape::sigmoid(vs[0] * vs[1]) + vs[0] / vs[1] - vs[1];
          return convtape::linear(h, vs[2], vs[3]);
        },
        {a, b, weight, bias});
    if (!check.passed) v.fail("gradcheck", -1, double(check.max_error), 0.0, 0.0);
  }
  return v;
}

/// Runs `count` configurations drawn by `draw(rng)` (a pair: a case with a `text`, and anything
/// else the check needs) through `check(config, rng, with_gradcheck, S())` for S float and double
/// (a sixteenth of the double runs with gradcheck), reporting failures with the case's text;
/// returns the number that passed and, in `gradchecked`, how many of them ran gradcheck.
template <class Draw, class Check>
std::uint64_t run_sweep(std::uint64_t seed, std::uint64_t stream, std::uint64_t count, Draw draw,
                        Check check, std::uint64_t& gradchecked) {
  support::Rng rng(seed + stream);  // each sweep draws from a stream of its own
  std::uint64_t passed = 0;
  int failures = 0;
  gradchecked = 0;
  for (std::uint64_t i = 0; i < count && failures < kMaxReported; ++i) {
    const auto config = draw(rng);
    const bool with_gradcheck = i % 16 == 0;
    const Verdict f = check(config, rng, false, float());
    const Verdict d = check(config, rng, with_gradcheck, double());
    if (!f.ok) report(f, seed, i, config.first.text, "float");
    if (!d.ok) report(d, seed, i, config.first.text, "double");
    if (f.ok && d.ok) {
      ++passed;
      gradchecked += with_gradcheck ? 1 : 0;
    } else {
      ++failures;
    }
  }
  return passed;
}

TEST_CASE("pooling agrees with the reference loops on thousands of random configurations",
          "[sweep][pool2d]") {
  const std::uint64_t seed = env_or("CONVTAPE_SWEEP_SEED", kDefaultSeed);
  const std::uint64_t count = env_or("CONVTAPE_SWEEP_COUNT", kDefaultCount);
  CAPTURE(seed, count);
  std::uint64_t gradchecked = 0;
  const std::uint64_t passed = run_sweep(
      seed, 2, count,
      [](support::Rng& rng) {
        support::PoolCase p = support::random_pool_case(rng);
        const Size2 adaptive(rng.index(1, 6), rng.index(1, 6));
        std::ostringstream os;
        os << ", adaptive to " << adaptive;
        p.text += os.str();
        return std::make_pair(p, adaptive);
      },
      [](const auto& config, support::Rng& rng, bool with_gradcheck, auto scalar) {
        using S = decltype(scalar);
        return check_pool<S>(config.first, config.second, rng, with_gradcheck);
      },
      gradchecked);
  CHECK(passed == count);
  std::cout << "sweep: " << passed << " of " << count
            << " pooling configurations passed (max, avg and adaptive pooling, forward and "
               "backward, float and double, on tensors and on the tape; "
            << gradchecked << " also with gradcheck), seed " << seed << "\n";
}

TEST_CASE("conv_transpose2d agrees with the reference loops on thousands of random configurations",
          "[sweep][conv_transpose2d]") {
  const std::uint64_t seed = env_or("CONVTAPE_SWEEP_SEED", kDefaultSeed);
  const std::uint64_t count = env_or("CONVTAPE_SWEEP_COUNT", kDefaultCount);
  CAPTURE(seed, count);
  std::uint64_t gradchecked = 0;
  const std::uint64_t passed = run_sweep(
      seed, 3, count,
      [](support::Rng& rng) { return std::make_pair(support::random_transposed_case(rng, 6), 0); },
      [](const auto& config, support::Rng& rng, bool with_gradcheck, auto scalar) {
        using S = decltype(scalar);
        return check_transposed<S>(config.first, rng, with_gradcheck);
      },
      gradchecked);
  CHECK(passed == count);
  std::cout << "sweep: " << passed << " of " << count
            << " conv_transpose2d configurations passed (forward and backward, float and double, "
               "on tensors and on the tape; "
            << gradchecked << " also with gradcheck), seed " << seed << "\n";
}

/// The operands of one `NetConfig`: a and b (b in [1, 3), away from zero for the quotient), and
/// a linear layer's weight and bias for the broadcast result.
struct NetOperands {
  Tensor<double> a, b, weight, bias;
};

TEST_CASE(
    "broadcasting arithmetic, activations and linear agree with the textbook loops on thousands "
    "of random shapes",
    "[sweep][broadcast][linear]") {
  const std::uint64_t seed = env_or("CONVTAPE_SWEEP_SEED", kDefaultSeed);
  const std::uint64_t count = env_or("CONVTAPE_SWEEP_COUNT", kDefaultCount);
  CAPTURE(seed, count);
  std::uint64_t gradchecked = 0;
  const std::uint64_t passed = run_sweep(
      seed, 4, count,
      [](support::Rng& rng) {
        const NetConfig c = draw_net_config(rng);
        NetOperands o;
        o.a = rng.tensor<double>(c.a[0], c.a[1], c.a[2], c.a[3]);
        o.b = rng.tensor<double>(c.b[0], c.b[1], c.b[2], c.b[3]);
        o.b.flat().array() += 2.0;
        const Index features = c.out[1] * c.out[2] * c.out[3];
        o.weight = rng.tensor<double>(c.linear_out, features, 1, 1);
        o.bias = rng.tensor<double>(1, c.linear_out, 1, 1);
        return std::make_pair(c, o);
      },
      [](const auto& config, support::Rng&, bool with_gradcheck, auto scalar) {
        using S = decltype(scalar);
        const NetOperands& o = config.second;
        return check_net_ops<S>(config.first, o.a, o.b, o.weight, o.bias, with_gradcheck);
      },
      gradchecked);
  CHECK(passed == count);
  std::cout << "sweep: " << passed << " of " << count
            << " broadcasting configurations passed (+ - * / with every dimension of either "
               "operand stretched, sigmoid, tanh, exp, relu, linear; float and double vs loops in "
               "double; "
            << gradchecked << " also through the tape with gradcheck), seed " << seed << "\n";
}

}  // namespace
