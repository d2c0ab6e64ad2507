// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Random test data. `Rng`: a seeded source for the differential tests, same seed, same numbers,
// on every compiler (std::mt19937_64's output sequence is fixed by the standard but the std::
// distributions are not, so the mapping from raw bits to indices and reals is written out here).
// `uniform_matrix` / `uniform_tensor`: values uniform in [-1, 1) from a caller's std engine
// through std::uniform_real_distribution, for the fast-path tests, whose assertions hold for any
// such values.

#include <cstdint>
#include <random>
#include <type_traits>

#include "convtape/core.hpp"
#include "convtape/tensor.hpp"

namespace support {

using convtape::Index;

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}

  /// Uniform integer in [lo, hi] (the modulo bias is irrelevant at these ranges).
  Index index(Index lo, Index hi) {
    const auto span = static_cast<std::uint64_t>(hi - lo + 1);
    return lo + static_cast<Index>(engine_() % span);
  }

  bool coin() { return (engine_() >> 63) != 0; }

  /// Uniform real in [-1, 1).
  double real() { return static_cast<double>(engine_() >> 11) * 0x1.0p-52 - 1.0; }

  /// One sample of scalar type S: a real in [-1, 1) for floating point, an integer in [-4, 4]
  /// for integer types (small enough that no sum in the tests overflows).
  template <class S>
  S scalar() {
    if constexpr (std::is_integral_v<S>) {
      return static_cast<S>(index(-4, 4));
    } else {
      return static_cast<S>(real());
    }
  }

  template <class S>
  convtape::MatrixX<S> matrix(Index rows, Index cols) {
    convtape::MatrixX<S> m(rows, cols);
    for (Index j = 0; j < cols; ++j) {
      for (Index i = 0; i < rows; ++i) m(i, j) = scalar<S>();
    }
    return m;
  }

  template <class S>
  convtape::VectorX<S> vector(Index size) {
    convtape::VectorX<S> v(size);
    for (Index i = 0; i < size; ++i) v[i] = scalar<S>();
    return v;
  }

  template <class S>
  convtape::Tensor<S> tensor(Index n, Index c, Index h, Index w) {
    convtape::Tensor<S> t(n, c, h, w);
    for (Index i = 0; i < t.size(); ++i) t.data()[i] = scalar<S>();
    return t;
  }

 private:
  std::mt19937_64 engine_;
};

/// A rows x cols matrix (column-major by default) of values uniform in [-1, 1) from `engine`.
template <class S, class Engine>
convtape::MatrixX<S> uniform_matrix(Index rows, Index cols, Engine& engine) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  convtape::MatrixX<S> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = S(u(engine));
  return m;
}

/// An (n, c, h, w) tensor of values uniform in [-1, 1) from `engine`, in NCHW order.
template <class S, class Engine>
convtape::Tensor<S> uniform_tensor(Index n, Index c, Index h, Index w, Engine& engine) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  convtape::Tensor<S> t(n, c, h, w);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = S(u(engine));
  return t;
}

}  // namespace support
