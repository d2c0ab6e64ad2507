// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// Batched, multi-channel, grouped 2-D cross-correlation on NCHW tensors (PyTorch's
/// `torch.nn.functional.conv2d`; the kernel is not flipped) and its backward pass.
///
/// Shapes: x is (N, C_in, H, W); weight is OIHW, (C_out, C_in / groups, kh, kw); bias has C_out
/// elements or none; the output is (N, C_out, out_rows, out_cols) with the plane arithmetic of
/// `corr2d.hpp`. Output channel o belongs to group g = o / (C_out / groups) and reads input
/// channels g * (C_in / groups) ... (g + 1) * (C_in / groups) - 1:
///
///     y[n, o] = bias[o] + sum_{i < C_in/groups} corr2d(x[n, g*C_in/groups + i], weight[o, i])
///
/// Algorithms (chosen from the shape by `detail::conv2d_path`, never by the caller; every one
/// computes the same function, and the tests hold each to the loops of `reference.hpp`):
/// - `planes`: tiny problems, per-plane tap loops (`detail/plane.hpp`).
/// - `direct`: one or two output channels per group (depthwise layers): each output packet sums
///   all taps in a register, reading the input in place from a padded copy.
/// - `implicit_gemm`: the general case, W (C_out x K) times the im2col matrix (K = C_in/groups *
///   kh * kw rows), which is never materialized: a register-blocked packet kernel reads its rows
///   in place from a padded, stride-phase-split copy of one image (`detail/im2col.hpp`,
///   `detail/gemm.hpp`).
/// - `im2col_gemm`: the same kernel on explicitly gathered im2col tiles, when the in-place grid
///   would compute too many discarded columns (kernels nearly as wide as the input).
/// - `winograd`: 3x3, stride 1, no dilation, >= 16 channels per group: F(2x2, 3x3), 2.25 times
///   fewer multiplications (`detail/winograd.hpp`).
/// Backward: the weight gradient is a GEMM of the in-place im2col rows with dy (or dot products
/// for few output channels per group); the input gradient is, for stride 1, the forward
/// correlation of the padded dy with the flipped kernel (Winograd again for 3x3), else a GEMM
/// W^T dy followed by col2im.
///
/// Threads: compiled with OpenMP, images run in parallel when there are enough of them (a
/// multiple of the thread count, or at least four per thread), else the tiles of one image; the
/// team is OpenMP's (`OMP_NUM_THREADS`, `omp_set_num_threads`). One level only: called from
/// inside a parallel region it runs on the calling thread, and it never calls Eigen's threaded
/// GEMM. Without OpenMP everything runs on the calling thread.
///
/// Workspace (besides the returned tensors), per thread: one padded copy of one image's input
/// channels (about C_in * (H + pads) * (W + pads) samples), or for `winograd` a band of it and the
/// transformed tiles of two tile rows (16 * (C_in + C_out) * 64 samples); for `im2col_gemm` one
/// K x 64 im2col tile. The backward pass adds per thread a K x C_out partial weight gradient, dy
/// transposed for about 128 output samples, and for stride > 1 a copy of one image's dy and the
/// padded input gradient. For the ResNet block (8 x 64 x 56 x 56, 3x3) that is 1.2 MiB in one
/// thread and 1.8 MiB in two, against 6.9 MiB for one image's im2col
/// (`benchmarks/conv2d_memory.cpp` measures it).
///
/// NaN and Inf propagate as IEEE arithmetic on the loops of `reference.hpp` says (a non-finite
/// sample makes exactly the outputs whose window reads it non-finite; Inf * 0 and Inf - Inf are
/// NaN; padding zeros are multiplied too), with two differences in which non-finite value comes
/// out: `winograd`'s transforms may turn an infinite output into NaN (the set of non-finite
/// outputs is the reference's), and the stride-1 input gradient of every path but `im2col_gemm`,
/// a correlation of the zero-padded dy with the flipped kernel, lets a NaN or Inf weight meet
/// padding zeros, so every sample of the input channels it connects to becomes non-finite (NaN
/// where the reference is finite). Weight and bias gradients follow the reference exactly. See
/// docs/reliability.md; tests/nonfinite_test.cpp states each case.

#include <algorithm>
#include <sstream>
#include <type_traits>
#include <utility>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/detail/direct.hpp"
#include "convtape/detail/gemm.hpp"
#include "convtape/detail/im2col.hpp"
#include "convtape/detail/parallel.hpp"
#include "convtape/detail/plane.hpp"
#include "convtape/detail/winograd.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// Gradients of `conv2d` with respect to its three arguments.
template <class S>
struct Conv2dGrads {
  Tensor<S> input;   ///< shaped like x
  Tensor<S> weight;  ///< shaped like weight
  VectorX<S> bias;   ///< C_out elements (computed whether or not the forward had a bias)
};

/// The shapes of one batched convolution, resolved and checked once.
struct Conv2dShape {
  Index batch = 0;          ///< N
  Index in_channels = 0;    ///< C_in
  Index out_channels = 0;   ///< C_out
  Index groups = 1;         ///< channel groups
  Index in_per_group = 0;   ///< C_in / groups
  Index out_per_group = 0;  ///< C_out / groups
  Conv2dGeometry plane;     ///< per-plane geometry (same for every plane; along a dimension
                            ///< with one output sample, the smallest stride that gives it)

  /// Shape of the output, (N, C_out, out_rows, out_cols).
  Shape4 output_shape() const { return {batch, out_channels, plane.out_rows, plane.out_cols}; }
};

namespace detail {

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
  s.plane = conv2d_geometry(x.dim(2), x.dim(3), weight.dim(2), weight.dim(3), opts, fn);
  // With one output sample along a dimension, any stride above (padded - dilated kernel) gives
  // the same result: it is lowered to the smallest such stride, so no buffer grows with a stride
  // far larger than the image (the strided paths lay the input out in stride.rows * stride.cols
  // phase planes; a stride of 2^30 on a 6x6 image once asked for 470 GB). Every stride is then at
  // most the padded extent. Done after the 'same' padding, which depends on the stride given.
  Conv2dGeometry& pg = s.plane;
  if (pg.out_rows == 1) {
    pg.stride.rows = pg.padded_rows() - pg.dilation.rows * (pg.kernel_rows - 1);
  }
  if (pg.out_cols == 1) {
    pg.stride.cols = pg.padded_cols() - pg.dilation.cols * (pg.kernel_cols - 1);
  }
  // The output and the padded image are the buffers whose size the options (not the caller's
  // tensors) decide; products in double cannot overflow and cost no division.
  const Conv2dGeometry& g = s.plane;
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

// ---------------------------------------------------------------------------------------------
// Algorithm selection

/// The algorithms behind `conv2d` and `conv2d_backward`. `conv2d_path` picks one from the shape;
/// every one computes the same function (the tests hold each to `reference::conv2d`).
enum class Conv2dPath {
  /// Tiny problems: per-plane tap loops (`detail/plane.hpp`), nothing to set up.
  planes,
  /// Few output channels per group (depthwise layers): per output channel, every tap multiplied
  /// into a register strip of outputs read in place from a padded copy of the input
  /// (`direct_rows`); weight gradient by vectorized dot products (`tap_dots`).
  direct,
  /// GEMM of the weights with the im2col matrix, read in place from a padded, stride-phase-split
  /// copy of one image (`detail/im2col.hpp`) by a register-blocked packet kernel
  /// (`detail/gemm.hpp`); backward as GEMMs too (input gradient as the correlation of the padded
  /// output gradient with the flipped kernel for stride 1, else GEMM + col2im).
  implicit_gemm,
  /// As `implicit_gemm`, but on explicitly gathered im2col tiles (`pack_panel`), for shapes where
  /// the in-place grid would compute too many discarded columns (kernels nearly as wide as the
  /// input); input gradient by GEMM + col2im.
  im2col_gemm,
  /// 3x3, stride 1, no dilation, enough channels: Winograd's F(2x2, 3x3) (`detail/winograd.hpp`)
  /// for the forward pass and the input gradient (2.25 times fewer multiplications), the weight
  /// gradient as in `implicit_gemm`. Integer scalars, and (when forced) geometries it does not
  /// fit, compute through `implicit_gemm`.
  winograd,
};

inline const char* to_string(Conv2dPath path) {
  switch (path) {
    case Conv2dPath::planes:
      return "planes";
    case Conv2dPath::direct:
      return "direct";
    case Conv2dPath::implicit_gemm:
      return "implicit_gemm";
    case Conv2dPath::im2col_gemm:
      return "im2col_gemm";
    case Conv2dPath::winograd:
      return "winograd";
  }
  return "?";
}

/// Below this many multiply-adds (N * C_out * out_rows * out_cols * C_in / groups * kh * kw) the
/// setup of the other paths (a padded copy, packed weights) costs more than it saves.
constexpr Index kPlanesMaxMacs = Index(1) << 13;
/// Up to this many output channels per group, `direct` replaces the GEMM paths: a GEMM register
/// block of 6 rows would be mostly padding.
constexpr Index kDirectMaxOutPerGroup = 2;
/// Above this ratio of computed to real output samples (see `grid_waste`), `im2col_gemm`
/// replaces `implicit_gemm`.
constexpr double kMaxGridWaste = 1.25;
/// Input and output channels per group from which `winograd` is chosen for 3x3 stride-1 layers:
/// its 16 GEMMs have these as their sizes and need a few register blocks' worth to run at speed.
constexpr Index kWinogradMinChannels = 16;

/// Samples the in-place wide grid computes per real output sample: each output row is computed
/// over the full (stride-phase) width of the padded input.
inline double grid_waste(const Conv2dGeometry& g) {
  const Index pitch = (g.padded_cols() + g.stride.cols - 1) / g.stride.cols;
  return double((g.out_rows - 1) * pitch + g.out_cols) / double(g.out_rows * g.out_cols);
}

/// Multiply-adds of the forward pass.
inline Index conv2d_macs(const Conv2dShape& s) {
  return s.batch * s.out_channels * s.plane.out_rows * s.plane.out_cols * s.in_per_group *
         s.plane.kernel_rows * s.plane.kernel_cols;
}

/// The path `conv2d` and `conv2d_backward` take for shape `s`: `planes` below `kPlanesMaxMacs`;
/// else `direct` for at most `kDirectMaxOutPerGroup` output channels per group; else `winograd`
/// for 3x3, stride-1, undilated kernels with at least `kWinogradMinChannels` input and output
/// channels per group; else `im2col_gemm` when `grid_waste` exceeds `kMaxGridWaste`; else
/// `implicit_gemm`.
inline Conv2dPath conv2d_path(const Conv2dShape& s) {
  if (conv2d_macs(s) < kPlanesMaxMacs) return Conv2dPath::planes;
  if (s.out_per_group <= kDirectMaxOutPerGroup) return Conv2dPath::direct;
  if (winograd_fits(s.plane) && s.in_per_group >= kWinogradMinChannels &&
      s.out_per_group >= kWinogradMinChannels) {
    return Conv2dPath::winograd;
  }
  if (grid_waste(s.plane) > kMaxGridWaste) return Conv2dPath::im2col_gemm;
  return Conv2dPath::implicit_gemm;
}

// ---------------------------------------------------------------------------------------------
// Scheduling over the batch

/// How a batched kernel uses the threads: whole images per thread when there are enough images,
/// else the work of one image at a time cut into `chunks` pieces shared by the threads.
struct BatchSchedule {
  int threads = 1;
  bool per_image = true;
  Index chunks = 1;
  /// Image workspaces needed: one per thread, or one shared.
  int slots() const { return per_image ? threads : 1; }
};

inline BatchSchedule batch_schedule(Index batch) {
  BatchSchedule b;
  b.threads = available_threads();
  b.per_image = b.threads == 1 || batch % b.threads == 0 || batch >= 4 * b.threads;
  b.chunks = b.per_image ? 1 : 4 * b.threads;
  return b;
}

/// For every image n: `prepare(n, slot)`, `work(n, item, slot, thread)` for every item in
/// [0, items), then `finish(n, slot)`; `slot` names the image workspace, `thread` the calling
/// thread. Images run in parallel in the per-image schedule, the items of an image otherwise.
template <class Prepare, class Work, class Finish>
void run_batch(const BatchSchedule& b, Index batch, Index items, Prepare&& prepare, Work&& work,
               Finish&& finish) {
  if (b.per_image) {
    parallel_for(batch, b.threads, [&](Index n, int thread) {
      prepare(n, thread);
      for (Index i = 0; i < items; ++i) work(n, i, thread, thread);
      finish(n, thread);
    });
    return;
  }
  for (Index n = 0; n < batch; ++n) {
    prepare(n, 0);
    parallel_for(items, b.threads, [&](Index i, int thread) { work(n, i, 0, thread); });
    finish(n, 0);
  }
}

// ---------------------------------------------------------------------------------------------
// The convolution engine shared by the forward pass and the input gradient

/// Where the output planes of one image go: plane j at data + j * plane, row r of a plane at
/// + r * ld.
template <class S>
struct PlaneOut {
  S* data;
  Index plane;
  Index ld;
};

/// Sink for `shifted_product` that writes the real samples of a tile of C(m, q) to output planes:
/// q is a position on a grid of `pitch` columns per row of which the first `cols` are real.
/// Tiles arrive in increasing q, so the grid position is tracked by a cursor instead of a
/// division per tile (a 64-bit division costs as much as the copy of a whole tile).
template <class S>
struct GridStore {
  S* out;
  Index plane;
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
        Eigen::Map<Array> dst(out + (m0 + i) * plane + r * ld + c, real);
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
/// (+ bias[plane] if bias is not null). `finish(n, slot)` runs once an image is done. The kernel
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
  const Index in_plane = g.in_rows * g.in_cols;
  const ShiftedFill<S> fill(g, layout);
  auto prepare = [&](Index n, int slot) {
    VectorX<S>& buf = sources[slot];
    if (buf.size() != layout.size) buf.setZero(layout.size);
    fill(src + n * src_image, in_plane, buf.data());
  };

  if constexpr (MR == 1) {
    // One output plane at a time, row by row (`direct_rows`); items are ranges of output rows.
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
          const PlaneOut<S> out = target(n, slot);
          CONVTAPE_ASSERT(out.ld == g.out_cols);  // the spans assume dense output rows
          for (Index i = 0; i < m; ++i) {
            const Index plane = grp * m + i;
            direct_rows(b, offsets.data(), a.data() + grp * a_group + i * depth, depth,
                        bias == nullptr ? S(0) : bias[plane], spans.data() + r0 * per_row,
                        (r1 - r0) * per_row, out.data + plane * out.plane);
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
        const PlaneOut<S> out = target(n, slot);
        GridStore<S> store{out.data + grp * m * out.plane,
                           out.plane,
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

/// Tile-grid positions per Winograd work item (rounded to whole tile rows): the item's transformed
/// input and GEMM output (16 x channels x positions each) then stay in the L2 cache.
constexpr Index kWinogradChunk = 64;

/// The interface of `shifted_conv` for 3x3, stride-1, undilated geometries, computed with
/// Winograd's F(2x2, 3x3) (`detail/winograd.hpp`): per image and chunk of tile rows, the input
/// tiles of every channel are transformed, the 16 GEMMs run on the packet kernel of `gemm.hpp`,
/// and the output transform writes the 2x2 output tiles.
template <class S, class WeightAt, class Target, class Finish>
void winograd_conv(const S* src_images, Index src_image, const Conv2dGeometry& g, Index batch,
                   Index groups, Index in_per_group, Index out_per_group, WeightAt&& weight_at,
                   const S* bias, Target&& target, Finish&& finish) {
  using Block = GemmBlock<S>;
  constexpr int MR = Block::mr;
  constexpr Index NR = Block::nr;
  constexpr Index P = PacketOf<S>::size;
  CONVTAPE_ASSERT(winograd_fits(g));
  const Conv2dGeometry t = winograd_tile_geometry(g);
  const Index cg = in_per_group;
  const Index og = out_per_group;

  // Tile rows per item, and the item's row pitch in the transformed buffers.
  const Index pitch = (t.padded_cols() + 1) / 2;  // the shifted layout's phase_cols
  const Index rows_per_item = std::max<Index>(1, kWinogradChunk / pitch);
  const Index ld = (rows_per_item * pitch + NR - 1) / NR * NR;
  // Each item fills only the band of padded rows its tiles read (2 per tile row, plus 2), for one
  // group's channels: the band stays in the cache from the fill through the input transform.
  const ShiftedLayout layout = shifted_layout(t, cg, ld);
  CONVTAPE_ASSERT(layout.phase_cols == pitch);
  ShiftedLayout band = layout;
  band.phase_rows = rows_per_item + 1;
  band.channel_size = 4 * band.phase_rows * pitch;
  band.size = cg * band.channel_size + ld + 3 * band.phase_rows * pitch + 2 * pitch;
  const ShiftedFill<S> fill(t, layout);
  const std::vector<Index> tile_offsets = tap_offsets(band, t, 1);  // the 16 samples of a tile
  std::vector<Index> v_offsets(static_cast<std::size_t>(cg));
  for (Index c = 0; c < cg; ++c) v_offsets[c] = c * ld;

  // U = G k G^T for every kernel, packed per (group, xi) for the GEMMs.
  std::vector<S> u(static_cast<std::size_t>(groups * og * cg * 16));
  for (Index grp = 0; grp < groups; ++grp) {
    for (Index o = 0; o < og; ++o) {
      for (Index c = 0; c < cg; ++c) {
        S k[9];
        for (Index tap = 0; tap < 9; ++tap) k[tap] = weight_at(grp, o, c * 9 + tap);
        winograd_kernel_transform(k, u.data() + ((grp * og + o) * cg + c) * 16);
      }
    }
  }
  const Index a_size = (og + MR - 1) / MR * MR * cg;
  std::vector<S> a(static_cast<std::size_t>(groups * 16 * a_size));
  for (Index grp = 0; grp < groups; ++grp) {
    for (Index xi = 0; xi < 16; ++xi) {
      const std::vector<S> packed = pack_rows<S, MR>(
          og, cg, [&](Index o, Index c) { return u[((grp * og + o) * cg + c) * 16 + xi]; });
      std::copy(packed.begin(), packed.end(), a.begin() + (grp * 16 + xi) * a_size);
    }
  }

  const BatchSchedule sched = batch_schedule(batch);
  const Index chunks = (t.out_rows + rows_per_item - 1) / rows_per_item;
  const Index og_rows = (og + MR - 1) / MR * MR;  // M's rows, whole register blocks
  std::vector<VectorX<S>> bands(static_cast<std::size_t>(sched.threads));
  std::vector<VectorX<S>> vs(static_cast<std::size_t>(sched.threads));
  std::vector<VectorX<S>> ms(static_cast<std::size_t>(sched.threads));
  const Index in_plane = g.in_rows * g.in_cols;

  run_batch(
      sched, batch, groups * chunks, [](Index, int) {},
      [&](Index n, Index item, int slot, int thread) {
        const Index grp = item / chunks;
        const Index ti0 = (item % chunks) * rows_per_item;
        const Index ti1 = std::min(t.out_rows, ti0 + rows_per_item);
        const Index cols = (ti1 - ti0 - 1) * pitch + t.out_cols;  // up to the last real tile
        VectorX<S>& src = bands[thread];
        if (src.size() != band.size) src.setZero(band.size);
        VectorX<S>& v = vs[thread];
        if (v.size() != 16 * cg * ld + NR) v.setZero(16 * cg * ld + NR);
        VectorX<S>& m = ms[thread];
        if (m.size() != 16 * og_rows * ld + P) m.setZero(16 * og_rows * ld + P);

        fill.rows(src_images + n * src_image + grp * cg * in_plane, in_plane, src.data(), band,
                  2 * ti0, 2 * ti1 + 2);
        for (Index c = 0; c < cg; ++c) {
          winograd_input_transform(src.data() + c * band.channel_size, tile_offsets.data(),
                                   (cols + P - 1) / P * P, v.data() + c * ld, cg * ld);
        }
        for (Index xi = 0; xi < 16; ++xi) {
          shifted_product<S, MR, Block::np>(og, cg, a.data() + (grp * 16 + xi) * a_size,
                                            v.data() + xi * cg * ld, v_offsets.data(), 0, cols, 0,
                                            DenseStore<S>{m.data() + xi * og_rows * ld, ld});
        }
        const PlaneOut<S> out = target(n, slot);
        CONVTAPE_ASSERT(out.ld == g.out_cols);
        for (Index o = 0; o < og; ++o) {
          const Index plane = grp * og + o;
          for (Index ti = ti0; ti < ti1; ++ti) {
            winograd_output_transform(m.data() + o * ld, og_rows * ld, (ti - ti0) * pitch,
                                      t.out_cols, bias == nullptr ? S(0) : bias[plane],
                                      out.data + plane * out.plane + 2 * ti * out.ld, out.ld,
                                      std::min<Index>(2, g.out_rows - 2 * ti), g.out_cols);
          }
        }
      },
      finish);
}

/// `shifted_conv` with the register block that suits `out_per_group` rows: the GEMM block, or a
/// single row (the direct path) for at most `kDirectMaxOutPerGroup`.
template <class S, class... Args>
void shifted_conv_auto(Index out_per_group, Args&&... args) {
  using Block = GemmBlock<S>;
  if (out_per_group <= kDirectMaxOutPerGroup) {
    shifted_conv<S, 1, Block::np>(std::forward<Args>(args)...);
  } else {
    shifted_conv<S, Block::mr, Block::np>(std::forward<Args>(args)...);
  }
}

// ---------------------------------------------------------------------------------------------
// Forward

/// `conv2d` along a given path (no checks beyond those `conv2d_shape` made).
template <class S>
Tensor<S> conv2d_forward(const Tensor<S>& x, const Tensor<S>& weight, const VectorX<S>& bias,
                         const Conv2dShape& s, Conv2dPath path) {
  const Conv2dGeometry& g = s.plane;
  // Every path below writes every output sample.
  Tensor<S> y = uninitialized_tensor<S>(s.output_shape());
  if (path == Conv2dPath::planes) {
    for (Index n = 0; n < s.batch; ++n) {
      for (Index o = 0; o < s.out_channels; ++o) {
        y.plane(n, o).setConstant(bias.size() != 0 ? bias[o] : S(0));
      }
      for (Index c = 0; c < s.in_channels; ++c) {
        const Index group = c / s.in_per_group;
        const PaddedPlane<S> xp(x.plane(n, c), g);
        for (Index o = group * s.out_per_group; o < (group + 1) * s.out_per_group; ++o) {
          corr2d_padded<S>(xp.data(), xp.ld(), weight.plane(o, c % s.in_per_group), g,
                           y.plane(n, o));
        }
      }
    }
    return y;
  }
  const Index depth = s.in_per_group * g.kernel_rows * g.kernel_cols;
  const S* w = weight.data();
  const Index m = s.out_per_group;
  auto weight_at = [w, m, depth](Index grp, Index i, Index k) {
    return w[(grp * m + i) * depth + k];
  };
  const Index out_plane = g.out_rows * g.out_cols;
  S* out = y.data();
  const Index out_image = s.out_channels * out_plane;
  auto target = [=](Index n, int) {
    return PlaneOut<S>{out + n * out_image, out_plane, g.out_cols};
  };
  const Index x_image = s.in_channels * g.in_rows * g.in_cols;
  const S* b = bias.size() != 0 ? bias.data() : nullptr;
  auto nothing = [](Index, int) {};
  const bool packed = path == Conv2dPath::im2col_gemm;
  if constexpr (winograd_exact_for<S>()) {
    if (path == Conv2dPath::winograd && winograd_fits(g)) {
      winograd_conv<S>(x.data(), x_image, g, s.batch, s.groups, s.in_per_group, m, weight_at, b,
                       target, nothing);
      return y;
    }
  }
  if (path == Conv2dPath::direct) {
    shifted_conv<S, 1, GemmBlock<S>::np>(x.data(), x_image, g, s.batch, s.groups, s.in_per_group, m,
                                         false, weight_at, b, target, nothing);
  } else {
    shifted_conv<S, GemmBlock<S>::mr, GemmBlock<S>::np>(x.data(), x_image, g, s.batch, s.groups,
                                                        s.in_per_group, m, packed, weight_at, b,
                                                        target, nothing);
  }
  return y;
}

// ---------------------------------------------------------------------------------------------
// Backward: input gradient

/// Whether `grad_input_flipped` computes dx directly (zero padding no wider than the dilated
/// kernel) rather than the gradient of the padded input.
inline bool flipped_input_is_interior(const Conv2dGeometry& g) {
  const Index er = g.dilation.rows * (g.kernel_rows - 1);
  const Index ec = g.dilation.cols * (g.kernel_cols - 1);
  return g.mode == PaddingMode::zeros && g.pad.top <= er && g.pad.bottom <= er &&
         g.pad.left <= ec && g.pad.right <= ec;
}

/// dx for stride 1 as a forward correlation: the output gradient, zero-padded by
/// dilation * (kernel - 1), correlated with the kernel rotated by 180 degrees and its two channel
/// axes swapped. For zero padding no wider than that the result is dx itself; otherwise it is the
/// gradient of the padded input, folded back onto dx plane by plane.
template <class S>
void grad_input_flipped(const Tensor<S>& dy, const Tensor<S>& weight, const Conv2dShape& s,
                        bool use_winograd, Tensor<S>& dx) {
  const Conv2dGeometry& g = s.plane;
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
  const Index cg = s.in_per_group;
  const Index og = s.out_per_group;
  const Index taps = kh * kw;
  auto weight_at = [=](Index grp, Index c, Index k) {
    const Index o = k / taps;
    const Index flipped = taps - 1 - k % taps;  // (kh-1-a) * kw + (kw-1-b)
    return w[((grp * og + o) * cg + c) * taps + flipped];
  };
  const Index in_plane = g.in_rows * g.in_cols;
  const Index dy_image = s.out_channels * g.out_rows * g.out_cols;
  const BatchSchedule sched = batch_schedule(s.batch);
  // Allocated here, not on first use: in the item schedule several threads share a slot.
  const Index padded_plane = g.padded_rows() * g.padded_cols();
  std::vector<VectorX<S>> padded(static_cast<std::size_t>(interior ? 0 : sched.slots()),
                                 VectorX<S>(s.in_channels * padded_plane));
  auto target = [&](Index n, int slot) {
    if (interior) return PlaneOut<S>{dx.data() + n * s.in_channels * in_plane, in_plane, g.in_cols};
    return PlaneOut<S>{padded[slot].data(), padded_plane, g.padded_cols()};
  };
  auto fold = [&](Index n, int slot) {
    if (interior) return;
    for (Index c = 0; c < s.in_channels; ++c) {
      fold_into(padded[slot].data() + c * padded_plane, g,
                dx.data() + (n * s.in_channels + c) * in_plane);
    }
  };
  if constexpr (winograd_exact_for<S>()) {
    if (use_winograd && winograd_fits(gi)) {
      winograd_conv<S>(dy.data(), dy_image, gi, s.batch, s.groups, og, cg, weight_at,
                       static_cast<const S*>(nullptr), target, fold);
      return;
    }
  }
  shifted_conv_auto<S>(cg, dy.data(), dy_image, gi, s.batch, s.groups, og, cg, false, weight_at,
                       static_cast<const S*>(nullptr), target, fold);
}

/// dx as the GEMM dcol = W^T * dy (one tile of output samples at a time) followed by col2im into
/// the padded input gradient, folded back onto dx: any stride.
template <class S>
void grad_input_col2im(const Tensor<S>& dy, const Tensor<S>& weight, const Conv2dShape& s,
                       Tensor<S>& dx) {
  using Block = GemmBlock<S>;
  constexpr int MR = Block::mr;
  constexpr Index NR = Block::nr;
  const Conv2dGeometry& g = s.plane;
  const Index cg = s.in_per_group;
  const Index og = s.out_per_group;
  const Index depth = cg * g.kernel_rows * g.kernel_cols;  // rows of dcol
  const Index a_group = (depth + MR - 1) / MR * MR * og;
  std::vector<S> a;
  a.reserve(static_cast<std::size_t>(s.groups * a_group));
  const S* w = weight.data();
  for (Index grp = 0; grp < s.groups; ++grp) {
    const std::vector<S> packed = pack_rows<S, MR>(
        depth, og, [&](Index k, Index o) { return w[(grp * og + o) * depth + k]; });
    a.insert(a.end(), packed.begin(), packed.end());
  }
  const Index out_plane = g.out_rows * g.out_cols;
  std::vector<Index> offsets(static_cast<std::size_t>(og));
  for (Index o = 0; o < og; ++o) offsets[o] = o * out_plane;

  // Tiles of dcol: `tile` output samples (a few hundred) for all rows.
  const Index tile = std::min<Index>((out_plane + NR - 1) / NR * NR, 4 * NR);
  const BatchSchedule sched = batch_schedule(s.batch);
  const Index chunk_cols = ((out_plane + sched.chunks - 1) / sched.chunks + tile - 1) / tile * tile;
  const Index chunks = (out_plane + chunk_cols - 1) / chunk_cols;
  const Index dy_image = s.out_channels * out_plane;
  const Index padded_plane = g.padded_rows() * g.padded_cols();
  const Index in_plane = g.in_rows * g.in_cols;
  std::vector<VectorX<S>> dys(static_cast<std::size_t>(sched.slots()));
  std::vector<VectorX<S>> dxps(static_cast<std::size_t>(sched.threads));
  std::vector<VectorX<S>> cols(static_cast<std::size_t>(sched.threads));

  run_batch(
      sched, s.batch, s.groups * chunks,
      [&](Index n, int slot) {
        // A copy of the image's output gradient with NR samples of slack for the last tile.
        VectorX<S>& buf = dys[slot];
        if (buf.size() != dy_image + NR) buf.setZero(dy_image + NR);
        buf.head(dy_image) = Eigen::Map<const VectorX<S>>(dy.data() + n * dy_image, dy_image);
        const int first = sched.per_image ? slot : 0;
        const int last = sched.per_image ? slot + 1 : sched.threads;
        for (int t = first; t < last; ++t) dxps[t].setZero(s.in_channels * padded_plane);
      },
      [&](Index, Index item, int slot, int thread) {
        const Index grp = item / chunks;
        const Index c0 = (item % chunks) * chunk_cols;
        const Index c1 = std::min(out_plane, c0 + chunk_cols);
        VectorX<S>& col = cols[thread];
        if (col.size() != depth * tile) col.resize(depth * tile);
        S* dxp = dxps[thread].data() + grp * cg * padded_plane;
        const S* b = dys[slot].data() + grp * og * out_plane;
        for (Index p0 = c0; p0 < c1; p0 += tile) {
          const Index n_cols = std::min(tile, c1 - p0);
          shifted_product<S, MR, Block::np>(
              depth, og, a.data() + grp * a_group, b, offsets.data(), p0, p0 + n_cols, 0,
              [&](Index m0, Index rows, Index q0, Index n, const S* t, Index ld) {
                for (Index i = 0; i < rows; ++i) {
                  std::copy(t + i * ld, t + i * ld + n, col.data() + (m0 + i) * tile + q0 - p0);
                }
              });
          col2im_add(col.data(), tile, p0, n_cols, g, cg, dxp);
        }
      },
      [&](Index n, int slot) {
        VectorX<S>& dxp = dxps[sched.per_image ? slot : 0];
        if (!sched.per_image) {
          for (int t = 1; t < sched.threads; ++t) dxp += dxps[t];
        }
        for (Index c = 0; c < s.in_channels; ++c) {
          fold_into(dxp.data() + c * padded_plane, g,
                    dx.data() + (n * s.in_channels + c) * in_plane);
        }
      });
}

/// dx plane by plane with the tap loops of `detail/plane.hpp` (few channels, any stride).
template <class S>
void grad_input_planes(const Tensor<S>& dy, const Tensor<S>& weight, const Conv2dShape& s,
                       Tensor<S>& dx) {
  const Conv2dGeometry& g = s.plane;
  const int threads = available_threads();
  std::vector<RowMatrixX<S>> scratch(static_cast<std::size_t>(threads));
  parallel_for(s.batch * s.in_channels, threads, [&](Index item, int thread) {
    const Index n = item / s.in_channels;
    const Index c = item % s.in_channels;
    const Index group = c / s.in_per_group;
    RowMatrixX<S>& dxp = scratch[thread];
    dxp.setZero(g.padded_rows(), g.padded_cols());
    for (Index o = group * s.out_per_group; o < (group + 1) * s.out_per_group; ++o) {
      corr2d_grad_padded_input<S>(dy.plane(n, o), weight.plane(o, c % s.in_per_group), g,
                                  dxp.data(), dxp.outerStride());
    }
    fold_padding<S>(dxp, g, dx.plane(n, c));
  });
}

// ---------------------------------------------------------------------------------------------
// Backward: weight gradient

/// Output rows of dy per weight-gradient work item: about this many output samples, so that the
/// item's transposed dy stays in the L1/L2 cache.
constexpr Index kGradWeightSamples = 128;

/// dW^T (K x C_out/groups per group) = sum over images of col (K x P) * dy^T (P x C_out/groups):
/// the im2col rows are read in place (broadcast) from the shifted layout of each image, dy is
/// transposed one row chunk at a time; per-thread partial sums are added at the end.
template <class S>
void grad_weight_gemm(const Tensor<S>& x, const Tensor<S>& dy, const Conv2dShape& s,
                      Tensor<S>& dw) {
  using Block = GemmBlock<S>;
  using Packet = typename PacketOf<S>::type;
  constexpr int MR = Block::mr;
  constexpr int NP = Block::np;
  constexpr Index NR = Block::nr;
  constexpr int P = PacketOf<S>::size;
  const Conv2dGeometry& g = s.plane;
  const ShiftedLayout layout = shifted_layout(g, s.in_channels, NR);
  const ShiftedFill<S> fill(g, layout);
  const std::vector<Index> offsets = tap_offsets(layout, g, s.in_per_group);
  const Index depth = static_cast<Index>(offsets.size());
  const Index og = s.out_per_group;
  const Index op = (og + NR - 1) / NR * NR;  // dy^T row length, padded to whole blocks
  const Index rows_per_item = std::max<Index>(1, kGradWeightSamples / g.out_cols);
  const Index row_chunks = (g.out_rows + rows_per_item - 1) / rows_per_item;
  const Index out_plane = g.out_rows * g.out_cols;
  const Index x_image = s.in_channels * g.in_rows * g.in_cols;
  const Index in_plane = g.in_rows * g.in_cols;

  const BatchSchedule sched = batch_schedule(s.batch);
  std::vector<VectorX<S>> sources(static_cast<std::size_t>(sched.slots()));
  std::vector<VectorX<S>> sums(static_cast<std::size_t>(sched.threads));
  std::vector<VectorX<S>> dyts(static_cast<std::size_t>(sched.threads));

  run_batch(
      sched, s.batch, s.groups * row_chunks,
      [&](Index n, int slot) {
        VectorX<S>& buf = sources[slot];
        if (buf.size() != layout.size) buf.setZero(layout.size);
        fill(x.data() + n * x_image, in_plane, buf.data());
      },
      [&](Index n, Index item, int slot, int thread) {
        const Index grp = item / row_chunks;
        const Index r0 = (item % row_chunks) * rows_per_item;
        const Index r1 = std::min(g.out_rows, r0 + rows_per_item);
        VectorX<S>& sum = sums[thread];
        if (sum.size() != s.groups * depth * op) sum.setZero(s.groups * depth * op);
        VectorX<S>& dyt = dyts[thread];
        if (dyt.size() != rows_per_item * g.out_cols * op) {
          dyt.setZero(rows_per_item * g.out_cols * op);
        }
        // dy^T for rows [r0, r1): sample-major, og (padded to op with zeros) per sample.
        // The rows of the og planes are short runs far apart: each is requested from memory
        // two planes ahead of its use.
        const Index samples = (r1 - r0) * g.out_cols;
        const S* d0 = dy.data() + (n * s.out_channels + grp * og) * out_plane + r0 * g.out_cols;
        constexpr Index line = 64 / sizeof(S) > 0 ? Index(64 / sizeof(S)) : 1;
        for (Index o = 0; o < og; ++o) {
          if (o + 2 < og) {
            for (Index p = 0; p < samples; p += line) {
              Eigen::internal::prefetch(d0 + (o + 2) * out_plane + p);
            }
          }
          const S* d = d0 + o * out_plane;
          for (Index p = 0; p < samples; ++p) dyt[p * op + o] = d[p];
        }
        const S* src = sources[slot].data() + grp * s.in_per_group * layout.channel_size;
        S* acc_out = sum.data() + grp * depth * op;
        for (Index k0 = 0; k0 < depth; k0 += MR) {
          const S* rows[MR];
          for (int i = 0; i < MR; ++i) rows[i] = src + offsets[std::min(k0 + i, depth - 1)];
          for (Index ob = 0; ob < op; ob += NR) {
            Packet acc[MR][NP];
            unroll<MR>([&](auto i) {
              unroll<NP>([&](auto j) { acc[i][j] = Eigen::internal::pset1<Packet>(S(0)); });
            });
            for (Index r = r0; r < r1; ++r) {
              const S* shifted[MR];
              for (int i = 0; i < MR; ++i) shifted[i] = rows[i] + r * layout.phase_cols;
              rows_block<S, MR, NP>(g.out_cols, shifted,
                                    dyt.data() + (r - r0) * g.out_cols * op + ob, op, acc);
            }
            const Index valid = std::min<Index>(MR, depth - k0);
            unroll<MR>([&](auto i) {
              if (i >= valid) return;
              S* dst = acc_out + (k0 + i) * op + ob;
              unroll<NP>([&](auto j) {
                using Eigen::internal::ploadu;
                Eigen::internal::pstoreu(
                    dst + j * P, Eigen::internal::padd(ploadu<Packet>(dst + j * P), acc[i][j]));
              });
            });
          }
        }
      },
      [](Index, int) {});

  for (Index grp = 0; grp < s.groups; ++grp) {
    for (Index o = 0; o < og; ++o) {
      for (Index k = 0; k < depth; ++k) {
        S total(0);
        for (const VectorX<S>& sum : sums) {
          if (sum.size() != 0) total += sum[(grp * depth + k) * op + o];
        }
        dw.data()[(grp * og + o) * depth + k] = total;
      }
    }
  }
}

/// dW as dot products, for few output channels per group (where a GEMM block along the output
/// channels would be mostly padding): for every image and input channel, the channel's shifted
/// plane is built once and every tap's gradient for each output channel of its group is the dot
/// product of that output's dy with the plane shifted by the tap (`tap_dots`). Images run in
/// parallel, each thread summing into its own copy of dW.
template <class S>
void grad_weight_dots(const Tensor<S>& x, const Tensor<S>& dy, const Conv2dShape& s,
                      Tensor<S>& dw) {
  const Conv2dGeometry& g = s.plane;
  const ShiftedLayout layout = shifted_layout(g, 1, PacketOf<S>::size);
  const ShiftedFill<S> fill(g, layout);
  const std::vector<Index> offsets = tap_offsets(layout, g, 1);
  const Index taps = static_cast<Index>(offsets.size());
  const Index in_plane = g.in_rows * g.in_cols;
  const Index out_plane = g.out_rows * g.out_cols;
  const int threads = available_threads();
  std::vector<VectorX<S>> sources(static_cast<std::size_t>(threads));
  std::vector<VectorX<S>> sums(static_cast<std::size_t>(threads));
  // Items: (image, input channel) pairs, so that batch 1 still spreads over the threads.
  parallel_for(s.batch * s.in_channels, threads, [&](Index item, int thread) {
    const Index n = item / s.in_channels;
    const Index c = item % s.in_channels;
    VectorX<S>& buf = sources[thread];
    if (buf.size() != layout.size) buf.setZero(layout.size);
    VectorX<S>& sum = sums[thread];
    if (sum.size() != dw.size()) sum.setZero(dw.size());
    fill(x.data() + (n * s.in_channels + c) * in_plane, in_plane, buf.data());
    const Index group = c / s.in_per_group;
    const Index ci = c % s.in_per_group;
    for (Index o = group * s.out_per_group; o < (group + 1) * s.out_per_group; ++o) {
      tap_dots(buf.data(), layout.phase_cols, offsets.data(), taps,
               dy.data() + (n * s.out_channels + o) * out_plane, g.out_rows, g.out_cols,
               sum.data() + (o * s.in_per_group + ci) * taps);
    }
  });
  Eigen::Map<VectorX<S>> out(dw.data(), dw.size());
  out.setZero();
  for (const VectorX<S>& sum : sums) {
    if (sum.size() != 0) out += sum;
  }
}

/// Whether the weight gradient goes through `grad_weight_dots` rather than `grad_weight_gemm`:
/// when fewer than half the lanes of the GEMM's output-channel block would be used.
template <class S>
bool weight_gradient_by_dots(const Conv2dShape& s) {
  return 2 * s.out_per_group <= GemmBlock<S>::nr;
}

/// `conv2d_backward` along a given path (grad_out's shape already checked); without
/// `input_grad` the input gradient, without `bias_grad` the bias gradient is left empty and not
/// computed.
template <class S>
Conv2dGrads<S> conv2d_backward_path(const Tensor<S>& x, const Tensor<S>& weight,
                                    const Tensor<S>& grad_out, const Conv2dShape& s,
                                    Conv2dPath path, bool input_grad = true,
                                    bool bias_grad = true) {
  const Conv2dGeometry& g = s.plane;
  // The input gradient is a correlation of the output gradient for stride 1 (except on the
  // explicit-im2col path); it overwrites every element of dx when that correlation is dx itself.
  const bool flipped =
      path != Conv2dPath::planes && path != Conv2dPath::im2col_gemm && g.stride == Size2(1, 1);
  Conv2dGrads<S> grads{
      !input_grad                               ? Tensor<S>()
      : flipped && flipped_input_is_interior(g) ? uninitialized_tensor<S>(x.shape())
                                                : Tensor<S>(x.shape()),
      Tensor<S>(weight.shape()), bias_grad ? VectorX<S>::Zero(s.out_channels) : VectorX<S>()};
  const Index out_plane = g.out_rows * g.out_cols;
  if (bias_grad) {
    for (Index n = 0; n < s.batch; ++n) {
      for (Index o = 0; o < s.out_channels; ++o) {
        grads.bias[o] +=
            packet_sum(grad_out.data() + (n * s.out_channels + o) * out_plane, out_plane);
      }
    }
  }
  if (path == Conv2dPath::planes) {
    RowMatrixX<S> dxp;  // padded input gradient, reused across planes
    for (Index n = 0; n < s.batch; ++n) {
      for (Index c = 0; c < s.in_channels; ++c) {
        const Index group = c / s.in_per_group;
        const PaddedPlane<S> xp(x.plane(n, c), g);
        S* dx_data = input_grad ? grads.input.plane(n, c).data() : nullptr;
        Index dx_ld = g.in_cols;
        if (input_grad && g.has_padding()) {
          dxp.setZero(g.padded_rows(), g.padded_cols());
          dx_data = dxp.data();
          dx_ld = dxp.outerStride();
        }
        for (Index o = group * s.out_per_group; o < (group + 1) * s.out_per_group; ++o) {
          const auto dy = grad_out.plane(n, o);
          const Index i = c % s.in_per_group;
          if (input_grad) corr2d_grad_padded_input<S>(dy, weight.plane(o, i), g, dx_data, dx_ld);
          corr2d_grad_kernel_padded<S>(xp.data(), xp.ld(), dy, g, grads.weight.plane(o, i));
        }
        if (input_grad && g.has_padding()) fold_padding<S>(dxp, g, grads.input.plane(n, c));
      }
    }
    return grads;
  }
  if (path == Conv2dPath::direct || weight_gradient_by_dots<S>(s)) {
    grad_weight_dots(x, grad_out, s, grads.weight);
  } else {
    grad_weight_gemm(x, grad_out, s, grads.weight);
  }
  if (!input_grad) {
    return grads;
  } else if (flipped) {
    grad_input_flipped(grad_out, weight, s, path == Conv2dPath::winograd, grads.input);
  } else if (path == Conv2dPath::direct) {
    grad_input_planes(grad_out, weight, s, grads.input);
  } else {
    grad_input_col2im(grad_out, weight, s, grads.input);
  }
  return grads;
}

}  // namespace detail

/// Batched cross-correlation (PyTorch's `conv2d`): x (N, C_in, H, W), weight
/// (C_out, C_in / groups, kh, kw), bias of C_out elements or empty for none; padding, stride,
/// dilation and groups from `opts`. See the file comment for the formula and the algorithms.
///
/// @returns (N, C_out, out_rows, out_cols).
/// @throws shape_error if x or weight is empty, channels do not match or do not divide by
///   groups, bias has the wrong size, the plane shapes are invalid (see `conv2d_geometry`), or
///   the output or the padded copy of one image would have more than 2^40 elements
///   (`detail::kMaxTensorElements`).
template <class S>
Tensor<S> conv2d(const Tensor<S>& x, const Tensor<S>& weight,
                 const detail::non_deduced<VectorX<S>>& bias, const Conv2dOptions& opts = {}) {
  const Conv2dShape s = detail::conv2d_shape(x, weight, bias.size(), opts, "conv2d");
  return detail::conv2d_forward(x, weight, bias, s, detail::conv2d_path(s));
}

/// `conv2d` with the bias as a tensor of C_out elements, any shape (a `Conv2D` layer's is
/// (1, C_out, 1, 1)), or empty for none: `conv2d(x, conv.weight.value, conv.bias.value, opts)`.
/// @throws shape_error as `conv2d` with the bias as a vector.
template <class S, class Bias, std::enable_if_t<std::is_same_v<Bias, Tensor<S>>, int> = 0>
Tensor<S> conv2d(const Tensor<S>& x, const Tensor<S>& weight, const Bias& bias,
                 const Conv2dOptions& opts = {}) {
  return conv2d(x, weight, VectorX<S>(bias.flat()), opts);
}

/// `conv2d` without a bias.
template <class S>
Tensor<S> conv2d(const Tensor<S>& x, const Tensor<S>& weight, const Conv2dOptions& opts = {}) {
  return conv2d(x, weight, VectorX<S>(), opts);
}

/// Backward pass of `conv2d(x, weight, bias, opts)`: given the output gradient `grad_out`
/// (N, C_out, out_rows, out_cols), the gradients with respect to x, weight and bias.
/// With `input_grad` false the input gradient is skipped and left empty (shape
/// (0, 0, 0, 0)): the common case of a constant input, as PyTorch's `output_mask`.
///
/// @throws shape_error as `conv2d`, and if grad_out is not the shape `conv2d` returns.
template <class S>
Conv2dGrads<S> conv2d_backward(const Tensor<S>& x, const Tensor<S>& weight,
                               const Tensor<S>& grad_out, const Conv2dOptions& opts = {},
                               bool input_grad = true) {
  constexpr const char* fn = "conv2d_backward";
  const Conv2dShape s = detail::conv2d_shape(x, weight, 0, opts, fn);
  if (grad_out.shape() != s.output_shape()) {
    detail::fail(fn, "grad_out has shape " + detail::shape_str(grad_out.shape()) +
                         " but the output of x " + detail::shape_str(x.shape()) + " and weight " +
                         detail::shape_str(weight.shape()) + " has shape " +
                         detail::shape_str(s.output_shape()));
  }
  return detail::conv2d_backward_path(x, weight, grad_out, s, detail::conv2d_path(s), input_grad);
}

}  // namespace convtape

/// The batched kernels' explicit instantiations for scalar S, after `prefix` (`template` or
/// `extern template`): see convtape/instantiate.hpp.
#define CONVTAPE_DETAIL_INSTANTIATE_CONV2D(prefix, S)                                      \
  prefix convtape::Conv2dShape convtape::detail::conv2d_shape<S>(                          \
      const convtape::Tensor<S>&, const convtape::Tensor<S>&, convtape::Index,             \
      const convtape::Conv2dOptions&, const char*);                                        \
  prefix convtape::Tensor<S> convtape::detail::conv2d_forward<S>(                          \
      const convtape::Tensor<S>&, const convtape::Tensor<S>&, const convtape::VectorX<S>&, \
      const convtape::Conv2dShape&, convtape::detail::Conv2dPath);                         \
  prefix convtape::Conv2dGrads<S> convtape::detail::conv2d_backward_path<S>(               \
      const convtape::Tensor<S>&, const convtape::Tensor<S>&, const convtape::Tensor<S>&,  \
      const convtape::Conv2dShape&, convtape::detail::Conv2dPath, bool, bool);

CONVTAPE_DETAIL_EXTERN(CONVTAPE_DETAIL_INSTANTIATE_CONV2D)
