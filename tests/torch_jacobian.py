#!/usr/bin/python3
"""Cross-check of `chainrule jacobian` and `chainrule jvp` against PyTorch.

Run as:  /usr/bin/python3 tests/torch_jacobian.py path/to/chainrule
Exits 77 (CTest: skipped) when torch or numpy is not installed.

A float64 model (784-32-16-10, tanh then sigmoid, then each activation of `chainrule
--list-activations` in both hidden layers, written by `chainrule init`, with
non-zero biases added here) is loaded in torch by parsing the safetensors header with
json + struct; for random inputs the Jacobians of the probabilities and of the logits
from all three modes (rev, fwd, closed) must equal torch.autograd.functional.jacobian
to 1e-10 relative error, and `jvp` must equal torch.autograd.functional.jvp. Then a
float32 model of every activation (weights ×1.5), against torch in float64 on the same
float32 weights and inputs, to 1e-5.
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
from activations import chainrule_activations, torch_fn  # noqa: E402


def read_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__")
    dt = {"F32": np.float32, "F64": np.float64}
    t = {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]],
                          dtype=dt[v["dtype"]]).reshape(v["shape"]).copy() for k, v in header.items()}
    return meta, t


def write_st(path, meta, tensors):
    header, off, blobs = {"__metadata__": meta}, 0, []
    for k, a in tensors.items():
        b = np.ascontiguousarray(a).tobytes()
        header[k] = {"dtype": "F64" if a.dtype == np.float64 else "F32", "shape": list(a.shape),
                     "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def torch_model(meta, t):
    names = meta["activations"].split(",")
    layers = [(torch.from_numpy(t[f"fc{i}.weight"]), torch.from_numpy(t[f"fc{i}.bias"]), a)
              for i, a in enumerate(names, start=1)]

    def logits(x):
        for w, b, a in layers:
            x = x @ w.T + b
            if a != "softmax":
                x = torch_fn(a)(x)
        return x
    return logits


def main():
    # every row of the op table (chainrule --list-activations), after tanh,sigmoid
    rows = [f"{a},{a}" for a, _, _ in chainrule_activations(sys.argv[1])]
    for acts in ["tanh,sigmoid"] + rows:
        rc = run(sys.argv[1], acts)
        if rc:
            return rc
    # float32 models of every row: chainrule's float32 against torch in float64 on the same
    # (float32) weights, 1e-5
    for acts in rows:
        rc = run(sys.argv[1], acts, "float32", 1e-5)
        if rc:
            return rc
    return 0


def run(cli, acts, dtype="float64", tol=1e-10):
    print(f"== 784,32,16,10 {acts}, {dtype}")
    tmp = tempfile.mkdtemp()
    model = os.path.join(tmp, "m.safetensors")
    subprocess.run([cli, "init", "--layers", "784,32,16,10", "--activation", acts,
                    "--dtype", dtype, "--seed", "3", "--out", model], check=True,
                   stdout=subprocess.DEVNULL)
    meta, t = read_st(model)
    rng = np.random.default_rng(0)
    npdt = np.float32 if dtype == "float32" else np.float64
    for k in list(t):
        if k.endswith(".bias"):
            t[k] = rng.uniform(-0.5, 0.5, t[k].shape).astype(npdt)
        else:
            # larger weights: a less flat network (float32: less, so that saturated
            # probabilities do not turn float32's rounding of the logits into the error)
            t[k] = (t[k] * (3.0 if npdt == np.float64 else 1.5)).astype(npdt)
    write_st(model, meta, t)
    t = {k: v.astype(np.float64) for k, v in t.items()}  # the reference in float64
    logits = torch_model(meta, t)
    probs = lambda x: torch.softmax(logits(x), dim=-1)
    X = rng.uniform(0, 1, (5, 784)).astype(npdt).astype(np.float64)  # exact in the model's dtype
    xp = os.path.join(tmp, "x.npy")
    np.save(xp, X)
    worst = 0.0
    for of, f in (("probs", probs), ("logits", logits)):
        ref = np.stack([torch.autograd.functional.jacobian(f, torch.from_numpy(X[i])).numpy()
                        for i in range(len(X))])
        for mode in ("rev", "fwd", "closed", "auto"):
            out = os.path.join(tmp, f"j_{of}_{mode}.npy")
            subprocess.run([cli, "jacobian", "--model", model, "--inputs", xp, "--of", of,
                            "--mode", mode, "--out", out], check=True, stdout=subprocess.DEVNULL)
            J = np.load(out)
            assert J.shape == (5, 10, 784) and J.dtype == npdt, (J.shape, J.dtype)
            err = np.abs(J - ref).max() / np.abs(ref).max()
            worst = max(worst, err)
            print(f"jacobian --of {of} --mode {mode}: relative error vs torch {err:.2e}")
            if not err <= tol:
                print("FAIL")
                return 1
    V = rng.normal(size=(5, 784)).astype(npdt).astype(np.float64)
    vp = os.path.join(tmp, "v.npy")
    np.save(vp, V)
    out = os.path.join(tmp, "jv.npy")
    subprocess.run([cli, "jvp", "--model", model, "--inputs", xp, "--tangent", vp, "--out", out],
                   check=True, stdout=subprocess.DEVNULL)
    JV = np.load(out).astype(np.float64)
    _, ref = torch.autograd.functional.jvp(probs, torch.from_numpy(X), torch.from_numpy(V))
    err = np.abs(JV - ref.numpy()).max() / np.abs(ref.numpy()).max()
    print(f"jvp: relative error vs torch {err:.2e}")
    if not err <= tol:
        print("FAIL")
        return 1
    print(f"OK (worst Jacobian error {worst:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
