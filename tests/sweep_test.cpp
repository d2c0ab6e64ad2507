// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// Randomized differential sweeps: thousands of tiny random configurations (batch, channels,
// groups incl. depthwise, plane and kernel sizes, stride, dilation, every padding kind and mode,
// bias or none), in float and double, each checked against the reference loops evaluated in
// double: conv2d forward and backward on the automatic path and on every forced path (its work
// cut for a random thread count), the backward pass also against central finite differences of
// the reference forward (double), a subset through the tape with `gradcheck`; and the plane
// functions corr2d, corr2d_grad_input and corr2d_grad_kernel on row- and column-major matrices.
//
// Reproduce a failure with the seed and configuration index it prints:
//   CONVTAPE_SWEEP_SEED=<seed> CONVTAPE_SWEEP_COUNT=<count> convtape_tests "[sweep]"
// (the defaults are kDefaultSeed and kDefaultCount).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "convtape/autograd/ops.hpp"
#include "convtape/conv2d.hpp"
#include "convtape/corr2d.hpp"
#include "convtape/gradcheck.hpp"
#include "convtape/reference.hpp"
#include "support/catch.hpp"
#include "support/internals.hpp"
#include "support/random.hpp"

namespace {

using convtape::Conv2dGrads;
using convtape::Conv2dOptions;
using convtape::Index;
using convtape::MatrixX;
using convtape::PaddingMode;
using convtape::RowMatrixX;
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
void report(const Verdict& v, std::uint64_t seed, std::uint64_t index, const Config& c,
            const char* variant) {
  INFO("seed " << seed << " (CONVTAPE_SWEEP_SEED), configuration " << index << " [" << c.text
               << "], " << variant);
  FAIL_CHECK(v.first_failure);
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
               "automatic and all 5 forced paths vs reference, backward vs finite differences; "
            << gradchecked << " also through the tape with gradcheck), seed " << seed << "\n";
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

}  // namespace
