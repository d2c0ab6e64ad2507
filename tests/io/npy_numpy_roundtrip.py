# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
"""numpy <-> convtape .npy round trip, run by ctest: python3 npy_numpy_roundtrip.py TOOL DIR.

C++ writes (TOOL write DIR), numpy loads and checks dtype, shape and every value, and that the
file is byte-identical to np.save's; numpy writes, C++ loads and checks (TOOL read DIR). Element
k (flat, C order) of every array is value(k), exact in float32 and float64.
"""
import io
import pathlib
import subprocess
import sys

import numpy as np


BIAS_OFFSET = 7  # a layer's bias holds value(k + BIAS_OFFSET)


def value(shape, dtype, offset=0):
    k = np.arange(int(np.prod(shape)), dtype=np.int64) + offset
    return (((k * k) % 1000 - 500) / 64.0).astype(dtype).reshape(shape)


def conv2d(x, weight, bias):
    """PyTorch's conv2d (cross-correlation, stride 1, no padding, one group), by kernel taps."""
    kh, kw = weight.shape[2:]
    out_h, out_w = x.shape[2] - kh + 1, x.shape[3] - kw + 1
    y = np.zeros((x.shape[0], weight.shape[0], out_h, out_w)) + bias.reshape(1, -1, 1, 1)
    for a in range(kh):
        for b in range(kw):
            y += np.einsum("nchw,oc->nohw", x[:, :, a:a + out_h, b:b + out_w], weight[:, :, a, b])
    return y


def main():
    tool, work = sys.argv[1], pathlib.Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("*.npy"):
        old.unlink()
    failures = 0

    def check(ok, what):
        nonlocal failures
        print(("ok   " if ok else "FAIL ") + what)
        failures += 0 if ok else 1

    # C++ writes, numpy reads.
    subprocess.run([tool, "write", str(work)], check=True)
    expected = {
        "cpp_tensor_f64.npy": value((2, 3, 4, 5), np.float64),
        "cpp_tensor_f32.npy": value((1, 2, 3, 4), np.float32),
        "cpp_matrix_f64.npy": value((3, 5), np.float64),
        "cpp_matrix_f32.npy": value((3, 5), np.float32)[:2, :4],
    }
    for name, want in expected.items():
        got = np.load(work / name)
        check(got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want),
              f"numpy loads {name}: {got.dtype} {got.shape}")
        buffer = io.BytesIO()
        np.save(buffer, want)
        check((work / name).read_bytes() == buffer.getvalue(),
              f"{name} is byte-identical to np.save's file")

    # C++ saved a Conv2D<double> layer's parameters (save_parameters), an input and its output.
    weight = np.load(work / "cpp_conv_weight.npy")
    bias = np.load(work / "cpp_conv_bias.npy")
    check(weight.dtype == np.float64 and weight.shape == (3, 2, 2, 3)
          and np.array_equal(weight, value((3, 2, 2, 3), np.float64)),
          f"numpy loads the layer's weight: {weight.dtype} {weight.shape}")
    check(bias.dtype == np.float64 and bias.shape == (3,)
          and np.array_equal(bias, value((3,), np.float64, BIAS_OFFSET)),
          f"numpy loads the layer's bias as PyTorch's 1-D conv.bias: {bias.dtype} {bias.shape}")
    y = np.load(work / "cpp_conv_y.npy")
    want = conv2d(np.load(work / "cpp_conv_x.npy"), weight, bias)
    check(y.shape == want.shape and np.allclose(y, want, rtol=0, atol=1e-12),
          f"the layer's output {y.shape} is numpy's convolution with its parameters")
    weight = np.load(work / "cpp_nobias_weight.npy")
    check(weight.dtype == np.float32 and weight.shape == (2, 1, 1, 2)
          and np.array_equal(weight, value((2, 1, 1, 2), np.float32))
          and not (work / "cpp_nobias_bias.npy").exists(),
          "a layer without bias saves its float32 weight and no bias file")

    # numpy writes, C++ reads.
    np.save(work / "np_1d_f64.npy", value((7,), np.float64))
    np.save(work / "np_2d_f32.npy", value((3, 4), np.float32))
    np.save(work / "np_3d_f64.npy", value((2, 3, 4), np.float64))
    np.save(work / "np_4d_f32.npy", value((2, 2, 3, 3), np.float32))
    np.save(work / "np_4d_f64_single_plane.npy", value((1, 1, 5, 6), np.float64))
    # A layer as PyTorch saves it: float32 weight (C_out, C_in, kh, kw) and 1-D bias (C_out,).
    weight = value((3, 2, 2, 3), np.float32)
    bias = value((3,), np.float32, BIAS_OFFSET)
    np.save(work / "np_conv_weight.npy", weight)
    np.save(work / "np_conv_bias.npy", bias)
    x = value((2, 2, 4, 5), np.float64)
    np.save(work / "np_conv_x.npy", x)
    np.save(work / "np_conv_y.npy", conv2d(x, weight.astype(np.float64), bias.astype(np.float64)))
    np.save(work / "np_fortran.npy", np.asfortranarray(value((3, 4), np.float64)))
    np.save(work / "np_bigendian.npy", value((3, 4), np.dtype(">f8")))
    np.save(work / "np_int64.npy", np.arange(12, dtype="<i8").reshape(3, 4))
    result = subprocess.run([tool, "read", str(work)])
    check(result.returncode == 0, "convtape loads numpy's files")

    print(f"numpy {np.__version__}: {'all passed' if failures == 0 else f'{failures} failed'}")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
