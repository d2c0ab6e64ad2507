// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// Reference implementations: plain loops, one output (or input) sample at a time, written for
/// obviousness, not speed. The test suite compares every fast path against them, and you can
/// test your own kernels against them too. They share only the shape arithmetic
/// (`conv2d_geometry`) and the definition of a padded sample (`detail::padded_index`) with the
/// fast paths.

#include "convtape/conv2d_grads.hpp"
#include "convtape/core.hpp"
#include "convtape/detail/conv2d_shape.hpp"
#include "convtape/linear.hpp"
#include "convtape/tensor.hpp"

namespace convtape::reference {

/// The notebook's `corr2d`, loop for loop: `Y[i, j] = (X[i:i + h, j:j + w] * K).sum()`.
/// Valid cross-correlation, kernel not flipped.
/// @throws shape_error if X or K is empty or K is larger than X.
template <class DX, class DK>
MatrixX<typename DX::Scalar> corr2d(const Eigen::MatrixBase<DX>& X,
                                    const Eigen::MatrixBase<DK>& K) {
  conv2d_geometry(X.rows(), X.cols(), K.rows(), K.cols(), {}, "reference::corr2d");
  const Index h = K.rows();
  const Index w = K.cols();
  MatrixX<typename DX::Scalar> Y =
      MatrixX<typename DX::Scalar>::Zero(X.rows() - h + 1, X.cols() - w + 1);
  for (Index i = 0; i < Y.rows(); ++i) {
    for (Index j = 0; j < Y.cols(); ++j) {
      Y(i, j) = (X.block(i, j, h, w).array() * K.array()).sum();
    }
  }
  return Y;
}

/// Input sample read at padded coordinate (r, c) (relative to the unpadded origin), or 0.
template <class Derived>
typename Derived::Scalar padded_at(const Eigen::MatrixBase<Derived>& x, Index r, Index c,
                                   PaddingMode mode) {
  const Index sr = detail::padded_index(r, x.rows(), mode);
  const Index sc = detail::padded_index(c, x.cols(), mode);
  return (sr < 0 || sc < 0) ? typename Derived::Scalar(0) : x(sr, sc);
}

/// `convtape::corr2d(x, k, opts)` as a scalar loop over outputs and taps.
template <class DX, class DK>
MatrixX<typename DX::Scalar> corr2d(const Eigen::MatrixBase<DX>& x, const Eigen::MatrixBase<DK>& k,
                                    const Conv2dOptions& opts) {
  using S = typename DX::Scalar;
  const Conv2dGeometry g =
      conv2d_geometry(x.rows(), x.cols(), k.rows(), k.cols(), opts, "reference::corr2d");
  MatrixX<S> y(g.out_rows, g.out_cols);
  for (Index i = 0; i < g.out_rows; ++i) {
    for (Index j = 0; j < g.out_cols; ++j) {
      S acc(0);
      for (Index a = 0; a < g.kernel_rows; ++a) {
        for (Index b = 0; b < g.kernel_cols; ++b) {
          const Index r = i * g.stride.rows + a * g.dilation.rows - g.pad.top;
          const Index c = j * g.stride.cols + b * g.dilation.cols - g.pad.left;
          acc += padded_at(x, r, c, g.mode) * k(a, b);
        }
      }
      y(i, j) = acc;
    }
  }
  return y;
}

/// Gradient of `corr2d(x, k, opts)` with respect to x: every output sample's gradient is
/// scattered back to the input samples it read.
template <class DY, class DK>
MatrixX<typename DY::Scalar> corr2d_grad_input(const Eigen::MatrixBase<DY>& grad_output,
                                               const Eigen::MatrixBase<DK>& k, Index x_rows,
                                               Index x_cols, const Conv2dOptions& opts) {
  using S = typename DY::Scalar;
  const Conv2dGeometry g =
      conv2d_geometry(x_rows, x_cols, k.rows(), k.cols(), opts, "reference::corr2d_grad_input");
  CONVTAPE_ASSERT(grad_output.rows() == g.out_rows && grad_output.cols() == g.out_cols);
  MatrixX<S> grad_input = MatrixX<S>::Zero(x_rows, x_cols);
  for (Index i = 0; i < g.out_rows; ++i) {
    for (Index j = 0; j < g.out_cols; ++j) {
      for (Index a = 0; a < g.kernel_rows; ++a) {
        for (Index b = 0; b < g.kernel_cols; ++b) {
          const Index r = i * g.stride.rows + a * g.dilation.rows - g.pad.top;
          const Index c = j * g.stride.cols + b * g.dilation.cols - g.pad.left;
          const Index sr = detail::padded_index(r, x_rows, g.mode);
          const Index sc = detail::padded_index(c, x_cols, g.mode);
          if (sr >= 0 && sc >= 0) grad_input(sr, sc) += grad_output(i, j) * k(a, b);
        }
      }
    }
  }
  return grad_input;
}

/// Gradient of `corr2d(x, k, opts)` with respect to a k_rows x k_cols kernel.
template <class DX, class DY>
MatrixX<typename DX::Scalar> corr2d_grad_kernel(const Eigen::MatrixBase<DX>& x,
                                                const Eigen::MatrixBase<DY>& grad_output,
                                                Index k_rows, Index k_cols,
                                                const Conv2dOptions& opts) {
  using S = typename DX::Scalar;
  const Conv2dGeometry g =
      conv2d_geometry(x.rows(), x.cols(), k_rows, k_cols, opts, "reference::corr2d_grad_kernel");
  CONVTAPE_ASSERT(grad_output.rows() == g.out_rows && grad_output.cols() == g.out_cols);
  MatrixX<S> grad_kernel = MatrixX<S>::Zero(k_rows, k_cols);
  for (Index a = 0; a < k_rows; ++a) {
    for (Index b = 0; b < k_cols; ++b) {
      for (Index i = 0; i < g.out_rows; ++i) {
        for (Index j = 0; j < g.out_cols; ++j) {
          const Index r = i * g.stride.rows + a * g.dilation.rows - g.pad.top;
          const Index c = j * g.stride.cols + b * g.dilation.cols - g.pad.left;
          grad_kernel(a, b) += padded_at(x, r, c, g.mode) * grad_output(i, j);
        }
      }
    }
  }
  return grad_kernel;
}

/// `convtape::conv2d` as seven nested loops.
template <class S>
Tensor<S> conv2d(const Tensor<S>& x, const Tensor<S>& weight, const VectorX<S>& bias,
                 const Conv2dOptions& opts) {
  const detail::Conv2dShape s =
      detail::conv2d_shape(x, weight, bias.size(), opts, "reference::conv2d");
  const Conv2dGeometry& g = s.geometry;
  Tensor<S> y(s.output_shape());
  for (Index n = 0; n < s.batch; ++n) {
    for (Index o = 0; o < s.out_channels; ++o) {
      const Index group = o / s.out_per_group;
      for (Index i = 0; i < g.out_rows; ++i) {
        for (Index j = 0; j < g.out_cols; ++j) {
          S acc = bias.size() != 0 ? bias[o] : S(0);
          for (Index ci = 0; ci < s.in_per_group; ++ci) {
            const auto xplane = x.plane(n, group * s.in_per_group + ci);
            for (Index a = 0; a < g.kernel_rows; ++a) {
              for (Index b = 0; b < g.kernel_cols; ++b) {
                const Index r = i * g.stride.rows + a * g.dilation.rows - g.pad.top;
                const Index c = j * g.stride.cols + b * g.dilation.cols - g.pad.left;
                acc += padded_at(xplane, r, c, g.mode) * weight(o, ci, a, b);
              }
            }
          }
          y(n, o, i, j) = acc;
        }
      }
    }
  }
  return y;
}

/// `convtape::conv2d_backward` as nested loops: every output gradient sample is scattered to the
/// input samples and weights it touched.
template <class S>
Conv2dGrads<S> conv2d_backward(const Tensor<S>& x, const Tensor<S>& weight,
                               const Tensor<S>& grad_output, const Conv2dOptions& opts) {
  const detail::Conv2dShape s =
      detail::conv2d_shape(x, weight, 0, opts, "reference::conv2d_backward");
  const Conv2dGeometry& g = s.geometry;
  CONVTAPE_ASSERT(grad_output.shape() == s.output_shape());
  Conv2dGrads<S> grads{Tensor<S>(x.shape()), Tensor<S>(weight.shape()),
                       VectorX<S>::Zero(s.out_channels)};
  for (Index n = 0; n < s.batch; ++n) {
    for (Index o = 0; o < s.out_channels; ++o) {
      const Index group = o / s.out_per_group;
      for (Index i = 0; i < g.out_rows; ++i) {
        for (Index j = 0; j < g.out_cols; ++j) {
          const S grad = grad_output(n, o, i, j);
          grads.bias[o] += grad;
          for (Index ci = 0; ci < s.in_per_group; ++ci) {
            const Index c_in = group * s.in_per_group + ci;
            for (Index a = 0; a < g.kernel_rows; ++a) {
              for (Index b = 0; b < g.kernel_cols; ++b) {
                const Index r = i * g.stride.rows + a * g.dilation.rows - g.pad.top;
                const Index c = j * g.stride.cols + b * g.dilation.cols - g.pad.left;
                const Index sr = detail::padded_index(r, g.in_rows, g.mode);
                const Index sc = detail::padded_index(c, g.in_cols, g.mode);
                if (sr < 0 || sc < 0) continue;
                grads.input(n, c_in, sr, sc) += grad * weight(o, ci, a, b);
                grads.weight(o, ci, a, b) += grad * x(n, c_in, sr, sc);
              }
            }
          }
        }
      }
    }
  }
  return grads;
}

/// `convtape::linear(x, weight, bias)` as three nested loops: y[n, o] = bias[o] +
/// sum_i x[n, i] * weight[o, i], x read as N rows of C * H * W features; an empty bias is none.
template <class S>
Tensor<S> linear(const Tensor<S>& x, const Tensor<S>& weight, const Tensor<S>& bias) {
  const LinearShape s =
      detail::linear_shape(x, weight, bias.empty() ? -1 : bias.size(), "reference::linear");
  Tensor<S> y(s.batch, s.out_features, 1, 1);
  for (Index n = 0; n < s.batch; ++n) {
    for (Index o = 0; o < s.out_features; ++o) {
      S acc = bias.empty() ? S(0) : bias.data()[o];
      for (Index i = 0; i < s.in_features; ++i) {
        acc += x.data()[n * s.in_features + i] * weight(o, i, 0, 0);
      }
      y(n, o, 0, 0) = acc;
    }
  }
  return y;
}

}  // namespace convtape::reference
