// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// Labeled images in memory (`LabeledImages`, what `read_idx` returns) and seeded minibatches
/// over them (`Minibatches`), as PyTorch's `DataLoader(data, batch_size, shuffle=...)` with its
/// default `drop_last=False`: every example once per epoch, the last batch smaller when the
/// batch size does not divide the data set.
///
///     for (int epoch = 0; epoch < epochs; ++epoch) {
///       const convtape::Minibatches batches(train.size(), 256, seed, epoch);
///       for (convtape::Index b = 0; b < batches.count(); ++b) {
///         const convtape::LabeledImages<float> batch = train.subset(batches.indices(b));
///         // batch.images (k, 1, 28, 28), batch.labels (k values)
///       }
///     }
///
/// The shuffled order is the same on every platform and standard library: `std::mt19937_64`
/// (whose outputs the C++ standard fixes) seeded through `std::seed_seq` (likewise) with the
/// seed and the epoch, and a Fisher–Yates shuffle with an unbiased bounded draw written out here
/// (`std::shuffle` and `std::uniform_int_distribution` are implementation-defined). An epoch's
/// order depends only on (seed, epoch), so a run resumed at epoch k sees the batches an
/// uninterrupted run would.

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "convtape/core.hpp"
#include "convtape/detail/random.hpp"
#include "convtape/tensor.hpp"

namespace convtape {

/// A labeled image data set in memory: `images` (N, C, H, W) and `labels`, N class indices,
/// example i being `images` batch entry i with `labels[i]`. Both are plain public members.
template <class S>
struct LabeledImages {
  Tensor<S> images;           ///< (N, C, H, W)
  std::vector<Index> labels;  ///< N class indices, `labels[i]` for image i

  /// N, the number of examples (`images.dim(0)`).
  Index size() const { return images.dim(0); }

  /// The examples at `indices`, in that order, copied: images (k, C, H, W) and k labels, for
  /// k = `indices.size()` (an index may repeat).
  /// @throws shape_error if an index is outside [0, N), or `labels` does not hold N values.
  LabeledImages subset(const std::vector<Index>& indices) const {
    constexpr const char* fn = "LabeledImages::subset";
    const Index n = size();
    if (static_cast<Index>(labels.size()) != n) {
      detail::fail(fn, "images " + detail::shape_str(images.shape()) + " hold " +
                           std::to_string(n) + " examples but there are " +
                           std::to_string(labels.size()) + " labels");
    }
    const auto k = static_cast<Index>(indices.size());
    for (Index i = 0; i < k; ++i) {
      if (indices[i] < 0 || indices[i] >= n) {
        detail::fail(fn, "indices[" + std::to_string(i) + "] = " + std::to_string(indices[i]) +
                             " is outside [0, " + std::to_string(n) + ") for images " +
                             detail::shape_str(images.shape()));
      }
    }
    const Index example_size = images.dim(1) * images.dim(2) * images.dim(3);
    LabeledImages out{detail::uninitialized_tensor<S>(  // every element is copied below
                          Shape4{k, images.dim(1), images.dim(2), images.dim(3)}),
                      std::vector<Index>(indices.size())};
    for (Index i = 0; i < k; ++i) {
      std::copy_n(images.data() + indices[i] * example_size, example_size,
                  out.images.data() + i * example_size);
      out.labels[i] = labels[indices[i]];
    }
    return out;
  }
};

/// The order in which one epoch visits examples 0..n-1: a uniformly random permutation drawn by
/// Fisher–Yates from `std::mt19937_64` seeded with `std::seed_seq` of (seed, epoch) as four
/// 32-bit words, low halves first. The same on every platform; see `io/dataset.hpp`.
/// @throws shape_error if `n` is negative.
inline std::vector<Index> shuffled_indices(Index n, std::uint64_t seed, std::uint64_t epoch = 0) {
  if (n < 0) detail::fail("shuffled_indices", "n must be non-negative, got " + std::to_string(n));
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index(0));
  const auto low = [](std::uint64_t x) { return static_cast<std::uint32_t>(x & 0xffffffffu); };
  std::seed_seq seq{low(seed), low(seed >> 32), low(epoch), low(epoch >> 32)};
  std::mt19937_64 rng(seq);
  for (Index i = n - 1; i > 0; --i) {
    const auto j =
        static_cast<Index>(detail::uniform_below(rng, static_cast<std::uint64_t>(i) + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
}

/// One epoch of minibatches over a data set of `size()` examples: `count()` batches of
/// `batch_size()` example indices, the last one smaller when `batch_size()` does not divide
/// `size()` (kept, as PyTorch's default `drop_last=False`). Batch b holds positions
/// [b * batch_size, min((b + 1) * batch_size, size)) of `order()`.
class Minibatches {
 public:
  /// In order 0, 1, ..., size - 1 (PyTorch's `shuffle=False`; for evaluation).
  /// @throws shape_error if `size` is negative or `batch_size` is not positive.
  Minibatches(Index size, Index batch_size)
      : batch_size_(batch_size), order_(static_cast<std::size_t>(checked_size(size, batch_size))) {
    std::iota(order_.begin(), order_.end(), Index(0));
  }

  /// Shuffled: the order is `shuffled_indices(size, seed, epoch)`, a new one each epoch and the
  /// same for the same (seed, epoch) on every platform (PyTorch's `shuffle=True`).
  /// @throws shape_error if `size` is negative or `batch_size` is not positive.
  Minibatches(Index size, Index batch_size, std::uint64_t seed, std::uint64_t epoch)
      : batch_size_(batch_size),
        order_(shuffled_indices(checked_size(size, batch_size), seed, epoch)) {}

  /// The number of examples, N.
  Index size() const { return static_cast<Index>(order_.size()); }
  /// The number of examples per batch (the last batch may hold fewer).
  Index batch_size() const { return batch_size_; }
  /// The number of batches, ceil(N / batch_size) (0 for an empty data set).
  Index count() const { return size() / batch_size_ + (size() % batch_size_ != 0 ? 1 : 0); }
  /// All N example indices in this epoch's order.
  const std::vector<Index>& order() const { return order_; }

  /// The example indices of batch `b`, in order: `batch_size()` of them, fewer for the last.
  /// @throws shape_error if `b` is outside [0, count()).
  std::vector<Index> indices(Index b) const {
    if (b < 0 || b >= count()) {
      detail::fail("Minibatches::indices", "batch " + std::to_string(b) + " is outside [0, " +
                                               std::to_string(count()) + ")");
    }
    const auto begin = order_.begin() + static_cast<std::ptrdiff_t>(b * batch_size_);
    const Index last = std::min(size() - b * batch_size_, batch_size_) + b * batch_size_;
    const auto end = order_.begin() + static_cast<std::ptrdiff_t>(last);
    return std::vector<Index>(begin, end);
  }

 private:
  static Index checked_size(Index size, Index batch_size) {
    if (size < 0 || batch_size < 1) {
      detail::fail("Minibatches", "needs size >= 0 and batch_size >= 1, got size " +
                                      std::to_string(size) + " and batch_size " +
                                      std::to_string(batch_size));
    }
    return size;
  }

  Index batch_size_;
  std::vector<Index> order_;
};

}  // namespace convtape
