// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// `Tensor<S>`: an owning, contiguous NCHW array whose (n, c) planes are row-major Eigen maps;
/// `Shape4`, its shape; `reshape` and `flatten`.
///
/// **Matrices and batches of vectors.** Every tensor is 4-D. A matrix of N rows of F features
/// (the input and output of `linear`, the result of `flatten`, a batch of logits) is held as
/// (N, F, 1, 1): row n is the F contiguous values at `data() + n * F`, the layout of a row-major
/// N x F matrix, and of PyTorch's (N, F) tensor. A per-feature vector that broadcasts over such
/// a batch (a bias) is (1, F, 1, 1), the shape `Conv2D` and `Linear` give their biases; a weight
/// of F_out x F_in, as PyTorch's `Linear.weight`, is (F_out, F_in, 1, 1), row-major. The other
/// docs link here rather than repeat this.

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "convtape/core.hpp"
#include "convtape/detail/random.hpp"

namespace convtape {

/// Shape of a tensor: (batch, channels, rows, cols), i.e. (N, C, H, W). It is a
/// `std::array<Index, 4>` (indexing, iteration, comparison and structured bindings work as on
/// one) that prints as `(1, 3, 6, 7)`: `std::cout << t.shape()`.
struct Shape4 : std::array<Index, 4> {
  /// (0, 0, 0, 0).
  constexpr Shape4() : std::array<Index, 4>{{0, 0, 0, 0}} {}
  /// (n, c, h, w).
  constexpr Shape4(Index n, Index c, Index h, Index w) : std::array<Index, 4>{{n, c, h, w}} {}
  /// The same four extents. (Implicit, so every `std::array<Index, 4>` is a shape.)
  constexpr Shape4(const std::array<Index, 4>& a)  // NOLINT(google-explicit-constructor)
      : std::array<Index, 4>(a) {}

  /// Prints `(n, c, h, w)`.
  friend std::ostream& operator<<(std::ostream& os, const Shape4& s) {
    return os << '(' << s[0] << ", " << s[1] << ", " << s[2] << ", " << s[3] << ')';
  }
};

template <class S>
class Tensor;

namespace detail {

inline std::string shape_str(const Shape4& s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

/// Number of elements of `shape`. @throws shape_error on a negative extent or overflow.
inline Index checked_numel(const Shape4& shape, const char* fn) {
  Index n = 1;
  for (Index extent : shape) {
    if (extent < 0) fail(fn, "negative extent in shape " + shape_str(shape));
    if (extent != 0 && n > std::numeric_limits<Index>::max() / 8 / extent) {
      fail(fn, "shape " + shape_str(shape) + " has too many elements");
    }
    n *= extent;
  }
  return n;
}

/// What convtape's own functions may do to a tensor that users may not: make one with
/// uninitialized elements, and give one a new shape of the same size.
struct TensorAccess;

/// A tensor of `shape` whose elements are not initialized, for kernels that overwrite every
/// element (convtape-internal). @throws shape_error on a negative extent.
template <class S>
Tensor<S> uninitialized_tensor(const Shape4& shape);

}  // namespace detail

/// An owning 4-D array in NCHW order (batch, channels, rows, cols), stored contiguously; element
/// (n, c, h, w) is at `data()[((n * C + c) * H + h) * W + w]`, as in PyTorch and numpy. A value
/// type: copies are deep.
///
/// Each (n, c) plane is an `Eigen::Map` of a row-major H x W matrix, so planes can be passed to
/// `corr2d` or any Eigen code without copying.
template <class S>
class Tensor {
 public:
  using Scalar = S;                                       ///< element type
  using PlaneMap = Eigen::Map<RowMatrixX<S>>;             ///< one (n, c) plane, writable
  using ConstPlaneMap = Eigen::Map<const RowMatrixX<S>>;  ///< one (n, c) plane, read-only
  using FlatMap = Eigen::Map<VectorX<S>>;                 ///< all elements, writable
  using ConstFlatMap = Eigen::Map<const VectorX<S>>;      ///< all elements, read-only

  /// An empty tensor of shape (0, 0, 0, 0).
  Tensor() = default;

  /// A zero-filled tensor of shape (n, c, h, w). @throws shape_error on a negative extent.
  Tensor(Index n, Index c, Index h, Index w) : Tensor(Shape4{n, c, h, w}) {}

  /// A zero-filled tensor of the given shape. @throws shape_error on a negative extent.
  explicit Tensor(const Shape4& shape)
      : shape_(shape), data_(VectorX<S>::Zero(detail::checked_numel(shape, "Tensor"))) {}

  /// A tensor of `shape` with every element 1. @throws shape_error on a negative extent.
  static Tensor ones(const Shape4& shape) { return constant(shape, S(1)); }

  /// A tensor of `shape` with every element `value`. @throws shape_error on a negative extent.
  static Tensor constant(const Shape4& shape, const S& value) {
    Tensor t(shape, Uninitialized());
    t.data_.setConstant(value);
    return t;
  }

  /// A tensor of `shape` with elements uniform in [0, 1), drawn in NCHW order from
  /// `std::mt19937_64(seed)`: the same numbers on every platform, and the same as
  /// `init::uniform(t, 0, 1, rng)` with that engine. @throws shape_error on a negative extent.
  static Tensor rand(const Shape4& shape, std::uint64_t seed) {
    Tensor t(shape, Uninitialized());
    std::mt19937_64 rng(seed);
    detail::fill_uniform(t.data(), t.size(), 0.0, 1.0, rng);
    return t;
  }

  /// A tensor of `shape` with standard normal elements, drawn in NCHW order from
  /// `std::mt19937_64(seed)` (Box-Muller), the same as `init::normal(t, 0, 1, rng)` with that
  /// engine. @throws shape_error on a negative extent.
  static Tensor randn(const Shape4& shape, std::uint64_t seed) {
    Tensor t(shape, Uninitialized());
    std::mt19937_64 rng(seed);
    detail::fill_normal(t.data(), t.size(), 0.0, 1.0, rng);
    return t;
  }

  /// The matrix `m` as a (1, 1, rows, cols) tensor, as the notebook's `X.reshape(1, 1, 6, 8)`.
  template <class Derived>
  static Tensor from_matrix(const Eigen::MatrixBase<Derived>& m) {
    static_assert(std::is_same_v<typename Derived::Scalar, S>,
                  "convtape: Tensor<S>::from_matrix needs a matrix of the same scalar type S.");
    Tensor t(1, 1, m.rows(), m.cols());
    t.plane(0, 0) = m;
    return t;
  }

  /// The only plane of a (1, 1, H, W) tensor as an H x W matrix.
  /// @throws shape_error for any other shape.
  MatrixX<S> matrix() const {
    if (shape_[0] != 1 || shape_[1] != 1) {
      detail::fail("Tensor::matrix", "needs shape (1, 1, H, W), got " + detail::shape_str(shape_));
    }
    return plane(0, 0);
  }

  /// (N, C, H, W).
  const Shape4& shape() const { return shape_; }
  /// Extent of axis i (0 = N, 1 = C, 2 = H, 3 = W). @throws shape_error for another axis.
  Index dim(int i) const {
    if (i < 0 || i > 3) {
      detail::fail("Tensor::dim", "axis " + std::to_string(i) + " is not in 0..3 for shape " +
                                      detail::shape_str(shape_));
    }
    return shape_[static_cast<std::size_t>(i)];
  }
  /// Number of elements, N * C * H * W.
  Index size() const { return data_.size(); }
  /// Whether the tensor has no elements (some extent is 0).
  bool empty() const { return data_.size() == 0; }
  /// Whether `other` has exactly this shape.
  template <class T>
  bool same_shape(const Tensor<T>& other) const {
    return shape_ == other.shape();
  }

  /// Contiguous storage in NCHW order.
  ///@{
  S* data() { return data_.data(); }
  const S* data() const { return data_.data(); }
  ///@}

  /// Element (n, c, h, w); bounds are checked by `CONVTAPE_ASSERT` only.
  ///@{
  S& operator()(Index n, Index c, Index h, Index w) { return data_[offset(n, c, h, w)]; }
  const S& operator()(Index n, Index c, Index h, Index w) const {
    return data_[offset(n, c, h, w)];
  }
  ///@}

  /// Plane (n, c) as a row-major H x W map into this tensor.
  ///@{
  PlaneMap plane(Index n, Index c) { return PlaneMap(data() + offset(n, c, 0, 0), rows(), cols()); }
  ConstPlaneMap plane(Index n, Index c) const {
    return ConstPlaneMap(data() + offset(n, c, 0, 0), rows(), cols());
  }
  ///@}

  /// All elements as one vector, for elementwise Eigen arithmetic.
  ///@{
  FlatMap flat() { return FlatMap(data(), size()); }
  ConstFlatMap flat() const { return ConstFlatMap(data(), size()); }
  ///@}

  /// Sets every element to 0.
  Tensor& setZero() {
    data_.setZero();
    return *this;
  }
  /// Sets every element to `value`.
  Tensor& setConstant(const S& value) {
    data_.setConstant(value);
    return *this;
  }

  /// A copy with elements converted to `T`.
  template <class T>
  Tensor<T> cast() const {
    Tensor<T> t(shape_);
    t.flat() = flat().template cast<T>();
    return t;
  }

  /// Prints the shape, then each (n, c) plane as a matrix.
  friend std::ostream& operator<<(std::ostream& os, const Tensor& t) {
    os << "Tensor " << t.shape_;
    t.print_planes(os);
    return os;
  }

  /// Prints each (n, c) plane as a matrix, each after a line break (`operator<<`'s body, for the
  /// printers of types that hold a tensor, such as `Var`).
  void print_planes(std::ostream& os) const {
    if (empty()) return;
    const Eigen::IOFormat fmt(Eigen::StreamPrecision, 0, ", ", "\n", "  [", "]");
    for (Index n = 0; n < shape_[0]; ++n) {
      for (Index c = 0; c < shape_[1]; ++c) {
        os << "\n[" << n << ", " << c << "]:\n" << plane(n, c).format(fmt);
      }
    }
  }

 private:
  friend struct detail::TensorAccess;
  struct Uninitialized {};

  /// Elements not initialized: for kernels that overwrite every one.
  Tensor(const Shape4& shape, Uninitialized)
      : shape_(shape), data_(detail::checked_numel(shape, "Tensor")) {}

  Index rows() const { return shape_[2]; }
  Index cols() const { return shape_[3]; }
  Index offset(Index n, Index c, Index h, Index w) const {
    CONVTAPE_ASSERT(n >= 0 && n < shape_[0] && c >= 0 && c < shape_[1]);
    CONVTAPE_ASSERT(h >= 0 && (h < shape_[2] || (h == 0 && w == 0)) && w >= 0 &&
                    (w < shape_[3] || w == 0));
    return ((n * shape_[1] + c) * shape_[2] + h) * shape_[3] + w;
  }

  Shape4 shape_{0, 0, 0, 0};
  VectorX<S> data_;
};

namespace detail {

struct TensorAccess {
  template <class S>
  static Tensor<S> uninitialized(const Shape4& shape) {
    return Tensor<S>(shape, typename Tensor<S>::Uninitialized());
  }
  /// Gives `t` the shape `shape`, which has as many elements (checked by the caller).
  template <class S>
  static void set_shape(Tensor<S>& t, const Shape4& shape) {
    CONVTAPE_ASSERT(checked_numel(shape, "reshape") == t.size());
    t.shape_ = shape;
  }
};

template <class S>
Tensor<S> uninitialized_tensor(const Shape4& shape) {
  return TensorAccess::uninitialized<S>(shape);
}

/// `shape` with a -1 extent (at most one) replaced by what makes `size` elements.
/// @throws shape_error naming `fn` and both shapes if no shape of `size` elements matches.
inline Shape4 resolve_reshape(const Shape4& from, Index size, Shape4 shape, const char* fn) {
  const auto fail_reshape = [&](const std::string& why) {
    fail(fn, "cannot reshape " + shape_str(from) + " (" + std::to_string(size) + " elements) to " +
                 shape_str(shape) + ": " + why);
  };
  std::size_t inferred = 4;
  Shape4 known_shape = shape;
  for (std::size_t i = 0; i < 4; ++i) {
    if (shape[i] == -1 && inferred == 4) {
      inferred = i;
      known_shape[i] = 1;
    } else if (shape[i] < 0) {
      fail_reshape("extents must be non-negative, except one -1 (inferred)");
    }
  }
  const Index known = checked_numel(known_shape, fn);
  if (inferred < 4) {
    if (known == 0 || size % known != 0) {
      fail_reshape("no extent in place of the -1 gives that many elements");
    }
    shape[inferred] = size / known;
  } else if (known != size) {
    fail_reshape("it has " + std::to_string(known) + " elements");
  }
  return shape;
}

}  // namespace detail

/// The elements of `t`, in the same (NCHW) order, with shape (n, c, h, w); one extent may be -1,
/// inferred from the others, as PyTorch's `reshape`. Moves `t`'s buffer (no copy) when given an
/// rvalue: `auto y = reshape(std::move(x), 1, 1, 6, 8);`.
/// @throws shape_error if the new shape has another number of elements (the message names both
///   shapes), a negative extent other than one -1, or -1 cannot be resolved.
template <class S>
Tensor<S> reshape(Tensor<S>&& t, Index n, Index c, Index h, Index w) {
  const Shape4 shape = detail::resolve_reshape(t.shape(), t.size(), {n, c, h, w}, "reshape");
  Tensor<S> out(std::move(t));
  detail::TensorAccess::set_shape(out, shape);
  return out;
}

/// A reshaped copy of `t` (see the rvalue overload, which moves instead).
/// @throws shape_error as the rvalue overload.
template <class S>
Tensor<S> reshape(const Tensor<S>& t, Index n, Index c, Index h, Index w) {
  return reshape(Tensor<S>(t), n, c, h, w);
}

/// `t` as N rows of C*H*W features, shape (N, C*H*W, 1, 1) (the batch layout of the file comment),
/// as PyTorch's `flatten(x, 1)`; moves the buffer of an rvalue.
template <class S>
Tensor<S> flatten(Tensor<S>&& t) {
  const Shape4& s = t.shape();
  const Shape4 shape{s[0], s[1] * s[2] * s[3], 1, 1};
  Tensor<S> out(std::move(t));
  detail::TensorAccess::set_shape(out, shape);
  return out;
}

/// A flattened copy of `t`, shape (N, C*H*W, 1, 1).
template <class S>
Tensor<S> flatten(const Tensor<S>& t) {
  return flatten(Tensor<S>(t));
}

}  // namespace convtape

namespace std {
/// Structured bindings of a `Shape4`: `auto [n, c, h, w] = t.shape();`.
template <>
struct tuple_size<convtape::Shape4> : integral_constant<size_t, 4> {};
/// Each element of a `Shape4` is a `convtape::Index`.
template <size_t I>
struct tuple_element<I, convtape::Shape4> {
  using type = convtape::Index;  ///< the element type
};
}  // namespace std
