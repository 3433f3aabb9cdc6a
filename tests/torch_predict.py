#!/usr/bin/python3
"""`chainrule predict` on a model trained by `chainrule train` equals PyTorch's
predictions with the same weights (loaded from the safetensors file with a
few lines of Python), including the stored input standardisation.

Run as:  /usr/bin/python3 tests/torch_predict.py path/to/chainrule
Exits 77 (CTest: skipped) when torch/numpy or Fashion-MNIST is not installed.
"""
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError:
    print("torch or numpy not installed: skipped")
    sys.exit(77)

DIR = os.environ.get("CR_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
IMAGES = f"{DIR}/t10k-images-idx3-ubyte.gz"


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_grad import load_chainrule_model, load_chainrule_model_raw  # noqa: E402  (the README's loader)


def read_metadata(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)).get("__metadata__", {})


def main():
    cr = sys.argv[1]
    if not os.path.exists(IMAGES):
        print(f"{IMAGES} missing: skipped")
        sys.exit(77)
    failures = 0
    with tempfile.TemporaryDirectory() as d:
        model = os.path.join(d, "m.safetensors")
        subprocess.run([cr, "train", "--data", "fashion-mnist", "--limit", "2000", "--test", "none",
                        "--epochs", "2", "--layers", "784,32,16,10", "--activation", "relu,tanh",
                        "--standardize", "--optimizer", "nesterov", "--lr", "0.05", "--quiet",
                        "--out", model], check=True)
        with gzip.open(IMAGES, "rb") as f:
            raw = f.read()
        x_u8 = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 28, 28)[:300].copy()
        np.save(os.path.join(d, "x.npy"), x_u8)
        p_data, p_npy = os.path.join(d, "p1.npy"), os.path.join(d, "p2.npy")
        subprocess.run([cr, "predict", "--model", model, "--data", "fashion-mnist:test", "--limit",
                        "300", "--out", p_data], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([cr, "predict", "--model", model, "--inputs", os.path.join(d, "x.npy"),
                        "--out", p_npy], check=True, stdout=subprocess.DEVNULL)
        net = load_chainrule_model(model)  # applies the stored standardisation itself
        assert "train.step" in read_metadata(model) and "optim.m" in load_chainrule_model_raw(model), \
            "the model is also a checkpoint"
        x = torch.from_numpy(x_u8.reshape(300, 784).astype(np.float32) / 255.0)
        with torch.no_grad():
            ref = torch.softmax(net(x), dim=1).numpy()
        for name in (p_data, p_npy):
            p = np.load(name)
            err = float(np.abs(p - ref).max())
            same_top = float((p.argmax(1) == ref.argmax(1)).mean())
            print(f"{os.path.basename(name)}: shape {p.shape}, max |chainrule - torch| = {err:.2e}, "
                  f"same argmax {same_top:.3f}")
            if p.shape != (300, 10) or err > 1e-5 or same_top < 1.0:
                failures += 1
    print("torch_predict:", "FAILED" if failures else "ok")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
