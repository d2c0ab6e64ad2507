// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// `Tensor<S>`: an owning, contiguous NCHW array whose (n, c) planes are row-major Eigen maps.

#include <array>
#include <ostream>
#include <sstream>
#include <string>
#include <type_traits>

#include "convtape/core.hpp"

namespace convtape {

/// Shape of a tensor: (batch, channels, rows, cols), i.e. (N, C, H, W).
using Shape4 = std::array<Index, 4>;

namespace detail {

inline std::string shape_str(const Shape4& s) {
  std::ostringstream os;
  os << '(' << s[0] << ", " << s[1] << ", " << s[2] << ", " << s[3] << ')';
  return os.str();
}

/// Tag for the `Tensor` constructor that leaves the elements uninitialized: for kernels that write
/// every element of their output anyway (convtape-internal).
struct UninitializedTag {};

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

  /// A tensor of the given shape whose elements are not initialized (internal: for kernels that
  /// overwrite every element). @throws shape_error on a negative extent.
  Tensor(const Shape4& shape, detail::UninitializedTag)
      : shape_(shape), data_(detail::checked_numel(shape, "Tensor")) {}

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
    os << "Tensor " << detail::shape_str(t.shape_);
    if (t.empty()) return os;
    const Eigen::IOFormat fmt(Eigen::StreamPrecision, 0, ", ", "\n", "  [", "]");
    for (Index n = 0; n < t.shape_[0]; ++n) {
      for (Index c = 0; c < t.shape_[1]; ++c) {
        os << "\n[" << n << ", " << c << "]:\n" << t.plane(n, c).format(fmt);
      }
    }
    return os;
  }

 private:
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

}  // namespace convtape
