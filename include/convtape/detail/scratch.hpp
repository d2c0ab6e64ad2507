// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

// Per-thread scratch memory kept between calls (`Scratch`), for the kernels' workspaces: a buffer
// allocated per call costs page faults (and, in a virtual machine, TLB flushes) whenever malloc
// returns the memory to the system in between, which it does for buffers of a few hundred KiB;
// on small problems that costs more than the arithmetic. Not for direct inclusion.

#include <vector>

#include "convtape/core.hpp"

namespace convtape::detail {

/// Scratch buffers up to this size are kept by their thread between calls; larger ones are
/// allocated per call. A thread keeps at most one buffer of this size per slot and scalar type.
constexpr Index kScratchKeepBytes = Index(2) << 20;

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
};

/// Memory for `size` samples of type S for one call on this thread (its content is whatever the
/// last user left: callers that need zeros write them).
template <class S, ScratchSlot Slot>
class Scratch {
 public:
  explicit Scratch(Index size) {
    thread_local std::vector<S> kept;
    std::vector<S>& buffer = Index(sizeof(S)) * size <= kScratchKeepBytes ? kept : own_;
    if (Index(buffer.size()) < size) buffer.resize(static_cast<std::size_t>(size));
    data_ = buffer.data();
  }
  S* data() const { return data_; }

 private:
  std::vector<S> own_;
  S* data_ = nullptr;
};

}  // namespace convtape::detail
