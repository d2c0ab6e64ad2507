// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// The `pixel_gemm` path of a batched convolution: the GEMM turned around, output samples
// (pixels) as the register block's rows and output channels across the packet lanes. Per
// reduction step k = (input channel, tap), a register block of MR pixels broadcasts the MR input
// samples those pixels read at that tap, each from its own address in a padded copy of the input
// (the pixel's top-left corner plus the tap's offset), against NP packets of the transposed
// weights' row k: a stride, a dilation or a tiny plane changes the addresses, not the work, so
// the kernel computes no discarded columns (the in-place grid's) and gathers no im2col panel
// (`im2col_gemm`'s). What it pays instead: the output leaves the registers pixel-major and is
// transposed into the NCHW planes (P pixels by P channels at a time in registers, a sample at a
// time only for a plane smaller than a packet), the weights are transposed once per call, and a
// group of fewer output channels than a packet leaves lanes idle; the cost model weighs these
// (`conv2d_dispatch.hpp`). Pixels run in panels that may span several images of a small
// plane, so the weights' rows in the L1 cache serve a whole panel. Not for direct inclusion.

#include <algorithm>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/detail/conv2d_shape.hpp"
#include "convtape/detail/disable_warnings.hpp"
#include "convtape/detail/gemm.hpp"
#include "convtape/detail/im2col.hpp"
#include "convtape/detail/packet_transpose.hpp"
#include "convtape/detail/parallel.hpp"
#include "convtape/detail/scratch.hpp"
#include "convtape/detail/unroll.hpp"

namespace convtape::detail {

/// Pixels per panel of `pixel_gemm_conv`: the panel's sums (pixels x one block of output
/// channels) stay in the L2 cache across the reduction's chunks (64 KiB for float on AVX-512).
constexpr Index kPixelPanel = 256;

/// Bytes of the transposed weights' rows that one reduction chunk of `pixel_gemm_conv` keeps in
/// the L1 cache while every register block of pixels of a panel passes over them.
constexpr Index kPixelWeightBytes = Index{32} * 1024;

/// out(i, j) = (init ? 0 : out(i, j)) + sum_{k0 <= k < k1} pix[i][koff[k]] * wt[k * ldw + j], for
/// i < MR pixels and j < NP packets of output channels (out row-major, pitch ldo): one register
/// block of `pixel_gemm_conv`. Out of line, as `product_block`, so that each block shape is
/// compiled once per scalar type.
template <class S, int MR, int NP>
EIGEN_DONT_INLINE void pixel_block(Index k0, Index k1, const S* const* pix, const Index* koff,
                                   const S* wt, Index ldw, S* out, Index ldo, bool init) {
  using namespace Eigen::internal;
  using Packet = typename PacketOf<S>::type;
  constexpr int P = PacketOf<S>::size;
  Packet acc[MR][NP];
  unroll<MR>([&](auto i) {
    unroll<NP>([&](auto j) {
      acc[i][j] = init ? pset1<Packet>(S(0)) : ploadu<Packet>(out + i * ldo + j * P);
    });
  });
  const S* p[MR];
  unroll<MR>([&](auto i) { p[i] = pix[i]; });
  const S* w = wt + k0 * ldw;
  for (Index k = k0; k < k1; ++k, w += ldw) {
    const Index at = koff[k];
    Packet b[NP];
    unroll<NP>([&](auto j) { b[j] = ploadu<Packet>(w + j * P); });
    unroll<MR>([&](auto i) {
      const Packet a = pset1<Packet>(p[i][at]);
      unroll<NP>([&](auto j) { acc[i][j] = pmadd(a, b[j], acc[i][j]); });
    });
  }
  unroll<MR>(
      [&](auto i) { unroll<NP>([&](auto j) { pstoreu(out + i * ldo + j * P, acc[i][j]); }); });
}

/// Rows [r0, r1) of one input plane (in_rows x in_cols) padded as `g` says (every padding mode),
/// into the same rows of `dst` (padded_rows x padded_cols, contiguous), zeros included;
/// `col_source` as `pad_row` takes it.
template <class S>
void pad_rows(const S* src, const Conv2dGeometry& g, const std::vector<Index>& col_source, S* dst,
              Index r0, Index r1) {
  const Index wp = g.padded_cols();
  for (Index r = r0; r < r1; ++r) {
    const Index si = padded_index(r - g.pad.top, g.in_rows, g.mode);
    if (si < 0) {
      std::fill_n(dst + r * wp, wp, S(0));
    } else {
      pad_row(src + si * g.in_cols, g, col_source.data(), dst + r * wp, true);
    }
  }
}

/// The reduction chunks `pixel_gemm_conv` takes over `depth` steps: as few as keep a chunk's rows
/// of the transposed weights (`nr` lanes of `elem_bytes` each) within `kPixelWeightBytes`, of
/// equal length. The cost model counts the same passes.
inline Index pixel_passes(Index depth, Index nr, Index elem_bytes) {
  const Index chunk_max = std::max<Index>(1, kPixelWeightBytes / (nr * elem_bytes));
  return (depth + chunk_max - 1) / chunk_max;
}

/// y = the correlation of `s` (x NCHW, w OIHW, `bias` null or one per output channel, y NCHW and
/// written in full) along `pixel_gemm` (see the file comment), on up to `threads` threads. Work
/// items are (block of images, group, part of the block's panels, block of NR output channels);
/// a thread pads its images' channels of a group once for all the items it takes in a row that
/// read them.
template <class S>
void pixel_gemm_conv(const S* x, const S* w, const S* bias, const Conv2dShape& s, S* y,
                     int threads) {
  using Block = GemmBlock<S>;
  constexpr int MR = Block::mr;
  constexpr int NP = Block::np;
  constexpr int P = PacketOf<S>::size;
  constexpr Index NR = Block::nr;
  const Conv2dGeometry& g = s.geometry;
  const Index wp = g.padded_cols();
  const Index padded_plane = g.padded_rows() * wp;
  const Index in_plane = g.in_rows * g.in_cols;
  const Index out_plane = g.out_rows * g.out_cols;
  const Index cin = s.in_per_group;
  const Index cout = s.out_per_group;
  const Index taps = g.kernel_rows * g.kernel_cols;
  const Index depth = cin * taps;
  const Index ldw = packet_pitch<S>(cout);  // a group's transposed weights: depth x ldw
  const Index oc_blocks = (cout + NR - 1) / NR;

  // The weights transposed, group by group, the lanes past cout zero.
  const Scratch<S, ScratchSlot::pixel_weights> wt_memory(s.groups * depth * ldw);
  S* const wt = wt_memory.data();
  for (Index grp = 0; grp < s.groups; ++grp) {
    transpose_padded(w + grp * cout * depth, cout, depth, wt + grp * depth * ldw, ldw);
  }
  // Reduction step k = (c, a, b) in the order of an OIHW weight row: its offset from a pixel's
  // corner in the padded copy.
  std::vector<Index> koff(static_cast<std::size_t>(depth));
  for (Index c = 0, k = 0; c < cin; ++c) {
    for (Index a = 0; a < g.kernel_rows; ++a) {
      for (Index b = 0; b < g.kernel_cols; ++b, ++k) {
        koff[k] = c * padded_plane + a * g.dilation.rows * wp + b * g.dilation.cols;
      }
    }
  }
  std::vector<Index> col_source(static_cast<std::size_t>(wp));
  for (Index c = 0; c < wp; ++c) col_source[c] = padded_index(c - g.pad.left, g.in_cols, g.mode);

  // Images per item: a panel's worth of pixels, fewer while that leaves threads without work.
  Index image_block = std::clamp<Index>((kPixelPanel + out_plane - 1) / out_plane, 1, s.batch);
  while (image_block > 1 &&
         (s.batch + image_block - 1) / image_block * s.groups * oc_blocks < threads) {
    image_block = (image_block + 1) / 2;
  }
  const Index image_blocks = (s.batch + image_block - 1) / image_block;
  const Index block_pixels = image_block * out_plane;
  // Each pixel's corner in a block's padded copy (a last register block of fewer pixels reads the
  // panel's last pixel again for the rest, and stores only the real ones).
  const Index panel = std::min(kPixelPanel, block_pixels);
  std::vector<Index> corner(static_cast<std::size_t>(block_pixels));
  for (Index q = 0; q < block_pixels; ++q) {
    const Index p = q % out_plane;
    corner[q] = q / out_plane * cin * padded_plane + (p / g.out_cols) * g.stride.rows * wp +
                (p % g.out_cols) * g.stride.cols;
  }
  const Index passes = pixel_passes(depth, NR, Index(sizeof(S)));
  const Index chunk = (depth + passes - 1) / passes;

  // A block's panels in parts of their own where the items would not give every thread one (a
  // large plane at a small batch; each part pads the input rows its pixels read).
  const Index panels = (block_pixels + panel - 1) / panel;
  Index parts = 1;
  while (image_blocks * s.groups * oc_blocks * parts < threads && parts < panels) ++parts;
  const Index items = image_blocks * s.groups * parts * oc_blocks;
  parallel_blocks(items, threads, [&](Index begin, Index end, int) {
    const Scratch<S, ScratchSlot::band> copy_memory(image_block * cin * padded_plane);
    const Scratch<S, ScratchSlot::sums> sums_memory((panel + MR) * NR);
    S* const copy = copy_memory.data();
    S* const sums = sums_memory.data();
    Index filled = -1;  // the (image block, group, part) whose padded rows `copy` holds
    for (Index item = begin; item < end; ++item) {
      const Index ob = item % oc_blocks;
      const Index part = item / oc_blocks % parts;
      const Index grp = item / oc_blocks / parts % s.groups;
      const Index ib = item / oc_blocks / parts / s.groups;
      const Index n0 = ib * image_block;
      const Index images = std::min(image_block, s.batch - n0);
      const Index pixels = images * out_plane;
      const Index item_panels = (pixels + panel - 1) / panel;
      const Index q_begin = part * item_panels / parts * panel;
      const Index q_end = std::min(pixels, (part + 1) * item_panels / parts * panel);
      if (filled != item / oc_blocks) {
        // Per image, the padded rows that the output rows of this part's pixels read.
        for (Index n = 0; n < images; ++n) {
          const Index qa = std::max(q_begin, n * out_plane) - n * out_plane;
          const Index qb = std::min(q_end, (n + 1) * out_plane) - n * out_plane;
          if (qa >= qb) continue;
          const Index r0 = qa / g.out_cols * g.stride.rows;
          const Index r1 =
              (qb - 1) / g.out_cols * g.stride.rows + (g.kernel_rows - 1) * g.dilation.rows + 1;
          for (Index c = 0; c < cin; ++c) {
            pad_rows(x + ((n0 + n) * s.in_channels + grp * cin + c) * in_plane, g, col_source,
                     copy + (n * cin + c) * padded_plane, r0, r1);
          }
        }
        filled = item / oc_blocks;
      }
      const Index o0 = ob * NR;
      const Index lanes = std::min(NR, cout - o0);
      const int packets = int((lanes + P - 1) / P);
      const S* const wt_block = wt + grp * depth * ldw + o0;
      for (Index q0 = q_begin; q0 < q_end; q0 += panel) {
        const Index q1 = std::min(q_end, q0 + panel);
        for (Index k0 = 0; k0 < depth; k0 += chunk) {
          const Index k1 = std::min(depth, k0 + chunk);
          for (Index q = q0; q < q1; q += MR) {
            const S* pix[MR];
            for (int i = 0; i < MR; ++i) pix[i] = copy + corner[std::min(q + i, q1 - 1)];
            S* out = sums + (q - q0) * NR;
            with_constant<NP>(packets, [&](auto np) {
              pixel_block<S, MR, decltype(np)::value>(k0, k1, pix, koff.data(), wt_block, ldw, out,
                                                      NR, k0 == 0);
            });
          }
        }
        // The panel's sums, pixel-major, into the output planes (plus the bias), image by image:
        // a run of a packet's worth of pixels or more a packet of channels at a time, P pixels'
        // packets transposed in registers; a shorter run (a plane smaller than a packet) a sample
        // at a time.
        for (Index q = q0; q < q1;) {
          const Index n = q / out_plane;
          const Index p0 = q % out_plane;
          const Index run = std::min(q1 - q, out_plane - p0);
          const S* const src = sums + (q - q0) * NR;
          if (run < P) {
            S* const dst = y + ((n0 + n) * s.out_channels + grp * cout + o0) * out_plane + p0;
            for (Index o = 0; o < lanes; ++o) {
              const S add = bias != nullptr ? bias[grp * cout + o0 + o] : S(0);
              for (Index p = 0; p < run; ++p) dst[o * out_plane + p] = src[p * NR + o] + add;
            }
            q += run;
            continue;
          }
          for (Index j = 0; j < packets; ++j) {
            const Index o = o0 + j * P;
            const Index count = std::min<Index>(P, lanes - j * P);
            S* planes[P] = {};
            for (Index l = 0; l < count; ++l) {
              planes[l] = y + ((n0 + n) * s.out_channels + grp * cout + o + l) * out_plane + p0;
            }
            deinterleave_planes(src + j * P, run, Index{1}, Index{NP}, planes, count,
                                bias != nullptr ? bias + grp * cout + o : nullptr);
          }
          q += run;
        }
      }
    }
  });
}

}  // namespace convtape::detail

#include "convtape/detail/reenable_warnings.hpp"
