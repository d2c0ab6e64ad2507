// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// The weight gradient of the direct path (layers with one or two output channels per group, such
// as depthwise ones): each kernel tap's gradient is a dot product of the output gradient with the
// input plane shifted by that tap, vectorized along the output rows with Eigen's packet math.
// Not for direct inclusion.

#include <cstring>

#include "convtape/core.hpp"
#include "convtape/detail/gemm.hpp"

namespace convtape::detail {

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

/// dk[t] += sum over i < out_rows, j < out_cols of src[offsets[t] + i * pitch + j] * dy[i *
/// out_cols
/// + j], for the T taps offsets[0 .. T). Reads up to one packet past the end of each source row
/// (the shifted layout's slack); those lanes are masked, so they never reach the sums.
template <class S, int T>
void tap_dots_block(const S* src, Index pitch, const Index* offsets, const S* dy, Index out_rows,
                    Index out_cols, S* dk) {
  using namespace Eigen::internal;
  using Packet = typename PacketOf<S>::type;
  constexpr int P = PacketOf<S>::size;
  const Index full = out_cols / P * P;
  const Index rest = out_cols - full;
  // Lanes [0, rest) of the last, partial packet of a row: an all-ones bit mask, and the row's
  // tail of dy zero-padded to a whole packet.
  S mask_bits[P];
  S dy_tail[P];
  S ones;
  std::memset(static_cast<void*>(&ones), 0xff, sizeof(S));
  for (int l = 0; l < P; ++l) mask_bits[l] = l < rest ? ones : S(0);
  const Packet mask = ploadu<Packet>(mask_bits);
  Packet acc[T];
  unroll<T>([&](auto t) { acc[t] = pset1<Packet>(S(0)); });
  for (Index i = 0; i < out_rows; ++i) {
    const S* row = src + i * pitch;
    const S* d = dy + i * out_cols;
    for (Index j = 0; j < full; j += P) {
      const Packet dv = ploadu<Packet>(d + j);
      unroll<T>([&](auto t) { acc[t] = pmadd(ploadu<Packet>(row + offsets[t] + j), dv, acc[t]); });
    }
    if (rest > 0) {
      for (int l = 0; l < P; ++l) dy_tail[l] = l < rest ? d[full + l] : S(0);
      const Packet dv = ploadu<Packet>(dy_tail);
      unroll<T>([&](auto t) {
        const Packet xv = pand(ploadu<Packet>(row + offsets[t] + full), mask);
        acc[t] = pmadd(xv, dv, acc[t]);
      });
    }
  }
  unroll<T>([&](auto t) { dk[t] += packet_lanes_sum<S>(acc[t]); });
}

/// `tap_dots_block` for any number of taps, four at a time.
template <class S>
void tap_dots(const S* src, Index pitch, const Index* offsets, Index taps, const S* dy,
              Index out_rows, Index out_cols, S* dk) {
  Index t = 0;
  for (; t + 4 <= taps; t += 4) {
    tap_dots_block<S, 4>(src, pitch, offsets + t, dy, out_rows, out_cols, dk + t);
  }
  switch (taps - t) {
    case 3:
      tap_dots_block<S, 3>(src, pitch, offsets + t, dy, out_rows, out_cols, dk + t);
      break;
    case 2:
      tap_dots_block<S, 2>(src, pitch, offsets + t, dy, out_rows, out_cols, dk + t);
      break;
    case 1:
      tap_dots_block<S, 1>(src, pitch, offsets + t, dy, out_rows, out_cols, dk + t);
      break;
    default:
      break;
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace convtape::detail
