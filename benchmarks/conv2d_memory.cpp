// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
//
// Peak memory of one forward + backward pass of the ResNet block layer (B: N=8, 64 -> 64, 56x56,
// 3x3, pad 1, float32), against the bound
//
//   inputs (x, weight, bias, grad_out) + outputs (y) + gradients (dx, dweight, dbias)
//   + one image's im2col (C_in * kh * kw x H_out * W_out)                        + 10%.
//
// Measured as the growth of the process's peak resident set (getrusage ru_maxrss) over the
// resident set just before the inputs are allocated, so it counts every byte conv2d touched,
// allocator overhead included. Prints one line per quantity, then PASS or FAIL; exits 1 on
// FAIL. Usage: conv2d_memory [threads]
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "convtape/conv2d.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

/// Current resident set in bytes (/proc/self/statm), or -1.
double resident_bytes() {
  std::ifstream f("/proc/self/statm");
  double pages = 0;
  double resident = 0;
  if (!(f >> pages >> resident)) return -1;
  return resident * 4096.0;
}

double peak_resident_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) * 1024.0;
}

double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

}  // namespace

int main(int argc, char** argv) {
  using convtape::Index;
  using convtape::Tensor;
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
#ifdef _OPENMP
  omp_set_num_threads(threads);
#else
  if (threads != 1) std::printf("built without OpenMP: running single-threaded\n");
#endif
  const Index n = 8, c = 64, o = 64, h = 56, k = 3;
  const auto opts = convtape::Conv2dOptions().padding(1);
  const double start = resident_bytes();

  Tensor<float> x(n, c, h, h);
  Tensor<float> weight(o, c, k, k);
  Tensor<float> grad_out(n, o, h, h);
  convtape::VectorX<float> bias = convtape::VectorX<float>::Ones(o);
  x.setConstant(0.5f);
  weight.setConstant(0.25f);
  grad_out.setConstant(1.f);
  const double inputs = double(x.size() + weight.size() + grad_out.size() + bias.size()) * 4;

  const Tensor<float> y = convtape::conv2d(x, weight, bias, opts);
  const convtape::Conv2dGrads<float> g = convtape::conv2d_backward(x, weight, grad_out, opts);
  const double outputs = double(y.size()) * 4;
  const double gradients = double(g.input.size() + g.weight.size() + g.bias.size()) * 4;
  const double im2col = double(c * k * k) * double(h * h) * 4;

  const double used = peak_resident_bytes() - start;
  const double bound = 1.1 * (inputs + outputs + gradients + im2col);
  std::printf("threads                      %d\n", threads);
  std::printf("inputs (x, w, b, grad_out)   %8.2f MiB\n", mib(inputs));
  std::printf("outputs (y)                  %8.2f MiB\n", mib(outputs));
  std::printf("gradients (dx, dw, db)       %8.2f MiB\n", mib(gradients));
  std::printf("one image's im2col           %8.2f MiB\n", mib(im2col));
  std::printf("bound (sum + 10%%)            %8.2f MiB\n", mib(bound));
  std::printf("measured peak growth         %8.2f MiB\n", mib(used));
  std::printf("  of which beyond tensors    %8.2f MiB (workspace, allocator)\n",
              mib(used - inputs - outputs - gradients));
  std::printf("checksum                     %g\n", double(y(0, 0, 0, 0) + g.input(0, 0, 0, 0)));
  const bool pass = used <= bound;
  std::printf("%s\n", pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}
