// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// The kernel of the `interleaved` path: layers whose every output channel reads one input
// channel (depthwise layers, with any channel multiplier), vectorized across channels rather than
// along rows. Not for direct inclusion.
//
// A block of P output channels (P the packet size) is computed at once, lane l holding channel
// o0 + l. For each image, the block's input planes are transposed into one padded interleaved
// plane (`interleave_planes`): sample (i, j) of the padded plane is one packet whose lanes are the
// block's channels, as in oneDNN's blocked nChw16c layout. Every output sample is then one packet
// that accumulates one multiply-add per tap, with a packet of the block's weights for that tap: no
// lane is wasted however narrow the plane (a 7x7 plane fills 7 of 16 lanes when vectorized along
// its rows), and strided or dilated taps are only other addresses. The outputs are transposed back
// into their planes (`deinterleave_planes`). The transpositions run P samples at a time through
// Eigen's in-register `ptranspose`, so each sample costs about a packet copy.
//
// One item of work is one (image, block) pair; its result does not depend on which thread runs it,
// so the output is the same to the bit for every thread count.

#include <algorithm>
#include <type_traits>
#include <utility>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/detail/disable_warnings.hpp"
#include "convtape/detail/gemm.hpp"
#include "convtape/detail/packet_transpose.hpp"
#include "convtape/detail/parallel.hpp"
#include "convtape/detail/scratch.hpp"

namespace convtape::detail {

/// The interleaved convolution of one shape: the block-packed weights and biases, the taps'
/// offsets and the padded border's sources, built once per call; `operator()` computes one
/// (image, block) item and is const, so threads share one object.
template <class S>
class InterleavedConv {
 public:
  /// Channels per block: the lanes of a packet of S.
  static constexpr int kLanes = PacketOf<S>::size;

  /// Output channel o (of `out_channels`) reads input channel o / out_per_group with the taps
  /// w[o * taps .. (o + 1) * taps), plus bias[o] (no bias: null). For the weight gradient alone,
  /// w is null.
  InterleavedConv(const Conv2dGeometry& g, Index out_channels, Index out_per_group, const S* w,
                  const S* bias)
      : g_(g), out_channels_(out_channels), out_per_group_(out_per_group) {
    const Index taps = g.kernel_rows * g.kernel_cols;
    const Index blocks = this->blocks();
    // Lanes past the last channel get zero weights; their outputs are never stored.
    weights_.assign(static_cast<std::size_t>(blocks * taps * kLanes), S(0));
    bias_.assign(static_cast<std::size_t>(blocks * kLanes), S(0));
    for (Index o = 0; o < out_channels && w != nullptr; ++o) {
      for (Index t = 0; t < taps; ++t) {
        weights_[static_cast<std::size_t>(((o / kLanes) * taps + t) * kLanes + o % kLanes)] =
            w[o * taps + t];
      }
      if (bias != nullptr) bias_[static_cast<std::size_t>(o)] = bias[o];
    }
    const Index wp = g.padded_cols();
    for (Index a = 0; a < g.kernel_rows; ++a) {
      for (Index b = 0; b < g.kernel_cols; ++b) {
        offsets_.push_back((a * g.dilation.rows * wp + b * g.dilation.cols) * kLanes);
      }
    }
    for (Index i = 0; i < g.out_rows; ++i) {
      for (Index j = 0; j < g.out_cols; ++j) {
        sources_.push_back((i * g.stride.rows * wp + j * g.stride.cols) * kLanes);
      }
    }
    // Other modes than zeros copy each border packet from the interior packet it mirrors.
    if (g.mode != PaddingMode::zeros) {
      for (Index i = 0; i < g.padded_rows(); ++i) {
        for (Index j = 0; j < wp; ++j) {
          const Index si = i - g.pad.top;
          const Index sj = j - g.pad.left;
          if (si >= 0 && si < g.in_rows && sj >= 0 && sj < g.in_cols) continue;
          const Index from_i = padded_index(si, g.in_rows, g.mode) + g.pad.top;
          const Index from_j = padded_index(sj, g.in_cols, g.mode) + g.pad.left;
          border_.push_back({i * wp + j, from_i * wp + from_j});
        }
      }
    }
  }

  /// Blocks of kLanes output channels (the last one may be partly filled).
  Index blocks() const { return (out_channels_ + kLanes - 1) / kLanes; }

  /// Samples of workspace one thread needs: the padded interleaved input and the block's outputs.
  Index workspace() const {
    return (g_.padded_rows() * g_.padded_cols() + g_.out_rows * g_.out_cols) * kLanes;
  }

  /// Prepares a thread's workspace (before its first item): zeros in the padded border, which
  /// the items never write (other modes than zeros rewrite it per item).
  void clear(S* workspace) const {
    const Conv2dGeometry& g = g_;
    const Index wp = g.padded_cols();
    auto zero = [&](Index from, Index to) {
      std::fill(workspace + from * kLanes, workspace + to * kLanes, S(0));
    };
    zero(0, g.pad.top * wp);
    for (Index i = g.pad.top; i < g.pad.top + g.in_rows; ++i) {
      zero(i * wp, i * wp + g.pad.left);
      zero(i * wp + g.pad.left + g.in_cols, (i + 1) * wp);
    }
    zero((g.pad.top + g.in_rows) * wp, g.padded_rows() * wp);
  }

  /// Block `block` of one image: the input planes of that image (`in_plane` samples apart from
  /// `x`) to the output planes (contiguous, `out_plane` samples apart from `y`), through the
  /// thread's workspace.
  void operator()(const S* x, Index in_plane, Index block, S* workspace, S* y,
                  Index out_plane) const {
    const Conv2dGeometry& g = g_;
    S* padded = workspace;
    S* results = workspace + g.padded_rows() * g.padded_cols() * kLanes;
    interleave_input(x, in_plane, block, padded);
    compute(padded, block, results);
    S* out_planes[kLanes];
    const Index lanes = lanes_of(block);
    for (Index l = 0; l < lanes; ++l) out_planes[l] = y + (block * kLanes + l) * out_plane;
    deinterleave_planes<S>(results, g.out_rows, g.out_cols, g.out_cols, out_planes, lanes);
  }

  /// Adds block `block`'s weight gradient of one image into `sums` (a packet per tap, lane l for
  /// output channel block * kLanes + l): the input planes as for `operator()`, the output
  /// gradient's planes (contiguous, `out_plane` samples apart from `dy`).
  void add_grad_weight(const S* x, Index in_plane, const S* dy, Index out_plane, Index block,
                       S* workspace, S* sums) const {
    using namespace Eigen::internal;
    using Packet = typename PacketOf<S>::type;
    const Conv2dGeometry& g = g_;
    S* padded = workspace;
    S* grad = workspace + g.padded_rows() * g.padded_cols() * kLanes;
    interleave_input(x, in_plane, block, padded);
    const S* dy_planes[kLanes];
    for (Index l = 0; l < kLanes; ++l) {
      dy_planes[l] = dy + std::min(block * kLanes + l, out_channels_ - 1) * out_plane;
    }
    interleave_planes<S>(dy_planes, g.out_rows, g.out_cols, grad, g.out_cols);
    const Index taps = Index(offsets_.size());
    const Index step = g.stride.cols * kLanes;
    // Nine taps at a time (a 3x3 kernel in one pass), each a chain over every output sample.
    auto chunk = [&](auto count, Index t0) {
      constexpr int T = decltype(count)::value;
      Packet acc[T];
      Index off[T];
      unroll<T>([&](auto t) {
        acc[t] = ploadu<Packet>(sums + (t0 + t) * kLanes);
        off[t] = offsets_[t0 + t];
      });
      for (Index i = 0; i < g.out_rows; ++i) {
        const S* src = padded + i * g.stride.rows * g.padded_cols() * kLanes;
        const S* d = grad + i * g.out_cols * kLanes;
        for (Index j = 0; j < g.out_cols; ++j, src += step, d += kLanes) {
          const Packet dv = ploadu<Packet>(d);
          unroll<T>([&](auto t) { acc[t] = pmadd(dv, ploadu<Packet>(src + off[t]), acc[t]); });
        }
      }
      unroll<T>([&](auto t) { pstoreu(sums + (t0 + t) * kLanes, acc[t]); });
    };
    Index t = 0;
    for (; t + 9 <= taps; t += 9) chunk(std::integral_constant<int, 9>(), t);
    unroll<9>([&](auto rest) {  // the last 1 .. 8 taps (0: nothing)
      if constexpr (rest > 0) {
        if (taps - t == rest) chunk(rest, t);
      }
    });
  }

  /// Block `block`'s input gradient of one image, for one output channel per input channel
  /// (out_per_group 1): every output gradient packet times each tap's weights added into the padded
  /// interleaved gradient at the sample the tap read, the border folded onto the samples it
  /// mirrors, and the interior moved into the input gradient's planes (contiguous, `in_plane`
  /// samples apart from `dx`; overwritten).
  void grad_input(const S* dy, Index out_plane, Index block, S* workspace, S* dx,
                  Index in_plane) const {
    using namespace Eigen::internal;
    using Packet = typename PacketOf<S>::type;
    const Conv2dGeometry& g = g_;
    CONVTAPE_ASSERT(out_per_group_ == 1);
    const Index wp = g.padded_cols();
    S* padded = workspace;
    S* grad = workspace + g.padded_rows() * wp * kLanes;
    std::fill(padded, padded + g.padded_rows() * wp * kLanes, S(0));
    const S* dy_planes[kLanes];
    for (Index l = 0; l < kLanes; ++l) {
      dy_planes[l] = dy + std::min(block * kLanes + l, out_channels_ - 1) * out_plane;
    }
    interleave_planes<S>(dy_planes, g.out_rows, g.out_cols, grad, g.out_cols);
    const Index taps = Index(offsets_.size());
    const S* w = weights_.data() + block * taps * kLanes;
    const Index step = g.stride.cols * kLanes;
    for (Index i = 0; i < g.out_rows; ++i) {
      S* dst = padded + i * g.stride.rows * wp * kLanes;
      const S* d = grad + i * g.out_cols * kLanes;
      for (Index j = 0; j < g.out_cols; ++j, dst += step, d += kLanes) {
        const Packet dv = ploadu<Packet>(d);
        for (Index t = 0; t < taps; ++t) {
          S* at = dst + offsets_[static_cast<std::size_t>(t)];
          pstoreu(at, pmadd(ploadu<Packet>(w + t * kLanes), dv, ploadu<Packet>(at)));
        }
      }
    }
    for (const auto& [to, from] : border_) {
      for (Index l = 0; l < kLanes; ++l) padded[from * kLanes + l] += padded[to * kLanes + l];
    }
    S* dx_planes[kLanes];
    const Index lanes = lanes_of(block);
    for (Index l = 0; l < lanes; ++l) dx_planes[l] = dx + (block * kLanes + l) * in_plane;
    deinterleave_planes<S>(padded + (g.pad.top * wp + g.pad.left) * kLanes, g.in_rows, g.in_cols,
                           wp, dx_planes, lanes);
  }

  /// Channels of block `block` that exist (kLanes but for a last, partly filled block).
  Index lanes_of(Index block) const {
    return std::min<Index>(kLanes, out_channels_ - block * kLanes);
  }

 private:
  /// The input planes block `block` reads into the padded interleaved plane, borders included.
  void interleave_input(const S* x, Index in_plane, Index block, S* padded) const {
    const Conv2dGeometry& g = g_;
    const Index wp = g.padded_cols();
    const S* in_planes[kLanes];
    for (Index l = 0; l < kLanes; ++l) {
      // Lanes past the last channel read the last channel's input again (their weights are 0).
      in_planes[l] =
          x + (std::min(block * kLanes + l, out_channels_ - 1) / out_per_group_) * in_plane;
    }
    interleave_planes<S>(in_planes, g.in_rows, g.in_cols,
                         padded + (g.pad.top * wp + g.pad.left) * kLanes, wp);
    for (const auto& [to, from] : border_) {
      std::copy(padded + from * kLanes, padded + (from + 1) * kLanes, padded + to * kLanes);
    }
  }

  /// Every output packet of the block from the padded interleaved input, eight output samples at
  /// a time along the plane (not the row: a 7-wide row would leave short, latency-bound chains),
  /// eight independent chains sharing each tap's weights.
  void compute(const S* padded, Index block, S* results) const {
    using namespace Eigen::internal;
    using Packet = typename PacketOf<S>::type;
    const Index taps = Index(offsets_.size());
    const S* w = weights_.data() + block * taps * kLanes;
    const Packet bias = ploadu<Packet>(bias_.data() + block * kLanes);
    const Index* offsets = offsets_.data();
    const Index* sources = sources_.data();
    auto outputs = [&](auto count, Index k) {
      constexpr int B = decltype(count)::value;
      Packet acc[B];
      const S* src[B];
      unroll<B>([&](auto u) {
        acc[u] = bias;
        src[u] = padded + sources[k + u];
      });
      for (Index t = 0; t < taps; ++t) {
        const Packet wv = ploadu<Packet>(w + t * kLanes);
        unroll<B>([&](auto u) { acc[u] = pmadd(wv, ploadu<Packet>(src[u] + offsets[t]), acc[u]); });
      }
      unroll<B>([&](auto u) { pstoreu(results + (k + u) * kLanes, acc[u]); });
    };
    const Index samples = Index(sources_.size());
    Index k = 0;
    for (; k + 8 <= samples; k += 8) outputs(std::integral_constant<int, 8>(), k);
    for (; k + 4 <= samples; k += 4) outputs(std::integral_constant<int, 4>(), k);
    for (; k < samples; ++k) outputs(std::integral_constant<int, 1>(), k);
  }

  Conv2dGeometry g_;
  Index out_channels_;
  Index out_per_group_;
  std::vector<S> weights_;      // per block, per tap: a packet of the block's weights
  std::vector<S> bias_;         // per block: a packet of the block's biases
  std::vector<Index> offsets_;  // per tap: its offset in the padded interleaved plane, in samples
  std::vector<Index> sources_;  // per output sample: where its tap (0, 0) reads, in samples
  std::vector<std::pair<Index, Index>> border_;  // (border packet, interior packet it copies)
};

/// y = the convolution of `batch` images x (each `x_image` samples, its planes in_rows x in_cols
/// contiguous) in which output channel o reads input channel o / out_per_group with the taps
/// w[o * taps ..] (OIHW with one input channel per group), plus bias (or null), into the
/// contiguous output planes of y (each image `y_image` samples), on up to `threads` threads.
template <class S>
void interleaved_conv(const S* x, Index x_image, const Conv2dGeometry& g, Index batch,
                      Index out_channels, Index out_per_group, const S* w, const S* bias, S* y,
                      Index y_image, int threads) {
  const InterleavedConv<S> conv(g, out_channels, out_per_group, w, bias);
  const Index blocks = conv.blocks();
  const Index in_plane = g.in_rows * g.in_cols;
  const Index out_plane = g.out_rows * g.out_cols;
  parallel_blocks(batch * blocks, threads, [&](Index begin, Index end, int) {
    if (begin == end) return;
    const Scratch<S, ScratchSlot::band> workspace(conv.workspace());
    conv.clear(workspace.data());
    for (Index item = begin; item < end; ++item) {
      const Index n = item / blocks;
      conv(x + n * x_image, in_plane, item % blocks, workspace.data(), y + n * y_image, out_plane);
    }
  });
}

/// dx (overwritten) = the input gradient of the convolution of `interleaved_conv` with one output
/// channel per input channel, for the output gradient dy (contiguous planes, each image
/// `dy_image` samples), on up to `threads` threads: one item per (image, block of channels), each
/// writing its own planes.
template <class S>
void interleaved_grad_input(const S* dy, Index dy_image, const Conv2dGeometry& g, Index batch,
                            Index channels, const S* w, S* dx, Index dx_image, int threads) {
  const InterleavedConv<S> conv(g, channels, 1, w, nullptr);
  const Index blocks = conv.blocks();
  const Index in_plane = g.in_rows * g.in_cols;
  const Index out_plane = g.out_rows * g.out_cols;
  parallel_blocks(batch * blocks, threads, [&](Index begin, Index end, int) {
    if (begin == end) return;
    const Scratch<S, ScratchSlot::band> workspace(conv.workspace());
    for (Index item = begin; item < end; ++item) {
      const Index n = item / blocks;
      conv.grad_input(dy + n * dy_image, out_plane, item % blocks, workspace.data(),
                      dx + n * dx_image, in_plane);
    }
  });
}

/// grad_weight (OIHW with one input channel per group, overwritten) of the convolution of
/// `interleaved_conv` for the output gradient dy (contiguous planes, each image `dy_image`
/// samples), on up to `threads` threads: one item per block of output channels, which adds its
/// images in order, so the result is the same to the bit for every thread count.
template <class S>
void interleaved_grad_weight(const S* x, Index x_image, const S* dy, Index dy_image,
                             const Conv2dGeometry& g, Index batch, Index out_channels,
                             Index out_per_group, S* grad_weight, int threads) {
  constexpr int P = InterleavedConv<S>::kLanes;
  const InterleavedConv<S> conv(g, out_channels, out_per_group, nullptr, nullptr);
  const Index taps = g.kernel_rows * g.kernel_cols;
  const Index in_plane = g.in_rows * g.in_cols;
  const Index out_plane = g.out_rows * g.out_cols;
  parallel_blocks(conv.blocks(), threads, [&](Index begin, Index end, int) {
    if (begin == end) return;
    const Scratch<S, ScratchSlot::band> workspace(conv.workspace());
    conv.clear(workspace.data());
    std::vector<S> sums(static_cast<std::size_t>(taps * P));
    for (Index block = begin; block < end; ++block) {
      std::fill(sums.begin(), sums.end(), S(0));
      for (Index n = 0; n < batch; ++n) {
        conv.add_grad_weight(x + n * x_image, in_plane, dy + n * dy_image, out_plane, block,
                             workspace.data(), sums.data());
      }
      for (Index l = 0; l < conv.lanes_of(block); ++l) {
        for (Index t = 0; t < taps; ++t) {
          grad_weight[(block * P + l) * taps + t] = sums[static_cast<std::size_t>(t * P + l)];
        }
      }
    }
  });
}

}  // namespace convtape::detail

#include "convtape/detail/reenable_warnings.hpp"
