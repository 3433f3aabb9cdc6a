#!/usr/bin/python3
"""BatchNorm in inference mode after a linear layer, against PyTorch (torch 1.13).

PyTorch MLPs nn.Sequential(Linear, BatchNorm1d, ReLU, Linear, BatchNorm1d, Tanh,
Linear[, BatchNorm1d]) with non-trivial running statistics, gamma and beta, in
eval() mode, written by torch.onnx.export at opsets 9, 11, 13, 17 with
do_constant_folding True and False (each file is checked to hold one real
BatchNormalization node per BatchNorm1d: nothing folded into the Gemms), float32
and float64:

1. `chainrule predict` and `grad` equal PyTorch's probabilities and input
   gradients; `jacobian` (rev, fwd, closed) of the probabilities and the logits
   equals torch.autograd.functional.jacobian; `jvp` equals torch's jvp
   (float64: 1e-10 relative to the largest value, float32: 1e-5).
2. A fresh BatchNorm1d (running mean 0, variance 1: the exporter aliases them to
   gamma/beta with Identity nodes) loads and matches too.
3. ONNX -> safetensors -> ONNX keeps every number bit for bit: the safetensors
   file stores bn{l}.weight, bn{l}.bias, bn{l}.running_mean, bn{l}.running_var
   (PyTorch's names, l the linear layer the BN follows) exactly as the ONNX
   initializers (the README's PyTorch loader rebuilds the BatchNorm1d layers from
   them), and predict on the round-tripped file gives the same bytes;
   the written file passes onnx.checker and onnxruntime gives chainrule's numbers.
4. Refusals (exit 2, one line naming BatchNormalization): training mode
   (torch.onnx.export with training=TRAINING), a BatchNormalization on the input
   (before any linear layer).

Run as:  /usr/bin/python3 tests/torch_batchnorm.py path/to/chainrule
Exits 77 (skipped) only when torch is not installed.
"""
import os
import subprocess
import sys
import tempfile
import warnings

try:
    import numpy as np
    import torch
except ImportError:
    print("torch or numpy not installed: skipped")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from torch_grad import load_chainrule_model_raw as load_safetensors  # noqa: E402
from torch_grad import load_chainrule_model  # noqa: E402  (the README's loader)
import torch_onnx as t1  # noqa: E402  (ort_run: onnxruntime from the venv)
import torchutil  # noqa: E402  (check, relerr and the tally, shared)
from torchutil import check, relerr  # noqa: E402

warnings.filterwarnings("ignore")
CR = os.path.abspath(sys.argv[1])
TOL = {np.float32: 1e-5, np.float64: 1e-10}


def run(*args):
    p = subprocess.run([CR, *args], capture_output=True, text=True)
    if p.returncode != 0:
        check(False, f"chainrule {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    return p.returncode == 0


def make_net(dims, acts, bn_after, dtype, seed, fresh=()):
    """Linear layers dims[0] -> ... -> dims[-1]; a BatchNorm1d after the linear layers
    in bn_after (1-based, as fc{l}), then the activation. Stats set at random, except
    for the layers in fresh (a new BatchNorm1d: mean 0, var 1, gamma 1, beta 0)."""
    torch.manual_seed(seed)
    mods = []
    for l in range(1, len(dims)):
        lin = torch.nn.Linear(dims[l - 1], dims[l])
        mods.append(lin)
        if l in bn_after:
            # ONNX's epsilon is a float attribute: the reference uses the float32 value
            # the file states (1e-3 as a double would differ by 5e-11, 5e-10 relative
            # to the smallest variances here)
            bn = torch.nn.BatchNorm1d(dims[l], eps=float(np.float32(1e-5 if l % 2 else 1e-3)))
            if l not in fresh:
                with torch.no_grad():
                    bn.running_mean.uniform_(-0.8, 0.8)
                    bn.running_var.uniform_(0.05, 3.0)
                    bn.weight.uniform_(0.3, 2.0).mul_(torch.sign(torch.randn(dims[l])))
                    bn.bias.uniform_(-0.7, 0.7)
            mods.append(bn)
        if l < len(dims) - 1:
            mods.append({"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh,
                         "sigmoid": torch.nn.Sigmoid}[acts[l - 1]]())
    net = torch.nn.Sequential(*mods).to(torch.float64 if dtype == np.float64 else torch.float32)
    return net.eval()


def export(net, path, din, opset, fold, dtype, training=torch.onnx.TrainingMode.EVAL):
    x = torch.zeros(3, din, dtype=torch.float64 if dtype == np.float64 else torch.float32)
    torch.onnx.export(net, x, path, opset_version=opset, do_constant_folding=fold,
                      training=training, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}})


def ops(path):
    return [n.op_type for n in onnx.load(path).graph.node]


def compare(d, path, net, dtype, tag, jac=True):
    """predict, grad, jacobian (three modes, probs and logits), jvp vs PyTorch."""
    din, k = net[0].in_features, [m for m in net if isinstance(m, torch.nn.Linear)][-1].out_features
    rng = np.random.default_rng(len(tag))
    n = 6
    x = rng.uniform(-1.5, 1.5, (n, din)).astype(dtype)
    y = rng.integers(0, k, n).astype(np.int64)
    xp, yp, vp = (os.path.join(d, f) for f in ("x.npy", "y.npy", "v.npy"))
    v = rng.normal(size=(n, din)).astype(dtype)
    np.save(xp, x)
    np.save(yp, y)
    np.save(vp, v)
    tol = TOL[dtype]
    o = lambda name: os.path.join(d, name)  # noqa: E731
    worst = 0.0
    if not (run("predict", "--model", path, "--inputs", xp, "--out", o("p.npy")) and
            run("grad", "--model", path, "--inputs", xp, "--labels", yp, "--out", o("g.npy"))):
        return None
    xt = torch.from_numpy(x).requires_grad_(True)
    logits = net(xt)
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y), reduction="sum")
    (gx,) = torch.autograd.grad(loss, xt)
    e = relerr(np.load(o("p.npy")), torch.softmax(logits, 1).detach().numpy())
    check(e <= tol, f"{tag}: predict vs PyTorch {e:.2e} > {tol:g}")
    worst = max(worst, e)
    e = relerr(np.load(o("g.npy")).reshape(gx.shape), gx.numpy())
    check(e <= tol, f"{tag}: grad vs PyTorch {e:.2e} > {tol:g}")
    check(np.max(np.abs(gx.numpy())) > 1e-3, f"{tag}: the input gradient is trivially small")
    worst = max(worst, e)
    if not jac:
        return worst
    for of, f in (("probs", lambda v: torch.softmax(net(v[None]), 1)[0]),
                  ("logits", lambda v: net(v[None])[0])):
        ref = np.stack([torch.autograd.functional.jacobian(f, torch.from_numpy(x[i])).numpy()
                        for i in range(n)])
        for mode in ("rev", "fwd", "closed"):
            if not run("jacobian", "--model", path, "--inputs", xp, "--of", of, "--mode", mode,
                       "--out", o("j.npy")):
                continue
            e = relerr(np.load(o("j.npy")), ref)
            check(e <= tol, f"{tag}: jacobian --of {of} --mode {mode} vs PyTorch {e:.2e} > {tol:g}")
            worst = max(worst, e)
    if run("jvp", "--model", path, "--inputs", xp, "--tangent", vp, "--out", o("jv.npy")):
        _, ref = torch.autograd.functional.jvp(lambda t: torch.softmax(net(t), 1),
                                               torch.from_numpy(x), torch.from_numpy(v))
        e = relerr(np.load(o("jv.npy")), ref.numpy())
        check(e <= tol, f"{tag}: jvp vs PyTorch {e:.2e} > {tol:g}")
        worst = max(worst, e)
    return worst


def test_exports(d):
    print("torch.onnx.export of Linear/BatchNorm1d MLPs (worst relative error vs PyTorch):")
    cases = [("relu,tanh, BN after fc1 and fc2", [7, 9, 6, 4], ["relu", "tanh"], (1, 2), ()),
             ("BN after every layer, the last one too", [5, 8, 3], ["sigmoid"], (1, 2), ()),
             ("a fresh BatchNorm1d (Identity-aliased stats)", [6, 5, 4], ["relu"], (1,), (1,))]
    for ci, (name, dims, acts, bn_after, fresh) in enumerate(cases):
        for dtype in (np.float32, np.float64):
            net = make_net(dims, acts, bn_after, dtype, 10 + ci, fresh)
            for opset in (9, 11, 13, 17):
                for fold in (True, False):
                    tag = f"{name}, {np.dtype(dtype).name}, opset {opset}, folding {fold}"
                    path = os.path.join(d, f"bn{ci}_{opset}_{int(fold)}.onnx")
                    export(net, path, dims[0], opset, fold, dtype)
                    n_bn = ops(path).count("BatchNormalization")
                    check(n_bn == len(bn_after),
                          f"{tag}: {n_bn} BatchNormalization nodes in the export, "
                          f"expected {len(bn_after)} (folded by the exporter?)")
                    w = compare(d, path, net, dtype, tag, jac=(opset in (9, 17)))
                    if w is not None:
                        print(f"  {tag}: {w:.1e}")


def test_round_trip(d):
    print("ONNX -> safetensors -> ONNX, bit for bit:")
    for dtype in (np.float32, np.float64):
        net = make_net([7, 9, 6, 4], ["relu", "tanh"], (1, 2), dtype, 21)
        src = os.path.join(d, "rt.onnx")
        export(net, src, 7, 13, False, dtype)
        st, back = os.path.join(d, "rt.safetensors"), os.path.join(d, "rt_back.onnx")
        if not (run("convert", "--model", src, "--out", st) and
                run("convert", "--model", st, "--out", back)):
            continue
        t = load_safetensors(st)
        mods = [m for m in net if isinstance(m, torch.nn.BatchNorm1d)]
        for l, bn in zip((1, 2), mods):
            for key, ref in (("weight", bn.weight), ("bias", bn.bias),
                             ("running_mean", bn.running_mean), ("running_var", bn.running_var)):
                got = t.get(f"bn{l}.{key}")
                ok = got is not None and got.dtype == dtype and \
                    np.array_equal(got, ref.detach().numpy())
                check(ok, f"{np.dtype(dtype).name}: safetensors bn{l}.{key} "
                          f"{'missing' if got is None else 'differs from the ONNX initializer'}")

        def inits(path):
            g = onnx.load(path).graph
            return sorted((numpy_helper.to_array(i).tobytes() for i in g.initializer))

        def bn_eps(path):
            return [a.f for n in onnx.load(path).graph.node if n.op_type == "BatchNormalization"
                    for a in n.attribute if a.name == "epsilon"]

        # the README's PyTorch loader rebuilds the BatchNorm1d layers from the safetensors
        x5 = np.random.default_rng(6).uniform(-1, 1, (5, 7)).astype(dtype)
        with torch.no_grad():
            e = relerr(load_chainrule_model(st)(torch.from_numpy(x5)).numpy(),
                       net(torch.from_numpy(x5)).numpy())
        check(e <= TOL[dtype], f"{np.dtype(dtype).name}: the README's loader on the converted "
                               f"safetensors vs the PyTorch net {e:.2e}")
        check(ops(back).count("BatchNormalization") == 2,
              f"{np.dtype(dtype).name}: the written ONNX has {ops(back)}, not 2 BatchNormalization")
        check(set(inits(src)) <= set(inits(back)),
              f"{np.dtype(dtype).name}: an initializer's bytes changed in the round trip")
        check(bn_eps(src) == bn_eps(back),
              f"{np.dtype(dtype).name}: epsilon {bn_eps(src)} -> {bn_eps(back)}")
        try:
            onnx.checker.check_model(onnx.load(back), full_check=True)
        except Exception as e:  # noqa: BLE001
            check(False, f"{np.dtype(dtype).name}: onnx.checker on the written file: {e}")
        x = np.random.default_rng(4).uniform(-1, 1, (5, 7)).astype(dtype)
        xp = os.path.join(d, "rx.npy")
        np.save(xp, x)
        p1, p2 = os.path.join(d, "p1.npy"), os.path.join(d, "p2.npy")
        e = float("nan")
        if run("predict", "--model", src, "--inputs", xp, "--out", p1) and \
                run("predict", "--model", back, "--inputs", xp, "--out", p2):
            with open(p1, "rb") as a, open(p2, "rb") as b:
                check(a.read() == b.read(), f"{np.dtype(dtype).name}: predict differs after "
                                            "ONNX -> safetensors -> ONNX")
            # onnxruntime evaluates the written BatchNormalization as chainrule does
            lg = t1.ort_run(back, x, d)
            e = relerr(np.load(p2), torch.softmax(torch.from_numpy(lg.astype(np.float64)), 1).numpy())
            check(e <= TOL[dtype], f"{np.dtype(dtype).name}: onnxruntime on the written file vs "
                                   f"chainrule {e:.2e}")
        print(f"  {np.dtype(dtype).name}: bn1/bn2 tensors, epsilon and predictions identical; "
              f"onnxruntime on the written file agrees ({e:.1e})")


def refused(path, want, tag):
    xp = path + ".x.npy"
    np.save(xp, np.zeros((2, 5), np.float32))
    p = subprocess.run([CR, "predict", "--model", path, "--inputs", xp, "--out", path + ".npy"],
                       capture_output=True, text=True)
    lines = p.stderr.strip().splitlines()
    check(p.returncode == 2 and len(lines) == 1 and all(w in p.stderr for w in want),
          f"{tag}: exit {p.returncode}, stderr {p.stderr.strip()!r}, wanted {want}")
    print(f"  {tag}: {p.stderr.strip()}")


def test_refusals(d):
    print("refused:")
    net = make_net([5, 6, 3], ["relu"], (1,), np.float32, 31).train()
    path = os.path.join(d, "train.onnx")
    export(net, path, 5, 17, False, np.float32, training=torch.onnx.TrainingMode.TRAINING)
    refused(path, ["BatchNormalization", "training"], "training mode")
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.BatchNorm1d(5), torch.nn.Linear(5, 3)).eval()
    with torch.no_grad():
        net[0].running_var.uniform_(0.5, 2)
    path = os.path.join(d, "input_bn.onnx")
    export(net, path, 5, 13, False, np.float32)
    refused(path, ["BatchNormalization"], "BatchNormalization on the input")


def main():
    with tempfile.TemporaryDirectory() as d:
        test_exports(d)
        test_round_trip(d)
        test_refusals(d)
    torchutil.report()


if __name__ == "__main__":
    main()
