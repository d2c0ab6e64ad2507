// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// The backward pass of a batched convolution along a given path (`conv2d_backward_path`): the
// bias gradient, the weight gradient (`grad_weight_gemm`, `grad_weight_dots`) and the input
// gradient (`grad_input_flipped`, `grad_input_col2im`, `grad_input_planes`), chosen as
// `conv2d_dispatch.hpp` describes. Not for direct inclusion.
//
// Like the forward engine, each gradient's work is cut into independent items for the threads.
// Weight gradient: (block of input channels, range of the batch's (image, band) pairs); each item
// sums into its own slice of the partial gradient of its range, and the partials are added once
// at the end, always in the same order (the cut depends on the thread count only, so results are
// the same to the bit for a given thread count). Input gradient for strides above 1: (image,
// group, block of input channels, band of output rows); an item scatters its columns into a
// band-local padded gradient and adds the band into the input gradient. Bands of one channel
// block overlap by the kernel's extent, so the even bands run first, then the odd ones: no two
// items running at once touch the same sample, and every sample receives its sums in a fixed
// order.

#include <algorithm>
#include <utility>
#include <vector>

#include "convtape/conv2d_grads.hpp"
#include "convtape/core.hpp"
#include "convtape/detail/conv2d_dispatch.hpp"
#include "convtape/detail/conv2d_shape.hpp"
#include "convtape/detail/direct.hpp"
#include "convtape/detail/disable_warnings.hpp"
#include "convtape/detail/gemm.hpp"
#include "convtape/detail/im2col.hpp"
#include "convtape/detail/interleaved.hpp"
#include "convtape/detail/matrix_conv.hpp"
#include "convtape/detail/packet_transpose.hpp"
#include "convtape/detail/parallel.hpp"
#include "convtape/detail/plane.hpp"
#include "convtape/detail/scratch.hpp"
#include "convtape/detail/shifted_conv.hpp"
#include "convtape/detail/unroll.hpp"
#include "convtape/detail/winograd.hpp"
#include "convtape/tensor.hpp"

namespace convtape::detail {

/// Side of the square tiles of the transposes here (a 1x1 kernel's flipped weights in
/// `grad_input_flipped`; `grad_weight_gemm`'s partial sums of dW^T into dW): both sides' cache
/// lines used whole.
constexpr Index kTransposeTile = 16;

// ---------------------------------------------------------------------------------------------
// Input gradient

/// Whether `grad_input_flipped` computes the input gradient directly (zero padding no wider than
/// the dilated kernel) rather than the gradient of the padded input.
inline bool flipped_input_is_interior(const Conv2dGeometry& g) {
  const Index er = g.dilation.rows * (g.kernel_rows - 1);
  const Index ec = g.dilation.cols * (g.kernel_cols - 1);
  return g.mode == PaddingMode::zeros && g.pad.top <= er && g.pad.bottom <= er &&
         g.pad.left <= ec && g.pad.right <= ec;
}

/// grad_input += the gradients of the padded inputs `padded` (one padded plane per image and
/// channel, contiguous) folded back onto the input (`fold_padding`), planes in parallel where
/// that pays.
template <class S>
void fold_batch(const S* padded, const Conv2dShape& s, Tensor<S>& grad_input) {
  const Conv2dGeometry& g = s.geometry;
  const Index padded_plane_size = g.padded_rows() * g.padded_cols();
  const Index in_plane_size = g.in_rows * g.in_cols;
  parallel_blocks(s.batch * s.in_channels,
                  copy_threads<S>(double(s.batch * s.in_channels * padded_plane_size)),
                  [&](Index begin, Index end, int) {
                    for (Index p = begin; p < end; ++p) {
                      fold_padding(padded + p * padded_plane_size, g.padded_cols(), g,
                                   grad_input.data() + p * in_plane_size, g.in_cols);
                    }
                  });
}

/// The input gradient for stride 1 as a forward correlation: the output gradient, zero-padded by
/// dilation * (kernel - 1), correlated with the kernel rotated by 180 degrees and its two channel
/// axes swapped (`shifted_conv`, or `winograd_conv` when `use_winograd`). For zero padding no
/// wider than that the result is the input gradient itself; otherwise it is the gradient of the
/// padded input of every image, folded back plane by plane (`grad_input` zero on entry then).
template <class S>
void grad_input_flipped(const Tensor<S>& grad_output, const Tensor<S>& weight, const Conv2dShape& s,
                        bool use_winograd, Tensor<S>& grad_input, int threads) {
  const Conv2dGeometry& g = s.geometry;
  const Index kh = g.kernel_rows;
  const Index kw = g.kernel_cols;
  const Index er = g.dilation.rows * (kh - 1);
  const Index ec = g.dilation.cols * (kw - 1);
  const bool interior = flipped_input_is_interior(g);
  Conv2dOptions o;
  o.dilation(g.dilation);
  if (interior) {
    o.padding(er - g.pad.top, er - g.pad.bottom, ec - g.pad.left, ec - g.pad.right);
  } else {
    o.padding(er, er, ec, ec);
  }
  const Conv2dGeometry gi = conv2d_geometry(g.out_rows, g.out_cols, kh, kw, o, "conv2d_backward");
  CONVTAPE_ASSERT(gi.out_rows == (interior ? g.in_rows : g.padded_rows()));
  CONVTAPE_ASSERT(gi.out_cols == (interior ? g.in_cols : g.padded_cols()));

  const S* w = weight.data();
  const Index in_per_group = s.in_per_group;
  const Index out_per_group = s.out_per_group;
  const Index taps = kh * kw;
  // The flipped weights, row-major per group: row c holds, for every output channel o, the taps
  // of w[o, c] in reverse order ((kh-1-a) * kw + (kw-1-b) for tap (a, b)). In parallel when large.
  const Index depth = out_per_group * taps;
  const Index flipped_size = s.groups * in_per_group * depth;
  const Scratch<S, ScratchSlot::flipped_weights> flipped_memory(flipped_size);
  S* const flipped = flipped_memory.data();
  parallel_blocks(s.groups * in_per_group, std::min(threads, copy_threads<S>(double(flipped_size))),
                  [&](Index begin, Index end, int) {
                    if (taps == 1) {
                      // A 1x1 kernel's flip is the transpose W^T: in tiles of kTransposeTile rows
                      // and output channels, so that each cache line read serves a tile's rows
                      // (read row by row, a line per element: 42% of the input gradient of a
                      // 960->320 layer on 7² planes).
                      for (Index r0 = begin; r0 < end; r0 += kTransposeTile) {
                        const Index r1 = std::min(end, r0 + kTransposeTile);
                        for (Index o0 = 0; o0 < out_per_group; o0 += kTransposeTile) {
                          const Index o1 = std::min(out_per_group, o0 + kTransposeTile);
                          for (Index row = r0; row < r1; ++row) {
                            const S* column = w +
                                              row / in_per_group * out_per_group * in_per_group +
                                              row % in_per_group;
                            for (Index o = o0; o < o1; ++o)
                              flipped[row * depth + o] = column[o * in_per_group];
                          }
                        }
                      }
                      return;
                    }
                    for (Index row = begin; row < end; ++row) {
                      const Index grp = row / in_per_group;
                      const Index c = row % in_per_group;
                      for (Index o = 0; o < out_per_group; ++o) {
                        const S* from = w + ((grp * out_per_group + o) * in_per_group + c) * taps;
                        std::reverse_copy(from, from + taps, flipped + row * depth + o * taps);
                      }
                    }
                  });
  const Index in_plane_size = g.in_rows * g.in_cols;
  const Index out_image_size = s.out_channels * g.out_rows * g.out_cols;
  // Not interior: the gradient of the padded input of every image (every sample written by the
  // correlation, whose output is the padded plane), folded back below.
  const Index padded_plane_size = g.padded_rows() * g.padded_cols();
  const Scratch<S, ScratchSlot::padded_grad_input> padded(
      interior ? 0 : s.batch * s.in_channels * padded_plane_size);
  const BatchPlanes<S> target =
      interior ? BatchPlanes<S>{grad_input.data(), s.in_channels * in_plane_size, in_plane_size,
                                g.in_cols}
               : BatchPlanes<S>{padded.data(), s.in_channels * padded_plane_size, padded_plane_size,
                                g.padded_cols()};
  const S* no_bias = nullptr;
  bool done = false;
  if constexpr (winograd_exact_for<S>()) {
    if (use_winograd && winograd_fits(gi)) {
      auto weight_at = [&](Index grp, Index c, Index k) {
        return flipped[(grp * in_per_group + c) * depth + k];
      };
      winograd_conv<S>(grad_output.data(), out_image_size, gi, s.batch, s.groups, out_per_group,
                       in_per_group, weight_at, no_bias, target, threads);
      done = true;
    }
  }
  if (!done) {
    using Block = GemmBlock<S>;
    const StridedRows<S> rows{flipped, depth, 1};
    switch (flipped_path<S>(s, gi)) {
      case Conv2dPath::interleaved:
        interleaved_conv<S>(grad_output.data(), out_image_size, gi, s.batch, s.in_channels,
                            in_per_group, flipped, no_bias, target.data, target.image_size,
                            threads);
        break;
      case Conv2dPath::direct:
        shifted_conv<S, 1, Block::np>(grad_output.data(), out_image_size, grad_output.size(), gi,
                                      s.batch, s.groups, out_per_group, in_per_group,
                                      ConvKernel::rows, rows, in_per_group * depth, no_bias, target,
                                      threads);
        break;
      default:
        shifted_conv<S, Block::mr, Block::np>(grad_output.data(), out_image_size,
                                              grad_output.size(), gi, s.batch, s.groups,
                                              out_per_group, in_per_group, ConvKernel::grid, rows,
                                              in_per_group * depth, no_bias, target, threads);
        break;
    }
  }
  if (!interior) fold_batch(padded.data(), s, grad_input);
}

/// grad_input (zero on entry) for any stride as the GEMM dcol = W^T * grad_output, one tile of a
/// band's output samples at a time, scattered (col2im) into a band-local padded gradient that is
/// then added into grad_input: straight onto the input for zero padding, else into `padded` (the
/// padded gradient of the whole batch, zero on entry), which the caller folds back onto grad_input.
/// Where the taps write every phase of the stride, the band is the forward's phase planes and the
/// tiles are of its wide grid, so that each tap's column is added in one run; else the band's rows
/// are split by column phase where an output row holds a packet (`PhasedRows`).
template <class S>
void grad_input_col2im(const Tensor<S>& grad_output, const Tensor<S>& weight, const Conv2dShape& s,
                       Tensor<S>& grad_input, S* padded, int threads) {
  using Block = GemmBlock<S>;
  constexpr int MR = Block::mr;
  constexpr Index NR = Block::nr;
  const Conv2dGeometry& g = s.geometry;
  const Index in_per_group = s.in_per_group;
  const Index out_per_group = s.out_per_group;
  const Index depth = in_per_group * g.kernel_rows * g.kernel_cols;  // rows of dcol
  const S* w = weight.data();

  // Bands of at least two output rows' worth of stride beyond the kernel's extent: bands two
  // apart never touch the same input row.
  const Index extent = g.dilation.rows * (g.kernel_rows - 1);
  const Index min_rows =
      std::min(g.out_rows, std::max({Index(1), (extent + 1 + g.stride.rows - 1) / g.stride.rows - 1,
                                     (kBandMinTiles * NR + g.out_cols - 1) / g.out_cols}));
  const Index want = threads > 1 ? kItemsPerThread * threads : 1;
  const Index wp = g.padded_cols();
  // The band's rows by column phase where an output row holds a packet (`PhasedRows`), with a
  // run of adds per output row; or (`wide`, below) the forward's phase planes.
  const PhasedRows phased = PhasedRows::of<S>(g);
  const Index pitch = phased.pitch();
  Index band_rows = g.out_rows;
  const Index row_bytes = Index(sizeof(S)) * in_per_group * pitch;
  while (band_rows > min_rows && band_input_rows(g, band_rows) * row_bytes > kBandBytes) {
    band_rows = std::max(min_rows, (band_rows + 1) / 2);
  }
  auto bands_of = [&](Index rows) { return (g.out_rows + rows - 1) / rows; };
  while (s.batch * s.groups * bands_of(band_rows) < want && band_rows > min_rows) {
    band_rows = std::max(min_rows, (band_rows + 1) / 2);
  }
  const Index bands = bands_of(band_rows);
  // Blocks of the group's input channels: they touch different planes, so any two may run at once.
  Index c_block = in_per_group;
  auto c_blocks_of = [&](Index block) { return (in_per_group + block - 1) / block; };
  while (s.batch * s.groups * c_blocks_of(c_block) * ((bands + 1) / 2) < want && c_block > 1) {
    c_block = (c_block + 1) / 2;
  }
  const Index c_blocks = c_blocks_of(c_block);
  const Index taps = g.kernel_rows * g.kernel_cols;
  const Index band_in = band_input_rows(g, band_rows);
  // Where the taps write every phase of the stride, the band can be kept as the forward's phase
  // planes (`band_layout`) and the output gradient and dcol on its wide grid, so that each tap's
  // adds are one run over the whole tile: taken where the wide grid's gap columns (computed and
  // dropped) cost the GEMM no more register blocks of columns than the band's real samples.
  const Index grid_cols = (wp + g.stride.cols - 1) / g.stride.cols;
  auto col_blocks = [&](Index samples) { return (samples + NR - 1) / NR; };
  const bool wide =
      g.stride != Size2(1, 1) &&
      phases_read_count(g.kernel_rows, g.dilation.rows, g.stride.rows) == g.stride.rows &&
      phases_read_count(g.kernel_cols, g.dilation.cols, g.stride.cols) == g.stride.cols &&
      col_blocks((band_rows - 1) * grid_cols + g.out_cols) <= col_blocks(band_rows * g.out_cols);
  // The geometry of one band: its output rows over a padded plane of band_in rows.
  Conv2dGeometry gb = g;
  gb.in_rows = band_in;
  gb.pad.top = 0;
  gb.pad.bottom = 0;
  gb.in_cols = wp;
  gb.pad.left = 0;
  gb.pad.right = 0;

  const ShiftedLayout planes = band_layout(g, c_block, band_rows, NR);
  const std::vector<Index> tap_at = wide ? tap_offsets(planes, g, c_block) : std::vector<Index>();
  const Index plane_size = planes.phase_rows * planes.phase_cols;
  const bool finite_weights = !wide || weight.flat().allFinite();
  const PhasedRows plane_rows(planes, g.stride.cols);  // a padded row of the phase planes
  // Samples of an output row in the band's output gradient and dcol: the wide grid's or the real.
  const Index row_samples = wide ? planes.phase_cols : g.out_cols;
  const Index band_size = wide ? planes.size : c_block * band_in * pitch;

  const Index out_plane_size = g.out_rows * g.out_cols;
  const Index band_samples = band_rows * row_samples;
  const Index tile = std::min<Index>((band_samples + NR - 1) / NR * NR, 4 * NR);
  std::vector<Index> offsets(static_cast<std::size_t>(out_per_group));
  for (Index o = 0; o < out_per_group; ++o) offsets[o] = o * band_samples;
  const Index in_plane_size = g.in_rows * g.in_cols;
  const Index padded_plane_size = g.padded_rows() * wp;
  const bool zeros = g.mode == PaddingMode::zeros;

  // Items: (image, group, channel block, band of the given parity).
  auto run = [&](Index parity) {
    const Index parity_bands = (bands - parity + 1) / 2;
    const Index per_image = s.groups * c_blocks * parity_bands;
    parallel_blocks(s.batch * per_image, threads, [&](Index begin, Index end, int) {
      // The band's output gradient (with a tile of slack: garbage only reaches discarded
      // columns), the band of the padded input gradient, and one tile of dcol.
      const Scratch<S, ScratchSlot::grad_output_rows> grad_output_memory(
          out_per_group * band_samples + NR);
      S* grad_output_band = grad_output_memory.data();
      // The wide grid's gap columns are zero and never written.
      if (wide) std::fill(grad_output_band, grad_output_band + out_per_group * band_samples, S(0));
      const Scratch<S, ScratchSlot::grad_input_rows> padded_memory(band_size);
      S* padded_band = padded_memory.data();
      const Scratch<S, ScratchSlot::panel> col_memory(c_block * taps * tile);
      S* col = col_memory.data();
      for (Index item = begin; item < end; ++item) {
        Index rest = item;
        const Index bi = 2 * (rest % parity_bands) + parity;
        rest /= parity_bands;
        const Index cb = rest % c_blocks;
        rest /= c_blocks;
        const Index grp = rest % s.groups;
        const Index n = rest / s.groups;
        const Index c0 = cb * c_block;
        const Index channels = std::min(c_block, in_per_group - c0);
        const Index r0 = bi * band_rows;
        const Index rows = std::min(band_rows, g.out_rows - r0);
        const Index samples = (rows - 1) * row_samples + g.out_cols;
        for (Index o = 0; o < out_per_group; ++o) {
          const S* from = grad_output.data() +
                          (n * s.out_channels + grp * out_per_group + o) * out_plane_size +
                          r0 * g.out_cols;
          S* to = grad_output_band + o * band_samples;
          if (wide) {
            for (Index r = 0; r < rows; ++r) {
              copy_row(to + r * row_samples, from + r * g.out_cols, g.out_cols);
            }
          } else {
            std::copy(from, from + rows * g.out_cols, to);
          }
        }
        std::fill(padded_band, padded_band + band_size, S(0));
        Conv2dGeometry gi = gb;
        gi.out_rows = rows;
        // dcol rows of the block's channels: W^T read in place (column k of the OIHW rows).
        const StridedRows<S> weights_t{w + grp * out_per_group * depth + c0 * taps, 1, depth};
        for (Index p0 = 0; p0 < samples; p0 += tile) {
          const Index n_cols = std::min(tile, samples - p0);
          shifted_product<S, MR, Block::np>(
              channels * taps, out_per_group, weights_t, grad_output_band, offsets.data(), p0,
              p0 + n_cols, 0,
              [&](Index m0, Index n_rows, Index q0, Index cols, const S* t, Index ld) {
                for (Index i = 0; i < n_rows; ++i) {
                  std::copy(t + i * ld, t + i * ld + cols, col + (m0 + i) * tile + q0 - p0);
                }
              });
          if (!wide) {
            col2im_add(col, tile, p0, n_cols, gi, phased, channels, padded_band);
            continue;
          }
          // The gap columns' dcol is W^T times zero: an exact zero for finite weights, which lands
          // harmlessly on samples of the band when every tap's column is added in one run; a
          // non-finite weight makes it NaN, so then it is zeroed first.
          if (!finite_weights) {
            for (Index q = (p0 / row_samples) * row_samples + g.out_cols; q < p0 + n_cols;
                 q += row_samples) {
              const Index lo = std::max(q, p0) - p0;
              const Index hi = std::min(q - g.out_cols + row_samples, p0 + n_cols) - p0;
              for (Index j = lo; j < hi; ++j) {  // a column or two: no call to memset per row
                for (Index k = 0; k < channels * taps; ++k) col[k * tile + j] = S(0);
              }
            }
          }
          for (Index k = 0; k < channels * taps; ++k) {
            add_run(col + k * tile, n_cols, padded_band + tap_at[k] + p0);
          }
        }
        // Padded rows [r0 * stride, + band_input_rows(rows)) of the block's channels.
        const Index first = r0 * g.stride.rows;
        const Index count = std::min(band_input_rows(g, rows), g.padded_rows() - first);
        const PhasedRows& columns = wide ? plane_rows : phased;
        for (Index c = 0; c < channels; ++c) {
          const Index channel = n * s.in_channels + grp * in_per_group + c0 + c;
          // Padded row first + i: in the plane of its row phase (first is a multiple of the
          // stride), both tracked without dividing.
          Index row_phase = 0;
          Index row_in_phase = 0;
          for (Index i = 0; i < count; ++i, row_phase == g.stride.rows - 1
                                                ? (row_phase = 0, ++row_in_phase)
                                                : ++row_phase) {
            const S* row = wide ? padded_band + c * planes.channel_size +
                                      row_phase * g.stride.cols * plane_size +
                                      row_in_phase * planes.phase_cols
                                : padded_band + c * band_in * pitch + i * pitch;
            if (zeros) {
              const Index r = first + i - g.pad.top;
              if (r < 0 || r >= g.in_rows) continue;
              columns.add_row(row, g.pad.left, g.in_cols,
                              grad_input.data() + channel * in_plane_size + r * g.in_cols);
            } else {
              columns.add_row(row, 0, wp, padded + channel * padded_plane_size + (first + i) * wp);
            }
          }
        }
      }
    });
  };
  run(0);
  if (bands > 1) run(1);
}

/// grad_input (zero on entry) as dcol = W^T * grad_output on slices of output samples taken in
/// (image, row, column) order: whole images, as many as fit in `kPackedSamples`, where the planes
/// are tiny (the tiles of `im2col_gemm`), else `kPackedSamples` of one image. Each slice's output
/// gradient is packed, multiplied by W^T read in place, and its columns are added (col2im) into
/// the padded gradient of their image's block of input channels, which is added onto grad_input
/// (zero padding) or into `padded` (the padded gradient of the whole batch, zero on entry,
/// folded by the caller) once the image is done. Items are (images of a slice, or one image) x
/// blocks of input channels of a group, blocks smaller only where the images are too few for
/// the threads; the slices do not depend on the thread count, nor does the order of any sum.
template <class S>
void grad_input_packed(const Tensor<S>& grad_output, const Tensor<S>& weight, const Conv2dShape& s,
                       Tensor<S>& grad_input, S* padded, int threads) {
  using Block = GemmBlock<S>;
  constexpr int MR = Block::mr;
  constexpr Index NR = Block::nr;
  const Conv2dGeometry& g = s.geometry;
  const Index in_per_group = s.in_per_group;
  const Index out_per_group = s.out_per_group;
  const Index taps = g.kernel_rows * g.kernel_cols;
  const Index depth = in_per_group * taps;  // a row of the OIHW weights
  const Index image_samples = g.out_rows * g.out_cols;
  const Index slice = (kPackedSamples + NR - 1) / NR * NR;  // B's rows hold the read slack
  const Index slice_images = std::max<Index>(1, kPackedSamples / image_samples);
  const Index units = (s.batch + slice_images - 1) / slice_images;
  // Blocks of input channels for the threads, none with fewer dcol rows than a register block
  // of columns (each block packs the output gradient again).
  const Index want = threads > 1 ? kItemsPerThread * threads : 1;
  const Index min_block = std::min(in_per_group, (NR + taps - 1) / taps);
  Index c_block = in_per_group;
  while (c_block > min_block &&
         units * s.groups * ((in_per_group + c_block - 1) / c_block) < want) {
    c_block = std::max(min_block, (c_block + 1) / 2);
  }
  const Index per_group = (in_per_group + c_block - 1) / c_block;
  const Index col_rows = (c_block * taps + MR - 1) / MR * MR;  // whole register blocks
  const Index wp = g.padded_cols();
  const Index padded_plane_size = g.padded_rows() * wp;
  const PhasedRows phased = PhasedRows::of<S>(g);  // an image's rows, by column phase
  const Index image_plane_size = g.padded_rows() * phased.pitch();
  const Index in_plane_size = g.in_rows * g.in_cols;
  const bool zeros = g.mode == PaddingMode::zeros;
  // A 1x1 kernel on the unpadded input with stride 1: every input sample gets exactly one dcol
  // value, stored straight into grad_input.
  const bool pointwise = taps == 1 && reads_input_in_place(g);
  // One image's padded planes, as col2im_add sees them: no padding left to add.
  Conv2dGeometry gp = g;
  gp.in_rows = g.padded_rows();
  gp.in_cols = wp;
  gp.pad = {};
  std::vector<Index> offsets(static_cast<std::size_t>(out_per_group));
  for (Index o = 0; o < out_per_group; ++o) offsets[static_cast<std::size_t>(o)] = o * slice;

  parallel_blocks(units * s.groups * per_group, threads, [&](Index begin, Index end, int) {
    const Scratch<S, ScratchSlot::grad_output_rows> b_memory(out_per_group * slice);
    S* b = b_memory.data();
    std::fill(b, b + out_per_group * slice, S(0));  // the slack is read, never used
    const Scratch<S, ScratchSlot::panel> col_memory(col_rows * slice);
    S* col = col_memory.data();
    const Scratch<S, ScratchSlot::grad_input_rows> image_memory(
        pointwise ? 0 : c_block * image_plane_size);
    S* image = image_memory.data();
    for (Index item = begin; item < end; ++item) {
      const Index unit = item / (s.groups * per_group);
      const Index grp = item / per_group % s.groups;
      const Index c0 = item % per_group * c_block;
      const Index channels = std::min(c_block, in_per_group - c0);
      const StridedRows<S> weights_t{weight.data() + grp * out_per_group * depth + c0 * taps, 1,
                                     depth};
      const Index n0 = unit * slice_images;
      const Index n1 = std::min(s.batch, n0 + slice_images);
      const Index last = (n1 - n0) * image_samples;  // the unit's samples
      for (Index start = 0; start < last; start += slice) {
        const Index count = std::min(slice, last - start);
        // B: the slice's output gradient, one row per output channel of the group.
        for (Index j = 0; j < count;) {
          const Index n = n0 + (start + j) / image_samples;
          const Index p = (start + j) % image_samples;
          const Index run = std::min(image_samples - p, count - j);
          const S* from =
              grad_output.data() + (n * s.out_channels + grp * out_per_group) * image_samples + p;
          for (Index o = 0; o < out_per_group; ++o) {
            copy_row(b + o * slice + j, from + o * image_samples, run);
          }
          j += run;
        }
        shifted_product<S, MR, Block::np>(channels * taps, out_per_group, weights_t, b,
                                          offsets.data(), 0, count, 0, DenseStore<S>{col, slice});
        // col2im, image by image; an image's gradient is complete with its last sample.
        for (Index j = 0; j < count;) {
          const Index n = n0 + (start + j) / image_samples;
          const Index p = (start + j) % image_samples;
          const Index run = std::min(image_samples - p, count - j);
          if (pointwise) {  // dcol is the input gradient itself: sample p is input sample p
            for (Index c = 0; c < channels; ++c) {
              copy_row(grad_input.data() +
                           (n * s.in_channels + grp * in_per_group + c0 + c) * in_plane_size + p,
                       col + c * slice + j, run);
            }
            j += run;
            continue;
          }
          if (p == 0) std::fill(image, image + channels * image_plane_size, S(0));
          col2im_add(col + j, slice, p, run, gp, phased, channels, image);
          j += run;
          if (p + run < image_samples) continue;
          for (Index c = 0; c < channels; ++c) {
            const S* from = image + c * image_plane_size;
            const Index channel = n * s.in_channels + grp * in_per_group + c0 + c;
            if (zeros) {
              S* to = grad_input.data() + channel * in_plane_size;
              for (Index r = 0; r < g.in_rows; ++r) {
                phased.add_row(from + (r + g.pad.top) * phased.pitch(), g.pad.left, g.in_cols,
                               to + r * g.in_cols);
              }
            } else {
              S* to = padded + channel * padded_plane_size;
              for (Index r = 0; r < g.padded_rows(); ++r) {
                phased.add_row(from + r * phased.pitch(), 0, wp, to + r * wp);
              }
            }
          }
        }
      }
    }
  });
}

/// The input gradient plane by plane with the tap loops of `detail/plane.hpp` (few channels, any
/// stride).
template <class S>
void grad_input_planes(const Tensor<S>& grad_output, const Tensor<S>& weight, const Conv2dShape& s,
                       Tensor<S>& grad_input) {
  const Conv2dGeometry& g = s.geometry;
  const int threads = available_threads();
  std::vector<RowMatrixX<S>> scratch(static_cast<std::size_t>(threads));
  parallel_for(s.batch * s.in_channels, threads, [&](Index item, int thread) {
    const Index n = item / s.in_channels;
    const Index c = item % s.in_channels;
    const Index group = c / s.in_per_group;
    RowMatrixX<S>& padded_grad_input = scratch[thread];
    padded_grad_input.setZero(g.padded_rows(), g.padded_cols());
    for (Index o = group * s.out_per_group; o < (group + 1) * s.out_per_group; ++o) {
      corr2d_grad_padded_input<S>(grad_output.plane(n, o), weight.plane(o, c % s.in_per_group), g,
                                  padded_grad_input.data(), padded_grad_input.outerStride());
    }
    fold_padding(padded_grad_input.data(), padded_grad_input.outerStride(), g,
                 grad_input.plane(n, c).data(), g.in_cols);
  });
}

// ---------------------------------------------------------------------------------------------
// Weight gradient

/// How a weight gradient is cut: blocks of `c_block` input channels (`c_blocks` of them, over all
/// groups when `per_group` is false, else within each group) x blocks of `o_block` output
/// channels per group (`o_blocks`; `grad_weight_gemm` only) x `chunks` ranges of the batch's
/// `units` (image, band) pairs.
struct GradWeightSplit {
  Index c_block = 1;
  Index c_blocks = 1;
  Index o_block = 1;
  Index o_blocks = 1;
  Index band_rows = 1;
  Index bands = 1;
  Index units = 1;
  Index chunks = 1;
  Index items() const { return c_blocks * o_blocks * chunks; }
};

/// The split for `channels` input channels in blocks (`blocks_of`(c_block) blocks),
/// `out_channels` output channels per group in blocks of whole `lane`s, and `threads` threads,
/// each range of (image, band) pairs costing a partial gradient of `partial_size` samples: bands
/// within `kBandBytes` of copy; then, until there are `kItemsPerThread` items per thread, ranges
/// of (image, band) pairs, as many as keep the partial sums (ranges x partial_size) within the
/// `samples` the whole gradient reads (thinner bands where there are too few pairs), and last
/// smaller channel blocks: each block of input channels reads `output_pass` samples again (the
/// output gradient of its group), each block of output channels `input_pass` (the input), so
/// the one that adds fewer is halved.
template <class BlocksOf>
GradWeightSplit grad_weight_split(const Conv2dGeometry& g, Index batch, Index channels,
                                  Index elem_bytes, int threads, double samples,
                                  double partial_size, BlocksOf&& blocks_of, Index out_channels = 1,
                                  Index lane = 1, double input_pass = 0, double output_pass = 0) {
  GradWeightSplit s;
  const Index want = threads > 1 ? kItemsPerThread * threads : 1;
  const Index row_bytes = elem_bytes * channels * g.stride.cols *
                          ((g.padded_cols() + g.stride.cols - 1) / g.stride.cols);
  s.band_rows = g.out_rows;
  while (s.band_rows > 8 && band_input_rows(g, s.band_rows) * row_bytes > kBandBytes) {
    s.band_rows = (s.band_rows + 1) / 2;
  }
  const Index max_chunks = std::max<Index>(
      1, std::min<Index>(want, static_cast<Index>(samples / std::max(partial_size, 1.0))));
  // Thinner bands (down to twice the kernel's extent in rows and 8 output rows) where the images
  // alone give too few ranges.
  const Index extent = g.dilation.rows * (g.kernel_rows - 1);
  const Index min_rows =
      std::min(g.out_rows, std::max<Index>(8, (2 * extent + g.stride.rows - 1) / g.stride.rows));
  auto units_of = [&](Index rows) { return batch * ((g.out_rows + rows - 1) / rows); };
  while (units_of(s.band_rows) < max_chunks && s.band_rows > min_rows) {
    s.band_rows = std::max(min_rows, (s.band_rows + 1) / 2);
  }
  s.bands = (g.out_rows + s.band_rows - 1) / s.band_rows;
  s.units = batch * s.bands;
  s.chunks = std::min(s.units, max_chunks);
  s.c_block = channels;
  s.c_blocks = blocks_of(s.c_block);
  s.o_block = (out_channels + lane - 1) / lane * lane;
  s.o_blocks = 1;
  while (s.items() < want) {
    const bool c_can = s.c_block > 1;
    const bool o_can = s.o_block > lane;
    if (!c_can && !o_can) break;
    if (o_can && (!c_can || input_pass * double(s.o_blocks) <= output_pass * double(s.c_blocks))) {
      s.o_block = ((s.o_block + 1) / 2 + lane - 1) / lane * lane;
      s.o_blocks = (out_channels + s.o_block - 1) / s.o_block;
    } else {
      s.c_block = (s.c_block + 1) / 2;
      s.c_blocks = blocks_of(s.c_block);
    }
  }
  // Still too few (few channels): more ranges whatever their partial sums cost.
  if (s.items() < want) {
    const Index blocks = s.c_blocks * s.o_blocks;
    const Index more = (want + blocks - 1) / blocks;
    while (units_of(s.band_rows) < more && s.band_rows > min_rows) {
      s.band_rows = std::max(min_rows, (s.band_rows + 1) / 2);
    }
    s.bands = (g.out_rows + s.band_rows - 1) / s.band_rows;
    s.units = batch * s.bands;
    s.chunks = std::min(s.units, more);
  }
  return s;
}

/// The im2col rows of one (image, band of output rows) of a block of input channels, as the
/// weight-gradient GEMMs read them, one sample at a time: row k's sample for output (r, q) of the
/// band at `src + offsets[k] + r * pitch() + q * step()`. From the input itself where there is no
/// padding, else from a copy of the band's padded rows (`copy_size()` samples per thread, zeroed
/// once: its zero padding is never written). Rows as they are, not split by phase for a stride:
/// these kernels need no two samples of a row adjacent, and a plain copy of a row costs a fraction
/// of a split one.
template <class S>
class GradWeightBands {
 public:
  /// Blocks of `c_block` of the group's `in_per_group` channels (the last may be shorter), bands
  /// of `band_rows` output rows.
  GradWeightBands(const Conv2dGeometry& g, Index in_per_group, Index c_block, Index band_rows)
      : g_(g),
        c_block_(c_block),
        in_place_(g.pad.top == 0 && g.pad.bottom == 0 && g.pad.left == 0 && g.pad.right == 0),
        band_(padded_rows_layout(g, c_block, band_rows)),
        fill_(unstrided(g), band_),
        fill_tail_(unstrided(g),
                   padded_rows_layout(g, in_per_group - (in_per_group - 1) / c_block * c_block,
                                      band_rows)) {
    const Index row = in_place_ ? g.in_cols : g.padded_cols();
    const Index plane = in_place_ ? g.in_rows * g.in_cols : band_.channel_size;
    for (Index c = 0; c < c_block; ++c) {
      for (Index a = 0; a < g.kernel_rows; ++a) {
        for (Index b = 0; b < g.kernel_cols; ++b) {
          offsets_.push_back(c * plane + a * g.dilation.rows * row + b * g.dilation.cols);
        }
      }
    }
    pitch_ = g.stride.rows * row;
  }

  Index copy_size() const { return in_place_ ? 0 : band_.size; }
  Index pitch() const { return pitch_; }
  Index step() const { return g_.stride.cols; }

  /// (src, offsets) for the `channels` channels whose first plane is `image` (planes of
  /// in_rows x in_cols), output rows [r0, r0 + rows); fills `buf` unless read in place.
  std::pair<const S*, const Index*> rows(const S* image, Index channels, Index r0, Index rows,
                                         S* buf) const {
    if (in_place_) return {image + r0 * pitch_, offsets_.data()};
    (channels == c_block_ ? fill_ : fill_tail_)
        .rows(image, g_.in_rows * g_.in_cols, buf, band_, r0 * g_.stride.rows,
              r0 * g_.stride.rows + band_input_rows(g_, rows));
    return {buf, offsets_.data()};
  }

 private:
  /// The padded rows a band of `band_rows` output rows reads, `channels` channels one after the
  /// other: the layout of a stride-1 fill.
  static ShiftedLayout padded_rows_layout(const Conv2dGeometry& g, Index channels,
                                          Index band_rows) {
    ShiftedLayout l;
    l.channels = channels;
    l.phase_rows = std::min(g.padded_rows(), band_input_rows(g, band_rows));
    l.phase_cols = g.padded_cols();
    l.channel_size = l.phase_rows * l.phase_cols;
    l.size = channels * l.channel_size;
    return l;
  }
  /// `g` with stride 1: its fill copies padded rows as they are.
  static Conv2dGeometry unstrided(Conv2dGeometry g) {
    g.stride = Size2(1, 1);
    return g;
  }

  Conv2dGeometry g_;
  Index c_block_;
  bool in_place_;
  ShiftedLayout band_;
  ShiftedFill<S> fill_;
  ShiftedFill<S> fill_tail_;
  std::vector<Index> offsets_;
  Index pitch_ = 0;
};

/// Output rows of grad_output per transposed chunk in `grad_weight_rows`: about this many output
/// samples, so that the chunk's transposed grad_output stays in the L1/L2 cache.
constexpr Index kGradWeightSamples = 128;

/// dW^T (K x C_out/groups per group) = sum over images of col (K x P) * grad_output^T (P x
/// C_out/groups): the im2col rows are read in place (broadcast, `GradWeightBands`) from a copy of
/// the band's padded rows, or from the input itself without padding; grad_output is transposed one
/// chunk of rows at a time, each item only its block of output channels. The partial sums of the
/// ranges of images are added and transposed into dW once, tile by tile. `grad_weight` is
/// overwritten.
template <class S>
void grad_weight_gemm(const Tensor<S>& x, const Tensor<S>& grad_output, const Conv2dShape& s,
                      Tensor<S>& grad_weight, int threads) {
  using Block = GemmBlock<S>;
  constexpr int MR = Block::mr;
  constexpr int NP = Block::np;
  constexpr Index NR = Block::nr;
  constexpr int P = PacketOf<S>::size;
  using Packet = typename PacketOf<S>::type;
  const Conv2dGeometry& g = s.geometry;
  const Index in_per_group = s.in_per_group;
  const Index out_per_group = s.out_per_group;
  const Index taps = g.kernel_rows * g.kernel_cols;
  const Index depth = in_per_group * taps;
  // A partial dW^T row: whole packets (blocks of output channels start at multiples of NR, and
  // a last block of fewer packets stores only those).
  const Index transposed_cols = packet_pitch<S>(out_per_group);
  // Ranges of images cost a partial gradient each; blocks of input channels transpose their
  // group's output gradient again, blocks of output channels read the input again.
  const GradWeightSplit split = grad_weight_split(
      g, s.batch, in_per_group, Index(sizeof(S)), threads, double(grad_output.size()),
      double(s.groups * depth * transposed_cols),
      [&](Index block) { return s.groups * ((in_per_group + block - 1) / block); }, out_per_group,
      NR, double(x.size()), double(grad_output.size()) / double(s.groups));
  const Index per_group = (in_per_group + split.c_block - 1) / split.c_block;
  const GradWeightBands<S> bands(g, in_per_group, split.c_block, split.band_rows);
  const Index rows_per_chunk = std::max<Index>(1, kGradWeightSamples / g.out_cols);
  const Index out_plane_size = g.out_rows * g.out_cols;
  const Index in_plane_size = g.in_rows * g.in_cols;
  const Index partial_size = s.groups * depth * transposed_cols;
  // Every element is written by the item that owns it before it is added to.
  const Scratch<S, ScratchSlot::grad_weight_partials> partials(split.chunks * partial_size);

  parallel_blocks(split.items(), threads, [&](Index begin, Index end, int) {
    // The band copy (zero padding never written, so zeroed once) and the transposed output
    // gradient of an item's block of output channels.
    const Scratch<S, ScratchSlot::band> band_memory(bands.copy_size());
    S* buf = band_memory.data();
    std::fill(buf, buf + bands.copy_size(), S(0));  // the zero padding is never written
    const Scratch<S, ScratchSlot::grad_output_rows> transposed_memory(
        std::min(rows_per_chunk, split.band_rows) * g.out_cols * split.o_block);
    S* transposed = transposed_memory.data();
    for (Index item = begin; item < end; ++item) {
      const Index chunk = item / (split.c_blocks * split.o_blocks);
      const Index block = item / split.o_blocks % split.c_blocks;
      const Index o0 = item % split.o_blocks * split.o_block;
      const Index o1 = std::min(out_per_group, o0 + split.o_block);
      const Index lanes = packet_pitch<S>(o1 - o0);  // transposed row length
      const Index grp = block / per_group;
      const Index c0 = (block % per_group) * split.c_block;
      const Index c1 = std::min(in_per_group, c0 + split.c_block);
      const Index k_rows = (c1 - c0) * taps;
      S* sum =
          partials.data() + chunk * partial_size + (grp * depth + c0 * taps) * transposed_cols + o0;
      for (Index k = 0; k < k_rows; ++k) {
        std::fill(sum + k * transposed_cols, sum + k * transposed_cols + lanes, S(0));
      }
      const Index u0 = chunk * split.units / split.chunks;
      const Index u1 = (chunk + 1) * split.units / split.chunks;
      for (Index u = u0; u < u1; ++u) {
        const Index n = u / split.bands;
        const Index r0 = (u % split.bands) * split.band_rows;
        const Index rows = std::min(split.band_rows, g.out_rows - r0);
        const auto [src, offs] =
            bands.rows(x.data() + (n * s.in_channels + grp * in_per_group + c0) * in_plane_size,
                       c1 - c0, r0, rows, buf);
        for (Index rr = 0; rr < rows; rr += rows_per_chunk) {
          const Index rr1 = std::min(rows, rr + rows_per_chunk);
          // grad_output^T for rows [r0 + rr, r0 + rr1) and output channels [o0, o1):
          // sample-major, `lanes` per sample, zeros past o1. A packet's worth of channels at a
          // time is transposed in registers (`interleave_planes`); the rest one by one, the rows
          // of the planes being short runs far apart: each is requested from memory two planes
          // ahead of its use.
          const Index samples = (rr1 - rr) * g.out_cols;
          const S* d0 = grad_output.data() +
                        (n * s.out_channels + grp * out_per_group + o0) * out_plane_size +
                        (r0 + rr) * g.out_cols;
          constexpr Index line = 64 / sizeof(S) > 0 ? Index(64 / sizeof(S)) : 1;
          Index whole = 0;  // channels transposed in packets
          if constexpr (P > 1) {
            for (; whole + P <= o1 - o0; whole += P) {
              const S* planes[P];
              for (int l = 0; l < P; ++l) planes[l] = d0 + (whole + l) * out_plane_size;
              interleave_planes(planes, samples, 1, transposed + whole, lanes / P);
            }
          }
          for (Index o = whole; o < o1 - o0; ++o) {
            if (o + 2 < o1 - o0) {
              for (Index p = 0; p < samples; p += line) {
                Eigen::internal::prefetch(d0 + (o + 2) * out_plane_size + p);
              }
            }
            const S* d = d0 + o * out_plane_size;
            for (Index p = 0; p < samples; ++p) transposed[p * lanes + o] = d[p];
          }
          if (o1 - o0 < lanes) {
            for (Index p = 0; p < samples; ++p) {
              std::fill(transposed + p * lanes + (o1 - o0), transposed + (p + 1) * lanes, S(0));
            }
          }
          for (Index k0 = 0; k0 < k_rows; k0 += MR) {
            const S* row_of[MR];
            for (int i = 0; i < MR; ++i) {
              row_of[i] = src + offs[std::min(k0 + i, k_rows - 1)] + rr * bands.pitch();
            }
            const Index valid = std::min<Index>(MR, k_rows - k0);
            // Blocks of NP packets of output channels; a last one of fewer computes only those.
            for (Index ob = 0; ob < lanes; ob += NR) {
              const int packets = int(std::min<Index>(NP, (lanes - ob) / P));
              const Index runs = rr1 - rr;
              S* const block_sum = sum + k0 * transposed_cols + ob;
              if (packets == NP) {
                rows_product<S, MR, NP>(g.out_cols, runs, row_of, bands.pitch(), bands.step(),
                                        transposed + ob, lanes, valid, block_sum, transposed_cols);
              } else {
                with_constant<NP - 1>(packets, [&](auto np) {
                  rows_product_narrow<S, MR, np>(g.out_cols, runs, row_of, bands.pitch(),
                                                 bands.step(), transposed + ob, lanes, valid,
                                                 block_sum, transposed_cols);
                });
              }
            }
          }
        }
      }
    }
  });

  // dW[o, k] of group grp = the sum over the chunks, in order, of the partial dW^T[k, o], in
  // square tiles so that both the reads along o and the writes along k use whole cache lines.
  constexpr Index T = kTransposeTile;
  const Index o_tiles = (out_per_group + T - 1) / T;
  parallel_blocks(
      s.groups * o_tiles,
      copy_threads<S>(double(split.chunks) * double(s.groups * depth * out_per_group)),
      [&](Index begin, Index end, int) {
        for (Index tile = begin; tile < end; ++tile) {
          const Index grp = tile / o_tiles;
          const Index o0 = tile % o_tiles * T;
          const Index o1 = std::min(out_per_group, o0 + T);
          S* out = grad_weight.data() + grp * out_per_group * depth;
          for (Index k0 = 0; k0 < depth; k0 += T) {
            const Index k1 = std::min(depth, k0 + T);
            Index k = k0;
            if constexpr (CanTransposePackets<Packet, P>::value) {
              // A packet of k by a packet of o at a time, transposed in registers.
              for (; k + P <= k1; k += P) {
                for (Index o = o0; o < o1; o += P) {
                  Eigen::internal::PacketBlock<Packet, P> block;
                  for (int i = 0; i < P; ++i) {
                    const S* row = partials.data() + (grp * depth + k + i) * transposed_cols + o;
                    Packet total = Eigen::internal::ploadu<Packet>(row);
                    for (Index c = 1; c < split.chunks; ++c) {
                      total = Eigen::internal::padd(
                          total, Eigen::internal::ploadu<Packet>(row + c * partial_size));
                    }
                    block.packet[i] = total;
                  }
                  Eigen::internal::ptranspose(block);
                  for (Index j = 0; j < std::min<Index>(P, o1 - o); ++j) {
                    Eigen::internal::pstoreu(out + (o + j) * depth + k, block.packet[j]);
                  }
                }
              }
            }
            for (; k < k1; ++k) {
              const S* row = partials.data() + (grp * depth + k) * transposed_cols;
              for (Index o = o0; o < o1; ++o) {
                S total = row[o];
                for (Index c = 1; c < split.chunks; ++c) total += row[c * partial_size + o];
                out[o * depth + k] = total;
              }
            }
          }
        }
      });
}

/// Bytes of the transposed im2col block (slice x columns) of one `grad_weight_packed` item, so
/// that it stays in the L2 cache while every row block of the output gradient reads it.
constexpr Index kPackedBlockBytes = Index(256) * 1024;

/// dW (C_out/groups x K per group, as stored) = sum over slices of output samples of
/// grad_output (C_out/groups x slice) * col^T (slice x K): the orientation for few output samples
/// and large weights (a tiny plane, a large kernel, many channels), where `grad_weight_gemm`'s
/// partial dW^T and its transposition would cost more than the products. Each slice of up to
/// `kPackedSamples` samples (rows of one or more (image, band) pairs, in order) packs its output
/// gradient rows and the transposed im2col rows of a block of input channels (from a band copy of
/// the input, or the input itself) and multiplies them with `shifted_product`; the first slice
/// stores into dW, the others add. Items are blocks of input x output channels of a group, so
/// no partial sums: the order of every sum is the same for any thread count. `grad_weight` is
/// overwritten.
template <class S>
void grad_weight_packed(const Tensor<S>& x, const Tensor<S>& grad_output, const Conv2dShape& s,
                        Tensor<S>& grad_weight, int threads) {
  using Block = GemmBlock<S>;
  constexpr int MR = Block::mr;
  constexpr int NP = Block::np;
  constexpr Index NR = Block::nr;
  const Conv2dGeometry& g = s.geometry;
  const Index in_per_group = s.in_per_group;
  const Index out_per_group = s.out_per_group;
  const Index taps = g.kernel_rows * g.kernel_cols;
  const Index depth = in_per_group * taps;
  // Bands as `grad_weight_gemm` cuts them for one thread (so the slices, and the order of every
  // sum, do not depend on the thread count); blocks of input channels no larger than the L2
  // budget of the transposed block. Then, until every thread has an item (the blocks are of one
  // size, so one each balances, and every block more packs again), smaller blocks of input
  // channels (each packs the output gradient of all the block's rows of dW again) or of output
  // channels (each packs the transposed im2col again), whichever packs less, but never narrower
  // than a register block (NR columns, MR rows), below which the packing costs more than the
  // product (never ranges of images: no partial sums).
  GradWeightSplit split = grad_weight_split(
      g, s.batch, in_per_group, Index(sizeof(S)), 1, 0.0, 1.0,
      [&](Index block) { return s.groups * ((in_per_group + block - 1) / block); });
  split.c_block =
      std::min(split.c_block,
               std::max<Index>(1, kPackedBlockBytes / (kPackedSamples * taps * Index(sizeof(S)))));
  const Index min_c_block = std::min(in_per_group, (NR + taps - 1) / taps);
  const Index min_o_block = std::min<Index>(out_per_group, MR);
  Index o_block = out_per_group;
  auto blocks = [](Index total, Index block) { return (total + block - 1) / block; };
  const Index want = threads;
  while (s.groups * blocks(in_per_group, split.c_block) * blocks(out_per_group, o_block) < want) {
    const bool c_can = split.c_block > min_c_block;
    const bool o_can = o_block > min_o_block;
    if (!c_can && !o_can) break;
    // Samples packed per output sample: the im2col rows once per block of output channels, the
    // output gradient once per block of input channels.
    if (o_can && (!c_can || depth * blocks(out_per_group, o_block) <=
                                out_per_group * blocks(in_per_group, split.c_block))) {
      o_block = std::max(min_o_block, (o_block / 2 + MR - 1) / MR * MR);
    } else {
      split.c_block = std::max(min_c_block, (split.c_block + 1) / 2);
    }
  }
  const Index per_group = blocks(in_per_group, split.c_block);
  const Index o_blocks = blocks(out_per_group, o_block);
  const Index items = s.groups * per_group * o_blocks;
  const GradWeightBands<S> bands(g, in_per_group, split.c_block, split.band_rows);
  const Index rows_per_chunk =
      std::max<Index>(1, std::min(kPackedSamples / g.out_cols, split.band_rows));
  const Index slice_cap = std::max(kPackedSamples, rows_per_chunk * g.out_cols);
  const Index ldb = (split.c_block * taps + NR - 1) / NR * NR;  // B's row, with the slack read
  const Index out_plane_size = g.out_rows * g.out_cols;
  const Index in_plane_size = g.in_rows * g.in_cols;
  std::vector<Index> b_rows(static_cast<std::size_t>(slice_cap));
  for (Index p = 0; p < slice_cap; ++p) b_rows[static_cast<std::size_t>(p)] = p * ldb;

  parallel_blocks(items, threads, [&](Index begin, Index end, int) {
    const Scratch<S, ScratchSlot::band> band_memory(bands.copy_size());
    S* buf = band_memory.data();
    std::fill(buf, buf + bands.copy_size(), S(0));  // the zero padding is never written
    const Scratch<S, ScratchSlot::panel> b_memory(slice_cap * ldb);
    S* b = b_memory.data();
    std::fill(b, b + slice_cap * ldb, S(0));  // the slack past each row is read, never used
    const Scratch<S, ScratchSlot::grad_output_rows> a_memory(o_block * slice_cap);
    S* a = a_memory.data();
    for (Index item = begin; item < end; ++item) {
      const Index grp = item / (per_group * o_blocks);
      const Index c0 = item / o_blocks % per_group * split.c_block;
      const Index c1 = std::min(in_per_group, c0 + split.c_block);
      const Index o0 = item % o_blocks * o_block;
      const Index o1 = std::min(out_per_group, o0 + o_block);
      const Index k_rows = (c1 - c0) * taps;
      S* dw = grad_weight.data() + (grp * out_per_group + o0) * depth + c0 * taps;
      bool first = true;
      Index filled = 0;  // samples of the current slice
      // dW's block (+)= A * B for the slice packed so far.
      auto multiply = [&]() {
        shifted_product<S, MR, NP>(
            o1 - o0, filled, StridedRows<S>{a, slice_cap, 1}, b, b_rows.data(), 0, k_rows, filled,
            [&](Index row0, Index rows, Index col0, Index cols, const S* tile, Index ld) {
              for (Index i = 0; i < rows; ++i) {
                S* out = dw + (row0 + i) * depth + col0;
                const S* in = tile + i * ld;
                if (first) {
                  std::copy(in, in + cols, out);
                } else {
                  for (Index j = 0; j < cols; ++j) out[j] += in[j];
                }
              }
            });
        first = false;
        filled = 0;
      };
      for (Index u = 0; u < split.units; ++u) {
        const Index n = u / split.bands;
        const Index r0 = (u % split.bands) * split.band_rows;
        const Index rows = std::min(split.band_rows, g.out_rows - r0);
        const auto [src, offs] =
            bands.rows(x.data() + (n * s.in_channels + grp * in_per_group + c0) * in_plane_size,
                       c1 - c0, r0, rows, buf);
        for (Index rr = 0; rr < rows; rr += rows_per_chunk) {
          const Index rr1 = std::min(rows, rr + rows_per_chunk);
          const Index samples = (rr1 - rr) * g.out_cols;
          if (filled + samples > slice_cap) multiply();
          // A: the output gradient's rows, one run per output channel.
          const S* d0 = grad_output.data() +
                        (n * s.out_channels + grp * out_per_group + o0) * out_plane_size +
                        (r0 + rr) * g.out_cols;
          for (Index o = 0; o < o1 - o0; ++o) {
            copy_row(a + o * slice_cap + filled, d0 + o * out_plane_size, samples);
          }
          // B: the im2col rows transposed, one output sample per row.
          for (Index r = rr; r < rr1; ++r) {
            const S* grid = src + r * bands.pitch();
            for (Index q = 0; q < g.out_cols; ++q) {
              S* row = b + (filled + (r - rr) * g.out_cols + q) * ldb;
              const S* at = grid + q * bands.step();
              for (Index k = 0; k < k_rows; ++k) row[k] = at[offs[k]];
            }
          }
          filled += samples;
        }
      }
      if (filled > 0) multiply();
    }
  });
}

/// dW as dot products, for few output channels per group (where a GEMM block along the output
/// channels would be mostly padding): per (image, band of output rows), the bands of an item's
/// input channels are copied once, and every tap's gradient for each output channel of their
/// groups is the dot product of that output's grad_output with a band shifted by the tap
/// (`tap_dots`). An output channel's rows of the band are read from memory once and serve all
/// the input channels of its group from the cache (a loop over the channels outside the images
/// read the whole output gradient once per input channel: 1.2 times the time of the weight
/// gradient of a 3-channel stem at batch 8).
template <class S>
void grad_weight_dots(const Tensor<S>& x, const Tensor<S>& grad_output, const Conv2dShape& s,
                      Tensor<S>& grad_weight, int threads) {
  const Conv2dGeometry& g = s.geometry;
  // Bands sized for the copies of all input channels at once; where there are too few items,
  // ranges of images (each a partial gradient, as many as keep them within the output gradient's
  // size), then blocks of channels (each reads the output gradient again).
  const GradWeightSplit split = grad_weight_split(
      g, s.batch, s.in_channels, Index(sizeof(S)), threads, double(grad_output.size()),
      double(grad_weight.size()), [&](Index block) { return (s.in_channels + block - 1) / block; });
  // One layout per channel's band copy; an item's channels side by side.
  const ShiftedLayout band = band_layout(g, 1, split.band_rows, PacketOf<S>::size);
  const ShiftedFill<S> fill(g, shifted_layout(g, 1, PacketOf<S>::size));
  const std::vector<Index> offsets = tap_offsets(band, g, 1);
  const Index taps = static_cast<Index>(offsets.size());
  const Index in_plane_size = g.in_rows * g.in_cols;
  const Index out_plane_size = g.out_rows * g.out_cols;
  const Index ipg = s.in_per_group;
  const Index opg = s.out_per_group;
  // Every element is zeroed by the item that owns it before it is added to.
  const Scratch<S, ScratchSlot::grad_weight_partials> partials_memory(split.chunks *
                                                                      grad_weight.size());
  S* const partials = partials_memory.data();
  const Index items = split.c_blocks * split.chunks;
  parallel_blocks(items, threads, [&](Index begin, Index end, int) {
    const Scratch<S, ScratchSlot::band> band_memory(split.c_block * band.size);
    S* const buf = band_memory.data();
    std::fill(buf, buf + split.c_block * band.size, S(0));  // the zero padding is never written
    for (Index item = begin; item < end; ++item) {
      const Index chunk = item / split.c_blocks;
      const Index c0 = (item % split.c_blocks) * split.c_block;
      const Index c1 = std::min(s.in_channels, c0 + split.c_block);
      S* sum = partials + chunk * grad_weight.size();
      for (Index c = c0; c < c1; ++c) {
        const Index group = c / ipg;
        for (Index o = group * opg; o < (group + 1) * opg; ++o) {
          std::fill(sum + (o * ipg + c % ipg) * taps, sum + (o * ipg + c % ipg + 1) * taps, S(0));
        }
      }
      const Index u0 = chunk * split.units / split.chunks;
      const Index u1 = (chunk + 1) * split.units / split.chunks;
      for (Index u = u0; u < u1; ++u) {
        const Index n = u / split.bands;
        const Index r0 = (u % split.bands) * split.band_rows;
        const Index rows = std::min(split.band_rows, g.out_rows - r0);
        for (Index c = c0; c < c1; ++c) {
          fill.rows(x.data() + (n * s.in_channels + c) * in_plane_size, in_plane_size,
                    buf + (c - c0) * band.size, band, r0 * g.stride.rows,
                    r0 * g.stride.rows + band_input_rows(g, rows));
        }
        for (Index group = c0 / ipg; group <= (c1 - 1) / ipg; ++group) {
          const Index ca = std::max(c0, group * ipg);
          const Index cb = std::min(c1, (group + 1) * ipg);
          for (Index o = group * opg; o < (group + 1) * opg; ++o) {
            const S* const dy =
                grad_output.data() + (n * s.out_channels + o) * out_plane_size + r0 * g.out_cols;
            for (Index c = ca; c < cb; ++c) {
              tap_dots(buf + (c - c0) * band.size, band.phase_cols, offsets.data(), taps, dy, rows,
                       g.out_cols, sum + (o * ipg + c % ipg) * taps);
            }
          }
        }
      }
    }
  });
  parallel_blocks(grad_weight.size(),
                  copy_threads<S>(double(split.chunks) * double(grad_weight.size())),
                  [&](Index begin, Index end, int) {
                    for (Index k = begin; k < end; ++k) {
                      S total = partials[k];
                      for (Index c = 1; c < split.chunks; ++c)
                        total += partials[c * grad_weight.size() + k];
                      grad_weight.data()[k] = total;
                    }
                  });
}

/// grad_bias[o] = the sum of grad_output's planes o over the batch, images in order, blocks of
/// output channels in parallel. Each image's planes of a block are read one after the other, so
/// tiny planes (a 1x1 output) are read as contiguous runs, not one scattered sample at a time.
template <class S>
void grad_bias_sums(const Tensor<S>& grad_output, VectorX<S>& grad_bias, int threads) {
  const Index batch = grad_output.dim(0);
  const Index channels = grad_output.dim(1);
  const Index plane = grad_output.dim(2) * grad_output.dim(3);
  parallel_blocks(channels, threads, [&](Index begin, Index end, int) {
    for (Index o = begin; o < end; ++o) grad_bias[o] = S(0);
    for (Index n = 0; n < batch; ++n) {
      const S* image = grad_output.data() + n * channels * plane;
      for (Index o = begin; o < end; ++o) grad_bias[o] += packet_sum(image + o * plane, plane);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The backward pass

/// The input gradient (shaped like `s`'s input) of `grad_output` alone, by
/// `grad_input_algorithm(s, path)`, or the plane tap loops on `planes`, on up to `threads`
/// threads. conv2d_backward's input gradient, and the forward pass of conv_transpose2d.
template <class S>
Tensor<S> grad_input_path(const Tensor<S>& grad_output, const Tensor<S>& weight,
                          const Conv2dShape& s, Conv2dPath path, int threads) {
  const Conv2dGeometry& g = s.geometry;
  const Shape4 input_shape{s.batch, s.in_channels, g.in_rows, g.in_cols};
  if (path == Conv2dPath::matrix && matrix_fits(s)) {
    Tensor<S> grad_input = uninitialized_tensor<S>(input_shape);
    matrix_grad_input(grad_output.data(), weight.data(), s, grad_input.data(), threads);
    return grad_input;
  }
  const GradInputAlgorithm algorithm =
      path == Conv2dPath::planes ? GradInputAlgorithm::tap_loops : grad_input_algorithm(s, path);
  Tensor<S> grad_input;
  switch (algorithm) {
    case GradInputAlgorithm::flipped:
      // Overwrites every element when the correlation is the input gradient itself.
      grad_input = flipped_input_is_interior(g) ? uninitialized_tensor<S>(input_shape)
                                                : Tensor<S>(input_shape);
      grad_input_flipped(grad_output, weight, s, path == Conv2dPath::winograd, grad_input, threads);
      break;
    case GradInputAlgorithm::interleaved:
      grad_input = uninitialized_tensor<S>(input_shape);
      interleaved_grad_input(grad_output.data(), s.out_channels * g.out_rows * g.out_cols, g,
                             s.batch, s.in_channels, weight.data(), grad_input.data(),
                             s.in_channels * g.in_rows * g.in_cols, threads);
      break;
    case GradInputAlgorithm::tap_loops:
      grad_input = Tensor<S>(input_shape);
      grad_input_planes(grad_output, weight, s, grad_input);
      break;
    case GradInputAlgorithm::col2im:
    case GradInputAlgorithm::packed: {
      grad_input = Tensor<S>(input_shape);
      // Padding modes other than zeros fold borders onto samples of other bands: the padded
      // gradient of the whole batch first, folded once all bands are in.
      const Index padded_size = g.mode == PaddingMode::zeros
                                    ? 0
                                    : s.batch * s.in_channels * g.padded_rows() * g.padded_cols();
      const Scratch<S, ScratchSlot::padded_grad_input> padded(padded_size);
      std::fill(padded.data(), padded.data() + padded_size, S(0));  // added into
      if (algorithm == GradInputAlgorithm::packed) {
        grad_input_packed(grad_output, weight, s, grad_input, padded.data(), threads);
      } else {
        grad_input_col2im(grad_output, weight, s, grad_input, padded.data(), threads);
      }
      if (padded_size > 0) fold_batch(padded.data(), s, grad_input);
      break;
    }
  }
  return grad_input;
}

/// Which gradients `conv2d_backward_path` computes (PyTorch's `output_mask`); the others are
/// left empty.
struct Conv2dOutputMask {
  bool grad_input = true;
  bool grad_weight = true;
  bool grad_bias = true;
};

/// `conv2d_backward` along a given path (grad_output's shape already checked), computing the
/// gradients `mask` asks for.
template <class S>
Conv2dGrads<S> conv2d_backward_path(const Tensor<S>& x, const Tensor<S>& weight,
                                    const Tensor<S>& grad_output, const Conv2dShape& s,
                                    Conv2dPath path, Conv2dOutputMask mask = {}) {
  const Conv2dGeometry& g = s.geometry;
  // Each gradient costs about one forward pass; the bias gradient one read of grad_output.
  const int threads = useful_threads(conv2d_cost<S>(s, path));
  Conv2dGrads<S> grads;
  if (mask.grad_bias) {
    grads.bias.resize(s.out_channels);
    grad_bias_sums(grad_output, grads.bias, copy_threads<S>(double(grad_output.size())));
  }
  // The plane loops add into a zeroed weight gradient; the other algorithms overwrite it.
  if (mask.grad_weight) {
    grads.weight = path == Conv2dPath::planes ? Tensor<S>(weight.shape())
                                              : uninitialized_tensor<S>(weight.shape());
  }
  if (path == Conv2dPath::planes) {
    if (mask.grad_input) grads.input = Tensor<S>(x.shape());
    RowMatrixX<S> padded_grad_input;  // reused across planes
    for (Index n = 0; n < s.batch; ++n) {
      for (Index c = 0; c < s.in_channels; ++c) {
        const Index group = c / s.in_per_group;
        const PaddedPlane<S> padded_x(x.plane(n, c), g);
        S* grad_input_data = mask.grad_input ? grads.input.plane(n, c).data() : nullptr;
        Index grad_input_ld = g.in_cols;
        if (mask.grad_input && g.has_padding()) {
          padded_grad_input.setZero(g.padded_rows(), g.padded_cols());
          grad_input_data = padded_grad_input.data();
          grad_input_ld = padded_grad_input.outerStride();
        }
        for (Index o = group * s.out_per_group; o < (group + 1) * s.out_per_group; ++o) {
          const auto grad_output_plane = grad_output.plane(n, o);
          const Index i = c % s.in_per_group;
          if (mask.grad_input) {
            corr2d_grad_padded_input<S>(grad_output_plane, weight.plane(o, i), g, grad_input_data,
                                        grad_input_ld);
          }
          if (mask.grad_weight) {
            corr2d_grad_kernel_from_padded<S>(padded_x.data(), padded_x.ld(), grad_output_plane, g,
                                              grads.weight.plane(o, i));
          }
        }
        if (mask.grad_input && g.has_padding()) {
          fold_padding(padded_grad_input.data(), padded_grad_input.outerStride(), g,
                       grads.input.plane(n, c).data(), g.in_cols);
        }
      }
    }
    return grads;
  }
  if (mask.grad_weight && path == Conv2dPath::matrix && matrix_fits(s)) {
    matrix_grad_weight(x.data(), grad_output.data(), s, grads.weight.data(), threads);
  } else if (mask.grad_weight) {
    switch (grad_weight_algorithm<S>(s)) {
      case GradWeightAlgorithm::dots:
        grad_weight_dots(x, grad_output, s, grads.weight, threads);
        break;
      case GradWeightAlgorithm::gemm:
        grad_weight_gemm(x, grad_output, s, grads.weight, threads);
        break;
      case GradWeightAlgorithm::packed:
        grad_weight_packed(x, grad_output, s, grads.weight, threads);
        break;
      case GradWeightAlgorithm::interleaved:
        interleaved_grad_weight(x.data(), s.in_channels * g.in_rows * g.in_cols, grad_output.data(),
                                s.out_channels * g.out_rows * g.out_cols, g, s.batch,
                                s.out_channels, s.out_per_group, grads.weight.data(), threads);
        break;
    }
  }
  if (mask.grad_input) grads.input = grad_input_path(grad_output, weight, s, path, threads);
  return grads;
}

}  // namespace convtape::detail

#include "convtape/detail/reenable_warnings.hpp"

/// The backward driver's explicit instantiations for scalar S, after `prefix` (`template` or
/// `extern template`): see convtape/instantiate.hpp.
#define CONVTAPE_DETAIL_INSTANTIATE_CONV2D_BACKWARD(prefix, S)                            \
  prefix convtape::Conv2dGrads<S> convtape::detail::conv2d_backward_path<S>(              \
      const convtape::Tensor<S>&, const convtape::Tensor<S>&, const convtape::Tensor<S>&, \
      const convtape::detail::Conv2dShape&, convtape::detail::Conv2dPath,                 \
      convtape::detail::Conv2dOutputMask);

CONVTAPE_DETAIL_EXTERN(CONVTAPE_DETAIL_INSTANTIATE_CONV2D_BACKWARD)
