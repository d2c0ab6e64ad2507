// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Small double tensors for the autograd, layer and optimizer tests: hand-written rows, and
// random ones drawn with convtape's own seeded initializer (the same numbers on every platform).

#include <initializer_list>
#include <random>
#include <stdexcept>

#include "convtape/nn/init.hpp"
#include "convtape/tensor.hpp"

namespace support {

/// A (1, 1, 1, n) tensor holding `values`.
inline convtape::Tensor<double> row(std::initializer_list<double> values) {
  convtape::Tensor<double> t(1, 1, 1, static_cast<convtape::Index>(values.size()));
  convtape::Index i = 0;
  for (double v : values) t.data()[i++] = v;
  return t;
}

/// A tensor of `shape` whose element i (in NCHW order) is ((i * mul) % mod - shift) / scale: the
/// closed-form inputs that tests/data/make_pytorch_values.py gives PyTorch (its `pattern`).
template <class S = double>
convtape::Tensor<S> pattern(const convtape::Shape4& shape, convtape::Index mul, convtape::Index mod,
                            convtape::Index shift, double scale) {
  convtape::Tensor<S> t(shape);
  for (convtape::Index i = 0; i < t.size(); ++i) {
    t.data()[i] = static_cast<S>(static_cast<double>((i * mul) % mod - shift) / scale);
  }
  return t;
}

/// A tensor of `shape` holding `values` in NCHW order (their count must match).
template <class S = double>
convtape::Tensor<S> tensor_of(const convtape::Shape4& shape, std::initializer_list<double> values) {
  convtape::Tensor<S> t(shape);
  convtape::Index i = 0;
  for (double v : values) {
    if (i < t.size()) t.data()[i] = static_cast<S>(v);
    ++i;
  }
  if (i != t.size()) throw std::logic_error("tensor_of: wrong number of values for the shape");
  return t;
}

/// A tensor of `shape` with elements uniform in [-1, 1).
inline convtape::Tensor<double> random_tensor(const convtape::Shape4& shape, std::mt19937_64& rng) {
  convtape::Tensor<double> t(shape);
  convtape::init::uniform(t, -1.0, 1.0, rng);
  return t;
}

/// The same, from its own generator seeded with `seed`.
inline convtape::Tensor<double> random_tensor(const convtape::Shape4& shape, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return random_tensor(shape, rng);
}

}  // namespace support
