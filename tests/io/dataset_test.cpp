// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/io/dataset.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <vector>

#include "support/catch.hpp"
#include "support/errors.hpp"

namespace {

using convtape::Index;
using convtape::LabeledImages;
using convtape::Minibatches;
using convtape::Shape4;
using convtape::shape_error;
using convtape::shuffled_indices;
using convtape::Tensor;
using support::shape_error_message;

bool is_permutation_of_iota(const std::vector<Index>& order) {
  std::vector<Index> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i] != static_cast<Index>(i)) return false;
  }
  return true;
}

TEST_CASE("shuffled_indices matches an independent implementation of the documented recipe",
          "[io][dataset]") {
  // From tests/io/shuffle_oracle.py: std::seed_seq, std::mt19937_64 and Fisher-Yates with the
  // rejection draw, written in Python from the C++ standard's text.
  CHECK(shuffled_indices(10, 42, 0) == std::vector<Index>{0, 6, 5, 1, 3, 9, 7, 8, 4, 2});
  CHECK(shuffled_indices(10, 42, 1) == std::vector<Index>{3, 8, 9, 4, 7, 2, 1, 0, 5, 6});
  CHECK(shuffled_indices(10, 0x123456789abcdef0, 7) ==
        std::vector<Index>{6, 3, 7, 2, 1, 9, 5, 4, 8, 0});
  CHECK(shuffled_indices(1, 5) == std::vector<Index>{0});
  CHECK(shuffled_indices(0, 5).empty());
  // The oracle's seed_seq and engine agree with the standard library's.
  std::seed_seq seq{1u, 2u, 3u, 4u};
  std::mt19937_64 rng(seq);
  CHECK(rng() == 9587114359441678441u);
  CHECK(rng() == 4525004064817100860u);
  CHECK(rng() == 3550851110859804093u);
}

TEST_CASE("shuffled_indices is a permutation that changes with the seed and the epoch",
          "[io][dataset]") {
  const std::vector<Index> a = shuffled_indices(1000, 7, 0);
  CHECK(is_permutation_of_iota(a));
  CHECK(a == shuffled_indices(1000, 7, 0));
  CHECK(a != shuffled_indices(1000, 7, 1));
  CHECK(a != shuffled_indices(1000, 8, 0));
  CHECK(a != shuffled_indices(1000, 7ull << 32, 0));  // the seed's high half counts
  CHECK(shuffled_indices(1000, 7, 0) != shuffled_indices(1000, 7, 1ull << 32));
  CHECK_THROWS_AS(shuffled_indices(-1, 0), shape_error);
}

TEST_CASE("shuffled_indices draws every permutation equally often", "[io][dataset]") {
  // 24,000 epochs of 4 elements: each of the 24 orders expected 1000 times. A biased draw
  // (e.g. rng() % (i + 1) over a small engine, or j in [0, n) instead of [0, i]) fails the
  // chi-square bound: with 23 degrees of freedom, 60 is far beyond the 99.99th percentile (52).
  std::map<std::vector<Index>, int> counts;
  for (std::uint64_t epoch = 0; epoch < 24000; ++epoch) ++counts[shuffled_indices(4, 3, epoch)];
  REQUIRE(counts.size() == 24);
  double chi2 = 0;
  for (const auto& [order, count] : counts) chi2 += (count - 1000.0) * (count - 1000.0) / 1000.0;
  CHECK(chi2 < 60);
}

TEST_CASE("Minibatches cover each example once per epoch, the last batch partial",
          "[io][dataset]") {
  SECTION("shuffled, 10 examples in batches of 4: 4, 4, 2") {
    const Minibatches batches(10, 4, 42, 0);
    CHECK(batches.size() == 10);
    CHECK(batches.batch_size() == 4);
    REQUIRE(batches.count() == 3);
    CHECK(batches.order() == shuffled_indices(10, 42, 0));
    CHECK(batches.indices(0) == std::vector<Index>{0, 6, 5, 1});
    CHECK(batches.indices(1) == std::vector<Index>{3, 9, 7, 8});
    CHECK(batches.indices(2) == std::vector<Index>{4, 2});
  }
  SECTION("in order, for evaluation") {
    const Minibatches batches(5, 2);
    REQUIRE(batches.count() == 3);
    CHECK(batches.indices(0) == std::vector<Index>{0, 1});
    CHECK(batches.indices(1) == std::vector<Index>{2, 3});
    CHECK(batches.indices(2) == std::vector<Index>{4});
  }
  SECTION("a batch size that divides the data, or exceeds it") {
    CHECK(Minibatches(8, 4).count() == 2);
    CHECK(Minibatches(8, 4).indices(1) == std::vector<Index>{4, 5, 6, 7});
    CHECK(Minibatches(3, 256, 1, 0).count() == 1);
    CHECK(Minibatches(3, 256, 1, 0).indices(0).size() == 3);
    const Index huge = std::numeric_limits<Index>::max();  // no overflow in ceil(size / batch)
    CHECK(Minibatches(3, huge, 1, 0).count() == 1);
    CHECK(Minibatches(3, huge, 1, 0).indices(0).size() == 3);
  }
  SECTION("no examples: no batches") { CHECK(Minibatches(0, 4, 1, 0).count() == 0); }
}

TEST_CASE("Minibatches reject a bad size, batch size or batch number", "[io][dataset][errors]") {
  CHECK_THAT(shape_error_message([] { Minibatches(10, 0); }),
             Contains("Minibatches") && Contains("batch_size 0"));
  CHECK_THAT(shape_error_message([] { Minibatches(-1, 4, 1, 0); }), Contains("size -1"));
  const Minibatches batches(10, 4);
  CHECK_THAT(shape_error_message([&] { batches.indices(3); }),
             Contains("Minibatches::indices") && Contains("batch 3") && Contains("[0, 3)"));
  CHECK_THROWS_AS(batches.indices(-1), shape_error);
}

/// Three examples of shape (2, 1, 2): example i holds 10 * i + k in its element k.
LabeledImages<float> three_examples() {
  LabeledImages<float> data{Tensor<float>(3, 2, 1, 2), {5, 6, 7}};
  for (Index i = 0; i < 3; ++i) {
    for (Index k = 0; k < 4; ++k) data.images.data()[i * 4 + k] = float(10 * i + k);
  }
  return data;
}

TEST_CASE("LabeledImages::subset copies the chosen examples in the given order", "[io][dataset]") {
  const LabeledImages<float> data = three_examples();
  CHECK(data.size() == 3);
  const LabeledImages<float> batch = data.subset({2, 0, 2});
  REQUIRE(batch.images.shape() == Shape4{3, 2, 1, 2});
  const std::vector<float> want = {20, 21, 22, 23, 0, 1, 2, 3, 20, 21, 22, 23};
  CHECK(std::vector<float>(batch.images.data(), batch.images.data() + 12) == want);
  CHECK(batch.labels == std::vector<Index>{7, 5, 7});
  CHECK(data.subset({}).images.shape() == Shape4{0, 2, 1, 2});
  CHECK(data.subset({}).labels.empty());
}

TEST_CASE("LabeledImages::subset rejects indices out of range and mismatched labels",
          "[io][dataset][errors]") {
  LabeledImages<float> data = three_examples();
  CHECK_THAT(shape_error_message([&] {
               data.subset({0, 3});
             }),
             Contains("LabeledImages::subset") && Contains("indices[1] = 3") &&
                 Contains("[0, 3)") && Contains("(3, 2, 1, 2)"));
  CHECK_THROWS_AS(data.subset({-1}), shape_error);
  data.labels.pop_back();
  CHECK_THAT(shape_error_message([&] { data.subset({0}); }),
             Contains("3 examples but there are 2 labels"));
}

}  // namespace
