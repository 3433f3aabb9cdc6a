"""
bench/certify_set.py and bench/certify_bench.py end to end on a small set: a 3x16 relu
Fashion-MNIST net trained by PyTorch (--tiny: 2 epochs on 6000 images), 4 L-inf specs at the
grid eps where PGD breaks about a quarter, every method the CLI has:

  - the set: an ONNX file with the normalisation as Sub and Div nodes, 4 VNN-LIB files, and
    instances.csv; every instance gets a verdict from every method, the runner exits 0;
  - not vacuous: at least one instance is proved by crown and PGD's broken ones are not proved;
  - the runner's witness check (onnxruntime on a float64 copy of the graph) catches planted
    faults: a chainrule that answers sat with the box's centre (which does not violate), or
    with a point outside the box, makes the runner print WRONG and exit 1.

Skipped (77) without torch or without the onnxruntime venv (build-ci/venv-ort).
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import onnx
    import torch  # noqa: F401
except ImportError:
    print("torch_certify_bench: no torch/onnx for /usr/bin/python3; skipped")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CR = os.path.abspath(sys.argv[1])
ORT = os.path.join(ROOT, "build-ci", "venv-ort", "bin", "python")
fails = []


def check(ok, msg):
    print(("ok   " if ok else "FAIL ") + msg)
    if not ok:
        fails.append(msg)


def run(args):
    r = subprocess.run([sys.executable] + args, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


FAKE = r"""#!/usr/bin/python3
# a planted fault: the real chainrule, but every verdict becomes sat with a witness that
# is MODE: 'centre' (inside the box, not violating) or 'outside' (below the box)
import re, subprocess, sys
real, mode = REAL, MODE
r = subprocess.run([real] + sys.argv[1:])
if "--result" in sys.argv and "--vnnlib" in sys.argv:
    spec = open(sys.argv[sys.argv.index("--vnnlib") + 1]).read()
    lo, hi = {}, {}
    for op, i, v in re.findall(r"\(assert \((<=|>=) X_(\d+) ([^\s()]+)\)\)", spec):
        (hi if op == "<=" else lo)[int(i)] = float(v)
    x = [(lo[i] + hi[i]) / 2 if mode == "centre" else lo[i] - 0.5 for i in range(len(lo))]
    body = "\n".join(f"(X_{i} {v!r})" for i, v in enumerate(x))
    open(sys.argv[sys.argv.index("--result") + 1], "w").write("sat\n(" + body + "\n(Y_0 0))\n")
sys.exit(r.returncode)
"""


def main():
    if not os.path.exists(ORT):
        print(f"torch_certify_bench: no onnxruntime venv at {ORT}; skipped")
        return 77
    d = tempfile.mkdtemp()
    st, out = run([os.path.join(ROOT, "bench", "certify_set.py"), "--tiny", "--out", d])
    print(out.strip().splitlines()[-1] if out.strip() else "")
    check(st == 0, "certify_set.py --tiny exits 0")
    if st:
        print(out)
        return 1
    m = onnx.load(os.path.join(d, "fmnist_relu_3x16.onnx"))
    ops = [n.op_type for n in m.graph.node]
    check("Sub" in ops and "Div" in ops and ops.index("Sub") < ops.index("Div"),
          f"the normalisation is Sub then Div in the ONNX graph ({ops[:4]})")
    inst = [line.split(",") for line in open(os.path.join(d, "instances.csv")).read().split()]
    check(len(inst) == 4 and all(os.path.exists(os.path.join(d, s)) for _, s, _ in inst), "4 instances written")
    boxes = np.load(os.path.join(d, "boxes_fmnist_relu_3x16.npz"))

    csv = os.path.join(d, "runs.csv")
    st, out = run([os.path.join(ROOT, "bench", "certify_bench.py"), "--set", d, "--chainrule", CR, "--timeout", "20",
                   "--csv", csv])
    print(out)
    check(st == 0, "certify_bench.py exits 0 on the real chainrule")
    rows = [line.split(",") for line in open(csv).read().split()[1:]] if os.path.exists(csv) else []
    methods = sorted({r[0] for r in rows})
    check({"ibp", "crown"} <= set(methods), f"methods run: {methods}")
    check(len(rows) == 4 * len(methods) and all(r[3] in ("unsat", "sat", "unknown", "timeout") for r in rows),
          "every instance has a verdict from every method")
    check(any(r[0] == "crown" and r[3] == "unsat" for r in rows), "crown proves at least one instance")
    broken = {f"fmnist_relu_3x16_idx_{i}_eps_{float(boxes['eps']):.5f}.vnnlib"
              for i, b in zip(boxes["idx"], boxes["pgd_broken"]) if b}
    check(not any(r[2] in broken and r[3] == "unsat" for r in rows),
          f"no instance PyTorch's PGD broke is proved ({len(broken)} broken)")
    check("| crown | fmnist_relu_3x16 |" in out and "WRONG" not in out, "the table has crown's row, nothing WRONG")

    for mode in ("centre", "outside"):
        fake = os.path.join(d, f"fake_{mode}")
        with open(fake, "w") as f:
            f.write(FAKE.replace("REAL", repr(CR)).replace("MODE", repr(mode)))
        os.chmod(fake, 0o755)
        st, out = run([os.path.join(ROOT, "bench", "certify_bench.py"), "--set", d, "--chainrule", fake,
                       "--timeout", "20", "--methods", "ibp", "--limit", "2"])
        want = "onnxruntime" if mode == "centre" else "outside"
        check(st == 1 and "WRONG" in out and want in out, f"a planted sat witness ({mode}) is reported WRONG, exit 1")
        if st != 1:
            print(out)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
