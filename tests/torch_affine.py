#!/usr/bin/python3
"""Input normalisation as link 0 of the chain, against PyTorch and onnxruntime.

A PyTorch module doing (x - mu) / sigma (or (x - mu) * s, or x * a + c) before
Linear -> Tanh -> Linear, exported with torch.onnx.export, float32 and float64:

1. chainrule reads the two nodes as link 0 without rounding: `convert` to
   ONNX writes the same two nodes with the same constants, bit for bit, and for
   Sub/Div also to safetensors (input.mean / input.std) and back to ONNX.
2. Derivatives are with respect to the raw x, from the CLI (`grad`, `jacobian`)
   and the Python module (input_grad, jacobian): they match torch.autograd
   (float64: 1e-10 relative, float32: 1e-5), and so do the predictions
   (float64: 1e-12) and onnxruntime's outputs of the file chainrule writes.
3. gradcheck passes on each model and checks link 0 as the chain's first op.

Run as:  /usr/bin/python3 tests/torch_affine.py path/to/chainrule
"""
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
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402
import torchutil  # noqa: E402  (check, relerr and the tally, shared)
from torchutil import check, relerr  # noqa: E402

CR = os.path.abspath(sys.argv[1])
os.environ.setdefault("CHAINRULE_LIBRARY", os.path.dirname(CR))
# an instrumented library (ASan/UBSan builds) cannot be loaded into this Python: the
# module's part of the test runs in the plain builds only, the CLI's everywhere
SANITIZED = "libasan" in subprocess.run(["ldd", CR], capture_output=True, text=True).stdout
if SANITIZED:
    print("the Python module's checks: skipped (sanitizer build)")
    chainrule = None
else:
    import chainrule  # noqa: E402

GRAD_TOL = {np.float32: 1e-5, np.float64: 1e-10}
PRED_TOL = {np.float32: 1e-5, np.float64: 1e-12}


def run(*args):
    p = subprocess.run([CR, *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"chainrule {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    return p


class Net(torch.nn.Module):
    def __init__(self, form, p, q, dims, dtype):
        super().__init__()
        self.form = form
        self.register_buffer("p", torch.tensor(p))
        self.register_buffer("q", torch.tensor(q))
        self.fc1 = torch.nn.Linear(dims[0], dims[1]).to(dtype)
        self.fc2 = torch.nn.Linear(dims[1], dims[2]).to(dtype)

    def forward(self, x):
        if self.form == "sub-div":
            z = (x - self.p) / self.q
        elif self.form == "sub-mul":
            z = (x - self.p) * self.q
        else:  # mul-add
            z = x * self.p + self.q
        return self.fc2(torch.tanh(self.fc1(z)))


NODES = {"sub-div": ["Sub", "Div"], "sub-mul": ["Sub", "Mul"], "mul-add": ["Mul", "Add"]}


def graph(path):
    m = onnx.load(path)
    ops = [n.op_type for n in m.graph.node]
    consts = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    # the constant operands of the two normalisation nodes, in node order
    norm = []
    for n in m.graph.node[:2]:
        norm += [consts[i] for i in n.input if i in consts]
    weights = [consts[k] for k in sorted(consts) if k not in {i for n in m.graph.node[:2] for i in n.input}]
    return ops, norm, weights


def bits_equal(a, b):
    return len(a) == len(b) and all(x.dtype == y.dtype and x.shape == y.shape and
                                    x.tobytes() == y.tobytes() for x, y in zip(a, b))


def case(d, form, dtype, seed):
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    tag = f"{form} {np.dtype(dtype).name}"
    rng = np.random.default_rng(seed)
    dims = [7, 9, 4]
    p = rng.uniform(-1, 1, dims[0]).astype(dtype)
    q = rng.uniform(0.3, 3, dims[0]).astype(dtype)
    torch.manual_seed(seed)
    net = Net(form, p, q, dims, tdt).eval()
    x = rng.uniform(-2, 2, (6, dims[0])).astype(dtype)
    y = rng.integers(0, dims[2], 6).astype(np.int64)
    src = os.path.join(d, f"{form}_{np.dtype(dtype).name}.onnx")
    torch.onnx.export(net, torch.from_numpy(x), src, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    ops0, norm0, w0 = graph(src)
    check(ops0[:2] == NODES[form], f"{tag}: torch wrote {ops0}")

    # 1. the two nodes come back as they were, bit for bit
    back = os.path.join(d, f"{form}_back.onnx")
    run("convert", "--model", src, "--out", back)
    ops1, norm1, w1 = graph(back)
    check(ops1[:2] == NODES[form], f"{tag}: ONNX -> ONNX nodes {ops1}")
    check(bits_equal(norm0, norm1), f"{tag}: ONNX -> ONNX normalisation constants not bit for bit")
    if form == "sub-div":
        st, again = os.path.join(d, "m.safetensors"), os.path.join(d, "again.onnx")
        run("convert", "--model", src, "--out", st)
        run("convert", "--model", st, "--out", again)
        ops2, norm2, w2 = graph(again)
        check(ops2[:2] == NODES[form] and bits_equal(norm0, norm2),
              f"{tag}: ONNX -> safetensors -> ONNX normalisation not bit for bit")
        if chainrule:
            with chainrule.load(st) as ms:
                check(ms.mean.tobytes() == p.tobytes() and ms.std.tobytes() == q.tobytes(),
                      f"{tag}: input.mean / input.std are not mu / sigma bit for bit")

    # 2. derivatives w.r.t. the raw x, CLI and Python, against torch.autograd
    xt = torch.from_numpy(x).requires_grad_(True)
    logits = net(xt)
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y), reduction="sum")
    (gx,) = torch.autograd.grad(loss, xt)
    probs = torch.softmax(logits, 1).detach().numpy()
    jt = torch.autograd.functional.jacobian(lambda v: torch.softmax(net(v), 1), torch.from_numpy(x))
    jt = np.stack([jt[i, :, i, :].numpy() for i in range(x.shape[0])])
    xp, yp, gp, pp, jp = (os.path.join(d, n) for n in ("x.npy", "y.npy", "g.npy", "p.npy", "j.npy"))
    np.save(xp, x)
    np.save(yp, y)
    for model in (src, back):
        run("predict", "--model", model, "--inputs", xp, "--out", pp)
        run("grad", "--model", model, "--inputs", xp, "--labels", yp, "--out", gp)
        run("jacobian", "--model", model, "--inputs", xp, "--out", jp)
        ep, eg = relerr(np.load(pp), probs), relerr(np.load(gp), gx.numpy())
        ej = relerr(np.load(jp), jt)
        which = "source" if model == src else "written"
        check(ep <= PRED_TOL[dtype], f"{tag} ({which}): predict vs PyTorch {ep:.2e}")
        check(eg <= GRAD_TOL[dtype], f"{tag} ({which}): grad vs torch.autograd {eg:.2e}")
        check(ej <= GRAD_TOL[dtype], f"{tag} ({which}): jacobian vs torch.autograd {ej:.2e}")
        print(f"  {tag} ({which}): predict {ep:.1e}, grad {eg:.1e}, jacobian {ej:.1e}")
    # explain: the standardisation's std is s (σ is the sigmoid); a Sub/Mul or Mul/Add link is said to be the
    # file's form, the same map with folded μ, s, which section 5 prints
    txt = run("explain", "--model", src, "--inputs", xp, "--labels", yp, "--index", "0").stdout
    md = run("explain", "--model", src, "--inputs", xp, "--labels", yp, "--index", "0", "--format", "markdown").stdout
    check("⊘ σ" not in txt and "1/σ" not in txt and "μ, σ" not in txt and "\\oslash \\sigma" not in md and
          "1/\\sigma" not in md and "diag(1/s)" in txt and "\\mathrm{diag}(1/s)" in md,
          f"{tag}: explain writes the input's std as σ (the sigmoid's symbol)")
    states = {"sub-div": None, "sub-mul": "z = (x − p) ∘ q (Sub, then Mul)", "mul-add": "z = x ∘ p + q (Mul, then Add)"}
    check(states[form] is None and "The file states this link" not in txt or
          states[form] is not None and f"The file states this link as {states[form]}" in txt,
          f"{tag}: explain does not say which form the file states")
    pd, qd = p.astype(np.float64), q.astype(np.float64)
    mu, sd = {"sub-div": (pd, qd), "sub-mul": (pd, 1 / qd), "mul-add": (-qd / pd, 1 / pd)}[form]

    def row(name):
        m = __import__("re").search(r"^    " + name + r" \(1×7\) = \[([^\]]*)\]", txt, __import__("re").M)
        return np.array([float(v) for v in m.group(1).split()]) if m else None
    pm, ps = row("μ"), row("s")
    check(pm is not None and ps is not None and np.allclose(pm, mu, rtol=1e-4, atol=1e-5) and
          np.allclose(ps, sd, rtol=1e-4, atol=1e-5), f"{tag}: explain's μ, s are not the folded {mu}, {sd}: {pm}, {ps}")
    if chainrule is None:  # gradcheck by the CLI instead
        run("gradcheck", "--model", src, "--inputs", xp, "--labels", yp)
    else:
        with chainrule.load(src) as m:
            e1 = relerr(m.input_grad(x, y), gx.numpy())
            e2 = relerr(m.jacobian(x), jt)
            check(e1 <= GRAD_TOL[dtype] and e2 <= GRAD_TOL[dtype],
                  f"{tag}: Python input_grad {e1:.2e}, jacobian {e2:.2e}")
            # 3. gradcheck: link 0 is the first op, checked, and everything passes
            r = m.gradcheck(x, y)
            check(r.passed, f"{tag}: gradcheck {r.first_failure()}")
            check(any(c.layer == 1 and c.op == f"affine {form} (input)" for c in r.results),
                  f"{tag}: gradcheck did not check link 0")
    # onnxruntime on the file chainrule wrote, when the venv has it
    ort = os.path.join(os.path.dirname(HERE), "build-ci", "venv-ort", "bin", "python3")
    if os.path.exists(ort):
        code = ("import sys, numpy as np, onnxruntime as rt; s = rt.InferenceSession(sys.argv[1]); "
                "np.save(sys.argv[3], s.run(None, {'input': np.load(sys.argv[2])})[0])")
        op = os.path.join(d, "ort.npy")
        subprocess.run([ort, "-c", code, back, xp, op], check=True)
        eo = relerr(np.load(op), logits.detach().numpy())
        check(eo <= PRED_TOL[dtype] * 10, f"{tag}: onnxruntime on the written file {eo:.2e}")


def main():
    with tempfile.TemporaryDirectory() as d:
        for i, form in enumerate(("sub-div", "sub-mul", "mul-add")):
            for dtype in (np.float64, np.float32):
                case(d, form, dtype, 11 + i)
    torchutil.report()


if __name__ == "__main__":
    main()
