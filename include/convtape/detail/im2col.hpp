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
// The layout also serves shapes where the wide grid wastes too much (`shifted_conv.hpp` gathers
// tiles of the real im2col through the same offsets) and the backward pass (`col2im_add`).

#include <algorithm>
#include <numeric>
#include <type_traits>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/detail/disable_warnings.hpp"
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

/// Which of the `stride` phases a kernel of `taps` taps `dilation` apart reads (phase p holds the
/// padded samples p, p + stride, ...): all of them unless the taps are few or stride-aligned (a
/// 1x1 kernel with stride 2 reads one column phase of two, one row phase of two).
inline std::vector<bool> phases_read(Index taps, Index dilation, Index stride) {
  std::vector<bool> read(static_cast<std::size_t>(stride), false);
  for (Index a = 0; a < taps; ++a) read[static_cast<std::size_t>(a * dilation % stride)] = true;
  return read;
}

/// How many phases `phases_read` marks, without building the list: the taps read the residues
/// a * dilation mod stride, the multiples of gcd(dilation, stride), a new one for each of the
/// first stride / gcd taps.
inline Index phases_read_count(Index taps, Index dilation, Index stride) {
  return std::min(taps, stride / std::gcd(dilation, stride));
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

/// dst[k] = src[k] for k < n, whole packets of type `Packet` (the last one overlapping its
/// neighbour) where n holds at least one, else the largest of its halves that fits (two of them,
/// overlapping: n is below a whole packet then), scalars only below the smallest: short rows are
/// copied without a scalar tail or a library call.
template <class S, class Packet = typename Eigen::internal::packet_traits<S>::type>
void copy_row(S* dst, const S* src, Index n) {
  using namespace Eigen::internal;
  using Half = typename unpacket_traits<Packet>::half;
  constexpr Index P = packet_traits<S>::Vectorizable ? Index(unpacket_traits<Packet>::size) : 1;
  constexpr Index H = packet_traits<S>::Vectorizable ? Index(unpacket_traits<Half>::size) : 1;
  if (n < P) {
    if constexpr (H < P) {
      copy_row<S, Half>(dst, src, n);
    } else {
      for (Index k = 0; k < n; ++k) dst[k] = src[k];
    }
    return;
  }
  for (Index k = 0; k + P < n; k += P) pstoreu(dst + k, ploadu<Packet>(src + k));
  pstoreu(dst + n - P, ploadu<Packet>(src + n - P));
}

/// dst[k] = src[k * Stride] for k < n; the compile-time stride lets the compiler vectorize it.
template <int Stride, class S>
void copy_strided(S* dst, const S* src, Index n) {
  for (Index k = 0; k < n; ++k) dst[k] = src[k * Stride];
}

/// even[k] = src[2k] for k < (n + 1) / 2 and odd[k] = src[2k + 1] for k < n / 2: a row of n
/// samples split into its two column phases in one pass (two strided copies would each read
/// the whole row and each pay a short loop's setup).
template <class S>
void split_pairs(const S* src, Index n, S* even, S* odd) {
  const Index pairs = n / 2;
  for (Index k = 0; k < pairs; ++k) {
    even[k] = src[2 * k];
    odd[k] = src[2 * k + 1];
  }
  if (n % 2 != 0) even[pairs] = src[n - 1];
}

/// to[k] += from[k] for k < n in whole packets of type `Packet`, the rest in its halves (at most
/// one of each size), scalars only below the smallest: for the short runs (a row of a small
/// plane) where a compiler's vectorized loop would run its scalar tail. Unlike `copy_row`, no
/// packet may overlap another: each sample is added once.
template <class S, class Packet = typename Eigen::internal::packet_traits<S>::type>
EIGEN_ALWAYS_INLINE void add_run(const S* from, Index n, S* to) {
  using namespace Eigen::internal;
  using Half = typename unpacket_traits<Packet>::half;
  constexpr Index P = unpacket_traits<Packet>::size;
  constexpr Index H = unpacket_traits<Half>::size;
  Index k = 0;
  for (; k + P <= n; k += P) {
    pstoreu(to + k, padd(ploadu<Packet>(to + k), ploadu<Packet>(from + k)));
  }
  if constexpr (H < P) {
    add_run<S, Half>(from + k, n - k, to + k);
  } else {
    for (; k < n; ++k) to[k] += from[k];
  }
}

/// to[2u] += even[u] and to[2u + 1] += odd[u] for every such index below n: a row's two column
/// phases added back in column order (the adjoint of `split_pairs`). For float and double, in
/// packets of pairs: each phase's half packet loaded with every sample twice (`ploaddup`), the
/// even lanes kept from one and the odd lanes from the other (`pselect`); then in the halves of
/// the packet, then scalars. Each sample is added once, as the scalar loop adds it.
template <class S, class Packet = typename Eigen::internal::packet_traits<S>::type>
void add_pairs(const S* even, const S* odd, Index n, S* to) {
  using namespace Eigen::internal;
  using Half = typename unpacket_traits<Packet>::half;
  constexpr Index P = unpacket_traits<Packet>::size;
  constexpr Index H = unpacket_traits<Half>::size;
  Index t = 0;
  Index u = 0;
  // Eigen's float and double packets have ploaddup and pselect; its integer ones need not.
  if constexpr (std::is_floating_point_v<S> && P > 1) {
    const Packet even_lanes = peven_mask(pset1<Packet>(S(0)));
    for (; t + P <= n; t += P, u += P / 2) {
      const Packet pairs =
          pselect(even_lanes, ploaddup<Packet>(even + u), ploaddup<Packet>(odd + u));
      pstoreu(to + t, padd(ploadu<Packet>(to + t), pairs));
    }
    if constexpr (H < P) {
      add_pairs<S, Half>(even + u, odd + u, n - t, to + t);
      return;
    }
  }
  for (; t + 1 < n; t += 2, ++u) {
    to[t] += even[u];
    to[t + 1] += odd[u];
  }
  if (t < n) to[t] += even[u];
}

/// One input row (`g.in_cols` samples) padded as `g` says into dst[0, g.padded_cols()): the
/// interior copied, each border column from the input column `col_source` names for it (negative: a
/// zero, every padding mode through `padded_index`). The zeros of zero padding are written only
/// with `write_zeros` (a buffer whose borders are zero already is left alone there). Inline: the
/// rows of a small plane are a few samples each.
template <class S>
EIGEN_ALWAYS_INLINE void pad_row(const S* src, const Conv2dGeometry& g, const Index* col_source,
                                 S* dst, bool write_zeros) {
  copy_row(dst + g.pad.left, src, g.in_cols);
  if (g.mode == PaddingMode::zeros && !write_zeros) return;
  auto border = [&](Index j) { return col_source[j] < 0 ? S(0) : src[col_source[j]]; };
  for (Index j = 0; j < g.pad.left; ++j) dst[j] = border(j);
  for (Index j = g.pad.left + g.in_cols; j < g.padded_cols(); ++j) dst[j] = border(j);
}

/// Copies `l.channels` row-major planes (in_rows x in_cols each, `plane_stride` apart) into the
/// shifted layout, padding them as `g` says (every padding mode, through `padded_index`). Built
/// once per layout; the call operators are const, so threads can share one. A buffer must hold
/// `l.size` elements and be zero-filled before its first use; later calls rewrite the same
/// positions (zero borders are never touched), so a buffer can be reused across images.
template <class S>
class ShiftedFill {
 public:
  ShiftedFill(const Conv2dGeometry& g, const ShiftedLayout& l)
      : g_(g),
        l_(l),
        col_source_(static_cast<std::size_t>(g.padded_cols())),
        row_phases_(phases_read(g.kernel_rows, g.dilation.rows, g.stride.rows)),
        col_phases_(phases_read(g.kernel_cols, g.dilation.cols, g.stride.cols)) {
    for (Index j = 0; j < g.padded_cols(); ++j) {
      col_source_[j] = padded_index(j - g.pad.left, g.in_cols, g.mode);
    }
    // Column phase pc holds padded columns pc, pc + sc, ...; of those, [begin, stop) fall inside
    // the input row.
    const Index sc = g.stride.cols;
    for (Index pc = 0; pc < sc; ++pc) {
      phase_begin_.push_back((std::max<Index>(g.pad.left - pc, 0) + sc - 1) / sc);
      phase_stop_.push_back((g.pad.left + g.in_cols - pc + sc - 1) / sc);
    }
  }

  /// Every row into `buf` (layout `l`).
  void operator()(const S* x, Index plane_stride, S* buf) const {
    rows(x, plane_stride, buf, l_, 0, g_.padded_rows());
  }

  /// Padded rows [first, end) only (first a multiple of the row stride) into `band`, a buffer with
  /// the layout of `l` except for its `band_layout.phase_rows`: padded row i goes to phase row
  /// (i - first) / stride.rows. Rows past the padded input are left alone.
  void rows(const S* x, Index plane_stride, S* band, const ShiftedLayout& band_layout, Index first,
            Index end) const {
    const Conv2dGeometry& g = g_;
    const Index sr = g.stride.rows;
    const Index sc = g.stride.cols;
    const Index wp = g.padded_cols();
    const Index phase_plane = band_layout.phase_rows * band_layout.phase_cols;
    const bool fill_borders = g.mode != PaddingMode::zeros;
    end = std::min(end, g.padded_rows());
    // The input rows of one channel are a short run far from the next channel's: ask for the
    // next channel's rows while copying this one's, or every channel waits on memory.
    const Index line = std::max<Index>(1, Index(64 / sizeof(S)));
    auto prefetch_channel = [&](Index c) {
      if (c >= l_.channels) return;
      const Index r0 = std::max<Index>(first - g.pad.top, 0);
      const Index r1 = std::min<Index>(end - g.pad.top, g.in_rows);
      if (r1 <= r0) return;
      const S* from = x + c * plane_stride + r0 * g.in_cols;
      for (Index k = 0; k < (r1 - r0) * g.in_cols; k += line) Eigen::internal::prefetch(from + k);
    };
    prefetch_channel(0);
    for (Index c = 0; c < l_.channels; ++c) {
      prefetch_channel(c + 1);
      const S* plane = x + c * plane_stride;
      S* channel = band + c * band_layout.channel_size;
      // Padded row i = first + row_in_phase * sr + phase; both tracked without dividing.
      Index phase = 0;
      Index row_in_phase = 0;
      for (Index i = first; i < end; ++i, phase == sr - 1 ? (phase = 0, ++row_in_phase) : ++phase) {
        if (!row_phases_[static_cast<std::size_t>(phase)]) continue;  // no tap reads these rows
        const Index si = padded_index(i - g.pad.top, g.in_rows, g.mode);
        S* dst = channel + phase * sc * phase_plane + row_in_phase * band_layout.phase_cols;
        if (si < 0) {  // a zero row (zeroed again: a band buffer may hold another band's data)
          for (Index pc = 0; pc < sc; ++pc) {
            std::fill(dst + pc * phase_plane, dst + pc * phase_plane + band_layout.phase_cols,
                      S(0));
          }
          continue;
        }
        const S* src = plane + si * g.in_cols;
        if (sc == 1) {
          pad_row(src, g, col_source_.data(), dst, false);
          continue;
        }
        // Column phase pc holds padded columns pc, pc + sc, ...: the interior ones are a strided
        // copy of the input row, the border ones (outside [left, left + in_cols)) follow the mode.
        // With stride 2 and both phases read, one pass splits the row: the even input columns go
        // to phase left % 2, the odd ones to the other.
        const bool split = sc == 2 && col_phases_[0] && col_phases_[1];
        if (split) {
          const Index pe = g.pad.left % 2;
          split_pairs(src, g.in_cols, dst + pe * phase_plane + phase_begin_[pe],
                      dst + (1 - pe) * phase_plane + phase_begin_[1 - pe]);
          if (!fill_borders) continue;
        }
        for (Index pc = 0; pc < sc; ++pc, dst += phase_plane) {
          if (!col_phases_[static_cast<std::size_t>(pc)]) continue;
          const Index begin = phase_begin_[pc];
          const Index stop = phase_stop_[pc];
          const S* from = src + begin * sc + pc - g.pad.left;
          if (!split) {
            if (sc == 2) {
              copy_strided<2>(dst + begin, from, stop - begin);
            } else {
              for (Index jj = begin; jj < stop; ++jj) dst[jj] = from[(jj - begin) * sc];
            }
          }
          if (!fill_borders) continue;
          for (Index jj = 0; jj < begin; ++jj) dst[jj] = border(src, jj * sc + pc);
          for (Index jj = stop, j = stop * sc + pc; j < wp; ++jj, j += sc) dst[jj] = border(src, j);
        }
      }
    }
  }

 private:
  S border(const S* src, Index j) const { return col_source_[j] < 0 ? S(0) : src[col_source_[j]]; }

  Conv2dGeometry g_;
  ShiftedLayout l_;
  std::vector<Index> col_source_;  // padded column -> input column, or -1 for a zero
  std::vector<Index> phase_begin_;
  std::vector<Index> phase_stop_;
  std::vector<bool> row_phases_;  // the phases some tap reads (`phases_read`); the others are
  std::vector<bool> col_phases_;  // never filled
};

/// The rows of the padded planes that `col2im_add` adds into, each stored by column phase: with
/// s phases, padded column j at `at(j)` = (j % s) * phase_stride + j / s (phase_stride =
/// phase_cols: the phases side by side in one row). With s the column stride, the samples one tap
/// adds along an output row are adjacent, as in the forward's phase planes, and the adds run in
/// packets; `add_row` puts a row back in column order, one pass per padded sample. That pass costs
/// more than it saves unless an output row holds a packet and the taps write every phase: s = 1
/// (plain rows, strided adds) otherwise. A row of the forward's phase planes themselves (its
/// column phases a plane apart) is read back the same way.
struct PhasedRows {
  Index stride = 1;        ///< column phases
  Index phase_cols = 0;    ///< columns per phase: ceil(padded_cols / stride)
  Index phase_stride = 0;  ///< from one phase's row to the next phase's: phase_cols in a row

  template <class S>
  static PhasedRows of(const Conv2dGeometry& g) {
    using Packet = typename Eigen::internal::packet_traits<S>::type;
    const bool split =
        g.out_cols >= Eigen::internal::unpacket_traits<Packet>::size &&
        phases_read_count(g.kernel_cols, g.dilation.cols, g.stride.cols) == g.stride.cols;
    return PhasedRows(split ? g.stride.cols : 1, g.padded_cols());
  }

  PhasedRows(Index phases, Index cols)
      : stride(phases), phase_cols((cols + phases - 1) / phases), phase_stride(phase_cols) {}
  /// A row of the forward's phase planes (`ShiftedLayout` l): its column phases a plane apart.
  explicit PhasedRows(const ShiftedLayout& l, Index phases)
      : stride(phases), phase_cols(l.phase_cols), phase_stride(l.phase_rows * l.phase_cols) {}

  Index pitch() const { return stride * phase_cols; }
  Index at(Index j) const { return j % stride * phase_stride + j / stride; }

  /// to[t] += row[at(j0 + t)] for t < n.
  template <class S>
  void add_row(const S* row, Index j0, Index n, S* to) const {
    if (stride == 1) {
      add_run(row + j0, n, to);
      return;
    }
    if (stride == 2) {  // both phases in one pass (the adjoint of `split_pairs`), no division
      Index t = 0;
      if (j0 % 2 != 0 && n > 0) to[t++] += row[phase_stride + j0 / 2];
      const S* even = row + (j0 + t) / 2;  // j0 + t is even
      add_pairs(even, even + phase_stride, n - t, to + t);
      return;
    }
    for (Index q = 0; q < stride && q < n; ++q) {
      const S* from = row + at(j0 + q);
      for (Index t = q, u = 0; t < n; t += stride, ++u) to[t] += from[u];
    }
  }
};

/// The adjoint of the im2col gather for a tile: for k < kernel taps of `channels` channels and
/// the `cols` output samples p0, p0 + 1, ..., adds col(k, p - p0) (row-major, pitch `ld`) into the
/// padded planes `padded_grad_input` (padded_rows rows of `rows.pitch()` each, contiguous, laid
/// out as `rows` says, with one phase or g.stride.cols) at the sample tap k of output p reads.
template <class S>
void col2im_add(const S* col, Index ld, Index p0, Index cols, const Conv2dGeometry& g,
                const PhasedRows& rows, Index channels, S* padded_grad_input) {
  const Index pitch = rows.pitch();
  const Index plane = g.padded_rows() * pitch;
  const Index step = g.stride.cols / rows.stride;  // along a row per output column
  // The tile's output samples as runs within output rows: (first column in the tile, offset of
  // the run's first sample for tap (0, 0), length).
  struct Run {
    Index j, offset, length;
  };
  std::vector<Run> runs;
  for (Index j = 0, oi = p0 / g.out_cols, oj = p0 % g.out_cols; j < cols; ++oi, oj = 0) {
    const Index length = std::min(cols - j, g.out_cols - oj);
    runs.push_back({j, oi * g.stride.rows * pitch + oj * step, length});
    j += length;
  }
  Index k = 0;
  for (Index c = 0; c < channels; ++c) {
    for (Index a = 0; a < g.kernel_rows; ++a) {
      for (Index b = 0; b < g.kernel_cols; ++b, ++k) {
        const S* src = col + k * ld;
        S* dst = padded_grad_input + c * plane + a * g.dilation.rows * pitch +
                 rows.at(b * g.dilation.cols);
        for (const Run& run : runs) {
          if (step == 1) {
            add_run(src + run.j, run.length, dst + run.offset);
          } else {
            S* d = dst + run.offset;
            for (Index t = 0; t < run.length; ++t) d[t * step] += src[run.j + t];
          }
        }
      }
    }
  }
}

}  // namespace convtape::detail

#include "convtape/detail/reenable_warnings.hpp"
