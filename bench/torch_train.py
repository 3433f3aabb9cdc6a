#!/usr/bin/python3
"""PyTorch side of bench/run.sh and bench/accuracy.sh: the same network
(784-H-10, sigmoid, softmax + cross-entropy), the same initialisation scheme
(Xavier/Glorot uniform weights, zero biases), the same data (Fashion-MNIST,
pixels / 255, optional standardisation with the training set's statistics)
and the same hyperparameters as `chainrule train`. Torch's thread settings are
left at their defaults.

  --mode accuracy  one line per epoch and "test_acc" after --epochs (bench/accuracy.sh)
  --mode time      plain SGD lr 0.1 timed for bench/compare.py, once per intra-op thread count
                   of --threads (default 1,2; torch.set_num_threads), each run starting from
                   --init MODEL's weights (chainrule safetensors; default: the Xavier init
                   above), printing "key@threads value" lines:
                     epoch_s           median of --runs epochs, batch 64, eager
                     test_acc          after those epochs (a check that every peer trains alike)
                     sgd1_us           per-example SGD, µs per example (--sgd1-examples), eager
                     epoch_compile_s   the same epoch with torch.compile(model) and a compiled
                                       optimizer step, after one untimed epoch  (PyTorch 2)
                     sgd1_compile_us   per-example SGD, compiled the same way  (PyTorch 2)
                   and "info" lines (every run, cores kept busy, peak_rss_mb, compile errors).
Runs under Debian's PyTorch 1.13 (/usr/bin/python3) and PyTorch 2 (the venv of bench/venv.sh).
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_common import emit, info, load_model, report, timed  # noqa: E402

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


def epoch(model, opt, sched, x, y, batch, loss_fn, step=None):
    perm = torch.randperm(x.shape[0])
    total = 0.0
    for i in range(0, x.shape[0], batch):
        idx_ = perm[i:i + batch]
        xb, yb = x[idx_], y[idx_]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        (step or opt.step)()
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
    ap.add_argument("--sgd1-examples", type=int, default=2000)
    ap.add_argument("--init", default=None)
    ap.add_argument("--threads", default="1,2")
    a = ap.parse_args()
    if a.mode == "time":  # plain SGD, as bench_train times it
        a.optimizer, a.schedule = "sgd", "constant"
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
    loss_fn = torch.nn.CrossEntropyLoss()
    steps = math.ceil(x.shape[0] / a.batch)
    if a.mode == "accuracy":
        print(f"torch_version {torch.__version__}")
        print(f"torch_threads {torch.get_num_threads()}")
        model = make_model(a.hidden, a.seed)
        opt, sched = make_opt(a, model, steps)
        for e in range(a.epochs):
            t0 = time.perf_counter()
            loss = epoch(model, opt, sched, x, y, a.batch, loss_fn)
            print(f"epoch {e + 1} loss {loss:.4f} test_acc {accuracy(model, xt, yt):.4f} "
                  f"{time.perf_counter() - t0:.2f}s", flush=True)
        print(f"test_acc {accuracy(model, xt, yt):.4f}")
        return
    cap = torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else "?"
    info("torch", f"{torch.__version__}, ATen CPU capability {cap}, default threads {torch.get_num_threads()}")
    model = make_model(a.hidden, a.seed)
    if a.init:
        m = load_model(a.init)
        if len(m["layers"]) != 2 or m["layers"][0][0].shape != (a.hidden, x.shape[1]):
            print(f"torch_train.py: {a.init}: not a {x.shape[1]}-{a.hidden}-10 network", file=sys.stderr)
            sys.exit(2)
        for layer, (w, b) in zip((model[0], model[2]), m["layers"]):
            layer.weight.data.copy_(torch.from_numpy(w))
            layer.bias.data.copy_(torch.from_numpy(b))
    start = [p.detach().clone() for p in model.parameters()]

    def reset():
        with torch.no_grad():
            for p, s0 in zip(model.parameters(), start):
                p.copy_(s0)
        return torch.optim.SGD(model.parameters(), lr=a.lr)

    n1 = min(a.sgd1_examples, x.shape[0])

    def sgd1(net, opt, step):
        for i in range(n1):
            opt.zero_grad(set_to_none=True)
            loss_fn(net(x[i:i + 1]), y[i:i + 1]).backward()
            step()

    for t in [int(v) for v in a.threads.split(",")]:
        torch.set_num_threads(t)
        opt = reset()
        report("epoch_s", t, 1, timed(lambda: epoch(model, opt, None, x, y, a.batch, loss_fn), a.runs, warmup=0))
        emit("test_acc", t, accuracy(model, xt, yt))
        opt = reset()
        report("sgd1_us", t, 1e6 / n1, timed(lambda: sgd1(model, opt, opt.step), 3, warmup=0))
        if not hasattr(torch, "compile"):
            continue
        try:
            opt = reset()
            cmodel = torch.compile(model)
            cstep = torch.compile(opt.step)
            report("epoch_compile_s", t, 1, timed(lambda: epoch(cmodel, opt, None, x, y, a.batch, loss_fn,
                                                                 step=cstep), a.runs, warmup=1))
            opt = reset()
            cstep = torch.compile(opt.step)
            report("sgd1_compile_us", t, 1e6 / n1, timed(lambda: sgd1(cmodel, opt, cstep), 3, warmup=1))
        except Exception as e:  # a failed compile is a result: report it and go on
            info(f"compile@{t}_error", f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")
    info("peak_rss_mb", f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")


if __name__ == "__main__":
    main()
