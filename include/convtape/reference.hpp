// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// Reference implementations: plain loops, one output (or input) sample at a time, written for
/// obviousness, not speed. The test suite compares every fast path against them, and you can
/// test your own kernels against them too. They share only the shape arithmetic
/// (`conv2d_geometry`) and the definition of a padded sample (`detail::padded_index`) with the
/// fast paths.

#include <cmath>
#include <limits>

#include "convtape/conv2d_grads.hpp"
#include "convtape/conv_transpose2d_options.hpp"
#include "convtape/core.hpp"
#include "convtape/detail/conv2d_shape.hpp"
#include "convtape/linear.hpp"
#include "convtape/pool2d.hpp"
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

/// `convtape::conv_transpose2d` as its definition, a scatter: every input sample adds itself
/// times the kernel into the output window it maps to, dropping what falls outside the output.
/// Shapes: x (N, C_in, H, W), weight (C_in, C_out / groups, kh, kw), bias C_out values or empty.
/// @throws shape_error as `convtape::conv_transpose2d`.
template <class S>
Tensor<S> conv_transpose2d(const Tensor<S>& x, const Tensor<S>& weight, const VectorX<S>& bias,
                           const ConvTranspose2dOptions& opts) {
  detail::conv_transpose2d_shape(x, weight, bias.size(), opts, "reference::conv_transpose2d");
  const Index groups = opts.groups();
  const Index in_per_group = x.dim(1) / groups;
  const Index out_per_group = weight.dim(1);
  const Index kh = weight.dim(2);
  const Index kw = weight.dim(3);
  const Size2 s = opts.stride();
  const Size2 p = opts.padding();
  const Size2 d = opts.dilation();
  const Size2 op = opts.output_padding();
  const Index out_rows = (x.dim(2) - 1) * s.rows - 2 * p.rows + d.rows * (kh - 1) + op.rows + 1;
  const Index out_cols = (x.dim(3) - 1) * s.cols - 2 * p.cols + d.cols * (kw - 1) + op.cols + 1;
  Tensor<S> y(x.dim(0), out_per_group * groups, out_rows, out_cols);
  for (Index n = 0; n < x.dim(0); ++n) {
    for (Index o = 0; o < y.dim(1); ++o) {
      y.plane(n, o).setConstant(bias.size() != 0 ? bias[o] : S(0));
    }
    for (Index c = 0; c < x.dim(1); ++c) {
      const Index group = c / in_per_group;
      for (Index i = 0; i < x.dim(2); ++i) {
        for (Index j = 0; j < x.dim(3); ++j) {
          for (Index m = 0; m < out_per_group; ++m) {
            for (Index a = 0; a < kh; ++a) {
              for (Index b = 0; b < kw; ++b) {
                const Index r = i * s.rows - p.rows + a * d.rows;
                const Index q = j * s.cols - p.cols + b * d.cols;
                if (r < 0 || r >= out_rows || q < 0 || q >= out_cols) continue;
                y(n, group * out_per_group + m, r, q) += x(n, c, i, j) * weight(c, m, a, b);
              }
            }
          }
        }
      }
    }
  }
  return y;
}

/// `convtape::conv_transpose2d_backward` as the transpose of the scatter above: every output
/// gradient sample is gathered back to the input samples and weights that were added into it.
template <class S>
Conv2dGrads<S> conv_transpose2d_backward(const Tensor<S>& x, const Tensor<S>& weight,
                                         const Tensor<S>& grad_out,
                                         const ConvTranspose2dOptions& opts) {
  detail::conv_transpose2d_shape(x, weight, 0, opts, "reference::conv_transpose2d_backward");
  const Index groups = opts.groups();
  const Index in_per_group = x.dim(1) / groups;
  const Index out_per_group = weight.dim(1);
  const Size2 s = opts.stride();
  const Size2 p = opts.padding();
  const Size2 d = opts.dilation();
  Conv2dGrads<S> grads{Tensor<S>(x.shape()), Tensor<S>(weight.shape()),
                       VectorX<S>::Zero(grad_out.dim(1))};
  for (Index n = 0; n < grad_out.dim(0); ++n) {
    for (Index o = 0; o < grad_out.dim(1); ++o) grads.bias[o] += grad_out.plane(n, o).sum();
  }
  for (Index n = 0; n < x.dim(0); ++n) {
    for (Index c = 0; c < x.dim(1); ++c) {
      const Index group = c / in_per_group;
      for (Index i = 0; i < x.dim(2); ++i) {
        for (Index j = 0; j < x.dim(3); ++j) {
          for (Index m = 0; m < out_per_group; ++m) {
            for (Index a = 0; a < weight.dim(2); ++a) {
              for (Index b = 0; b < weight.dim(3); ++b) {
                const Index r = i * s.rows - p.rows + a * d.rows;
                const Index q = j * s.cols - p.cols + b * d.cols;
                if (r < 0 || r >= grad_out.dim(2) || q < 0 || q >= grad_out.dim(3)) continue;
                const S dy = grad_out(n, group * out_per_group + m, r, q);
                grads.input(n, c, i, j) += dy * weight(c, m, a, b);
                grads.weight(c, m, a, b) += dy * x(n, c, i, j);
              }
            }
          }
        }
      }
    }
  }
  return grads;
}

/// Whether sample `v` becomes the maximum of a window over `m` (NaN wins; ties keep the first).
template <class S>
bool pool_takes(const S& v, const S& m, bool first) {
  return first || v > m || std::isnan(static_cast<double>(v));
}

/// Where the maximum of every window of plane (n, c) of x is, as (row, col) pairs written into
/// rows and cols (output-shaped); the loop of PyTorch's definition, tap by tap in row-major order.
template <class S>
void max_pool2d_argmax(const Tensor<S>& x, Size2 kernel, const Pool2dOptions& opts,
                       Tensor<Index>& rows, Tensor<Index>& cols) {
  const Size2 out = pool2d_output_size({x.dim(2), x.dim(3)}, kernel, opts);
  const Size2 s = opts.stride() == Size2(0, 0) ? kernel : opts.stride();
  const Size2 p = opts.padding();
  rows = Tensor<Index>(x.dim(0), x.dim(1), out.rows, out.cols);
  cols = Tensor<Index>(x.dim(0), x.dim(1), out.rows, out.cols);
  for (Index n = 0; n < x.dim(0); ++n) {
    for (Index c = 0; c < x.dim(1); ++c) {
      for (Index i = 0; i < out.rows; ++i) {
        for (Index j = 0; j < out.cols; ++j) {
          bool first = true;
          S m(0);
          for (Index a = 0; a < kernel.rows; ++a) {
            for (Index b = 0; b < kernel.cols; ++b) {
              const Index r = i * s.rows - p.rows + a;
              const Index q = j * s.cols - p.cols + b;
              if (r < 0 || r >= x.dim(2) || q < 0 || q >= x.dim(3)) continue;  // -infinity
              if (pool_takes(x(n, c, r, q), m, first)) {
                m = x(n, c, r, q);
                rows(n, c, i, j) = r;
                cols(n, c, i, j) = q;
                first = false;
              }
            }
          }
        }
      }
    }
  }
}

/// `convtape::max_pool2d`: the largest sample of each window, the padding being -infinity.
/// @throws shape_error as `convtape::max_pool2d`.
template <class S>
Tensor<S> max_pool2d(const Tensor<S>& x, Size2 kernel, const Pool2dOptions& opts = {}) {
  Tensor<Index> rows, cols;
  max_pool2d_argmax(x, kernel, opts, rows, cols);
  Tensor<S> y(rows.shape());
  for (Index n = 0; n < y.dim(0); ++n) {
    for (Index c = 0; c < y.dim(1); ++c) {
      for (Index i = 0; i < y.dim(2); ++i) {
        for (Index j = 0; j < y.dim(3); ++j)
          y(n, c, i, j) = x(n, c, rows(n, c, i, j), cols(n, c, i, j));
      }
    }
  }
  return y;
}

/// Gradient of `max_pool2d(x, kernel, opts)` with respect to x: each output gradient goes to the
/// first maximum of its window.
template <class S>
Tensor<S> max_pool2d_backward(const Tensor<S>& x, const Tensor<S>& grad_out, Size2 kernel,
                              const Pool2dOptions& opts = {}) {
  Tensor<Index> rows, cols;
  max_pool2d_argmax(x, kernel, opts, rows, cols);
  CONVTAPE_ASSERT(grad_out.shape() == rows.shape());
  Tensor<S> dx(x.shape());
  for (Index n = 0; n < rows.dim(0); ++n) {
    for (Index c = 0; c < rows.dim(1); ++c) {
      for (Index i = 0; i < rows.dim(2); ++i) {
        for (Index j = 0; j < rows.dim(3); ++j) {
          dx(n, c, rows(n, c, i, j), cols(n, c, i, j)) += grad_out(n, c, i, j);
        }
      }
    }
  }
  return dx;
}

/// Divisor of window (i, j) of `avg_pool2d`: its taps inside the padded input (with
/// count_include_pad) or inside the input, counted one by one.
inline Index avg_pool2d_count(Index i, Index j, Index in_rows, Index in_cols, Size2 kernel,
                              const Pool2dOptions& opts) {
  const Size2 s = opts.stride() == Size2(0, 0) ? kernel : opts.stride();
  const Size2 p = opts.padding();
  const Index lo_r = opts.count_include_pad() ? -p.rows : 0;
  const Index hi_r = opts.count_include_pad() ? in_rows + p.rows : in_rows;
  const Index lo_c = opts.count_include_pad() ? -p.cols : 0;
  const Index hi_c = opts.count_include_pad() ? in_cols + p.cols : in_cols;
  Index count = 0;
  for (Index a = 0; a < kernel.rows; ++a) {
    for (Index b = 0; b < kernel.cols; ++b) {
      const Index r = i * s.rows - p.rows + a;
      const Index q = j * s.cols - p.cols + b;
      count += (r >= lo_r && r < hi_r && q >= lo_c && q < hi_c) ? 1 : 0;
    }
  }
  return count;
}

/// `convtape::avg_pool2d`: the sum of each window's input samples (the padding adds zeros) over
/// the window's count (see `avg_pool2d_count`).
/// @throws shape_error as `convtape::avg_pool2d`.
template <class S>
Tensor<S> avg_pool2d(const Tensor<S>& x, Size2 kernel, const Pool2dOptions& opts = {}) {
  const Size2 out = pool2d_output_size({x.dim(2), x.dim(3)}, kernel, opts);
  const Size2 s = opts.stride() == Size2(0, 0) ? kernel : opts.stride();
  const Size2 p = opts.padding();
  Tensor<S> y(x.dim(0), x.dim(1), out.rows, out.cols);
  for (Index n = 0; n < x.dim(0); ++n) {
    for (Index c = 0; c < x.dim(1); ++c) {
      for (Index i = 0; i < out.rows; ++i) {
        for (Index j = 0; j < out.cols; ++j) {
          S sum(0);
          for (Index a = 0; a < kernel.rows; ++a) {
            for (Index b = 0; b < kernel.cols; ++b) {
              const Index r = i * s.rows - p.rows + a;
              const Index q = j * s.cols - p.cols + b;
              if (r >= 0 && r < x.dim(2) && q >= 0 && q < x.dim(3)) sum += x(n, c, r, q);
            }
          }
          y(n, c, i, j) =
              sum / static_cast<S>(avg_pool2d_count(i, j, x.dim(2), x.dim(3), kernel, opts));
        }
      }
    }
  }
  return y;
}

/// Gradient of `avg_pool2d(x, kernel, opts)` with respect to x (of shape `x_shape`): each output
/// gradient over its window's count, added to every input sample of the window.
template <class S>
Tensor<S> avg_pool2d_backward(const Shape4& x_shape, const Tensor<S>& grad_out, Size2 kernel,
                              const Pool2dOptions& opts = {}) {
  const Size2 s = opts.stride() == Size2(0, 0) ? kernel : opts.stride();
  const Size2 p = opts.padding();
  Tensor<S> dx(x_shape);
  for (Index n = 0; n < grad_out.dim(0); ++n) {
    for (Index c = 0; c < grad_out.dim(1); ++c) {
      for (Index i = 0; i < grad_out.dim(2); ++i) {
        for (Index j = 0; j < grad_out.dim(3); ++j) {
          const S share = grad_out(n, c, i, j) / static_cast<S>(avg_pool2d_count(
                                                     i, j, x_shape[2], x_shape[3], kernel, opts));
          for (Index a = 0; a < kernel.rows; ++a) {
            for (Index b = 0; b < kernel.cols; ++b) {
              const Index r = i * s.rows - p.rows + a;
              const Index q = j * s.cols - p.cols + b;
              if (r >= 0 && r < x_shape[2] && q >= 0 && q < x_shape[3]) dx(n, c, r, q) += share;
            }
          }
        }
      }
    }
  }
  return dx;
}

/// `convtape::adaptive_avg_pool2d`: output (i, j) is the mean of input rows
/// floor(i * H / rows) .. ceil((i + 1) * H / rows) - 1 and the columns likewise.
template <class S>
Tensor<S> adaptive_avg_pool2d(const Tensor<S>& x, Size2 out) {
  Tensor<S> y(x.dim(0), x.dim(1), out.rows, out.cols);
  const auto first = [](Index i, Index in, Index n) { return i * in / n; };
  const auto last = [](Index i, Index in, Index n) {  // one past the end: the ceiling
    return (i + 1) * in / n + ((i + 1) * in % n != 0 ? 1 : 0);
  };
  for (Index n = 0; n < x.dim(0); ++n) {
    for (Index c = 0; c < x.dim(1); ++c) {
      for (Index i = 0; i < out.rows; ++i) {
        for (Index j = 0; j < out.cols; ++j) {
          const Index r0 = first(i, x.dim(2), out.rows), r1 = last(i, x.dim(2), out.rows);
          const Index q0 = first(j, x.dim(3), out.cols), q1 = last(j, x.dim(3), out.cols);
          S sum(0);
          for (Index r = r0; r < r1; ++r) {
            for (Index q = q0; q < q1; ++q) sum += x(n, c, r, q);
          }
          y(n, c, i, j) = sum / static_cast<S>((r1 - r0) * (q1 - q0));
        }
      }
    }
  }
  return y;
}

}  // namespace convtape::reference
