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


def value(shape, dtype):
    k = np.arange(int(np.prod(shape)), dtype=np.int64)
    return (((k * k) % 1000 - 500) / 64.0).astype(dtype).reshape(shape)


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

    # numpy writes, C++ reads.
    np.save(work / "np_1d_f64.npy", value((7,), np.float64))
    np.save(work / "np_2d_f32.npy", value((3, 4), np.float32))
    np.save(work / "np_3d_f64.npy", value((2, 3, 4), np.float64))
    np.save(work / "np_4d_f32.npy", value((2, 2, 3, 3), np.float32))
    np.save(work / "np_4d_f64_single_plane.npy", value((1, 1, 5, 6), np.float64))
    np.save(work / "np_fortran.npy", np.asfortranarray(value((3, 4), np.float64)))
    np.save(work / "np_bigendian.npy", value((3, 4), np.dtype(">f8")))
    np.save(work / "np_int64.npy", np.arange(12, dtype="<i8").reshape(3, 4))
    result = subprocess.run([tool, "read", str(work)])
    check(result.returncode == 0, "convtape loads numpy's files")

    print(f"numpy {np.__version__}: {'all passed' if failures == 0 else f'{failures} failed'}")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
