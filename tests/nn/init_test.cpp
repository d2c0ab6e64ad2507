// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/nn/init.hpp"

#include <cmath>
#include <random>

#include "support/catch.hpp"

namespace {

using convtape::Tensor;
namespace init = convtape::init;

TEST_CASE("uniform maps the top 53 bits of each engine output into low to high, high excluded",
          "[nn][init]") {
  Tensor<double> t(1, 1, 2, 3);
  std::mt19937_64 rng(2024);
  init::uniform(t, -0.5, 1.5, rng);
  std::mt19937_64 check(2024);
  for (convtape::Index i = 0; i < t.size(); ++i) {
    const double u = static_cast<double>(check() >> 11) / 9007199254740992.0;  // 2^53
    CHECK(t.data()[i] == -0.5 + 2.0 * u);
  }
}

TEST_CASE("the standard engine's bits make initialization the same everywhere", "[nn][init]") {
  // The C++ standard fixes mt19937_64's 10000th output from the default seed.
  std::mt19937_64 rng;
  rng.discard(9999);
  CHECK(rng() == 9981545732273789042ULL);
}

TEST_CASE("initializers fill tensors with the documented distributions", "[nn][init]") {
  std::mt19937_64 rng(1);
  Tensor<double> t(4, 5, 20, 25);  // 10000 draws
  SECTION("uniform") {
    init::uniform(t, -0.07, 0.07, rng);
    CHECK(t.flat().maxCoeff() < 0.07);
    CHECK(t.flat().minCoeff() >= -0.07);
    CHECK_THAT(t.flat().mean(), WithinAbs(0.0, 0.003));  // sd of the mean: 0.0004
  }
  SECTION("normal") {
    init::normal(t, 2.0, 0.5, rng);
    const double mean = t.flat().mean();
    const double var = (t.flat().array() - mean).square().mean();
    CHECK_THAT(mean, WithinAbs(2.0, 0.02));            // sd of the mean: 0.005
    CHECK_THAT(std::sqrt(var), WithinAbs(0.5, 0.02));  // sd of the sd: 0.0035
    const double beyond_2sd = ((t.flat().array() - 2.0).abs() > 1.0).cast<double>().mean();
    CHECK_THAT(beyond_2sd, WithinAbs(0.0455, 0.01));
  }
  SECTION("zeros and constant") {
    init::constant(t, 0.25);
    CHECK((t.flat().array() == 0.25).all());
    init::zeros(t);
    CHECK(t.flat().isZero(0.0));
  }
}

TEST_CASE("kaiming and framework defaults use the documented bounds", "[nn][init]") {
  Tensor<double> w(16, 4, 3, 3);  // fan_in 36
  Tensor<double> b(1, 16, 1, 1);
  CHECK(init::fan_in(w) == 36);
  SECTION("kaiming_uniform with a = 0: bound sqrt(6 / fan_in)") {
    std::mt19937_64 rng(3);
    init::kaiming_uniform(w, 0.0, rng);
    CHECK(w.flat().cwiseAbs().maxCoeff() <= std::sqrt(6.0 / 36));
    CHECK(w.flat().cwiseAbs().maxCoeff() > 0.95 * std::sqrt(6.0 / 36));
  }
  SECTION("PyTorch's default: weight and bias within 1 / sqrt(fan_in)") {
    std::mt19937_64 rng(3);
    init::pytorch_default(w, b, rng);
    CHECK(w.flat().cwiseAbs().maxCoeff() <= 1.0 / 6);
    CHECK(w.flat().cwiseAbs().maxCoeff() > 0.95 / 6);
    CHECK(b.flat().cwiseAbs().maxCoeff() <= 1.0 / 6);
    CHECK_FALSE(b.flat().isZero(0.0));
  }
  SECTION("MXNet's default: weight uniform(+-0.07), bias zero") {
    std::mt19937_64 rng(3);
    b.setConstant(1.0);
    init::mxnet_default(w, b, rng);
    CHECK(w.flat().cwiseAbs().maxCoeff() < 0.07);
    CHECK(w.flat().cwiseAbs().maxCoeff() > 0.95 * 0.07);
    CHECK(b.flat().isZero(0.0));
  }
}

TEST_CASE("initializers reject impossible arguments", "[nn][init][errors]") {
  std::mt19937_64 rng(1);
  Tensor<double> t(1, 1, 2, 2);
  CHECK_THROWS_AS(init::uniform(t, 1.0, -1.0, rng), convtape::shape_error);
  CHECK_THROWS_AS(init::normal(t, 0.0, -1.0, rng), convtape::shape_error);
  Tensor<double> no_inputs(4, 0, 3, 3);
  CHECK_THROWS_WITH(init::kaiming_uniform(no_inputs, 0.0, rng), Contains("no inputs"));
}

TEST_CASE("xavier and kaiming normal draw PyTorch's distributions, seeded", "[nn][init]") {
  Tensor<double> w(64, 32, 3, 3);  // fan_in 288, fan_out 576
  CHECK(init::fan_out(w) == 576);
  CHECK(init::fan_out(Tensor<double>(10, 7, 1, 1)) == 10);  // a Linear weight: out
  const auto stddev = [](const Tensor<double>& t) {
    const double mean = t.flat().mean();
    return std::sqrt((t.flat().array() - mean).square().mean());
  };
  SECTION("xavier_uniform: bound gain * sqrt(6 / (fan_in + fan_out)), the seed's numbers") {
    init::xavier_uniform(w, 5);
    const double bound = std::sqrt(6.0 / (288 + 576));
    CHECK(w.flat().cwiseAbs().maxCoeff() <= bound);
    CHECK(w.flat().cwiseAbs().maxCoeff() > 0.99 * bound);
    Tensor<double> same(64, 32, 3, 3);
    std::mt19937_64 rng(5);
    init::uniform(same, -bound, bound, rng);
    CHECK(w.flat() == same.flat());
    init::xavier_uniform(w, 5, 2.0);
    CHECK(w.flat() == (2.0 * same.flat()).eval());
  }
  SECTION("xavier_normal: std gain * sqrt(2 / (fan_in + fan_out))") {
    std::mt19937_64 rng(6);
    init::xavier_normal(w, 1.0, rng);
    CHECK_THAT(stddev(w), WithinRel(std::sqrt(2.0 / 864), 0.02));  // 18432 samples
    Tensor<double> seeded(64, 32, 3, 3);
    init::xavier_normal(seeded, 6);
    CHECK(seeded.flat() == w.flat());
  }
  SECTION("kaiming_normal: std gain / sqrt(fan_in), gain sqrt(2 / (1 + a^2))") {
    init::kaiming_normal(w, 7);
    CHECK_THAT(stddev(w), WithinRel(std::sqrt(2.0 / 288), 0.02));
    std::mt19937_64 rng(7);
    Tensor<double> leaky(64, 32, 3, 3);
    init::kaiming_normal(leaky, 1.0, rng);  // a = 1: gain 1
    CHECK_THAT(stddev(leaky), WithinRel(std::sqrt(1.0 / 288), 0.02));
    // The same draws at another scale.
    CHECK((leaky.flat() - w.flat() / std::sqrt(2.0)).cwiseAbs().maxCoeff() < 1e-15);
  }
  SECTION("no inputs or outputs") {
    Tensor<double> none(0, 3, 1, 1);
    CHECK_THROWS_WITH(init::xavier_uniform(none, 1),
                      Contains("init::fan_out") && Contains("no outputs"));
    Tensor<double> no_inputs(3, 0, 1, 1);
    CHECK_THROWS_WITH(init::kaiming_normal(no_inputs, 1),
                      Contains("init::fan_in") && Contains("no inputs"));
  }
}

}  // namespace
