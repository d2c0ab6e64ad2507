// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#include "convtape/autograd/parameter.hpp"

#include <memory>
#include <utility>
#include <vector>

#include "convtape/autograd/ops.hpp"
#include "convtape/autograd/tape.hpp"
#include "convtape/nn/conv2d.hpp"
#include "convtape/nn/loss.hpp"
#include "convtape/optim/adam.hpp"
#include "convtape/optim/sgd.hpp"
#include "support/catch.hpp"
#include "support/errors.hpp"
#include "support/tensors.hpp"

namespace {

using convtape::Conv2D;
using convtape::Parameter;
using convtape::ParameterRef;
using convtape::Tape;
using convtape::Tensor;
using convtape::Var;
using support::row;
using support::shape_error_message;

TEST_CASE("a ParameterRef follows its parameter through moves and is null once it is destroyed",
          "[parameter]") {
  SECTION("move construction") {
    auto first = std::make_unique<Parameter<double>>(row({1.0}));
    const ParameterRef<double> ref(*first);
    CHECK(ref.get() == first.get());
    Parameter<double> moved(std::move(*first));
    CHECK(ref.get() == &moved);
    first.reset();  // destroying the moved-from object does not touch the parameter
    CHECK(ref.get() == &moved);
    CHECK(ref.get()->value.data()[0] == 1.0);
  }
  SECTION("destruction") {
    ParameterRef<double> ref;
    CHECK(ref.empty());
    {
      Parameter<double> p(row({1.0}));
      ref = ParameterRef<double>(&p);
      CHECK_FALSE(ref.empty());
      CHECK(ref == &p);
    }
    CHECK_FALSE(ref.empty());
    CHECK(ref.get() == nullptr);
  }
  SECTION("a copy is a new parameter; copy-assignment keeps the target's identity") {
    Parameter<double> p(row({1.0}));
    const ParameterRef<double> ref(p);
    Parameter<double> copy(p);
    CHECK(ref.get() == &p);
    Parameter<double> q(row({2.0, 3.0}));
    const ParameterRef<double> ref_q(q);
    q = p;
    CHECK(ref_q.get() == &q);
    CHECK(q.value.shape() == p.value.shape());
    CHECK(ref.get() == &p);
  }
  SECTION("move-assignment moves the source's identity and ends the target's") {
    Parameter<double> a(row({1.0}));
    Parameter<double> b(row({2.0}));
    const ParameterRef<double> ref_a(a);
    const ParameterRef<double> ref_b(b);
    a = std::move(b);
    CHECK(ref_a.get() == nullptr);
    CHECK(ref_b.get() == &a);
    CHECK(a.value.data()[0] == 2.0);
  }
  SECTION("a null pointer makes an empty ref") {
    const ParameterRef<double> ref(static_cast<Parameter<double>*>(nullptr));
    CHECK(ref.empty());
    CHECK(ref.get() == nullptr);
  }
}

/// A user-written model: two layers and a parameter of its own, gathered in order.
struct TwoLayers {
  Conv2D<double> first{1, 2, 3};
  Conv2D<double> second{2, 1, 1, convtape::Conv2dOptions().bias(false), 1};
  Parameter<double> scale{row({1.0})};
  std::vector<ParameterRef<double>> parameters() {
    return convtape::parameters(first, second, scale);
  }
};

TEST_CASE("parameters(a, b, ...) gathers layers, parameters, models and containers in order",
          "[parameter]") {
  TwoLayers model;
  std::vector<Conv2D<double>> more;
  more.emplace_back(1, 1, 2);
  more.emplace_back(1, 1, 2, convtape::Conv2dOptions().bias(false));
  Parameter<double> extra(row({5.0}));
  const std::vector<ParameterRef<double>> all = convtape::parameters(model, more, extra, &extra);
  const std::vector<const Parameter<double>*> want = {&model.first.weight,
                                                      &model.first.bias,
                                                      &model.second.weight,
                                                      &model.scale,
                                                      &more[0].weight,
                                                      &more[0].bias,
                                                      &more[1].weight,
                                                      &extra,
                                                      &extra};
  REQUIRE(all.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("parameter " << i);
    CHECK(all[i] == want[i]);
  }
}

/// Trains `count` Conv2D layers (1 -> 1 channel, 2x2 kernel, bias, seeds 10, 11, ...) for 12
/// steps on one input, each layer towards its own target, with the optimizer `Opt` over all of
/// them. With `grow`, the layers live in a std::vector that reallocates (and gets a new layer)
/// after every step, so they move each time; otherwise each lives in its own heap block.
/// Returns every trained weight and bias, in order, and in `moves` how often the vector moved.
template <class Opt>
std::vector<double> train_layers(bool grow, int& moves) {
  constexpr int count = 3;
  const Tensor<double> x = support::random_tensor({2, 1, 5, 6}, 1);
  std::vector<Conv2D<double>> growing;
  std::vector<std::unique_ptr<Conv2D<double>>> fixed;
  for (int i = 0; i < count; ++i) {
    if (grow) {
      growing.emplace_back(1, 1, 2, convtape::Conv2dOptions(), 10 + i);
    } else {
      fixed.push_back(std::make_unique<Conv2D<double>>(1, 1, 2, convtape::Conv2dOptions(), 10 + i));
    }
  }
  auto layer = [&](int i) -> Conv2D<double>& { return grow ? growing[i] : *fixed[i]; };
  std::vector<ParameterRef<double>> params;
  for (int i = 0; i < count; ++i) {
    for (const ParameterRef<double>& p : layer(i).parameters()) params.push_back(p);
  }
  Opt opt(params, 0.05);
  moves = 0;
  for (int step = 0; step < 12; ++step) {
    Tape<double> tape;
    Var<double> loss;
    for (int i = 0; i < count; ++i) {
      const Var<double> target = tape.constant(support::random_tensor({2, 1, 4, 5}, 100 + i));
      const Var<double> l = convtape::mse_loss(layer(i)(tape.constant(x)), target);
      loss = i == 0 ? l : loss + l;
    }
    opt.zero_grad();
    convtape::backward(loss);
    opt.step();
    if (grow) {
      // A larger buffer while the old one is alive: every layer moves to a new address.
      const Conv2D<double>* before = growing.data();
      growing.reserve(growing.capacity() + 1);
      growing.emplace_back(1, 1, 2);  // never trained: not in the optimizer
      moves += growing.data() != before ? 1 : 0;
    }
  }
  std::vector<double> out;
  for (int i = 0; i < count; ++i) {
    for (const Tensor<double>* t : {&layer(i).weight.value, &layer(i).bias.value}) {
      out.insert(out.end(), t->data(), t->data() + t->size());
    }
  }
  return out;
}

TEMPLATE_TEST_CASE(
    "layers in a growing std::vector train exactly as layers that never move, across "
    "reallocations",
    "[parameter][optim]", convtape::SGD<double>, convtape::Adam<double>) {
  int moves = 0;
  const std::vector<double> still = train_layers<TestType>(false, moves);
  const std::vector<double> moving = train_layers<TestType>(true, moves);
  CHECK(moves == 12);  // the layers moved after every step
  REQUIRE(still.size() == moving.size());
  CHECK(still == moving);
  // ... and they did train: a layer's weights differ from its initialization.
  const Conv2D<double> untrained(1, 1, 2, convtape::Conv2dOptions(), 10);
  CHECK(still[0] != untrained.weight.value.data()[0]);
}

TEST_CASE(
    "an optimizer over a destroyed layer throws shape_error naming itself and the parameter, "
    "and changes nothing",
    "[parameter][optim][errors]") {
  std::vector<Conv2D<double>> layers;
  layers.emplace_back(1, 1, 2, convtape::Conv2dOptions(), 1);
  layers.emplace_back(1, 1, 2, convtape::Conv2dOptions(), 2);
  convtape::SGD<double> sgd(convtape::parameters(layers), 0.1);
  convtape::Adam<double> adam(convtape::parameters(layers), 0.1);
  for (const ParameterRef<double>& p : sgd.parameters()) p.get()->grad.setConstant(1.0);

  SECTION("the last layer destroyed") {
    layers.pop_back();
    const Tensor<double> before = layers[0].weight.value;
    CHECK_THAT(shape_error_message([&] { sgd.step(); }),
               Contains("SGD::step: parameter 2 no longer exists"));
    CHECK_THAT(shape_error_message([&] { adam.step(); }),
               Contains("Adam::step: parameter 2 no longer exists"));
    CHECK_THAT(shape_error_message([&] { sgd.zero_grad(); }),
               Contains("SGD::zero_grad: parameter 2"));
    CHECK(layers[0].weight.value.flat() == before.flat());  // nothing was updated
    CHECK(layers[0].weight.grad.flat().isConstant(1.0));    // nor zeroed
  }
  SECTION("the first layer erased: the second moves into its place") {
    layers.erase(layers.begin());
    CHECK(sgd.parameters()[2] == &layers[0].weight);  // the survivor is still found
    CHECK_THAT(shape_error_message([&] { sgd.step(); }), Contains("SGD::step: parameter 0"));
  }
}

TEST_CASE("backward adds into a parameter where it lives now, and throws if it is gone",
          "[parameter][tape]") {
  SECTION("moved between forward and backward") {
    std::vector<Parameter<double>> ps;
    ps.emplace_back(row({2.0}));
    Tape<double> tape;
    const Var<double> loss = convtape::sum(tape.parameter(ps[0]) * 3.0);
    ps.emplace_back(row({0.0}));
    ps.emplace_back(row({0.0}));  // ps[0] has moved
    convtape::backward(loss);
    CHECK(ps[0].grad.data()[0] == 3.0);
  }
  SECTION("destroyed between forward and backward: nothing is updated") {
    Parameter<double> kept(row({1.0}));
    auto gone = std::make_unique<Parameter<double>>(row({2.0}));
    Tape<double> tape;
    const Var<double> x = tape.variable(row({4.0}));
    const Var<double> loss =
        convtape::sum(tape.parameter(kept) * x) + convtape::sum(tape.parameter(*gone));
    gone.reset();
    CHECK_THAT(shape_error_message([&] { convtape::backward(loss); }),
               Contains("backward") && Contains("no longer exists"));
    CHECK(kept.grad.data()[0] == 0.0);
    CHECK_THAT(shape_error_message([&] { (void)x.grad(); }), Contains("no gradient yet"));
  }
}

}  // namespace
