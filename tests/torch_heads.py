#!/usr/bin/python3
"""Output activations and regression heads (issue 11) against PyTorch.

ONNX graphs built with python3-onnx's helper API (tests/onnx_models.py) and by
torch.onnx.export, in float32 and float64:
  - MLPs ending in ReLU, Sigmoid, Tanh + Softmax (read as the output
    activation, with softmax + cross-entropy on top);
  - regressors: a bare last Gemm (K = 3 and K = 1) and one ending in Sigmoid,
    read with --head squared-error.
For each: onnx.checker; onnxruntime gives the graph's output; `chainrule
predict` equals PyTorch's softmax(o) (or o for a regressor), `chainrule grad`
equals torch.autograd's dJ/dx of CE(softmax(o), y) (or 1/2 |o - t|^2), to 1e-5
(float32) and 1e-12 (float64) relative to the largest value, and that gradient
is not trivially small; `jacobian --of outputs` equals the autograd Jacobian of
o; every command says what it does with the output; convert ONNX ->
safetensors -> ONNX -> safetensors keeps the weights bit for bit and the head;
gradcheck passes on real inputs (Fashion-MNIST test images, and fixed varied
random data) and a planted fault in the output activation or the
squared-error head fails with the op named. train, attack, attribute and
explain refuse such models with one line.

Run as:  /usr/bin/python3 tests/torch_heads.py path/to/chainrule
"""
import gzip
import os
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
sys.path.insert(0, HERE)
import onnx  # noqa: E402
import onnx_models as om  # noqa: E402
import torch_onnx as to  # noqa: E402  (its check/run/relerr/onnxruntime helpers; no test runs on import)
from torch_onnx import CR, TOL, check, relerr, run  # noqa: E402
import torchutil  # noqa: E402  (the tally)

ACT = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, None: lambda t: t}
FASHION = os.environ.get("CR_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def torch_output(x, layers, acts, out_act):
    """The network's output o (before any softmax) from raw x."""
    return ACT[out_act](to.torch_forward(x, layers, acts, None))


def cases():
    f32, f64 = np.float32, np.float64
    c = []
    for dt in (f32, f64):
        n = np.dtype(dt).name
        c.append((f"output ReLU, Gemm, {n}", dt, [6, 9, 4], ["tanh"], "relu", None, {}))
        c.append((f"output Sigmoid, MatMul+Add, {n}", dt, [6, 8, 3], ["relu"], "sigmoid", None,
                  {"style": "matmul", "opset": 11}))
        c.append((f"output Tanh then Softmax, {n}", dt, [5, 7, 4], ["sigmoid"], "tanh", None,
                  {"head": "Softmax"}))
        c.append((f"regressor: bare last Gemm, K=3, {n}", dt, [6, 8, 3], ["relu"], None,
                  "squared-error", {}))
        c.append((f"regressor: K=1, opset 9, inits as inputs, {n}", dt, [5, 7, 1], ["tanh"], None,
                  "squared-error", {"opset": 8, "inits_as_inputs": True}))
        c.append((f"regressor ending in Sigmoid, {n}", dt, [6, 8, 2], ["tanh"], "sigmoid",
                  "squared-error", {}))
    return c


def compare(d, path, tag, dt, x, layers, acts, out_act, head, graph_softmax=False):
    """predict / grad / jacobian of chainrule on path vs PyTorch; returns the errors."""
    K = layers[-1][0].shape[0]
    xp, yp, tp = (os.path.join(d, f) for f in ("x.npy", "y.npy", "t.npy"))
    pp, gp, jp = (os.path.join(d, f) for f in ("p.npy", "g.npy", "j.npy"))
    np.save(xp, x)
    rng = np.random.default_rng(len(tag))
    hd = ["--head", head] if head else []
    xt = torch.from_numpy(x).requires_grad_(True)
    o = torch_output(xt, layers, acts, out_act)
    if head == "squared-error":
        t = rng.uniform(-1, 1, (x.shape[0], K)).astype(dt)
        np.save(tp, t)
        loss = 0.5 * ((o - torch.from_numpy(t)) ** 2).sum()
        pred = o.detach().numpy()
        g_args = ["--targets", tp]
        want = "loss ½‖o − t‖²"
    else:
        y = rng.integers(0, K, x.shape[0]).astype(np.int64)
        np.save(yp, y)
        loss = torch.nn.functional.cross_entropy(o, torch.from_numpy(y), reduction="sum")
        pred = torch.softmax(o, 1).detach().numpy()
        g_args = ["--labels", yp]
        want = "loss: softmax + cross-entropy on o"
    (gx,) = torch.autograd.grad(loss, xt)
    p = run("predict", "--model", path, *hd, "--inputs", xp, "--out", pp)
    g = run("grad", "--model", path, *hd, "--inputs", xp, *g_args, "--out", gp)
    run("jacobian", "--model", path, *hd, "--inputs", xp, "--of", "outputs", "--out", jp)
    said = f"output o = {out_act}(θ)" if out_act else "output o = θ"
    for cmd, proc in (("predict", p), ("grad", g)):
        check(said in proc.stderr and want in proc.stderr,
              f"{tag}: {cmd} does not say what it does with the output: {proc.stderr.strip()}")
    ep = relerr(np.load(pp), pred)
    eg = relerr(np.load(gp), gx.numpy())
    f = lambda v: torch_output(v.reshape(1, -1), layers, acts, out_act)[0]  # noqa: E731
    jref = np.stack([torch.autograd.functional.jacobian(f, torch.from_numpy(x[i])).numpy()
                     for i in range(x.shape[0])])
    ej = relerr(np.load(jp), jref)
    tol = TOL[dt]
    check(ep <= tol, f"{tag}: predict vs PyTorch {ep:.2e} > {tol:g}")
    check(eg <= tol, f"{tag}: grad vs PyTorch {eg:.2e} > {tol:g}")
    check(ej <= tol, f"{tag}: jacobian of the outputs vs PyTorch {ej:.2e} > {tol:g}")
    check(np.max(np.abs(gx.numpy())) > 1e-3, f"{tag}: the input gradient is trivially small")
    check(np.max(np.abs(jref)) > 1e-3, f"{tag}: the output Jacobian is trivially small")
    # onnxruntime evaluates the same graph: its output is o (or the Softmax of o)
    ref_graph = torch.softmax(o, 1) if graph_softmax else o
    eo = relerr(to.ort_run(path, x, d), ref_graph.detach().numpy())
    check(eo <= tol, f"{tag}: onnxruntime vs PyTorch {eo:.2e} > {tol:g}")
    return ep, eg, ej, eo


def test_helper_graphs(d):
    print("helper-API graphs (max relative errors vs PyTorch: predict, grad, jacobian, onnxruntime):")
    for i, (tag, dt, dims, acts, out_act, head, kw) in enumerate(cases()):
        layers = om.random_layers(dims, dt, 300 + i)
        model = om.mlp(layers, acts, out_act=out_act, **kw)
        path = os.path.join(d, f"h{i}.onnx")
        onnx.save(model, path)
        onnx.checker.check_model(onnx.load(path), full_check=True)
        x = np.random.default_rng(i).uniform(-1.5, 1.5, (7, dims[0])).astype(dt)
        errs = compare(d, path, tag, dt, x, layers, acts, out_act, head,
                       graph_softmax=kw.get("head") == "Softmax")
        print(f"  {tag}: " + ", ".join(f"{e:.1e}" for e in errs))
        test_convert(d, path, tag, head, out_act, x)
        test_gradcheck(d, path, tag, dims, head, out_act, x)
    # a regressor read without --head is a one-output classifier: refused with the way out
    p = subprocess.run([CR, "predict", "--model", os.path.join(d, "h4.onnx"), "--inputs",
                        os.path.join(d, "x.npy"), "--out", os.path.join(d, "never.npy")],
                       capture_output=True, text=True)
    check(p.returncode == 2 and "--head squared-error" in p.stderr and
          not os.path.exists(os.path.join(d, "never.npy")), f"K=1 without --head: {p.stderr}")


def test_convert(d, path, tag, head, out_act, x):
    """ONNX -> safetensors (head stored) -> ONNX -> safetensors: bit for bit, head kept."""
    hd = ["--head", head] if head else []
    s1, o2, s3 = (os.path.join(d, f) for f in ("c1.safetensors", "c2.onnx", "c3.safetensors"))
    c = run("convert", "--model", path, *hd, "--out", s1)
    check(not head or "squared error" in c.stdout, f"{tag}: convert does not name the head: {c.stdout}")
    run("convert", "--model", s1, "--out", o2)
    run("convert", "--model", o2, "--out", s3)
    with open(s1, "rb") as a, open(s3, "rb") as b:
        check(a.read() == b.read(), f"{tag}: safetensors -> ONNX -> safetensors changed bytes")
    src = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}
    exp = {t.name: onnx.numpy_helper.to_array(t) for t in onnx.load(o2).graph.initializer}
    srcw = [a for n, a in sorted(src.items()) if n.endswith("weight")]
    expw = [exp[f"fc{i + 1}.weight"] for i in range(len(srcw))]
    same = all(a.tobytes() == (b if b.shape == a.shape else b.T).tobytes() or
               np.ascontiguousarray(a.T).tobytes() == b.tobytes() for a, b in zip(srcw, expw))
    check(same, f"{tag}: the exported weights are not the imported ones bit for bit")
    onnx.checker.check_model(onnx.load(o2), full_check=True)
    # the stored head: no --head needed any more, and the exported graph runs
    pp = os.path.join(d, "pc.npy")
    run("predict", "--model", o2, "--inputs", os.path.join(d, "x.npy"), "--out", pp)
    out = to.ort_run(o2, x, d)
    ref = np.load(pp)
    if not head:  # the graph outputs o; predict gives softmax(o)
        out = np.exp(out - out.max(1, keepdims=True))
        out /= out.sum(1, keepdims=True)
    e = relerr(out, ref)
    check(e <= TOL[x.dtype.type] * 10, f"{tag}: onnxruntime on the exported graph vs predict {e:.2e}")


def test_gradcheck(d, path, tag, dims, head, out_act, x):
    """gradcheck passes on the model; a fault planted in the output activation or the
    squared-error head fails with that op named."""
    hd = ["--head", head] if head else []
    xp = os.path.join(d, "x.npy")
    data = ["--inputs", xp, "--targets", os.path.join(d, "t.npy")] if head else \
        ["--inputs", xp, "--labels", os.path.join(d, "y.npy")]
    p = subprocess.run([CR, "gradcheck", "--model", path, *hd, *data], capture_output=True, text=True)
    check(p.returncode == 0 and "gradcheck: PASS" in p.stdout, f"{tag}: gradcheck: {p.stdout[-400:]}")
    L = len(dims) - 1
    ops = []
    if out_act:
        ops.append((2 * L, f"{out_act} (output)"))
    ops.append((2 * L + (1 if out_act else 0),
                "squared-error" if head else "softmax+cross-entropy"))
    for pos, name in ops:
        p = subprocess.run([CR, "gradcheck", "--model", path, *hd, *data, "--inject-fault",
                            f"{pos}:vjp"], capture_output=True, text=True)
        check(p.returncode == 1 and f"FAIL: layer {pos} ({name}): VJP" in p.stderr,
              f"{tag}: a fault in {name} is not caught and named: {p.stderr[-300:]}")


def fashion_rows(n):
    with gzip.open(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")) as f:
        raw = f.read(16 + n * 784)
    return np.frombuffer(raw[16:], np.uint8).reshape(n, 784).astype(np.float64) / 255


def test_fashion(d):
    """gradcheck on real images: a 784-16-10 classifier ending in ReLU, a 784-16-1 regressor."""
    if not os.path.exists(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")):
        check(False, f"Fashion-MNIST not found in {FASHION}")
        return
    x = fashion_rows(12)
    xp = os.path.join(d, "fx.npy")
    np.save(xp, x)
    np.save(os.path.join(d, "fy.npy"), np.arange(12) % 10)
    np.save(os.path.join(d, "ft.npy"), np.linspace(-1, 1, 12).reshape(12, 1))
    for dims, out_act, head in (([784, 16, 10], "relu", None), ([784, 16, 1], None, "squared-error")):
        for dt in (np.float32, np.float64):
            layers = om.random_layers(dims, dt, 7)
            path = os.path.join(d, "f.onnx")
            onnx.save(om.mlp(layers, ["relu"], out_act=out_act), path)
            hd = ["--head", head] if head else []
            data = ["--targets", os.path.join(d, "ft.npy")] if head else \
                ["--labels", os.path.join(d, "fy.npy")]
            p = subprocess.run([CR, "gradcheck", "--model", path, *hd, "--inputs", xp, *data,
                                "--samples", "64"], capture_output=True, text=True)
            tag = f"Fashion-MNIST {'-'.join(map(str, dims))} {np.dtype(dt).name}"
            check(p.returncode == 0 and "gradcheck: PASS" in p.stdout,
                  f"{tag}: gradcheck: {p.stdout[-600:]} {p.stderr[-300:]}")
            print(f"  {tag}: {p.stdout.strip().splitlines()[-1]}")


class Regressor(torch.nn.Module):
    def __init__(self, dt):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(5, 9), torch.nn.ReLU(), torch.nn.Linear(9, 2))
        self.to(dt)

    def forward(self, x):
        return self.net(x)


def test_torch_export(d):
    """torch.onnx.export: a classifier ending in ReLU and a regressor."""
    print("torch.onnx.export (predict, grad, jacobian, onnxruntime):")
    torch.manual_seed(5)
    for dt, npdt in ((torch.float32, np.float32), (torch.float64, np.float64)):
        for kind in ("relu", "regressor"):
            if kind == "relu":
                m = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3),
                                        torch.nn.ReLU()).to(dt)
                m[2].bias.data += 0.5  # outputs on both sides of the kink
            else:
                m = Regressor(dt)
            x = np.random.default_rng(3).uniform(-1, 1, (6, 6 if kind == "relu" else 5)).astype(npdt)
            path = os.path.join(d, f"t_{kind}.onnx")
            torch.onnx.export(m, torch.from_numpy(x), path, input_names=["x"], output_names=["o"],
                              dynamic_axes={"x": {0: "N"}, "o": {0: "N"}}, opset_version=13)
            lin = [mod for mod in m.modules() if isinstance(mod, torch.nn.Linear)]
            layers = [(mod.weight.detach().numpy().copy(), mod.bias.detach().numpy().copy())
                      for mod in lin]
            acts = ["tanh"] if kind == "relu" else ["relu"]
            tag = f"torch.onnx.export {kind} {np.dtype(npdt).name}"
            errs = compare(d, path, tag, npdt, x, layers, acts, "relu" if kind == "relu" else None,
                           "squared-error" if kind == "regressor" else None)
            # the reference above is built from the weights; the module itself agrees
            o = m(torch.from_numpy(x)).detach().numpy()
            ref = torch_output(torch.from_numpy(x), layers, acts,
                               "relu" if kind == "relu" else None).detach().numpy()
            check(relerr(o, ref) <= TOL[npdt], f"{tag}: reference model differs from the module")
            print(f"  {tag}: " + ", ".join(f"{e:.1e}" for e in errs))


def test_refusals(d):
    """Commands that take plain classifiers only refuse with one line, exit 2."""
    layers = om.random_layers([4, 5, 3], np.float32, 9)
    path = os.path.join(d, "r.onnx")
    onnx.save(om.mlp(layers, ["relu"], out_act="relu"), path)
    xp, yp = os.path.join(d, "rx.npy"), os.path.join(d, "ry.npy")
    np.save(xp, np.zeros((2, 4), np.float32))
    np.save(yp, np.array([0, 1]))
    never = os.path.join(d, "never.npy")
    for cmd in (["attack", "--model", path, "--inputs", xp, "--labels", yp, "--method", "fgsm",
                 "--eps", "0.1", "--out", never],
                ["attribute", "--model", path, "--inputs", xp, "--labels", yp, "--method",
                 "saliency", "--out", never],
                ["explain", "--model", path, "--inputs", xp, "--labels", yp],
                ["train", "--resume", path, "--out", os.path.join(d, "never.safetensors")]):
        p = subprocess.run([CR, *cmd], capture_output=True, text=True)
        lines = p.stderr.strip().splitlines()
        check(p.returncode == 2 and len(lines) == 1 and path in lines[0] and
              "does not support this model" in lines[0] and not os.path.exists(never),
              f"{cmd[0]} on an output-ReLU model: exit {p.returncode}: {p.stderr.strip()}")
        print(f"  {cmd[0]}: {lines[0] if lines else ''}")


def main():
    with tempfile.TemporaryDirectory() as d:
        test_helper_graphs(d)
        test_torch_export(d)
        print("gradcheck on Fashion-MNIST test images:")
        test_fashion(d)
        print("refusals:")
        test_refusals(d)
    torchutil.report()


if __name__ == "__main__":
    main()
