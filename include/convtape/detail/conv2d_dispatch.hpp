// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Which algorithm computes a batched convolution: the list of algorithms (`Conv2dPath`, each
// described once, here), the cost model that estimates each one's time from the shape
// (`conv2d_work`, `kConv2dCost`), the choice of the cheapest (`conv2d_path`), the backward pass's
// own choices (`grad_weight_algorithm`, `grad_input_algorithm`, `flipped_kernel_rows`), and how
// many threads a call is worth (`conv2d_threads`). The caller never picks (a test may, with
// `ForceConv2dPath`); every algorithm computes the same function, and the tests hold each to the
// loops of `reference.hpp`. Not for direct inclusion.
//
// The cost model: each path's work on a shape is counted in a few units (`Conv2dWork`: packet
// multiply-adds of the register-blocked GEMM, register tiles, samples moved by copies and
// gathers, Winograd transform packets, direct-kernel packet taps, plane-loop multiply-adds, one
// call's setup), each priced by one constant of `kConv2dCost`, in seconds per unit on one thread.
// The counts include what each kernel wastes (a register block only partly filled by the output
// channels, the wide grid's discarded columns, a last tile only partly filled), so the model
// prefers what fits the shape without a table of shapes or cut-offs. The constants are measured:
// `benchmarks/cost_model_bench.cpp` times every path on a grid of synthetic shapes and fits them
// (non-negative least squares on relative error; `--fit` prints the new values for this file),
// and `--validate` reports how often the model's choice is the measured-fastest path on layers
// that are in no list (its file comment says how to refit). The packet counts make the prices
// independent of the vector width: one set serves SSE, AVX2 and AVX-512 builds, and a build
// for a narrower vector counts more packets for the same shape.
//
// Backward: `planes` runs the plane tap loops for both gradients. On the other paths the weight
// gradient is whichever of four the model prices lowest: dot products (`grad_weight_dots`, few
// output channels per group), dW^T = col * dy^T with the im2col rows read in place and dW^T
// transposed at the end (`grad_weight_gemm`, many output samples), dW = dy * col^T on packed
// slices of samples (`grad_weight_packed`, few samples and large weights: tiny planes, strided
// downsamples, pointwise layers at small batches), or, with one input channel per group, the
// interleaved sums of `interleaved` (`interleaved_grad_weight`). The input gradient is, for
// stride 1, the forward correlation of the padded output gradient with the flipped kernel
// (`grad_input_flipped`, by `shifted_conv`'s GEMM or direct kernel or by `interleaved_conv`,
// whichever is cheapest, or by Winograd again on `winograd`), else GEMM W^T dy + col2im band by
// band (`grad_input_col2im`), except on `direct` with a stride, which takes the plane tap loops
// (`grad_input_planes`), and on `interleaved`, which adds each output gradient packet into the
// interleaved input gradient (`interleaved_grad_input`; the tap loops for a channel multiplier);
// `im2col_gemm` and `pixel_gemm` take GEMM + col2im on slices that span images
// (`grad_input_packed`), as im2col_gemm's forward tiles do. `matrix` computes both gradients as
// matrix products across the batch (`matrix_conv.hpp`). The drivers that run the choice are
// `conv2d_forward.hpp` and `conv2d_backward.hpp`.

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/detail/conv2d_shape.hpp"
#include "convtape/detail/gemm.hpp"
#include "convtape/detail/im2col.hpp"
#include "convtape/detail/parallel.hpp"
#include "convtape/detail/pixel_gemm.hpp"
#include "convtape/detail/winograd.hpp"

namespace convtape::detail {

/// The algorithms behind `conv2d` and `conv2d_backward`. `conv2d_path` picks one from the shape;
/// every one computes the same function (the tests hold each to `reference::conv2d`).
enum class Conv2dPath {
  /// Tiny problems: per-plane tap loops (`detail/plane.hpp`), nothing to set up.
  planes,
  /// Few output channels per group (depthwise layers): per output channel, every tap multiplied
  /// into a register strip of outputs read in place from a padded copy of the input band
  /// (`depthwise_rows`); weight gradient by vectorized dot products (`tap_dots`).
  direct,
  /// GEMM of the weights (as stored) with the im2col matrix, read in place from a padded,
  /// stride-phase-split copy of a band of one image (`detail/im2col.hpp`), or from the input
  /// itself for stride 1 without padding (a 1x1 layer is then a plain GEMM on the NCHW planes),
  /// by a register-blocked packet kernel (`detail/gemm.hpp`); backward as GEMMs too (input
  /// gradient as the correlation of the padded output gradient with the flipped kernel for
  /// stride 1, else GEMM + col2im).
  implicit_gemm,
  /// As `implicit_gemm`, but on explicitly gathered im2col panels of real output samples (as
  /// many tiles as fit half the L1 cache), which may span several images: no discarded columns
  /// of the wide grid and full tiles even for tiny planes (a 7x7 or 1x1 output); input gradient
  /// by GEMM + col2im.
  im2col_gemm,
  /// One input channel per group (depthwise layers, any channel multiplier): P output channels at
  /// once, one per packet lane, each output sample a packet accumulating one multiply-add per tap
  /// from the input transposed into an interleaved padded plane (`detail/interleaved.hpp`); no
  /// lane is wasted on narrow planes; the weight gradient and the strided input gradient run on
  /// the same layout (`GradWeightAlgorithm::interleaved`, `GradInputAlgorithm::interleaved`).
  /// Other shapes (when forced) compute through `direct`.
  interleaved,
  /// 3x3, stride 1, no dilation: Winograd's F(2x2, 3x3) (`detail/winograd.hpp`) for the forward
  /// pass and the input gradient (2.25 times fewer multiplications, for transforms of the input,
  /// the output and, per call, the weights), the weight gradient as in `implicit_gemm`. Integer
  /// scalars, and (when forced) geometries it does not fit, compute through `implicit_gemm`.
  winograd,
  /// A 1x1 kernel on 1x1 planes without padding (squeeze-and-excitation layers, a classifier
  /// written as a convolution): each image is a row of C_in features and each group's layer a
  /// matrix product across the batch, Y = X W^T (dX = dY W and dW = dY^T X likewise), on the GEMM
  /// kernel with the images as its rows (`detail/matrix_conv.hpp`), instead of tiles whose
  /// columns would hold one sample each. Other shapes (when forced) compute through
  /// `implicit_gemm`.
  matrix,
  /// The GEMM turned around (`detail/pixel_gemm.hpp`): output samples as the register block's
  /// rows, output channels across the packet lanes, each step of the reduction broadcasting the
  /// input sample every pixel reads at that tap from a padded copy of the input, so a stride, a
  /// dilation or a tiny plane costs no discarded columns and no gathered panel; the output is
  /// transposed into its planes, a packet at a time in registers. Backward as `im2col_gemm`.
  pixel_gemm,
};

/// Every path, in the order of `Conv2dPath`: what the tests iterate over to hold each path to the
/// reference loops.
inline constexpr Conv2dPath kConv2dPaths[] = {Conv2dPath::planes,        Conv2dPath::direct,
                                              Conv2dPath::implicit_gemm, Conv2dPath::im2col_gemm,
                                              Conv2dPath::interleaved,   Conv2dPath::winograd,
                                              Conv2dPath::matrix,        Conv2dPath::pixel_gemm};

/// Name of a path, for messages and benchmark labels.
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
    case Conv2dPath::interleaved:
      return "interleaved";
    case Conv2dPath::winograd:
      return "winograd";
    case Conv2dPath::matrix:
      return "matrix";
    case Conv2dPath::pixel_gemm:
      return "pixel_gemm";
  }
  return "?";
}

/// Samples the in-place wide grid computes per real output sample: each output row is computed
/// over the full (stride-phase) width of the padded input.
inline double grid_waste(const Conv2dGeometry& g) {
  const Index pitch = (g.padded_cols() + g.stride.cols - 1) / g.stride.cols;
  return double((g.out_rows - 1) * pitch + g.out_cols) / double(g.out_rows * g.out_cols);
}

/// Whether the `interleaved` path computes shape `s` itself: one input channel per group.
inline bool interleaved_fits(const Conv2dShape& s) { return s.in_per_group == 1; }

/// Whether the `matrix` path computes shape `s` itself: a 1x1 kernel on 1x1 input planes without
/// padding (the output is then 1x1 for any stride and dilation: y[n, o] reads x[n, c] only).
inline bool matrix_fits(const Conv2dShape& s) {
  const Conv2dGeometry& g = s.geometry;
  return g.in_rows == 1 && g.in_cols == 1 && g.kernel_rows == 1 && g.kernel_cols == 1 &&
         !g.has_padding();
}

/// Multiply-adds of the forward pass.
inline Index conv2d_macs(const Conv2dShape& s) {
  return s.batch * s.out_channels * s.geometry.out_rows * s.geometry.out_cols * s.in_per_group *
         s.geometry.kernel_rows * s.geometry.kernel_cols;
}

/// What the innermost live `ForceConv2dPath` on the calling thread forces: a path, and a thread
/// count (0: not forced).
struct ForcedConv2d {
  Conv2dPath path;
  int threads;
};

/// The innermost live `ForceConv2dPath` on the calling thread, or null.
inline const ForcedConv2d*& forced_conv2d() {
  thread_local const ForcedConv2d* forced = nullptr;
  return forced;
}

/// The one hook that overrides the choice, for tests: while a guard lives, `conv2d_path` returns
/// `path` on the guard's thread, whatever the shape, so `conv2d`, `conv2d_backward` and the
/// tape's `conv2d` run that path; with `threads` > 0 they also cut their work for that many
/// threads and start that many (without OpenMP the cut is the same and all of it runs on the
/// calling thread), whatever the work is worth. Every path computes every shape (`winograd`, on a
/// geometry it does not fit or on integers, computes through `implicit_gemm`; `interleaved`, with
/// several input channels per group, through `direct`). Guards nest, the
/// innermost wins; other threads choose as usual.
class ForceConv2dPath {
 public:
  explicit ForceConv2dPath(Conv2dPath path, int threads = 0)
      : forced_{path, threads}, outer_(forced_conv2d()) {
    forced_conv2d() = &forced_;
  }
  ~ForceConv2dPath() { forced_conv2d() = outer_; }
  ForceConv2dPath(const ForceConv2dPath&) = delete;
  ForceConv2dPath& operator=(const ForceConv2dPath&) = delete;

 private:
  ForcedConv2d forced_;
  const ForcedConv2d* outer_;
};

/// The work of one algorithm on one shape, in the units `kConv2dCost` prices. Packets: a
/// multiply-add or copy of up to P scalars at once, P the packet size of the scalar type (a row
/// shorter than a packet still takes one).
struct Conv2dWork {
  double gemm_packets = 0;       ///< packet multiply-adds of the register-blocked GEMM kernel
  double gemm_tiles = 0;         ///< register tiles started and stored (per reduction chunk)
  double moved_packets = 0;      ///< packets copied: band fills, im2col gathers, output stores
  double transform_packets = 0;  ///< Winograd transform packets (input, output) and weights
  double direct_packets = 0;     ///< packet x tap steps of the direct kernel
  double plane_macs = 0;         ///< multiply-adds of the plane tap loops (scalars, x stride)
  double plane_calls = 0;        ///< plane copies and tap loop calls (per image and plane pair)
  double plane_rows = 0;         ///< output rows the tap loops compute (per call)
};

/// The price of each unit of `Conv2dWork`, in seconds on one thread, and the least work worth
/// giving to one more thread.
struct Conv2dCostModel {
  double gemm_packet;
  double gemm_tile;
  double moved_packet;
  double transform_packet;
  double direct_packet;
  double plane_mac;
  double plane_call;
  double plane_row;
  /// Estimated seconds of work a thread must get for a team to beat one thread: starting and
  /// joining a team (waking sleeping threads) costs about half this much.
  double thread_min;
};

/// The measured prices: `benchmarks/cost_model_bench --fit --clock=cpu` (one core of a 2-vCPU
/// AMD EPYC Zen 5 guest with AVX-512, float32, g++ 12 -O3 -march=native, medians of
/// repetitions; median error of the fit 16%, 90th percentile 44%), rounded. `thread_min` is
/// not fitted (that machine's team start ranged from 4 us to a scheduler slice of 20 ms under
/// load): it is a few times what a team start and join costs on an idle machine.
inline constexpr Conv2dCostModel kConv2dCost = {
    /*gemm_packet=*/1.6e-10,
    /*gemm_tile=*/1.8e-08,
    /*moved_packet=*/1.9e-09,
    /*transform_packet=*/1.8e-09,
    /*direct_packet=*/4.6e-10,
    /*plane_mac=*/6.5e-11,
    /*plane_call=*/3.1e-08,
    /*plane_row=*/4.1e-09,
    /*thread_min=*/2e-05,
};

/// Moved packets per sample that a scalar gather or transposition moves (a band fill split into
/// stride phases, the packed GEMM's transposed im2col, the transposed GEMM's transposed output
/// gradient and dW^T): measured 0.8-1.3 ns per sample on the machine of `kConv2dCost`, against
/// 2-3 ns per packet copied.
constexpr double kScalarMove = 0.33;

/// Whether the `matrix` path's forward pass runs image by image (a matrix-vector product each)
/// rather than as one product with the transposed weights: while the batch's products cost less
/// than transposing the weights, a sample moved at `kScalarMove` packets against a packet of
/// multiply-adds per sample and image.
inline bool matrix_by_images(Index batch, Index packet) {
  return double(batch) < kScalarMove * double(packet);
}

/// The register block of the GEMM kernels, the packet size and the scalar's size, as numbers (see
/// `GemmBlock`).
struct KernelShape {
  Index packet;
  Index mr;
  Index nr;
  Index bytes;
};

/// `KernelShape` of scalar type S.
template <class S>
constexpr KernelShape kernel_shape() {
  return {PacketOf<S>::size, GemmBlock<S>::mr, GemmBlock<S>::nr, Index(sizeof(S))};
}

/// v rounded up to a multiple of `to`.
inline double round_up(double v, double to) { return std::ceil(v / to) * to; }

/// What a register block of r < MR rows costs per reduction step, in rows of a full block's: its
/// packets of the right operand (read in place) cost about as much as this many more rows of
/// multiply-adds. Measured with 6 x 4 packet blocks (AVX-512): a 1-row block takes 0.54 of a full
/// block's time, 2 rows 0.60, 4 rows 0.77.
constexpr double kBlockFixedRows = 5;

/// Moved packets that a packet of P samples costs transposed in registers (`deinterleave_planes`:
/// P loads, about P log2(P) shuffles, P stores, against a copy's P loads and P stores):
/// 1 + log2(P) / 2. Measured on Zen 4 with AVX-512 (P = 16), from a 256 x 64 block of sums into
/// planes of 28^2 to 112^2: 3.1-4.5 ns per packet against 1.2-1.5 ns for a packet copied, 2.6-3.0
/// copies' worth (and 0.58-0.9 ns per sample moved one at a time).
inline double transposed_packet_moves(double P) { return 1 + std::log2(P) / 2; }

/// The rows of `m` that the register-blocked GEMM pays for: m in blocks of `mr`, each costing its
/// rows plus `kBlockFixedRows`, scaled so that full blocks count their rows.
inline double gemm_rows(double m, double mr) {
  return (m + kBlockFixedRows * std::ceil(m / mr)) * mr / (mr + kBlockFixedRows);
}

/// What a `pixel_gemm` register block of np < NP packets of output channels costs per reduction
/// step, in packets of a full block's: its MR broadcasts of input samples cost about as much as
/// this many more packets of multiply-adds. Measured with 6 x 4 packet blocks (AVX-512, Zen 5),
/// in the L1 cache: 1.24, 1.86, 2.66 and 3.46 ns per step for 1 to 4 packets. On Zen 4, whose
/// 512-bit multiply-add takes both of its 256-bit units, the broadcasts hide behind it: 1.89,
/// 3.64, 5.14 and 6.79 ns, 0.17 packets (0.4 left `cost_model_bench --validate` there at the
/// same 57 of 80 fastest picks as 0.7: the narrow blocks do not decide its misses).
constexpr double kPixelFixedPackets = 0.7;

/// The packets of `lanes` output channels that the `pixel_gemm` kernel pays for: blocks of NR
/// lanes, a last one of as many packets as it needs, each costing its packets plus
/// `kPixelFixedPackets`, scaled so that full blocks count their packets.
inline double pixel_lanes(double lanes, const KernelShape& k) {
  const double np = double(k.nr) / double(k.packet);
  return (std::ceil(lanes / double(k.packet)) +
          kPixelFixedPackets * std::ceil(lanes / double(k.nr))) *
         np / (np + kPixelFixedPackets);
}

/// The work of `path` on shape `s` for a kernel of shape `k` (the forward pass; see the file
/// comment). `winograd` on a geometry it does not fit counts as `implicit_gemm`, `interleaved` on
/// a shape it does not fit as `direct`.
inline Conv2dWork conv2d_work(const Conv2dShape& s, Conv2dPath path, const KernelShape& k) {
  const Conv2dGeometry& g = s.geometry;
  const double P = double(k.packet);
  const double batch = double(s.batch);
  const double groups = double(s.groups);
  const double taps = double(g.kernel_rows * g.kernel_cols);
  const double depth = double(s.in_per_group) * taps;
  const double m_blocks = std::ceil(double(s.out_per_group) / double(k.mr));
  // A last block of fewer rows or columns than the register block computes only those.
  const double m = gemm_rows(double(s.out_per_group), double(k.mr));
  const double out_rows = double(g.out_rows);
  const double plane = out_rows * double(g.out_cols);
  const double row_packets = std::ceil(double(g.out_cols) / P);  // per output row
  const Index pitch_samples = (g.padded_cols() + g.stride.cols - 1) / g.stride.cols;
  const double pitch = double(pitch_samples);  // the wide grid's row pitch
  const bool in_place = g.stride == Size2(1, 1) && g.pad.top == 0 && g.pad.bottom == 0 &&
                        g.pad.left == 0 && g.pad.right == 0;
  // The band copies: every padded row of every input channel, a packet at a time (a stride of 2
  // too: `split_pairs` splits a row into its two column phases in one pass, measured at a packet
  // copy's cost per sample, 0.13-0.24 ns on Zen 5; 0.26-0.28 ns on Zen 4, and about 5 ns more per
  // row there, which this does not count: see the performance page), or a sample at a time where it
  // is split into more column phases (a larger stride, or Winograd's tiles), and then only the
  // phases some tap reads.
  const double padded_samples =
      batch * double(s.in_channels) * double(g.padded_rows()) * double(g.padded_cols());
  auto share_read = [](Index taps, Index dilation, Index stride) {
    return double(phases_read_count(taps, dilation, stride)) / double(stride);
  };
  const double phases = share_read(g.kernel_rows, g.dilation.rows, g.stride.rows) *
                        share_read(g.kernel_cols, g.dilation.cols, g.stride.cols);
  const double fill =
      in_place
          ? 0.0
          : phases * (g.stride.cols > 2 ? kScalarMove * padded_samples
                                        : batch * double(s.in_channels) * double(g.padded_rows()) *
                                              double(g.stride.cols) * std::ceil(pitch / P));
  const double store = batch * double(s.out_channels) * out_rows * row_packets;
  const double chunks = std::ceil(depth / double(kDepthChunk));
  Conv2dWork w;
  if (path == Conv2dPath::winograd && !winograd_fits(g)) path = Conv2dPath::implicit_gemm;
  if (path == Conv2dPath::interleaved && !interleaved_fits(s)) path = Conv2dPath::direct;
  if (path == Conv2dPath::matrix && !matrix_fits(s)) path = Conv2dPath::implicit_gemm;
  switch (path) {
    case Conv2dPath::planes:
      // The strided loops gather every row they read, a stride times longer than the output.
      w.plane_macs = double(conv2d_macs(s)) * double(g.stride.rows * g.stride.cols);
      // A padded copy of every input plane, then one loop call per output plane it feeds.
      w.plane_calls = batch * double(s.in_channels) * double(1 + s.out_per_group);
      w.plane_rows = batch * double(s.in_channels) * double(s.out_per_group) * out_rows;
      w.moved_packets = fill + store;
      break;
    case Conv2dPath::direct: {
      // Along the rows, or along the wide grid when that takes a fifth fewer packets.
      const double grid_packets = std::ceil(((out_rows - 1) * pitch + double(g.out_cols)) / P);
      const double packets =
          5 * grid_packets < 4 * out_rows * row_packets ? grid_packets : out_rows * row_packets;
      w.direct_packets = batch * double(s.out_channels) * packets * depth;
      w.moved_packets = fill + store;
      break;
    }
    case Conv2dPath::interleaved: {
      // Blocks of P output channels: every output sample a packet of taps; the input moved into
      // the interleaved padded plane and the outputs out of it, a packet per sample.
      const double blocks = batch * std::ceil(double(s.out_channels) / P);
      w.direct_packets = blocks * plane * taps;
      w.moved_packets = blocks * (double(g.padded_rows() * g.padded_cols()) + plane);
      break;
    }
    case Conv2dPath::implicit_gemm: {
      const double grid = (out_rows - 1) * pitch + double(g.out_cols);
      w.gemm_packets = batch * groups * m * depth * round_up(grid, P) / P;
      w.gemm_tiles = batch * groups * m_blocks * std::ceil(grid / double(k.nr)) * chunks;
      w.moved_packets = fill + store;
      break;
    }
    case Conv2dPath::im2col_gemm: {
      const double cols = batch * plane;
      w.gemm_packets = groups * m * depth * round_up(cols, P) / P;
      w.gemm_tiles = groups * m_blocks * std::ceil(cols / double(k.nr)) * chunks;
      // The gathers copy each output row's run of every im2col row.
      w.moved_packets = fill + groups * depth * batch * out_rows * row_packets + store;
      break;
    }
    case Conv2dPath::winograd: {
      const double tile_rows = std::ceil(out_rows / 2);
      const double positions = round_up(tile_rows * std::ceil((pitch + 1) / 2), P);
      w.gemm_packets = 16 * batch * groups * m * double(s.in_per_group) * positions / P;
      w.gemm_tiles = 16 * batch * groups * m_blocks * std::ceil(positions / double(k.nr)) *
                     std::ceil(double(s.in_per_group) / double(kDepthChunk));
      w.transform_packets = 16 * batch * double(s.in_channels + s.out_channels) * positions / P +
                            16 * groups * double(s.out_per_group * s.in_per_group);
      w.moved_packets = kScalarMove * padded_samples + store;  // its fill splits 2 column phases
      break;
    }
    case Conv2dPath::matrix: {
      if (matrix_by_images(s.batch, k.packet)) {
        // Dot products along the weights' rows, a packet at a time, per image.
        w.gemm_packets = batch * double(s.out_channels) * round_up(double(s.in_per_group), P) / P;
        w.gemm_tiles = batch * groups;
        break;
      }
      // One product per group, the images as rows, the group's output channels (a packet's
      // worth at least) as columns; the weights transposed into a padded copy, the outputs
      // moved out of a padded buffer.
      const double lanes = round_up(double(s.out_per_group), P);
      w.gemm_packets = groups * gemm_rows(batch, double(k.mr)) * double(s.in_per_group) * lanes / P;
      w.gemm_tiles = groups * std::ceil(batch / double(k.mr)) * std::ceil(lanes / double(k.nr));
      w.moved_packets = kScalarMove * double(s.out_channels) * double(s.in_per_group) +
                        groups * batch * lanes / P;
      break;
    }
    case Conv2dPath::pixel_gemm: {
      // Register blocks of MR pixels (several images' worth for small planes) by the packets of
      // a group's output channels; chunks of the reduction of kPixelWeightBytes of weights.
      const double pixels = batch * plane;
      const double pixel_chunks = double(pixel_passes(Index(depth), k.nr, k.bytes));
      w.gemm_packets = groups * pixel_lanes(double(s.out_per_group), k) * depth *
                       gemm_rows(pixels, double(k.mr));
      w.gemm_tiles = groups * std::ceil(double(s.out_per_group) / double(k.nr)) *
                     std::ceil(pixels / double(k.mr)) * pixel_chunks;
      // The padded copy (every input sample, a packet at a time along its rows); the outputs
      // transposed into their planes, P samples of a channel in registers, the rest of a plane
      // and the weights a sample at a time.
      const double whole = std::floor(plane / P);
      w.moved_packets =
          batch * double(s.in_channels) * double(g.padded_rows()) *
              std::ceil(double(g.padded_cols()) / P) +
          batch * double(s.out_channels) *
              (whole * transposed_packet_moves(P) + kScalarMove * (plane - whole * P)) +
          kScalarMove * double(s.out_channels) * depth;
      break;
    }
  }
  return w;
}

/// Estimated seconds of `w` on one thread.
inline double conv2d_seconds(const Conv2dWork& w, const Conv2dCostModel& c = kConv2dCost) {
  return c.gemm_packet * w.gemm_packets + c.gemm_tile * w.gemm_tiles +
         c.moved_packet * w.moved_packets + c.transform_packet * w.transform_packets +
         c.direct_packet * w.direct_packets + c.plane_mac * w.plane_macs +
         c.plane_call * w.plane_calls + c.plane_row * w.plane_rows;
}

/// Estimated seconds of the forward pass along `path` on one thread, for scalar type S.
template <class S>
double conv2d_cost(const Conv2dShape& s, Conv2dPath path) {
  return conv2d_seconds(conv2d_work(s, path, kernel_shape<S>()));
}

/// The path `conv2d` and `conv2d_backward` take for shape `s` and scalar type S: the one whose
/// forward pass the cost model prices lowest (`winograd` only where it fits and S is not an
/// integer type, `interleaved` only with one input channel per group, `matrix` only for a 1x1
/// kernel on unpadded 1x1 planes). A live `ForceConv2dPath` on the calling thread overrides the
/// choice.
template <class S>
Conv2dPath conv2d_path(const Conv2dShape& s) {
  if (const ForcedConv2d* forced = forced_conv2d()) return forced->path;
  Conv2dPath best = Conv2dPath::planes;
  double best_cost = conv2d_cost<S>(s, best);
  for (Conv2dPath path : kConv2dPaths) {
    if (path == Conv2dPath::winograd && !(winograd_exact_for<S>() && winograd_fits(s.geometry))) {
      continue;
    }
    if (path == Conv2dPath::interleaved && !interleaved_fits(s)) continue;
    if (path == Conv2dPath::matrix && !matrix_fits(s)) continue;
    const double cost = conv2d_cost<S>(s, path);
    if (cost < best_cost) {
      best = path;
      best_cost = cost;
    }
  }
  return best;
}

/// Threads worth using for about `seconds` of work (one thread's estimate): at most the team
/// `available_threads` offers, and no more than one per `kConv2dCost.thread_min` of work, so that
/// a small call never waits on a team it cannot feed (a live `ForceConv2dPath` with a thread count
/// decides instead).
inline int useful_threads(double seconds) {
  if (const ForcedConv2d* forced = forced_conv2d(); forced != nullptr && forced->threads > 0) {
    return forced->threads;
  }
  const int team = available_threads();
  if (team <= 1) return 1;
  const double worth = seconds / kConv2dCost.thread_min;
  return worth >= double(team) ? team : std::max(1, static_cast<int>(worth));
}

/// Threads worth using to move `samples` samples of type S (copies, folds, sums of partials).
template <class S>
int copy_threads(double samples) {
  return useful_threads(kConv2dCost.moved_packet * samples / double(PacketOf<S>::size));
}

/// How the weight gradient is computed on a path other than `planes`.
enum class GradWeightAlgorithm {
  /// One vectorized dot product per tap, output and input channel (`grad_weight_dots`): few
  /// output channels per group (depthwise layers).
  dots,
  /// dW^T = col * grad_output^T, im2col rows broadcast against the transposed output gradient,
  /// then transposed (`grad_weight_gemm`): many output samples.
  gemm,
  /// dW = grad_output * col^T on packed slices of samples (`grad_weight_packed`): few output
  /// samples and large weights, where dW^T's transposition would cost more than the products.
  packed,
  /// One input channel per group: P output channels at once across the packet lanes, every tap's
  /// sum a packet accumulated over the interleaved output gradient and input
  /// (`interleaved_grad_weight`), as the `interleaved` path's forward.
  interleaved,
};

/// Output samples per reduction slice of `grad_weight_packed` (and its cost below).
constexpr Index kPackedSamples = 128;

/// The weight gradient's algorithm on any path but `planes`: whichever of the four the model
/// prices lowest. Dot products pay a call per (image, input channel, output channel) and one
/// more per tap (each tap's sum is reduced across the lanes and stored); the transposed GEMM
/// fills register blocks of up to NR output channels (a packet's worth at least), transposes the
/// output gradient and moves its partial dW^T into dW sample by sample; the packed GEMM moves every
/// im2col sample into its transposed block sample by sample, and stores or adds dW once per slice;
/// the interleaved sums (one input channel per group only) do the forward's work of `interleaved`.
template <class S>
GradWeightAlgorithm grad_weight_algorithm(const Conv2dShape& s) {
  const KernelShape k = kernel_shape<S>();
  const Conv2dGeometry& g = s.geometry;
  const double P = double(k.packet);
  const double groups = double(s.groups);
  const double taps = double(g.kernel_rows * g.kernel_cols);
  const double depth = double(s.in_per_group) * taps;
  const double out_per_group = double(s.out_per_group);
  const double samples = double(s.batch) * double(g.out_rows * g.out_cols);
  const double lanes = round_up(out_per_group, P);  // a last block of fewer packets: only those
  Conv2dWork dots;
  dots.direct_packets = double(s.batch) * double(s.in_channels) * out_per_group * taps *
                        double(g.out_rows) * std::ceil(double(g.out_cols) / P);
  dots.plane_calls = double(s.batch) * double(s.in_channels) * out_per_group * (1 + taps);
  Conv2dWork gemm;
  gemm.gemm_packets = groups * round_up(depth, double(k.mr)) * lanes * samples / P;
  gemm.gemm_tiles = groups * std::ceil(depth / double(k.mr)) * std::ceil(lanes / double(k.nr)) *
                    double(s.batch) * double(g.out_rows);
  gemm.moved_packets =
      kScalarMove * (double(s.out_channels) * samples + groups * depth * out_per_group);
  Conv2dWork packed;
  packed.gemm_packets =
      groups * gemm_rows(out_per_group, double(k.mr)) * round_up(depth, P) * samples / P;
  const double slices = std::ceil(samples / double(kPackedSamples));
  packed.gemm_tiles =
      groups * std::ceil(out_per_group / double(k.mr)) * std::ceil(depth / double(k.nr)) * slices;
  packed.moved_packets = kScalarMove * groups * depth * samples +
                         double(s.out_channels) * samples / P +
                         2 * slices * groups * out_per_group * depth / P;
  // The interleaved sums: the forward's work, with the output gradient moved in as the outputs
  // are moved out.
  const Conv2dWork interleaved = conv2d_work(s, Conv2dPath::interleaved, k);
  const double by_dots = conv2d_seconds(dots);
  const double by_gemm = conv2d_seconds(gemm);
  const double by_packed = conv2d_seconds(packed);
  const double by_interleaved =
      interleaved_fits(s) ? conv2d_seconds(interleaved) : std::numeric_limits<double>::infinity();
  const double best = std::min({by_dots, by_gemm, by_packed, by_interleaved});
  if (by_interleaved == best) return GradWeightAlgorithm::interleaved;
  if (by_dots == best) return GradWeightAlgorithm::dots;
  return by_packed == best ? GradWeightAlgorithm::packed : GradWeightAlgorithm::gemm;
}

/// The algorithm that computes the stride-1 input gradient of shape `s`, the correlation of the
/// output gradient with the flipped kernel on geometry `flipped` (its output channels are the
/// forward's input channels), when not by Winograd: `shifted_conv`'s direct kernel (`direct`), its
/// GEMM (`implicit_gemm`) or, where each of its output channels reads one channel, `interleaved`,
/// whichever the model prices lowest.
template <class S>
Conv2dPath flipped_path(const Conv2dShape& s, const Conv2dGeometry& flipped) {
  Conv2dShape f = s;
  f.in_channels = s.out_channels;
  f.out_channels = s.in_channels;
  f.in_per_group = s.out_per_group;
  f.out_per_group = s.in_per_group;
  f.geometry = flipped;
  Conv2dPath best = Conv2dPath::implicit_gemm;
  double best_cost = conv2d_cost<S>(f, best);
  for (Conv2dPath path : {Conv2dPath::direct, Conv2dPath::interleaved}) {
    if (path == Conv2dPath::interleaved && !interleaved_fits(f)) continue;
    if (const double cost = conv2d_cost<S>(f, path); cost < best_cost) {
      best = path;
      best_cost = cost;
    }
  }
  return best;
}

/// How the input gradient is computed on a path other than `planes`.
enum class GradInputAlgorithm {
  /// Stride 1: the forward correlation of the output gradient, zero-padded by the dilated
  /// kernel's extent, with the flipped kernel (`grad_input_flipped`), by `shifted_conv` or, on
  /// `winograd`, `winograd_conv`.
  flipped,
  /// The GEMM W^T dy followed by col2im (`grad_input_col2im`), band by band of each image: any
  /// stride.
  col2im,
  /// The same on slices of output samples that span images (`grad_input_packed`): the tiles of
  /// `im2col_gemm`, for tiny planes.
  packed,
  /// The plane tap loops (`grad_input_planes`): few channels, any stride.
  tap_loops,
  /// One output channel per input channel (depthwise), any stride: every output gradient packet
  /// of P channels times each tap's weights added into the interleaved padded input gradient
  /// (`interleaved_grad_input`).
  interleaved,
};

/// The input gradient's algorithm on `path` (not `planes`): `packed` on `im2col_gemm` (its
/// tiles span images) and on `pixel_gemm` (chosen for the same shapes: tiny planes at a batch,
/// strides, dilations); else `flipped` for stride 1; else on `interleaved` with one output channel
/// per input channel, `interleaved`; `tap_loops` on `direct` and `interleaved`, and `col2im` on
/// the others.
inline GradInputAlgorithm grad_input_algorithm(const Conv2dShape& s, Conv2dPath path) {
  CONVTAPE_ASSERT(path != Conv2dPath::planes);
  if (path == Conv2dPath::im2col_gemm || path == Conv2dPath::pixel_gemm) {
    return GradInputAlgorithm::packed;
  }
  if (s.geometry.stride == Size2(1, 1)) return GradInputAlgorithm::flipped;
  if (path == Conv2dPath::interleaved && interleaved_fits(s) && s.out_per_group == 1) {
    return GradInputAlgorithm::interleaved;
  }
  return path == Conv2dPath::direct || path == Conv2dPath::interleaved
             ? GradInputAlgorithm::tap_loops
             : GradInputAlgorithm::col2im;
}

}  // namespace convtape::detail
