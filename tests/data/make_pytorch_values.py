#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
"""Prints the PyTorch values that the tests embed as literals (tests/pool2d_test.cpp,
tests/conv_transpose2d_test.cpp, tests/softmax_test.cpp, tests/nn/loss_test.cpp).

An independent oracle for pooling, transposed convolution and cross-entropy: PyTorch's own
functions (Debian's python3-torch, 1.13), on small inputs given by closed formulas that the C++
test evaluates too. Run it with /usr/bin/python3 and paste its output into the test when a case
changes; nothing runs it in CI (the literals are the oracle).
"""
import torch
import torch.nn.functional as F

torch.set_printoptions(precision=17)


def pattern(shape, mul, mod, shift, scale):
    """Element i (in NCHW order) is ((i * mul) % mod - shift) / scale, as support::pattern."""
    n = 1
    for s in shape:
        n *= s
    v = [((i * mul) % mod - shift) / scale for i in range(n)]
    return torch.tensor(v, dtype=torch.float64).reshape(shape)


def show(name, t):
    flat = t.detach().reshape(-1).tolist()
    print(f"// {name}: shape {tuple(t.shape)}")
    print("{" + ", ".join(repr(float(v)) for v in flat) + "},")


def with_grads(name, f, inputs, out_weight):
    """f(*inputs), then the gradients of sum(f * out_weight) for every input."""
    leaves = [x.clone().requires_grad_(True) for x in inputs]
    y = f(*leaves)
    show(name + " output", y)
    (y * out_weight(y.shape)).sum().backward()
    for i, x in enumerate(leaves):
        show(f"{name} grad {i}", x.grad)


def weight_for(shape):
    return pattern(shape, 3, 7, 3, 2)


# ---- conv_transpose2d
x = pattern((1, 2, 2, 3), 1, 7, 3, 4)
w = pattern((2, 3, 2, 2), 5, 11, 5, 8)
b = torch.tensor([0.5, -0.25, 1.0], dtype=torch.float64)
with_grads("conv_transpose2d A (stride (2,1), padding (0,1), output_padding (1,0))",
           lambda x, w, b: F.conv_transpose2d(x, w, b, stride=(2, 1), padding=(0, 1),
                                              output_padding=(1, 0)), [x, w, b], weight_for)

x = pattern((2, 4, 3, 2), 7, 13, 6, 5)
w = pattern((4, 1, 2, 3), 3, 5, 2, 3)
with_grads("conv_transpose2d B (groups 2, stride (1,2), padding (1,0), output_padding (1,1), "
           "dilation (2,1))",
           lambda x, w: F.conv_transpose2d(x, w, None, stride=(1, 2), padding=(1, 0),
                                           output_padding=(1, 1), groups=2, dilation=(2, 1)),
           [x, w], weight_for)

one = torch.ones(1, 1, 1, 1, dtype=torch.float64)
show("conv_transpose2d with every sample cropped (stride 3, padding 1, output_padding 2)",
     F.conv_transpose2d(one, one, torch.tensor([0.5], dtype=torch.float64), stride=3, padding=1,
                        output_padding=2))

# ---- pooling; the pattern has ties (mod 5 on 40 elements)
x = pattern((1, 2, 5, 4), 3, 5, 2, 1)
with_grads("max_pool2d (3x2, stride (2,1), padding (1,1), ceil_mode)",
           lambda x: F.max_pool2d(x, (3, 2), stride=(2, 1), padding=(1, 1), ceil_mode=True),
           [x], weight_for)
_, idx = F.max_pool2d(x, (3, 2), stride=(2, 1), padding=(1, 1), ceil_mode=True,
                      return_indices=True)
show("max_pool2d indices", idx.double())
x2 = pattern((1, 1, 4, 6), 2, 3, 1, 1)
_, idx = F.max_pool2d(x2, 2, return_indices=True)
show("max_pool2d 2x2 indices (ties)", idx.double())
with_grads("avg_pool2d (3x2, stride (2,1), padding (1,1), ceil_mode)",
           lambda x: F.avg_pool2d(x, (3, 2), stride=(2, 1), padding=(1, 1), ceil_mode=True),
           [x], weight_for)
with_grads("avg_pool2d count_include_pad=False",
           lambda x: F.avg_pool2d(x, (3, 2), stride=(2, 1), padding=(1, 1), ceil_mode=True,
                                  count_include_pad=False), [x], weight_for)
nan = float("nan")
x = torch.tensor([[[[1.0, nan, 3.0, nan], [nan, 2.0, 5.0, 4.0], [7.0, 8.0, -1.0, -2.0],
                    [9.0, 9.0, 9.0, 9.0]]]], dtype=torch.float64)
for k, s in [(2, 2), (3, 1)]:
    y, idx = F.max_pool2d(x, k, stride=s, return_indices=True)
    show(f"max_pool2d with NaN ({k}x{k}, stride {s}) output", y)
    show(f"max_pool2d with NaN ({k}x{k}, stride {s}) indices", idx.double())
_, idx = F.max_pool2d(torch.full((1, 1, 3, 3), -float("inf"), dtype=torch.float64), 2, stride=1,
                      padding=1, return_indices=True)
show("max_pool2d of -inf (2x2, stride 1, padding 1) indices", idx.double())
x = pattern((1, 1, 5, 7), 5, 17, 8, 4)
with_grads("adaptive_avg_pool2d (5x7 to 3x4)", lambda x: F.adaptive_avg_pool2d(x, (3, 4)), [x],
           weight_for)
x = pattern((1, 1, 2, 3), 5, 17, 8, 4)
with_grads("adaptive_avg_pool2d (2x3 to 3x5)", lambda x: F.adaptive_avg_pool2d(x, (3, 5)), [x],
           weight_for)

# ---- cross_entropy, log_softmax
z = torch.tensor([[1000.0, -1000.0, 0.5, 999.0],
                  [0.25, -0.5, 2.0, 1.0],
                  [-1000.0, -999.0, -1000.0, -998.5]], dtype=torch.float64)
labels = torch.tensor([3, 0, 1])
for reduction in ["mean", "sum", "none"]:
    with_grads(f"cross_entropy {reduction}",
               lambda z: F.cross_entropy(z, labels, reduction=reduction), [z], weight_for)
with_grads("log_softmax", lambda z: F.log_softmax(z, dim=1), [z], weight_for)
