// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// The shapes of one batched convolution, checked against each other and resolved once
// (`conv2d_shape`), for `conv2d`, `conv2d_backward`, the tape's `conv2d` and the reference
// loops. Not for direct inclusion.

#include <sstream>
#include <string>

#include "convtape/core.hpp"
#include "convtape/tensor.hpp"

namespace convtape::detail {

/// The shapes of one batched convolution, resolved and checked once.
struct Conv2dShape {
  Index batch = 0;          ///< N
  Index in_channels = 0;    ///< C_in
  Index out_channels = 0;   ///< C_out
  Index groups = 1;         ///< channel groups
  Index in_per_group = 0;   ///< C_in / groups
  Index out_per_group = 0;  ///< C_out / groups
  Conv2dGeometry geometry;  ///< per-plane geometry (same for every plane; along a dimension
                            ///< with one output sample, the smallest stride that gives it)

  /// Shape of the output, (N, C_out, out_rows, out_cols).
  Shape4 output_shape() const {
    return {batch, out_channels, geometry.out_rows, geometry.out_cols};
  }
};

/// Checks x, weight and bias against each other and `opts`; `fn` names the caller in messages.
template <class S>
Conv2dShape conv2d_shape(const Tensor<S>& x, const Tensor<S>& weight, Index bias_size,
                         const Conv2dOptions& opts, const char* fn) {
  if (x.empty()) fail(fn, "x is empty, shape " + shape_str(x.shape()));
  if (weight.empty()) fail(fn, "weight is empty, shape " + shape_str(weight.shape()));
  const Index groups = opts.groups();
  if (groups < 1 || groups > kMaxOptionValue) {
    fail(fn, "groups must be positive, got " + std::to_string(groups));
  }
  Conv2dShape s;
  s.batch = x.dim(0);
  s.in_channels = x.dim(1);
  s.out_channels = weight.dim(0);
  s.groups = groups;
  // Messages are built only on failure: this check runs on every call, tiny ones included.
  if (s.in_channels % groups != 0) {
    std::ostringstream os;
    os << "x " << shape_str(x.shape()) << " has " << s.in_channels
       << " channels, not divisible by groups = " << groups;
    fail(fn, os.str());
  }
  if (s.out_channels % groups != 0) {
    std::ostringstream os;
    os << "weight " << shape_str(weight.shape()) << " has " << s.out_channels
       << " output channels, not divisible by groups = " << groups;
    fail(fn, os.str());
  }
  s.in_per_group = s.in_channels / groups;
  s.out_per_group = s.out_channels / groups;
  if (weight.dim(1) != s.in_per_group) {
    std::ostringstream os;
    os << "weight " << shape_str(weight.shape()) << " has " << weight.dim(1)
       << " input channels per group but x " << shape_str(x.shape()) << " has " << s.in_channels;
    if (groups != 1) os << " channels, " << s.in_per_group << " per group";
    os << " (groups = " << groups << ")";
    fail(fn, os.str());
  }
  if (bias_size != 0 && bias_size != s.out_channels) {
    std::ostringstream os;
    os << "bias has " << bias_size << " elements but weight " << shape_str(weight.shape())
       << " has " << s.out_channels << " output channels";
    fail(fn, os.str());
  }
  s.geometry = conv2d_geometry(x.dim(2), x.dim(3), weight.dim(2), weight.dim(3), opts, fn);
  // With one output sample along a dimension, any stride above (padded - dilated kernel) gives
  // the same result: it is lowered to the smallest such stride, so no buffer grows with a stride
  // far larger than the image (the strided paths lay the input out in stride.rows * stride.cols
  // phase planes). Every stride is then at most the padded extent. Done after the 'same'
  // padding, which depends on the stride given.
  Conv2dGeometry& pg = s.geometry;
  if (pg.out_rows == 1) {
    pg.stride.rows = pg.padded_rows() - pg.dilation.rows * (pg.kernel_rows - 1);
  }
  if (pg.out_cols == 1) {
    pg.stride.cols = pg.padded_cols() - pg.dilation.cols * (pg.kernel_cols - 1);
  }
  // The output and the padded image are the buffers whose size the options (not the caller's
  // tensors) decide; products in double cannot overflow and cost no division.
  const Conv2dGeometry& g = s.geometry;
  const double padded_image =
      double(s.in_channels) * double(g.padded_rows()) * double(g.padded_cols());
  const double output =
      double(s.batch) * double(s.out_channels) * double(g.out_rows) * double(g.out_cols);
  if (padded_image > double(kMaxTensorElements) || output > double(kMaxTensorElements)) {
    std::ostringstream os;
    os << "x " << shape_str(x.shape()) << " and weight " << shape_str(weight.shape())
       << " with padding " << padding_str(g.pad) << " need an output of shape "
       << shape_str(s.output_shape()) << " and a padded image of " << s.in_channels << "x"
       << g.padded_rows() << "x" << g.padded_cols() << "; each may have at most "
       << kMaxTensorElements << " elements";
    fail(fn, os.str());
  }
  return s;
}

}  // namespace convtape::detail

/// The shape check's explicit instantiations for scalar S, after `prefix` (`template` or
/// `extern template`): see convtape/instantiate.hpp.
#define CONVTAPE_DETAIL_INSTANTIATE_CONV2D_SHAPE(prefix, S)                    \
  prefix convtape::detail::Conv2dShape convtape::detail::conv2d_shape<S>(      \
      const convtape::Tensor<S>&, const convtape::Tensor<S>&, convtape::Index, \
      const convtape::Conv2dOptions&, const char*);

CONVTAPE_DETAIL_EXTERN(CONVTAPE_DETAIL_INSTANTIATE_CONV2D_SHAPE)
