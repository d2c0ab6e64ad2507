// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Winograd's minimal filtering F(2x2, 3x3) for 3x3, stride-1, undilated correlations (Lavin and
// Gray, "Fast Algorithms for Convolutional Neural Networks", 2016). Not for direct inclusion.
//
// The output is cut into 2x2 tiles; tile t reads a 4x4 input tile d (rows 2i .. 2i + 3, columns
// 2j .. 2j + 3 of the padded input). With the kernel g transformed once, U = G g G^T, and every
// input tile transformed, V = B^T d B, the 2x2 output tile is A^T (U (.) V) A, where (.) is the
// elementwise product; summed over input channels, that elementwise product becomes 16
// independent GEMMs M[xi] = U[xi] (C_out x C_in) * V[xi] (C_in x tiles), one per position xi of
// the 4x4 transform. That is 16 multiplications per 4 outputs instead of 36: 2.25 times fewer
// than the direct correlation, for a few additions in the transforms.
//
//   B^T = [1  0 -1  0]    G = [ 1    0    0 ]    A^T = [1  1  1  0]
//         [0  1  1  0]        [1/2  1/2  1/2]          [0  1 -1 -1]
//         [0 -1  1  0]        [1/2 -1/2  1/2]
//         [0  1  0 -1]        [ 0    0    1 ]
//
// The coefficients are 0, +-1 and +-1/2, so rounding stays close to the direct sum's (the tests
// hold it to the same tolerance). A non-finite input sample, though, reaches all four outputs of
// the tiles that read it (through the transforms), not only the outputs whose window holds it.
//
// Input tiles overlap by two samples and start at even coordinates: reading the padded input
// through the stride-2 shifted layout of `im2col.hpp` (a "4x4 kernel with stride 2"), the 16
// samples d(a, b) of consecutive tiles are 16 contiguous runs, so both transforms are vectorized
// across tiles. `winograd_conv` drives the transforms and the 16 GEMMs over a batch, with the
// interface of `shifted_conv.hpp`'s `shifted_conv`.

#include <algorithm>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/detail/disable_warnings.hpp"
#include "convtape/detail/gemm.hpp"
#include "convtape/detail/im2col.hpp"
#include "convtape/detail/parallel.hpp"
#include "convtape/detail/scratch.hpp"
#include "convtape/detail/shifted_conv.hpp"

namespace convtape::detail {

/// Whether F(2x2, 3x3) computes the correlation of geometry `g`: a 3x3 kernel, stride 1, no
/// dilation.
inline bool winograd_fits(const Conv2dGeometry& g) {
  return g.kernel_rows == 3 && g.kernel_cols == 3 && g.stride == Size2(1, 1) &&
         g.dilation == Size2(1, 1);
}

/// Whether the transforms are exact enough for scalar type `S`: not for integers (G holds halves);
/// those compute through `implicit_gemm` instead.
template <class S>
constexpr bool winograd_exact_for() {
  return !Eigen::NumTraits<S>::IsInteger;
}

/// The geometry of the input tiles of `g`: a 4x4 "kernel" with stride 2 over the input padded as
/// in `g`, plus one more row / column at the bottom / right when the output has an odd number of
/// rows / columns (the outputs of that extra row are computed and dropped). Its output extent is
/// the tile grid, ceil(out / 2) per dimension.
inline Conv2dGeometry winograd_tile_geometry(const Conv2dGeometry& g) {
  Conv2dGeometry t = g;
  t.kernel_rows = 4;
  t.kernel_cols = 4;
  t.stride = {2, 2};
  t.pad.bottom += g.out_rows % 2;
  t.pad.right += g.out_cols % 2;
  t.out_rows = (g.out_rows + 1) / 2;
  t.out_cols = (g.out_cols + 1) / 2;
  return t;
}

/// Kernels transformed together by `winograd_kernel_transform`, and stored together as one
/// contiguous run per Winograd matrix (16 floats: a 64-byte cache line).
constexpr Index kWinogradKernels = 16;

/// u[xi][c] (xi: row-major 4x4) = G k_c G^T for kWinogradKernels 3x3 kernels, k_c(a, b) =
/// k[a * 3 + b][c]: the kernels side by side, so that every step is one vectorizable loop over c.
template <class S>
void winograd_kernel_transform(const S (&k)[9][kWinogradKernels], S (&u)[16][kWinogradKernels]) {
  constexpr Index C = kWinogradKernels;
  const S half(0.5);
  S t[4][3][C];  // G k
  for (int b = 0; b < 3; ++b) {
    for (Index c = 0; c < C; ++c) {
      t[0][b][c] = k[b][c];
      t[1][b][c] = half * (k[b][c] + k[3 + b][c] + k[6 + b][c]);
      t[2][b][c] = half * (k[b][c] - k[3 + b][c] + k[6 + b][c]);
      t[3][b][c] = k[6 + b][c];
    }
  }
  for (int a = 0; a < 4; ++a) {
    for (Index c = 0; c < C; ++c) {
      u[a * 4 + 0][c] = t[a][0][c];
      u[a * 4 + 1][c] = half * (t[a][0][c] + t[a][1][c] + t[a][2][c]);
      u[a * 4 + 2][c] = half * (t[a][0][c] - t[a][1][c] + t[a][2][c]);
      u[a * 4 + 3][c] = t[a][2][c];
    }
  }
}

/// V = B^T d B for `count` consecutive tiles (a multiple of the packet size): input sample
/// d(a, b) of tile q is src[offsets[a * 4 + b] + q]; V[xi] of tile q goes to v[xi * v_stride + q].
template <class S>
void winograd_input_transform(const S* src, const Index* offsets, Index count, S* v,
                              Index v_stride) {
  using namespace Eigen::internal;
  using Packet = typename PacketOf<S>::type;
  constexpr int P = PacketOf<S>::size;
  for (Index q = 0; q < count; q += P) {
    Packet t[4][4];  // B^T d, column by column
    for (int b = 0; b < 4; ++b) {
      const Packet d0 = ploadu<Packet>(src + offsets[0 + b] + q);
      const Packet d1 = ploadu<Packet>(src + offsets[4 + b] + q);
      const Packet d2 = ploadu<Packet>(src + offsets[8 + b] + q);
      const Packet d3 = ploadu<Packet>(src + offsets[12 + b] + q);
      t[0][b] = psub(d0, d2);
      t[1][b] = padd(d1, d2);
      t[2][b] = psub(d2, d1);
      t[3][b] = psub(d1, d3);
    }
    for (int a = 0; a < 4; ++a) {
      S* row = v + Index{a} * 4 * v_stride + q;
      pstoreu(row, psub(t[a][0], t[a][2]));
      pstoreu(row + v_stride, padd(t[a][1], t[a][2]));
      pstoreu(row + 2 * v_stride, psub(t[a][2], t[a][1]));
      pstoreu(row + 3 * v_stride, psub(t[a][1], t[a][3]));
    }
  }
}

/// The 2x2 outputs A^T M A (+ bias) of the tiles q0 ... q0 + count - 1 of one tile row, M[xi] of
/// tile q at m[xi * m_stride + q]; output (r, c) of a tile goes to row r of `out` (rows `ld` apart)
/// at column 2 * (q - q0) + c, keeping only the first `out_cols` columns and `out_rows` rows (1 or
/// 2: the last tile row of an odd output).
template <class S>
void winograd_output_transform(const S* m, Index m_stride, Index q0, Index count, S bias, S* out,
                               Index ld, Index out_rows, Index out_cols) {
  using namespace Eigen::internal;
  using Packet = typename PacketOf<S>::type;
  constexpr int P = PacketOf<S>::size;
  const Packet b = pset1<Packet>(bias);
  for (Index q = 0; q < count; q += P) {
    Packet s[2][4];  // A^T M, column by column
    for (int c = 0; c < 4; ++c) {
      const Packet m0 = ploadu<Packet>(m + (0 + c) * m_stride + q0 + q);
      const Packet m1 = ploadu<Packet>(m + (4 + c) * m_stride + q0 + q);
      const Packet m2 = ploadu<Packet>(m + (8 + c) * m_stride + q0 + q);
      const Packet m3 = ploadu<Packet>(m + (12 + c) * m_stride + q0 + q);
      s[0][c] = padd(padd(m0, m1), m2);
      s[1][c] = psub(psub(m1, m2), m3);
    }
    // Interleave the two output columns of each tile into the output rows.
    const Index cols = std::min<Index>(Index{2} * P, out_cols - 2 * q);
    for (Index r = 0; r < out_rows; ++r) {
      S left[P];
      S right[P];
      pstoreu(left, padd(padd(padd(s[r][0], s[r][1]), s[r][2]), b));
      pstoreu(right, padd(psub(psub(s[r][1], s[r][2]), s[r][3]), b));
      S* dst = out + r * ld + 2 * q;
      const Index pairs = cols / 2;
      for (Index l = 0; l < pairs; ++l) {
        dst[2 * l] = left[l];
        dst[2 * l + 1] = right[l];
      }
      if (cols % 2 != 0) dst[cols - 1] = left[pairs];
    }
  }
}

/// Tile-grid positions per Winograd work item (rounded to whole tile rows): the item's transformed
/// input and GEMM output (16 x channels x positions each) then stay in the L2 cache.
constexpr Index kWinogradChunk = 64;

/// `shifted_conv`'s correlation for 3x3, stride-1, undilated geometries, computed with Winograd's
/// F(2x2, 3x3): items are (image, group, chunk of tile rows, block of output channels), all of
/// them in one parallel loop on at most `threads` threads; per item the input tiles of every
/// channel of the group are transformed, the 16 GEMMs of its output channels run on the packet
/// kernel of `gemm.hpp`, and the output transform writes the 2x2 output tiles into `out` (dense
/// rows: out.ld == g.out_cols).
template <class S, class WeightAt>
void winograd_conv(const S* src_images, Index src_image, const Conv2dGeometry& g, Index batch,
                   Index groups, Index in_per_group, Index out_per_group, WeightAt&& weight_at,
                   const S* bias, const BatchPlanes<S>& out, int threads) {
  using Block = GemmBlock<S>;
  constexpr int MR = Block::mr;
  constexpr Index NR = Block::nr;
  constexpr Index P = PacketOf<S>::size;
  CONVTAPE_ASSERT(winograd_fits(g));
  const Conv2dGeometry t = winograd_tile_geometry(g);

  // Tile rows and output channels per item, and the item's row pitch in the transformed buffers.
  // Where the batch gives too few items for the threads (kItemsPerThread each), fewer rows or
  // fewer output channels per item, whichever adds less work: another chunk of rows streams its
  // group's transformed weights (16 x out x in) again, another block of output channels
  // transforms the input tiles of the image (16 x in x positions) again.
  const Index pitch = (t.padded_cols() + 1) / 2;  // the shifted layout's phase_cols
  const Index want = threads > 1 ? kItemsPerThread * threads : 1;
  const Index min_block = std::min<Index>(out_per_group, MR);
  Index rows_per_item = std::max<Index>(1, kWinogradChunk / pitch);
  Index o_block = out_per_group;
  auto blocks = [](Index total, Index block) { return (total + block - 1) / block; };
  while (batch * groups * blocks(t.out_rows, rows_per_item) * blocks(out_per_group, o_block) <
         want) {
    const bool rows_can = rows_per_item > 1;
    const bool block_can = o_block > min_block;
    if (!rows_can && !block_can) break;
    const double more_rows =
        double(blocks(t.out_rows, rows_per_item)) * double(out_per_group) * double(in_per_group);
    const double more_blocks =
        double(blocks(out_per_group, o_block)) * double(in_per_group) * double(t.out_rows * pitch);
    if (rows_can && (!block_can || more_rows <= more_blocks)) {
      rows_per_item = (rows_per_item + 1) / 2;
    } else {
      o_block = std::max(min_block, (o_block / 2 + MR - 1) / MR * MR);
    }
  }
  const Index o_blocks = blocks(out_per_group, o_block);
  const Index ld = (rows_per_item * pitch + NR - 1) / NR * NR;
  // Each item fills only the band of padded rows its tiles read (2 per tile row, plus 2), for one
  // group's channels: the band stays in the cache from the fill through the input transform.
  const ShiftedLayout layout = shifted_layout(t, in_per_group, ld);
  CONVTAPE_ASSERT(layout.phase_cols == pitch);
  ShiftedLayout band = layout;
  band.phase_rows = rows_per_item + 1;
  band.channel_size = 4 * band.phase_rows * pitch;
  band.size = in_per_group * band.channel_size + ld + 3 * band.phase_rows * pitch + 2 * pitch;
  const ShiftedFill<S> fill(t, layout);
  const std::vector<Index> tile_offsets = tap_offsets(band, t, 1);  // the 16 samples of a tile
  std::vector<Index> v_offsets(static_cast<std::size_t>(in_per_group));
  for (Index c = 0; c < in_per_group; ++c) v_offsets[c] = c * ld;

  // U = G k G^T for every kernel, stored per (group, xi) as a row-major out_per_group x
  // in_per_group matrix: the left operands of the 16 GEMMs, read in place. In parallel for large
  // weights.
  // The 16 matrices lie a multiple of 4 KiB apart for many channel counts, so storing a kernel's
  // 16 values one by one would keep evicting the same cache sets: the kernels of a run of
  // kWinogradKernels input channels are transformed into a small buffer first, then stored as
  // 16 contiguous runs. Every element of u is written.
  const Index u_size = out_per_group * in_per_group;
  const Scratch<S, ScratchSlot::winograd_weights> u(groups * 16 * u_size);
  const int team = groups * u_size >= (Index{1} << 12) ? threads : 1;
  parallel_blocks(groups * out_per_group, team, [&](Index begin, Index end, int) {
    S k[9][kWinogradKernels] = {};  // lanes past a last short run stay zero
    S transformed[16][kWinogradKernels];
    for (Index row = begin; row < end; ++row) {
      const Index grp = row / out_per_group;
      const Index o = row % out_per_group;
      for (Index c0 = 0; c0 < in_per_group; c0 += kWinogradKernels) {
        const Index run = std::min(kWinogradKernels, in_per_group - c0);
        for (Index c = 0; c < run; ++c) {
          for (Index tap = 0; tap < 9; ++tap) k[tap][c] = weight_at(grp, o, (c0 + c) * 9 + tap);
        }
        winograd_kernel_transform(k, transformed);
        for (Index xi = 0; xi < 16; ++xi) {
          std::copy(transformed[xi], transformed[xi] + run,
                    u.data() + (grp * 16 + xi) * u_size + o * in_per_group + c0);
        }
      }
    }
  });

  const Index chunks = blocks(t.out_rows, rows_per_item);
  const Index m_rows = (o_block + MR - 1) / MR * MR;  // M's rows, whole register blocks
  const Index in_plane_size = g.in_rows * g.in_cols;

  // Items: (image, group, chunk of tile rows, block of output channels), all images in one
  // parallel loop.
  parallel_blocks(batch * groups * chunks * o_blocks, threads, [&](Index begin, Index end, int) {
    // The band copy (zeroed: its zero padding is never written), the transformed input tiles
    // and the 16 products; the last two hold garbage past the real tiles, which nothing reads.
    const Scratch<S, ScratchSlot::band> band_memory(band.size);
    S* src = band_memory.data();
    std::fill(src, src + band.size, S(0));
    const Scratch<S, ScratchSlot::winograd_input> v_memory(16 * in_per_group * ld + NR);
    S* v = v_memory.data();
    const Scratch<S, ScratchSlot::winograd_products> m_memory(16 * m_rows * ld + P);
    S* m = m_memory.data();
    for (Index item = begin; item < end; ++item) {
      const Index n = item / (groups * chunks * o_blocks);
      const Index grp = item / (chunks * o_blocks) % groups;
      const Index ti0 = item / o_blocks % chunks * rows_per_item;
      const Index o0 = item % o_blocks * o_block;
      const Index o1 = std::min(out_per_group, o0 + o_block);
      const Index ti1 = std::min(t.out_rows, ti0 + rows_per_item);
      const Index cols = (ti1 - ti0 - 1) * pitch + t.out_cols;  // up to the last real tile
      fill.rows(src_images + n * src_image + grp * in_per_group * in_plane_size, in_plane_size, src,
                band, 2 * ti0, 2 * ti1 + 2);
      for (Index c = 0; c < in_per_group; ++c) {
        winograd_input_transform(src + c * band.channel_size, tile_offsets.data(),
                                 packet_pitch<S>(cols), v + c * ld, in_per_group * ld);
      }
      for (Index xi = 0; xi < 16; ++xi) {
        shifted_product<S, MR, Block::np>(
            o1 - o0, in_per_group,
            StridedRows<S>{u.data() + (grp * 16 + xi) * u_size + o0 * in_per_group, in_per_group,
                           1},
            v + xi * in_per_group * ld, v_offsets.data(), 0, cols, 0,
            DenseStore<S>{m + xi * m_rows * ld, ld});
      }
      S* image = out.data + n * out.image_size;
      for (Index o = o0; o < o1; ++o) {
        const Index channel = grp * out_per_group + o;
        for (Index ti = ti0; ti < ti1; ++ti) {
          winograd_output_transform(m + (o - o0) * ld, m_rows * ld, (ti - ti0) * pitch, t.out_cols,
                                    bias == nullptr ? S(0) : bias[channel],
                                    image + channel * out.plane_size + 2 * ti * out.ld, out.ld,
                                    std::min<Index>(2, g.out_rows - 2 * ti), g.out_cols);
        }
      }
    }
  });
}

}  // namespace convtape::detail

#include "convtape/detail/reenable_warnings.hpp"
