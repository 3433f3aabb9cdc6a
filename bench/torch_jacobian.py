#!/usr/bin/python3
"""PyTorch's side of bench/run_jacobian.sh: the same figures as bench_jacobian.c.

Usage: /usr/bin/python3 bench/torch_jacobian.py MODEL.safetensors [--runs 7] [--threads 1,2] [--ours OURS.txt]

Loads the chainrule model (safetensors header parsed with json + struct, tensors
with numpy), the Fashion-MNIST test set from the IDX files, and times in float32
once per intra-op thread count of --threads (torch.set_num_threads; default: torch's
own default, which is 1 on this Debian build), keeping each figure's fastest count:
  grad10k_ms        dJ_n/dx_n of all 10,000 test images (summed loss, autograd.grad)
  jac_af_us         torch.autograd.functional.jacobian per image (1,000 images)
  jac_af_vec_us     the same with vectorize=True
  jac_vmap_us       functorch.vmap(functorch.jacrev(f)) over the 1,000 images
  fgsm10k_ms        FGSM eps 0.1 over the test set, with the evaluation pass
With --ours, prints the side-by-side table with ratios (torch time / ours).
"""
import gzip
import json
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

try:
    import functorch
except ImportError:  # torch >= 2 has torch.func
    functorch = None


def load_model(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__")
    dt = {"F32": np.float32, "F64": np.float64}
    t = {k: torch.from_numpy(np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]],
                                           dtype=dt[v["dtype"]]).reshape(v["shape"]).copy()).float()
         for k, v in header.items()}
    acts = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}
    layers = []
    for i, act in enumerate(meta["activations"].split(","), start=1):
        w, b = t[f"fc{i}.weight"], t[f"fc{i}.bias"]
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        lin.weight.data.copy_(w)
        lin.bias.data.copy_(b)
        layers.append(lin)
        if act != "softmax":
            layers.append(acts[act]())
    model = torch.nn.Sequential(*layers)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def load_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def timeit(fn, runs):
    fn()  # warm-up
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def measure(model, X, Y, runs):
    """The figures at the current thread count."""
    res = {}

    def grad10k():
        x = X.clone().requires_grad_(True)
        loss = F.cross_entropy(model(x), Y, reduction="sum")  # dJ_n/dx_n per example
        return torch.autograd.grad(loss, x)[0]

    res["grad10k_ms"] = 1e3 * timeit(grad10k, runs)

    X1k = X[:1000]
    probs = lambda x: torch.softmax(model(x), dim=-1)  # one example: [784] -> [10]
    n_af = 200  # autograd.functional is slow; time 200 images and scale per image
    res["jac_af_us"] = 1e6 * timeit(
        lambda: [torch.autograd.functional.jacobian(probs, X1k[i]) for i in range(n_af)], max(1, runs // 3)) / n_af
    res["jac_af_vec_us"] = 1e6 * timeit(
        lambda: [torch.autograd.functional.jacobian(probs, X1k[i], vectorize=True) for i in range(n_af)],
        max(1, runs // 3)) / n_af
    if functorch is not None:
        jv = functorch.vmap(functorch.jacrev(probs))
        res["jac_vmap_us"] = 1e6 * timeit(lambda: jv(X1k), runs) / 1000

    def fgsm():
        x = X.clone().requires_grad_(True)
        loss = F.cross_entropy(model(x), Y, reduction="sum")
        g, = torch.autograd.grad(loss, x)
        adv = (X + 0.1 * g.sign()).clamp_(0, 1)
        with torch.no_grad():
            return (model(adv).argmax(1) == Y).float().mean().item()

    res["fgsm10k_ms"] = 1e3 * timeit(fgsm, runs)
    res["fgsm_acc"] = fgsm()
    return res


def main():
    args = sys.argv[1:]
    model = load_model(args[0])
    runs = int(args[args.index("--runs") + 1]) if "--runs" in args else 7
    ours_path = args[args.index("--ours") + 1] if "--ours" in args else None
    threads = [int(t) for t in args[args.index("--threads") + 1].split(",")] if "--threads" in args \
        else [torch.get_num_threads()]
    d = "/usr/share/datasets/fashion-mnist/"
    X = torch.from_numpy(load_idx(d + "t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255)
    Y = torch.from_numpy(load_idx(d + "t10k-labels-idx1-ubyte.gz").astype(np.int64))
    print(f"torch {torch.__version__}, threads {','.join(map(str, threads))} (fastest kept), runs {runs}")
    res, best_threads = {}, {}
    for t in threads:
        torch.set_num_threads(t)
        for key, value in measure(model, X, Y, runs).items():
            if key not in res or (key != "fgsm_acc" and value < res[key]):
                res[key], best_threads[key] = value, t
    for k, v in res.items():
        print(f"{k} {v:.4f}  (threads {best_threads[k]})")

    if ours_path:
        ours = {}
        for line in open(ours_path):
            p = line.split()
            if len(p) == 2:
                try:
                    ours[p[0]] = float(p[1])
                except ValueError:
                    pass
        rows = [
            ("dJ/dx, 10,000 test images (ms)", "grad10k_ms", "grad10k_ms", "batched autograd.grad"),
            ("10x784 Jacobian per image (us)", "jac_closed_us", "jac_vmap_us", "vmap(jacrev)"),
            ("10x784 Jacobian per image (us)", "jac_closed_us", "jac_af_vec_us", "autograd.functional, vectorize=True"),
            ("10x784 Jacobian per image (us)", "jac_closed_us", "jac_af_us", "autograd.functional"),
            ("10x784 Jacobian per image, rev (us)", "jac_rev_us", "jac_vmap_us", "vmap(jacrev)"),
            ("FGSM over 10,000 images (ms)", "fgsm10k_ms", "fgsm10k_ms", "autograd.grad + sign"),
        ]
        print()
        print(f"| {'task':38} | {'chainrule':>10} | {'PyTorch':>10} | {'PyTorch / chainrule':>19} | PyTorch method")
        print(f"|{'-' * 40}|{'-' * 12}|{'-' * 12}|{'-' * 21}|{'-' * 20}")
        for name, ok, tk, how in rows:
            if ok in ours and tk in res:
                print(f"| {name:38} | {ours[ok]:10.2f} | {res[tk]:10.2f} | {res[tk] / ours[ok]:18.1f}x | "
                      f"{how} ({best_threads[tk]} thread{'s' if best_threads[tk] > 1 else ''})")
        if "fgsm_acc" in ours:
            print(f"\nFGSM eps 0.1 accuracy: chainrule {ours['fgsm_acc']:.4f}, PyTorch {res['fgsm_acc']:.4f}"
                  f" (clean {ours.get('clean_acc', float('nan')):.4f})")


if __name__ == "__main__":
    main()
