#!/usr/bin/python3
"""The Python module (python/chainrule) against PyTorch.

Models are written here from seeded numpy weights (non-zero biases, several
depths and activations, float32 and float64, one with input standardisation),
PyTorch rebuilds the same networks from those arrays (not from the file), and
for each model: predictions, input gradients dJ_n/dx_n and input Jacobians of
the probabilities and the logits in every mode must equal PyTorch's (relative
to the largest entry: 1e-5 in float32, 1e-12 in float64), inputs given in
another float dtype are converted, an ONNX copy written by `chainrule convert`
loads through the same loader and gives the same numbers, gradcheck passes and
reports a planted fault, and library errors raise chainrule.Error with the
library's message. A PyTorch net with BatchNorm1d, exported to ONNX, loads and
matches too.

    /usr/bin/python3 tests/python_chainrule.py CHAINRULE_CLI
(PYTHONPATH=python, CHAINRULE_LIBRARY=the built libchainrule.so.0.2; exit 77 without torch)
"""
import json
import os
import struct
import re
import subprocess
import sys
import tempfile

import numpy as np

try:
    import torch
except ImportError:
    print("python_chainrule: torch not available, skipped")
    sys.exit(77)

import chainrule

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from activations import chainrule_activations, torch_fn  # noqa: E402
from torchutil import raises, write_model  # noqa: E402
import torchutil  # noqa: E402

torch.set_num_threads(1)
CLI = sys.argv[1]
TOL = {np.float32: 1e-5, np.float64: 1e-12}
checks = 0
worst = {}


def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.max(np.abs(b))
    assert scale > 1e-8, "reference is (almost) zero: the comparison would prove nothing"
    return float(np.max(np.abs(a - b)) / scale)


def expect(name, got, ref, tol):
    global checks
    assert got.shape == ref.shape, f"{name}: shape {got.shape} != {ref.shape}"
    e = rel(got, ref)
    assert e <= tol, f"{name}: relative error {e:.3g} > {tol:g}"
    checks += 1
    worst[got.dtype.name] = max(worst.get(got.dtype.name, 0.0), e)
    return e


def torch_net(weights, biases, acts, dtype, mean=None, std=None):
    """The logits as a function of the raw input, in PyTorch."""
    tdt = {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    W = [torch.tensor(w, dtype=tdt) for w in weights]
    B = [torch.tensor(b, dtype=tdt) for b in biases]
    mu = None if mean is None else torch.tensor(mean, dtype=tdt)
    sd = None if std is None else torch.tensor(std, dtype=tdt)

    def f(x):
        h = x if mu is None else (x - mu) / sd
        for i, (w, b) in enumerate(zip(W, B)):
            h = h @ w.T + b
            if i < len(acts):
                h = torch_fn(acts[i])(h)
        return h
    return f, tdt


def check_model(tmp, name, dims, acts, dtype, seed, standardise=False):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, 1.2 / np.sqrt(dims[i]), (dims[i + 1], dims[i])) for i in range(len(dims) - 1)]
    biases = [rng.uniform(-0.5, 0.5, dims[i + 1]) for i in range(len(dims) - 1)]
    mean = std = None
    if standardise:
        mean, std = rng.uniform(-1, 1, dims[0]), rng.uniform(0.5, 2.0, dims[0])
    weights = [w.astype(dtype) for w in weights]
    biases = [b.astype(dtype) for b in biases]
    if standardise:
        mean, std = mean.astype(dtype), std.astype(dtype)
    path = os.path.join(tmp, name + ".safetensors")
    write_model(path, weights, biases, acts, dtype, mean, std)
    m = chainrule.load(path)
    assert m.dtype == dtype and m.layers == dims and m.activations == acts, repr(m)
    assert (m.mean is not None) == standardise

    n, k = 7, dims[-1]
    X = rng.normal(0, 1, (n, dims[0])).astype(dtype)
    labels = rng.integers(0, k, n)
    f, tdt = torch_net(weights, biases, acts, dtype, mean, std)
    tol = TOL[dtype]

    # predictions
    xt = torch.tensor(X, dtype=tdt)
    with torch.no_grad():
        logits = f(xt)
    expect(f"{name} logits", m.predict(X, of="logits"), logits.numpy(), tol)
    expect(f"{name} probs", m.predict(X), torch.softmax(logits, 1).numpy(), tol)

    # input gradients: dJ_n/dx_n = the gradient of the summed per-example losses
    xt = torch.tensor(X, dtype=tdt, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(f(xt), torch.tensor(labels), reduction="sum")
    (gref,) = torch.autograd.grad(loss, xt)
    dx, losses = m.input_grad(X, labels, return_loss=True)
    expect(f"{name} input_grad", dx, gref.numpy(), tol)
    lref = torch.nn.functional.cross_entropy(f(xt), torch.tensor(labels), reduction="none")
    expect(f"{name} losses", losses, lref.detach().numpy(), tol)
    onehot = np.eye(k)[labels]  # one-hot rows in another dtype give the same
    expect(f"{name} input_grad one-hot", m.input_grad(X, onehot), gref.numpy(), tol)

    # Jacobians [N, K, D]: row c of example n from the gradient of output c summed over n
    for of in ("probs", "logits"):
        xt = torch.tensor(X, dtype=tdt, requires_grad=True)
        out = f(xt)
        if of == "probs":
            out = torch.softmax(out, 1)
        jref = np.stack([torch.autograd.grad(out[:, c].sum(), xt, retain_graph=True)[0].numpy()
                         for c in range(k)], axis=1)
        for mode in ("auto", "rev", "fwd", "closed"):
            expect(f"{name} jacobian {of} {mode}", m.jacobian(X, of=of, mode=mode), jref, tol)

    # any float dtype in: converted to the model's
    for other in (np.float16, np.float32, np.float64):
        Xo = X.astype(other)
        got = m.predict(Xo)
        want = m.predict(np.asarray(Xo, dtype=dtype))
        assert got.dtype == dtype and np.array_equal(got, want), f"{name}: {other} input"
    # non-contiguous input
    Xf = np.asfortranarray(X)
    assert np.array_equal(m.input_grad(Xf, labels), dx), f"{name}: Fortran-order input"

    # the same network as ONNX, through the same loader (when the writer writes its activations)
    written = dict((a, w) for a, _, w in chainrule_activations(CLI))
    if all(written[a] for a in acts):
        onnx = os.path.join(tmp, name + ".onnx")
        subprocess.run([CLI, "convert", "--model", path, "--out", onnx], check=True,
                       stdout=subprocess.DEVNULL)
        with chainrule.load(onnx) as mo:
            assert mo.layers == dims and mo.dtype == dtype, repr(mo)
            expect(f"{name} onnx probs", mo.predict(X), torch.softmax(logits, 1).numpy(), tol)
            expect(f"{name} onnx input_grad", mo.input_grad(X, labels), gref.numpy(), tol)
    else:
        print(f"     {name}: {','.join(acts)} is not written to ONNX: no ONNX copy")

    # gradcheck: passes on the real model; a planted fault in layer 2's VJP is named
    if len(dims) > 2:
        r = m.gradcheck(X, labels)
        assert r.passed and len(r.results) > 10, r
        ig = [c for c in r.results if c.kind == "input gradient"]
        assert ig and not ig[0].trivial and ig[0].checked == n * dims[0], ig
        # the activation is op 2, op 3 after a standardisation (link 0 is op 1)
        act_pos = 3 if standardise else 2
        bad = m.gradcheck(X, labels, inject_fault=(act_pos, "vjp"))
        ff = bad.first_failure()
        assert not bad.passed and ff.layer == act_pos and ff.kind == "VJP" and ff.op == acts[0], bad.results
        if standardise:  # link 0 is checked as the chain's first op, and a fault in it is named
            assert any(c.layer == 1 and c.op.startswith("affine sub-div") for c in r.results), r.results
            bad = m.gradcheck(X, labels, inject_fault=(1, "vjp"))
            ff = bad.first_failure()
            assert not bad.passed and ff.layer == 1 and ff.kind == "VJP", bad.results
    m.close()
    print(f"ok   {name}: {'-'.join(map(str, dims))} {','.join(acts) or 'linear'} {np.dtype(dtype).name}"
          f"{' standardised' if standardise else ''}")
    return m


def check_heads(tmp):
    """Output activations and the regression head (issue 11) against PyTorch."""
    fn = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "none": lambda t: t}
    for dtype, last, head in ((np.float64, "relu", "softmax-cross-entropy"),
                              (np.float32, "sigmoid", "softmax-cross-entropy"),
                              (np.float64, "none", "squared-error"),
                              (np.float32, "tanh", "squared-error")):
        rng = np.random.default_rng(len(last) + len(head))
        dims = [6, 7, 3]
        weights = [rng.normal(0, 1.2 / np.sqrt(dims[i]), (dims[i + 1], dims[i])).astype(dtype)
                   for i in range(2)]
        biases = [rng.uniform(-0.5, 0.5, dims[i + 1]).astype(dtype) for i in range(2)]
        path = os.path.join(tmp, f"head_{last}.safetensors")
        write_model(path, weights, biases, ["tanh"], dtype, last=last, head=head)
        m = chainrule.load(path)
        assert m.head == head and m.output_activation == (None if last == "none" else last), repr(m)
        f, tdt = torch_net(weights, biases, ["tanh"], dtype)
        o_fn = lambda x: fn[last](f(x))  # noqa: E731
        X = rng.uniform(-1, 1, (5, 6)).astype(dtype)
        xt = torch.tensor(X, dtype=tdt, requires_grad=True)
        o = o_fn(xt)
        tol = TOL[dtype]
        tag = f"{np.dtype(dtype).name} {last} {head}"
        if head == "squared-error":
            T = rng.uniform(-1, 1, (5, 3)).astype(dtype)
            loss = 0.5 * ((o - torch.tensor(T, dtype=tdt)) ** 2).sum()
            expect(f"{tag} predict", m.predict(X), o.detach().numpy(), tol)
            try:
                m.predict(X, of="probs")
                raise AssertionError("a regressor's probabilities did not raise")
            except ValueError:
                pass
            y = T
        else:
            y = rng.integers(0, 3, 5)
            loss = torch.nn.functional.cross_entropy(o, torch.tensor(y), reduction="sum")
            expect(f"{tag} predict", m.predict(X), torch.softmax(o, 1).detach().numpy(), tol)
            expect(f"{tag} predict outputs", m.predict(X, of="outputs"), o.detach().numpy(), tol)
        (gx,) = torch.autograd.grad(loss, xt)
        expect(f"{tag} input_grad", m.input_grad(X, y), gx.numpy(), tol)
        jref = np.stack([torch.autograd.functional.jacobian(o_fn, torch.tensor(X[i:i + 1], dtype=tdt))
                         .numpy().reshape(3, 6) for i in range(5)])
        for mode in ("rev", "fwd", "closed"):
            expect(f"{tag} jacobian {mode}", m.jacobian(X, of="outputs", mode=mode), jref, tol)
        r = m.gradcheck(X, y)
        assert r.passed, f"{tag}: gradcheck {r.first_failure()}"
        assert any("(output)" in c.op for c in r.results) == (last != "none")
        m.close()
    # the head given at load time overrides the file's (an ONNX graph cannot say)
    onnx_path = os.path.join(tmp, "reg.onnx")
    subprocess.run([CLI, "convert", "--model", os.path.join(tmp, "head_relu.safetensors"),
                    "--out", onnx_path], check=True, capture_output=True)
    m = chainrule.load(onnx_path, head="squared-error")
    assert m.head == "squared-error" and m.output_activation == "relu"
    m.close()


def check_errors(tmp):
    global checks
    dims, acts = [5, 4, 3], ["sigmoid"]
    rng = np.random.default_rng(9)
    path = os.path.join(tmp, "err.safetensors")
    write_model(path, [rng.normal(size=(4, 5)), rng.normal(size=(3, 4))],
                [rng.normal(size=4), rng.normal(size=3)], acts, np.float64)
    m = chainrule.load(path)
    X = rng.normal(size=(3, 5))

    missing = os.path.join(tmp, "missing.safetensors")
    raises(chainrule.Error, lambda: chainrule.load(missing), missing)
    junk = os.path.join(tmp, "junk.safetensors")
    with open(junk, "wb") as f:
        f.write(struct.pack("<Q", 10 ** 9) + b"{}")
    e = raises(chainrule.Error, lambda: chainrule.load(junk), junk, "exceeds file size")
    assert e.status == "CR_ERR_FORMAT" and junk in e.detail, (e.status, e.detail)
    e = raises(chainrule.Error, lambda: chainrule.load(missing), missing)
    assert e.status == "CR_ERR_IO" and missing in e.detail, (e.status, e.detail)
    e = raises(chainrule.Error, lambda: m.predict(X[:0]), "invalid argument")
    assert e.status == "CR_ERR_ARG", e.status
    e = raises(chainrule.Error, lambda: m.input_grad(X[:0], np.zeros(0, np.int64)), "CR_ERR_ARG")
    raises(chainrule.Error, lambda: m.input_grad(X, [0, 1, 3]), "out of range")
    raises(chainrule.Error, lambda: m.input_grad(X, [0, 1]), "y")
    raises(ValueError, lambda: m.predict(X[:, :4]), "4 values per example")
    raises(ValueError, lambda: m.jacobian(X, mode="sideways"), "sideways")
    raises(TypeError, lambda: m.predict(X.astype(np.uint8)), "float")
    raises(ValueError, lambda: chainrule.load(path, threads=0), "threads")
    raises(ValueError, lambda: chainrule.load(path, threads=1.5), "threads")
    # threads= is the model's context: 1 and 3 workers give the same bits (2000 rows: several chunks)
    Xb = rng.uniform(size=(2000, 5))
    yb = rng.integers(0, 3, 2000)
    with chainrule.load(path, threads=1) as m1, chainrule.load(path, threads=3) as m3:
        assert m1.threads == 1 and m3.threads == 3 and chainrule.load(path).threads >= 1
        g1, g3 = m1.input_grad(Xb, yb), m3.input_grad(Xb, yb)
        assert np.abs(g1).max() > 0 and np.array_equal(g1, g3)
        a1 = m1.attack(Xb, yb, eps=0.1, method="pgd", steps=3)
        a3 = m3.attack(Xb, yb, eps=0.1, method="pgd", steps=3)
        assert np.array_equal(a1, a3) and not np.array_equal(a1, Xb)
        checks += 2
    # bounds of a net with an activation without a relaxation: the reason, naming it
    for act in ("gelu", "silu"):
        gpath = os.path.join(tmp, f"err_{act}.safetensors")
        write_model(gpath, [rng.normal(size=(4, 5)), rng.normal(size=(3, 4))],
                    [rng.normal(size=4), rng.normal(size=3)], [act], np.float64)
        with chainrule.load(gpath) as g:
            for method in ("ibp", "crown"):
                e = raises(chainrule.Error, lambda: g.bounds(-np.ones(5), np.ones(5), method=method),
                           act, "no relaxation yet")
                assert e.status == "CR_ERR_ARG", e.status
    m.close()
    raises(ValueError, lambda: m.predict(X), "close")
    print("ok   errors: chainrule.Error carries the library's messages; threads= gives the same bits")


def check_batchnorm(tmp):
    """A PyTorch Linear-BatchNorm1d-ReLU-Linear-BatchNorm1d net in eval() mode, through
    torch.onnx.export (real BatchNormalization nodes), loaded by chainrule.load: the
    BatchNorm links evaluate and differentiate as PyTorch's (docs/batchnorm.md)."""
    import warnings
    warnings.filterwarnings("ignore")
    for dtype in (np.float64, np.float32):
        tdt = torch.float64 if dtype == np.float64 else torch.float32
        torch.manual_seed(9)
        net = torch.nn.Sequential(torch.nn.Linear(6, 7), torch.nn.BatchNorm1d(7), torch.nn.ReLU(),
                                  torch.nn.Linear(7, 4), torch.nn.BatchNorm1d(4)).to(tdt).eval()
        with torch.no_grad():
            for bn in (net[1], net[4]):
                bn.running_mean.uniform_(-0.5, 0.5), bn.running_var.uniform_(0.2, 2.0)
                bn.weight.uniform_(0.5, 1.5), bn.bias.uniform_(-0.5, 0.5)
                bn.eps = float(np.float32(bn.eps))  # the file's float epsilon
        path = os.path.join(tmp, f"bn_{np.dtype(dtype).name}.onnx")
        torch.onnx.export(net, torch.zeros(2, 6, dtype=tdt), path, opset_version=13,
                          do_constant_folding=False, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
        m = chainrule.load(path)
        rng = np.random.default_rng(4)
        X = rng.normal(0, 1, (5, 6)).astype(dtype)
        labels = rng.integers(0, 4, 5)
        tol, name = TOL[dtype], f"batchnorm {np.dtype(dtype).name}"
        xt = torch.tensor(X, requires_grad=True)
        logits = net(xt)
        expect(f"{name} logits", m.predict(X, of="logits"), logits.detach().numpy(), tol)
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor(labels), reduction="sum")
        (gx,) = torch.autograd.grad(loss, xt)
        expect(f"{name} input_grad", m.input_grad(X, labels), gx.numpy(), tol)
        for mode in ("rev", "fwd", "closed"):
            jref = np.stack([torch.autograd.functional.jacobian(
                lambda v: torch.softmax(net(v[None]), 1)[0], torch.tensor(X[i])).numpy()
                for i in range(len(X))])
            expect(f"{name} jacobian {mode}", m.jacobian(X, mode=mode), jref, tol)
        r = m.gradcheck(X, labels)
        assert r.failures == 0, f"{name}: gradcheck {r.first_failure()}"
        m.close()


def check_certify(tmp):
    """Model.certify against the program's `certify --eps` on the same inputs (the same
    per-example verdicts and accuracies), and `explain --certify`'s printed margins against
    Model.bounds (cr_net_bound's CROWN bound) on the same box."""
    global checks
    rng = np.random.default_rng(7)
    dims = [5, 8, 3]
    weights = [rng.normal(0, 1.5 / np.sqrt(dims[i]), (dims[i + 1], dims[i])) for i in range(2)]
    biases = [rng.uniform(-0.3, 0.3, dims[i + 1]) for i in range(2)]
    path = os.path.join(tmp, "cert.safetensors")
    write_model(path, weights, biases, ["relu"], np.float32, mean=np.full(5, 0.5), std=np.full(5, 0.25))
    X = rng.uniform(0, 1, (30, 5)).astype(np.float32)
    m = chainrule.load(path)
    y = m.classify(X)
    y[:3] = (y[:3] + 1) % 3  # three misclassified examples
    np.save(os.path.join(tmp, "cx.npy"), X)
    np.save(os.path.join(tmp, "cy.npy"), y)
    eps = [0.003, 0.03, 0.1, 0.4]
    out = subprocess.run([CLI, "certify", "--model", path, "--inputs", os.path.join(tmp, "cx.npy"),
                          "--labels", os.path.join(tmp, "cy.npy"), "--eps", ",".join(map(str, eps)),
                          "--clip", "0,1", "--method", "crown", "--restarts", "3", "--steps", "20",
                          "--json", "--out", os.path.join(tmp, "codes.npy")],
                         check=True, capture_output=True, text=True).stdout
    cli = json.loads(out)["results"]
    codes = np.load(os.path.join(tmp, "codes.npy"))
    r = m.certify(X, y, eps, method="crown", clip=(0, 1), restarts=3, steps=20)
    assert r.verdicts.shape == (30, 4) and r.verdicts.dtype == np.uint8
    assert np.array_equal(r.verdicts, codes), f"verdicts: Python {r.verdicts.T} CLI {codes.T}"
    for e, c in enumerate(cli):
        assert abs(c["certified_accuracy"] - r.certified_accuracy[e]) < 1e-6, (e, c, r)
        assert abs(c["attacked_accuracy"] - r.attacked_accuracy[e]) < 1e-6, (e, c, r)
        assert abs(c["clean_accuracy"] - r.clean_accuracy) < 1e-6 and c["unknown"] == r.unknown[e]
    # not vacuous: proofs, counterexamples and the misclassified three; a proof at one eps never
    # beside a counterexample at a smaller one
    assert (codes == 0).any() and (codes == 1).any() and (codes[:3] == 4).all() and not (codes[3:] == 4).any()
    for i in range(30):
        p, b = [eps[e] for e in range(4) if codes[i, e] == 0], [eps[e] for e in range(4) if codes[i, e] == 1]
        assert not p or not b or max(p) < min(b), (i, codes[i])
    checks += 2

    # Model.certified_radius against `certify --radius --out` (the same brackets, bit for bit)
    rpath = os.path.join(tmp, "radii.npy")
    subprocess.run([CLI, "certify", "--model", path, "--inputs", os.path.join(tmp, "cx.npy"),
                    "--labels", os.path.join(tmp, "cy.npy"), "--radius", "--radius-max", "0.5",
                    "--radius-tol", "0.01", "--clip", "0,1", "--method", "crown", "--restarts", "3",
                    "--steps", "20", "--out", rpath], check=True, capture_output=True, text=True)
    cli_rad = np.load(rpath)
    rr = m.certified_radius(X, y, method="crown", clip=(0, 1), radius_max=0.5, tol=0.01, restarts=3, steps=20)
    assert rr.brackets.shape == (30, 2) and cli_rad.shape == (30, 2)
    assert np.array_equal(rr.brackets, cli_rad, equal_nan=True), f"radii: Python {rr.brackets} CLI {cli_rad}"
    # not vacuous: proved and broken radii inside the range, NaN and 0 for the misclassified three, and each
    # bracket ordered; the brackets agree with Model.certify's verdicts at eps inside and outside them
    fin = np.isfinite(rr.certified)
    assert np.isnan(rr.certified[:3]).all() and (rr.attacked[:3] == 0).all()
    assert fin[3:].sum() >= 10 and (rr.certified[fin] > 0).sum() >= 5 and np.isfinite(rr.attacked).sum() >= 10
    assert (rr.certified[fin] < rr.attacked[fin]).all()
    i = int(np.flatnonzero(fin & (rr.certified > 0) & np.isfinite(rr.attacked))[0])
    v = m.certify(X[i:i + 1], y[i:i + 1], [rr.certified[i], rr.attacked[i]], method="crown", clip=(0, 1),
                  restarts=3, steps=20, seed=1 ^ i).verdicts[0]
    assert v[0] == 0 and v[1] == 1, (i, rr.brackets[i], v)
    checks += 2

    # explain --certify: the printed lower bounds are cr_net_bound's CROWN bounds on the same box
    def two_sum(a, b):
        s = a + b
        bb = s - a
        return s, (a - (s - bb)) + (b - bb)
    for index, e in ((3, 0.03), (5, 0.2)):
        txt = subprocess.run([CLI, "explain", "--certify", "--eps", str(e), "--model", path, "--inputs",
                              os.path.join(tmp, "cx.npy"), "--labels", os.path.join(tmp, "cy.npy"),
                              "--index", str(index)], check=True, capture_output=True, text=True).stdout
        printed = [float(v) for v in re.findall(r"lower bound of m over the ball: (\S+)", txt)]
        proved = float(re.search(r"proved margin: (\S+)", txt).group(1))
        x = X[index].astype(np.float64)
        lo, hi = np.empty(5), np.empty(5)
        for q in range(5):  # cr_spec_linf's outward rounding of x -+ eps
            s, err = two_sum(float(x[q]), -e)
            lo[q] = np.nextafter(s, -np.inf) if err < 0 else s
            s, err = two_sum(float(x[q]), e)
            hi[q] = np.nextafter(s, np.inf) if err > 0 else s
        C = np.array([[1.0 if k == y[index] else -1.0 if k == j else 0.0 for k in range(3)]
                      for j in range(3) if j != y[index]])
        lb, _ = m.bounds(lo, hi, C, method="crown")
        assert len(printed) == 2 and np.array_equal(np.array(printed), lb), (printed, lb)
        assert proved == lb.min(), (proved, lb)
        checks += 1


def main():
    with tempfile.TemporaryDirectory() as tmp:
        check_batchnorm(tmp)
        check_model(tmp, "f64_sigmoid", [6, 5, 3], ["sigmoid"], np.float64, 1)
        check_model(tmp, "f64_deep", [7, 6, 5, 4], ["tanh", "relu"], np.float64, 2)
        check_model(tmp, "f64_std", [8, 6, 4], ["tanh"], np.float64, 3, standardise=True)
        check_model(tmp, "f32_tanh", [10, 8, 5], ["tanh"], np.float32, 4)
        check_model(tmp, "f32_std", [12, 9, 4], ["sigmoid"], np.float32, 5, standardise=True)
        check_model(tmp, "f64_linear", [4, 3], [], np.float64, 6)
        # every row of the op table (chainrule --list-activations), both dtypes
        for k, (a, _, _) in enumerate(chainrule_activations(CLI)):
            check_model(tmp, f"f64_{a}", [7, 6, 5, 3], [a, a], np.float64, 20 + k)
            check_model(tmp, f"f32_{a}", [7, 6, 4], [a], np.float32, 40 + k)
        check_heads(tmp)
        check_errors(tmp)
        check_certify(tmp)
    print(f"python_chainrule: {checks + torchutil.checks} comparisons and error checks passed "
          f"({chainrule.library_paths()[0]}); largest relative errors against PyTorch: "
          + ", ".join(f"{k} {v:.2e}" for k, v in sorted(worst.items())))


main()
