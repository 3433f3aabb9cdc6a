#!/usr/bin/python3
"""Cross-check of `chainrule grad` against PyTorch (an independent implementation).

Run as:  /usr/bin/python3 tests/torch_grad.py path/to/chainrule
Exits 77 (CTest: skipped) when torch or numpy is not installed.

For float64 models dJ_n/dx_n and every parameter gradient of the mean loss must
agree to 1e-10 relative error; for float32 models to 1e-4.
"""
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from activations import chainrule_activations, torch_module  # noqa: E402


# --- the README's loader, verbatim (readme_loader_in_sync checks it) ---
class Standardize(torch.nn.Module):          # models trained with --standardize store input.mean/std
    def __init__(self, mean, std):
        super().__init__(); self.mean, self.std = mean, std
    def forward(self, x):
        return (x - self.mean) / self.std

def load_chainrule_model(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__")
    dt = {"F32": np.float32, "F64": np.float64, "U8": np.uint8, "I32": np.int32, "I64": np.int64}
    t = {k: torch.from_numpy(np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]],
                                           dtype=dt[v["dtype"]]).reshape(v["shape"]).copy())
         for k, v in header.items()}
    acts = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "gelu": torch.nn.GELU,
            "softplus": torch.nn.Softplus, "leaky-relu": torch.nn.LeakyReLU, "silu": torch.nn.SiLU}
    layers = []
    if "input.mean" in t:
        layers.append(Standardize(t["input.mean"], t["input.std"]))
    for i, act in enumerate(meta["activations"].split(","), start=1):
        w, b = t[f"fc{i}.weight"], t[f"fc{i}.bias"]
        lin = torch.nn.Linear(w.shape[1], w.shape[0]).to(w.dtype)
        lin.weight.data.copy_(w); lin.bias.data.copy_(b)
        layers.append(lin)
        if f"bn{i}.weight" in t:                # BatchNorm1d after fc{i}, in inference mode
            bn = torch.nn.BatchNorm1d(w.shape[0], eps=float(meta[f"bn{i}.eps"])).to(w.dtype)
            bn.load_state_dict({k: t[f"bn{i}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")},
                               strict=False)
            layers.append(bn.eval())
        if act != "softmax":
            layers.append(acts[act]())
    return torch.nn.Sequential(*layers)      # outputs logits; softmax(logits) = chainrule's probabilities

# --- end of the README's loader ---


def load_chainrule_model_raw(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    dt = {"F32": np.float32, "F64": np.float64}
    return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]],
                             dtype=dt[v["dtype"]]).reshape(v["shape"])
            for k, v in header.items()}


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


def check(cli, tmp, layers, act, dtype, n, onehot, tol):
    model = os.path.join(tmp, "m.safetensors")
    subprocess.run([cli, "init", "--layers", layers, "--activation", act, "--dtype", dtype,
                    "--seed", "3", "--out", model], check=True, stdout=subprocess.DEVNULL)
    dims = [int(s) for s in layers.split(",")]
    rng = np.random.default_rng(5)
    np_dt = np.float64 if dtype == "float64" else np.float32
    x = rng.uniform(-1, 1, size=(n, dims[0])).astype(np_dt)
    labels = rng.integers(0, dims[-1], size=n)
    np.save(os.path.join(tmp, "X.npy"), x)
    if onehot:
        y = np.eye(dims[-1], dtype=np_dt)[labels]
    else:
        y = labels.astype(np.int64)
    np.save(os.path.join(tmp, "y.npy"), y)
    for wrt, out in (("input", "dx.npy"), ("params", "g.safetensors")):
        subprocess.run([cli, "grad", "--model", model, "--inputs", os.path.join(tmp, "X.npy"),
                        "--labels", os.path.join(tmp, "y.npy"), "--wrt", wrt,
                        "--out", os.path.join(tmp, out)], check=True, stdout=subprocess.DEVNULL)

    net = load_chainrule_model(model)
    xt = torch.from_numpy(x).requires_grad_(True)
    logits = net(xt)
    # per-example losses; their SUM has gradient dJ_n/dx_n in row n
    losses = torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels), reduction="none")
    losses.sum().backward()
    dx_torch = xt.grad.numpy()
    net.zero_grad()
    logits = net(torch.from_numpy(x))
    torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels)).backward()  # mean loss

    dx = np.load(os.path.join(tmp, "dx.npy"))
    assert dx.shape == x.shape and dx.dtype == np_dt, (dx.shape, dx.dtype)
    assert np.max(np.abs(dx_torch)) > 1e-6, "trivially zero gradient"
    errs = {"dJ/dx": rel(dx, dx_torch)}
    grads = load_chainrule_model_raw(os.path.join(tmp, "g.safetensors"))
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    for i, lin in enumerate(linears, start=1):
        errs[f"fc{i}.weight"] = rel(grads[f"fc{i}.weight"], lin.weight.grad.numpy())
        errs[f"fc{i}.bias"] = rel(grads[f"fc{i}.bias"], lin.bias.grad.numpy())
    worst = max(errs.values())
    status = "ok" if worst <= tol else "FAIL"
    print(f"{status}: {layers} {act} {dtype} N={n} {'one-hot' if onehot else 'indices'}: "
          f"worst rel err {worst:.2e} (tol {tol:g}) " + " ".join(f"{k}={v:.1e}" for k, v in errs.items()))
    return worst <= tol


def readme_loader_in_sync():
    """The loader above must be the README's, character for character."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "README.md"), encoding="utf-8") as f:
        readme = f.read()
    with open(os.path.abspath(__file__), encoding="utf-8") as f:
        mine = f.read()
    block = mine.split("verbatim (readme_loader_in_sync checks it) ---\n")[1].split("# --- end")[0]
    ok = block.strip() in readme
    print("README loader in sync with this test:", "ok" if ok else "FAIL")
    return ok


def check_standardized(cli, tmp):
    """A model trained with --standardize: dJ/dx is with respect to the RAW input, through
    (x - mean) / std, and the README's loader reproduces it."""
    rng = np.random.default_rng(11)
    x = (rng.normal(size=(40, 5)) * np.array([1, 10, 100, 0.1, 3]) + 7).astype(np.float32)
    labels = rng.integers(0, 3, size=40).astype(np.int64)
    np.save(os.path.join(tmp, "Xs.npy"), x)
    np.save(os.path.join(tmp, "ys.npy"), labels)
    model = os.path.join(tmp, "std.safetensors")
    subprocess.run([cli, "train", "--data", os.path.join(tmp, "Xs.npy") + "," + os.path.join(tmp, "ys.npy"),
                    "--layers", "5,4,3", "--epochs", "2", "--standardize", "--test", "none", "--quiet",
                    "--out", model], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([cli, "grad", "--model", model, "--inputs", os.path.join(tmp, "Xs.npy"),
                    "--labels", os.path.join(tmp, "ys.npy"), "--out", os.path.join(tmp, "dxs.npy")],
                   check=True, stdout=subprocess.DEVNULL)
    net = load_chainrule_model(model)
    assert isinstance(net[0], Standardize)
    xt = torch.from_numpy(x).requires_grad_(True)
    torch.nn.functional.cross_entropy(net(xt), torch.from_numpy(labels), reduction="sum").backward()
    err = rel(np.load(os.path.join(tmp, "dxs.npy")), xt.grad.numpy())
    ok = err <= 1e-4
    print(f"{'ok' if ok else 'FAIL'}: standardised float32 model, dJ/dx w.r.t. the raw input: rel err {err:.2e} (tol 1e-4)")
    return ok


def main():
    cli = sys.argv[1]
    ok = readme_loader_in_sync()
    with tempfile.TemporaryDirectory() as tmp:
        for layers, act in (("4,3,3", "sigmoid"), ("784,128,10", "sigmoid"), ("6,5,4,3", "tanh"),
                            ("7,8,5,2", "relu"), ("1,1,2", "sigmoid"), ("6,5,4,3", "gelu"),
                            ("9,8,7,3", "gelu,tanh")):
            for dtype, tol in (("float64", 1e-10), ("float32", 1e-4)):
                for n, onehot in ((1, False), (16, True)):
                    ok &= check(cli, tmp, layers, act, dtype, n, onehot, tol)
        # every row of the op table (chainrule --list-activations), hidden and mixed
        for act, _, _ in chainrule_activations(cli):
            torch_module(act)  # a row without its PyTorch form fails here
            for layers, acts in (("6,5,4,3", act), ("9,8,7,3", f"{act},tanh")):
                for dtype, tol in (("float64", 1e-10), ("float32", 1e-5)):
                    ok &= check(cli, tmp, layers, acts, dtype, 16, True, tol)
        ok &= check_standardized(cli, tmp)
    print("torch cross-check:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
