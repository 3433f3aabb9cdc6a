"""PyTorch's side of the input-derivative figures of bench/compare.py, in float32, the same
model and data as chainrule (bench/peer_common.py). Runs under Debian's PyTorch 1.13
(/usr/bin/python3; torch.func is functorch there) and under PyTorch 2 from the benchmark venv
(bench/venv.sh), where torch.compile is tried as well.

Usage: python torch_jacobian.py MODEL.safetensors [--runs 5] [--threads 1,2]

Times each figure once per intra-op thread count of --threads (torch.set_num_threads) and
prints "key@threads value" lines (compare.py keeps each figure's faster count):
  grad10k_ms          dJ_n/dx_n of all 10,000 test images: one batched autograd.grad of the
                      summed loss
  grad10k_func_ms     the same as vmap(grad(J_n)) (torch.func)
  grad10k_compile_ms  torch.compile(vmap(grad(J_n)))                        (PyTorch 2)
  jac_vmap_us         the 10x784 Jacobian of the probabilities per image, 1,000 images:
                      vmap(jacrev(softmax o f))
  jac_compile_us      torch.compile(vmap(jacrev(softmax o f)))              (PyTorch 2)
  jac_af_vec_us       torch.autograd.functional.jacobian(vectorize=True), per image (200)
  fgsm10k_ms          FGSM eps 0.1 over the test set, with the evaluation pass
and "info" lines: versions, ATen's CPU capability, every run, the cores kept busy, and
torch.compile's error when it fails.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_common import emit, info, load_fashion, load_model, report, standardize, threads_arg, timed  # noqa: E402

try:
    from torch.func import grad, jacrev, vmap
except ImportError:  # PyTorch 1.13
    from functorch import grad, jacrev, vmap

ACT = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}


def torch_model(m):
    layers = []
    for (w, b), act in zip(m["layers"], m["acts"]):
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        lin.weight.data.copy_(torch.from_numpy(w))
        lin.bias.data.copy_(torch.from_numpy(b))
        layers.append(lin)
        if act != "softmax":
            layers.append(ACT[act]())
    model = torch.nn.Sequential(*layers)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def abs_sum(t):
    return float(t.detach().double().abs().sum())


def try_compile(name, fn, t):
    """torch.compile(fn) and one call, or None (with the error as an info line) if it fails."""
    if not hasattr(torch, "compile"):
        return None
    try:
        c = torch.compile(fn)
        c()
        return c
    except Exception as e:  # report and go on: a failed compile is a result, not a crash
        info(f"{name}@{t}_error", f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")
        return None


def measure(model, X, Y, runs, t, sums):
    def loss1(x, y):  # one example's cross-entropy
        return F.cross_entropy(model(x)[None], y[None])

    def grad10k():
        x = X.clone().requires_grad_(True)
        loss = F.cross_entropy(model(x), Y, reduction="sum")  # dJ_n/dx_n per example
        return torch.autograd.grad(loss, x)[0]

    report("grad10k_ms", t, 1e3, timed(grad10k, runs))
    sums["grad10k_abs_sum"] = abs_sum(grad10k())
    gfunc = vmap(grad(loss1))
    report("grad10k_func_ms", t, 1e3, timed(lambda: gfunc(X, Y), runs))
    sums["grad10k_func_abs_sum"] = abs_sum(gfunc(X, Y))
    c = try_compile("grad10k_compile_ms", lambda: gfunc(X, Y), t)
    if c is not None:
        report("grad10k_compile_ms", t, 1e3, timed(c, runs))
        sums["grad10k_compile_abs_sum"] = abs_sum(c())

    X1k = X[:1000]

    def probs(x):  # one example: [784] -> [10]
        return torch.softmax(model(x), dim=-1)

    jv = vmap(jacrev(probs))
    report("jac_vmap_us", t, 1e6 / 1000, timed(lambda: jv(X1k), runs))
    sums["jac_abs_sum"] = abs_sum(jv(X1k))
    c = try_compile("jac_compile_us", lambda: jv(X1k), t)
    if c is not None:
        report("jac_compile_us", t, 1e6 / 1000, timed(c, runs))
        sums["jac_compile_abs_sum"] = abs_sum(c())
    n_af = 200  # autograd.functional is slow: 200 images, per image
    af_runs = max(1, runs // 3)
    report("jac_af_vec_us", t, 1e6 / n_af, timed(
        lambda: [torch.autograd.functional.jacobian(probs, X1k[i], vectorize=True) for i in range(n_af)], af_runs))

    def fgsm():
        g = grad10k()
        adv = (X + 0.1 * g.sign()).clamp_(0, 1)
        with torch.no_grad():
            return (model(adv).argmax(1) == Y).float().mean().item()

    report("fgsm10k_ms", t, 1e3, timed(fgsm, runs))
    emit("fgsm_acc", t, fgsm())


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("--"):
        print("usage: torch_jacobian.py MODEL.safetensors [--runs 5] [--threads 1,2]", file=sys.stderr)
        sys.exit(2)
    m = load_model(args[0])
    model = torch_model(m)
    runs = int(args[args.index("--runs") + 1]) if "--runs" in args else 5
    xt, yt = load_fashion("test")
    X, Y = torch.from_numpy(standardize(m, xt)), torch.from_numpy(yt)
    cap = torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else "?"
    info("torch", f"{torch.__version__}, ATen CPU capability {cap}, default threads {torch.get_num_threads()}")
    sums = {}
    for t in threads_arg(args):
        torch.set_num_threads(t)
        measure(model, X, Y, runs, t, sums)
    for k, v in sums.items():
        info(k, f"{v:.9e}")


if __name__ == "__main__":
    main()
