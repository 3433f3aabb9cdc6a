#!/usr/bin/python3
"""Regressors in attribute, attack and explain (issue 17 item 4) against PyTorch.

Textbook regressors typed as JSON models (sigmoid hidden layer; a sigmoid
output with K = 2, an identity output with K = 1; float64 and float32) and
the same nets in torch.nn:
  - `attribute --output k`: saliency equals torch.autograd's d o_k/dx,
    input x gradient x * d o_k/dx, integrated gradients the same right
    Riemann sum (50 steps, zero baseline) of autograd gradients; f(x) = o_k;
  - `attack --targets T.npy`: FGSM L-inf equals clip(x + eps sign(dJ/dx)) and
    FGSM L2 equals x + eps g/|g|_2 for J = 1/2 |o - t|^2 from autograd; the
    reported mean J clean and adversarial equal PyTorch's; PGD raises J and
    stays in the ball;
  - `explain --model M --inputs X --targets T --index i`: the chain with the
    squared-error head and the output's diagonal link (o = sigmoid(theta)),
    its dJ/dx by the VJP chain, the product of Jacobians and the closed form
    equal autograd's, and the text shows the head's two links;
  - to 1e-12 (float64) and 1e-5 (float32) relative to the largest value, every
    gradient checked to be far from zero (no vacuous pass);
  - refusals with one line: --of probs, --target, --class on a regressor,
    --output on a classifier, a regressor without --targets or without
    --output when it has two outputs.
Run as:  /usr/bin/python3 tests/torch_regress.py path/to/chainrule
"""
import json
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

CR = sys.argv[1]
TOL = {np.float64: 1e-12, np.float32: 1e-5}
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)


def run(*args, ok=True):
    p = subprocess.run([CR, *args], capture_output=True, text=True)
    if ok and p.returncode != 0:
        raise SystemExit(f"chainrule {' '.join(args)}: exit {p.returncode}: {p.stderr}")
    return p


def relerr(a, b):
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max()
                 / max(1e-30, np.abs(np.asarray(b, np.float64)).max()))


def model(d, name, dt, out_act, K, seed):
    """A D-H-K regressor: its JSON file and the torch function x -> o."""
    rng = np.random.default_rng(seed)
    D, H = 5, 4
    W1, b1 = rng.standard_normal((D, H)), rng.standard_normal(H) * 0.5
    W2, b2 = rng.standard_normal((H, K)), rng.standard_normal(K) * 0.5
    if dt == np.float32:
        W1, b1, W2, b2 = (a.astype(np.float32) for a in (W1, b1, W2, b2))
    spec = {"layers": [{"W": W1.tolist(), "b": b1.tolist(), "activation": "sigmoid"},
                       {"W": W2.tolist(), "b": b2.tolist(), "activation": out_act}],
            "head": "squared-error"}
    if dt == np.float32:
        spec["dtype"] = "float32"
    path = os.path.join(d, name + ".json")
    with open(path, "w") as f:
        json.dump(spec, f)
    tdt = torch.float64 if dt == np.float64 else torch.float32
    P = [torch.tensor(a, dtype=tdt) for a in (W1, b1, W2, b2)]

    def f(x):
        o = torch.sigmoid(x @ P[0] + P[1]) @ P[2] + P[3]
        return torch.sigmoid(o) if out_act == "sigmoid" else o
    return path, f, tdt


def grad_of(f, x, fn):
    xt = torch.tensor(x, requires_grad=True)
    v = fn(f(xt))
    v.sum().backward()
    return xt.grad.numpy(), v.detach().numpy()


def test_model(d, name, dt, out_act, K):
    path, f, tdt = model(d, name, dt, out_act, K, 11 if dt == np.float64 else 12)
    tol = TOL[dt]
    rng = np.random.default_rng(5)
    N = 7
    x = rng.uniform(-2, 2, (N, 5)).astype(dt)
    t = rng.uniform(-1, 1, (N, K)).astype(dt)
    xp, tp = os.path.join(d, name + "_x.npy"), os.path.join(d, name + "_t.npy")
    np.save(xp, x)
    np.save(tp, t)
    errs = []
    # attribute: saliency, input x gradient, integrated gradients of every output o_k
    for k in range(K):
        g, o = grad_of(f, x, lambda o: o[:, k])
        check(np.abs(g).max() > 1e-3, f"{name}: d o_{k}/dx is not trivially small")
        out = os.path.join(d, "a.npy")
        args = ["--output", str(k)] if K > 1 else []
        for method, ref in (("saliency", g), ("input-x-gradient", x * g)):
            p = run("attribute", "--model", path, "--inputs", xp, "--method", method, "--out", out,
                    "--json", *args)
            a = np.load(out)
            e = relerr(a, ref)
            errs.append(e)
            check(a.shape == x.shape and a.dtype == dt and e <= tol,
                  f"{name}: attribute {method} of o_{k}: error {e:.2e}")
            check(json.loads(p.stdout)["of"] == "output", f"{name}: attribute --json says 'output'")
        # integrated gradients: right Riemann sum of 50 steps from the zero baseline
        S = 50
        acc = np.zeros_like(x, dtype=np.float64)
        for j in range(1, S + 1):
            gj, _ = grad_of(f, (x * (j / S)).astype(dt), lambda o: o[:, k])
            acc += gj / S
        run("attribute", "--model", path, "--inputs", xp, "--method", "integrated-gradients",
            "--out", out, *args)
        e = relerr(np.load(out), x * acc)
        errs.append(e)
        check(e <= 10 * tol, f"{name}: integrated gradients of o_{k}: error {e:.2e}")
        p = run("attribute", "--model", path, "--inputs", xp, "--method", "saliency", "--out", out, *args)
        first = [ln.split() for ln in p.stdout.splitlines() if ln.strip().startswith("0 ")][0]
        check(abs(float(first[1]) - float(o[0])) <= 1e-4, f"{name}: f(x) = o_{k} printed")

    # attack: J = 1/2 |o - t|^2, FGSM in both norms equals the autograd step
    gJ, J = grad_of(f, x, lambda o: 0.5 * ((o - torch.tensor(t)) ** 2).sum(1))
    check(np.abs(gJ).min() > 1e-8 and np.abs(gJ).max() > 1e-3, f"{name}: dJ/dx is far from zero")
    eps = 0.1
    adv = os.path.join(d, "adv.npy")
    p = run("attack", "--model", path, "--inputs", xp, "--targets", tp, "--method", "fgsm",
            "--eps", str(eps), "--clip", "-10,10", "--out", adv, "--json")
    ref = x + eps * np.sign(gJ)
    e = relerr(np.load(adv), ref)
    errs.append(e)
    check(e <= tol, f"{name}: FGSM L-inf x' differs from x + eps sign(dJ/dx): {e:.2e}")
    res = json.loads(p.stdout)["results"][0]
    Jadv = 0.5 * ((f(torch.tensor(ref)).detach().numpy() - t) ** 2).sum(1)
    check(abs(res["loss_clean"] - J.mean()) <= 1e-5 * max(1, J.mean()), f"{name}: clean mean J {res['loss_clean']} vs {J.mean()}")
    check(abs(res["loss_adv"] - Jadv.mean()) <= 1e-5 * max(1, Jadv.mean()), f"{name}: adversarial mean J")
    check(res["loss_adv"] > res["loss_clean"], f"{name}: FGSM raises the squared error")
    check("accuracy" not in res, f"{name}: no accuracy for a regressor")
    run("attack", "--model", path, "--inputs", xp, "--targets", tp, "--method", "fgsm", "--norm", "l2",
        "--eps", str(eps), "--clip", "-10,10", "--out", adv)
    ref2 = x + eps * gJ / np.linalg.norm(gJ, axis=1, keepdims=True)
    e = relerr(np.load(adv), ref2)
    errs.append(e)
    check(e <= tol, f"{name}: FGSM L2 x' differs from x + eps g/|g|: {e:.2e}")
    p = run("attack", "--model", path, "--inputs", xp, "--targets", tp, "--method", "pgd",
            "--eps", str(eps), "--clip", "-10,10", "--out", adv, "--json")
    res = json.loads(p.stdout)["results"][0]
    xa = np.load(adv)
    check(np.abs(xa - x).max() <= eps * (1 + 1e-6), f"{name}: PGD stays in the ball")
    Jp = 0.5 * ((f(torch.tensor(xa)).detach().numpy() - t) ** 2).sum(1)
    check(Jp.mean() >= Jadv.mean() * (1 - 1e-6) and abs(res["loss_adv"] - Jp.mean()) <= 1e-5,
          f"{name}: PGD raises J at least as far as FGSM ({Jp.mean()} vs {Jadv.mean()})")
    # explain: the textbook chain with the squared-error head and the output's diagonal link;
    # its dJ/dx (all four ways) equals autograd's at the chosen example
    for i in (0, 3):
        p = run("explain", "--model", path, "--inputs", xp, "--targets", tp, "--index", str(i), "--json")
        js = json.loads(p.stdout)
        check(js["pass"] and js["head"] == "squared-error", f"{name}: explain --json passes")
        ref = gJ[i].astype(np.float64)
        for key in ("dJdx_vjp_chain", "dJdx_jacobian_product", "dJdx_closed_form"):
            e = relerr(js[key], ref)
            errs.append(e)
            check(e <= tol, f"{name}: explain {key} at example {i}: error {e:.2e}")
        check(abs(js["loss"] - float(J[i])) <= tol * max(1, abs(float(J[i]))), f"{name}: explain's J")
    p = run("explain", "--model", path, "--inputs", xp, "--targets", tp, "--index", "2")
    want = ["∂J/∂o     = o − t", "J   = ½ Σ_i (o_i − t_i)²", "explain: PASS"]
    want += (["∂o/∂θ     = diag(o∘(1−o))          %dx%d        DIAGONAL" % (K, K), "(o − t) ∘ o∘(1−o)"]
             if out_act == "sigmoid" else ["∂o/∂θ     = I"])
    for w in want:
        check(w.replace("x", "×") in p.stdout if "DIAGONAL" in w else w in p.stdout, f"{name}: explain text lacks {w!r}")
    print(f"  {name}: largest relative error {max(errs):.1e}")
    return path, xp, tp


def refusals(d, reg1, reg2):
    """One line, exit 2, nothing written."""
    (p1, x1, t1), (p2, x2, _) = reg1, reg2
    cls = os.path.join(d, "cls.json")
    with open(cls, "w") as f:
        json.dump({"layers": [{"W": [[1, -1, 0.5]] * 5, "activation": "softmax"}]}, f)
    never = os.path.join(d, "never.npy")
    cases = [
        (["attribute", "--model", p1, "--inputs", x1, "--method", "saliency", "--of", "probs", "--out", never], "no probabilities"),
        (["attribute", "--model", p1, "--inputs", x1, "--method", "saliency", "--target", "pred", "--out", never], "no classes"),
        (["attribute", "--model", p1, "--inputs", x1, "--method", "saliency", "--class", "0", "--out", never], "no classes"),
        (["attribute", "--model", p2, "--inputs", x2, "--method", "saliency", "--out", never], "choose the one to explain with --output K"),
        (["attribute", "--model", cls, "--inputs", x1, "--method", "saliency", "--output", "0", "--out", never], "--output is for regressors"),
        (["attack", "--model", p1, "--inputs", x1, "--method", "fgsm", "--eps", "0.1", "--out", never], "give the targets with --targets"),
        (["attack", "--model", p1, "--inputs", x1, "--targets", t1, "--target", "0", "--method", "fgsm", "--eps", "0.1", "--out", never], "no class to target"),
        (["attack", "--model", cls, "--inputs", x1, "--targets", t1, "--method", "fgsm", "--eps", "0.1", "--out", never], "--targets is for regressors"),
        (["explain", "--model", p1, "--inputs", x1], "give its example's targets with --targets"),
        (["explain", "--model", cls, "--inputs", x1, "--targets", t1], "--targets is for regressors"),
        (["explain", "--head", "squared-error", "--output-activation", "nonesuch"], "--output-activation: 'nonesuch'"),
    ]
    for args, text in cases:
        p = run(*args, ok=False)
        lines = p.stderr.strip().splitlines()
        check(p.returncode == 2 and len(lines) == 1 and text in lines[0] and not os.path.exists(never),
              f"{' '.join(args[:2])}: exit {p.returncode}, stderr {p.stderr.strip()!r} (want {text!r})")


def main():
    with tempfile.TemporaryDirectory() as d:
        print("regressors against torch.autograd:")
        reg1 = test_model(d, "id_k1_f64", np.float64, "none", 1)
        reg2 = test_model(d, "sig_k2_f64", np.float64, "sigmoid", 2)
        test_model(d, "sig_k2_f32", np.float32, "sigmoid", 2)
        refusals(d, reg1, reg2)
    print("torch_regress:", "FAILED" if failures else "ok", f"({failures} failures)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
