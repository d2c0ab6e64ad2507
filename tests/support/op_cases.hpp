// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Random but valid pooling and transposed-convolution cases for the differential tests (unit
// tests, tape tests and the [sweep]), with a readable description for failure messages.

#include <algorithm>
#include <sstream>
#include <string>

#include "convtape/conv_transpose2d.hpp"
#include "convtape/core.hpp"
#include "convtape/pool2d.hpp"
#include "convtape/tensor.hpp"
#include "support/random.hpp"

namespace support {

/// One pooling: input shape, kernel, options.
struct PoolCase {
  convtape::Shape4 x;
  convtape::Size2 kernel;
  convtape::Pool2dOptions opts;
  std::string text;  ///< everything above
};

/// A random valid pooling: kernel 1..max_kernel per dimension, the stride the kernel (default)
/// or 1..3, padding up to half the kernel, ceil_mode and count_include_pad either way, batch
/// 1..2, channels 1..3, planes from the smallest the kernel fits to `max_plane`; a quarter are
/// the 2x2 stride-2 unpadded pooling of the fast path.
inline PoolCase random_pool_case(Rng& rng, Index max_plane = 8, Index max_kernel = 4) {
  using convtape::Size2;
  PoolCase c;
  const bool fast = rng.index(0, 3) == 0;
  c.kernel = fast ? Size2(2, 2) : Size2(rng.index(1, max_kernel), rng.index(1, max_kernel));
  if (!fast && rng.coin()) c.opts.stride(rng.index(1, 3), rng.index(1, 3));
  const Index pad_rows = fast ? 0 : rng.index(0, c.kernel.rows / 2);
  const Index pad_cols = fast ? 0 : rng.index(0, c.kernel.cols / 2);
  c.opts.padding(pad_rows, pad_cols).ceil_mode(rng.coin()).count_include_pad(rng.coin());
  const Index rows = rng.index(std::max<Index>(1, c.kernel.rows - 2 * pad_rows), max_plane);
  const Index cols = rng.index(std::max<Index>(1, c.kernel.cols - 2 * pad_cols), max_plane);
  c.x = {rng.index(1, 2), rng.index(1, 3), rows, cols};
  std::ostringstream os;
  os << "x " << convtape::detail::shape_str(c.x) << ", kernel " << c.kernel << ", stride "
     << c.opts.stride() << " (0x0: the kernel), padding " << c.opts.padding()
     << (c.opts.ceil_mode() ? ", ceil_mode" : "")
     << (c.opts.count_include_pad() ? "" : ", count_include_pad false");
  c.text = os.str();
  return c;
}

/// One transposed convolution: shapes, options, bias or not.
struct TransposedCase {
  convtape::Shape4 x;
  convtape::Shape4 weight;  ///< (C_in, C_out / groups, kh, kw)
  convtape::ConvTranspose2dOptions opts;
  bool bias = false;
  std::string text;  ///< everything above

  /// C_out.
  Index out_channels() const { return weight[1] * opts.groups(); }
};

/// A random valid transposed convolution: batch 1..2, groups 1..3 with 1..max_per_group channels
/// per group on each side, planes 1..max_plane, kernels 1..3, stride 1..3, dilation 1..2, padding
/// 0..2 and an output_padding below the stride or the dilation (so also at or beyond the stride,
/// and beyond the padding). Cases whose output would be empty are drawn again.
inline TransposedCase random_transposed_case(Rng& rng, Index max_plane = 5,
                                             Index max_per_group = 3) {
  using convtape::Size2;
  for (;;) {
    TransposedCase c;
    const Index groups = rng.index(1, 3);
    const Index in_per_group = rng.index(1, max_per_group);
    const Index out_per_group = rng.index(1, max_per_group);
    c.x = {rng.index(1, 2), groups * in_per_group, rng.index(1, max_plane),
           rng.index(1, max_plane)};
    c.weight = {groups * in_per_group, out_per_group, rng.index(1, 3), rng.index(1, 3)};
    const Size2 stride(rng.index(1, 3), rng.index(1, 3));
    const Size2 dilation(rng.index(1, 2), rng.index(1, 2));
    const Size2 padding(rng.index(0, 2), rng.index(0, 2));
    const Size2 output_padding(rng.index(0, std::max(stride.rows, dilation.rows) - 1),
                               rng.index(0, std::max(stride.cols, dilation.cols) - 1));
    c.opts.stride(stride).dilation(dilation).padding(padding).output_padding(output_padding);
    c.opts.groups(groups);
    c.bias = rng.coin();
    // The output extent by PyTorch's documented formula.
    const auto out = [](Index in, Index k, Index s, Index p, Index d, Index op) {
      return (in - 1) * s - 2 * p + d * (k - 1) + op + 1;
    };
    if (out(c.x[2], c.weight[2], stride.rows, padding.rows, dilation.rows, output_padding.rows) <
            1 ||
        out(c.x[3], c.weight[3], stride.cols, padding.cols, dilation.cols, output_padding.cols) <
            1) {
      continue;
    }
    std::ostringstream os;
    os << "x " << convtape::detail::shape_str(c.x) << ", weight "
       << convtape::detail::shape_str(c.weight) << ", groups " << groups << ", stride " << stride
       << ", padding " << padding << ", output_padding " << output_padding << ", dilation "
       << dilation << (c.bias ? ", bias" : ", no bias");
    c.text = os.str();
    return c;
  }
}

}  // namespace support
