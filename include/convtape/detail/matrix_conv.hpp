// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// The `matrix` path: a 1x1 kernel on 1x1 input planes without padding. Each image's C planes of
// one sample are a row of C features, so the batch is an N x C_in row-major matrix X and the
// output an N x C_out matrix Y; a group's layer is `linear` on its columns:
//
//     Y_g = X_g W_g^T (+ b_g),   dX_g = dY_g W_g,   dW_g = dY_g^T X_g,
//
// where X_g, Y_g are the group's columns and W_g its out_per_group x in_per_group rows of the
// OIHW weights. Each product runs on the GEMM kernel of the other paths (`shifted_product`), the
// left operand read in place (any row and column strides), the right one a copy padded to whole
// packets (W_g^T, W_g, or X_g), the result through a padded buffer into its columns; its rows (or,
// for one image, its columns) are cut for as many threads as the cost model says the call is
// worth. A forward pass of a few images runs as matrix-vector products instead, image by image
// (`matrix_by_images` in conv2d_dispatch.hpp decides). Not for direct inclusion.

#include <algorithm>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/detail/conv2d_shape.hpp"
#include "convtape/detail/gemm.hpp"
#include "convtape/detail/parallel.hpp"
#include "convtape/detail/scratch.hpp"

namespace convtape::detail {

/// C (m x n, row-major, pitch ldc) = A (m x depth, read in place) * B (depth x n, row-major,
/// pitch ldb), for ldb and ldc multiples of the packet size: B's rows are read, and C's written,
/// in whole packets up to them, and C has `result_rows(m)` rows (a last block of rows may be
/// written whole). Blocks of A's rows go to the threads, or blocks of B's columns when A has too
/// few rows for them (one image).
template <class S>
void dense_product(Index m, Index n, Index depth, const StridedRows<S>& a, const S* b, Index ldb,
                   S* c, Index ldc, int threads) {
  constexpr int MR = GemmBlock<S>::mr;
  constexpr int NP = GemmBlock<S>::np;
  constexpr Index NR = GemmBlock<S>::nr;
  std::vector<Index> offsets(static_cast<std::size_t>(depth));
  for (Index k = 0; k < depth; ++k) offsets[k] = k * ldb;
  const Index row_blocks = (m + MR - 1) / MR;
  const Index col_blocks = (n + NR - 1) / NR;
  const bool by_rows = row_blocks >= threads || row_blocks >= col_blocks;
  const Index items = by_rows ? row_blocks : col_blocks;
  parallel_blocks(items, threads, [&](Index begin, Index end, int) {
    const Index m0 = by_rows ? begin * MR : 0;
    const Index m1 = by_rows ? std::min(m, end * MR) : m;
    const Index q0 = by_rows ? 0 : begin * NR;
    const Index q1 = by_rows ? n : std::min(n, end * NR);
    if (m1 <= m0 || q1 <= q0) return;
    const StridedRows<S> rows{a.data + m0 * a.row, a.row, a.col};
    shifted_product<S, MR, NP>(m1 - m0, depth, rows, b, offsets.data(), q0, q1, kDepthChunk,
                               DenseStore<S>{c + m0 * ldc, ldc});
  });
}

/// The rows a `dense_product` result of m rows needs: m rounded up to whole register blocks.
template <class S>
Index result_rows(Index m) {
  constexpr Index MR = GemmBlock<S>::mr;
  return (m + MR - 1) / MR * MR;
}

/// y (N x C_out) = x (N x C_in) W^T per group, plus bias[o] if bias is not null: with
/// `by_images`, image by image as W_g x_g (a matrix-vector product of Eigen's, its dot products
/// along W's rows), else as one product of all images with W_g^T, transposed into a padded copy
/// (for a few images the copy costs more than their products).
template <class S>
void matrix_conv(const S* x, const S* weight, const S* bias, const Conv2dShape& s, S* y,
                 bool by_images, int threads) {
  const Index ipg = s.in_per_group;
  const Index opg = s.out_per_group;
  if (by_images) {
    using Vector = Eigen::Map<VectorX<S>>;
    using ConstVector = Eigen::Map<const VectorX<S>>;
    for (Index n = 0; n < s.batch; ++n) {
      for (Index grp = 0; grp < s.groups; ++grp) {
        Vector out(y + n * s.out_channels + grp * opg, opg);
        out.noalias() = Eigen::Map<const RowMatrixX<S>>(weight + grp * opg * ipg, opg, ipg) *
                        ConstVector(x + n * s.in_channels + grp * ipg, ipg);
        if (bias != nullptr) out += ConstVector(bias + grp * opg, opg);
      }
    }
    return;
  }
  const Index lanes = packet_pitch<S>(opg);
  const Scratch<S, ScratchSlot::matrix_operand> wt(ipg * lanes);
  const Scratch<S, ScratchSlot::matrix_result> out(result_rows<S>(s.batch) * lanes);
  for (Index grp = 0; grp < s.groups; ++grp) {
    transpose_padded(weight + grp * opg * ipg, opg, ipg, wt.data(), lanes);  // W_g^T
    dense_product<S>(s.batch, opg, ipg, {x + grp * ipg, s.in_channels, 1}, wt.data(), lanes,
                     out.data(), lanes, threads);
    for (Index n = 0; n < s.batch; ++n) {
      S* dst = y + n * s.out_channels + grp * opg;
      const S* src = out.data() + n * lanes;
      for (Index o = 0; o < opg; ++o)
        dst[o] = src[o] + (bias != nullptr ? bias[grp * opg + o] : S(0));
    }
  }
}

/// grad_input (N x C_in) = grad_output (N x C_out) W per group.
template <class S>
void matrix_grad_input(const S* grad_output, const S* weight, const Conv2dShape& s, S* grad_input,
                       int threads) {
  const Index ipg = s.in_per_group;
  const Index opg = s.out_per_group;
  const Index lanes = packet_pitch<S>(ipg);
  const Scratch<S, ScratchSlot::matrix_operand> wp(opg * lanes);
  const Scratch<S, ScratchSlot::matrix_result> out(result_rows<S>(s.batch) * lanes);
  for (Index grp = 0; grp < s.groups; ++grp) {
    copy_padded(weight + grp * opg * ipg, opg, ipg, ipg, wp.data(), lanes);  // W_g
    dense_product<S>(s.batch, ipg, opg, {grad_output + grp * opg, s.out_channels, 1}, wp.data(),
                     lanes, out.data(), lanes, threads);
    for (Index n = 0; n < s.batch; ++n) {
      std::copy(out.data() + n * lanes, out.data() + n * lanes + ipg,
                grad_input + n * s.in_channels + grp * ipg);
    }
  }
}

/// grad_weight (OIHW, out_per_group x in_per_group per group) = grad_output^T x per group;
/// overwritten (zero for an empty batch).
template <class S>
void matrix_grad_weight(const S* x, const S* grad_output, const Conv2dShape& s, S* grad_weight,
                        int threads) {
  const Index ipg = s.in_per_group;
  const Index opg = s.out_per_group;
  const Index lanes = packet_pitch<S>(ipg);
  const Scratch<S, ScratchSlot::matrix_operand> xp(s.batch * lanes);
  const Scratch<S, ScratchSlot::matrix_result> out(result_rows<S>(opg) * lanes);
  for (Index grp = 0; grp < s.groups; ++grp) {
    S* dw = grad_weight + grp * opg * ipg;
    if (s.batch == 0) {
      std::fill(dw, dw + opg * ipg, S(0));
      continue;
    }
    copy_padded(x + grp * ipg, s.batch, ipg, s.in_channels, xp.data(), lanes);  // X_g
    // dY_g^T: row o of A is output channel o across the images.
    dense_product<S>(opg, ipg, s.batch, {grad_output + grp * opg, 1, s.out_channels}, xp.data(),
                     lanes, out.data(), lanes, threads);
    for (Index o = 0; o < opg; ++o) {
      std::copy(out.data() + o * lanes, out.data() + o * lanes + ipg, dw + o * ipg);
    }
  }
}

}  // namespace convtape::detail
