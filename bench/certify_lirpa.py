"""
chainrule's bounds against auto_LiRPA 0.3 on the benchmark set's nets and boxes
(bench/certify_set.py): the same float32 weights (auto_LiRPA's net in float64, chainrule
reading the ONNX file and widening exactly), the same L-inf boxes clipped to [0, 1], the
same 9 margin rows y_label - y_j per box, on the same CPU with the same thread count.

  - bounds: chainrule's lower bounds must be sound (never above the margin at the box's
    centre, its corners' samples and 64 random points) and are compared with auto_LiRPA's
    (max over rows of lb_lirpa - lb_chainrule: > 0 means chainrule is looser);
  - times: per method, the median over rounds of the time per box, chainrule and auto_LiRPA
    interleaved box by box (the BoundedModule is built once per net, not timed).
Methods: IBP, CROWN (both with CROWN intermediates), and alpha-CROWN when chainrule's
Python module knows "alpha".

Run in the auto_LiRPA venv (scripts/auto-lirpa-venv.sh) from the repository:
    PYTHONPATH=python CHAINRULE_LIBRARY=build/rel/libchainrule.so \\
      build-ci/venv-lirpa/bin/python bench/certify_lirpa.py [--set build/certify-set] \\
      [--boxes 12] [--rounds 3] [--threads 2] [--methods ibp,crown]
"""
import argparse
import os
import statistics
import sys
import time
import warnings

warnings.filterwarnings("ignore")
import numpy as np  # noqa: E402
import torch  # noqa: E402
from auto_LiRPA import BoundedModule, BoundedTensor  # noqa: E402
from auto_LiRPA.perturbations import PerturbationLpNorm  # noqa: E402

import chainrule  # noqa: E402

LIRPA = {"ibp": "IBP", "crown": "CROWN", "alpha": "alpha-CROWN"}


class Normalize(torch.nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.mean, self.std = float(mean), float(std)

    def forward(self, x):
        return (x - self.mean) / self.std


def torch_net(npz):
    z = np.load(npz)
    act = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid}[str(z["act"])]
    n = sum(1 for k in z.files if k.startswith("W"))
    mods = [Normalize(z["mean"], z["std"])]
    for i in range(n):
        W, b = z[f"W{i}"].astype(np.float64), z[f"b{i}"].astype(np.float64)
        lin = torch.nn.Linear(W.shape[1], W.shape[0]).double()
        lin.weight.data, lin.bias.data = torch.from_numpy(W), torch.from_numpy(b)
        mods.append(lin)
        if i + 1 < n:
            mods.append(act())
    return torch.nn.Sequential(*mods).double().eval()


def margins(label, k=10):
    C = np.zeros((k - 1, k))
    for r, j in enumerate(j for j in range(k) if j != label):
        C[r, label], C[r, j] = 1, -1
    return C


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", default="build/certify-set")
    ap.add_argument("--boxes", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--methods", default="ibp,crown,alpha")
    ap.add_argument("--nets", default="fmnist_relu_9x200,fmnist_sigmoid_6x200")
    a = ap.parse_args()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(a.threads)
    chainrule.set_threads(a.threads) if hasattr(chainrule, "set_threads") else None
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(a.threads))
    methods = [m for m in a.methods.split(",") if m != "alpha" or "alpha" in chainrule._BOUND_METHODS]
    rng = np.random.default_rng(0)
    table, bad = [], []
    for name in a.nets.split(","):
        net = torch_net(os.path.join(a.set, name + ".npz"))
        model = chainrule.load(os.path.join(a.set, name + ".onnx"))
        bx = np.load(os.path.join(a.set, f"boxes_{name}.npz"))
        eps = float(bx["eps"])
        X, Y = bx["x"][:a.boxes].astype(np.float64), bx["label"][:a.boxes]
        bm = BoundedModule(net, torch.zeros(1, X.shape[1]))
        boxes = [(np.clip(x - eps, 0, 1), np.clip(x + eps, 0, 1), margins(int(y))) for x, y in zip(X, Y)]
        # soundness samples: the margins at the centre and 64 random points per box (and PGD-free corners)
        samples = []
        for lo, hi, C in boxes:
            pts = np.vstack([(lo + hi) / 2, lo + (hi - lo) * rng.random((64, len(lo))),
                             np.where(rng.random((16, len(lo))) < 0.5, lo, hi)])
            with torch.no_grad():
                o = net(torch.from_numpy(pts)).numpy()
            samples.append((o @ C.T).min(0))
        for meth in methods:
            tc, tl, diff, unsound = [], [], [], 0
            for rnd in range(a.rounds):
                for i, (lo, hi, C) in enumerate(boxes):
                    t0 = time.perf_counter()
                    cl, cu = model.bounds(lo, hi, C, meth)
                    t1 = time.perf_counter()
                    ptb = PerturbationLpNorm(norm=np.inf, x_L=torch.from_numpy(lo)[None], x_U=torch.from_numpy(hi)[None])
                    bt = BoundedTensor(torch.from_numpy((lo + hi) / 2)[None], ptb)
                    t2 = time.perf_counter()
                    ll, lu = bm.compute_bounds(x=(bt,), C=torch.from_numpy(C)[None], method=LIRPA[meth])
                    t3 = time.perf_counter()
                    tc.append(t1 - t0)
                    tl.append(t3 - t2)
                    if rnd == 0:
                        ll = ll.detach().numpy()[0]
                        diff.append(float(np.max(ll - cl)))
                        unsound += int(np.sum(cl > samples[i] + 0.0))
            mc, ml = statistics.median(tc), statistics.median(tl)
            row = (name, meth, mc, ml, ml / mc, max(diff), unsound, len(boxes) * 9)
            table.append(row)
            print(f"{name} {meth}: chainrule {mc * 1e3:.1f} ms, auto_LiRPA {ml * 1e3:.1f} ms per box "
                  f"({ml / mc:.1f}x); max(lb_lirpa - lb_chainrule) = {max(diff):.3g}; "
                  f"unsound rows {unsound} of {len(boxes) * 9}", flush=True)
            if unsound:
                bad.append(f"{name} {meth}: {unsound} chainrule lower bounds above a sampled margin")
    print()
    print(f"{a.boxes} boxes x {a.rounds} rounds, {a.threads} threads each (torch.set_num_threads, "
          f"chainrule's workers), medians per box")
    print("| net | method | chainrule ms | auto_LiRPA ms | ratio | max(lb_LiRPA - lb_chainrule) | unsound |")
    print("|---|---|---|---|---|---|---|")
    for name, meth, mc, ml, r, d, u, n in table:
        print(f"| {name} | {meth} | {mc * 1e3:.1f} | {ml * 1e3:.1f} | {r:.1f}x | {d:.3g} | {u}/{n} |")
    for b in bad:
        print("WRONG:", b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
