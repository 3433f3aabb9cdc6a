"""VNN-COMP 2021 eran-style nets and specs for tests/cli_eran_and.sh (python3-onnx, numpy).

The hidden benchmark issue 16 is judged on (mnist_relu_9_200.onnx, ffnnSIGMOID__Point_6x200.onnx) has this layout:
a 4-D input [1, 1, 28, 28] in [0, 1], the normalisation inside the graph as Sub and Div, Flatten, MatMul + Add per
layer, Relu or Sigmoid; and specs whose output part is top-level `(assert (>= Y_j Y_label))` for every j != label:
an AND (unsafe iff the label's logit is the smallest), not the usual OR. Small nets of that layout here (784-24-24-24-10
relu, 784-24-24-10 sigmoid, float32 weights), and per net three specs:
  NAME_and_unsat: the label is the second smallest logit at x0, eps 1e-3: the smallest stays below it (AND unsat);
  NAME_or_sat:    the same box and label as an OR of one-row clauses: sat at x0 (a reader taking the AND for an OR
                  would answer sat above);
  NAME_and_sat:   a class not the smallest at x0 but the smallest at a point of the box (found here by a PGD on the
                  float64 forward): the witness must satisfy every row of the AND.
check.py WITNESS-FILE NAME checks a sat result: the X inside the box and, by this file's own float64 forward, every
row of the clause (AND) or one row (OR) holding, the Y printed matching it.
Usage: eran_like.py gen TESTS_DIR | eran_like.py check RESULT NAME
"""
import sys, numpy as np
rng = np.random.default_rng(16)
MEAN, STD = 0.1307, 0.3081

def net(act, widths):
    dims = [784] + widths + [10]
    layers = []
    for a, b in zip(dims[:-1], dims[1:]):
        W = (rng.standard_normal((b, a)) * (2.0 / np.sqrt(a))).astype(np.float32)
        layers.append((W, (0.1 * rng.standard_normal(b)).astype(np.float32)))
    return layers

def fwd(layers, act, x):  # float64 of the float32 weights; x in [0,1]^784
    h = (np.asarray(x, np.float64) - np.float64(np.float32(MEAN))) / np.float64(np.float32(STD))
    pats = []
    for i, (W, b) in enumerate(layers):
        z = h @ W.astype(np.float64).T + b.astype(np.float64)
        if i + 1 < len(layers):
            pats.append(z)
            h = np.maximum(z, 0) if act == "relu" else 1 / (1 + np.exp(-z))
        else:
            h = z
    return h, pats

def grad(layers, act, x, c):  # gradient of the logit combination c at x
    _, pats = fwd(layers, act, x)
    g = np.asarray(c, np.float64)
    for i in range(len(layers) - 1, -1, -1):
        g = g @ layers[i][0].astype(np.float64)
        if i > 0:
            z = pats[i - 1]
            g = g * ((z > 0) if act == "relu" else (1 / (1 + np.exp(-z))) * (1 - 1 / (1 + np.exp(-z))))
    return g / np.float64(np.float32(STD))

def spec(path, lo, hi, label, form):
    with open(path, "w") as f:
        f.write(f"; ERAN-style property, label {label}\n")
        for i in range(784): f.write(f"(declare-const X_{i} Real)\n")
        for j in range(10): f.write(f"(declare-const Y_{j} Real)\n")
        for i in range(784): f.write(f"(assert (<= X_{i} {hi[i]!r}))\n(assert (>= X_{i} {lo[i]!r}))\n")
        if form == "and":  # VNN-COMP 2021 eran: top-level asserts, unsafe iff the label's logit is the smallest
            for j in range(10):
                if j != label: f.write(f"(assert (>= Y_{j} Y_{label}))\n")
        else:
            f.write("(assert (or\n" + "".join(f"  (and (>= Y_{j} Y_{label}))\n" for j in range(10) if j != label) + "))\n")

def gen():
    import onnx
    sys.path.insert(0, sys.argv[2])
    from onnx_models import mlp
    meta = {}
    for act, widths in (("relu", [24, 24, 24]), ("sigmoid", [24, 24])):
        layers = net(act, widths)
        onnx.save(mlp(layers, [act] * len(widths), style="matmul", input_shape=(1, 28, 28), batch=1,
                      flatten="flatten", norm=[("Sub", np.float32(MEAN)), ("Div", np.float32(STD))]), f"{act}.onnx")
        x0 = rng.uniform(0, 1, 784)
        y0, _ = fwd(layers, act, x0)
        order = np.argsort(y0)
        # and_unsat / or_sat: the label is the second smallest at x0, ε tiny: the smallest stays below it (AND unsat),
        # many classes stay above it (the OR is sat at x0)
        lab = int(order[1]); eps = 1e-3
        lo, hi = np.clip(x0 - eps, 0, 1), np.clip(x0 + eps, 0, 1)
        spec(f"{act}_and_unsat.vnnlib", lo, hi, lab, "and")
        spec(f"{act}_or_sat.vnnlib", lo, hi, lab, "or")
        meta[f"{act}_and_unsat"] = (lo, hi, lab)
        meta[f"{act}_or_sat"] = (lo, hi, lab)
        # and_bab: the same AND clause on a wider box around the and_unsat box's centre, where neither IBP nor CROWN
        # nor α at the root prove it and branch and bound must (a review found these radii; an independent numpy PGD,
        # 60 restarts x 150 steps, finds no counterexample: best min_j (Y_j - Y_label) -0.86 relu, -0.41 sigmoid)
        mid, e = (lo + hi) / 2, {"relu": 0.006, "sigmoid": 0.026}[act]
        spec(f"{act}_and_bab.vnnlib", np.clip(mid - e, 0, 1), np.clip(mid + e, 0, 1), lab, "and")
        # and_sat: a class that is not the smallest at x0 but is at a point of the box (one signed step of a linearised
        # margin): the attack must make EVERY other logit at least the label's
        found = False
        for eps in (0.01, 0.02, 0.04, 0.08, 0.16):
            for c in order[1:]:
                cvec = np.full(10, -1.0 / 9); cvec[c] = 1.0
                p = x0.copy()
                for _ in range(10):  # a small PGD on the linearised margin
                    p = np.clip(np.clip(p - 0.3 * eps * np.sign(grad(layers, act, p, cvec)), x0 - eps, x0 + eps), 0, 1)
                yp, _ = fwd(layers, act, p)
                if np.argmin(yp) == c and np.sort(yp)[1] - yp[c] > 0.02:
                    found = True; break
            if found: break
        assert found, "no AND-sat instance"
        lo, hi = np.clip(x0 - eps, 0, 1), np.clip(x0 + eps, 0, 1)
        spec(f"{act}_and_sat.vnnlib", lo, hi, int(c), "and")
        meta[f"{act}_and_sat"] = (lo, hi, int(c))
        np.savez(f"{act}_w.npz", *[a for W, b in layers for a in (W, b)])
    np.save("meta.npy", meta, allow_pickle=True)


def check(result, name):
    act = name.split("_")[0]
    z = np.load(f"{act}_w.npz")
    layers = [(z[f"arr_{2 * i}"], z[f"arr_{2 * i + 1}"]) for i in range(len(z.files) // 2)]
    lo, hi, label = np.load("meta.npy", allow_pickle=True).item()[name]
    txt = open(result).read().split()
    assert txt[0] == "sat", f"{name}: {txt[0]}"
    vals = {}

    toks = " ".join(txt[1:]).replace("(", " ").replace(")", " ").split()
    for k, v in zip(toks[0::2], toks[1::2]):
        vals[k] = float(v)
    x = np.array([vals[f"X_{i}"] for i in range(784)])
    y = np.array([vals[f"Y_{j}"] for j in range(10)])
    assert np.all(x >= lo) and np.all(x <= hi), f"{name}: the witness leaves the box"
    yy, _ = fwd(layers, act, x)
    assert np.max(np.abs(yy - y)) <= 1e-6 * (1 + np.max(np.abs(yy))), f"{name}: printed Y {y} != forward {yy}"
    rows = [yy[j] - yy[label] for j in range(10) if j != label]  # each row: Y_j >= Y_label
    if "_and_" in name:
        assert min(rows) >= 0, f"{name}: an AND row fails at the witness: {min(rows)}"
    else:
        assert max(rows) >= 0, f"{name}: no OR row holds at the witness"
    print(f"{name}: witness in the box, rows {'all' if '_and_' in name else 'one'} hold (min {min(rows):.3g})")


if __name__ == "__main__":
    gen() if sys.argv[1] == "gen" else check(sys.argv[2], sys.argv[3])
