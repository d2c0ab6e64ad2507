// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Register-blocked SIMD kernels behind the plane tap loops of `plane.hpp`. Not for direct
// inclusion.
//
// Forward (`direct_corr`). A block of R output rows x C packets of output columns lives in R*C
// packet registers while every kernel tap is applied, so the output is written once. When the
// block's rows share input rows (row stride == row dilation), input row t of the block is
// loaded once per column tap and feeds every output row r that uses it (with kernel row t - r):
// up to min(R, kernel_rows) multiply-adds per load. Output rows are walked in strips of R, each
// strip sweeping the full width, so the R + kernel_rows - 1 input rows of a strip stay in L2
// for the next strip, which shares kernel_rows - 1 of them: the input is read from memory about
// once. Columns left over by the C-packet blocks take a block of fewer packets, and the last
// few columns (fewer than a packet) the tail of one packet ending at the last column, computed
// into a scratch block; planes narrower than a packet use Eigen's half packets, then scalars.
// No lane is masked and nothing is read past the end of a row.
//
// Rank-one kernels large enough to gain take two one-dimensional passes through a buffer that
// stays in cache (`separable_rows`); planes that need padding are padded a panel of rows at a
// time (in `plane.hpp`); with OpenMP, rows are split across threads (`split_rows`).
//
// Kernel gradient (`kernel_grad_corr`). A reduction per tap: a few taps at a time carry packet
// sums in registers while dy is swept once, in strips that stay in L2.
//
// Everything is written with Eigen's packet primitives, so the same code runs on AVX-512, AVX,
// SSE, NEON or plain scalars, in float or double, with whatever the user's flags enable.

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/detail/scratch.hpp"
#include "convtape/detail/unroll.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

#include "convtape/detail/disable_warnings.hpp"

namespace convtape::detail {

/// Below this many multiply-adds a forward call stays on the calling thread even when OpenMP is
/// on: starting a parallel region costs a few microseconds.
constexpr Index kParallelMinMacs = Index(1) << 20;

/// One unit-column-stride correlation on raw row-major memory:
///
///     out(i, j) (+)= sum_{a, b} kernel(a, b) * in(i * row_stride + a * row_dilation,
///                                                 j + b * col_dilation)
///
/// for i < rows, j < cols. `kernel` is contiguous row-major; `in` must hold every sample read.
template <class S>
struct DirectCorr {
  const S* in = nullptr;
  Index in_ld = 0;
  const S* kernel = nullptr;
  Index kernel_rows = 0;
  Index kernel_cols = 0;
  Index row_stride = 1;
  Index row_dilation = 1;
  Index col_dilation = 1;
  S* out = nullptr;
  Index out_ld = 0;
  Index rows = 0;
  Index cols = 0;
  bool accumulate = false;  ///< out += (true) or out = (false)
};

/// The register block of the forward kernel: up to `rows` output rows x `packets(R)` packets of
/// columns, the most that fit the register file (32 vector registers with AVX-512 or NEON, 16
/// with AVX and SSE) next to one row of input packets and a broadcast kernel tap:
/// R * C + C + 1 <= registers. Measured on AVX-512 and AVX2: 4 rows beat taller blocks (which
/// spill), and wider than 4 packets gains nothing.
struct DirectBlocking {
  static constexpr int rows = 4;
  static constexpr int max_packets = 4;
  static constexpr int registers = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS;
  static constexpr int packets(int r) {
    return (registers - 1) / (r + 1) < max_packets ? (registers - 1) / (r + 1) : max_packets;
  }
};

template <class Packet>
constexpr int packet_size_v = Eigen::internal::unpacket_traits<Packet>::size;

template <class Packet, int R, int C, class S>
EIGEN_ALWAYS_INLINE void load_block(Packet (&acc)[R][C], const S* y, Index ldy, bool accumulate) {
  namespace ei = Eigen::internal;
  constexpr int P = packet_size_v<Packet>;
  unroll<R>([&](auto r) {
    unroll<C>([&](auto c) {
      acc[r][c] = accumulate ? ei::ploadu<Packet>(y + r * ldy + c * P) : ei::pset1<Packet>(S(0));
    });
  });
}

template <class Packet, int R, int C, class S>
EIGEN_ALWAYS_INLINE void store_block(const Packet (&acc)[R][C], S* y, Index ldy) {
  constexpr int P = packet_size_v<Packet>;
  unroll<R>([&](auto r) {
    unroll<C>([&](auto c) { Eigen::internal::pstoreu(y + r * ldy + c * P, acc[r][c]); });
  });
}

/// acc[r] += input row `xt` * kernel row t - r, for the output rows r in [Lo, Hi]: each input
/// packet is loaded once per column tap and used by every one of those rows.
template <int Lo, int Hi, class Packet, int R, int C, class S>
EIGEN_ALWAYS_INLINE void feed_input_row(Packet (&acc)[R][C], const S* xt, Index t, const S* k,
                                        Index kw, Index dc) {
  namespace ei = Eigen::internal;
  constexpr int P = packet_size_v<Packet>;
  for (Index b = 0; b < kw; ++b) {
    Packet in[C];
    unroll<C>([&](auto c) { in[c] = ei::ploadu<Packet>(xt + b * dc + c * P); });
    unroll<Hi - Lo + 1>([&](auto i) {
      constexpr int r = Lo + decltype(i)::value;
      const Packet kv = ei::pset1<Packet>(k[(t - r) * kw + b]);
      unroll<C>([&](auto c) { acc[r][c] = ei::pmadd(in[c], kv, acc[r][c]); });
    });
  }
}

/// R x C packets of output at `y` when the R rows read input rows that overlap as t = r + a
/// (row stride == row dilation) and R <= kh. Input row t of the block serves output rows
/// [max(0, t - kh + 1), min(R - 1, t)]; splitting t into a ramp-up (t < R - 1), a steady part
/// (all R rows) and a ramp-down (t >= kh) makes every row range a compile-time constant, so
/// there is no branch in the tap loop and the accumulators stay in registers.
template <class Packet, int R, int C, class S>
void direct_block_shared_rows(const S* x, Index row_pitch, const S* k, Index kh, Index kw, Index dc,
                              S* y, Index ldy, bool accumulate) {
  CONVTAPE_ASSERT(kh >= R);
  Packet acc[R][C];
  load_block(acc, y, ldy, accumulate);
  unroll<R - 1>([&](auto ramp) {
    constexpr int t = decltype(ramp)::value;
    feed_input_row<0, t>(acc, x + t * row_pitch, t, k, kw, dc);
  });
  for (Index t = R - 1; t < kh; ++t) feed_input_row<0, R - 1>(acc, x + t * row_pitch, t, k, kw, dc);
  unroll<R - 1>([&](auto ramp) {
    constexpr int i = decltype(ramp)::value;
    const Index t = kh + i;
    feed_input_row<i + 1, R - 1>(acc, x + t * row_pitch, t, k, kw, dc);
  });
  store_block(acc, y, ldy);
}

/// R x C packets of output at `y` for any row stride and dilation: tap by tap, every output row
/// loads its own input row.
template <class Packet, int R, int C, class S>
void direct_block_any_rows(const S* x, Index row_pitch, Index dilation_pitch, const S* k, Index kh,
                           Index kw, Index dc, S* y, Index ldy, bool accumulate) {
  namespace ei = Eigen::internal;
  constexpr int P = packet_size_v<Packet>;
  Packet acc[R][C];
  load_block(acc, y, ldy, accumulate);
  for (Index a = 0; a < kh; ++a) {
    const S* xa = x + a * dilation_pitch;
    for (Index b = 0; b < kw; ++b) {
      const Packet kv = ei::pset1<Packet>(k[a * kw + b]);
      const S* xab = xa + b * dc;
      unroll<R>([&](auto r) {
        unroll<C>([&](auto c) {
          acc[r][c] = ei::pmadd(ei::ploadu<Packet>(xab + r * row_pitch + c * P), kv, acc[r][c]);
        });
      });
    }
  }
  store_block(acc, y, ldy);
}

/// Whether the rows of a register block share input rows (row stride == row dilation, so output
/// row r meets input row r + a with kernel row a), which the shared-row kernel exploits. A
/// one-row kernel shares nothing and is better served by the any-row kernel's taller blocks.
template <class S>
bool shares_rows(const DirectCorr<S>& p) {
  return p.row_stride == p.row_dilation && p.kernel_rows > 1;
}

/// One block of R rows x C packets whose top-left output is (i, j), written to `y` (pitch ldy):
/// the output itself, or a scratch block.
template <class Packet, int R, int C, class S>
void direct_block(const DirectCorr<S>& p, Index i, Index j, S* y, Index ldy, bool accumulate) {
  const Index row_pitch = p.row_stride * p.in_ld;
  const S* x = p.in + i * row_pitch + j;
  if (shares_rows(p)) {
    direct_block_shared_rows<Packet, R, C>(x, row_pitch, p.kernel, p.kernel_rows, p.kernel_cols,
                                           p.col_dilation, y, ldy, accumulate);
  } else {
    direct_block_any_rows<Packet, R, C>(x, row_pitch, p.row_dilation * p.in_ld, p.kernel,
                                        p.kernel_rows, p.kernel_cols, p.col_dilation, y, ldy,
                                        accumulate);
  }
}

template <class Packet, int R, int C, class S>
void direct_block(const DirectCorr<S>& p, Index i, Index j) {
  direct_block<Packet, R, C>(p, i, j, p.out + i * p.out_ld + j, p.out_ld, p.accumulate);
}

/// One block of R rows x n packets at (i, j), for a run-time n in [1, C].
template <class Packet, int R, int C, class S>
void direct_block_n(const DirectCorr<S>& p, Index i, Index j, Index n) {
  if constexpr (C > 1) {
    if (n < C) {
      direct_block_n<Packet, R, C - 1>(p, i, j, n);
      return;
    }
  }
  direct_block<Packet, R, C>(p, i, j);
}

/// Columns [j, cols) of R rows at row i, for planes narrower than one packet: one `Packet` at a
/// time, then the rest with the next smaller packet (Eigen's half packet, down to a scalar).
template <class Packet, int R, class S>
void direct_narrow_columns(const DirectCorr<S>& p, Index i, Index j) {
  constexpr int P = packet_size_v<Packet>;
  for (; j + P <= p.cols; j += P) direct_block<Packet, R, 1>(p, i, j);
  if constexpr (P > 1) {
    using Half = typename Eigen::internal::unpacket_traits<Packet>::half;
    if constexpr (packet_size_v<Half> < P) {
      direct_narrow_columns<Half, R>(p, i, j);
    } else {
      direct_narrow_columns<S, R>(p, i, j);
    }
  }
}

/// R output rows starting at row i, the full width: blocks of C packets, then one block of the
/// whole packets left, then the last few columns (fewer than a packet) as the tail of one packet
/// that ends at the last column, computed into a scratch block so columns already written are
/// not written twice (which `accumulate` would double).
template <int R, class S>
void direct_strip(const DirectCorr<S>& p, Index i) {
  using Packet = typename Eigen::internal::packet_traits<S>::type;
  constexpr int P = packet_size_v<Packet>;
  constexpr int C = DirectBlocking::packets(R);
  Index j = 0;
  constexpr Index block_cols = Index{C} * P;
  for (; j + block_cols <= p.cols; j += block_cols) direct_block<Packet, R, C>(p, i, j);
  if (const Index n = (p.cols - j) / P; n > 0) {
    direct_block_n<Packet, R, C>(p, i, j, n);
    j += n * P;
  }
  if (j == p.cols) return;
  if (p.cols < P) {
    direct_narrow_columns<Packet, R>(p, i, j);
    return;
  }
  EIGEN_ALIGN_MAX S scratch[R * P];
  const Index j0 = p.cols - P;
  direct_block<Packet, R, 1>(p, i, j0, scratch, P, false);
  for (int r = 0; r < R; ++r) {
    S* y = p.out + (i + r) * p.out_ld;
    for (Index jj = j; jj < p.cols; ++jj) {
      const S value = scratch[Index{r} * P + jj - j0];
      y[jj] = p.accumulate ? y[jj] + value : value;
    }
  }
}

/// Rows [begin, end) in strips of R rows, the last strip shorter.
template <int R, class S>
void direct_rows(const DirectCorr<S>& p, Index begin, Index end) {
  Index i = begin;
  for (; i + R <= end; i += R) direct_strip<R>(p, i);
  if constexpr (R > 1) {
    if (i < end) direct_rows<R - 1>(p, i, end);
  }
}

/// Number of output rows per register block: the most the register file holds, and for the
/// shared-row kernel at most the kernel's height (each block row must see every kernel row).
template <class S>
Index direct_block_rows(const DirectCorr<S>& p) {
  constexpr Index most = DirectBlocking::rows;
  return shares_rows(p) ? std::min(most, p.kernel_rows) : most;
}

/// Rows [begin, end) with `rows_per_block` (1 .. DirectBlocking::rows) rows per block.
template <class S, int R = DirectBlocking::rows>
void direct_rows_dispatch(const DirectCorr<S>& p, Index rows_per_block, Index begin, Index end) {
  if constexpr (R > 1) {
    if (rows_per_block < R) {
      direct_rows_dispatch<S, R - 1>(p, rows_per_block, begin, end);
      return;
    }
  }
  direct_rows<R>(p, begin, end);
}

/// Ranges of rows per thread `split_rows` makes: handed out dynamically, so that a thread slowed
/// by other work on the machine delays the call by a fraction of its share, not all of it.
constexpr Index kChunksPerThread = 4;

/// Calls f(begin, end) on consecutive ranges covering [0, units) and returns: with OpenMP,
/// kChunksPerThread ranges per thread, in parallel, when `macs` (the work) reaches
/// kParallelMinMacs and the caller is not already in a parallel region (conv2d may call from its
/// own parallel loop); else one range on the calling thread. Ranges are whole multiples of
/// `grain` (but the last), so every range starts on a block.
template <class F>
void split_rows(Index units, Index grain, double macs, F&& f) {
#ifdef _OPENMP
  if (!omp_in_parallel() && omp_get_max_threads() > 1 && macs >= double(kParallelMinMacs)) {
    const Index blocks = (units + grain - 1) / grain;
    const Index chunks = std::min<Index>(blocks, kChunksPerThread * omp_get_max_threads());
#pragma omp parallel for schedule(dynamic, 1)
    for (Index chunk = 0; chunk < chunks; ++chunk) {
      const Index begin = std::min(units, blocks * chunk / chunks * grain);
      const Index end = std::min(units, blocks * (chunk + 1) / chunks * grain);
      if (begin < end) f(begin, end);
    }
    return;
  }
#else
  static_cast<void>(grain);
  static_cast<void>(macs);
#endif
  f(Index(0), units);
}

/// Multiply-adds of a forward problem.
template <class S>
double direct_macs(const DirectCorr<S>& p) {
  return double(p.rows) * double(p.cols) * double(p.kernel_rows) * double(p.kernel_cols);
}

/// Bytes of input rows a panel of output rows should read at most, so that the rows a panel
/// builds (padded rows, or the first pass of a separable kernel) stay in L2 while it is swept.
constexpr Index kPanelBytes = Index(256) << 10;
/// Output rows per panel are a multiple of this, so that every register block height (1 to
/// DirectBlocking::rows) divides a panel and only a plane's last rows take shorter blocks.
constexpr Index kPanelGrain = 12;
static_assert(kPanelGrain % 4 == 0 && kPanelGrain % 3 == 0 && DirectBlocking::rows <= 4,
              "every block height must divide the panel grain");

/// Output rows per panel when each reads `halo` rows of `width` samples at a row `stride`: as
/// many as fit kPanelBytes, but at least enough that the halo rows a panel shares with the next
/// (built twice) are at most half of the rows it builds.
template <class S>
Index panel_rows(Index width, Index halo, Index stride) {
  const Index fit_rows = kPanelBytes / (Index(sizeof(S)) * std::max<Index>(width, 1));
  const Index fit = fit_rows > halo ? (fit_rows - halo) / stride + 1 : 1;
  const Index amortized = (halo + stride - 1) / stride;
  const Index rows = std::max(fit, amortized);
  return (rows + kPanelGrain - 1) / kPanelGrain * kPanelGrain;
}

/// A rank-one kernel takes two passes (kh + kw multiply-adds per output instead of kh * kw) only
/// when that saves at least this factor: the one-dimensional passes run at well under half the
/// direct kernel's rate (each loaded packet feeds fewer multiply-adds) and add a pass through an
/// intermediate. Measured: 7x7 (3.5x fewer) gains 1.1-1.4x, 15x15 2-3x; 5x5 (2.5x) loses.
constexpr Index kSeparableMinGain = 3;
/// A kernel counts as rank one when every tap is within this many epsilons (of the largest tap)
/// of the product of its column and row factors: exact outer products (Sobel, [1, -1] x
/// anything) and outer products rounded once (a Gaussian built as g * g^T) pass, anything
/// measurably of higher rank does not.
constexpr int kRankOneTolerance = 4;

/// Splits a contiguous kh x kw kernel into col (kh) * row (kw) when it is rank one up to
/// kRankOneTolerance; the factors are a column and a row of the kernel through its largest tap.
template <class S>
bool split_rank_one(const S* k, Index kh, Index kw, VectorX<S>& col, VectorX<S>& row) {
  if constexpr (!std::is_floating_point_v<S>) {
    return false;
  } else {
    using std::abs;
    Index pivot_row = 0;
    Index pivot_col = 0;
    S largest(0);
    for (Index a = 0; a < kh; ++a) {
      for (Index b = 0; b < kw; ++b) {
        if (abs(k[a * kw + b]) > largest) {
          largest = abs(k[a * kw + b]);
          pivot_row = a;
          pivot_col = b;
        }
      }
    }
    if (!(largest > S(0)) || !std::isfinite(largest)) return false;
    col.resize(kh);
    row.resize(kw);
    for (Index a = 0; a < kh; ++a) col[a] = k[a * kw + pivot_col];
    for (Index b = 0; b < kw; ++b) row[b] = k[pivot_row * kw + b] / k[pivot_row * kw + pivot_col];
    const S tolerance = S(kRankOneTolerance) * std::numeric_limits<S>::epsilon() * largest;
    for (Index a = 0; a < kh; ++a) {
      for (Index b = 0; b < kw; ++b) {
        if (!(abs(k[a * kw + b] - col[a] * row[b]) <= tolerance)) return false;
      }
    }
    return true;
  }
}

/// How a forward problem runs: directly, or, when its kernel is rank one and large enough (see
/// kSeparableMinGain), as a pass along rows with `row` and then down columns with `col`.
template <class S>
struct DirectPlan {
  bool separable = false;
  VectorX<S> col;
  VectorX<S> row;
};

/// Whether two passes save enough over a kh x kw kernel (kSeparableMinGain).
inline bool separable_pays(Index kh, Index kw) {
  return kh > 1 && kw > 1 && kh * kw >= kSeparableMinGain * (kh + kw);
}

template <class S>
DirectPlan<S> plan_direct(const DirectCorr<S>& p) {
  DirectPlan<S> plan;
  if (separable_pays(p.kernel_rows, p.kernel_cols)) {
    plan.separable = split_rank_one(p.kernel, p.kernel_rows, p.kernel_cols, plan.col, plan.row);
  }
  return plan;
}

/// Output rows [begin, end) of `p` in two passes, one panel of rows at a time: the row pass
/// writes the input rows the panel reads, correlated along the row with `row`, to a buffer that
/// stays in cache; the column pass correlates that buffer down the columns with `col`.
template <class S>
void separable_rows(const DirectCorr<S>& p, const DirectPlan<S>& plan, Index begin, Index end) {
  const Index halo = (p.kernel_rows - 1) * p.row_dilation + 1;
  const Index panel = panel_rows<S>(p.cols, halo, p.row_stride);
  const Scratch<S, ScratchSlot::separable_rows> rows_pass(
      ((std::min(panel, end - begin) - 1) * p.row_stride + halo) * p.cols);
  for (Index i0 = begin; i0 < end; i0 += panel) {
    const Index i1 = std::min(end, i0 + panel);
    DirectCorr<S> along = p;
    along.in = p.in + i0 * p.row_stride * p.in_ld;
    along.kernel = plan.row.data();
    along.kernel_rows = 1;
    along.row_stride = 1;
    along.row_dilation = 1;
    along.out = rows_pass.data();
    along.out_ld = p.cols;
    along.rows = (i1 - i0 - 1) * p.row_stride + halo;
    along.accumulate = false;
    direct_rows_dispatch(along, direct_block_rows(along), 0, along.rows);
    DirectCorr<S> down = p;
    down.in = rows_pass.data();
    down.in_ld = p.cols;
    down.kernel = plan.col.data();
    down.kernel_cols = 1;
    down.col_dilation = 1;
    down.out = p.out + i0 * p.out_ld;
    down.rows = i1 - i0;
    direct_rows_dispatch(down, direct_block_rows(down), 0, down.rows);
  }
}

/// Output rows [begin, end) of `p` as `plan` says, on the calling thread.
template <class S>
void run_direct_rows(const DirectCorr<S>& p, const DirectPlan<S>& plan, Index begin, Index end) {
  if (plan.separable) {
    separable_rows(p, plan, begin, end);
  } else {
    direct_rows_dispatch(p, direct_block_rows(p), begin, end);
  }
}

/// Runs `p` (directly or separably, see `plan_direct`), split across threads by `split_rows`.
template <class S>
void direct_corr(const DirectCorr<S>& p) {
  const DirectPlan<S> plan = plan_direct(p);
  split_rows(p.rows, direct_block_rows(p), direct_macs(p),
             [&](Index begin, Index end) { run_direct_rows(p, plan, begin, end); });
}

/// One unit-column-stride kernel-gradient reduction on raw row-major memory:
///
///     dk(a, b) += sum_{i < rows, j < cols} in(i * row_stride + a * row_dilation,
///                                             j + b * col_dilation) * dy(i, j)
template <class S>
struct KernelGradCorr {
  const S* in = nullptr;
  Index in_ld = 0;
  const S* grad_output = nullptr;
  Index grad_output_ld = 0;
  Index rows = 0;
  Index cols = 0;
  Index kernel_rows = 0;
  Index kernel_cols = 0;
  Index row_stride = 1;
  Index row_dilation = 1;
  Index col_dilation = 1;
  S* grad_kernel = nullptr;
  Index grad_kernel_ld = 0;
};

/// Kernel taps whose sums the kernel-gradient reduction carries in registers at once.
constexpr int kGradKernelTaps = 4;
/// Rows of dy per strip of the kernel-gradient reduction: a strip of dy and the input rows it
/// meets are swept once per kernel row and tap group, so they should stay in L2.
constexpr Index kGradKernelStripBytes = Index(256) << 10;

/// dk(a, b0 + t) += the sums for taps t < N over dy rows [i0, i1): each dy packet is loaded once
/// and multiplied with the N input packets the taps read; columns beyond the last whole packet
/// are summed with scalars.
template <int N, class S>
void grad_kernel_taps(const KernelGradCorr<S>& p, Index a, Index b0, Index i0, Index i1) {
  namespace ei = Eigen::internal;
  using Packet = typename ei::packet_traits<S>::type;
  constexpr int P = packet_size_v<Packet>;
  Packet acc[N];
  S tail[N];
  unroll<N>([&](auto t) {
    acc[t] = ei::pset1<Packet>(S(0));
    tail[t] = S(0);
  });
  const Index dc = p.col_dilation;
  const Index whole = p.cols / P * P;
  for (Index i = i0; i < i1; ++i) {
    const S* x = p.in + (i * p.row_stride + a * p.row_dilation) * p.in_ld + b0 * dc;
    const S* dy = p.grad_output + i * p.grad_output_ld;
    for (Index j = 0; j < whole; j += P) {
      const Packet d = ei::ploadu<Packet>(dy + j);
      unroll<N>([&](auto t) { acc[t] = ei::pmadd(ei::ploadu<Packet>(x + t * dc + j), d, acc[t]); });
    }
    // The last columns one by one: a packet overlapping counted columns would have to mask
    // them, and masking by multiplying with zero turns an infinite sample into NaN.
    for (Index j = whole; j < p.cols; ++j) {
      unroll<N>([&](auto t) { tail[t] += x[t * dc + j] * dy[j]; });
    }
  }
  // Summed through memory rather than with predux, whose AVX-512 version trips GCC 12's
  // uninitialized-variable warnings in user builds; this runs once per strip and tap.
  EIGEN_ALIGN_MAX S lanes[P];
  unroll<N>([&](auto t) {
    ei::pstore(lanes, acc[t]);
    S sum = tail[t];
    for (int l = 0; l < P; ++l) sum += lanes[l];
    p.grad_kernel[a * p.grad_kernel_ld + b0 + t] += sum;
  });
}

/// `grad_kernel_taps` for a run-time n in [1, N] taps.
template <int N, class S>
void grad_kernel_taps_n(const KernelGradCorr<S>& p, Index n, Index a, Index b0, Index i0,
                        Index i1) {
  if constexpr (N > 1) {
    if (n < N) {
      grad_kernel_taps_n<N - 1>(p, n, a, b0, i0, i1);
      return;
    }
  }
  grad_kernel_taps<N>(p, a, b0, i0, i1);
}

/// Runs `p`: strips of dy rows, and within a strip every kernel row and group of taps.
template <class S>
void kernel_grad_corr(const KernelGradCorr<S>& p) {
  const Index row_bytes = Index(sizeof(S)) * (p.cols + (p.kernel_cols - 1) * p.col_dilation);
  const Index strip = std::max<Index>(1, kGradKernelStripBytes / (2 * row_bytes));
  for (Index i0 = 0; i0 < p.rows; i0 += strip) {
    const Index i1 = std::min(p.rows, i0 + strip);
    for (Index a = 0; a < p.kernel_rows; ++a) {
      for (Index b0 = 0; b0 < p.kernel_cols; b0 += kGradKernelTaps) {
        const Index n = std::min<Index>(kGradKernelTaps, p.kernel_cols - b0);
        grad_kernel_taps_n<kGradKernelTaps>(p, n, a, b0, i0, i1);
      }
    }
  }
}

}  // namespace convtape::detail

#include "convtape/detail/reenable_warnings.hpp"
