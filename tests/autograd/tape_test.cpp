// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/autograd/tape.hpp"

#include <functional>
#include <string>
#include <vector>

#include "convtape/autograd/ops.hpp"
#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::backward;
using convtape::Index;
using convtape::Parameter;
using convtape::shape_error;
using convtape::Tape;
using convtape::Tensor;
using convtape::Var;
using support::row;
using support::shape_error_message;

TEST_CASE("a variable's gradient is d(loss)/d(variable) after backward", "[tape]") {
  Tape<double> tape;
  const Var<double> x = tape.variable(row({1.0, -2.0, 3.0}));
  const Var<double> c = tape.constant(row({4.0, 5.0, 6.0}));
  // loss = sum(3 x * c + 7): d/dx = 3 c.
  const Var<double> loss = convtape::sum(x * 3.0 * c + 7.0);
  CHECK_THAT(loss.item(), WithinAbs(3 * (4 - 10 + 18) + 21, 1e-12));
  backward(loss);
  CHECK(x.grad().shape() == x.shape());
  CHECK_THAT(x.grad().data()[0], WithinAbs(12.0, 1e-12));
  CHECK_THAT(x.grad().data()[1], WithinAbs(15.0, 1e-12));
  CHECK_THAT(x.grad().data()[2], WithinAbs(18.0, 1e-12));
  CHECK_THAT(loss.grad().data()[0], WithinAbs(1.0, 0.0));
  CHECK_FALSE(c.requires_grad());
  CHECK_THAT(shape_error_message([&] { (void)c.grad(); }), Contains("requires no gradient"));
}

TEST_CASE("a var used twice gets the sum of both gradients", "[tape]") {
  SECTION("x * x") {
    Tape<double> tape;
    const Var<double> x = tape.variable(row({1.5, -2.0}));
    backward(convtape::sum(x * x));
    CHECK_THAT(x.grad().data()[0], WithinAbs(3.0, 1e-12));
    CHECK_THAT(x.grad().data()[1], WithinAbs(-4.0, 1e-12));
  }
  SECTION("x + x") {
    Tape<double> tape;
    const Var<double> x = tape.variable(row({1.5, -2.0}));
    backward(convtape::sum(x + x));
    CHECK_THAT(x.grad().data()[0], WithinAbs(2.0, 0.0));
    CHECK_THAT(x.grad().data()[1], WithinAbs(2.0, 0.0));
  }
  SECTION("through two paths of different length") {
    Tape<double> tape;
    const Var<double> x = tape.variable(row({2.0}));
    const Var<double> y = x * 5.0;
    backward(convtape::sum(y * x + x));  // 5x^2 + x: derivative 10x + 1
    CHECK_THAT(x.grad().data()[0], WithinAbs(21.0, 1e-12));
  }
}

TEST_CASE("parameter gradients accumulate over backward passes until zero_grad", "[tape]") {
  Parameter<double> p(row({1.0, 2.0}));
  const Tensor<double> c = row({3.0, -1.0});
  auto one_pass = [&] {
    Tape<double> tape;
    backward(convtape::sum(tape.parameter(p) * tape.constant(c)));
  };
  one_pass();
  CHECK_THAT(p.grad.data()[0], WithinAbs(3.0, 0.0));
  CHECK_THAT(p.grad.data()[1], WithinAbs(-1.0, 0.0));
  one_pass();
  CHECK_THAT(p.grad.data()[0], WithinAbs(6.0, 0.0));
  CHECK_THAT(p.grad.data()[1], WithinAbs(-2.0, 0.0));
  p.zero_grad();
  CHECK(p.grad.flat().isZero(0.0));
  one_pass();
  CHECK_THAT(p.grad.data()[0], WithinAbs(3.0, 0.0));
  CHECK(p.value.flat() == row({1.0, 2.0}).flat());  // backward never touches the value
}

TEST_CASE("a parameter used twice on one tape gets both contributions", "[tape]") {
  Parameter<double> p(row({2.0}));
  Tape<double> tape;
  backward(convtape::sum(tape.parameter(p) * tape.parameter(p)));
  CHECK_THAT(p.grad.data()[0], WithinAbs(4.0, 0.0));
}

TEST_CASE("backward twice on a tape throws unless the tape is retained", "[tape][errors]") {
  Parameter<double> p(row({1.0, 2.0}));
  SECTION("without retain_tape") {
    Tape<double> tape;
    const Var<double> loss = convtape::sum(tape.parameter(p) * 2.0);
    backward(loss);
    const std::string message = shape_error_message([&] { backward(loss); });
    CHECK_THAT(message, Contains("backward") && Contains("already") && Contains("retain_tape"));
    CHECK_THAT(p.grad.data()[0], WithinAbs(2.0, 0.0));  // the failed call added nothing
  }
  SECTION("with retain_tape the second pass adds the gradients again") {
    Tape<double> tape;
    const Var<double> x = tape.parameter(p);
    const Var<double> loss = convtape::sum(x * 2.0);
    backward(loss, true);
    backward(loss);
    CHECK_THAT(p.grad.data()[1], WithinAbs(4.0, 0.0));
    CHECK_THAT(x.grad().data()[1], WithinAbs(4.0, 0.0));
    CHECK_THAT(shape_error_message([&] { backward(loss); }), Contains("already"));
  }
}

TEST_CASE("backward with a seed backpropagates from a non-scalar var", "[tape]") {
  Tape<double> tape;
  const Var<double> x = tape.variable(row({1.0, 2.0, 3.0}));
  const Var<double> y = x * x;
  backward(y, row({1.0, 10.0, 100.0}));  // d/dx = seed * 2x
  CHECK_THAT(x.grad().data()[0], WithinAbs(2.0, 0.0));
  CHECK_THAT(x.grad().data()[1], WithinAbs(40.0, 0.0));
  CHECK_THAT(x.grad().data()[2], WithinAbs(600.0, 0.0));
}

TEST_CASE("misusing the tape throws shape_error with a clear message", "[tape][errors]") {
  SECTION("a non-scalar loss without a seed") {
    Tape<double> tape;
    const Var<double> y = tape.variable(row({1.0, 2.0})) * 2.0;
    CHECK_THAT(shape_error_message([&] { backward(y); }),
               Contains("(1, 1, 1, 2)") && Contains("not one element") && Contains("seed"));
  }
  SECTION("a seed of the wrong shape") {
    Tape<double> tape;
    const Var<double> y = tape.variable(row({1.0, 2.0})) * 2.0;
    CHECK_THAT(shape_error_message([&] { backward(y, row({1.0})); }),
               Contains("seed has shape (1, 1, 1, 1)") && Contains("(1, 1, 1, 2)"));
  }
  SECTION("vars of two tapes in one function") {
    Tape<double> a;
    Tape<double> b;
    const Var<double> x = a.variable(row({1.0}));
    const Var<double> y = b.variable(row({1.0}));
    CHECK_THAT(shape_error_message([&] { (void)(x * y); }),
               Contains("operator*") && Contains("different tape"));
    CHECK_THAT(shape_error_message([&] { (void)(x - y); }),
               Contains("operator-") && Contains("different tape"));
    CHECK(a.size() == 1);  // nothing was recorded
  }
  SECTION("a var whose tape is gone") {
    Var<double> orphan;
    {
      Tape<double> tape;
      orphan = tape.variable(row({1.0}));
    }
    CHECK_THAT(shape_error_message([&] { (void)orphan.value(); }),
               Contains("Var::value") && Contains("no longer exists"));
    CHECK_THAT(shape_error_message([&] { (void)(orphan * 2.0); }),
               Contains("operator*") && Contains("no longer exists"));
    CHECK_THAT(shape_error_message([&] { backward(orphan); }), Contains("no longer exists"));
  }
  SECTION("a default-constructed var") {
    const Var<double> empty;
    CHECK_THAT(shape_error_message([&] { (void)empty.value(); }), Contains("empty Var"));
    CHECK_THAT(shape_error_message([&] { (void)convtape::sum(empty); }),
               Contains("sum") && Contains("empty Var"));
  }
  SECTION("a loss computed from constants only") {
    Tape<double> tape;
    const Var<double> loss = convtape::sum(tape.constant(row({1.0})) * 2.0);
    CHECK_THAT(shape_error_message([&] { backward(loss); }), Contains("nothing to differentiate"));
  }
  SECTION("grad before any backward") {
    Tape<double> tape;
    const Var<double> x = tape.variable(row({1.0}));
    CHECK_THAT(shape_error_message([&] { (void)x.grad(); }), Contains("no gradient yet"));
  }
  SECTION("item of a var with several elements") {
    Tape<double> tape;
    CHECK_THAT(shape_error_message([&] {
                 (void)tape.variable(row({1.0, 2.0})).item();
               }),
               Contains("Var::item") && Contains("(1, 1, 1, 2)"));
  }
  SECTION("a parameter whose grad does not match its value") {
    Parameter<double> p(row({1.0, 2.0}));
    p.grad = row({0.0});
    Tape<double> tape;
    CHECK_THAT(shape_error_message([&] { (void)tape.parameter(p); }),
               Contains("Tape::parameter") && Contains("zero_grad"));
  }
  SECTION("a parameter grad reshaped between forward and backward changes nothing") {
    Parameter<double> p(row({1.0, 2.0}));
    Parameter<double> q(row({3.0}));
    Tape<double> tape;
    const Var<double> loss = convtape::sum(tape.parameter(p)) + convtape::sum(tape.parameter(q));
    p.grad = row({7.0, 7.0, 7.0});
    CHECK_THAT(shape_error_message([&] { backward(loss); }), Contains("parameter's grad"));
    CHECK_THAT(q.grad.data()[0], WithinAbs(0.0, 0.0));
    CHECK(p.grad.flat() == row({7.0, 7.0, 7.0}).flat());
    p.zero_grad();
    backward(loss);  // the failed call did not use the tape up
    CHECK_THAT(q.grad.data()[0], WithinAbs(1.0, 0.0));
  }
}

TEST_CASE("a chain of 100000 nodes runs backward without recursion", "[tape]") {
  Tape<double> tape;
  const Var<double> x = tape.variable(row({0.5}));
  Var<double> y = x;
  constexpr int kLength = 100000;
  for (int i = 0; i < kLength; ++i) y = (i % 2 == 0) ? y + 1.0 : y * 1.0;
  CHECK(tape.size() == kLength + 1);
  backward(y);
  CHECK_THAT(y.item(), WithinAbs(0.5 + kLength / 2, 1e-9));
  CHECK_THAT(x.grad().data()[0], WithinAbs(1.0, 0.0));
}

TEST_CASE("NoGrad records values but no gradient rules", "[tape][nograd]") {
  Tape<double> tape;
  const Var<double> x = tape.variable(row({3.0}));
  Var<double> detached;
  {
    const convtape::NoGrad guard;
    CHECK(convtape::NoGrad::active());
    detached = x * x;
    CHECK_FALSE(detached.requires_grad());
    CHECK(tape.variable(row({1.0})).requires_grad());  // leaves are unaffected
  }
  CHECK_FALSE(convtape::NoGrad::active());
  CHECK_THAT(detached.item(), WithinAbs(9.0, 0.0));
  // d/dx (detached + x) is 1: nothing flows back through the product recorded under NoGrad.
  backward(detached + x, true);
  CHECK_THAT(x.grad().data()[0], WithinAbs(1.0, 0.0));
  CHECK_THAT(shape_error_message([&] {
               const convtape::NoGrad guard;
               backward(convtape::sum(x * 2.0));
             }),
             Contains("NoGrad"));
}

TEST_CASE("a var's value stays valid while the tape keeps recording", "[tape]") {
  Tape<double> tape;
  const Var<double> x = tape.variable(row({1.0, 2.0}));
  const Tensor<double>& value = x.value();
  Var<double> y = x;
  std::vector<const Tensor<double>*> addresses;
  for (int i = 0; i < 1000; ++i) {  // many appends after the reference was taken
    y = y + 1.0;
    addresses.push_back(&y.value());
  }
  CHECK(&x.value() == &value);  // no node moved: neither the first, in place, nor later ones
  CHECK_THAT(value.data()[1], WithinAbs(2.0, 0.0));
  // Every earlier value is still where it was recorded, holding what it held (under ASan a
  // moved node would be a use after free).
  int wrong = 0;
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    if (addresses[i]->data()[0] != 1.0 + static_cast<double>(i + 1)) ++wrong;
  }
  CHECK(wrong == 0);
  CHECK(x.tape() == tape);
  CHECK(y.tape() == tape);
  CHECK(Tape<double>() != tape);
}

TEST_CASE("a tape handle keeps the recording alive for its vars", "[tape]") {
  Var<double> x;
  Tape<double> copy;
  {
    Tape<double> tape;
    x = tape.variable(row({4.0}));
    copy = tape;
  }
  CHECK_THAT(x.item(), WithinAbs(4.0, 0.0));
}

}  // namespace
