// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
// Compiled with CONVTAPE_EXTERN_TEMPLATES and never linked: extern.no_kernels checks that this
// object, which calls every entry point that reaches one of the templates convtape/instantiate.hpp
// compiles, defines none of them (so convtape costs it only the parse and the thin wrappers).
#include "convtape/convtape.hpp"

template <class S>
S use_every_kernel() {
  using convtape::Tensor;
  const convtape::MatrixX<S> x = convtape::MatrixX<S>::Ones(6, 8);
  const convtape::MatrixX<S> k = convtape::MatrixX<S>::Ones(1, 2);
  const convtape::MatrixX<S> y = convtape::corr2d(x, k);
  const convtape::MatrixX<S> dx = convtape::corr2d_grad_input(y, k, 6, 8);
  const convtape::MatrixX<S> dk = convtape::corr2d_grad_kernel(x, y, 1, 2);
  const Tensor<S> xt = Tensor<S>::from_matrix(x);
  const Tensor<S> w = Tensor<S>::from_matrix(k);
  const Tensor<S> yt = convtape::conv2d(xt, w);
  const convtape::Conv2dGrads<S> grads = convtape::conv2d_backward(xt, w, yt);
  convtape::Conv2D<S> layer(1, 1, {1, 2});
  convtape::SGD<S> sgd(layer.parameters(), S(0.01));
  convtape::Adam<S> adam(layer.parameters());
  convtape::Tape<S> tape;
  convtape::Linear<S> fc(14, 1);
  const auto out = layer(tape.variable(xt));
  const auto pooled = convtape::max_pool2d(convtape::avg_pool2d(out, {1, 2}), {1, 2});
  const auto up = convtape::conv_transpose2d(out, tape.variable(w));
  const auto logits = convtape::flatten(convtape::adaptive_avg_pool2d(pooled, {1, 1}) +
                                        convtape::global_avg_pool2d(up));
  const auto loss = convtape::sum(convtape::squared_loss(out, tape.constant(yt))) +
                    convtape::sum(fc(convtape::flatten(out))) +
                    convtape::cross_entropy(logits + convtape::log_softmax(logits),
                                            std::vector<convtape::Index>{0});
  sgd.zero_grad();
  convtape::backward(loss);
  sgd.step();
  adam.step();
  return dx.sum() + dk.sum() + grads.weight.flat().sum() + loss.item();
}

double use_every_scalar() { return use_every_kernel<double>() + double(use_every_kernel<float>()); }
