// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// The forward pass of a batched convolution along a given path (`conv2d_forward`): the plane tap
// loops for `planes`, `winograd_conv` for `winograd`, and `shifted_conv` with the direct kernel
// (`direct`), `interleaved_conv` for `interleaved`, the GEMM block on the in-place grid
// (`implicit_gemm`) or on gathered im2col tiles (`im2col_gemm`), on as many threads as the cost
// model says the work can feed; `matrix_conv` for `matrix`, `pixel_gemm_conv` for `pixel_gemm`.
// The path comes from `conv2d_dispatch.hpp`. Not for direct inclusion.

#include "convtape/core.hpp"
#include "convtape/detail/conv2d_dispatch.hpp"
#include "convtape/detail/conv2d_shape.hpp"
#include "convtape/detail/gemm.hpp"
#include "convtape/detail/interleaved.hpp"
#include "convtape/detail/matrix_conv.hpp"
#include "convtape/detail/parallel.hpp"
#include "convtape/detail/pixel_gemm.hpp"
#include "convtape/detail/plane.hpp"
#include "convtape/detail/shifted_conv.hpp"
#include "convtape/detail/winograd.hpp"
#include "convtape/tensor.hpp"

namespace convtape::detail {

/// `conv2d` along a given path (no checks beyond those `conv2d_shape` made).
template <class S>
Tensor<S> conv2d_forward(const Tensor<S>& x, const Tensor<S>& weight, const VectorX<S>& bias,
                         const Conv2dShape& s, Conv2dPath path) {
  const Conv2dGeometry& g = s.geometry;
  // Every path below writes every output sample.
  Tensor<S> y = uninitialized_tensor<S>(s.output_shape());
  if (path == Conv2dPath::planes) {
    for (Index n = 0; n < s.batch; ++n) {
      for (Index o = 0; o < s.out_channels; ++o) {
        y.plane(n, o).setConstant(bias.size() != 0 ? bias[o] : S(0));
      }
      for (Index c = 0; c < s.in_channels; ++c) {
        const Index group = c / s.in_per_group;
        const PaddedPlane<S> padded_x(x.plane(n, c), g);
        for (Index o = group * s.out_per_group; o < (group + 1) * s.out_per_group; ++o) {
          corr2d_from_padded<S>(padded_x.data(), padded_x.ld(), weight.plane(o, c % s.in_per_group),
                                g, y.plane(n, o));
        }
      }
    }
    return y;
  }
  const Index depth = s.in_per_group * g.kernel_rows * g.kernel_cols;
  const S* w = weight.data();
  const Index out_per_group = s.out_per_group;
  const Index out_plane_size = g.out_rows * g.out_cols;
  const Index x_image_size = s.in_channels * g.in_rows * g.in_cols;
  const BatchPlanes<S> out{y.data(), s.out_channels * out_plane_size, out_plane_size, g.out_cols};
  const S* b = bias.size() != 0 ? bias.data() : nullptr;
  const int threads = useful_threads(conv2d_cost<S>(s, path));
  if (path == Conv2dPath::matrix && matrix_fits(s)) {
    matrix_conv(x.data(), weight.data(), b, s, y.data(),
                matrix_by_images(s.batch, PacketOf<S>::size), threads);
    return y;
  }
  if constexpr (winograd_exact_for<S>()) {
    if (path == Conv2dPath::winograd && winograd_fits(g)) {
      auto weight_at = [w, out_per_group, depth](Index grp, Index i, Index k) {
        return w[(grp * out_per_group + i) * depth + k];
      };
      winograd_conv<S>(x.data(), x_image_size, g, s.batch, s.groups, s.in_per_group, out_per_group,
                       weight_at, b, out, threads);
      return y;
    }
  }
  if (path == Conv2dPath::pixel_gemm) {
    pixel_gemm_conv<S>(x.data(), w, b, s, y.data(), threads);
    return y;
  }
  if (path == Conv2dPath::interleaved && interleaved_fits(s)) {
    interleaved_conv<S>(x.data(), x_image_size, g, s.batch, s.out_channels, out_per_group, w, b,
                        y.data(), s.out_channels * out_plane_size, threads);
    return y;
  }
  // The weights as stored: one OIHW row per output channel.
  const StridedRows<S> rows{w, depth, 1};
  const Index x_size = s.batch * x_image_size;
  if (path == Conv2dPath::direct || path == Conv2dPath::interleaved) {
    shifted_conv<S, 1, GemmBlock<S>::np>(x.data(), x_image_size, x_size, g, s.batch, s.groups,
                                         s.in_per_group, out_per_group, ConvKernel::rows, rows,
                                         out_per_group * depth, b, out, threads);
  } else {
    const ConvKernel kernel =
        path == Conv2dPath::im2col_gemm ? ConvKernel::packed : ConvKernel::grid;
    shifted_conv<S, GemmBlock<S>::mr, GemmBlock<S>::np>(
        x.data(), x_image_size, x_size, g, s.batch, s.groups, s.in_per_group, out_per_group, kernel,
        rows, out_per_group * depth, b, out, threads);
  }
  return y;
}

}  // namespace convtape::detail

/// The forward driver's explicit instantiations for scalar S, after `prefix` (`template` or
/// `extern template`): see convtape/instantiate.hpp.
#define CONVTAPE_DETAIL_INSTANTIATE_CONV2D_FORWARD(prefix, S)                              \
  prefix convtape::Tensor<S> convtape::detail::conv2d_forward<S>(                          \
      const convtape::Tensor<S>&, const convtape::Tensor<S>&, const convtape::VectorX<S>&, \
      const convtape::detail::Conv2dShape&, convtape::detail::Conv2dPath);

CONVTAPE_DETAIL_EXTERN(CONVTAPE_DETAIL_INSTANTIATE_CONV2D_FORWARD)
