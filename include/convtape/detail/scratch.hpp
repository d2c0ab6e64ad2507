// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Per-thread scratch memory kept between calls (`Scratch`), for the kernels' workspaces and a
// call's whole-layer temporaries: a buffer allocated per call costs page faults (and, in a virtual
// machine, TLB flushes) whenever malloc returns the memory to the system in between, which glibc
// does for a block above its mmap threshold (at first 128 KiB) and for the top of its heap once
// more than twice that lies free; a fault costs microseconds, about as much as moving the page's
// 4 KiB a hundred times. oneDNN keeps its scratchpads between calls by default for the same
// reason. Not for direct inclusion.

#include <memory>
#include <vector>

#include "convtape/core.hpp"

namespace convtape::detail {

/// A worker's scratch buffers up to this size are kept by their thread between calls; larger
/// ones are allocated per call. A thread keeps at most one buffer per slot and scalar type.
constexpr Index kScratchKeepBytes = Index(2) << 20;

/// The same for a call's whole-layer temporaries (the `ScratchSlot`s from `flipped_weights` on),
/// which the calling thread makes once per call and which are as large as the layer's weights or
/// its input gradient: kept up to this size, so a training loop's steps fault none of them in
/// again. At most one per slot and scalar type per calling thread (freed when the thread ends);
/// larger ones, whose arithmetic outweighs the faults, are allocated per call.
constexpr Index kCallScratchKeepBytes = Index(64) << 20;

/// Which of a thread's kept scratch buffers a caller uses: those in use at the same time differ.
enum class ScratchSlot {
  padded_rows,        ///< corr2d: padded input rows
  separable_rows,     ///< corr2d: the rows pass of a separable kernel
  band,               ///< conv2d: a band copy of the input (`shifted_conv`)
  panel,              ///< conv2d: gathered im2col columns
  sums,               ///< conv2d: outputs of a chunked product, partial gradient sums
  winograd_input,     ///< conv2d: transformed input tiles
  winograd_products,  ///< conv2d: the 16 products of the transformed tiles
  grad_output_rows,   ///< conv2d backward: a copy or transpose of output-gradient rows
  grad_input_rows,    ///< conv2d backward: a band of the padded input gradient
  // A call's whole-layer temporaries, made by the calling thread outside its parallel loops:
  flipped_weights,       ///< conv2d backward: the weights flipped for the input gradient
  winograd_weights,      ///< conv2d: the transformed kernels of a Winograd call
  padded_grad_input,     ///< conv2d backward: the padded input gradient of the whole batch
  grad_weight_partials,  ///< conv2d backward: the weight gradient's partial sums per range
  matrix_operand,        ///< conv2d `matrix` path: a product's right operand, padded
  matrix_result,         ///< conv2d `matrix` path: a product's result, padded
  pixel_weights,         ///< conv2d `pixel_gemm` path: the weights transposed
};

/// The largest buffer of `Slot` a thread keeps between calls.
constexpr Index scratch_keep_bytes(ScratchSlot slot) {
  return slot >= ScratchSlot::flipped_weights ? kCallScratchKeepBytes : kScratchKeepBytes;
}

/// Memory for `size` samples of type S for one call on this thread (its content is whatever the
/// last user left, or indeterminate: callers that need zeros write them).
template <class S, ScratchSlot Slot>
class Scratch {
 public:
  explicit Scratch(Index size) {
    if (Index(sizeof(S)) * size > scratch_keep_bytes(Slot)) {
      own_.reset(new S[static_cast<std::size_t>(size)]);
      data_ = own_.get();
      return;
    }
    thread_local std::vector<S> kept;
    if (Index(kept.size()) < size) kept.resize(static_cast<std::size_t>(size));
    data_ = kept.data();
  }
  S* data() const { return data_; }

 private:
  std::unique_ptr<S[]> own_;
  S* data_ = nullptr;
};

}  // namespace convtape::detail
