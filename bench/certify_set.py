#!/usr/bin/python3
"""
A VNN-COMP-style benchmark set for `chainrule certify` (issue 16, Targets), reproducible
from this one script: two Fashion-MNIST MLPs trained by PyTorch with fixed seeds,

    fmnist_sigmoid_6x200.onnx   6 hidden layers of 200 sigmoid units
    fmnist_relu_9x200.onnx      9 hidden layers of 200 relu units

exported by torch.onnx.export with the input normalisation as Sub/Div nodes (the ERAN nets'
convention: input x in [0,1]^784, (x - mean) / std first), and per net 36 L-inf VNN-LIB
specifications around the first 36 correctly classified test images (VNN-COMP's ERAN
files: X_i in [x_i - eps, x_i + eps] clipped to [0,1]; the unsafe set is the OR over j != label
of Y_j >= Y_label). eps is chosen per net on a grid so that a PyTorch PGD (margin loss,
restarts) breaks about a quarter of the 36 (the issue's rule), unless --eps is given.

Writes into OUT (default build/certify-set; nothing goes into the repository):
    NET.onnx, NET.npz (the float32 weights, for bench/certify_lirpa.py),
    specs/NET_idx_I_eps_E.vnnlib, boxes_NET.npz (x, label, idx, eps), instances.csv
    (VNN-COMP's onnx,vnnlib,timeout triples), info.txt (accuracies, eps, PGD counts).

    /usr/bin/python3 bench/certify_set.py [--out DIR] [--epochs N] [--n 36] [--eps-relu E]
        [--eps-sigmoid E] [--tiny]     (--tiny: a 3x16 relu net, 4 specs, for the ctest)
"""
import argparse
import gzip
import os
import sys
import time

import numpy as np
import torch

DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST's training-set pixel mean and std


def idx_read(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims)


def load(data):
    def xs(name):
        return idx_read(os.path.join(data, name)).reshape(-1, 784).astype(np.float32) / 255.0

    return (xs("train-images-idx3-ubyte.gz"), idx_read(os.path.join(data, "train-labels-idx1-ubyte.gz")).astype(np.int64),
            xs("t10k-images-idx3-ubyte.gz"), idx_read(os.path.join(data, "t10k-labels-idx1-ubyte.gz")).astype(np.int64))


class Normalize(torch.nn.Module):
    def forward(self, x):
        return (x - MEAN) / STD  # exported as Sub and Div


def make_net(act, depth, width, d=784, k=10):
    mods = [Normalize()]
    for i in range(depth):
        mods += [torch.nn.Linear(d if i == 0 else width, width), act()]
    mods.append(torch.nn.Linear(width, k))
    return torch.nn.Sequential(*mods)


def train(net, X, y, epochs, seed, lr=1e-3, batch=128):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(epochs):
        perm = torch.randperm(len(Xt), generator=g)
        for s in range(0, len(Xt), batch):
            b = perm[s:s + batch]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(Xt[b]), yt[b]).backward()
            opt.step()
    return net


def pgd_broken(net, x, y, eps, steps=40, restarts=4, seed=0):
    """Which of the examples a margin PGD breaks within the L-inf ball clipped to [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    lo, hi = (x - eps).clamp(0, 1), (x + eps).clamp(0, 1)
    broken = torch.zeros(len(x), dtype=torch.bool)
    for r in range(restarts):
        z = lo + (hi - lo) * torch.rand(x.shape, generator=g) if r else x.clone()
        for _ in range(steps):
            z.requires_grad_(True)
            o = net(z)
            other = o.clone()
            other[torch.arange(len(y)), y] = -float("inf")
            margin = o[torch.arange(len(y)), y] - other.max(1).values
            broken |= (margin < 0).detach()
            (grad,) = torch.autograd.grad(margin.sum(), z)
            z = torch.min(torch.max(z.detach() - eps / 4 * grad.sign(), lo), hi)
        with torch.no_grad():
            o = net(z)
            broken |= o.argmax(1) != y
    return broken.numpy()


def vnnlib(x, label, eps, k=10):
    lo, hi = np.clip(x.astype(np.float64) - eps, 0, 1), np.clip(x.astype(np.float64) + eps, 0, 1)
    out = [f"; Fashion-MNIST L-inf property, label {label}, eps {eps}"]
    out += [f"(declare-const X_{i} Real)" for i in range(len(x))]
    out += [f"(declare-const Y_{j} Real)" for j in range(k)]
    out.append("; Input constraints:")
    for i in range(len(x)):
        out.append(f"(assert (<= X_{i} {hi[i]:.17g}))")
        out.append(f"(assert (>= X_{i} {lo[i]:.17g}))")
    out.append("; Output constraints:")
    out.append("(assert (or")
    out += [f"    (and (>= Y_{j} Y_{label}))" for j in range(k) if j != label]
    out.append("))")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="build/certify-set")
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--n", type=int, default=36)
    ap.add_argument("--eps-relu", type=float)
    ap.add_argument("--eps-sigmoid", type=float)
    ap.add_argument("--timeout", type=int, default=300, help="the timeout column of instances.csv")
    ap.add_argument("--tiny", action="store_true", help="a 3x16 relu net on 6000 images, 2 epochs, 4 specs")
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(os.path.join(a.out, "specs"), exist_ok=True)
    Xtr, ytr, Xte, yte = load(a.data)
    if a.tiny:
        nets = [("fmnist_relu_3x16", torch.nn.ReLU, 3, 16, a.eps_relu)]
        Xtr, ytr, a.epochs, a.n = Xtr[:6000], ytr[:6000], 2, min(a.n, 4)
    else:
        nets = [("fmnist_sigmoid_6x200", torch.nn.Sigmoid, 6, 200, a.eps_sigmoid),
                ("fmnist_relu_9x200", torch.nn.ReLU, 9, 200, a.eps_relu)]
    info, csv = [], []
    grid = [0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01, 0.012, 0.014, 0.016, 0.018, 0.02, 0.022, 0.024,
            0.026, 0.028, 0.03, 0.033, 0.036, 0.04, 0.045, 0.05]
    for seed, (name, act, depth, width, eps) in enumerate(nets):
        torch.manual_seed(1000 + seed)
        net = make_net(act, depth, width)
        t0 = time.time()
        train(net, Xtr, ytr, a.epochs, seed=2000 + seed, lr=1e-2 if a.tiny else 1e-3)
        secs = time.time() - t0
        net.eval()
        with torch.no_grad():
            pred = net(torch.from_numpy(Xte)).argmax(1).numpy()
        acc = float((pred == yte).mean())
        idx = np.flatnonzero(pred == yte)[:a.n]
        x, y = Xte[idx], yte[idx]
        target = round(len(idx) / 4)
        if eps is None:  # the grid point whose PGD count is nearest a quarter (the smaller on ties)
            counts = []
            for e in grid:
                counts.append(int(pgd_broken(net, x, y, e).sum()))
                if counts[-1] > 2 * target:
                    break
            best = min(range(len(counts)), key=lambda i: (abs(counts[i] - target), i))
            eps = grid[best]
        broken = pgd_broken(net, x, y, eps)
        torch.onnx.export(net, torch.zeros(1, 784), os.path.join(a.out, name + ".onnx"), input_names=["x"],
                          output_names=["y"], opset_version=13)
        lin = [m for m in net if isinstance(m, torch.nn.Linear)]
        np.savez(os.path.join(a.out, name + ".npz"), act=act.__name__.lower(), mean=MEAN, std=STD,
                 **{f"W{i}": m.weight.detach().numpy() for i, m in enumerate(lin)},
                 **{f"b{i}": m.bias.detach().numpy() for i, m in enumerate(lin)})
        np.savez(os.path.join(a.out, f"boxes_{name}.npz"), x=x, label=y, idx=idx, eps=eps, pgd_broken=broken)
        for i, (xi, yi) in zip(idx, zip(x, y)):
            spec = f"specs/{name}_idx_{i}_eps_{eps:.5f}.vnnlib"
            with open(os.path.join(a.out, spec), "w") as f:
                f.write(vnnlib(xi, int(yi), eps))
            csv.append(f"{name}.onnx,{spec},{a.timeout}")
        line = (f"{name}: {a.epochs} epochs in {secs:.0f} s (1 thread), test accuracy {acc:.4f}; eps {eps} "
                f"(pixels in [0,1]); PGD breaks {int(broken.sum())} of {len(idx)}")
        print(line, flush=True)
        info.append(line)
    with open(os.path.join(a.out, "instances.csv"), "w") as f:
        f.write("\n".join(csv) + "\n")
    with open(os.path.join(a.out, "info.txt"), "w") as f:
        f.write("\n".join(info) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
