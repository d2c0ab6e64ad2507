// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// The implicit-GEMM engine shared by the forward pass and the stride-1 input gradient
// (`shifted_conv`): per image, one padded, stride-phase-split copy of the input (the shifted
// layout of `im2col.hpp`), from which a register-blocked kernel reads the im2col matrix in place
// (`gemm.hpp`'s `shifted_product`, or `direct.hpp`'s `depthwise_rows` for a one-row block), or
// explicitly gathered im2col tiles (`pack_panel`); the real samples of each computed tile are
// written to the output planes (`GridStore`). Work is spread over threads by `run_batch`. Not
// for direct inclusion.

#include <algorithm>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/detail/direct.hpp"
#include "convtape/detail/gemm.hpp"
#include "convtape/detail/im2col.hpp"
#include "convtape/detail/parallel.hpp"

namespace convtape::detail {

/// Where the output planes of one image go: plane j at data + j * plane_size, row r of a plane
/// at + r * ld.
template <class S>
struct OutputPlanes {
  S* data;
  Index plane_size;
  Index ld;
};

/// Sink for `shifted_product` that writes the real samples of a tile of C(m, q) to output planes:
/// q is a position on a grid of `pitch` columns per row of which the first `cols` are real.
/// Tiles arrive in increasing q, so the grid position is tracked by a cursor instead of a
/// division per tile (a 64-bit division costs as much as the copy of a whole tile).
template <class S>
struct GridStore {
  S* out;
  Index plane_size;
  Index ld;
  Index pitch;
  Index cols;
  const S* bias;
  Index cursor_q = 0;  // grid position (cursor_r, cursor_c) of sample cursor_q
  Index cursor_r = 0;
  Index cursor_c = 0;

  void operator()(Index m0, Index rows, Index q0, Index n, const S* tile, Index tile_ld) {
    using Array = Eigen::Array<S, Eigen::Dynamic, 1>;
    if (q0 < cursor_q || q0 - cursor_q > 4 * pitch) {
      cursor_q = q0;
      cursor_r = q0 / pitch;
      cursor_c = q0 - cursor_r * pitch;
    }
    for (cursor_c += q0 - cursor_q, cursor_q = q0; cursor_c >= pitch; cursor_c -= pitch) {
      ++cursor_r;
    }
    Index r = cursor_r;
    Index c = cursor_c;
    for (Index j = 0; j < n; ++r, c = 0) {
      const Index run = std::min(n - j, pitch - c);
      const Index real = std::min(run, cols - c);
      for (Index i = 0; i < rows && real > 0; ++i) {
        Eigen::Map<Array> dst(out + (m0 + i) * plane_size + r * ld + c, real);
        const Eigen::Map<const Array> src(tile + i * tile_ld + j, real);
        if (bias != nullptr) {
          dst = src + bias[m0 + i];
        } else {
          dst = src;
        }
      }
      j += run;
    }
  }
};

/// Rows of B per reduction chunk in `shifted_product`.
constexpr Index kDepthChunk = 144;

/// A grouped convolution of the `batch` images at src (image n at src + n * src_image, planes of
/// g.in_rows x g.in_cols, `groups * in_per_group` of them) with the weights
/// weight_at(group, m, k) (m < out_per_group, k = (channel, tap) as in an OIHW row): for every
/// image, output plane group * out_per_group + m of `target(n, slot)` is set to the correlation
/// (+ bias[channel] if bias is not null). `finish(n, slot)` runs once an image is done. The kernel
/// block is MR x NP packets; `packed` selects explicit im2col tiles over the in-place grid.
template <class S, int MR, int NP, class WeightAt, class Target, class Finish>
void shifted_conv(const S* src, Index src_image, const Conv2dGeometry& g, Index batch, Index groups,
                  Index in_per_group, Index out_per_group, bool packed, WeightAt&& weight_at,
                  const S* bias, Target&& target, Finish&& finish) {
  constexpr Index NR = NP * PacketOf<S>::size;
  const ShiftedLayout layout = shifted_layout(g, groups * in_per_group, NR);
  const std::vector<Index> offsets = tap_offsets(layout, g, in_per_group);
  const Index depth = static_cast<Index>(offsets.size());
  const Index m = out_per_group;
  const Index a_group = (m + MR - 1) / MR * MR * depth;
  std::vector<S> a;
  a.reserve(static_cast<std::size_t>(groups * a_group));
  for (Index grp = 0; grp < groups; ++grp) {
    const std::vector<S> packed_group =
        pack_rows<S, MR>(m, depth, [&](Index i, Index k) { return weight_at(grp, i, k); });
    a.insert(a.end(), packed_group.begin(), packed_group.end());
  }

  const BatchSchedule sched = batch_schedule(batch);
  std::vector<VectorX<S>> sources(static_cast<std::size_t>(sched.slots()));
  const Index in_plane_size = g.in_rows * g.in_cols;
  const ShiftedFill<S> fill(g, layout);
  auto prepare = [&](Index n, int slot) {
    VectorX<S>& buf = sources[slot];
    if (buf.size() != layout.size) buf.setZero(layout.size);
    fill(src + n * src_image, in_plane_size, buf.data());
  };

  if constexpr (MR == 1) {
    // One output plane at a time, row by row (`depthwise_rows`); items are ranges of output rows.
    const Index per_row = (g.out_cols + PacketOf<S>::size - 1) / PacketOf<S>::size;
    const std::vector<DirectSpan> spans =
        direct_spans(g.out_rows, g.out_cols, layout.phase_cols, g.out_cols, PacketOf<S>::size);
    const Index chunk_rows = (g.out_rows + sched.chunks - 1) / sched.chunks;
    const Index chunks = (g.out_rows + chunk_rows - 1) / chunk_rows;
    run_batch(
        sched, batch, groups * chunks, prepare,
        [&](Index n, Index item, int slot, int) {
          const Index grp = item / chunks;
          const Index r0 = (item % chunks) * chunk_rows;
          const Index r1 = std::min(g.out_rows, r0 + chunk_rows);
          const S* b = sources[slot].data() + grp * in_per_group * layout.channel_size;
          const OutputPlanes<S> out = target(n, slot);
          CONVTAPE_ASSERT(out.ld == g.out_cols);  // the spans assume dense output rows
          for (Index i = 0; i < m; ++i) {
            const Index channel = grp * m + i;
            depthwise_rows(b, offsets.data(), a.data() + grp * a_group + i * depth, depth,
                           bias == nullptr ? S(0) : bias[channel], spans.data() + r0 * per_row,
                           (r1 - r0) * per_row, out.data + channel * out.plane_size);
          }
        },
        finish);
    return;
  }

  std::vector<Index> panel_offsets(static_cast<std::size_t>(packed ? depth : 0));
  for (Index k = 0; k < Index(panel_offsets.size()); ++k) panel_offsets[k] = k * NR;
  const Index total = packed ? g.out_rows * g.out_cols : layout.grid_end();
  const Index chunk_cols = ((total + sched.chunks - 1) / sched.chunks + NR - 1) / NR * NR;
  const Index chunks = (total + chunk_cols - 1) / chunk_cols;
  std::vector<VectorX<S>> panels(static_cast<std::size_t>(packed ? sched.threads : 0));

  run_batch(
      sched, batch, groups * chunks, prepare,
      [&](Index n, Index item, int slot, int thread) {
        const Index grp = item / chunks;
        const Index c0 = (item % chunks) * chunk_cols;
        const Index c1 = std::min(total, c0 + chunk_cols);
        const S* b = sources[slot].data() + grp * in_per_group * layout.channel_size;
        const S* ag = a.data() + grp * a_group;
        const OutputPlanes<S> out = target(n, slot);
        GridStore<S> store{out.data + grp * m * out.plane_size,
                           out.plane_size,
                           out.ld,
                           packed ? g.out_cols : layout.phase_cols,
                           g.out_cols,
                           bias == nullptr ? nullptr : bias + grp * m};
        if (!packed) {
          shifted_product<S, MR, NP>(m, depth, ag, b, offsets.data(), c0, c1, kDepthChunk, store);
          return;
        }
        VectorX<S>& panel = panels[thread];
        if (panel.size() != depth * NR) panel.resize(depth * NR);
        for (Index p0 = c0; p0 < c1; p0 += NR) {
          pack_panel(b, layout, offsets, p0, NR, panel.data());
          shifted_product<S, MR, NP>(m, depth, ag, panel.data(), panel_offsets.data(), 0,
                                     std::min(NR, c1 - p0), kDepthChunk,
                                     [&](Index m0, Index rows, Index q0, Index cols, const S* tile,
                                         Index ld) { store(m0, rows, p0 + q0, cols, tile, ld); });
        }
      },
      finish);
}

}  // namespace convtape::detail
