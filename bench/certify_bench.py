#!/usr/bin/python3
"""
Runs a VNN-COMP-style set (bench/certify_set.py's instances.csv: onnx,vnnlib,timeout) through
`chainrule certify` once per method, and prints per method and net the counts proved (unsat) /
falsified (sat) / unknown / timeout and the median and maximum time per instance.

    /usr/bin/python3 bench/certify_bench.py [--set DIR] [--chainrule PATH] [--timeout S]
        [--methods ibp,crown,...] [--ort-python PATH] [--csv OUT.csv] [--limit N]
(the csv has each run's wall and CPU seconds: the CPU time is the one to compare on a shared machine)

Methods: every one of ibp, crown, alpha, bab that this chainrule accepts as --method (found by
a trial run; --methods picks). The per-instance timeout is the csv's
(300 s, VNN-COMP's) unless --timeout lowers it; it is passed as --timeout and the run is also
killed at timeout + 30 s of wall time.

Every `sat` is re-checked independently: the counterexample in the result file must lie in the
VNN-LIB box and its outputs, evaluated by onnxruntime on a float64 copy of the ONNX graph (the
venv build-ci/venv-ort, or --ort-python), must satisfy the spec's unsafe condition. A witness
that fails, an unsat and a sat on the same instance (across methods), or a run that fails is
reported as WRONG / ERROR and the exit status is 1. Exit 77 when onnxruntime is missing and a
sat needs checking (with --no-ort-ok: unchecked sats are reported, exit 0).
"""
import argparse
import csv as csvmod
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ALL_METHODS = ("ibp", "crown", "alpha", "bab")


# --- the VNN-COMP subset of VNN-LIB, enough to check a witness ---------------------------
def sexprs(text):
    text = re.sub(r";[^\n]*", " ", text)
    toks = re.findall(r"\(|\)|[^\s()]+", text)
    stack, out = [[]], None
    for t in toks:
        if t == "(":
            stack.append([])
        elif t == ")":
            out = stack.pop()
            stack[-1].append(out)
        else:
            stack[-1].append(t)
    if len(stack) != 1:
        raise ValueError("unbalanced parentheses")
    return stack[0]


def read_spec(path):
    """(box {i: [lo, hi]}, output condition as a nested ('or'|'and'|cmp) tree)"""
    with open(path) as f:
        top = sexprs(f.read())
    box, outs = {}, []
    for e in top:
        if e[0] != "assert":
            continue
        a = e[1]
        if a[0] in ("<=", ">=") and any(isinstance(s, str) and s.startswith("X_") for s in a[1:]) and \
                not any(isinstance(s, str) and s.startswith("Y_") for s in a[1:]):
            op, l, r = a
            if l.startswith("X_"):
                i, v, upper = int(l[2:]), float(r), op == "<="
            else:
                i, v, upper = int(r[2:]), float(l), op == ">="
            b = box.setdefault(i, [float("-inf"), float("inf")])
            if upper:
                b[1] = min(b[1], v)
            else:
                b[0] = max(b[0], v)
        else:
            outs.append(a)
    return box, ["and"] + outs


def term(t, y):
    return y[int(t[2:])] if t.startswith("Y_") else float(t)


def holds(e, y):
    """(does the unsafe condition hold at outputs y, its margin: > 0 inside by that much)"""
    if e[0] in ("and", "or"):
        vals = [holds(s, y)[1] for s in e[1:]]
        m = min(vals) if e[0] == "and" else max(vals)
        return m >= 0, m
    op, l, r = e
    d = term(r, y) - term(l, y) if op == "<=" else term(l, y) - term(r, y)
    return d >= 0, d


def read_result(path):
    with open(path) as f:
        text = f.read()
    first = text.split(None, 1)[0] if text.split() else ""
    vals = {}
    for name, v in re.findall(r"\(\s*([XY]_\d+)\s+([^\s()]+)\s*\)", text):
        vals[name] = float(v)
    return first, vals


# --- onnxruntime on a float64 copy ---------------------------------------------------------
def f64_copy(path, out):
    """the ONNX graph with every float32 tensor widened to float64 (by this Python's onnx)"""
    import numpy as np
    import onnx
    from onnx import TensorProto, numpy_helper
    m = onnx.load(path)
    g = m.graph
    for i, t in enumerate(g.initializer):
        if t.data_type == TensorProto.FLOAT:
            g.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64), t.name))
    for n in g.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float64)))
    for v in list(g.input) + list(g.output) + list(g.value_info):
        if v.type.tensor_type.elem_type == TensorProto.FLOAT:
            v.type.tensor_type.elem_type = TensorProto.DOUBLE
    onnx.save(m, out)


ORT_SCRIPT = r"""
import json, sys
import numpy as np, onnxruntime as ort
reqs = json.load(open(sys.argv[1]))
sessions, out = {}, []
for r in reqs:
    if r["onnx"] not in sessions:
        sessions[r["onnx"]] = ort.InferenceSession(r["onnx"], providers=["CPUExecutionProvider"])
    s = sessions[r["onnx"]]
    inp = s.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    x = np.array(r["x"], dtype=np.float64).reshape(shape)
    y = s.run(None, {inp.name: x})[0].reshape(-1)
    out.append([float(v) for v in y])
json.dump(out, open(sys.argv[2], "w"))
"""


def ort_eval(python, reqs):
    with tempfile.TemporaryDirectory() as d:
        a, b, s = os.path.join(d, "in.json"), os.path.join(d, "out.json"), os.path.join(d, "ort.py")
        with open(s, "w") as f:
            f.write(ORT_SCRIPT)
        copies = {}
        for r in reqs:
            if r["onnx"] not in copies:
                copies[r["onnx"]] = os.path.join(d, f"net{len(copies)}.onnx")
                f64_copy(r["onnx"], copies[r["onnx"]])
            r["onnx"] = copies[r["onnx"]]
        with open(a, "w") as f:
            json.dump(reqs, f)
        r = subprocess.run([python, s, a, b], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("onnxruntime evaluation failed: " + r.stderr.strip().splitlines()[-1])
        with open(b) as f:
            return json.load(f)


# --- running ---------------------------------------------------------------------------------
def methods_of(cr):
    """the methods this build's certify accepts: a trial per method on a missing file, which
    fails for the file when the method is known and for the method when it is not"""
    got = []
    for meth in ALL_METHODS:
        r = subprocess.run([cr, "certify", "--method", meth, "--model", "/nonexistent.onnx", "--vnnlib",
                            "/nonexistent.vnnlib", "--result", os.devnull], capture_output=True, text=True)
        if r.returncode != 0 and "--method" not in r.stderr and "nonexistent" in r.stderr:
            got.append(meth)
    return got


def run_one(cr, onnx, spec, meth, timeout, tmp):
    res = os.path.join(tmp, "result.txt")
    if os.path.exists(res):
        os.remove(res)
    cmd = [cr, "certify", "--model", onnx, "--vnnlib", spec, "--result", res, "--timeout", f"{timeout:g}",
           "--method", meth]
    t0 = time.monotonic()
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - t0, {}, "killed at timeout + 30 s"
    secs = time.monotonic() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    run_one.cpu = c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime  # the CLI's CPU seconds
    if r.returncode != 0 or not os.path.exists(res):
        return "error", secs, {}, (r.stderr.strip() or f"exit {r.returncode}").splitlines()[-1]
    verdict, vals = read_result(res)
    if verdict not in ("unsat", "sat", "unknown", "timeout"):
        return "error", secs, {}, f"result file says '{verdict}'"
    return verdict, secs, vals, ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", default=os.path.join(ROOT, "build", "certify-set"))
    ap.add_argument("--chainrule", default=None, help="the CLI (default build/rel/chainrule)")
    ap.add_argument("--timeout", type=float, help="per-instance timeout, s (default: the csv's)")
    ap.add_argument("--methods", help="comma-separated (default: every one the CLI accepts)")
    ap.add_argument("--ort-python", default=os.path.join(ROOT, "build-ci", "venv-ort", "bin", "python"))
    ap.add_argument("--no-ort-ok", action="store_true")
    ap.add_argument("--csv", help="write one row per run here")
    ap.add_argument("--limit", type=int, help="the first N instances of each net only")
    a = ap.parse_args()
    cr = a.chainrule or os.path.join(ROOT, "build", "rel", "chainrule")
    with open(os.path.join(a.set, "instances.csv")) as f:
        inst = [r for r in csvmod.reader(f) if r]
    if a.limit:
        seen = {}
        inst = [r for r in inst if seen.setdefault(r[0], []).append(r) or len(seen[r[0]]) <= a.limit]
    avail = methods_of(cr)
    methods = a.methods.split(",") if a.methods else avail
    for m in methods:
        if m not in avail:
            print(f"certify_bench: this chainrule has no --method {m} (it has {', '.join(avail)})", file=sys.stderr)
            return 2
    rows, bad = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for meth in methods:
            for onnx, spec, tmo in inst:
                t = min(float(tmo), a.timeout) if a.timeout else float(tmo)
                o, s = os.path.join(a.set, onnx), os.path.join(a.set, spec)
                run_one.cpu = float("nan")
                v, secs, vals, err = run_one(cr, o, s, meth, t, tmp)
                rows.append(dict(method=meth, net=onnx[:-5], spec=os.path.basename(spec), verdict=v, seconds=secs,
                                 vals=vals, onnx=o, vnnlib=s, err=err, cpu=run_one.cpu))
                if v == "error":
                    bad.append(f"ERROR {meth} {spec}: {err}")
                print(f"{meth:6s} {os.path.basename(spec):48s} {v:8s} {secs:8.2f} s", flush=True)
    # witnesses: inside the box, and violating by onnxruntime (float64)
    sats = [r for r in rows if r["verdict"] == "sat"]
    unchecked = 0
    if sats:
        if not os.path.exists(a.ort_python):
            if not a.no_ort_ok:
                print(f"certify_bench: no onnxruntime at {a.ort_python} to check {len(sats)} sat verdicts",
                      file=sys.stderr)
                return 77
            unchecked = len(sats)
        else:
            reqs = []
            for r in sats:
                box, cond = read_spec(r["vnnlib"])
                d = len(box)
                x = [r["vals"].get(f"X_{i}") for i in range(d)]
                r["cond"] = cond
                if any(v is None for v in x):
                    bad.append(f"WRONG {r['method']} {r['spec']}: sat without X_0..X_{d - 1} in the result file")
                    r["x"] = None
                    continue
                out = [i for i in range(d) if not (box[i][0] <= x[i] <= box[i][1])]
                if out:
                    i = out[0]
                    bad.append(f"WRONG {r['method']} {r['spec']}: X_{i} = {x[i]!r} outside [{box[i][0]!r}, {box[i][1]!r}]")
                r["x"] = x
                reqs.append(dict(onnx=r["onnx"], x=x))
            ys = ort_eval(a.ort_python, reqs) if reqs else []
            k = 0
            for r in sats:
                if r.get("x") is None:
                    continue
                y = ys[k]
                k += 1
                ok, m = holds(r["cond"], y)
                r["ort_margin"] = m
                if not ok:
                    bad.append(f"WRONG {r['method']} {r['spec']}: onnxruntime (float64) gives outputs that satisfy "
                               f"the property (unsafe margin {m:.3g})")
    # consistency across methods: one instance cannot be both unsat and sat
    by_inst = {}
    for r in rows:
        by_inst.setdefault(r["spec"], set()).add(r["verdict"])
    for s, vs in by_inst.items():
        if "unsat" in vs and "sat" in vs:
            bad.append(f"WRONG {s}: unsat by one method and sat by another")
    # the table
    tmo_label = f"{a.timeout:g} s" if a.timeout else "/".join(sorted({f"{float(t):g}" for _, _, t in inst})) + " s"
    print()
    print(f"chainrule certify, {len(inst)} instances, timeout "
          f"{tmo_label} per instance; sat witnesses checked by onnxruntime: "
          f"{len(sats) - unchecked} of {len(sats)}")
    print(f"| method | net | proved | falsified | unknown | timeout | median s | max s |")
    print(f"|---|---|---|---|---|---|---|---|")
    for meth in methods:
        for net in sorted({r["net"] for r in rows}):
            rs = [r for r in rows if r["method"] == meth and r["net"] == net]
            c = {v: sum(r["verdict"] == v for r in rs) for v in ("unsat", "sat", "unknown", "timeout", "error")}
            ts = [r["seconds"] for r in rs]
            err = f" (+{c['error']} error)" if c["error"] else ""
            print(f"| {meth} | {net} | {c['unsat']} | {c['sat']} | {c['unknown']} | {c['timeout']}{err} | "
                  f"{statistics.median(ts):.2f} | {max(ts):.2f} |")
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csvmod.writer(f)
            w.writerow(["method", "net", "spec", "verdict", "seconds", "cpu_seconds"])
            for r in rows:
                w.writerow([r["method"], r["net"], r["spec"], r["verdict"], f"{r['seconds']:.3f}", f"{r['cpu']:.3f}"])
    for b in bad:
        print(b)
    if bad:
        print(f"certify_bench: {len(bad)} WRONG/ERROR", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
