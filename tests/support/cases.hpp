// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Random but valid plane-convolution cases for the differential tests, a readable description of
// one for failure messages, and padding written out independently of the library: the tests pad
// by hand and compare the library's padded convolution with the reference loop on that matrix.

#include <algorithm>
#include <sstream>
#include <string>

#include "convtape/core.hpp"
#include "support/random.hpp"

namespace support {

using convtape::Conv2dOptions;
using convtape::Padding2d;
using convtape::PaddingMode;

/// One plane convolution: input and kernel extents and the options.
struct PlaneCase {
  Index in_rows = 1;
  Index in_cols = 1;
  Index kernel_rows = 1;
  Index kernel_cols = 1;
  Conv2dOptions opts;
};

inline std::string describe(const Conv2dOptions& o) {
  std::ostringstream os;
  os << "stride " << o.stride() << ", dilation " << o.dilation() << ", padding ";
  if (o.is_padding_same()) {
    os << "same";
  } else {
    const Padding2d p = o.padding();
    os << "(" << p.top << ", " << p.bottom << ", " << p.left << ", " << p.right << ")";
  }
  os << ", mode " << convtape::to_string(o.padding_mode()) << ", groups " << o.groups();
  return os.str();
}

inline std::string describe(const PlaneCase& c) {
  std::ostringstream os;
  os << "input " << c.in_rows << "x" << c.in_cols << ", kernel " << c.kernel_rows << "x"
     << c.kernel_cols << ", " << describe(c.opts);
  return os.str();
}

/// Random options (stride and dilation 1..3, each padding side 0..3 or 'same', any mode) and a
/// kernel that fits: every case drawn here is valid.
inline PlaneCase random_plane_case(Rng& rng, Index max_in = 9, Index max_kernel = 5) {
  PlaneCase c;
  c.in_rows = rng.index(1, max_in);
  c.in_cols = rng.index(1, max_in);
  const Index stride_rows = rng.index(1, 3);
  const Index stride_cols = rng.index(1, 3);
  const Index dilation_rows = rng.coin() ? 1 : rng.index(2, 3);
  const Index dilation_cols = rng.coin() ? 1 : rng.index(2, 3);
  c.opts.stride(stride_rows, stride_cols).dilation(dilation_rows, dilation_cols);
  c.opts.padding_mode(static_cast<PaddingMode>(rng.index(0, 3)));

  const auto kernel_extent = [&](Index padded, Index dilation) {
    // (k - 1) * dilation + 1 <= padded
    return rng.index(1, std::min((padded - 1) / dilation + 1, max_kernel));
  };
  if (rng.index(0, 3) == 0) {
    c.opts.padding_same();
    c.kernel_rows = rng.index(1, max_kernel);
    c.kernel_cols = rng.index(1, max_kernel);
  } else {
    Padding2d p;
    if (rng.index(0, 2) != 0)
      p = {rng.index(0, 3), rng.index(0, 3), rng.index(0, 3), rng.index(0, 3)};
    c.opts.padding(p.top, p.bottom, p.left, p.right);
    c.kernel_rows = kernel_extent(c.in_rows + p.top + p.bottom, dilation_rows);
    c.kernel_cols = kernel_extent(c.in_cols + p.left + p.right, dilation_cols);
  }
  return c;
}

/// What a run of random cases exercised, so a differential test can check that its generator
/// produced every situation it is meant to cover (a test that never meets a reflect border
/// cannot fail on one).
class CaseCoverage {
 public:
  void add(const PlaneCase& c, Index out_rows, Index out_cols) {
    modes_ |= 1u << static_cast<unsigned>(c.opts.padding_mode());
    same_ |= c.opts.is_padding_same();
    explicit_padding_ |= !c.opts.is_padding_same() && c.opts.padding() != Padding2d{};
    stride_ |= c.opts.stride() != convtape::Size2(1, 1);
    dilation_ |= c.opts.dilation() != convtape::Size2(1, 1);
    one_by_one_ |= c.kernel_rows == 1 && c.kernel_cols == 1;
    single_output_ |= out_rows == 1 && out_cols == 1 && c.kernel_rows * c.kernel_cols > 1;
    non_square_ |= c.in_rows != c.in_cols && c.kernel_rows != c.kernel_cols;
  }
  /// Names of the situations not met yet; empty when all were.
  std::string missing() const {
    std::string m;
    if (modes_ != 0xF) m += " some padding modes;";
    if (!same_) m += " 'same';";
    if (!explicit_padding_) m += " explicit padding;";
    if (!stride_) m += " stride > 1;";
    if (!dilation_) m += " dilation > 1;";
    if (!one_by_one_) m += " 1x1 kernel;";
    if (!single_output_) m += " kernel as large as the padded input;";
    if (!non_square_) m += " non-square input and kernel;";
    return m;
  }

 private:
  unsigned modes_ = 0;
  bool same_ = false, explicit_padding_ = false, stride_ = false, dilation_ = false;
  bool one_by_one_ = false, single_output_ = false, non_square_ = false;
};

/// TensorFlow's 'same' padding of one dimension, from its documentation: out = ceil(in / stride),
/// total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - in, 0), the smaller half
/// before and the larger after.
inline void tf_same_split(Index in, Index kernel, Index stride, Index dilation, Index& before,
                          Index& after) {
  const Index out = (in + stride - 1) / stride;
  const Index total = std::max<Index>((out - 1) * stride + (kernel - 1) * dilation + 1 - in, 0);
  before = total / 2;
  after = total - before;
}

/// The padding `opts` asks for, resolved for an in_rows x in_cols input and a kernel.
inline Padding2d resolved_padding(const PlaneCase& c) {
  if (!c.opts.is_padding_same()) return c.opts.padding();
  Padding2d p;
  tf_same_split(c.in_rows, c.kernel_rows, c.opts.stride().rows, c.opts.dilation().rows, p.top,
                p.bottom);
  tf_same_split(c.in_cols, c.kernel_cols, c.opts.stride().cols, c.opts.dilation().cols, p.left,
                p.right);
  return p;
}

/// Which input sample padded coordinate i (relative to the unpadded origin) of an n-long axis
/// reads, or -1 for a zero. Written as the modes are usually explained (reflect: unfold the
/// mirror step by step), not as the library computes them.
inline Index source_by_hand(Index i, Index n, PaddingMode mode) {
  switch (mode) {
    case PaddingMode::zeros:
      return (i >= 0 && i < n) ? i : -1;
    case PaddingMode::replicate:
      return std::clamp<Index>(i, 0, n - 1);
    case PaddingMode::circular:
      return ((i % n) + n) % n;
    case PaddingMode::reflect:
      if (n == 1) return 0;
      while (i < 0 || i >= n) {
        if (i < 0) i = -i;
        if (i >= n) i = 2 * (n - 1) - i;
      }
      return i;
  }
  return -1;
}

/// `x` padded by `p` in `mode`, built element by element.
template <class S>
convtape::MatrixX<S> pad_by_hand(const convtape::MatrixX<S>& x, const Padding2d& p,
                                 PaddingMode mode) {
  convtape::MatrixX<S> out(x.rows() + p.top + p.bottom, x.cols() + p.left + p.right);
  for (Index i = 0; i < out.rows(); ++i) {
    for (Index j = 0; j < out.cols(); ++j) {
      const Index si = source_by_hand(i - p.top, x.rows(), mode);
      const Index sj = source_by_hand(j - p.left, x.cols(), mode);
      out(i, j) = (si < 0 || sj < 0) ? S(0) : x(si, sj);
    }
  }
  return out;
}

}  // namespace support
