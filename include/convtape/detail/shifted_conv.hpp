// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// The forward engine of the batched convolution (`shifted_conv`), shared by the forward pass and
// the stride-1 input gradient: the work of a batch is cut into independent items, each an
// (image, block of groups, band of output rows, block of output channels), so that every thread
// count has enough of them even at batch 1 (`conv_split`), and all items of all images run in one
// parallel loop: no fork/join per image, nothing serial between images. Not for direct inclusion.
//
// An item reads its band of the input (the output rows' receptive field: the band's rows plus the
// kernel's extent) from a per-thread copy in the shifted layout of `im2col.hpp`, filled by the
// item itself (`ShiftedFill::rows`; a thread keeps the last band it filled for the next item that
// reads it), or, for stride 1 without padding, in place from the input tensor: the shifted layout
// is then the input itself (a 1x1 layer is a plain GEMM on the NCHW planes, with no copy at all).
// The item then runs one of three kernels (`ConvKernel`) on its band: the register-blocked GEMM
// of `gemm.hpp` on the in-place wide grid (`grid`; register blocks inside one output row store
// themselves, `GridStore::direct`) or on gathered im2col panels of real output samples, which
// may span a block of images so that tiny planes fill whole tiles (`packed`), or
// one output channel at a time with `direct.hpp`'s `depthwise_rows` (`rows`; along the wide grid
// itself for planes narrower than a packet). Bands are also kept small enough for the per-thread
// copy to stay in the L2 cache, and weights too large for it are streamed once per item in
// chunks of the reduction, the item's outputs accumulating in a buffer (`kWeightBytes`).

#include <algorithm>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/detail/direct.hpp"
#include "convtape/detail/disable_warnings.hpp"
#include "convtape/detail/gemm.hpp"
#include "convtape/detail/im2col.hpp"
#include "convtape/detail/parallel.hpp"
#include "convtape/detail/scratch.hpp"

namespace convtape::detail {

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

  /// Where the `n` samples from grid position q0 of rows m0 ... go when they are all real and in
  /// one output row (a register block then stores them itself, `DirectStore`), else null.
  DirectStore<S> direct(Index m0, Index q0, Index n) {
    if (pitch == cols && ld == cols) return {out + m0 * plane_size + q0, plane_size, bias_of(m0)};
    seek(q0);
    if (cursor_c + n > cols) return {nullptr, 0, nullptr};
    return {out + m0 * plane_size + cursor_r * ld + cursor_c, plane_size, bias_of(m0)};
  }

  void operator()(Index m0, Index rows, Index q0, Index n, const S* tile, Index tile_ld) {
    // Runs are short (an output row, or less): plain loops, not a library call per run. Adding a
    // zero bias changes nothing (the sums start at +0, so none is -0).
    auto store = [&](S* dst, const S* src, Index count, S add) {
      for (Index j = 0; j < count; ++j) dst[j] = src[j] + add;
    };
    if (pitch == cols && ld == cols) {  // no discarded columns: the tile is one run per plane
      for (Index i = 0; i < rows; ++i) {
        store(out + (m0 + i) * plane_size + q0, tile + i * tile_ld, n,
              bias != nullptr ? bias[m0 + i] : S(0));
      }
      return;
    }
    seek(q0);
    Index r = cursor_r;
    Index c = cursor_c;
    for (Index j = 0; j < n; ++r, c = 0) {
      const Index run = std::min(n - j, pitch - c);
      const Index real = std::min(run, cols - c);
      for (Index i = 0; i < rows && real > 0; ++i) {
        store(out + (m0 + i) * plane_size + r * ld + c, tile + i * tile_ld + j, real,
              bias != nullptr ? bias[m0 + i] : S(0));
      }
      j += run;
    }
  }

 private:
  const S* bias_of(Index m0) const { return bias == nullptr ? nullptr : bias + m0; }
  /// Moves the cursor to sample q0.
  void seek(Index q0) {
    if (q0 < cursor_q || q0 - cursor_q > 4 * pitch) {
      cursor_q = q0;
      cursor_r = q0 / pitch;
      cursor_c = q0 - cursor_r * pitch;
    }
    for (cursor_c += q0 - cursor_q, cursor_q = q0; cursor_c >= pitch; cursor_c -= pitch) {
      ++cursor_r;
    }
  }
};

/// Where the output planes of a batch go: image n's plane j at data + n * image_size + j *
/// plane_size, its row r at + r * ld.
template <class S>
struct BatchPlanes {
  S* data;
  Index image_size;
  Index plane_size;
  Index ld;
};

/// The kernel an item of `shifted_conv` runs on its band.
enum class ConvKernel {
  grid,    ///< GEMM block on the in-place wide grid (`shifted_product` through the tap offsets)
  packed,  ///< GEMM block on explicitly gathered im2col tiles (`ColumnRun`s, across images)
  rows,    ///< one output channel at a time, a packet of outputs per register (`depthwise_rows`)
};

/// Whether the shifted layout of `g` is the input itself, so that bands can be read in place:
/// stride 1 and no padding.
inline bool reads_input_in_place(const Conv2dGeometry& g) {
  return g.stride == Size2(1, 1) && g.pad.top == 0 && g.pad.bottom == 0 && g.pad.left == 0 &&
         g.pad.right == 0;
}

/// Padded input rows a band of `band_rows` output rows reads.
inline Index band_input_rows(const Conv2dGeometry& g, Index band_rows) {
  return (band_rows - 1) * g.stride.rows + g.dilation.rows * (g.kernel_rows - 1) + 1;
}

/// The shifted layout of a band of `band_rows` output rows of `channels` channels (the full
/// layout's columns and phases, only the rows the band reads), for kernels that read up to
/// `tile_cols` consecutive wide-grid samples at once.
inline ShiftedLayout band_layout(const Conv2dGeometry& g, Index channels, Index band_rows,
                                 Index tile_cols) {
  ShiftedLayout l = shifted_layout(g, channels, tile_cols);
  const Index sr = g.stride.rows;
  l.phase_rows = std::min(l.phase_rows, (band_input_rows(g, band_rows) + sr - 1) / sr);
  l.channel_size = sr * g.stride.cols * l.phase_rows * l.phase_cols;
  l.out_rows = std::min(band_rows, g.out_rows);
  l.max_offset =
      ((sr * g.stride.cols - 1) * l.phase_rows + g.dilation.rows * (g.kernel_rows - 1) / sr) *
          l.phase_cols +
      g.dilation.cols * (g.kernel_cols - 1) / g.stride.cols;
  const Index tiles_end = (l.grid_end() + tile_cols - 1) / tile_cols * tile_cols;
  l.size = std::max(channels * l.channel_size,
                    (channels - 1) * l.channel_size + l.max_offset + tiles_end + tile_cols);
  return l;
}

/// How `shifted_conv` cuts a batch into items: blocks of `image_block` images x blocks of
/// `group_block` groups x bands of `band_rows` output rows x blocks of `m_block` output channels
/// (per group), in that order (the fastest last, so that one thread's consecutive items share a
/// band). Blocks of several images only for the `packed` kernel, whose columns may span images.
struct ConvSplit {
  Index image_block = 1;
  Index image_blocks = 1;
  Index group_block = 1;
  Index group_blocks = 1;
  Index band_rows = 1;
  Index bands = 1;
  Index m_block = 1;
  Index m_blocks = 1;
  Index items() const { return image_blocks * group_blocks * bands * m_blocks; }
};

/// Bytes of one band copy per thread above which an image is cut into bands even at one thread,
/// so that the copy stays in the L2 cache while the item's GEMM reads it.
constexpr Index kBandBytes = Index(1) << 20;
/// Wide-grid columns a band keeps at least (in GEMM tiles of NR columns), so that the partial last
/// tile of each band wastes little.
constexpr Index kBandMinTiles = 4;
/// Bytes of one group's weights (a block of output channels' rows) above which an item's product
/// runs in chunks of `kChunkDepth` of the reduction, every chunk of the weights streamed once per
/// item instead of once per tile.
constexpr Index kWeightBytes = Index(512) * 1024;
/// Rows of the reduction per chunk of a chunked product.
constexpr Index kChunkDepth = 256;
/// GEMM tiles of columns per item at most when the product is chunked (its outputs wait in an
/// m x columns buffer).
constexpr Index kChunkedTiles = 8;
/// Bytes of a gathered im2col panel of the `packed` kernel (half of a 32 KiB L1 cache). Measured
/// on AVX2 (Zen 3), forward, one thread: a 3 -> 512 3x3 layer on 50x50 planes ran 1.6-1.9 times
/// as fast with panels of 8-32 KiB as with one tile of columns, 1.1 times with 256 KiB (the L2
/// cache); deep reductions gather one tile either way.
constexpr Index kGatherPanelBytes = Index{16} * 1024;
/// Rows of the im2col matrix a gather asks the memory for ahead of the row it copies.
constexpr Index kGatherAhead = 8;
/// Items per thread a split aims for, so that a static split of uneven items stays balanced.
constexpr Index kItemsPerThread = 4;

/// The split of a correlation (geometry `g`, `batch` images, `groups` groups of `in_per_group`
/// input and `out_per_group` output channels) for `threads` threads and `kernel`, whose register
/// block has `mr` x `nr` scalars: whole images (for `packed`, enough images per item for
/// `kBandMinTiles` tiles of columns) unless a band copy would exceed `kBandBytes`; then, until
/// there are `kItemsPerThread` items per thread, fewer images per item, smaller blocks of groups,
/// thinner bands of equal height (down to `kBandMinTiles` GEMM tiles of columns and twice the
/// kernel's extent in rows, so that the halo stays at most half the copy), and blocks of output
/// channels (down to two register blocks); and while there are fewer than two items per thread,
/// single register blocks and bands of half that height.
inline ConvSplit conv_split(const Conv2dGeometry& g, Index batch, Index groups, Index in_per_group,
                            Index out_per_group, ConvKernel kernel, Index mr, Index nr,
                            Index elem_bytes, int threads) {
  ConvSplit s;
  const Index want = threads > 1 ? kItemsPerThread * threads : 1;
  const Index pitch = (g.padded_cols() + g.stride.cols - 1) / g.stride.cols;
  const Index row_bytes = elem_bytes * in_per_group * g.stride.cols * pitch;
  const Index extent = g.dilation.rows * (g.kernel_rows - 1);
  // A packed tile holds real columns only; the grid's rows are `pitch` wide.
  const Index cols_per_row = kernel == ConvKernel::packed ? g.out_cols : pitch;
  const Index min_cols = kBandMinTiles * nr;
  const Index min_rows =
      std::min(g.out_rows, std::max({Index(1), (2 * extent + g.stride.rows - 1) / g.stride.rows,
                                     (min_cols + cols_per_row - 1) / cols_per_row}));
  const Index plane = g.out_rows * g.out_cols;
  if (kernel == ConvKernel::packed) s.image_block = std::min(batch, (min_cols + plane - 1) / plane);
  // Groups per item: as many as fit the band budget (a block of groups shares one fill).
  const Index image_bytes = s.image_block * band_input_rows(g, g.out_rows) * row_bytes;
  s.group_block =
      std::max<Index>(1, std::min(groups, kBandBytes / std::max<Index>(1, image_bytes)));
  s.band_rows = g.out_rows;
  while (s.band_rows > min_rows && band_input_rows(g, s.band_rows) * row_bytes > kBandBytes) {
    s.band_rows = std::max(min_rows, (s.band_rows + 1) / 2);
  }
  // With weights too large for the L2 cache, an item's product runs in chunks of the reduction
  // with its outputs waiting in a buffer (`kWeightBytes`): items of at most `kChunkedTiles` tiles.
  if (out_per_group * in_per_group * g.kernel_rows * g.kernel_cols * elem_bytes > kWeightBytes) {
    const Index max_cols = kChunkedTiles * nr;
    while (s.image_block > 1 && s.image_block * plane > max_cols)
      s.image_block = (s.image_block + 1) / 2;
    while (s.band_rows > min_rows && s.image_block * s.band_rows * cols_per_row > max_cols) {
      s.band_rows = std::max(min_rows, (s.band_rows + 1) / 2);
    }
  }
  s.m_block = out_per_group;
  auto update = [&] {
    s.image_blocks = (batch + s.image_block - 1) / s.image_block;
    s.group_blocks = (groups + s.group_block - 1) / s.group_block;
    s.bands = (g.out_rows + s.band_rows - 1) / s.band_rows;
    s.m_blocks = (out_per_group + s.m_block - 1) / s.m_block;
  };
  update();
  while (s.items() < want && s.image_block > 1) {
    s.image_block = (s.image_block + 1) / 2;
    update();
  }
  while (s.items() < want && s.group_block > 1) {
    s.group_block = (s.group_block + 1) / 2;
    update();
  }
  // Twice the bands, all of one height (a band clipped to min_rows would leave a short last one,
  // and the thread that gets it idle); none thinner than min_rows.
  auto more_bands = [&] {
    const Index bands = 2 * s.bands;
    const Index rows = (g.out_rows + bands - 1) / bands;
    if (rows < min_rows || rows >= s.band_rows) return false;
    s.band_rows = rows;
    update();
    return true;
  };
  while (s.items() < want && more_bands()) {
  }
  while (s.items() < want && s.m_block > 2 * mr) {
    s.m_block = std::max(2 * mr, (s.m_block / 2 + mr - 1) / mr * mr);
    update();
  }
  // Still short of two items per thread (a static split of fewer is badly balanced): single
  // register blocks, then bands of half the tiles.
  const Index half_rows = std::max<Index>(1, min_rows / 2);
  while (threads > 1 && s.items() < Index{2} * threads &&
         (s.m_block > mr || s.band_rows > half_rows)) {
    if (s.m_block > mr) {
      s.m_block = std::max(mr, (s.m_block / 2 + mr - 1) / mr * mr);
    } else {
      s.band_rows = std::max(half_rows, (s.band_rows + 1) / 2);
    }
    update();
  }
  return s;
}

/// A run of consecutive columns of a packed tile within one output row: tile column `col`, image
/// `image` of the item's block, output row `row` of the item's band, first column `first`.
struct ColumnRun {
  Index col, image, row, first, length;
};

/// The runs of the columns [p0, p0 + cols) of an item whose columns are the `rows` x `out_cols`
/// output samples of each image in turn; returns how many (at most `cols`) were written to runs.
inline Index column_runs(Index p0, Index cols, Index rows, Index out_cols, ColumnRun* runs) {
  const Index per_image = rows * out_cols;
  Index count = 0;
  for (Index p = p0; p < p0 + cols;) {
    const Index image = p / per_image;
    const Index q = p - image * per_image;
    const Index row = q / out_cols;
    const Index first = q - row * out_cols;
    const Index length = std::min(out_cols - first, p0 + cols - p);
    runs[count++] = {p - p0, image, row, first, length};
    p += length;
  }
  return count;
}

/// A grouped correlation of the `batch` images at src (image n at src + n * src_image, planes of
/// g.in_rows x g.in_cols; `src_size` elements readable from src in all) with the weights A(m, k)
/// of each group (m < out_per_group, k = (channel, tap) as in an OIHW row; group grp's matrix at
/// `weights` + grp * `group_stride`): output plane group * out_per_group + m of every image is
/// set to the correlation (+ bias[plane] if bias is not null). The GEMM kernels' block is MR x NP
/// packets (`kernel` grid or packed); `rows` runs one output channel at a time (MR must be 1,
/// and the weights' rows contiguous). At most `threads` threads.
template <class S, int MR, int NP>
void shifted_conv(const S* src, Index src_image, Index src_size, const Conv2dGeometry& g,
                  Index batch, Index groups, Index in_per_group, Index out_per_group,
                  ConvKernel kernel, const StridedRows<S>& weights, Index group_stride,
                  const S* bias, const BatchPlanes<S>& out, int threads) {
  using Packet = typename PacketOf<S>::type;
  constexpr Index P = PacketOf<S>::size;
  constexpr Index NR = NP * P;
  CONVTAPE_ASSERT((kernel == ConvKernel::rows) == (MR == 1));
  const ConvSplit split = conv_split(g, batch, groups, in_per_group, out_per_group, kernel, MR, NR,
                                     Index(sizeof(S)), threads);
  const Index block_channels = split.group_block * in_per_group;
  const ShiftedLayout band = band_layout(g, block_channels, split.band_rows, NR);
  // Fills of a whole block of groups, and of the last block when it has fewer.
  const Index tail_channels =
      (groups - (split.group_blocks - 1) * split.group_block) * in_per_group;
  const ShiftedFill<S> fill(g, shifted_layout(g, block_channels, NR));
  const ShiftedFill<S> fill_tail(g, shifted_layout(g, tail_channels, NR));
  const std::vector<Index> offsets = tap_offsets(band, g, in_per_group);
  // In place: the input's own layout (planes of in_rows x in_cols, a band starts at its first
  // row; the band layout has the same row pitch, in_cols, but a shorter channel).
  const bool in_place = reads_input_in_place(g);
  const ShiftedLayout whole = shifted_layout(g, in_per_group, NR);
  const std::vector<Index> whole_offsets =
      in_place ? tap_offsets(whole, g, in_per_group) : std::vector<Index>();
  const Index depth = static_cast<Index>(offsets.size());
  const Index in_plane_size = g.in_rows * g.in_cols;
  CONVTAPE_ASSERT(kernel != ConvKernel::rows || weights.col == 1);

  // The direct kernel's packets: the spans of a full band (a shorter last band uses a prefix).
  const Index per_row = (g.out_cols + P - 1) / P;
  const std::vector<DirectSpan> spans =
      kernel == ConvKernel::rows
          ? direct_spans(split.band_rows, g.out_cols, band.phase_cols, out.ld, P)
          : std::vector<DirectSpan>();
  // Rows much narrower than a packet waste most lanes: the direct kernel then runs along the wide
  // grid itself (packets across row ends, into a buffer), and the real columns are copied out.
  const Index band_grid = (split.band_rows - 1) * band.phase_cols + g.out_cols;
  const bool along_grid = kernel == ConvKernel::rows && band_grid >= P &&
                          5 * ((band_grid + P - 1) / P) < 4 * split.band_rows * per_row;
  const std::vector<DirectSpan> grid_spans =
      along_grid ? direct_spans(1, band_grid, band_grid, band_grid, P) : std::vector<DirectSpan>();
  const bool packed = kernel == ConvKernel::packed;
  // Weights too large for the L2 cache: products in chunks of the reduction (see kWeightBytes),
  // over items of at most max_cols columns.
  const bool chunked = split.m_block * depth * Index(sizeof(S)) > kWeightBytes;
  const Index max_cols = (packed ? split.image_block * split.band_rows * g.out_cols
                                 : (split.band_rows - 1) * band.phase_cols + g.out_cols) /
                             NR * NR +
                         NR;
  // The packed kernel's gathered panels: as many whole tiles of columns as fit
  // `kGatherPanelBytes`, so that every register block of the weights reuses a panel from the L1
  // cache and stores its outputs along the panel's runs (with a panel of one tile, each tile
  // would store into every output plane of the item at once).
  const Index panel_cols =
      std::min(max_cols, panel_columns(kGatherPanelBytes, depth, Index(sizeof(S)), NR));
  std::vector<Index> panel_offsets(static_cast<std::size_t>(packed ? depth : 0));
  for (Index k = 0; k < Index(panel_offsets.size()); ++k) panel_offsets[k] = k * panel_cols;

  parallel_blocks(split.items(), threads, [&](Index begin, Index end, int) {
    // This thread's band copies (one per image of a block), zeroed on first use (the zero
    // padding is never written); the gathered panel (a tile of all rows, or a chunk of rows of
    // all of an item's columns) and a chunked product's outputs.
    const Scratch<S, ScratchSlot::band> copies(in_place && packed ? 0
                                                                  : split.image_block * band.size);
    S* buf = copies.data();
    bool zeroed = false;
    const Scratch<S, ScratchSlot::panel> panel_memory(
        packed ? std::max(depth * panel_cols, chunked ? kChunkDepth * max_cols : Index(0)) + P : 0);
    S* panel = panel_memory.data();
    const Scratch<S, ScratchSlot::sums> sums_memory(chunked ? split.m_block * max_cols : 0);
    S* sums = sums_memory.data();
    const Scratch<S, ScratchSlot::sums> grid_memory(along_grid ? band_grid + P : 0);
    S* grid_out = grid_memory.data();
    std::vector<ColumnRun> runs(
        static_cast<std::size_t>(packed ? (chunked ? max_cols : panel_cols) : 0));
    std::vector<Index> chunk_offsets(static_cast<std::size_t>(kChunkDepth + 1));
    Index filled = -1;  // the (image block, group block, band) whose copies buf holds
    for (Index item = begin; item < end; ++item) {
      Index rest = item;
      const Index mb = rest % split.m_blocks;
      rest /= split.m_blocks;
      const Index bi = rest % split.bands;
      rest /= split.bands;
      const Index gb = rest % split.group_blocks;
      const Index ib = rest / split.group_blocks;
      const Index n0 = ib * split.image_block;
      const Index images = std::min(split.image_block, batch - n0);
      const Index r0 = bi * split.band_rows;
      const Index rows = std::min(split.band_rows, g.out_rows - r0);
      const Index g0 = gb * split.group_block;
      const Index g1 = std::min(groups, g0 + split.group_block);
      const S* first = src + n0 * src_image + g0 * in_per_group * in_plane_size;
      const Index grid_end = (rows - 1) * band.phase_cols + g.out_cols;
      // The band's input: in place when every sample a tile reads is inside the tensor (the
      // packed kernel reads only real samples; the others read a tile past the last one).
      const S* b = nullptr;
      Index channel_size = band.channel_size;
      Index image_size = band.size;
      const Index* offs = offsets.data();
      if (in_place) {
        const Index reach = (first - src) + (images - 1) * src_image + r0 * g.in_cols +
                            ((g1 - g0) * in_per_group - 1) * in_plane_size + whole.max_offset +
                            (grid_end + NR - 1) / NR * NR + NR;
        if (packed || reach <= src_size) {
          b = first + r0 * g.in_cols;
          channel_size = in_plane_size;
          image_size = src_image;
          offs = whole_offsets.data();
        }
      }
      if (b == nullptr) {
        const Index key = (ib * split.group_blocks + gb) * split.bands + bi;
        if (!zeroed) {
          std::fill(buf, buf + split.image_block * band.size, S(0));
          zeroed = true;
        }
        if (key != filled) {
          for (Index i = 0; i < images; ++i) {
            (g1 - g0 == split.group_block ? fill : fill_tail)
                .rows(first + i * src_image, in_plane_size, buf + i * band.size, band,
                      r0 * g.stride.rows, r0 * g.stride.rows + band_input_rows(g, rows));
          }
          filled = key;
        }
        b = buf;
      }
      const Index m0 = mb * split.m_block;
      const Index m1 = std::min(out_per_group, m0 + split.m_block);
      for (Index grp = g0; grp < g1; ++grp) {
        const S* bg = b + (grp - g0) * in_per_group * channel_size;
        const S* ag = weights.data + grp * group_stride;
        const StridedRows<S> a{ag + m0 * weights.row, weights.row, weights.col};
        S* dst =
            out.data + n0 * out.image_size + (grp * out_per_group) * out.plane_size + r0 * out.ld;
        const S* bias_g = bias == nullptr ? nullptr : bias + grp * out_per_group;
        if constexpr (MR == 1) {
          for (Index m = m0; m < m1; ++m) {
            const S bias_m = bias_g == nullptr ? S(0) : bias_g[m];
            S* plane = dst + m * out.plane_size;
            if (!along_grid) {
              depthwise_rows(bg, offs, ag + m * weights.row, depth, bias_m, spans.data(),
                             rows * per_row, plane);
              continue;
            }
            // The band's grid (a shorter last band: its prefix, in whole packets).
            const Index count = std::min<Index>(Index(grid_spans.size()), (grid_end + P - 1) / P);
            depthwise_rows(bg, offs, ag + m * weights.row, depth, bias_m, grid_spans.data(), count,
                           grid_out);
            for (Index r = 0; r < rows; ++r) {
              std::copy(grid_out + r * band.phase_cols, grid_out + r * band.phase_cols + g.out_cols,
                        plane + r * out.ld);
            }
          }
        } else {
          const Index pitch = in_place ? g.in_cols : band.phase_cols;
          const Index total = packed ? images * rows * g.out_cols : grid_end;
          auto gather = [&](Index p0, Index cols, Index k0, Index k1, S* to, Index ld,
                            ColumnRun* runs_out) {
            // The im2col columns [p0, p0 + cols) of rows [k0, k1) into `to` (row pitch ld), run by
            // run; a run shorter than a packet is copied as a whole packet where the source has
            // room (band copies have a tile of slack; the input tensor ends somewhere): the extra
            // lanes land on the next run's columns, written after it, or in the slack.
            const Index count = column_runs(p0, cols, rows, g.out_cols, runs_out);
            const S* safe_end = b == buf ? buf + split.image_block * band.size : src + src_size;
            for (Index k = k0; k < k1; ++k) {
              const S* row = bg + offs[k];
              S* dst_row = to + (k - k0) * ld;
              // The rows of col are short runs of many planes, too many streams for the
              // hardware prefetcher: ask for row k + kGatherAhead's runs while copying row k's.
              const S* ahead = k + kGatherAhead < k1 ? bg + offs[k + kGatherAhead] : nullptr;
              for (Index r = 0; r < count; ++r) {
                const ColumnRun& run = runs_out[r];
                const Index at = run.image * image_size + run.row * pitch + run.first;
                if (ahead != nullptr) Eigen::internal::prefetch(ahead + at);
                const S* from = row + at;
                if (run.length < P && from + P <= safe_end) {
                  Eigen::internal::pstoreu(dst_row + run.col,
                                           Eigen::internal::ploadu<Packet>(from));
                } else {
                  copy_row(dst_row + run.col, from, run.length);
                }
              }
            }
            return count;
          };
          // Stores the columns [q0, q0 + cols) of `count` runs (sorted by column) from `tile`,
          // whose column 0 is q0: rows [i0, i0 + n_rows) of the item's block of outputs.
          auto store_runs = [&](Index count, Index q0, Index cols, Index i0, Index n_rows,
                                const S* tile, Index ld) {
            const ColumnRun* const first_run = runs.data();
            const ColumnRun* end = first_run + count;
            const ColumnRun* run = std::partition_point(
                first_run, end, [&](const ColumnRun& r) { return r.col + r.length <= q0; });
            for (; run != end && run->col < q0 + cols; ++run) {
              const Index lo = std::max(run->col, q0);
              const Index length = std::min(run->col + run->length, q0 + cols) - lo;
              for (Index i = 0; i < n_rows; ++i) {
                const Index m = m0 + i0 + i;
                S* to = dst + run->image * out.image_size + m * out.plane_size + run->row * out.ld +
                        run->first + (lo - run->col);
                const S* from = tile + i * ld + (lo - q0);
                const S add = bias_g == nullptr ? S(0) : bias_g[m];
                for (Index j = 0; j < length; ++j) to[j] = from[j] + add;
              }
            }
          };
          GridStore<S> store{dst + m0 * out.plane_size,
                             out.plane_size,
                             out.ld,
                             pitch,
                             g.out_cols,
                             bias_g == nullptr ? nullptr : bias_g + m0};
          if (chunked && total > NR) {
            // Chunked: each chunk of the reduction over all the item's columns, the outputs
            // accumulating in `sums` (weights streamed once per item, not once per tile).
            const Index cols_r = (total + NR - 1) / NR * NR;
            const Index passes = (depth + kChunkDepth - 1) / kChunkDepth;
            Index count = 0;
            for (Index pass = 0; pass < passes; ++pass) {
              const Index k0 = pass * depth / passes;
              const Index k1 = (pass + 1) * depth / passes;
              const StridedRows<S> ak{a.data + k0 * a.col, a.row, a.col};
              auto accumulate = [&](Index i0, Index n_rows, Index q0, Index cols, const S* tile,
                                    Index ld) {
                for (Index i = 0; i < n_rows; ++i) {
                  S* to = sums + (i0 + i) * cols_r + q0;
                  const S* from = tile + i * ld;
                  if (pass == 0) {
                    std::copy(from, from + cols, to);
                  } else {
                    for (Index j = 0; j < cols; ++j) to[j] += from[j];
                  }
                }
              };
              if (packed) {
                count = gather(0, total, k0, k1, panel, cols_r, runs.data());
                for (Index k = k0; k < k1; ++k) chunk_offsets[k - k0] = (k - k0) * cols_r;
                shifted_product<S, MR, NP>(m1 - m0, k1 - k0, ak, panel, chunk_offsets.data(), 0,
                                           total, k1 - k0, accumulate);
              } else {
                shifted_product<S, MR, NP>(m1 - m0, k1 - k0, ak, bg, offs + k0, 0, total, k1 - k0,
                                           accumulate);
              }
            }
            if (packed) {
              store_runs(count, 0, total, 0, m1 - m0, sums, cols_r);
            } else {
              store(0, m1 - m0, 0, total, sums, cols_r);
            }
          } else if (!packed) {
            shifted_product<S, MR, NP>(m1 - m0, depth, a, bg, offs, 0, grid_end, kDepthChunk,
                                       store);
          } else {
            // Panels of real output samples, across the images of the block: gathered (im2col)
            // and stored run by run.
            for (Index p0 = 0; p0 < total; p0 += panel_cols) {
              const Index cols = std::min(panel_cols, total - p0);
              const Index count = gather(p0, cols, 0, depth, panel, panel_cols, runs.data());
              shifted_product<S, MR, NP>(
                  m1 - m0, depth, a, panel, panel_offsets.data(), 0, cols, kDepthChunk,
                  [&](Index i0, Index n_rows, Index q0, Index q_cols, const S* tile, Index ld) {
                    store_runs(count, q0, q_cols, i0, n_rows, tile, ld);
                  });
            }
          }
        }
      }
    }
  });
}

}  // namespace convtape::detail

#include "convtape/detail/reenable_warnings.hpp"
