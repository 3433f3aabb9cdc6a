#!/usr/bin/python3
"""ONNX in and out, and PyTorch state dicts, against PyTorch and onnxruntime.

1. ONNX graphs written the way different exporters write them (python3-onnx's
   helper API, tests/onnx_models.py) and by torch.onnx.export itself: every
   file passes onnx.checker, onnxruntime (from PyPI, in the venv that
   scripts/onnxruntime-venv.sh makes) evaluates it and agrees with the PyTorch
   model built from the same weights, and `chainrule predict` / `chainrule grad`
   on the .onnx agree with PyTorch's probabilities and input gradients
   (float32: 1e-5, float64: 1e-12, relative to the largest value).
2. `chainrule convert` safetensors -> ONNX -> safetensors gives the same bytes;
   the exported file passes onnx.checker and onnxruntime gives chainrule's logits.
3. State dicts (nn.Sequential with a leading Flatten and bias=False, named
   modules fc1/fc2) convert and then agree with PyTorch; errors name the tensors.
4. Refusals: an unsupported op, a one-output graph read as a classifier, a
   .pt/.pth pickle: exit 2, one line. (Output activations and regression heads:
   tests/torch_heads.py.)

Run as:  /usr/bin/python3 tests/torch_onnx.py path/to/chainrule
Exits 77 (skipped) only when torch is not installed, like the other torch
tests; a missing python3-onnx or an onnxruntime venv that cannot be made fails.
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

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import onnx  # noqa: E402  (python3-onnx; an ImportError fails the test)
import onnx_models as om  # noqa: E402
import torchutil  # noqa: E402  (check, relerr and the tally, shared)
from torchutil import check, relerr  # noqa: E402
from torch_grad import load_chainrule_model_raw as load_safetensors  # noqa: E402

CR = sys.argv[1]
TOL = {np.float32: 1e-5, np.float64: 1e-12}


def run(*args, expect=0):
    p = subprocess.run([CR, *args], capture_output=True, text=True)
    if p.returncode != expect:
        raise RuntimeError(f"chainrule {' '.join(args)}: exit {p.returncode}, expected {expect}: "
                           f"{p.stderr.strip()}")
    return p


# ------------------------------------------------------------------ onnxruntime
ORT_PY = None


def ort_python():
    global ORT_PY
    if ORT_PY is None:
        venv = os.environ.get("CR_ORT_VENV", os.path.join(ROOT, "build-ci", "venv-ort"))
        p = subprocess.run(["bash", os.path.join(ROOT, "scripts", "onnxruntime-venv.sh"), venv],
                           capture_output=True, text=True)
        if p.returncode != 0:
            print("FAIL: cannot make the onnxruntime venv:", p.stderr.strip()[-500:])
            sys.exit(1)
        ORT_PY = p.stdout.strip().splitlines()[-1]
        if not os.path.isabs(ORT_PY):
            ORT_PY = os.path.join(ROOT, ORT_PY)
    return ORT_PY


ORT_SCRIPT = """
import sys, numpy as np, onnxruntime as ort
model, x, out = sys.argv[1:4]
s = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
name = s.get_inputs()[0].name
np.save(out, s.run(None, {name: np.load(x)})[0])
"""


def ort_run(model, x, d):
    xp, op = os.path.join(d, "ort_x.npy"), os.path.join(d, "ort_y.npy")
    np.save(xp, x)
    subprocess.run([ort_python(), "-c", ORT_SCRIPT, model, xp, op], check=True)
    return np.load(op)


# ------------------------------------------------------------------ the reference model
def torch_forward(x, layers, acts, norm, alpha=1.0, beta=1.0):
    """Logits of the MLP, from raw x [N, ...] (torch tensor of the weights' dtype)."""
    h = x
    for op, c in norm or []:
        c = torch.from_numpy(np.asarray(c, dtype=layers[0][0].dtype))
        h = {"Sub": torch.sub, "Div": torch.div, "Mul": torch.mul, "Add": torch.add}[op](h, c)
    h = h.reshape(h.shape[0], -1)
    for i, (W, b) in enumerate(layers):
        h = alpha * (h @ torch.from_numpy(W).T)
        if b is not None:
            h = h + beta * torch.from_numpy(b)
        if i + 1 < len(layers):
            h = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[acts[i]](h)
    return h


def compare_cli(d, model, x, y, logits_fn, dtype, tag):
    """chainrule predict/grad on `model` vs PyTorch (logits_fn: raw x -> logits)."""
    xp, yp = os.path.join(d, "x.npy"), os.path.join(d, "y.npy")
    np.save(xp, x)
    np.save(yp, y)
    pp, gp = os.path.join(d, "p.npy"), os.path.join(d, "g.npy")
    run("predict", "--model", model, "--inputs", xp, "--out", pp)
    run("grad", "--model", model, "--inputs", xp, "--labels", yp, "--out", gp)
    xt = torch.from_numpy(x).requires_grad_(True)
    logits = logits_fn(xt)
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y), reduction="sum")
    (gx,) = torch.autograd.grad(loss, xt)
    probs = torch.softmax(logits, 1).detach().numpy()
    ep = relerr(np.load(pp), probs)
    eg = relerr(np.load(gp).reshape(gx.shape), gx.numpy())
    tol = TOL[dtype]
    check(ep <= tol, f"{tag}: predict vs PyTorch {ep:.2e} > {tol:g}")
    check(eg <= tol, f"{tag}: grad vs PyTorch {eg:.2e} > {tol:g}")
    check(np.max(np.abs(gx.numpy())) > 1e-3, f"{tag}: the input gradient is trivially small")
    return ep, eg, logits.detach().numpy()


# ------------------------------------------------------------------ 1. ONNX variants
def variants():
    v = []
    f32, f64 = np.float32, np.float64
    v.append(("pytorch-style Gemm transB=1, raw, opset 13", f32, [6, 8, 3], ["relu"], {}))
    v.append(("Gemm, double_data (not raw), opset 17", f64, [6, 7, 5, 3], ["tanh", "relu"],
              {"raw": False, "opset": 17}))
    v.append(("MatMul+Add, Softmax head, opset 9", f32, [5, 6, 4], ["sigmoid"],
              {"style": "matmul", "head": "Softmax", "opset": 9}))
    v.append(("initializers as graph inputs, opset 8, IR 3", f32, [5, 6, 4], ["relu"],
              {"inits_as_inputs": True, "opset": 8}))
    v.append(("Gemm transB=0 alpha=0.5 beta=2, float_data", f64, [5, 6, 4], ["tanh"],
              {"style": "gemm_nt", "alpha": 0.5, "beta": 2.0, "raw": False, "opset": 11}))
    v.append(("Sub/Div standardisation per feature", f64, [6, 8, 3], ["sigmoid"],
              {"norm": [("Sub", np.linspace(-0.5, 0.5, 6)), ("Div", np.linspace(0.5, 2.0, 6))]}))
    v.append(("[N,C,H,W] input, per-channel Sub/Div, Flatten", f32, [2 * 3 * 3, 10, 4], ["relu"],
              {"input_shape": (2, 3, 3), "flatten": "flatten",
               "norm": [("Sub", np.array([0.25, -0.5]).reshape(2, 1, 1)),
                        ("Div", np.array([0.5, 2.0]).reshape(2, 1, 1))]}))
    v.append(("[N,H,W] input, Reshape [-1,D] via Constant nodes, Mul/Add, LogSoftmax, "
              "Identity/Dropout, opset 11", f64, [12, 9, 3], ["relu"],
              {"input_shape": (3, 4), "flatten": "reshape", "constant_nodes": True,
               "extras": True, "head": "LogSoftmax", "opset": 11,
               "norm": [("Mul", np.full((3, 4), 2.0)), ("Add", 0.5)]}))
    v.append(("fixed batch, Reshape [0,D], MatMul without bias, opset 12", f32, [8, 6, 3],
              ["tanh"], {"style": "matmul", "batch": 5, "input_shape": (2, 4),
                         "flatten": "reshape", "opset": 12, "no_bias": 1}))
    for opset in range(8, 18):
        dt = f32 if opset % 2 == 0 else f64
        v.append((f"opset {opset}, {'raw' if opset % 3 else 'typed'} weights, "
                  f"{np.dtype(dt).name}", dt, [5, 7, 3], ["relu" if opset % 2 else "tanh"],
                  {"opset": opset, "raw": opset % 3 != 0, "inits_as_inputs": opset <= 8}))
    return v


def test_onnx_variants(d):
    print("ONNX variants (max relative errors vs PyTorch: predict, grad; onnxruntime vs PyTorch):")
    for i, (tag, dt, dims, acts, kw) in enumerate(variants()):
        kw = dict(kw)
        layers = om.random_layers(dims, dt, 100 + i)
        if kw.pop("no_bias", None) is not None:
            layers[0] = (layers[0][0], None)
        model = om.mlp(layers, acts, **kw)
        path = os.path.join(d, f"v{i}.onnx")
        onnx.save(model, path)
        try:
            onnx.checker.check_model(onnx.load(path), full_check=True)
        except Exception as e:  # noqa: BLE001
            check(False, f"{tag}: onnx.checker: {e}")
            continue
        shape = kw.get("input_shape", (dims[0],))
        n = kw.get("batch", 7) if isinstance(kw.get("batch"), int) else 7
        rng = np.random.default_rng(i)
        x = rng.uniform(-1.5, 1.5, (n, *shape)).astype(dt)
        y = rng.integers(0, dims[-1], n).astype(np.int64)
        norm = kw.get("norm")
        alpha, beta = kw.get("alpha", 1.0), kw.get("beta", 1.0)
        fn = lambda xt: torch_forward(xt, layers, acts, norm, alpha, beta)  # noqa: E731
        try:
            ep, eg, logits = compare_cli(d, path, x, y, fn, dt, tag)
        except RuntimeError as e:
            check(False, f"{tag}: {e}")
            continue
        ref = {"Softmax": lambda z: torch.softmax(torch.from_numpy(z), 1).numpy(),
               "LogSoftmax": lambda z: torch.log_softmax(torch.from_numpy(z), 1).numpy()}.get(
            kw.get("head"), lambda z: z)(logits)
        eo = relerr(ort_run(path, x, d), ref)
        check(eo <= TOL[dt] * 10, f"{tag}: onnxruntime vs PyTorch {eo:.2e}")
        print(f"  {tag}: {ep:.1e}, {eg:.1e}; ort {eo:.1e}")


def test_torch_export(d):
    """torch.onnx.export itself (Debian's torch 1.13), opsets 9, 13, 17, dynamic batch."""
    print("torch.onnx.export:")

    class Standardize(torch.nn.Module):
        def __init__(self, m, s):
            super().__init__()
            self.m, self.s = m, s

        def forward(self, x):
            return (x - self.m) / self.s

    torch.manual_seed(0)
    for opset, dt in ((9, torch.float32), (13, torch.float64), (17, torch.float32)):
        net = torch.nn.Sequential(Standardize(torch.tensor(0.2, dtype=dt), torch.tensor(0.7, dtype=dt)),
                                  torch.nn.Flatten(), torch.nn.Linear(12, 10), torch.nn.ReLU(),
                                  torch.nn.Linear(10, 8, bias=False), torch.nn.Tanh(),
                                  torch.nn.Linear(8, 4)).to(dt).eval()
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p) * 0.2)
        x = torch.randn(6, 3, 4, dtype=dt)
        path = os.path.join(d, f"torch{opset}.onnx")
        torch.onnx.export(net, x, path, opset_version=opset, input_names=["x"],
                          output_names=["logits"], dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}})
        onnx.checker.check_model(onnx.load(path), full_check=True)
        y = np.arange(6) % 4
        npdt = np.float64 if dt == torch.float64 else np.float32
        tag = f"torch.onnx.export opset {opset} {np.dtype(npdt).name} (Sub/Div, Flatten, bias=False)"
        try:
            ep, eg, _ = compare_cli(d, path, x.numpy(), y, net, npdt, tag)
            print(f"  {tag}: {ep:.1e}, {eg:.1e}")
        except RuntimeError as e:
            check(False, f"{tag}: {e}")


# ------------------------------------------------------------------ 2. export
def test_export(d):
    print("convert safetensors -> ONNX -> safetensors:")
    for dt, act in (("float32", "relu,sigmoid"), ("float64", "tanh,relu")):
        m = os.path.join(d, f"m_{dt}.safetensors")
        run("init", "--layers", "9,8,6,4", "--activation", act, "--dtype", dt, "--seed", "3",
            "--out", m)
        # non-zero biases and a standardisation: through an ONNX file with Sub/Div
        npdt = np.float64 if dt == "float64" else np.float32
        layers = om.random_layers([9, 8, 6, 4], npdt, 7)
        src = os.path.join(d, f"src_{dt}.onnx")
        onnx.save(om.mlp(layers, act.split(","),
                         norm=[("Sub", np.linspace(0, 1, 9)), ("Div", np.linspace(1, 3, 9))]), src)
        with_norm = os.path.join(d, f"n_{dt}.safetensors")
        run("convert", "--model", src, "--out", with_norm)
        for base in (m, with_norm):
            o = base[:-len(".safetensors")] + ".onnx"
            back = base[:-len(".safetensors")] + ".back.safetensors"
            run("convert", "--model", base, "--out", o)
            run("convert", "--model", o, "--out", back)
            same = open(base, "rb").read() == open(back, "rb").read()
            check(same, f"{os.path.basename(base)}: safetensors -> ONNX -> safetensors changed bytes")
            onnx.checker.check_model(onnx.load(o), full_check=True)
            x = np.random.default_rng(5).uniform(-1, 1, (11, 9)).astype(npdt)
            xp, pp = os.path.join(d, "ex.npy"), os.path.join(d, "ep.npy")
            np.save(xp, x)
            run("predict", "--model", base, "--inputs", xp, "--out", pp)
            ort_logits = ort_run(o, x, d)
            e = relerr(np.load(pp), torch.softmax(torch.from_numpy(ort_logits), 1).numpy())
            check(e <= TOL[npdt] * 10, f"{o}: onnxruntime vs chainrule predict {e:.2e}")
            # the ONNX file's weights are the safetensors file's, bit for bit
            w = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(o).graph.initializer}
            st = load_safetensors(base)
            bits = all(np.array_equal(w[k].view(np.uint8), st[k].view(np.uint8)) for k in st)
            check(bits and set(st) <= set(w), f"{o}: initializers differ from the safetensors tensors")
            print(f"  {os.path.basename(base)}: bytes {'identical' if same else 'DIFFER'}, "
                  f"weights bit for bit {bits}, onnxruntime vs predict {e:.1e}")


# ------------------------------------------------------------------ 3. state dicts
def save_safetensors(path, tensors):
    """safetensors.torch.save_file without the package (keys sorted, as it writes them)."""
    h, blob = {}, b""
    for k in sorted(tensors):
        a = tensors[k].detach().cpu().numpy() if hasattr(tensors[k], "detach") else tensors[k]
        a = np.ascontiguousarray(a)
        raw = a.tobytes()
        h[k] = {"dtype": {np.dtype("float32"): "F32", np.dtype("float64"): "F64"}[a.dtype],
                "shape": list(a.shape), "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    hj = json.dumps(h).encode()
    hj += b" " * (-len(hj) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)) + hj + blob)


def test_state_dicts(d):
    print("state dicts:")
    torch.manual_seed(1)
    seq = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 16), torch.nn.ReLU(),
                              torch.nn.Linear(16, 10, bias=False), torch.nn.Tanh(),
                              torch.nn.Linear(10, 3)).double()
    sd = os.path.join(d, "seq.safetensors")
    save_safetensors(sd, seq.state_dict())
    m = os.path.join(d, "seq_model.safetensors")
    run("convert", "--model", sd, "--activations", "relu,tanh", "--out", m)
    x = np.random.default_rng(2).normal(size=(9, 3, 4))
    y = np.arange(9) % 3
    ep, eg, _ = compare_cli(d, m, x, y, seq, np.float64, "nn.Sequential(Flatten, ...) state dict")
    print(f"  nn.Sequential keys {sorted(seq.state_dict())}: {ep:.1e}, {eg:.1e}")

    class Named(torch.nn.Module):
        def __init__(self):
            super().__init__()
            for i, (a, b) in enumerate([(5, 7), (7, 7), (7, 7), (7, 7), (7, 7), (7, 7), (7, 7),
                                        (7, 7), (7, 7), (7, 4)], start=1):
                setattr(self, f"fc{i}", torch.nn.Linear(a, b))

        def forward(self, x):
            for i in range(1, 10):
                x = torch.tanh(getattr(self, f"fc{i}")(x))
            return self.fc10(x)

    named = Named()
    with torch.no_grad():
        for p in named.parameters():
            p.mul_(2.0)
    sd2 = os.path.join(d, "named.safetensors")
    save_safetensors(sd2, named.state_dict())  # fc10 sorts before fc2 as text
    m2 = os.path.join(d, "named_model.safetensors")
    run("convert", "--model", sd2, "--activations", "tanh", "--out", m2)
    x2 = np.random.default_rng(3).normal(size=(6, 5)).astype(np.float32)
    ep, eg, _ = compare_cli(d, m2, x2, np.arange(6) % 4, named, np.float32, "fc1..fc10 state dict")
    print(f"  named modules fc1..fc10 (float32): {ep:.1e}, {eg:.1e}")

    # errors name the tensors expected and found
    p = run("predict", "--model", sd, "--inputs", os.path.join(d, "x.npy"), "--out",
            os.path.join(d, "never.npy"), expect=2)
    check("state dict" in p.stderr and "chainrule convert --model" in p.stderr and
          "'1.bias'" in p.stderr, f"state dict given to predict: {p.stderr.strip()}")
    print("  given to predict:", p.stderr.strip())
    check(len(p.stderr.strip().splitlines()) == 1 and not os.path.exists(os.path.join(d, "never.npy")),
          "state dict given to predict: one line, nothing written")
    bad = {k: v for k, v in seq.state_dict().items()}
    bad["3.weight"] = bad["3.weight"].T.contiguous()
    sdb = os.path.join(d, "transposed.safetensors")
    save_safetensors(sdb, bad)
    p = run("convert", "--model", sdb, "--activations", "relu", "--out", os.path.join(d, "t.st"),
            expect=2)
    check("'3.weight' [16, 10]" in p.stderr and "transposed" in p.stderr and "bias" not in
          p.stderr.split("layers in order")[0], f"transposed weight: {p.stderr.strip()}")
    p = run("convert", "--model", sd, "--activations", "relu,tanh,relu", "--out",
            os.path.join(d, "t.st"), expect=2)
    check("3 activations given for 2 hidden layers" in p.stderr and "'1.weight' [16, 12]" in p.stderr,
          f"activation count: {p.stderr.strip()}")
    p = run("convert", "--model", sd, "--out", os.path.join(d, "t.st"), expect=2)
    check("--activations" in p.stderr, f"no --activations: {p.stderr.strip()}")
    for e in (p.stderr,):
        print("  e.g.:", e.strip())

    # PyTorch pickles: refused with the way out
    for zipped in (True, False):
        pt = os.path.join(d, f"m{int(zipped)}.pt")
        torch.save(seq, pt, _use_new_zipfile_serialization=zipped)
        p = run("predict", "--model", pt, "--inputs", os.path.join(d, "x.npy"), "--out",
                os.path.join(d, "never.npy"), expect=2)
        check("PyTorch pickle" in p.stderr and "torch.onnx.export" in p.stderr and
              len(p.stderr.strip().splitlines()) == 1, f".pt (zip={zipped}): {p.stderr.strip()}")
    print("  .pt:", p.stderr.strip())


# ------------------------------------------------------------------ 4. refusals
def test_refusals(d):
    print("refused graphs:")
    L = om.random_layers([4, 5, 3], np.float32, 9)
    # (an output activation and a regressor are read since issue 11: tests/torch_heads.py;
    # a one-output graph without --head squared-error is still refused)
    cases = [("one output, no --head", om.mlp(om.random_layers([4, 5, 1], np.float32, 9), ["relu"]),
              "one output")]
    conv = om.mlp(L, ["relu"])
    conv.graph.node[1].op_type = "Conv"
    cases.append(("Conv", conv, "unsupported op 'Conv' (node 1 'Relu_2')"))
    for tag, model, want in cases:
        path = os.path.join(d, "refused.onnx")
        onnx.save(model, path)
        for cmd in (["predict", "--model", path, "--inputs", os.path.join(d, "x.npy"), "--out",
                     os.path.join(d, "never.npy")], ["convert", "--model", path, "--out",
                                                      os.path.join(d, "never.safetensors")]):
            p = subprocess.run([CR, *cmd], capture_output=True, text=True)
            check(p.returncode == 2 and want in p.stderr and len(p.stderr.strip().splitlines()) == 1,
                  f"{tag}: {cmd[0]}: exit {p.returncode}: {p.stderr.strip()}")
        print(f"  {tag}: {p.stderr.strip()}")


def test_every_command(d):
    """Every command that takes --model reads the .onnx (here an [N,C,H,W] graph with
    Sub/Div and Flatten); the Jacobian of the probabilities equals PyTorch's."""
    print("every --model command on an ONNX file:")
    layers = om.random_layers([2 * 3 * 3, 10, 4], np.float64, 77)
    norm = [("Sub", np.array([0.25, -0.5]).reshape(2, 1, 1)),
            ("Div", np.array([0.5, 2.0]).reshape(2, 1, 1))]
    path = os.path.join(d, "every.onnx")
    onnx.save(om.mlp(layers, ["tanh"], input_shape=(2, 3, 3), flatten="flatten", norm=norm), path)
    rng = np.random.default_rng(8)
    x = rng.uniform(-1, 1, (4, 2, 3, 3))
    xp, yp = os.path.join(d, "ex.npy"), os.path.join(d, "ey.npy")
    np.save(xp, x)
    np.save(yp, np.array([0, 1, 2, 3]))
    o = lambda name: os.path.join(d, name)  # noqa: E731
    cmds = [["eval", "--model", path, "--inputs", xp, "--labels", yp],
            ["jacobian", "--model", path, "--inputs", xp, "--of", "probs", "--out", o("j.npy")],
            ["jvp", "--model", path, "--inputs", xp, "--tangent", xp, "--out", o("jv.npy")],
            ["attribute", "--model", path, "--inputs", xp, "--labels", yp, "--method",
             "integrated-gradients", "--out", o("a.npy")],
            ["attack", "--model", path, "--inputs", xp, "--labels", yp, "--method", "pgd",
             "--eps", "0.1", "--out", o("adv.npy")],
            ["gradcheck", "--model", path, "--inputs", xp, "--labels", yp],
            ["explain", "--model", path, "--inputs", xp, "--labels", yp]]
    for c in cmds:
        p = subprocess.run([CR, *c], capture_output=True, text=True)
        check(p.returncode == 0, f"{c[0]} on ONNX: exit {p.returncode}: {p.stderr.strip()}")
    f = lambda v: torch.softmax(torch_forward(v.reshape(1, 2, 3, 3), layers, ["tanh"], norm), 1)[0]  # noqa: E731
    ref = np.stack([torch.autograd.functional.jacobian(f, torch.from_numpy(x[i].reshape(-1))).numpy()
                    for i in range(4)])
    j = np.load(o("j.npy"))
    check(j.shape == (4, 4, 2, 3, 3), f"jacobian rows in the inputs' shape [N, K, 2, 3, 3]: {j.shape}")
    for name in ("a.npy", "adv.npy"):  # attribute's maps and attack's x_adv: the inputs' shape
        check(np.load(o(name)).shape == x.shape, f"{name}: shape {np.load(o(name)).shape} != {x.shape}")
    e = relerr(j, ref.reshape(j.shape))
    check(e <= 1e-12, f"jacobian on ONNX vs torch.autograd.functional.jacobian {e:.2e}")
    print(f"  eval, jacobian, jvp, attribute, attack, gradcheck, explain: exit 0; "
          f"jacobian vs PyTorch {e:.1e}")


def main():
    with tempfile.TemporaryDirectory() as d:
        np.save(os.path.join(d, "x.npy"), np.zeros((2, 4), np.float32))
        test_onnx_variants(d)
        test_torch_export(d)
        test_every_command(d)
        test_export(d)
        test_state_dicts(d)
        test_refusals(d)
    torchutil.report()


if __name__ == "__main__":
    main()
