// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// The im2col matrix of one image, without materializing it. Not for direct inclusion.
//
// A convolution is the product W (C_out x K) * col (K x P), where K = C_in * kh * kw counts
// (channel, tap) pairs and P = out_rows * out_cols output samples: col(k, p) is the padded input
// sample that tap k reads for output p. Stored as a matrix, col is kh * kw times the image.
//
// Instead, each channel is copied once, padded, into a "shifted layout" in which every row of col
// is a contiguous run starting at a per-tap offset. For stride 1 this is the padded plane itself:
// col(k = (c, a, b), p = (i, j)) = padded_c[(i + a*dil) * Wp + j + b*dil] = plane_c[offset_k + q]
// with q = i * Wp + j, so output samples are enumerated on a "wide grid" of Wp columns per row
// of which the first out_cols are real and the rest (a few columns per row) are computed and
// thrown away. For stride s the padded plane is split into s_r * s_c phase planes (rows i with
// i % s_r == phi_r, columns j % s_c == phi_c), which turns the strided access into a contiguous
// one in the same way. A GEMM kernel then reads col's rows straight from this copy through the
// offset table (`tap_offsets`), so the workspace is one padded copy of the image (about 1 / (kh *
// kw) of its im2col), and border handling (every padding mode) happens once, in the copy.
//
// The layout also serves shapes where the wide grid wastes too much (`pack_panel`: a tile of the
// real im2col, gathered through the same offsets) and the backward pass (`col2im_add`,
// `fold_into`).

#include <algorithm>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/detail/plane.hpp"

namespace convtape::detail {

/// Where each channel of one image lives in a shifted-layout buffer (see the file comment).
struct ShiftedLayout {
  Index channels = 0;
  Index phase_rows = 0;    ///< rows of one phase plane: ceil(padded_rows / stride.rows)
  Index phase_cols = 0;    ///< columns of one phase plane = the wide grid's row pitch
  Index channel_size = 0;  ///< elements per channel (all phase planes)
  Index out_rows = 0;      ///< real output rows
  Index out_cols = 0;      ///< real output columns (<= phase_cols)
  Index max_offset = 0;    ///< largest tap offset within a channel
  Index size = 0;          ///< elements to allocate, including the slack the last tiles read

  /// One past the last real output sample on the wide grid.
  Index grid_end() const { return (out_rows - 1) * phase_cols + out_cols; }
  /// Wide-grid samples per real output sample (1 = no waste).
  double waste() const { return double(grid_end()) / double(out_rows * out_cols); }
};

/// Layout of `channels` planes for the geometry `g`, for kernels that read up to `tile_cols`
/// consecutive wide-grid samples at once.
inline ShiftedLayout shifted_layout(const Conv2dGeometry& g, Index channels, Index tile_cols) {
  ShiftedLayout l;
  l.channels = channels;
  l.phase_rows = (g.padded_rows() + g.stride.rows - 1) / g.stride.rows;
  l.phase_cols = (g.padded_cols() + g.stride.cols - 1) / g.stride.cols;
  l.channel_size = g.stride.rows * g.stride.cols * l.phase_rows * l.phase_cols;
  l.out_rows = g.out_rows;
  l.out_cols = g.out_cols;
  const Index last_row = g.dilation.rows * (g.kernel_rows - 1);
  const Index last_col = g.dilation.cols * (g.kernel_cols - 1);
  // The last tap's offset is not always the largest (phases), so take the bound over all phases.
  l.max_offset = ((g.stride.rows * g.stride.cols - 1) * l.phase_rows + last_row / g.stride.rows) *
                     l.phase_cols +
                 last_col / g.stride.cols;
  // A tile starting at the last real sample reads up to tile_cols samples past it.
  const Index tiles_end = (l.grid_end() + tile_cols - 1) / tile_cols * tile_cols;
  const Index last_read = (channels - 1) * l.channel_size + l.max_offset + tiles_end + tile_cols;
  l.size = std::max(channels * l.channel_size, last_read);
  return l;
}

/// Offset of col's row k = (c, a, b), c < channels, in the order of an OIHW weight row.
inline std::vector<Index> tap_offsets(const ShiftedLayout& l, const Conv2dGeometry& g,
                                      Index channels) {
  std::vector<Index> offsets;
  offsets.reserve(static_cast<std::size_t>(channels * g.kernel_rows * g.kernel_cols));
  for (Index c = 0; c < channels; ++c) {
    for (Index a = 0; a < g.kernel_rows; ++a) {
      const Index r = a * g.dilation.rows;
      for (Index b = 0; b < g.kernel_cols; ++b) {
        const Index s = b * g.dilation.cols;
        const Index phase = (r % g.stride.rows) * g.stride.cols + s % g.stride.cols;
        offsets.push_back(c * l.channel_size +
                          (phase * l.phase_rows + r / g.stride.rows) * l.phase_cols +
                          s / g.stride.cols);
      }
    }
  }
  return offsets;
}

/// Copies `l.channels` row-major planes (x_rows x x_cols each, `plane_stride` apart) into the
/// shifted layout `buf`, padding them as `g` says (every padding mode, through `padded_index`).
/// `buf` must hold `l.size` elements and be zero-filled before the first call; later calls
/// rewrite the same positions, so a buffer can be reused across images.
template <class S>
void fill_shifted(const S* x, Index plane_stride, const Conv2dGeometry& g, const ShiftedLayout& l,
                  S* buf) {
  const Index sr = g.stride.rows;
  const Index sc = g.stride.cols;
  const Index wp = g.padded_cols();
  std::vector<Index> col_source(static_cast<std::size_t>(wp));
  for (Index j = 0; j < wp; ++j) col_source[j] = padded_index(j - g.pad.left, g.in_cols, g.mode);
  std::vector<S> row(static_cast<std::size_t>(sc == 1 ? 0 : wp));
  for (Index c = 0; c < l.channels; ++c) {
    const S* plane = x + c * plane_stride;
    S* channel = buf + c * l.channel_size;
    for (Index i = 0; i < g.padded_rows(); ++i) {
      const Index si = padded_index(i - g.pad.top, g.in_rows, g.mode);
      const S* src = si < 0 ? nullptr : plane + si * g.in_cols;
      const Index phase_row = (i % sr) * sc;
      const Index row_in_phase = i / sr;
      // With unit column stride the padded row goes straight to its place; otherwise it is built
      // once and dealt out to the column phases.
      S* padded =
          sc == 1 ? channel + (phase_row * l.phase_rows + row_in_phase) * l.phase_cols : row.data();
      if (src == nullptr) {
        std::fill(padded, padded + wp, S(0));
      } else {
        std::copy(src, src + g.in_cols, padded + g.pad.left);
        for (Index j = 0; j < g.pad.left; ++j) {
          padded[j] = col_source[j] < 0 ? S(0) : src[col_source[j]];
        }
        for (Index j = g.pad.left + g.in_cols; j < wp; ++j) {
          padded[j] = col_source[j] < 0 ? S(0) : src[col_source[j]];
        }
      }
      if (sc == 1) continue;
      for (Index pc = 0; pc < sc; ++pc) {
        S* dst = channel + ((phase_row + pc) * l.phase_rows + row_in_phase) * l.phase_cols;
        for (Index jj = 0, j = pc; j < wp; ++jj, j += sc) dst[jj] = padded[j];
      }
    }
  }
}

/// Gathers the im2col tile col(k, p0 + j), k < offsets.size(), j < cols (zero for p >= P) into
/// `panel` (row-major, `cols` per row), reading the shifted-layout `buf`.
template <class S>
void pack_panel(const S* buf, const ShiftedLayout& l, const std::vector<Index>& offsets, Index p0,
                Index cols, S* panel) {
  const Index total = l.out_rows * l.out_cols;
  std::vector<Index> grid(static_cast<std::size_t>(cols));
  const Index real = std::min(cols, total - p0);
  for (Index j = 0; j < real; ++j) {
    const Index p = p0 + j;
    grid[j] = (p / l.out_cols) * l.phase_cols + p % l.out_cols;
  }
  for (std::size_t k = 0; k < offsets.size(); ++k) {
    const S* row = buf + offsets[k];
    S* out = panel + static_cast<Index>(k) * cols;
    for (Index j = 0; j < real; ++j) out[j] = row[grid[j]];
    std::fill(out + real, out + cols, S(0));
  }
}

/// The adjoint of the im2col gather for a tile: for k < kernel taps of `channels` channels and
/// the `cols` output samples p0, p0 + 1, ..., adds col(k, p - p0) (row-major, pitch `ld`) into the
/// padded planes `dxp` (padded_rows x padded_cols each, contiguous) at the sample tap k of
/// output p reads.
template <class S>
void col2im_add(const S* col, Index ld, Index p0, Index cols, const Conv2dGeometry& g,
                Index channels, S* dxp) {
  const Index wp = g.padded_cols();
  const Index plane = g.padded_rows() * wp;
  const Index out_cols = g.out_cols;
  Index k = 0;
  for (Index c = 0; c < channels; ++c) {
    for (Index a = 0; a < g.kernel_rows; ++a) {
      for (Index b = 0; b < g.kernel_cols; ++b, ++k) {
        const S* src = col + k * ld;
        S* dst = dxp + c * plane + a * g.dilation.rows * wp + b * g.dilation.cols;
        // Walk the tile one output row segment at a time.
        for (Index j = 0; j < cols;) {
          const Index p = p0 + j;
          const Index oi = p / out_cols;
          const Index oj = p % out_cols;
          const Index run = std::min(cols - j, out_cols - oj);
          S* d = dst + oi * g.stride.rows * wp + oj * g.stride.cols;
          if (g.stride.cols == 1) {
            for (Index t = 0; t < run; ++t) d[t] += src[j + t];
          } else {
            for (Index t = 0; t < run; ++t) d[t * g.stride.cols] += src[j + t];
          }
          j += run;
        }
      }
    }
  }
}

/// dx (in_rows x in_cols, row-major, contiguous) += the gradient `dxp` of the padded plane
/// (padded_rows x padded_cols, contiguous) folded back onto the input: the interior directly and
/// each border sample onto the input sample it was read from (nothing for zero padding).
template <class S>
void fold_into(const S* dxp, const Conv2dGeometry& g, S* dx) {
  const Index wp = g.padded_cols();
  for (Index i = 0; i < g.in_rows; ++i) {
    const S* src = dxp + (i + g.pad.top) * wp + g.pad.left;
    S* dst = dx + i * g.in_cols;
    for (Index j = 0; j < g.in_cols; ++j) dst[j] += src[j];
  }
  if (g.mode == PaddingMode::zeros) return;
  for_each_border_run(g, [&](Index i, Index j0, Index j1) {
    const Index si = padded_index(i - g.pad.top, g.in_rows, g.mode);
    for (Index j = j0; j < j1; ++j) {
      const Index sj = padded_index(j - g.pad.left, g.in_cols, g.mode);
      if (si >= 0 && sj >= 0) dx[si * g.in_cols + sj] += dxp[i * wp + j];
    }
  });
}

}  // namespace convtape::detail
