// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Kernels of the direct path (layers with one or two output channels per group, such as
// depthwise ones), vectorized along output rows with Eigen's packet math. Not for direct inclusion.
//
// - `depthwise_rows`: every output packet accumulates all taps in a register, reading the input in
//   place from the shifted layout of `im2col.hpp` (the taps' offsets), then is stored once. The
//   last packet of a row is moved back to end at the row's end, overlapping its neighbour (the
//   overlap is written twice with the same values), so rows need no scalar tail.
// - `tap_dots`: the weight gradient, each tap's as a dot product of the output gradient with the
//   input plane shifted by that tap.

#include <algorithm>
#include <cstring>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/detail/disable_warnings.hpp"
#include "convtape/detail/gemm.hpp"

namespace convtape::detail {

/// A packet of outputs of the direct kernel: lanes [0, length) of the output at `dst`, reading the
/// grid at `src` (plus each tap's offset).
struct DirectSpan {
  Index src;
  Index dst;
  Index length;
};

/// The spans covering an out_rows x out_cols output (row pitch `ld`) on a grid of pitch `pitch`,
/// `packet` lanes each, row by row: whole packets, the last one of a row moved back to end at the
/// row's end; partial spans only where a row is shorter than a packet. Every row has the same
/// number of spans, `(out_cols + packet - 1) / packet`.
inline std::vector<DirectSpan> direct_spans(Index out_rows, Index out_cols, Index pitch, Index ld,
                                            Index packet) {
  std::vector<DirectSpan> spans;
  const Index per_row = (out_cols + packet - 1) / packet;
  spans.reserve(static_cast<std::size_t>(out_rows * per_row));
  for (Index r = 0; r < out_rows; ++r) {
    for (Index j = 0; j < out_cols; j += packet) {
      const Index start = out_cols >= packet ? std::min(j, out_cols - packet) : j;
      spans.push_back({r * pitch + start, r * ld + start, std::min(packet, out_cols - start)});
    }
  }
  return spans;
}

/// out[span.dst + l] = bias + sum over taps t of w[t] * src[offsets[t] + span.src + l], for every
/// span and lane l < span.length. Four spans at a time keep four independent chains in flight.
template <class S>
void depthwise_rows(const S* src, const Index* offsets, const S* w, Index taps, S bias,
                    const DirectSpan* spans, Index count, S* out) {
  using namespace Eigen::internal;
  using Packet = typename PacketOf<S>::type;
  constexpr int P = PacketOf<S>::size;
  auto store = [&](const DirectSpan& span, const Packet& v) {
    if (span.length == P) {
      pstoreu(out + span.dst, v);
      return;
    }
    S lanes[P];
    pstoreu(lanes, v);
    std::copy(lanes, lanes + span.length, out + span.dst);
  };
  Index i = 0;
  for (; i + 4 <= count; i += 4) {
    const DirectSpan* sp = spans + i;
    Packet acc[4];
    unroll<4>([&](auto u) { acc[u] = pset1<Packet>(bias); });
    for (Index t = 0; t < taps; ++t) {
      const Packet wv = pset1<Packet>(w[t]);
      const S* base = src + offsets[t];
      unroll<4>([&](auto u) { acc[u] = pmadd(wv, ploadu<Packet>(base + sp[u].src), acc[u]); });
    }
    unroll<4>([&](auto u) { store(sp[u], acc[u]); });
  }
  for (; i < count; ++i) {
    Packet acc = pset1<Packet>(bias);
    for (Index t = 0; t < taps; ++t) {
      acc = pmadd(pset1<Packet>(w[t]), ploadu<Packet>(src + offsets[t] + spans[i].src), acc);
    }
    store(spans[i], acc);
  }
}

/// grad_kernel[t] += sum over i < out_rows, j < out_cols of src[offsets[t] + i * pitch + j] *
/// grad_output[i * out_cols + j], for the T taps offsets[0 .. T). Reads up to one packet past
/// the end of each source row (the shifted layout's slack) and of grad_output's rows within its
/// plane; those lanes are masked to zero in both factors, so they never reach the sums (not even
/// as 0 * inf).
template <class S, int T>
void tap_dots_block(const S* src, Index pitch, const Index* offsets, const S* grad_output,
                    Index out_rows, Index out_cols, S* grad_kernel) {
  using namespace Eigen::internal;
  using Packet = typename PacketOf<S>::type;
  constexpr int P = PacketOf<S>::size;
  const Index full = out_cols / P * P;
  const Index rest = out_cols - full;
  // An all-ones bit mask of lanes [0, rest) of a row's last, partial packet.
  S mask_bits[P];
  S ones;
  std::memset(static_cast<void*>(&ones), 0xff, sizeof(S));
  for (int l = 0; l < P; ++l) mask_bits[l] = l < rest ? ones : S(0);
  const Packet mask = ploadu<Packet>(mask_bits);
  Index off[T];
  unroll<T>([&](auto t) { off[t] = offsets[t]; });
  Packet acc[T];
  unroll<T>([&](auto t) { acc[t] = pset1<Packet>(S(0)); });
  for (Index i = 0; i < out_rows; ++i) {
    const S* row = src + i * pitch;
    const S* d = grad_output + i * out_cols;
    for (Index j = 0; j < full; j += P) {
      const Packet dv = ploadu<Packet>(d + j);
      unroll<T>([&](auto t) { acc[t] = pmadd(ploadu<Packet>(row + off[t] + j), dv, acc[t]); });
    }
    if (rest > 0) {
      Packet dv;
      if ((i * out_cols + full) + P <= out_rows * out_cols) {
        dv = pand(ploadu<Packet>(d + full), mask);  // the lanes past the row are later rows'
      } else {
        S tail[P];  // the tensor may end within the packet
        for (int l = 0; l < P; ++l) tail[l] = l < rest ? d[full + l] : S(0);
        dv = ploadu<Packet>(tail);
      }
      unroll<T>([&](auto t) {
        acc[t] = pmadd(pand(ploadu<Packet>(row + off[t] + full), mask), dv, acc[t]);
      });
    }
  }
  unroll<T>([&](auto t) { grad_kernel[t] += packet_lanes_sum<S>(acc[t]); });
}

/// `tap_dots_block` for any number of taps, nine (a 3x3 kernel) at a time.
template <class S>
void tap_dots(const S* src, Index pitch, const Index* offsets, Index taps, const S* grad_output,
              Index out_rows, Index out_cols, S* grad_kernel) {
  Index t = 0;
  for (; t + 9 <= taps; t += 9) {
    tap_dots_block<S, 9>(src, pitch, offsets + t, grad_output, out_rows, out_cols, grad_kernel + t);
  }
  const Index rest = taps - t;
  auto block = [&](auto n) {
    if constexpr (n > 0) {
      if (rest == n)
        tap_dots_block<S, n>(src, pitch, offsets + t, grad_output, out_rows, out_cols,
                             grad_kernel + t);
    }
  };
  unroll<9>(block);  // rest in 1 .. 8 (0: nothing)
}

}  // namespace convtape::detail

#include "convtape/detail/reenable_warnings.hpp"
