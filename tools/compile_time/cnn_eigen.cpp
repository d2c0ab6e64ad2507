// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
// A two-layer CNN trained with Adam by hand on Eigen/Dense alone: the baseline
// tools/compile_time.sh times cnn_convtape.cpp against. The same network (conv, relu, conv), mean
// squared loss and Adam, its gradients worked by hand; the same output.
#include <Eigen/Dense>
#include <cmath>
#include <cstdio>
#include <vector>

namespace {

using Eigen::Index;
using Eigen::MatrixXd;
using Planes = std::vector<std::vector<MatrixXd>>;  // [n][c], one plane each

// A conv layer: weight[o][i] (k x k), bias[o]; its gradients and Adam's moments alongside.
struct Conv {
  Index in, out, k, pad;
  std::vector<std::vector<MatrixXd>> w, gw, mw, vw;
  Eigen::VectorXd b, gb, mb, vb;
  Planes x_padded;  // the input saved by forward, for backward

  Conv(Index in_, Index out_, Index k_, Index pad_) : in(in_), out(out_), k(k_), pad(pad_) {
    w.assign(out, std::vector<MatrixXd>(in, MatrixXd::Zero(k, k)));
    gw = mw = vw = w;
    b = gb = mb = vb = Eigen::VectorXd::Zero(out);
  }

  Planes forward(const Planes& x) {
    x_padded.assign(x.size(), {});
    Planes y(x.size());
    for (std::size_t n = 0; n < x.size(); ++n) {
      for (Index i = 0; i < in; ++i) {
        MatrixXd p = MatrixXd::Zero(x[n][i].rows() + 2 * pad, x[n][i].cols() + 2 * pad);
        p.block(pad, pad, x[n][i].rows(), x[n][i].cols()) = x[n][i];
        x_padded[n].push_back(p);
      }
      const Index rows = x_padded[n][0].rows() - k + 1, cols = x_padded[n][0].cols() - k + 1;
      for (Index o = 0; o < out; ++o) {
        MatrixXd plane = MatrixXd::Constant(rows, cols, b(o));
        for (Index i = 0; i < in; ++i) {
          for (Index r = 0; r < rows; ++r) {
            for (Index c = 0; c < cols; ++c) {
              plane(r, c) += (x_padded[n][i].block(r, c, k, k).array() * w[o][i].array()).sum();
            }
          }
        }
        y[n].push_back(plane);
      }
    }
    return y;
  }

  // Accumulates the weight and bias gradients; returns the gradient of the input.
  Planes backward(const Planes& dy) {
    Planes dx(dy.size());
    for (std::size_t n = 0; n < dy.size(); ++n) {
      const Index rows = dy[n][0].rows(), cols = dy[n][0].cols();
      std::vector<MatrixXd> dxp(in, MatrixXd::Zero(x_padded[n][0].rows(), x_padded[n][0].cols()));
      for (Index o = 0; o < out; ++o) {
        gb(o) += dy[n][o].sum();
        for (Index i = 0; i < in; ++i) {
          for (Index r = 0; r < rows; ++r) {
            for (Index c = 0; c < cols; ++c) {
              gw[o][i] += dy[n][o](r, c) * x_padded[n][i].block(r, c, k, k);
              dxp[i].block(r, c, k, k) += dy[n][o](r, c) * w[o][i];
            }
          }
        }
      }
      for (Index i = 0; i < in; ++i) {
        dx[n].push_back(dxp[i].block(pad, pad, dxp[i].rows() - 2 * pad, dxp[i].cols() - 2 * pad));
      }
    }
    return dx;
  }

  void zero_grad() {
    for (auto& row : gw) {
      for (auto& g : row) g.setZero();
    }
    gb.setZero();
  }
};

// PyTorch's Adam (no weight decay) on one array of parameters.
template <class P>
void adam_update(P& p, const P& g, P& m, P& v, double lr, int t) {
  const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  m = beta1 * m + (1 - beta1) * g;
  v = beta2 * v + (1 - beta2) * g.cwiseProduct(g);
  const double c1 = 1 - std::pow(beta1, t), c2 = 1 - std::pow(beta2, t);
  p.array() -= lr * (m.array() / c1) / ((v.array() / c2).sqrt() + eps);
}

void adam_step(Conv& layer, double lr, int t) {
  for (Index o = 0; o < layer.out; ++o) {
    for (Index i = 0; i < layer.in; ++i) {
      adam_update(layer.w[o][i], layer.gw[o][i], layer.mw[o][i], layer.vw[o][i], lr, t);
    }
  }
  adam_update(layer.b, layer.gb, layer.mb, layer.vb, lr, t);
}

// Weights in OIHW order, as a convtape layer stores them.
template <class F>
void set_weights(Conv& layer, F f) {
  Index flat = 0;
  for (Index o = 0; o < layer.out; ++o) {
    for (Index i = 0; i < layer.in; ++i) {
      for (Index r = 0; r < layer.k; ++r) {
        for (Index c = 0; c < layer.k; ++c) layer.w[o][i](r, c) = f(double(flat++));
      }
    }
  }
}

}  // namespace

int main() {
  Planes x(2, std::vector<MatrixXd>(1, MatrixXd(8, 8)));
  Planes y(2, std::vector<MatrixXd>(2, MatrixXd(6, 6)));
  for (Index n = 0; n < 2; ++n) {
    for (Index i = 0; i < 8; ++i) {
      for (Index j = 0; j < 8; ++j) x[n][0](i, j) = std::sin(0.3 * double(i * 8 + j) + double(n));
    }
    for (Index c = 0; c < 2; ++c) {
      for (Index i = 0; i < 6; ++i) {
        for (Index j = 0; j < 6; ++j)
          y[n][c](i, j) = std::cos(0.2 * double(i * 6 + j) + double(c + n));
      }
    }
  }
  Conv conv1(1, 3, 3, 1);
  Conv conv2(3, 2, 3, 0);
  set_weights(conv1, [](double k) { return 0.2 * std::sin(1.7 * k + 0.1); });
  set_weights(conv2, [](double k) { return 0.2 * std::cos(1.3 * k); });
  for (Index c = 0; c < 3; ++c) conv1.b(c) = 0.05 * double(c);
  for (Index c = 0; c < 2; ++c) conv2.b(c) = -0.02 * double(c);

  const double count = 2 * 2 * 6 * 6;
  for (int step = 1; step <= 20; ++step) {
    Planes h = conv1.forward(x);
    for (auto& planes : h) {
      for (auto& p : planes) p = p.cwiseMax(0.0);
    }
    const Planes out = conv2.forward(h);
    double loss = 0;
    Planes dout(out.size());
    for (std::size_t n = 0; n < out.size(); ++n) {
      for (std::size_t c = 0; c < out[n].size(); ++c) {
        const MatrixXd diff = out[n][c] - y[n][c];
        loss += diff.squaredNorm() / count;
        dout[n].push_back(2 * diff / count);
      }
    }
    conv1.zero_grad();
    conv2.zero_grad();
    Planes dh = conv2.backward(dout);
    for (std::size_t n = 0; n < dh.size(); ++n) {
      for (std::size_t c = 0; c < dh[n].size(); ++c) {
        dh[n][c] = (h[n][c].array() > 0).select(dh[n][c], 0.0);
      }
    }
    conv1.backward(dh);
    adam_step(conv1, 1e-2, step);
    adam_step(conv2, 1e-2, step);
    if (step % 5 == 0) std::printf("step %d, loss %.6f\n", step, loss);
  }
  std::printf("w1[0] %.6f, w2[0] %.6f, b2[1] %.6f\n", conv1.w[0][0](0, 0), conv2.w[0][0](0, 0),
              conv2.b(1));
}
