// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// The backward pass of a batched convolution along a given path (`conv2d_backward_path`): the
// bias gradient, the weight gradient (`grad_weight_gemm`, `grad_weight_dots`) and the input
// gradient (`grad_input_flipped`, `grad_input_col2im`, `grad_input_planes`), chosen as
// `conv2d_dispatch.hpp` describes. Not for direct inclusion.

#include <algorithm>
#include <utility>
#include <vector>

#include "convtape/conv2d_grads.hpp"
#include "convtape/core.hpp"
#include "convtape/detail/conv2d_dispatch.hpp"
#include "convtape/detail/conv2d_shape.hpp"
#include "convtape/detail/direct.hpp"
#include "convtape/detail/gemm.hpp"
#include "convtape/detail/im2col.hpp"
#include "convtape/detail/parallel.hpp"
#include "convtape/detail/plane.hpp"
#include "convtape/detail/shifted_conv.hpp"
#include "convtape/detail/unroll.hpp"
#include "convtape/detail/winograd.hpp"
#include "convtape/tensor.hpp"

namespace convtape::detail {

// ---------------------------------------------------------------------------------------------
// Input gradient

/// `shifted_conv` with the register block that suits `out_per_group` rows (`one_row_block`).
template <class S, class... Args>
void shifted_conv_auto(Index out_per_group, Args&&... args) {
  using Block = GemmBlock<S>;
  if (one_row_block(out_per_group)) {
    shifted_conv<S, 1, Block::np>(std::forward<Args>(args)...);
  } else {
    shifted_conv<S, Block::mr, Block::np>(std::forward<Args>(args)...);
  }
}

/// Whether `grad_input_flipped` computes the input gradient directly (zero padding no wider than
/// the dilated kernel) rather than the gradient of the padded input.
inline bool flipped_input_is_interior(const Conv2dGeometry& g) {
  const Index er = g.dilation.rows * (g.kernel_rows - 1);
  const Index ec = g.dilation.cols * (g.kernel_cols - 1);
  return g.mode == PaddingMode::zeros && g.pad.top <= er && g.pad.bottom <= er &&
         g.pad.left <= ec && g.pad.right <= ec;
}

/// The input gradient for stride 1 as a forward correlation: the output gradient, zero-padded by
/// dilation * (kernel - 1), correlated with the kernel rotated by 180 degrees and its two channel
/// axes swapped. For zero padding no wider than that the result is the input gradient itself;
/// otherwise it is the gradient of the padded input, folded back plane by plane.
template <class S>
void grad_input_flipped(const Tensor<S>& grad_output, const Tensor<S>& weight, const Conv2dShape& s,
                        bool use_winograd, Tensor<S>& grad_input) {
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
  auto weight_at = [=](Index grp, Index c, Index k) {
    const Index o = k / taps;
    const Index flipped = taps - 1 - k % taps;  // (kh-1-a) * kw + (kw-1-b)
    return w[((grp * out_per_group + o) * in_per_group + c) * taps + flipped];
  };
  const Index in_plane_size = g.in_rows * g.in_cols;
  const Index out_image_size = s.out_channels * g.out_rows * g.out_cols;
  const BatchSchedule sched = batch_schedule(s.batch);
  // Allocated here, not on first use: in the item schedule several threads share a slot.
  const Index padded_plane_size = g.padded_rows() * g.padded_cols();
  std::vector<VectorX<S>> padded(static_cast<std::size_t>(interior ? 0 : sched.slots()),
                                 VectorX<S>(s.in_channels * padded_plane_size));
  auto target = [&](Index n, int slot) {
    if (interior)
      return OutputPlanes<S>{grad_input.data() + n * s.in_channels * in_plane_size, in_plane_size,
                             g.in_cols};
    return OutputPlanes<S>{padded[slot].data(), padded_plane_size, g.padded_cols()};
  };
  auto fold = [&](Index n, int slot) {
    if (interior) return;
    for (Index c = 0; c < s.in_channels; ++c) {
      fold_padding(padded[slot].data() + c * padded_plane_size, g.padded_cols(), g,
                   grad_input.data() + (n * s.in_channels + c) * in_plane_size, g.in_cols);
    }
  };
  if constexpr (winograd_exact_for<S>()) {
    if (use_winograd && winograd_fits(gi)) {
      winograd_conv<S>(grad_output.data(), out_image_size, gi, s.batch, s.groups, out_per_group,
                       in_per_group, weight_at, static_cast<const S*>(nullptr), target, fold);
      return;
    }
  }
  shifted_conv_auto<S>(in_per_group, grad_output.data(), out_image_size, gi, s.batch, s.groups,
                       out_per_group, in_per_group, false, weight_at,
                       static_cast<const S*>(nullptr), target, fold);
}

/// The input gradient as the GEMM dcol = W^T * dy (dy the output gradient, one tile of output
/// samples at a time) followed by col2im into the padded input gradient, folded back: any stride.
template <class S>
void grad_input_col2im(const Tensor<S>& grad_output, const Tensor<S>& weight, const Conv2dShape& s,
                       Tensor<S>& grad_input) {
  using Block = GemmBlock<S>;
  constexpr int MR = Block::mr;
  constexpr Index NR = Block::nr;
  const Conv2dGeometry& g = s.geometry;
  const Index in_per_group = s.in_per_group;
  const Index out_per_group = s.out_per_group;
  const Index depth = in_per_group * g.kernel_rows * g.kernel_cols;  // rows of dcol
  const Index a_group = (depth + MR - 1) / MR * MR * out_per_group;
  std::vector<S> a;
  a.reserve(static_cast<std::size_t>(s.groups * a_group));
  const S* w = weight.data();
  for (Index grp = 0; grp < s.groups; ++grp) {
    const std::vector<S> packed = pack_rows<S, MR>(depth, out_per_group, [&](Index k, Index o) {
      return w[(grp * out_per_group + o) * depth + k];
    });
    a.insert(a.end(), packed.begin(), packed.end());
  }
  const Index out_plane_size = g.out_rows * g.out_cols;
  std::vector<Index> offsets(static_cast<std::size_t>(out_per_group));
  for (Index o = 0; o < out_per_group; ++o) offsets[o] = o * out_plane_size;

  // Tiles of dcol: `tile` output samples (a few hundred) for all rows.
  const Index tile = std::min<Index>((out_plane_size + NR - 1) / NR * NR, 4 * NR);
  const BatchSchedule sched = batch_schedule(s.batch);
  const Index chunk_cols =
      ((out_plane_size + sched.chunks - 1) / sched.chunks + tile - 1) / tile * tile;
  const Index chunks = (out_plane_size + chunk_cols - 1) / chunk_cols;
  const Index out_image_size = s.out_channels * out_plane_size;
  const Index padded_plane_size = g.padded_rows() * g.padded_cols();
  const Index in_plane_size = g.in_rows * g.in_cols;
  std::vector<VectorX<S>> grad_output_copies(static_cast<std::size_t>(sched.slots()));
  std::vector<VectorX<S>> padded_grad_inputs(static_cast<std::size_t>(sched.threads));
  std::vector<VectorX<S>> cols(static_cast<std::size_t>(sched.threads));

  run_batch(
      sched, s.batch, s.groups * chunks,
      [&](Index n, int slot) {
        // A copy of the image's output gradient with NR samples of slack for the last tile.
        VectorX<S>& buf = grad_output_copies[slot];
        if (buf.size() != out_image_size + NR) buf.setZero(out_image_size + NR);
        buf.head(out_image_size) =
            Eigen::Map<const VectorX<S>>(grad_output.data() + n * out_image_size, out_image_size);
        const int first = sched.per_image ? slot : 0;
        const int last = sched.per_image ? slot + 1 : sched.threads;
        for (int t = first; t < last; ++t)
          padded_grad_inputs[t].setZero(s.in_channels * padded_plane_size);
      },
      [&](Index, Index item, int slot, int thread) {
        const Index grp = item / chunks;
        const Index c0 = (item % chunks) * chunk_cols;
        const Index c1 = std::min(out_plane_size, c0 + chunk_cols);
        VectorX<S>& col = cols[thread];
        if (col.size() != depth * tile) col.resize(depth * tile);
        S* padded_grad_input =
            padded_grad_inputs[thread].data() + grp * in_per_group * padded_plane_size;
        const S* b = grad_output_copies[slot].data() + grp * out_per_group * out_plane_size;
        for (Index p0 = c0; p0 < c1; p0 += tile) {
          const Index n_cols = std::min(tile, c1 - p0);
          shifted_product<S, MR, Block::np>(
              depth, out_per_group, a.data() + grp * a_group, b, offsets.data(), p0, p0 + n_cols, 0,
              [&](Index m0, Index rows, Index q0, Index n, const S* t, Index ld) {
                for (Index i = 0; i < rows; ++i) {
                  std::copy(t + i * ld, t + i * ld + n, col.data() + (m0 + i) * tile + q0 - p0);
                }
              });
          col2im_add(col.data(), tile, p0, n_cols, g, in_per_group, padded_grad_input);
        }
      },
      [&](Index n, int slot) {
        VectorX<S>& padded_grad_input = padded_grad_inputs[sched.per_image ? slot : 0];
        if (!sched.per_image) {
          for (int t = 1; t < sched.threads; ++t) padded_grad_input += padded_grad_inputs[t];
        }
        for (Index c = 0; c < s.in_channels; ++c) {
          fold_padding(padded_grad_input.data() + c * padded_plane_size, g.padded_cols(), g,
                       grad_input.data() + (n * s.in_channels + c) * in_plane_size, g.in_cols);
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

/// Output rows of the output gradient per weight-gradient work item: about this many output
/// samples, so that the item's transposed output gradient stays in the L1/L2 cache.
constexpr Index kGradWeightSamples = 128;

/// dW^T (K x C_out/groups per group) = sum over images of col (K x P) * dy^T (P x C_out/groups),
/// dy the output gradient: the im2col rows are read in place (broadcast) from the shifted layout
/// of each image, dy is
/// transposed one row chunk at a time; per-thread partial sums are added at the end.
template <class S>
void grad_weight_gemm(const Tensor<S>& x, const Tensor<S>& grad_output, const Conv2dShape& s,
                      Tensor<S>& grad_weight) {
  using Block = GemmBlock<S>;
  using Packet = typename PacketOf<S>::type;
  constexpr int MR = Block::mr;
  constexpr int NP = Block::np;
  constexpr Index NR = Block::nr;
  constexpr int P = PacketOf<S>::size;
  const Conv2dGeometry& g = s.geometry;
  const ShiftedLayout layout = shifted_layout(g, s.in_channels, NR);
  const ShiftedFill<S> fill(g, layout);
  const std::vector<Index> offsets = tap_offsets(layout, g, s.in_per_group);
  const Index depth = static_cast<Index>(offsets.size());
  const Index out_per_group = s.out_per_group;
  const Index transposed_cols =
      (out_per_group + NR - 1) / NR * NR;  // dy^T's row length: whole blocks
  const Index rows_per_item = std::max<Index>(1, kGradWeightSamples / g.out_cols);
  const Index row_chunks = (g.out_rows + rows_per_item - 1) / rows_per_item;
  const Index out_plane_size = g.out_rows * g.out_cols;
  const Index x_image = s.in_channels * g.in_rows * g.in_cols;
  const Index in_plane_size = g.in_rows * g.in_cols;

  const BatchSchedule sched = batch_schedule(s.batch);
  std::vector<VectorX<S>> sources(static_cast<std::size_t>(sched.slots()));
  std::vector<VectorX<S>> sums(static_cast<std::size_t>(sched.threads));
  std::vector<VectorX<S>> transposed_grad_outputs(static_cast<std::size_t>(sched.threads));

  run_batch(
      sched, s.batch, s.groups * row_chunks,
      [&](Index n, int slot) {
        VectorX<S>& buf = sources[slot];
        if (buf.size() != layout.size) buf.setZero(layout.size);
        fill(x.data() + n * x_image, in_plane_size, buf.data());
      },
      [&](Index n, Index item, int slot, int thread) {
        const Index grp = item / row_chunks;
        const Index r0 = (item % row_chunks) * rows_per_item;
        const Index r1 = std::min(g.out_rows, r0 + rows_per_item);
        VectorX<S>& sum = sums[thread];
        if (sum.size() != s.groups * depth * transposed_cols)
          sum.setZero(s.groups * depth * transposed_cols);
        VectorX<S>& transposed = transposed_grad_outputs[thread];
        if (transposed.size() != rows_per_item * g.out_cols * transposed_cols) {
          transposed.setZero(rows_per_item * g.out_cols * transposed_cols);
        }
        // dy^T for rows [r0, r1): sample-major, out_per_group values (zero-padded to
        // transposed_cols) per sample.
        // The rows of the out_per_group planes are short runs far apart: each is requested from
        // memory two planes ahead of its use.
        const Index samples = (r1 - r0) * g.out_cols;
        const S* d0 = grad_output.data() +
                      (n * s.out_channels + grp * out_per_group) * out_plane_size + r0 * g.out_cols;
        constexpr Index line = 64 / sizeof(S) > 0 ? Index(64 / sizeof(S)) : 1;
        for (Index o = 0; o < out_per_group; ++o) {
          if (o + 2 < out_per_group) {
            for (Index p = 0; p < samples; p += line) {
              Eigen::internal::prefetch(d0 + (o + 2) * out_plane_size + p);
            }
          }
          const S* d = d0 + o * out_plane_size;
          for (Index p = 0; p < samples; ++p) transposed[p * transposed_cols + o] = d[p];
        }
        const S* src = sources[slot].data() + grp * s.in_per_group * layout.channel_size;
        S* acc_out = sum.data() + grp * depth * transposed_cols;
        for (Index k0 = 0; k0 < depth; k0 += MR) {
          const S* rows[MR];
          for (int i = 0; i < MR; ++i) rows[i] = src + offsets[std::min(k0 + i, depth - 1)];
          for (Index ob = 0; ob < transposed_cols; ob += NR) {
            Packet acc[MR][NP];
            unroll<MR>([&](auto i) {
              unroll<NP>([&](auto j) { acc[i][j] = Eigen::internal::pset1<Packet>(S(0)); });
            });
            for (Index r = r0; r < r1; ++r) {
              const S* shifted[MR];
              for (int i = 0; i < MR; ++i) shifted[i] = rows[i] + r * layout.phase_cols;
              rows_block<S, MR, NP>(
                  g.out_cols, shifted,
                  transposed.data() + (r - r0) * g.out_cols * transposed_cols + ob, transposed_cols,
                  acc);
            }
            const Index valid = std::min<Index>(MR, depth - k0);
            unroll<MR>([&](auto i) {
              if (i >= valid) return;
              S* dst = acc_out + (k0 + i) * transposed_cols + ob;
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
    for (Index o = 0; o < out_per_group; ++o) {
      for (Index k = 0; k < depth; ++k) {
        S total(0);
        for (const VectorX<S>& sum : sums) {
          if (sum.size() != 0) total += sum[(grp * depth + k) * transposed_cols + o];
        }
        grad_weight.data()[(grp * out_per_group + o) * depth + k] = total;
      }
    }
  }
}

/// dW as dot products, for few output channels per group (where a GEMM block along the output
/// channels would be mostly padding): for every image and input channel, the channel's shifted
/// plane is built once and every tap's gradient for each output channel of its group is the dot
/// product of that output's gradient with the plane shifted by the tap (`tap_dots`). Images run in
/// parallel, each thread summing into its own copy of dW.
template <class S>
void grad_weight_dots(const Tensor<S>& x, const Tensor<S>& grad_output, const Conv2dShape& s,
                      Tensor<S>& grad_weight) {
  const Conv2dGeometry& g = s.geometry;
  const ShiftedLayout layout = shifted_layout(g, 1, PacketOf<S>::size);
  const ShiftedFill<S> fill(g, layout);
  const std::vector<Index> offsets = tap_offsets(layout, g, 1);
  const Index taps = static_cast<Index>(offsets.size());
  const Index in_plane_size = g.in_rows * g.in_cols;
  const Index out_plane_size = g.out_rows * g.out_cols;
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
    if (sum.size() != grad_weight.size()) sum.setZero(grad_weight.size());
    fill(x.data() + (n * s.in_channels + c) * in_plane_size, in_plane_size, buf.data());
    const Index group = c / s.in_per_group;
    const Index ci = c % s.in_per_group;
    for (Index o = group * s.out_per_group; o < (group + 1) * s.out_per_group; ++o) {
      tap_dots(buf.data(), layout.phase_cols, offsets.data(), taps,
               grad_output.data() + (n * s.out_channels + o) * out_plane_size, g.out_rows,
               g.out_cols, sum.data() + (o * s.in_per_group + ci) * taps);
    }
  });
  Eigen::Map<VectorX<S>> out(grad_weight.data(), grad_weight.size());
  out.setZero();
  for (const VectorX<S>& sum : sums) {
    if (sum.size() != 0) out += sum;
  }
}

// ---------------------------------------------------------------------------------------------
// The backward pass

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
  const Index out_plane_size = g.out_rows * g.out_cols;
  Conv2dGrads<S> grads;
  if (mask.grad_bias) {
    grads.bias = VectorX<S>::Zero(s.out_channels);
    for (Index n = 0; n < s.batch; ++n) {
      for (Index o = 0; o < s.out_channels; ++o) {
        grads.bias[o] += packet_sum(grad_output.data() + (n * s.out_channels + o) * out_plane_size,
                                    out_plane_size);
      }
    }
  }
  if (mask.grad_weight) grads.weight = Tensor<S>(weight.shape());
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
  if (mask.grad_weight) {
    if (grad_weight_by_dots<S>(s, path)) {
      grad_weight_dots(x, grad_output, s, grads.weight);
    } else {
      grad_weight_gemm(x, grad_output, s, grads.weight);
    }
  }
  if (!mask.grad_input) return grads;
  switch (grad_input_algorithm(s, path)) {
    case GradInputAlgorithm::flipped:
      // Overwrites every element when the correlation is the input gradient itself.
      grads.input = flipped_input_is_interior(g) ? uninitialized_tensor<S>(x.shape())
                                                 : Tensor<S>(x.shape());
      grad_input_flipped(grad_output, weight, s, path == Conv2dPath::winograd, grads.input);
      break;
    case GradInputAlgorithm::tap_loops:
      grads.input = Tensor<S>(x.shape());
      grad_input_planes(grad_output, weight, s, grads.input);
      break;
    case GradInputAlgorithm::col2im:
      grads.input = Tensor<S>(x.shape());
      grad_input_col2im(grad_output, weight, s, grads.input);
      break;
  }
  return grads;
}

}  // namespace convtape::detail

/// The backward driver's explicit instantiations for scalar S, after `prefix` (`template` or
/// `extern template`): see convtape/instantiate.hpp.
#define CONVTAPE_DETAIL_INSTANTIATE_CONV2D_BACKWARD(prefix, S)                            \
  prefix convtape::Conv2dGrads<S> convtape::detail::conv2d_backward_path<S>(              \
      const convtape::Tensor<S>&, const convtape::Tensor<S>&, const convtape::Tensor<S>&, \
      const convtape::detail::Conv2dShape&, convtape::detail::Conv2dPath,                 \
      convtape::detail::Conv2dOutputMask);

CONVTAPE_DETAIL_EXTERN(CONVTAPE_DETAIL_INSTANTIATE_CONV2D_BACKWARD)
