// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
#pragma once

/// @file
/// Everything in convtape, in one include (like Eigen's `<Eigen/Dense>`). Include the single
/// headers instead where compile time matters.

#include "convtape/autograd/conv_transpose2d.hpp"
#include "convtape/autograd/op.hpp"
#include "convtape/autograd/ops.hpp"
#include "convtape/autograd/parameter.hpp"
#include "convtape/autograd/pool2d.hpp"
#include "convtape/autograd/softmax.hpp"
#include "convtape/autograd/tape.hpp"
#include "convtape/conv2d.hpp"
#include "convtape/conv_transpose2d.hpp"
#include "convtape/core.hpp"
#include "convtape/corr2d.hpp"
#include "convtape/elementwise.hpp"
#include "convtape/gradcheck.hpp"
#include "convtape/io/dataset.hpp"
#include "convtape/io/error.hpp"
#include "convtape/io/idx.hpp"
#include "convtape/io/npy.hpp"
#include "convtape/io/npz.hpp"
#include "convtape/io/parameters.hpp"
#include "convtape/linear.hpp"
#include "convtape/nn/conv2d.hpp"
#include "convtape/nn/conv_transpose2d.hpp"
#include "convtape/nn/init.hpp"
#include "convtape/nn/linear.hpp"
#include "convtape/nn/loss.hpp"
#include "convtape/optim/adam.hpp"
#include "convtape/optim/optimizer.hpp"
#include "convtape/optim/sgd.hpp"
#include "convtape/pool2d.hpp"
#include "convtape/reference.hpp"
#include "convtape/softmax.hpp"
#include "convtape/tensor.hpp"
#include "convtape/version.hpp"
