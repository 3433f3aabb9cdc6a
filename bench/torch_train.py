#!/usr/bin/python3
"""PyTorch side of bench/run.sh and bench/accuracy.sh: the same network
(784-H-10, sigmoid, softmax + cross-entropy), the same initialisation scheme
(Xavier/Glorot uniform weights, zero biases), the same data (Fashion-MNIST,
pixels / 255, optional standardisation with the training set's statistics)
and the same hyperparameters as `chainrule train`. Torch's thread settings are
left at their defaults.

Prints "key value" lines:
  --mode time      epoch_s (median of --runs epochs), sgd1_us, peak_rss_mb, test_acc
  --mode accuracy  one line per epoch and test_acc after --epochs
Run with /usr/bin/python3 (Debian's python3-torch).
"""
import argparse
import gzip
import math
import os
import resource
import statistics
import sys
import time

import numpy as np

try:
    import torch
except ImportError:
    print("torch_train.py: PyTorch is not installed (apt install python3-torch)", file=sys.stderr)
    sys.exit(77)

DIR = os.environ.get("CR_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def idx(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split):
    p = "train" if split == "train" else "t10k"
    x = idx(f"{DIR}/{p}-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0
    y = idx(f"{DIR}/{p}-labels-idx1-ubyte.gz").astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def make_model(hidden, seed):
    torch.manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Linear(784, hidden), torch.nn.Sigmoid(),
                            torch.nn.Linear(hidden, 10))
    for layer in (m[0], m[2]):
        torch.nn.init.xavier_uniform_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    return m


def make_opt(a, model, steps_per_epoch):
    p = model.parameters()
    if a.optimizer == "sgd":
        opt = torch.optim.SGD(p, lr=a.lr, weight_decay=a.weight_decay)
    elif a.optimizer in ("momentum", "nesterov"):
        opt = torch.optim.SGD(p, lr=a.lr, momentum=a.momentum, nesterov=a.optimizer == "nesterov",
                              weight_decay=a.weight_decay)
    else:
        opt = torch.optim.Adam(p, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=a.weight_decay)
    sched = None
    if a.schedule == "cosine":  # per step, like chainrule
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs * steps_per_epoch)
    elif a.schedule == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=steps_per_epoch, gamma=0.1)
    return opt, sched


def epoch(model, opt, sched, x, y, batch, loss_fn):
    perm = torch.randperm(x.shape[0])
    total = 0.0
    for i in range(0, x.shape[0], batch):
        idx_ = perm[i:i + batch]
        xb, yb = x[idx_], y[idx_]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        total += loss.item() * xb.shape[0]
    return total / x.shape[0]


def accuracy(model, x, y):
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["time", "accuracy"], default="accuracy")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--optimizer", default="adam")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--schedule", default="cosine")
    ap.add_argument("--standardize", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sgd1-examples", type=int, default=5000)
    a = ap.parse_args()
    if a.lr is None:
        a.lr = 0.002 if a.optimizer == "adam" else 0.1
    x, y = load("train")
    xt, yt = load("test")
    if a.standardize:
        mean = x.double().mean(0)
        std = x.double().std(0, unbiased=False)
        std[std < 1e-6] = 1.0
        x = ((x - mean.float()) / std.float()).contiguous()
        xt = ((xt - mean.float()) / std.float()).contiguous()
    print(f"torch_version {torch.__version__}")
    print(f"torch_threads {torch.get_num_threads()}")
    loss_fn = torch.nn.CrossEntropyLoss()
    steps = math.ceil(x.shape[0] / a.batch)
    model = make_model(a.hidden, a.seed)
    if a.mode == "accuracy":
        opt, sched = make_opt(a, model, steps)
        for e in range(a.epochs):
            t0 = time.perf_counter()
            loss = epoch(model, opt, sched, x, y, a.batch, loss_fn)
            print(f"epoch {e + 1} loss {loss:.4f} test_acc {accuracy(model, xt, yt):.4f} "
                  f"{time.perf_counter() - t0:.2f}s", flush=True)
        print(f"test_acc {accuracy(model, xt, yt):.4f}")
        return
    # --mode time: plain SGD, as bench_train times it
    a.optimizer, a.schedule = "sgd", "constant"
    opt, sched = make_opt(a, model, steps)
    times = []
    for r in range(a.runs):
        t0 = time.perf_counter()
        loss = epoch(model, opt, sched, x, y, a.batch, loss_fn)
        times.append(time.perf_counter() - t0)
        print(f"epoch_run {r} {times[-1]:.4f} s loss {loss:.4f}", flush=True)
    print(f"epoch_s {statistics.median(times):.4f}")
    print(f"test_acc {accuracy(model, xt, yt):.4f}")
    # per-example SGD
    model = make_model(a.hidden, a.seed)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr)
    n = min(a.sgd1_examples, x.shape[0])
    us = []
    for r in range(3):
        t0 = time.perf_counter()
        for i in range(n):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[i:i + 1]), y[i:i + 1]).backward()
            opt.step()
        us.append((time.perf_counter() - t0) / n * 1e6)
    print(f"sgd1_us {statistics.median(us):.2f}")
    print(f"peak_rss_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")


if __name__ == "__main__":
    main()
