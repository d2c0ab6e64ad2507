// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Register-blocked matrix-product kernels for the batched convolution, written with Eigen's
// portable packet math (`pset1`, `ploadu`, `pmadd`, ...: AVX-512, AVX2/FMA, SSE, NEON, ... or
// plain scalars for types Eigen does not vectorize). Not for direct inclusion.
//
// Both kernels keep an MR x NP block of packets (MR x NR scalars, NR = NP * packet size) in
// registers and, per step of the reduction, load NP packets of one operand and broadcast MR
// scalars of the other: MR * NP multiply-adds for MR + NP loads. They differ in where the operands
// come from:
// - `shifted_block`: C(i, j) += A(i, k) B(k, j), A read in place (MR row pointers), row k of B at
//   `b + offsets[k]` — the im2col matrix read in place from a shifted layout (`im2col.hpp`) or
//   any row-major matrix (offsets k * ld).
// - `rows_block`: C(i, j) += sum_t row_i[t * step] B(t, j) — MR rows read in place (im2col rows
//   again, for the weight gradient: a strided layer's read from padded rows, every step-th
//   sample), B packed.
// The block shape comes from the register file: 6 x 4 packets with 32 vector registers (AVX-512,
// NEON), 6 x 2 with 16 (AVX2, SSE).

#include <algorithm>
#include <type_traits>
#include <utility>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/detail/disable_warnings.hpp"
#include "convtape/detail/unroll.hpp"

namespace convtape::detail {

/// Eigen's packet for `S` and its width (1 and `S` itself where Eigen does not vectorize `S`).
template <class S>
struct PacketOf {
  using type = typename Eigen::internal::packet_traits<S>::type;
  static constexpr int size = Eigen::internal::packet_traits<S>::Vectorizable
                                  ? int(Eigen::internal::packet_traits<S>::size)
                                  : 1;
};

/// The register block of the product kernels for scalar type `S`.
template <class S>
struct GemmBlock {
  static constexpr int mr = 6;
  static constexpr int np = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32 ? 4 : 2;
  static constexpr int nr = np * PacketOf<S>::size;
};

/// Sum of the lanes of a packet, through memory: Eigen's AVX-512 `predux` trips GCC 12's
/// uninitialized-use warnings, and this runs once per reduction, not per element.
template <class S, class Packet>
S packet_lanes_sum(const Packet& p) {
  constexpr int P = PacketOf<S>::size;
  S lanes[P];
  Eigen::internal::pstoreu(lanes, p);
  S sum(0);
  for (int l = 0; l < P; ++l) sum += lanes[l];
  return sum;
}

/// Sum of n contiguous values, vectorized (four packets in flight); fewer than four packets are
/// added one by one, as the tail of a longer run is.
template <class S>
S packet_sum(const S* data, Index n) {
  using namespace Eigen::internal;
  using Packet = typename PacketOf<S>::type;
  constexpr int P = PacketOf<S>::size;
  if (n < Index{4} * P) {
    S sum(0);
    for (Index i = 0; i < n; ++i) sum += data[i];
    return sum;
  }
  Packet acc[4];
  unroll<4>([&](auto i) { acc[i] = pset1<Packet>(S(0)); });
  Index i = 0;
  for (; i + Index{4} * P <= n; i += Index{4} * P) {
    unroll<4>([&](auto j) { acc[j] = padd(acc[j], ploadu<Packet>(data + i + j * P)); });
  }
  S sum = packet_lanes_sum<S>(padd(padd(acc[0], acc[1]), padd(acc[2], acc[3])));
  for (; i < n; ++i) sum += data[i];
  return sum;
}

/// The left operand of `shifted_product`, read in place: A(i, k) = data[i * row + k * col]. A
/// row-major matrix has col = 1 (its transpose row = 1), so weights are used as they are stored,
/// with no per-call packing.
template <class S>
struct StridedRows {
  const S* data;
  Index row;
  Index col;
};

/// acc(i, j) += sum_k a[i][k * a_col] * b[offsets[k] + j], for i < MR, j < NP * packet.
template <class S, int MR, int NP, class Packet>
EIGEN_ALWAYS_INLINE void shifted_block(Index depth, const S* const (&a)[MR], Index a_col,
                                       const S* b, const Index* offsets, Packet (&acc)[MR][NP]) {
  using namespace Eigen::internal;
  constexpr int P = PacketOf<S>::size;
  for (Index k = 0; k < depth; ++k) {
    const S* bk = b + offsets[k];
    const Index ak = k * a_col;
    Packet bv[NP];
    unroll<NP>([&](auto j) { bv[j] = ploadu<Packet>(bk + j * P); });
    unroll<MR>([&](auto i) {
      const Packet av = pset1<Packet>(a[i][ak]);
      unroll<NP>([&](auto j) { acc[i][j] = pmadd(av, bv[j], acc[i][j]); });
    });
  }
}

/// acc(i, j) += sum_t rows[i][t * step] * b[t * ldb + j], for i < MR, j < NP * packet, t < len.
template <class S, int MR, int NP, class Packet>
EIGEN_ALWAYS_INLINE void rows_block(Index len, const S* const* rows, Index step, const S* b,
                                    Index ldb, Packet (&acc)[MR][NP]) {
  using namespace Eigen::internal;
  constexpr int P = PacketOf<S>::size;
  const S* r[MR];
  unroll<MR>([&](auto i) { r[i] = rows[i]; });
  for (Index t = 0, at = 0; t < len; ++t, at += step) {
    Packet bv[NP];
    unroll<NP>([&](auto j) { bv[j] = ploadu<Packet>(b + j * P); });
    unroll<MR>([&](auto i) {
      const Packet av = pset1<Packet>(r[i][at]);
      unroll<NP>([&](auto j) { acc[i][j] = pmadd(av, bv[j], acc[i][j]); });
    });
    b += ldb;
  }
}

/// sum[i * sum_ld + j] += the sum over runs r < runs of the products of `rows_block` on run r
/// (rows[i] + r * pitch, len samples `step` apart, against b + r * len * ldb), for i < valid (rows
/// past it are computed and dropped), j < NPc packets: one register block of `grad_weight_gemm`,
/// inline; `rows_product_narrow` is the same out of line.
template <class S, int MR, int NPc>
EIGEN_ALWAYS_INLINE void rows_product(Index len, Index runs, const S* const* rows, Index pitch,
                                      Index step, const S* b, Index ldb, Index valid, S* sum,
                                      Index sum_ld) {
  using Packet = typename PacketOf<S>::type;
  constexpr int P = PacketOf<S>::size;
  Packet acc[MR][NPc];
  unroll<MR>([&](auto i) {
    unroll<NPc>([&](auto j) { acc[i][j] = Eigen::internal::pset1<Packet>(S(0)); });
  });
  for (Index r = 0; r < runs; ++r) {
    const S* shifted[MR];
    for (int i = 0; i < MR; ++i) shifted[i] = rows[i] + r * pitch;
    rows_block<S, MR, NPc>(len, shifted, step, b + r * len * ldb, ldb, acc);
  }
  unroll<MR>([&](auto i) {
    if (i >= valid) return;
    S* dst = sum + i * sum_ld;
    unroll<NPc>([&](auto j) {
      using Eigen::internal::ploadu;
      Eigen::internal::pstoreu(dst + j * P,
                               Eigen::internal::padd(ploadu<Packet>(dst + j * P), acc[i][j]));
    });
  });
}

/// `rows_product` for a last block of fewer packets than the kernel's full one: out of line for
/// the reason `product_block` is, so that each narrow shape is compiled once per scalar type.
template <class S, int MR, int NPc>
EIGEN_DONT_INLINE void rows_product_narrow(Index len, Index runs, const S* const* rows, Index pitch,
                                           Index step, const S* b, Index ldb, Index valid, S* sum,
                                           Index sum_ld) {
  rows_product<S, MR, NPc>(len, runs, rows, pitch, step, b, ldb, valid, sum, sum_ld);
}

/// out(i, j) = init(i, j) + sum_k A(m0 + i, k) * b[offsets[k] + j] (+ bias[i] after the sum, if
/// `bias` is not null) for k in [k0, k1), i < MRc, j < NPc packets (init null: zero; `init` and
/// `out` row-major with pitches init_ld and out_ld, and may be the same): one register block of
/// `shifted_product`. Rows of A past m - 1 repeat row m - 1. A function of its own, not inlined,
/// so that each block shape is compiled once per scalar type and its unrolled loops keep the
/// compiler's full inlining budget.
template <class S, int MRc, int NPc>
EIGEN_DONT_INLINE void product_block(const StridedRows<S>& a, Index m, Index m0, Index k0, Index k1,
                                     const S* b, const Index* offsets, const S* init, Index init_ld,
                                     S* out, Index out_ld, const S* bias = nullptr) {
  using Packet = typename PacketOf<S>::type;
  constexpr int P = PacketOf<S>::size;
  Packet acc[MRc][NPc];
  unroll<MRc>([&](auto i) {
    unroll<NPc>([&](auto j) {
      acc[i][j] = init == nullptr ? Eigen::internal::pset1<Packet>(S(0))
                                  : Eigen::internal::ploadu<Packet>(init + i * init_ld + j * P);
    });
  });
  const S* rows[MRc];
  unroll<MRc>(
      [&](auto i) { rows[i] = a.data + std::min<Index>(m0 + i, m - 1) * a.row + k0 * a.col; });
  shifted_block<S, MRc, NPc>(k1 - k0, rows, a.col, b, offsets + k0, acc);
  if (bias != nullptr) {
    unroll<MRc>([&](auto i) {
      const Packet add = Eigen::internal::pset1<Packet>(bias[i]);
      unroll<NPc>([&](auto j) { acc[i][j] = Eigen::internal::padd(acc[i][j], add); });
    });
  }
  unroll<MRc>([&](auto i) {
    unroll<NPc>([&](auto j) { Eigen::internal::pstoreu(out + i * out_ld + j * P, acc[i][j]); });
  });
}

/// Rows of B per reduction chunk that the convolution engines ask of `shifted_product`: each chunk
/// starts and stores every register tile once.
constexpr Index kDepthChunk = 144;

/// Bytes of packed A that `shifted_product` keeps in the L1 cache at once (half of a 32 KiB L1).
constexpr Index kAGroupBytes = Index{16} * 1024;

/// Reduction steps per register block of A that a group of blocks sharing one B tile needs. Each
/// block of a group stores its MR rows of C per tile, so a group of g blocks writes g * MR rows
/// (output planes) side by side; with a short reduction those stores, not the multiply-adds, set
/// the pace unless they stream through few rows that the hardware prefetchers can follow. Measured
/// on AVX2 (Zen 3): a 1x1 layer of 8 input channels ran 2.3 times as fast with one block per
/// group as with all 64 of them.
constexpr Index kGroupDepth = 32;

/// Bytes of B (the rows of a reduction done in one pass, over a panel of columns) that
/// `shifted_product` keeps in the L2 cache while every group of A's blocks passes over them (half
/// of a 512 KiB L2): small groups then read B from the L2 cache, not from memory.
constexpr Index kBPanelBytes = Index{256} * 1024;

/// Columns in a panel whose `depth` rows of `elem_bytes` each fit `bytes`: whole register blocks
/// of `nr` columns, one at least.
inline Index panel_columns(Index bytes, Index depth, Index elem_bytes, Index nr) {
  return std::max<Index>(nr, bytes / std::max<Index>(1, depth * elem_bytes) / nr * nr);
}

/// n rounded up to whole packets of S: the pitch of a product's right operand.
template <class S>
Index packet_pitch(Index n) {
  constexpr Index P = PacketOf<S>::size;
  return (n + P - 1) / P * P;
}

/// dst (rows x ld, row-major) = src (rows x cols, rows src_ld apart), zeros past cols: a product's
/// right operand padded to whole packets.
template <class S>
void copy_padded(const S* src, Index rows, Index cols, Index src_ld, S* dst, Index ld) {
  for (Index r = 0; r < rows; ++r) {
    std::copy(src + r * src_ld, src + r * src_ld + cols, dst + r * ld);
    std::fill(dst + r * ld + cols, dst + (r + 1) * ld, S(0));
  }
}

/// dst (cols x ld, row-major) = the transpose of src (rows x cols, row-major), zeros past rows:
/// weights (one output channel per row) as a product's right operand, a channel per lane.
template <class S>
void transpose_padded(const S* src, Index rows, Index cols, S* dst, Index ld) {
  for (Index k = 0; k < cols; ++k) {
    S* row = dst + k * ld;
    for (Index r = 0; r < rows; ++r) row[r] = src[r * cols + k];
    std::fill(row + rows, row + ld, S(0));
  }
}

/// Where a register block of `shifted_product` stores its rows itself: row i of the block at
/// `out` + i * `ld`, plus `bias`[i] where `bias` is not null; `out` null: through the sink.
template <class S>
struct DirectStore {
  S* out;
  Index ld;
  const S* bias;
};

/// Whether a sink of type T offers `direct(m0, q0, cols)`, a `DirectStore` for a block.
template <class T, class = void>
struct HasDirectStore : std::false_type {};
template <class T>
struct HasDirectStore<T,
                      std::void_t<decltype(std::declval<T&>().direct(Index(), Index(), Index()))>>
    : std::true_type {};

/// Sink for `shifted_product` that stores whole register blocks straight from the registers into a
/// dense row-major C (pitch `ld`), which must have room for them: rows up to the next multiple of
/// MR, columns up to the next multiple of the packet size past the last one computed.
template <class S>
struct DenseStore {
  S* c;
  Index ld;
};

/// Calls f(integral_constant<int, n>) for the n in [1, N] given at run time: a kernel
/// instantiated for every narrower register block, so that a last block of few rows or columns
/// computes only those.
template <int N, class F>
EIGEN_ALWAYS_INLINE void with_constant(int n, F&& f) {
  if constexpr (N > 1) {
    if (n < N) {
      with_constant<N - 1>(n, f);
      return;
    }
  }
  f(std::integral_constant<int, N>());
}

/// C = A * B for the columns [q_begin, q_end) of B, one MR x NR block at a time: A (m x depth)
/// read in place (`StridedRows`; a last block of fewer than MR rows repeats row m - 1), row k of B
/// at `b + offsets[k]` (its columns q_begin ... read up to the next multiple of the packet size
/// past q_end, so the caller provides that slack: a last block of columns narrower than NR runs a
/// kernel of only as many packets as it needs, and a last block of rows one of only those rows).
/// Each block is handed to `sink(row0, rows, col0, cols, tile, ld)` as a row-major MR x NR `tile`
/// holding C(row0 + i, col0 + j) for i < rows, j < cols; the sink stores it wherever C lives. A
/// sink with a `direct(row0, col0, cols)` member is asked first for every full block (MR rows or
/// fewer real ones, NR columns) whose reduction ends: where it returns a `DirectStore`, the block
/// stores its rows there from the registers, and the sink is not called.
///
/// The reduction runs in chunks of `chunk` rows of B, all row blocks of A per chunk, so that the
/// chunk's part of B (read in place, possibly scattered) stays in the L1 cache while every block
/// of A uses it; partial sums wait in a small m x NR buffer between chunks. A reduction done in
/// one pass runs over panels of columns whose part of B fits `kBPanelBytes`, and a short one in
/// groups of fewer blocks (`kGroupDepth`).
template <class S, int MR, int NP, class Sink>
void shifted_product(Index m, Index depth, const StridedRows<S>& a, const S* b,
                     const Index* offsets, Index q_begin, Index q_end, Index chunk, Sink&& sink) {
  constexpr int P = PacketOf<S>::size;
  constexpr int NR = NP * P;
  const Index blocks = (m + MR - 1) / MR;
  // Equal chunks near the requested size (a remainder of a few rows would cost a whole pass).
  if (chunk <= 0 || chunk > depth) chunk = depth;
  const Index passes = std::max<Index>(1, (depth + chunk / 2) / chunk);
  chunk = (depth + passes - 1) / passes;
  std::vector<S> partial(chunk < depth ? static_cast<std::size_t>(blocks * MR * NR) : 0);
  [[maybe_unused]] EIGEN_ALIGN_MAX S tile[MR * NR];
  S* const first_part = partial.empty() ? nullptr : partial.data();
  // One block of `mr` rows from m0 (of which `rows` are real) and `cols` columns from q0, over the
  // reduction rows [k0, k1): started from the partial sums unless k0 is 0, stored to C when the
  // reduction is complete, else back to the partial sums.
  auto block = [&](auto mr, auto np, Index m0, Index rows, Index q0, Index cols, Index k0,
                   Index k1) {
    constexpr int kRows = decltype(mr)::value;
    constexpr int kPackets = decltype(np)::value;
    // Only used when the depth is split (partial is non-empty); offsetting the null data() of
    // an empty vector would be undefined behaviour.
    S* part = first_part == nullptr ? nullptr : first_part + m0 * NR;
    const S* init = k0 == 0 ? nullptr : part;
    if constexpr (std::is_same_v<std::decay_t<Sink>, DenseStore<S>>) {
      S* out = k1 == depth ? sink.c + m0 * sink.ld + q0 : part;
      product_block<S, kRows, kPackets>(a, m, m0, k0, k1, b + q0, offsets, init, NR, out,
                                        k1 == depth ? sink.ld : Index(NR));
    } else {
      // A block whose samples the sink says are one contiguous run per row: stored from the
      // registers, not through the tile. (Two `if constexpr`: the outer one does not depend on
      // the block's shape, so a sink without `direct` never sees the call compiled.)
      if constexpr (HasDirectStore<std::decay_t<Sink>>::value) {
        if constexpr (kPackets == NP) {
          if (k1 == depth && cols == NR) {
            if (const DirectStore<S> to = sink.direct(m0, q0, cols); to.out != nullptr) {
              product_block<S, kRows, kPackets>(a, m, m0, k0, k1, b + q0, offsets, init, NR, to.out,
                                                to.ld, to.bias);
              return;
            }
          }
        }
      }
      product_block<S, kRows, kPackets>(a, m, m0, k0, k1, b + q0, offsets, init, NR,
                                        k1 == depth ? tile : part, NR);
      if (k1 == depth) sink(m0, rows, q0, cols, static_cast<const S*>(tile), Index(NR));
    }
  };
  constexpr std::integral_constant<int, MR> full_rows;
  constexpr std::integral_constant<int, NP> full_packets;
  // Row blocks of A in groups small enough to stay in the L1 cache beside B's tile: each B tile
  // (read in place, so scattered and costly to fetch) then serves the whole group from L1; with
  // a short reduction, groups of fewer blocks, whose stores stream through few rows of C.
  const Index group_blocks = std::clamp<Index>(kAGroupBytes / Index(chunk * MR * sizeof(S)), 1,
                                               std::max<Index>(1, depth / kGroupDepth));
  // One pass: panels of columns whose rows of B stay in the L2 cache across the groups.
  const Index panel =
      passes > 1 ? q_end - q_begin : panel_columns(kBPanelBytes, depth, Index(sizeof(S)), NR);
  for (Index p0 = q_begin; p0 < q_end; p0 += panel) {
    const Index p1 = std::min(q_end, p0 + panel);
    for (Index g0 = 0; g0 < m; g0 += group_blocks * MR) {
      const Index g1 = std::min(m, g0 + group_blocks * MR);
      for (Index q0 = p0; q0 < p1; q0 += NR) {
        const Index cols = std::min<Index>(NR, p1 - q0);
        const int packets = int((cols + P - 1) / P);
        for (Index k0 = 0; k0 < depth; k0 += chunk) {
          const Index k1 = std::min(depth, k0 + chunk);
          for (Index m0 = g0; m0 < g1; m0 += MR) {
            // A last block of fewer rows or columns runs a kernel of only those; one short of both
            // keeps the full rows (one narrow kernel per dimension keeps the instantiations few).
            const Index rows = std::min<Index>(MR, m - m0);
            if (packets < NP) {
              with_constant<NP>(packets,
                                [&](auto np) { block(full_rows, np, m0, rows, q0, cols, k0, k1); });
            } else {
              with_constant<MR>(
                  int(rows), [&](auto mr) { block(mr, full_packets, m0, rows, q0, cols, k0, k1); });
            }
          }
        }
      }
    }
  }
}

}  // namespace convtape::detail

#include "convtape/detail/reenable_warnings.hpp"
