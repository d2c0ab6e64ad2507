// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// `gradcheck`: compares the gradients a tape computes for any function of vars with central
/// finite differences, so you can check your own compositions and `Op`s in your own tests
/// (Catch2, GoogleTest, plain asserts): it returns a result and never asserts itself.
///
///     const auto check = convtape::gradcheck<double>(
///         [](const std::vector<convtape::Var<double>>& v) { return convtape::conv2d(v[0], v[1]);
///         }, {x, w});
///     INFO(check.description);
///     CHECK(check.passed);

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "convtape/autograd/tape.hpp"
#include "convtape/core.hpp"
#include "convtape/detail/random.hpp"
#include "convtape/detail/type_traits.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// The outcome of a `gradcheck`.
template <class S>
struct GradcheckResult {
  /// Whether every checked element was within tolerance.
  bool passed = true;
  /// Largest |tape - fd| / (1 + |fd|) over all checked elements: what is compared with `tol`.
  S max_error = 0;
  /// Largest |tape - fd|.
  S max_abs_error = 0;
  ///@{
  /// Input elements checked, and how many were out of tolerance.
  Index elements = 0;
  Index failures = 0;
  ///@}
  /// A one-line summary; on failure followed by the worst elements, one per line, each with its
  /// input, (n, c, h, w) position, tape gradient and finite difference.
  std::string description;

  /// `passed`, so that `CHECK(gradcheck(...))` reads naturally.
  explicit operator bool() const { return passed; }
  /// Prints `description`.
  friend std::ostream& operator<<(std::ostream& os, const GradcheckResult& r) {
    return os << r.description;
  }
};

namespace detail {

/// Step of the central differences: cbrt(machine epsilon), which balances truncation against
/// rounding (about 6e-6 for double, 5e-3 for float).
template <class S>
S gradcheck_default_eps() {
  return std::cbrt(std::numeric_limits<S>::epsilon());
}

/// Tolerance: 1e-5 for double (PyTorch's gradcheck atol), looser for types whose finite
/// differences are only good to about eps^2 (0.024 for float).
template <class S>
S gradcheck_default_tol() {
  const S eps = gradcheck_default_eps<S>();
  return std::max(S(1e-5), S(1000) * eps * eps);
}

inline std::string position_str(const Shape4& shape, Index flat) {
  std::ostringstream os;
  const Index w = flat % shape[3];
  const Index h = flat / shape[3] % shape[2];
  const Index c = flat / (shape[3] * shape[2]) % shape[1];
  const Index n = flat / (shape[3] * shape[2] * shape[1]);
  os << '(' << n << ", " << c << ", " << h << ", " << w << ')';
  return os.str();
}

}  // namespace detail

/// Checks the tape's gradients of `f` at `inputs` against central finite differences.
///
/// `f` takes `const std::vector<Var<S>>&` (the inputs as variables, in order, all on one tape)
/// and returns a `Var<S>` computed from them on that tape. A non-scalar result is reduced to
/// sum(result * W) with fixed pseudo-random weights W in [-1, 1), so every output element is
/// checked with its own weight. For each input element the finite difference is
/// (F(x + eps) - F(x - eps)) / (2 eps), and the element passes when
/// |tape - fd| <= tol * (1 + |fd|). `f` is evaluated twice per input element, each time on a
/// fresh tape; keep inputs small. Use `double`; `float` needs the looser defaults it gets.
/// Inputs are used as given: keep them away from kinks (e.g. relu at 0).
///
/// @throws shape_error if `inputs` is empty, eps is not positive or tol is negative, `f` returns
///   a var of another tape or of a different shape for perturbed inputs; and whatever `f` throws.
template <class S, class F>
GradcheckResult<S> gradcheck(F&& f, const std::vector<Tensor<S>>& inputs,
                             detail::non_deduced<S> eps = detail::gradcheck_default_eps<S>(),
                             detail::non_deduced<S> tol = detail::gradcheck_default_tol<S>()) {
  static_assert(std::is_invocable_r_v<Var<S>, F&, const std::vector<Var<S>>&>,
                "convtape: gradcheck's function must take a const std::vector<Var<S>>& and "
                "return a Var<S> of the same scalar type.");
  constexpr const char* fn = "gradcheck";
  if (inputs.empty()) detail::fail(fn, "needs at least one input");
  if (!(eps > S(0)) || !(tol >= S(0))) {
    std::ostringstream os;
    os << "needs eps > 0 and tol >= 0, got eps = " << eps << ", tol = " << tol;
    detail::fail(fn, os.str());
  }

  // The tape's gradients of sum(f(x) * weights).
  Tape<S> tape;
  std::vector<Var<S>> vars;
  for (const Tensor<S>& x : inputs) vars.push_back(tape.variable(x));
  const Var<S> out = f(vars);
  if (out.tape() != tape) {
    detail::fail(fn, "f returned a var recorded on another tape than its inputs");
  }
  const Shape4 out_shape = out.shape();
  Tensor<S> weights(out_shape);
  if (weights.size() == 1) {
    weights.setConstant(S(1));
  } else {
    std::mt19937_64 rng(0x9e3779b97f4a7c15ULL);
    for (Index i = 0; i < weights.size(); ++i) {
      weights.data()[i] = static_cast<S>(2 * detail::uniform01(rng) - 1);
    }
  }
  std::vector<Tensor<S>> analytic;
  if (out.requires_grad()) {
    backward(out, weights);
    for (const Var<S>& v : vars) analytic.push_back(v.grad());
  } else {
    for (const Tensor<S>& x : inputs) analytic.emplace_back(x.shape());
  }

  auto weighted_output = [&](const std::vector<Tensor<S>>& xs) {
    Tape<S> t;
    std::vector<Var<S>> vs;
    for (const Tensor<S>& x : xs) vs.push_back(t.variable(x));
    const Var<S> o = f(vs);
    if (o.shape() != out_shape) {
      detail::fail(fn, "f returned shape " + detail::shape_str(o.shape()) +
                           " for perturbed inputs but " + detail::shape_str(out_shape) +
                           " at the given inputs");
    }
    return S(o.value().flat().dot(weights.flat()));
  };

  struct Failure {
    std::size_t input;
    Index element;
    S tape;
    S fd;
    S error;
  };
  constexpr std::size_t kReported = 5;
  std::vector<Failure> worst;  // the kReported largest errors, largest first

  GradcheckResult<S> result;
  std::vector<Tensor<S>> xs = inputs;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    for (Index j = 0; j < xs[i].size(); ++j) {
      S& x = xs[i].data()[j];
      const S original = x;
      x = original + eps;
      const S plus = weighted_output(xs);
      x = original - eps;
      const S minus = weighted_output(xs);
      x = original;
      const S fd = (plus - minus) / (S(2) * eps);
      const S a = analytic[i].data()[j];
      const S abs_error = std::abs(a - fd);
      const S error = abs_error / (S(1) + std::abs(fd));
      ++result.elements;
      result.max_abs_error = std::max(result.max_abs_error, abs_error);
      result.max_error = std::max(result.max_error, error);
      if (!(error <= tol)) {  // also catches NaN
        ++result.failures;
        worst.push_back(
            {i, j, a, fd, std::isnan(error) ? std::numeric_limits<S>::infinity() : error});
        std::sort(worst.begin(), worst.end(),
                  [](const Failure& p, const Failure& q) { return p.error > q.error; });
        if (worst.size() > kReported) worst.pop_back();
      }
    }
  }
  result.passed = result.failures == 0;

  std::ostringstream os;
  if (result.passed) {
    os << "gradcheck passed: " << result.elements << " elements of " << inputs.size()
       << " inputs, max error " << result.max_error << " (tol " << tol << ", eps " << eps << ")";
  } else {
    os << "gradcheck FAILED: " << result.failures << " of " << result.elements
       << " elements out of tolerance, max error " << result.max_error << " (tol " << tol
       << ", eps " << eps << "); worst:";
    for (const Failure& w : worst) {
      os << "\n  input " << w.input << " element "
         << detail::position_str(inputs[w.input].shape(), w.element) << ": tape " << w.tape
         << ", finite difference " << w.fd;
    }
  }
  result.description = os.str();
  return result;
}

/// `gradcheck` with the inputs as a braced list: `gradcheck<double>(f, {x, w})`, or
/// `gradcheck(f, {x, w})` when the list's type deduces.
template <class S, class F>
GradcheckResult<S> gradcheck(F&& f, std::initializer_list<Tensor<S>> inputs,
                             detail::non_deduced<S> eps = detail::gradcheck_default_eps<S>(),
                             detail::non_deduced<S> tol = detail::gradcheck_default_tol<S>()) {
  return gradcheck(std::forward<F>(f), std::vector<Tensor<S>>(inputs), eps, tol);
}

}  // namespace convtape
