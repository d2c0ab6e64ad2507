// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/optim/optimizer.hpp"

#include <memory>
#include <utility>
#include <vector>

#include "convtape/optim/adam.hpp"
#include "convtape/optim/sgd.hpp"
#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::Parameter;
using convtape::Tensor;
using support::row;
using support::shape_error_message;

// The subclass of Optimizer's doc comment, verbatim.
template <class S>
class SignSGD : public convtape::Optimizer<S> {
 public:
  SignSGD(std::vector<convtape::ParameterRef<S>> params, S lr)
      : convtape::Optimizer<S>("SignSGD", std::move(params), lr) {}
  void step() override {
    this->check_step();
    for (std::size_t i = 0; i < this->parameters().size(); ++i) {
      convtape::Parameter<S>& p = this->parameter(i);
      p.value.flat().array() -= this->lr() * p.grad.flat().array().sign();
    }
  }
};

TEST_CASE("a user's optimizer subclasses Optimizer and is driven through the base class",
          "[optim][optimizer]") {
  Parameter<double> a(row({1.0, -2.0}));
  Parameter<double> b(row({0.5}));
  std::unique_ptr<convtape::Optimizer<double>> opt =
      std::make_unique<SignSGD<double>>(convtape::parameters(a, b), 0.25);
  a.grad = row({3.0, -0.5});
  b.grad = row({-7.0});
  opt->step();  // p -= 0.25 * sign(g)
  CHECK(a.value.flat() == row({0.75, -1.75}).flat());
  CHECK(b.value.flat() == row({0.75}).flat());
  opt->zero_grad();
  CHECK(a.grad.flat().isZero(0.0));
  CHECK(b.grad.flat().isZero(0.0));
  CHECK(opt->parameters().size() == 2);
  CHECK(opt->parameters()[1] == &b);
  opt->set_lr(0.5);
  CHECK(opt->lr() == 0.5);
  CHECK(std::string(opt->name()) == "SignSGD");
}

TEST_CASE("Optimizer's checks name the subclass", "[optim][optimizer][errors]") {
  Parameter<double> a(row({1.0}));
  CHECK_THAT(shape_error_message([&] { SignSGD<double>({}, 0.1); }),
             Contains("SignSGD: got an empty parameter list"));
  CHECK_THAT(shape_error_message([&] {
               SignSGD<double>({&a, nullptr}, 0.1);
             }),
             Contains("SignSGD: parameter 1 is null"));
  CHECK_THAT(shape_error_message([&] { SignSGD<double>({&a}, -1.0); }),
             Contains("SignSGD") && Contains("lr"));
  SignSGD<double> opt({&a}, 0.1);
  a.grad = row({1.0, 2.0});
  CHECK_THAT(shape_error_message([&] { opt.step(); }),
             Contains("SignSGD::step: parameter 0 has value (1, 1, 1, 1) but grad (1, 1, 1, 2)"));
  CHECK(a.value.data()[0] == 1.0);
}

}  // namespace
