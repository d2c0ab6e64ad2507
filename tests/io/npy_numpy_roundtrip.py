# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
"""numpy <-> convtape .npy and .npz round trip, run by ctest: python3 npy_numpy_roundtrip.py TOOL DIR.

C++ writes (TOOL write DIR), numpy loads and checks dtype, shape and every value, and that a .npy
file is byte-identical to np.save's; numpy writes, C++ loads and checks (TOOL read DIR). Element
k (flat, C order) of every array is value(k), exact in float32 and float64. The .npz files hold a
LeNet's parameters in PyTorch's state_dict naming and layout; where PyTorch is installed, the
C++ file is also loaded into d2l's LeNet as an nn.Sequential (load_state_dict, strict).
"""
import io
import pathlib
import subprocess
import sys

import numpy as np


BIAS_OFFSET = 7  # a layer's bias holds value(k + BIAS_OFFSET)

# d2l's LeNet as nn.Sequential names its parameters; array i holds value(k + 100 * i).
LENET = [("0.weight", (6, 1, 5, 5)), ("0.bias", (6,)), ("3.weight", (16, 6, 5, 5)),
         ("3.bias", (16,)), ("7.weight", (120, 400)), ("7.bias", (120,)),
         ("9.weight", (84, 120)), ("9.bias", (84,)), ("11.weight", (10, 84)), ("11.bias", (10,))]


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


def lenet_arrays():
    return {name: value(shape, np.float32, 100 * i) for i, (name, shape) in enumerate(LENET)}


class Unseekable(io.RawIOBase):
    """A write-only stream: zipfile then writes data descriptors instead of seeking back."""

    def __init__(self, f):
        self.f = f

    def writable(self):
        return True

    def write(self, b):
        return self.f.write(b)


def check_torch(path, check):
    """Loads the C++ .npz into d2l's LeNet in PyTorch, if PyTorch is installed."""
    try:
        import torch
        from torch import nn
    except ImportError:
        print("skip PyTorch's load_state_dict (no torch)")
        return
    net = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(2, stride=2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))
    with np.load(path) as f:
        result = net.load_state_dict({k: torch.from_numpy(v) for k, v in f.items()}, strict=True)
    sd = net.state_dict()
    check(not result.missing_keys and not result.unexpected_keys
          and all(np.array_equal(sd[name].numpy(), value(shape, np.float32, 100 * i))
                  for i, (name, shape) in enumerate(LENET)),
          f"PyTorch {torch.__version__} loads {path.name} into LeNet (load_state_dict, strict)")


def main():
    tool, work = sys.argv[1], pathlib.Path(sys.argv[2])
    work.mkdir(parents=True, exist_ok=True)
    for old in [*work.glob("*.npy"), *work.glob("*.npz")]:
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

    # C++ saved .npz files.
    with np.load(work / "cpp_lenet.npz") as f:
        got = {k: f[k] for k in f.files}
        check(f.files == [name for name, _ in LENET],
              f"numpy lists the LeNet's arrays in their order: {f.files}")
    want = lenet_arrays()
    check(all(got[k].dtype == np.float32 and got[k].shape == want[k].shape
              and np.array_equal(got[k], want[k]) for k in want),
          "numpy loads cpp_lenet.npz: float32, PyTorch's shapes, every value")
    check_torch(work / "cpp_lenet.npz", check)
    with np.load(work / "cpp_misc.npz") as f:
        misc = {k: f[k] for k in f.files}
    check(set(misc) == {"step", "matrix", "a/b", "temp\u00e9rature"}
          and misc["step"].shape == () and misc["step"] == 3.0
          and np.array_equal(misc["matrix"], value((3, 4), np.float64))
          and np.array_equal(misc["a/b"], value((4,), np.float64, 5))
          and np.array_equal(misc["temp\u00e9rature"], value((2,), np.float64))
          and all(v.dtype == np.float64 for v in misc.values()),
          f"numpy loads cpp_misc.npz: 0-D, nested and UTF-8 names {sorted(misc)}")

    # numpy writes, C++ reads.
    for old in work.glob("np_*.npz"):
        old.unlink()
    np.savez(work / "np_lenet.npz", **lenet_arrays())
    with open(work / "np_lenet_unseekable.npz", "wb") as f:
        np.savez(Unseekable(f), **lenet_arrays())
    np.savez(work / "np_misc.npz", step=np.float64(3), matrix=value((3, 4), np.float64),
             **{"a/b": value((4,), np.float64, 5), "temp\u00e9rature": value((2,), np.float64)})
    np.savez_compressed(work / "np_compressed.npz", **lenet_arrays())
    np.savez(work / "np_int64.npz", i=np.arange(3, dtype="<i8"))
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
