# SPDX-License-Identifier: MIT
# SPDX-FileCopyrightText: 2026 The convtape authors
"""The lenet example's saved model, opened by numpy (and PyTorch where installed); run by ctest:
python3 lenet_npz_check.py LENET DIR.

Trains --modern for one epoch on 1000 images, saving to DIR/lenet.npz; numpy must find PyTorch's
state_dict names for d2l's nn.Sequential with their shapes, float32, plus the optimizer.* (Adam's
exp_avg.i / exp_avg_sq.i shaped like parameter i, step) and training.* arrays the example
documents. Where PyTorch is installed, the state_dict is loaded (strict) into the same
nn.Sequential, which must classify the 1000 test images lenet scored as lenet did (its printed
test accuracy, to one image). Exits 77 (skip) when the data set is not installed.
"""
import gzip
import pathlib
import re
import subprocess
import sys

import numpy as np

LENET = [("0.weight", (6, 1, 5, 5)), ("0.bias", (6,)), ("3.weight", (16, 6, 5, 5)),
         ("3.bias", (16,)), ("7.weight", (120, 400)), ("7.bias", (120,)),
         ("9.weight", (84, 120)), ("9.bias", (84,)), ("11.weight", (10, 84)), ("11.bias", (10,))]
DATA = "/usr/share/datasets/fashion-mnist/"
TEST = 1000


def main():
    lenet, out = sys.argv[1], pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    path = out / "lenet.npz"
    run = subprocess.run([lenet, "--modern", "--limit", "1000", "--test-limit", str(TEST),
                          "--epochs", "1", "--batch", "64", "--save", str(path)],
                         capture_output=True, text=True)
    print(run.stdout, run.stderr, end="")
    if run.returncode == 77:
        print("SKIPPED: the data set is not installed")
        return 77
    if run.returncode != 0:
        raise SystemExit(f"lenet exited with {run.returncode}")
    printed = float(re.search(r"test acc ([0-9.]+)", run.stdout).group(1))

    f = np.load(path)
    expected = dict(LENET)
    for i, (name, shape) in enumerate(LENET):
        expected[f"optimizer.exp_avg.{i}"] = shape
        expected[f"optimizer.exp_avg_sq.{i}"] = shape
    expected.update({"optimizer.step": (1,), "training.epoch": (1,), "training.seed": (4,),
                     "training.modern": (1,), "training.history": (1, 3)})
    assert sorted(f.files) == sorted(expected), f"names {sorted(f.files)}"
    for name, shape in expected.items():
        assert f[name].shape == shape, f"{name}: shape {f[name].shape}, expected {shape}"
        assert f[name].dtype == np.float32, f"{name}: dtype {f[name].dtype}"
    assert f["optimizer.step"][0] == 16, "1000 images in batches of 64 are 16 Adam steps"
    assert f["training.epoch"][0] == 1 and f["training.modern"][0] == 1
    assert abs(f["training.history"][0, 2] - printed) < 1e-3
    print(f"numpy: {len(f.files)} arrays with the expected names, shapes and dtype float32")

    try:
        import torch
        from torch import nn
    except ImportError:
        print("PyTorch not installed: state_dict not loaded into nn.Sequential")
        return 0
    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
                        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),
                        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                        nn.Linear(84, 10))
    net.load_state_dict({k: torch.from_numpy(f[k]) for k in f.files if k[0].isdigit()})
    with gzip.open(DATA + "t10k-images-idx3-ubyte.gz") as g:
        x = np.frombuffer(g.read(), np.uint8, offset=16)[:TEST * 784]
    with gzip.open(DATA + "t10k-labels-idx1-ubyte.gz") as g:
        y = np.frombuffer(g.read(), np.uint8, offset=8)[:TEST].astype(np.int64)
    x = torch.from_numpy(x.reshape(TEST, 1, 28, 28).astype(np.float32) / 255)
    with torch.no_grad():
        correct = (net(x).argmax(1) == torch.from_numpy(y)).sum().item()
    assert abs(correct - round(printed * TEST)) <= 1, f"PyTorch: {correct} right, lenet {printed}"
    print(f"PyTorch: nn.Sequential loaded the state_dict and got {correct}/{TEST} right, "
          f"as lenet printed ({printed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
