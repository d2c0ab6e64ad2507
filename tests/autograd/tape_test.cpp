// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/autograd/tape.hpp"

#include <cstdint>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "convtape/autograd/ops.hpp"
#include "convtape/conv2d.hpp"
#include "convtape/nn/conv2d.hpp"
#include "convtape/optim/sgd.hpp"
#include "convtape/reference.hpp"
#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/tensors.hpp"

namespace {

using Catch::Matchers::StartsWith;
using convtape::backward;
using convtape::Conv2dOptions;
using convtape::GradContext;
using convtape::Index;
using convtape::MatrixX;
using convtape::Op;
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

/// Identity whose gradient rule throws while `fail` is set: a user-defined function that fails in
/// the middle of a backward pass.
Var<double> identity_failing_backward(const Var<double>& x, const bool& fail) {
  Op<double> op("identity_failing_backward", {x});
  return op.record(Tensor<double>(op.input(0)), [&fail](GradContext<double>& g) {
    if (fail) throw std::runtime_error("gradient rule failed");
    g.add_grad(0, g.grad_output().flat());
  });
}

TEST_CASE(
    "a function that throws leaves the tape and every parameter as they were, and the tape "
    "records and differentiates correctly afterwards",
    "[tape][errors][exceptions]") {
  // x (1, 1, 4, 5) a variable, w (1, 1, 2, 3) a parameter with a non-zero gradient already
  // accumulated; y = conv2d(x, w), loss = sum(y * y).
  Tensor<double> xt(1, 1, 4, 5);
  Tensor<double> wt(1, 1, 2, 3);
  for (Index i = 0; i < xt.size(); ++i) xt.data()[i] = 0.25 * double(i % 7) - 0.6;
  for (Index i = 0; i < wt.size(); ++i) wt.data()[i] = 0.5 - 0.3 * double(i);
  Parameter<double> w(wt);
  w.grad.setConstant(0.125);
  Parameter<double> other(row({1.0, 2.0}));
  other.grad.setConstant(-1.0);

  Tape<double> tape;
  const Var<double> x = tape.variable(xt);
  const Var<double> wv = tape.parameter(w);
  const Var<double> y = convtape::conv2d(x, wv);
  const Var<double> loss = convtape::sum(y * y);
  Index expected_size = tape.size();
  const Tensor<double> y_before = y.value();
  const double loss_before = loss.item();
  const Tensor<double> w_value = w.value;
  const Tensor<double> w_grad = w.grad;

  SECTION("a + b with shapes that do not broadcast") {
    const Var<double> z = tape.variable(row({1.0, 2.0}));  // (1, 1, 1, 2) against (1, 1, 3, 3)
    ++expected_size;
    CHECK_THROWS_AS(y + z, shape_error);
  }
  SECTION("conv2d with a weight of the wrong channel count") {
    const Var<double> bad = tape.variable(Tensor<double>(1, 2, 2, 2));
    ++expected_size;
    CHECK_THROWS_AS(convtape::conv2d(x, bad), shape_error);
    CHECK_THROWS_AS(convtape::conv2d(x, wv, bad), shape_error);  // bias of 8 elements, not 1
  }
  SECTION("backward misused: a non-scalar loss, a seed of the wrong shape, a constant loss") {
    CHECK_THROWS_AS(backward(y), shape_error);
    CHECK_THROWS_AS(backward(y, Tensor<double>(1, 1, 2, 2)), shape_error);
    const Var<double> c = convtape::sum(tape.constant(row({1.0})));
    expected_size += 2;
    CHECK_THROWS_AS(backward(c), shape_error);
  }
  bool fail = true;  // outlives the tape's rule that refers to it
  SECTION("a gradient rule throws in the middle of a backward pass") {
    // The failing node sits between rules that run before it (sum, +) and after it (the loss's
    // and conv2d's), so the walk stops midway with partial gradients in flight.
    const Var<double> bad = loss + convtape::sum(identity_failing_backward(y, fail));
    expected_size += 3;
    CHECK_THROWS_AS(backward(bad), std::runtime_error);
    CHECK_THAT(shape_error_message([&] { (void)x.grad(); }), Contains("no gradient yet"));
    CHECK_THAT(shape_error_message([&] { (void)bad.grad(); }), Contains("no gradient yet"));
    fail = false;  // (the backward below does not reach this node anyway)
  }
  SECTION("an optimizer step throws because a later parameter's gradient has the wrong shape") {
    convtape::SGD<double> sgd({&w, &other}, 0.1, 0.9);
    other.grad = Tensor<double>(1, 1, 1, 3);
    CHECK_THROWS_AS(sgd.step(), shape_error);
    CHECK(other.value.flat() == row({1.0, 2.0}).flat());
    other.zero_grad();
  }

  // Exactly as before: the same nodes and values, parameters untouched, no gradient visible.
  CHECK(tape.size() == expected_size);
  CHECK(y.value().flat() == y_before.flat());
  CHECK(loss.item() == loss_before);
  CHECK(w.value.flat() == w_value.flat());
  CHECK(w.grad.flat() == w_grad.flat());

  // Recording goes on, and backward gives d/dw and d/dx of sum(y^2) + sum(y), i.e. the
  // gradients of y = corr2d(x, w) for dy = 2y + 1, from the reference loops.
  const Var<double> after = loss + convtape::sum(y);
  CHECK(tape.size() == expected_size + 2);
  backward(after);
  const MatrixX<double> xm = xt.plane(0, 0);
  const MatrixX<double> wm = wt.plane(0, 0);
  const MatrixX<double> dy = (2 * convtape::reference::corr2d(xm, wm).array() + 1).matrix();
  const MatrixX<double> dw = convtape::reference::corr2d_grad_kernel(xm, dy, 2, 3, {});
  const MatrixX<double> dx = convtape::reference::corr2d_grad_input(dy, wm, 4, 5, {});
  for (Index i = 0; i < 2; ++i) {
    for (Index j = 0; j < 3; ++j) {
      CHECK_THAT(w.grad(0, 0, i, j), WithinAbs(0.125 + dw(i, j), 1e-12));
    }
  }
  for (Index i = 0; i < 4; ++i) {
    for (Index j = 0; j < 5; ++j) CHECK_THAT(x.grad()(0, 0, i, j), WithinAbs(dx(i, j), 1e-12));
  }
}

/// Trains a Conv2D (2 -> 3 channels, 3x3, padding 1, bias) with SGD and momentum for 25 steps on
/// data drawn from `seed`, on the calling thread, each step on a fresh tape, plus a NoGrad
/// evaluation per step; returns the weights and bias, one after the other, and in `no_grad_ok`
/// whether every NoGrad evaluation recorded no gradient.
std::vector<double> train_conv(std::uint64_t seed, bool& no_grad_ok) {
  convtape::Conv2D<double> conv(2, 3, 3, Conv2dOptions().padding(1), seed);
  convtape::SGD<double> sgd(conv.parameters(), 0.05, 0.9);
  const Tensor<double> x = support::random_tensor({2, 2, 6, 7}, seed + 100);
  const Tensor<double> target = support::random_tensor({2, 3, 6, 7}, seed + 200);
  no_grad_ok = true;
  for (int step = 0; step < 25; ++step) {
    Tape<double> tape;
    const Var<double> l =
        convtape::mean(convtape::square(conv(tape.constant(x)) - tape.constant(target)));
    sgd.zero_grad();
    backward(l);
    sgd.step();
    const convtape::NoGrad guard;
    Tape<double> eval;
    no_grad_ok = no_grad_ok && !conv(eval.variable(x)).requires_grad();
  }
  std::vector<double> out(conv.weight.value.data(),
                          conv.weight.value.data() + conv.weight.value.size());
  out.insert(out.end(), conv.bias.value.data(), conv.bias.value.data() + conv.bias.value.size());
  return out;
}

TEST_CASE(
    "two threads training their own layers with their own tapes and optimizers get exactly "
    "the single-threaded results",
    "[tape][threads]") {
  bool ok_a = false, ok_b = false;
  const std::vector<double> want_a = train_conv(1, ok_a);
  const std::vector<double> want_b = train_conv(2, ok_b);
  REQUIRE(want_a != want_b);  // different seeds, different runs: the comparison can fail
  REQUIRE((ok_a && ok_b));

  // Catch2 assertions are not thread-safe: the threads only compute, the checks run here.
  std::vector<double> got_a, got_b;
  bool no_grad_a = false, no_grad_b = false;
  // Each thread's NoGrad guard must not leak into the other (thread_local depth).
  bool b_records_gradients = false;
  std::string error_a, error_b;  // an exception escaping a thread would end the process
  std::thread ta([&] {
    try {
      got_a = train_conv(1, no_grad_a);
    } catch (const std::exception& e) {
      error_a = e.what();
    }
  });
  std::thread tb([&] {
    try {
      got_b = train_conv(2, no_grad_b);
      Tape<double> tape;
      b_records_gradients = (tape.variable(row({1.0})) * 2.0).requires_grad();
    } catch (const std::exception& e) {
      error_b = e.what();
    }
  });
  ta.join();
  tb.join();
  CHECK(error_a.empty());
  CHECK(error_b.empty());
  CHECK(got_a == want_a);
  CHECK(got_b == want_b);
  CHECK(no_grad_a);
  CHECK(no_grad_b);
  CHECK(b_records_gradients);

  SECTION("plain conv2d on inputs shared read-only by two threads") {
    const Tensor<double> x = support::random_tensor({2, 4, 9, 8}, 7);
    const Tensor<double> w = support::random_tensor({6, 4, 3, 3}, 8);
    const Tensor<double> want = convtape::conv2d(x, w, Conv2dOptions().padding(1));
    Tensor<double> y1, y2;
    std::thread t1([&] { y1 = convtape::conv2d(x, w, Conv2dOptions().padding(1)); });
    std::thread t2([&] { y2 = convtape::conv2d(x, w, Conv2dOptions().padding(1)); });
    t1.join();
    t2.join();
    CHECK(y1.flat() == want.flat());
    CHECK(y2.flat() == want.flat());
  }
}

TEST_CASE("operator<< prints a var's shape and value, and says when it has none", "[tape]") {
  const auto text = [](const Var<double>& v) {
    std::ostringstream os;
    os << v;
    return os.str();
  };
  Var<double> gone;
  CHECK(text(gone) == "Var (empty)");
  {
    Tape<double> tape;
    const Var<double> v = tape.variable(row({1.5, -2.0}));
    CHECK_THAT(text(v), StartsWith("Var (1, 1, 1, 2), requires_grad\n[0, 0]:\n") &&
                            Contains("1.5") && Contains("-2"));
    CHECK_THAT(text(convtape::sum(tape.constant(row({4.0})))),
               StartsWith("Var (1, 1, 1, 1)\n[0, 0]:\n") && Contains("4"));
    gone = v;
  }
  CHECK(text(gone) == "Var (its tape is gone)");
}

}  // namespace
