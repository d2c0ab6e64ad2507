// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// The list of what convtape/instantiate.hpp compiles once, per scalar type: the headers that
/// declare the heavy templates and one macro naming them all (the convtape::compiled library
/// compiles it in one file per scalar type).

#include "convtape/autograd/ops.hpp"
#include "convtape/autograd/tape.hpp"
#include "convtape/conv2d.hpp"
#include "convtape/conv_transpose2d.hpp"
#include "convtape/detail/plane.hpp"
#include "convtape/nn/loss.hpp"
#include "convtape/optim/adam.hpp"
#include "convtape/optim/optimizer.hpp"
#include "convtape/optim/sgd.hpp"
#include "convtape/pool2d.hpp"
#include "convtape/softmax.hpp"

/// Every explicit instantiation of convtape/instantiate.hpp for scalar S, after `prefix`
/// (`template` or `extern template`).
#define CONVTAPE_DETAIL_INSTANTIATE_ALL(prefix, S)        \
  CONVTAPE_DETAIL_INSTANTIATE_PLANE(prefix, S)            \
  CONVTAPE_DETAIL_INSTANTIATE_CONV2D_SHAPE(prefix, S)     \
  CONVTAPE_DETAIL_INSTANTIATE_CONV2D_FORWARD(prefix, S)   \
  CONVTAPE_DETAIL_INSTANTIATE_CONV2D_BACKWARD(prefix, S)  \
  CONVTAPE_DETAIL_INSTANTIATE_CONV_TRANSPOSE2D(prefix, S) \
  CONVTAPE_DETAIL_INSTANTIATE_POOL2D(prefix, S)           \
  CONVTAPE_DETAIL_INSTANTIATE_SOFTMAX(prefix, S)          \
  CONVTAPE_DETAIL_INSTANTIATE_TAPE(prefix, S)             \
  CONVTAPE_DETAIL_INSTANTIATE_OPS(prefix, S)              \
  CONVTAPE_DETAIL_INSTANTIATE_LOSS(prefix, S)             \
  CONVTAPE_DETAIL_INSTANTIATE_OPTIMIZER(prefix, S)        \
  CONVTAPE_DETAIL_INSTANTIATE_SGD(prefix, S)              \
  CONVTAPE_DETAIL_INSTANTIATE_ADAM(prefix, S)
