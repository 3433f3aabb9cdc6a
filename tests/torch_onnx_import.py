#!/usr/bin/python3
"""The rest of ONNX import, against PyTorch (Debian's torch 1.13) and python3-onnx:

1. x.view(x.size(0), -1): torch.onnx.export writes it as Shape -> Gather ->
   Unsqueeze -> Concat -> Reshape; exported at opsets 9, 11, 13, 17 (dynamic
   and fixed batch), and built with onnx's helper API at opsets 9 and 13;
   predictions and input gradients equal PyTorch's (float32 1e-5); the same
   arithmetic picking another axis than the batch is refused.
2. float16 weights, in raw_data and in int32_data: read into a float32 model
   exactly (convert gives the float16 values widened, bit for bit, subnormals
   included), whose predictions and gradients equal PyTorch's float32 model
   with the same (widened) weights; Inf/NaN weights are refused.
3. External data (onnx.save_model(..., save_as_external_data=True)), one file
   and one file per tensor, loaded from another working folder too; the
   hostile cases (missing file, offset or length out of range, "..", an
   absolute path, a sub-folder, a symbolic link, a folder) are refused with
   one line naming the tensor and the file, exit 2, nothing written.
4. The output format follows --out: init/train/convert write ONNX for .onnx
   (any case), safetensors for any other name.
5. Every activation of the op table (chainrule --list-activations): a PyTorch
   MLP with its nn module, torch.onnx.export'ed at opsets 13 and 17 in float32
   and float64 (GELU as Div, Erf, Add, Mul, Mul; SiLU as Sigmoid then Mul; ...),
   loads, and its predictions and input gradients equal PyTorch's (float32 1e-5,
   float64 1e-12); a row chainrule writes to ONNX is written by init --out
   .onnx, passes onnx.checker, and onnxruntime's logits give chainrule's
   probabilities (float32 1e-5, float64 1e-12); tanh-approximate GELU is refused
   by name.

Run as:  /usr/bin/python3 tests/torch_onnx_import.py path/to/chainrule
"""
import json
import os
import shutil
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
import torch_onnx as t1  # noqa: E402  (compare_cli, check, run, load_safetensors)
import torchutil  # noqa: E402  (the tally)
from activations import chainrule_activations, torch_module  # noqa: E402

CR = os.path.abspath(sys.argv[1])
check, run, compare_cli = t1.check, t1.run, t1.compare_cli


def refused(args, want, tag, never=None):
    """exit 2, one line on stderr containing every string of want, `never` not written."""
    p = subprocess.run([CR, *args], capture_output=True, text=True)
    lines = p.stderr.strip().splitlines()
    ok = p.returncode == 2 and len(lines) == 1 and all(w in p.stderr for w in want)
    check(ok and not (never and os.path.exists(never)),
          f"{tag}: exit {p.returncode}, stderr {p.stderr.strip()!r}, wanted {want}")
    return p.stderr.strip()


def ops(path):
    return [n.op_type for n in onnx.load(path, load_external_data=False).graph.node]


# ------------------------------------------------------------------ 1. view flatten
class ViewNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = torch.nn.Linear(12, 9), torch.nn.Linear(9, 4)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        return self.fc2(torch.tanh(self.fc1(x)))


def test_view(d):
    print("x.view(x.size(0), -1):")
    torch.manual_seed(3)
    net = ViewNet().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    x = torch.randn(5, 3, 4)
    y = np.arange(5) % 4
    for opset in (9, 11, 13, 17):
        for dynamic in (True, False):
            path = os.path.join(d, f"view{opset}{'d' if dynamic else 's'}.onnx")
            torch.onnx.export(net, x, path, opset_version=opset, input_names=["x"],
                              output_names=["logits"],
                              dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}} if dynamic else None)
            onnx.checker.check_model(onnx.load(path), full_check=True)
            tag = f"torch.onnx.export opset {opset}, {'dynamic' if dynamic else 'fixed'} batch"
            seq = ",".join(o for o in ops(path) if o not in ("Gemm", "Tanh"))
            if dynamic:
                check("Shape" in seq and "Reshape" in seq, f"{tag}: no Shape..Reshape ({seq})")
            try:
                ep, eg, _ = compare_cli(d, path, x.numpy(), y, net, np.float32, tag)
                print(f"  {tag} [{seq}]: {ep:.1e}, {eg:.1e}")
            except RuntimeError as e:
                check(False, f"{tag}: {e}")
            # info shows the graph's input shape, [N, 3, 4] (dynamic) or [5, 3, 4], besides its 12 values;
            # a safetensors copy is the [N, 12] model and says nothing of it
            want = "[N, 3, 4]" if dynamic else "[5, 3, 4]"
            txt = t1.run("info", "--model", path).stdout
            js = json.loads(t1.run("info", "--model", path, "--json").stdout)
            check(f"the ONNX graph's input is {want}" in txt and js.get("onnx_input_shape") == want,
                  f"{tag}: info does not show the input {want}: {txt!r}, {js.get('onnx_input_shape')!r}")
            if opset == 13 and dynamic:
                st = os.path.join(d, "view_copy.safetensors")
                t1.run("convert", "--model", path, "--out", st)
                check("ONNX graph's input" not in t1.run("info", "--model", st).stdout, "info: the safetensors copy")
    layers = om.random_layers([12, 7, 3], np.float32, 21)
    xs = np.random.default_rng(4).uniform(-1, 1, (6, 3, 4)).astype(np.float32)
    for opset in (9, 13):
        path = os.path.join(d, f"helper_view{opset}.onnx")
        onnx.save(om.mlp(layers, ["relu"], input_shape=(3, 4), flatten="view", opset=opset), path)
        onnx.checker.check_model(onnx.load(path), full_check=True)
        tag = f"helper API view flatten, opset {opset} (Unsqueeze axes {'attribute' if opset < 13 else 'input'})"
        ep, eg, _ = compare_cli(d, path, xs, np.arange(6) % 3,
                                lambda v: t1.torch_forward(v, layers, ["relu"], None), np.float32, tag)
        print(f"  {tag}: {ep:.1e}, {eg:.1e}")
    # the same arithmetic on axis 1 (C = 3) is not the batch: [3, -1] is refused
    path = os.path.join(d, "view_axis1.onnx")
    onnx.save(om.mlp(layers, ["relu"], input_shape=(3, 4), flatten="view", view_index=1), path)
    msg = refused(["predict", "--model", path, "--inputs", os.path.join(d, "x.npy"), "--out",
                   os.path.join(d, "never.npy")], ["reshape to [3, -1] is not [N, 12]"],
                  "view of axis 1", os.path.join(d, "never.npy"))
    print("  refused:", msg)


# ------------------------------------------------------------------ 2. float16
def half_layers(dims, seed):
    L = om.random_layers(dims, np.float32, seed)
    L = [(W.astype(np.float16), b.astype(np.float16)) for W, b in L]
    W0 = L[0][0].copy()  # [out, in]: row 0 is what feature 0..5 give hidden unit 0
    W0[0, 0] = np.float16(60000.0)           # near the largest half (feature 0 is small)
    W0[0, 1] = np.float16(2.0 ** -24)        # the smallest subnormal
    W0[0, 2] = np.float16(-3 * 2.0 ** -20)   # another subnormal
    W0[0, 3] = np.float16(-0.0)
    L[0] = (W0, L[0][1])
    return L


def test_float16(d):
    print("float16 weights:")
    L16 = half_layers([6, 8, 3], 31)
    L32 = [(W.astype(np.float32), b.astype(np.float32)) for W, b in L16]
    x = np.random.default_rng(6).uniform(-1, 1, (7, 6)).astype(np.float32) * 1e-4
    x[:, 1:] *= 1e4  # feature 0 small: the 60000 weight does not dominate every logit
    y = np.arange(7) % 3
    for raw in (True, False):
        path = os.path.join(d, f"half_{'raw' if raw else 'int32'}.onnx")
        onnx.save(om.mlp(L16, ["tanh"], raw=raw), path)
        m = onnx.load(path)
        onnx.checker.check_model(m, full_check=True)
        field = "raw_data" if raw else "int32_data"
        check(all(t.data_type == onnx.TensorProto.FLOAT16 and
                  (len(t.raw_data) if raw else len(t.int32_data)) > 0 for t in m.graph.initializer),
              f"float16 {field}: the file does not hold float16 {field}")
        tag = f"float16 weights in {field}"
        ep, eg, _ = compare_cli(d, path, x, y, lambda v: t1.torch_forward(v, L32, ["tanh"], None),
                                np.float32, tag)
        st = os.path.join(d, f"half_{raw}.safetensors")
        run("convert", "--model", path, "--out", st)
        w = t1.load_safetensors(st)
        exact = all(np.array_equal(w[f"fc{i}.weight"].view(np.uint32), W.view(np.uint32)) and
                    np.array_equal(w[f"fc{i}.bias"].view(np.uint32), b.view(np.uint32))
                    for i, (W, b) in enumerate(L32, start=1))
        check(exact and w["fc1.weight"].dtype == np.float32,
              f"{tag}: the float32 weights are not the float16 values widened bit for bit")
        print(f"  {tag}: {ep:.1e}, {eg:.1e}; widened bit for bit (subnormals, -0): {exact}")
    for bad, word in ((np.inf, "Inf"), (np.nan, "NaN")):
        Lb = [(W.copy(), b.copy()) for W, b in L16]
        Lb[1][0].flat[5] = np.float16(bad)
        path = os.path.join(d, "half_bad.onnx")
        onnx.save(om.mlp(Lb, ["tanh"]), path)
        msg = refused(["convert", "--model", path, "--out", os.path.join(d, "never.safetensors")],
                      ["'layers.2.weight'", word, "index 5"], f"float16 {word}",
                      os.path.join(d, "never.safetensors"))
    print("  refused:", msg)


# ------------------------------------------------------------------ 3. external data
def test_external(d):
    print("external data:")
    L = om.random_layers([10, 9, 4], np.float32, 41)
    x = np.random.default_rng(7).uniform(-1, 1, (5, 10)).astype(np.float32)
    y = np.arange(5) % 4
    inline = os.path.join(d, "inline.onnx")
    onnx.save(om.mlp(L, ["relu"], norm=[("Sub", np.linspace(0, 1, 10))]), inline)
    ref = os.path.join(d, "inline.safetensors")
    run("convert", "--model", inline, "--out", ref)
    fn = lambda v: t1.torch_forward(v, L, ["relu"], [("Sub", np.linspace(0, 1, 10))])  # noqa: E731
    for one_file in (True, False):
        sub = os.path.join(d, "ext1" if one_file else "extN")
        os.makedirs(sub)
        path = os.path.join(sub, "model.onnx")
        onnx.save_model(onnx.load(inline), path, save_as_external_data=True,
                        all_tensors_to_one_file=one_file, location="weights.bin" if one_file else None,
                        size_threshold=0)
        m = onnx.load(path, load_external_data=False)
        n_ext = sum(t.data_location == onnx.TensorProto.EXTERNAL for t in m.graph.initializer)
        check(n_ext == len(m.graph.initializer), f"external ({one_file}): {n_ext} external tensors")
        onnx.checker.check_model(path, full_check=True)
        tag = "external data, " + ("one file" if one_file else "one file per tensor")
        ep, eg, _ = compare_cli(d, path, x, y, fn, np.float32, tag)
        back = os.path.join(d, "ext_back.safetensors")
        run("convert", "--model", path, "--out", back)
        same = open(back, "rb").read() == open(ref, "rb").read()
        check(same, f"{tag}: convert gives other bytes than the inline model's")
        # a relative --model from the model's own folder (the folder is then "")
        p = subprocess.run([CR, "predict", "--model", "model.onnx", "--inputs",
                            os.path.join(d, "x.npy"), "--out", os.path.join(d, "rel.npy")],
                           cwd=sub, capture_output=True, text=True)
        check(p.returncode == 0, f"{tag}: relative path: {p.stderr.strip()}")
        print(f"  {tag} ({n_ext} tensors): {ep:.1e}, {eg:.1e}; same bytes as inline: {same}")

    # hostile external_data entries, each on the first tensor of a one-file model
    base = os.path.join(d, "ext1")
    size = os.path.getsize(os.path.join(base, "weights.bin"))
    outer = os.path.join(d, "hostile")
    inner = os.path.join(outer, "inner")
    os.makedirs(os.path.join(inner, "adir"))
    os.makedirs(os.path.join(inner, "sub"))
    for f in (os.path.join(outer, "weights.bin"), os.path.join(inner, "weights.bin"),
              os.path.join(inner, "sub", "weights.bin")):
        shutil.copy(os.path.join(base, "weights.bin"), f)
    os.symlink(os.path.join(outer, "weights.bin"), os.path.join(inner, "link.bin"))
    os.mkfifo(os.path.join(inner, "pipe.bin"))  # opening it for reading must not block
    good = onnx.load(os.path.join(base, "model.onnx"), load_external_data=False)
    first = good.graph.initializer[0]
    kv = {e.key: e.value for e in first.external_data}
    flen = int(kv["length"])
    cases = [
        ("missing file", {"location": "nope.bin"}, ["nope.bin", "No such file"]),
        ("offset at the end", {"offset": str(size)}, ["beyond the end", f"({size} bytes)"]),
        ("offset 2^63", {"offset": str(2 ** 63)}, ["beyond the end"]),
        ("offset not a number", {"offset": "-4"}, ["offset '-4' is not a byte count"]),
        ("length too long", {"length": str(flen + 4)}, [f"length {flen + 4}", f"needs {flen}"]),
        ("path traversal", {"location": "../weights.bin"}, ["'../weights.bin'", "not a plain file name"]),
        ("absolute path", {"location": os.path.join(outer, "weights.bin")}, ["not a plain file name"]),
        ("sub-folder", {"location": "sub/weights.bin"}, ["'sub/weights.bin'", "not a plain file name"]),
        ("symbolic link", {"location": "link.bin"}, ["'link.bin'", "symbolic link"]),
        ("a folder", {"location": "adir"}, ["'adir'", "not a regular file"]),
        ("a named pipe", {"location": "pipe.bin"}, ["'pipe.bin'", "not a regular file"]),
        ("dot-dot", {"location": ".."}, ["not a plain file name"]),
    ]
    never = os.path.join(d, "never.safetensors")
    for tag, change, want in cases:
        m = onnx.ModelProto()
        m.CopyFrom(good)
        t = m.graph.initializer[0]
        entries = dict(kv, **change)
        del t.external_data[:]
        for k, v in entries.items():
            e = t.external_data.add()
            e.key, e.value = k, v
        path = os.path.join(inner, "model.onnx")
        with open(path, "wb") as f:
            f.write(m.SerializeToString())
        msg = refused(["convert", "--model", path, "--out", never], [f"tensor '{t.name}'", *want],
                      f"external data: {tag}", never)
        print(f"  {tag}: {msg}")
    # the same file's tensors, with a stranger's data: only the folder's own files are read
    check(open(os.path.join(inner, "weights.bin"), "rb").read() ==
          open(os.path.join(base, "weights.bin"), "rb").read(), "hostile: weights.bin changed")


# ------------------------------------------------------------------ 4. output format
def is_onnx(path):
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
        return True
    except Exception:  # noqa: BLE001
        return False


def test_out_format(d):
    print("output format by --out:")
    st, ox, up = (os.path.join(d, n) for n in ("i.safetensors", "i.onnx", "I.ONNX"))
    other = os.path.join(d, "i.model")
    for o in (st, ox, up, other):
        run("init", "--layers", "6,5,3", "--activation", "relu", "--seed", "9", "--out", o)
    check(is_onnx(ox) and is_onnx(up), "init --out .onnx/.ONNX: not an ONNX file")
    check(not is_onnx(st) and open(st, "rb").read() == open(other, "rb").read(),
          "init: .safetensors and another name differ (both safetensors)")
    back = os.path.join(d, "i.back.safetensors")
    run("convert", "--model", ox, "--out", back)
    check(open(back, "rb").read() == open(st, "rb").read(),
          "init --out .onnx: converted back, not the safetensors init writes")
    print(f"  init: .onnx and .ONNX are ONNX (onnx.checker), .safetensors and .model are "
          f"safetensors; ONNX -> safetensors = init's safetensors, byte for byte")
    never = os.path.join(d, "g.onnx")
    msg = refused(["init", "--layers", "4,3,2", "--activation", "gelu", "--out", never],
                  ["gelu", "not written to ONNX"], "init gelu --out .onnx", never)
    print("  ", msg)
    # train: a tiny CSV, the same run into both formats
    rng = np.random.default_rng(11)
    X = rng.normal(size=(40, 4))
    lab = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    csv = os.path.join(d, "t.csv")
    with open(csv, "w") as f:
        for r, c in zip(X, lab):
            f.write(f"{c}," + ",".join(f"{v:.6f}" for v in r) + "\n")
    args = ["train", "--data", csv, "--label-column", "0", "--layers", "4,6,3", "--epochs", "2",
            "--seed", "5", "--standardize", "--quiet", "--threads", "1"]
    tst, tox = os.path.join(d, "t.safetensors"), os.path.join(d, "t.onnx")
    run(*args, "--out", tst)
    run(*args, "--out", tox)
    check(is_onnx(tox), "train --out .onnx: not an ONNX file")
    tback = os.path.join(d, "t.back.safetensors")
    run("convert", "--model", tox, "--out", tback)
    a, b = t1.load_safetensors(tst), t1.load_safetensors(tback)
    same = set(b) <= set(a) and all(np.array_equal(a[k].view(np.uint8), b[k].view(np.uint8)) for k in b)
    check(same and "input.mean" in b, f"train --out .onnx: weights or standardisation differ ({sorted(b)})")
    msg = refused(["train", "--resume", tox, "--epochs", "3"], ["not a training checkpoint"],
                  "train --resume of an ONNX file")
    print(f"  train --out t.onnx: ONNX, the same weights and standardisation as --out "
          f"t.safetensors: {same}; --resume: {msg}")


def test_activations(d):
    rows = chainrule_activations(CR)
    for name, form, written in rows:
        mod = torch_module(name)
        for dt, tdt in ((np.float32, torch.float32), (np.float64, torch.float64)):
            for opset in (13, 17):
                torch.manual_seed(7)
                net = torch.nn.Sequential(torch.nn.Linear(6, 8), mod(), torch.nn.Linear(8, 5), mod(),
                                          torch.nn.Linear(5, 3)).to(tdt)
                path = os.path.join(d, f"act_{name}_{opset}.onnx")
                torch.onnx.export(net, torch.zeros(2, 6, dtype=tdt), path, opset_version=opset,
                                  input_names=["x"], output_names=["logits"],
                                  dynamic_axes={"x": {0: "N"}, "logits": {0: "N"}})
                rng = np.random.default_rng(opset)
                x = rng.uniform(-2, 2, (7, 6)).astype(dt)
                y = rng.integers(0, 3, 7)
                tag = f"{name}: torch.onnx.export opset {opset} {np.dtype(dt).name} ({','.join(ops(path))})"
                if ":alpha=" in form and dt == np.float64:  # a float attribute: not the float64 slope, refused
                    np.save(os.path.join(d, "xa64.npy"), x)
                    refused(["predict", "--model", path, "--inputs", os.path.join(d, "xa64.npy"), "--out",
                             os.path.join(d, "never_alpha64.npy")],
                            ["alpha is a float attribute", "float64 graph", "Max(x, Mul(x, "], tag)
                    print(f"  {tag}: refused (the float alpha in a float64 graph)")
                    continue
                ep, eg, _ = t1.compare_cli(d, path, x, y, lambda v: net(v), dt, tag)
                print(f"  {tag}: predict {ep:.1e}, grad {eg:.1e}")
        if ":alpha=" in form:  # the op with another alpha is another function: refused by name
            op, alpha = form.split(":alpha=")
            h = onnx.helper
            w1 = h.make_tensor("w1", onnx.TensorProto.FLOAT, [4, 3], np.ones(12).tolist())
            w2 = h.make_tensor("w2", onnx.TensorProto.FLOAT, [2, 4], np.ones(8).tolist())
            g = h.make_graph([h.make_node("Gemm", ["x", "w1"], ["r"], transB=1),
                              h.make_node(op, ["r"], ["a"], alpha=2 * float(alpha)),
                              h.make_node("Gemm", ["a", "w2"], ["logits"], transB=1)], "g",
                             [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 3])],
                             [h.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["N", 2])],
                             [w1, w2])
            path = os.path.join(d, f"alpha_{name}.onnx")
            onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 13)]), path)
            np.save(os.path.join(d, "x3.npy"), np.zeros((2, 3), np.float32))
            msg = refused(["predict", "--model", path, "--inputs", os.path.join(d, "x3.npy"), "--out",
                           os.path.join(d, "never.npy")], [f"alpha {2 * float(alpha):g}", name],
                          f"{name}: {op} with alpha {2 * float(alpha):g}")
            print(f"  {name}: {op} alpha={2 * float(alpha):g} refused: {msg}")
        if not written:
            continue
        for dt, dts in ((np.float32, "float32"), (np.float64, "float64")):
            path = os.path.join(d, f"cr_{name}.onnx")
            t1.run("init", "--layers", "6,8,5,3", "--activation", name, "--dtype", dts, "--seed", "4",
                   "--out", path)
            onnx.checker.check_model(onnx.load(path))
            x = np.random.default_rng(2).uniform(-2, 2, (7, 6)).astype(dt)
            xo, lo = os.path.join(d, "ort_x.npy"), os.path.join(d, "ort_y.npy")
            np.save(xo, x)
            p = subprocess.run([t1.ort_python(), "-c", t1.ORT_SCRIPT, path, xo, lo],
                               capture_output=True, text=True)
            if p.returncode and "NOT_IMPLEMENTED" in p.stderr:  # e.g. no double Softplus kernel
                print(f"  {name}: onnxruntime has no {dts} kernel for it: not run there in {dts}")
                continue
            t1.check(p.returncode == 0, f"{name}: onnxruntime {dts}: {p.stderr.strip()[-300:]}")
            if p.returncode:
                continue
            logits = np.load(lo)
            np.save(os.path.join(d, "xa.npy"), x)
            t1.run("predict", "--model", path, "--inputs", os.path.join(d, "xa.npy"), "--out",
                   os.path.join(d, "pa.npy"))
            lt = torch.from_numpy(logits.astype(np.float64))
            e = t1.relerr(np.load(os.path.join(d, "pa.npy")), torch.softmax(lt, 1).numpy())
            # a float64 leaky-relu is written Max(x, Mul(x, 0.01)), the slope a double: exact in
            # onnxruntime too (a LeakyRelu's float alpha would be 0.0099999998 there)
            tol = t1.TOL[dt]
            t1.check(e <= tol, f"{name}: chainrule's ONNX in onnxruntime {dts}: {e:.2e} > {tol:g}")
            print(f"  {name}: chainrule's ONNX ({','.join(ops(path))}) in onnxruntime, {dts}: {e:.1e}")
            if ":alpha=" in form and dt == np.float64:  # its Max(x, Mul(x, slope)) with another slope: refused
                mo = onnx.load(path)
                t = [t for t in mo.graph.initializer if t.name == "leaky_relu_slope"]
                check(len(t) == 1, f"{name}: no leaky_relu_slope initializer in chainrule's float64 ONNX")
                t[0].CopyFrom(onnx.numpy_helper.from_array(np.array(np.float32(0.01), np.float64), t[0].name))
                bad = os.path.join(d, "leaky64_f32slope.onnx")
                onnx.save(mo, bad)
                refused(["predict", "--model", bad, "--inputs", os.path.join(d, "xa.npy"), "--out",
                         os.path.join(d, "never_slope.npy")],
                        ["Max(x, Mul(x, 0.0099999997764825821))", "slope is 0.01 rounded to double"],
                        f"{name}: float64 Max/Mul with a float slope")
    # PyTorch's tanh-approximate GELU is not chainrule's gelu: refused by name
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.GELU(approximate="tanh"), torch.nn.Linear(8, 3))
    path = os.path.join(d, "gelu_tanh.onnx")
    torch.onnx.export(net, torch.zeros(2, 6), path, opset_version=13)
    refused(["predict", "--model", path, "--inputs", os.path.join(d, "x6.npy"), "--out",
             os.path.join(d, "never.npy")],
            ["tanh approximation of GELU"], "tanh-approximate GELU")
    # a float64 graph's GELU pattern with √2 rounded to float (1.4142135381698608) is another function than
    # gelu in double (by ~1e-8 relative): refused, naming the constant; the double √2 loads (test_activations)
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.GELU(), torch.nn.Linear(8, 3)).double()
    path = os.path.join(d, "gelu64_f32sqrt2.onnx")
    torch.onnx.export(net, torch.zeros(2, 6, dtype=torch.float64), path, opset_version=13)
    mo = onnx.load(path)
    planted = 0
    for nd in mo.graph.node:
        if nd.op_type == "Constant":
            v = onnx.numpy_helper.to_array(nd.attribute[0].t)
            if v.size == 1 and float(v) == np.sqrt(2.0):
                nd.attribute[0].t.CopyFrom(onnx.numpy_helper.from_array(
                    np.array(np.float32(np.sqrt(2.0)), np.float64).reshape(v.shape)))
                planted += 1
    check(planted == 1, f"gelu64: the double √2 constant not found ({planted})")
    onnx.save(mo, path)
    np.save(os.path.join(d, "x6d.npy"), np.zeros((2, 6), np.float64))
    refused(["predict", "--model", path, "--inputs", os.path.join(d, "x6d.npy"), "--out",
             os.path.join(d, "never_gelu64.npy")],
            ["divides x by 1.4142135381698608, not by √2 rounded to double", "gelu64_f32sqrt2.onnx"],
            "float64 GELU with a float √2")
    # PyTorch's Softplus with beta != 1 (Mul, Softplus, Div) is not chainrule's softplus: refused by name
    net = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Softplus(beta=2), torch.nn.Linear(8, 3))
    path = os.path.join(d, "softplus_beta.onnx")
    torch.onnx.export(net, torch.zeros(2, 6), path, opset_version=13)
    refused(["predict", "--model", path, "--inputs", os.path.join(d, "x6.npy"), "--out",
             os.path.join(d, "never.npy")],
            ["Softplus with beta != 1", "softplus_beta.onnx"], "Softplus(beta=2)")


def main():
    with tempfile.TemporaryDirectory() as d:
        np.save(os.path.join(d, "x6.npy"), np.zeros((2, 6), np.float32))
        test_activations(d)
        np.save(os.path.join(d, "x.npy"), np.zeros((2, 10), np.float32))
        test_view(d)
        test_float16(d)
        test_external(d)
        test_out_format(d)
    torchutil.report()


if __name__ == "__main__":
    main()
