// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/tensor.hpp"

#include <array>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <utility>

#include "convtape/nn/init.hpp"
#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/literal.hpp"

namespace {

using convtape::Index;
using convtape::MatrixX;
using convtape::RowMatrixX;
using convtape::Shape4;
using convtape::Tensor;
using support::literal;
using support::shape_error_message;

/// A value that encodes its own coordinates, so a misplaced element is recognisable.
double code(Index n, Index c, Index h, Index w) {
  return static_cast<double>(1000 * n + 100 * c + 10 * h + w);
}

TEST_CASE("Tensor(n, c, h, w) is zero-filled and reports its shape", "[tensor]") {
  const Tensor<double> t(2, 3, 4, 5);
  CHECK(t.shape() == Shape4{2, 3, 4, 5});
  CHECK(t.dim(0) == 2);
  CHECK(t.dim(1) == 3);
  CHECK(t.dim(2) == 4);
  CHECK(t.dim(3) == 5);
  CHECK(t.size() == 120);
  CHECK_FALSE(t.empty());
  for (Index i = 0; i < t.size(); ++i) CHECK(t.data()[i] == 0.0);

  SECTION("from a Shape4") {
    const Tensor<float> u(Shape4{1, 2, 3, 1});
    CHECK(u.shape() == Shape4{1, 2, 3, 1});
    CHECK(u.size() == 6);
    CHECK(u.flat().isZero(0.0f));
  }
  SECTION("default-constructed is empty, shape (0, 0, 0, 0)") {
    const Tensor<double> e;
    CHECK(e.shape() == Shape4{0, 0, 0, 0});
    CHECK(e.size() == 0);
    CHECK(e.empty());
  }
  SECTION("a zero extent is allowed and empty") {
    const Tensor<double> e(2, 0, 3, 3);
    CHECK(e.empty());
    CHECK(e.dim(1) == 0);
  }
}

TEST_CASE("Tensor stores NCHW contiguously: (n, c, h, w) is at ((n*C + c)*H + h)*W + w",
          "[tensor]") {
  const Index N = 2, C = 3, H = 4, W = 5;
  Tensor<double> t(N, C, H, W);
  for (Index n = 0; n < N; ++n) {
    for (Index c = 0; c < C; ++c) {
      for (Index h = 0; h < H; ++h) {
        for (Index w = 0; w < W; ++w) t(n, c, h, w) = code(n, c, h, w);
      }
    }
  }
  for (Index n = 0; n < N; ++n) {
    for (Index c = 0; c < C; ++c) {
      for (Index h = 0; h < H; ++h) {
        for (Index w = 0; w < W; ++w) {
          CHECK(t.data()[((n * C + c) * H + h) * W + w] == code(n, c, h, w));
        }
      }
    }
  }
  SECTION("writes through data() are read by operator()") {
    t.data()[((1 * C + 2) * H + 3) * W + 4] = -7.0;
    CHECK(t(1, 2, 3, 4) == -7.0);
    const Tensor<double>& ct = t;
    CHECK(ct(1, 2, 3, 4) == -7.0);
  }
  SECTION("flat() is the same storage in the same order") {
    CHECK(t.flat().size() == N * C * H * W);
    CHECK(t.flat()[((0 * C + 1) * H + 2) * W + 3] == code(0, 1, 2, 3));
    t.flat()[0] = 42.0;
    CHECK(t(0, 0, 0, 0) == 42.0);
  }
}

TEST_CASE("Tensor planes are row-major maps that read and write the tensor", "[tensor]") {
  Tensor<double> t(2, 3, 4, 5);
  auto p = t.plane(1, 2);
  CHECK(p.rows() == 4);
  CHECK(p.cols() == 5);
  CHECK(p.data() == t.data() + (1 * 3 + 2) * 4 * 5);
  p(3, 1) = 8.5;
  CHECK(t(1, 2, 3, 1) == 8.5);
  CHECK(t.data()[((1 * 3 + 2) * 4 + 3) * 5 + 1] == 8.5);
  t(1, 2, 0, 4) = -1.0;
  CHECK(p(0, 4) == -1.0);
  // Row-major: the element after (0, 4) in memory is (1, 0).
  CHECK(&p(1, 0) == &p(0, 4) + 1);

  SECTION("whole-plane Eigen assignments land in the right plane only") {
    t.plane(0, 1).setConstant(3.0);
    CHECK(t.plane(0, 1).sum() == 3.0 * 20);
    CHECK(t.plane(0, 0).isZero(0.0));
    CHECK(t.plane(0, 2).isZero(0.0));
  }
  SECTION("a const tensor's planes are read-only maps of the same data") {
    const Tensor<double>& ct = t;
    const auto cp = ct.plane(1, 2);
    CHECK(cp(3, 1) == 8.5);
    CHECK(cp.data() == p.data());
  }
}

TEST_CASE("Tensor::from_matrix and matrix() round-trip a plane, as reshape(1, 1, H, W)",
          "[tensor]") {
  const MatrixX<double> m = literal<double>(2, 3, {1, 2, 3, 4, 5, 6});
  SECTION("column-major input") {
    const Tensor<double> t = Tensor<double>::from_matrix(m);
    CHECK(t.shape() == Shape4{1, 1, 2, 3});
    CHECK(t(0, 0, 0, 2) == 3.0);
    CHECK(t(0, 0, 1, 0) == 4.0);
    // NCHW memory is row-major within the plane: 1 2 3 4 5 6.
    for (Index i = 0; i < 6; ++i) CHECK(t.data()[i] == static_cast<double>(i + 1));
    CHECK(t.matrix() == m);
  }
  SECTION("row-major input") {
    const RowMatrixX<double> r = m;
    const Tensor<double> t = Tensor<double>::from_matrix(r);
    CHECK(t(0, 0, 1, 2) == 6.0);
    CHECK(t.matrix() == m);
  }
  SECTION("a block and an expression") {
    const MatrixX<double> big = literal<double>(3, 4, {0, 0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6});
    CHECK(Tensor<double>::from_matrix(big.block(1, 1, 2, 3)).matrix() == m);
    CHECK(Tensor<double>::from_matrix(2.0 * m).matrix() ==
          literal<double>(2, 3, {2, 4, 6, 8, 10, 12}));
  }
  SECTION("int") {
    const MatrixX<int> mi = literal<int>(1, 3, {7, -8, 9});
    const Tensor<int> t = Tensor<int>::from_matrix(mi);
    CHECK(t.shape() == Shape4{1, 1, 1, 3});
    CHECK(t.matrix() == mi);
  }
}

TEST_CASE("Tensor copies are deep", "[tensor]") {
  Tensor<double> a(1, 1, 2, 2);
  a(0, 0, 1, 1) = 5.0;
  Tensor<double> b = a;
  b(0, 0, 1, 1) = 6.0;
  CHECK(a(0, 0, 1, 1) == 5.0);
  CHECK(b(0, 0, 1, 1) == 6.0);
  CHECK(a.data() != b.data());
}

TEST_CASE("Tensor setZero, setConstant and same_shape", "[tensor]") {
  Tensor<float> t(1, 2, 2, 3);
  t.setConstant(2.5f);
  CHECK(t.flat().sum() == 2.5f * 12);
  t.setZero();
  CHECK(t.flat().isZero(0.0f));
  CHECK(t.same_shape(Tensor<float>(1, 2, 2, 3)));
  CHECK(t.same_shape(Tensor<double>(1, 2, 2, 3)));
  CHECK_FALSE(t.same_shape(Tensor<float>(1, 2, 3, 2)));
}

TEST_CASE("Tensor::cast converts every element", "[tensor]") {
  Tensor<double> t(1, 2, 1, 2);
  t(0, 0, 0, 0) = 1.5;
  t(0, 0, 0, 1) = -2.0;
  t(0, 1, 0, 0) = 0.25;
  t(0, 1, 0, 1) = 3.0;
  const Tensor<float> f = t.cast<float>();
  CHECK(f.shape() == t.shape());
  CHECK(f(0, 0, 0, 0) == 1.5f);
  CHECK(f(0, 0, 0, 1) == -2.0f);
  CHECK(f(0, 1, 0, 0) == 0.25f);
  CHECK(f(0, 1, 0, 1) == 3.0f);
  const Tensor<int> i = t.cast<int>();
  CHECK(i(0, 0, 0, 0) == 1);  // truncation, as static_cast
  CHECK(i(0, 0, 0, 1) == -2);
  CHECK(i(0, 1, 0, 1) == 3);
}

TEST_CASE("operator<< prints the shape and every plane's values", "[tensor]") {
  Tensor<double> t(1, 2, 2, 3);
  for (Index c = 0; c < 2; ++c) {
    for (Index h = 0; h < 2; ++h) {
      for (Index w = 0; w < 3; ++w) t(0, c, h, w) = static_cast<double>(100 * c + 10 * h + w);
    }
  }
  std::ostringstream os;
  os << t;
  const std::string text = os.str();
  INFO(text);
  CHECK_THAT(text, Contains("(1, 2, 2, 3)"));
  CHECK_THAT(text, Contains("[0, 0]"));
  CHECK_THAT(text, Contains("[0, 1]"));
  CHECK_THAT(text, Contains("[ 0,  1,  2]"));  // Eigen aligns the columns
  CHECK_THAT(text, Contains("[10, 11, 12]"));
  CHECK_THAT(text, Contains("100, 101, 102"));
  CHECK_THAT(text, Contains("110, 111, 112"));
  // Plane (0, 0) comes before plane (0, 1), and each plane's rows in order.
  CHECK(text.find("[0, 0]") < text.find("[0, 1]"));
  CHECK(text.find("[10, 11, 12]") < text.find("[0, 1]"));
  CHECK(text.find("100, 101, 102") < text.find("110, 111, 112"));

  SECTION("an empty tensor prints its shape") {
    std::ostringstream empty;
    empty << Tensor<float>(0, 3, 2, 2);
    CHECK_THAT(empty.str(), Contains("(0, 3, 2, 2)"));
  }
}

TEST_CASE("Tensor rejects bad shapes and axes with a shape_error naming them", "[tensor][errors]") {
  SECTION("negative extents") {
    CHECK_THAT(shape_error_message([] { Tensor<double>(1, -2, 3, 4); }),
               Contains("Tensor") && Contains("negative extent") && Contains("(1, -2, 3, 4)"));
    CHECK_THAT(shape_error_message([] {
                 Tensor<float>(Shape4{2, 3, 4, -1});
               }),
               Contains("(2, 3, 4, -1)"));
  }
  SECTION("a shape with more elements than an Index can count") {
    const Index big = Index(1) << 24;
    CHECK_THAT(shape_error_message([&] { Tensor<double>(big, big, big, 1); }),
               Contains("Tensor") && Contains("too many elements"));
  }
  SECTION("dim() of an axis outside 0..3") {
    const Tensor<double> t(1, 2, 3, 4);
    CHECK_THAT(shape_error_message([&] { (void)t.dim(4); }),
               Contains("Tensor::dim") && Contains("axis 4") && Contains("(1, 2, 3, 4)"));
    CHECK_THAT(shape_error_message([&] { (void)t.dim(-1); }), Contains("axis -1"));
  }
  SECTION("matrix() of a tensor that is not (1, 1, H, W)") {
    Tensor<double> t(2, 1, 3, 3);
    t(1, 0, 2, 2) = 4.0;
    CHECK_THAT(shape_error_message([&] { (void)t.matrix(); }),
               Contains("Tensor::matrix") && Contains("(1, 1, H, W)") && Contains("(2, 1, 3, 3)"));
    CHECK_THAT(shape_error_message([] { (void)Tensor<double>(1, 3, 2, 2).matrix(); }),
               Contains("(1, 3, 2, 2)"));
    // Nothing changed.
    CHECK(t.shape() == Shape4{2, 1, 3, 3});
    CHECK(t(1, 0, 2, 2) == 4.0);
    CHECK(t.flat().sum() == 4.0);
  }
}

TEST_CASE("Shape4 is an array of four extents that prints without using namespace convtape",
          "[tensor][shape]") {
  const Tensor<double> t(2, 3, 4, 5);
  std::ostringstream os;
  os << t.shape();  // found by argument-dependent lookup
  CHECK(os.str() == "(2, 3, 4, 5)");
  const std::array<Index, 4>& as_array = t.shape();
  CHECK(as_array[3] == 5);
  const Shape4 from_array = std::array<Index, 4>{{2, 3, 4, 5}};
  CHECK(from_array == t.shape());
  CHECK(Shape4() == Shape4{0, 0, 0, 0});
  const auto [n, c, h, w] = t.shape();
  CHECK(n * 1000 + c * 100 + h * 10 + w == 2345);
  Index product = 1;
  for (Index extent : t.shape()) product *= extent;
  CHECK(product == t.size());
}

TEST_CASE("ones, constant, rand and randn fill tensors as documented, seeded", "[tensor]") {
  CHECK(Tensor<double>::ones({1, 2, 3, 1}).flat().isOnes(0.0));
  CHECK(Tensor<float>::constant({2, 1, 1, 3}, 2.5f).flat().isConstant(2.5f, 0.0f));
  CHECK(Tensor<float>::ones({2, 1, 1, 3}).shape() == Shape4{2, 1, 1, 3});
  SECTION("rand draws init::uniform(0, 1) from mt19937_64(seed)") {
    const Tensor<double> r = Tensor<double>::rand({3, 2, 5, 7}, 42);
    Tensor<double> want(3, 2, 5, 7);
    std::mt19937_64 rng(42);
    convtape::init::uniform(want, 0.0, 1.0, rng);
    CHECK(r.flat() == want.flat());
    CHECK(r.flat().minCoeff() >= 0.0);
    CHECK(r.flat().maxCoeff() < 1.0);
    CHECK(Tensor<double>::rand({3, 2, 5, 7}, 43).flat() != r.flat());
    // The first value by hand: the top 53 bits of the engine's first output, times 2^-53.
    std::mt19937_64 engine(42);
    CHECK(r.data()[0] == static_cast<double>(engine() >> 11) * 0x1.0p-53);
  }
  SECTION("randn draws init::normal(0, 1) from mt19937_64(seed), mean 0 and variance 1") {
    const Tensor<double> z = Tensor<double>::randn({1, 1, 200, 201}, 7);
    Tensor<double> want(1, 1, 200, 201);
    std::mt19937_64 rng(7);
    convtape::init::normal(want, 0.0, 1.0, rng);
    CHECK(z.flat() == want.flat());
    const double mean = z.flat().mean();
    const double var = (z.flat().array() - mean).square().mean();
    CHECK_THAT(mean, WithinAbs(0.0, 0.02));  // 4.5 standard errors of 40200 samples
    CHECK_THAT(var, WithinAbs(1.0, 0.04));
  }
}

TEST_CASE("reshape keeps the elements in order, moves an rvalue's buffer, and infers one -1",
          "[tensor][reshape]") {
  Tensor<double> t(2, 3, 4, 5);
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = static_cast<double>(i);
  const Tensor<double> copy = convtape::reshape(t, 6, 1, 20, 1);
  CHECK(copy.shape() == Shape4{6, 1, 20, 1});
  CHECK(copy.flat() == t.flat());
  CHECK(copy.data() != t.data());
  CHECK(t.shape() == Shape4{2, 3, 4, 5});  // the lvalue is untouched
  CHECK(convtape::reshape(t, -1, 1, 1, 1).shape() == Shape4{120, 1, 1, 1});
  CHECK(convtape::reshape(t, 2, -1, 4, 5).shape() == Shape4{2, 3, 4, 5});
  CHECK(convtape::flatten(t).shape() == Shape4{2, 60, 1, 1});
  CHECK(convtape::flatten(t).flat() == t.flat());
  CHECK(convtape::reshape(Tensor<double>(0, 3, 4, 5), 0, 7, 1, 2).shape() == Shape4{0, 7, 1, 2});

  const double* buffer = t.data();
  const Tensor<double> moved = convtape::reshape(std::move(t), 1, 1, 12, 10);
  CHECK(moved.data() == buffer);  // no copy
  CHECK(moved(0, 0, 11, 9) == 119.0);
  Tensor<double> again = convtape::flatten(Tensor<double>(moved));
  const double* again_buffer = again.data();
  CHECK(convtape::flatten(std::move(again)).data() == again_buffer);
}

TEST_CASE("reshape to another number of elements throws, naming both shapes", "[tensor][errors]") {
  const Tensor<double> t(1, 1, 6, 8);
  CHECK_THAT(shape_error_message([&] { (void)convtape::reshape(t, 1, 1, 6, 7); }),
             Contains("reshape: cannot reshape (1, 1, 6, 8) (48 elements) to (1, 1, 6, 7)") &&
                 Contains("42 elements"));
  CHECK_THAT(shape_error_message([&] { (void)convtape::reshape(t, -1, 5, 1, 1); }),
             Contains("reshape") && Contains("(-1, 5, 1, 1)"));
  CHECK_THAT(shape_error_message([&] { (void)convtape::reshape(t, -1, -1, 48, 1); }),
             Contains("one -1"));
  CHECK_THAT(shape_error_message([&] { (void)convtape::reshape(t, 1, -2, 1, 48); }),
             Contains("non-negative"));
  CHECK_THAT(shape_error_message(
                 [&] { (void)convtape::reshape(Tensor<double>(0, 2, 1, 1), -1, 0, 1, 1); }),
             Contains("reshape"));
  Tensor<double> kept(1, 1, 6, 8);
  kept.setConstant(3.0);
  CHECK_THROWS_AS(convtape::reshape(std::move(kept), 2, 2, 2, 2), convtape::shape_error);
  CHECK(kept.shape() == Shape4{1, 1, 6, 8});  // a throwing call leaves its argument as it was
  CHECK(kept.flat().isConstant(3.0, 0.0));
}

}  // namespace
