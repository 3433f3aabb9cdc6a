#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets under tests/fuzz-corpus/<target>/.

Small valid files of every kind each parser accepts, plus the interesting
near-misses (truncations, lying lengths, unknown dtypes, Fortran order, ...)
so that the fuzzers start next to every branch. Deterministic: running it
again rewrites the same bytes. Needs /usr/bin/python3 with numpy.

    /usr/bin/python3 scripts/gen-fuzz-corpus.py [OUTDIR]
"""
import gzip
import io
import json
import os
import struct
import sys

import numpy as np

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "tests", "fuzz-corpus")
rng = np.random.default_rng(12345)


def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def npy_bytes(a, version=None):
    b = io.BytesIO()
    if version is None:
        np.save(b, a, allow_pickle=False)
    else:
        np.lib.format.write_array(b, a, version=version, allow_pickle=False)
    return b.getvalue()


# ------------------------------------------------------------------ npy
put("npy", "f4_2x3.npy", npy_bytes(rng.standard_normal((2, 3)).astype("<f4")))
put("npy", "f8_vec.npy", npy_bytes(np.arange(5, dtype="<f8")))
put("npy", "u1_img.npy", npy_bytes(rng.integers(0, 256, (2, 4, 4), dtype=np.uint8)))
put("npy", "i4_labels.npy", npy_bytes(np.array([0, 2, 1, 2], dtype="<i4")))
put("npy", "i8_labels.npy", npy_bytes(np.array([1, 0, 3], dtype="<i8")))
put("npy", "scalar.npy", npy_bytes(np.array(3.5, dtype="<f8")))
put("npy", "empty.npy", npy_bytes(np.zeros((0, 4), dtype="<f4")))
put("npy", "onehot.npy", npy_bytes(np.eye(3, dtype="<f4")))
put("npy", "v2.npy", npy_bytes(np.arange(4, dtype="<f4"), version=(2, 0)))
put("npy", "v3.npy", npy_bytes(np.arange(4, dtype="<i8"), version=(3, 0)))
put("npy", "fortran.npy", npy_bytes(np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3))))
put("npy", "bigendian.npy", npy_bytes(np.arange(3, dtype=">f4")))
put("npy", "f2.npy", npy_bytes(np.arange(3, dtype="<f2")))
put("npy", "nan.npy", npy_bytes(np.array([1.0, np.nan, np.inf], dtype="<f4")))
good = npy_bytes(np.arange(6, dtype="<f4").reshape(2, 3))
put("npy", "trunc_data.npy", good[:-3])
put("npy", "trunc_header.npy", good[:40])
put("npy", "trailing.npy", good + b"\0\0\0\0")
put("npy", "bad_magic.npy", b"\x93NUMPX" + good[6:])
hdr = b"{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }"
hdr += b" " * ((64 - (10 + len(hdr) + 1) % 64) % 64) + b"\n"
put("npy", "huge_claim.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr + b"\0" * 16)
put("npy", "hlen_lies.npy", good[:8] + b"\xff\xff" + good[10:])

# ------------------------------------------------------------------ safetensors


def st_bytes(tensors, meta=None, header_extra=None):
    """tensors: list of (name, array); written in order, tiling the data section."""
    h, data, off = {}, b"", 0
    if meta is not None:
        h["__metadata__"] = meta
    names = {np.dtype("<f4"): "F32", np.dtype("<f8"): "F64", np.dtype("u1"): "U8",
             np.dtype("<i4"): "I32", np.dtype("<i8"): "I64"}
    for name, a in tensors:
        raw = a.tobytes()
        h[name] = {"dtype": names[a.dtype], "shape": list(a.shape),
                   "data_offsets": [off, off + len(raw)]}
        data += raw
        off += len(raw)
    if header_extra:
        header_extra(h)
    j = json.dumps(h, separators=(",", ":")).encode()
    j += b" " * ((8 - len(j) % 8) % 8)
    return struct.pack("<Q", len(j)) + j + data


def model(dims, acts, dtype="<f4", extra=(), meta_extra=None):
    t = []
    for i in range(len(dims) - 1):
        t.append((f"fc{i+1}.weight", rng.standard_normal((dims[i + 1], dims[i])).astype(dtype)))
        t.append((f"fc{i+1}.bias", rng.standard_normal(dims[i + 1]).astype(dtype)))
    t += list(extra)
    meta = {"format": "chainrule/1", "activations": acts,
            "layers": ",".join(str(d) for d in dims)}
    if meta_extra:
        meta.update(meta_extra)
    return st_bytes(t, meta)


m2 = model([4, 3, 2], "sigmoid,softmax")
for target in ("safetensors", "model"):
    put(target, "model_f32.safetensors", m2)
    put(target, "model_f64_relu.safetensors", model([3, 5, 4, 2], "relu,tanh,softmax", "<f8"))
    put(target, "model_std.safetensors",
        model([3, 2], "softmax", extra=[("input.mean", np.zeros(3, "<f4")),
                                        ("input.std", np.ones(3, "<f4"))]))
    put(target, "checkpoint.safetensors",
        model([2, 3, 2], "tanh,softmax",
              extra=[("optim.m.fc1.weight", np.zeros((3, 2), "<f4")),
                     ("optim.step", np.array([7], "<i64" if False else "<i8"))],
              meta_extra={"epoch": "3", "optimizer": "adam"}))
    put(target, "empty.safetensors", st_bytes([]))
    put(target, "meta_only.safetensors", st_bytes([], {"format": "chainrule/1"}))
    put(target, "trunc.safetensors", m2[:-5])
    put(target, "trunc_header.safetensors", m2[:30])
    put(target, "hlen_lies.safetensors", struct.pack("<Q", 1 << 40) + m2[8:])

put("safetensors", "all_dtypes.safetensors",
    st_bytes([("a", np.arange(3, dtype="<f4")), ("b", np.arange(2, dtype="<f8")),
              ("c", np.arange(4, dtype="u1")), ("d", np.arange(2, dtype="<i4")),
              ("e", np.arange(2, dtype="<i8")), ("z", np.zeros((0, 3), "<f4"))]))


def overlap(h):
    h["b"]["data_offsets"] = [4, 12]


def outoforder(h):
    a, b = h["a"]["data_offsets"], h["b"]["data_offsets"]
    h["a"]["data_offsets"], h["b"]["data_offsets"] = [0, 8], [8, 12]
    del a, b


put("safetensors", "overlap.safetensors",
    st_bytes([("a", np.arange(2, dtype="<f4")), ("b", np.arange(2, dtype="<f4"))],
             header_extra=overlap))
put("safetensors", "out_of_order.safetensors",
    st_bytes([("b", np.arange(1, dtype="<f4")), ("a", np.arange(2, dtype="<f4"))],
             header_extra=outoforder))
put("safetensors", "bf16.safetensors",
    st_bytes([("a", np.arange(2, dtype="<f4"))],
             header_extra=lambda h: h["a"].update(dtype="BF16", shape=[4])))
put("safetensors", "huge_shape.safetensors",
    st_bytes([("a", np.arange(2, dtype="<f4"))],
             header_extra=lambda h: h["a"].update(shape=[1 << 20, 1 << 20])))

# model-level near misses: valid safetensors, invalid network
put("model", "mismatch.safetensors",
    st_bytes([("fc1.weight", np.zeros((3, 4), "<f4")), ("fc1.bias", np.zeros(3, "<f4")),
              ("fc2.weight", np.zeros((2, 5), "<f4")), ("fc2.bias", np.zeros(2, "<f4"))],
             {"format": "chainrule/1", "activations": "sigmoid,softmax"}))
put("model", "missing_bias.safetensors",
    st_bytes([("fc1.weight", np.zeros((3, 4), "<f4"))],
             {"format": "chainrule/1", "activations": "softmax"}))
put("model", "nan_weight.safetensors",
    st_bytes([("fc1.weight", np.array([[np.nan, 1.0]], "<f4")), ("fc1.bias", np.zeros(1, "<f4"))],
             {"format": "chainrule/1", "activations": "softmax"}))
put("model", "mixed_dtype.safetensors",
    st_bytes([("fc1.weight", np.zeros((2, 2), "<f4")), ("fc1.bias", np.zeros(2, "<f8"))],
             {"format": "chainrule/1", "activations": "softmax"}))
put("model", "bad_act.safetensors",
    st_bytes([("fc1.weight", np.zeros((2, 2), "<f4")), ("fc1.bias", np.zeros(2, "<f4")),
              ("fc2.weight", np.zeros((2, 2), "<f4")), ("fc2.bias", np.zeros(2, "<f4"))],
             {"format": "chainrule/1", "activations": "gelu,softmax"}))
put("model", "no_format.safetensors",
    st_bytes([("fc1.weight", np.zeros((2, 2), "<f4")), ("fc1.bias", np.zeros(2, "<f4"))]))

# ------------------------------------------------------------------ onnx
# ONNX graphs as exporters write them (tests/onnx_models.py, python3-onnx), and
# the near-misses: truncations, an unsupported op, an output activation, a
# lying length, deep nesting, a shape that does not chain.
sys.path.insert(0, os.path.join(root, "tests"))
import onnx_models as om  # noqa: E402
from onnx import helper  # noqa: E402

L32 = om.random_layers([4, 5, 3], np.float32, 1)
L64 = om.random_layers([4, 5, 3], np.float64, 2)
onnx_seeds = {
    "gemm_f32.onnx": om.mlp(L32, ["relu"]),
    "gemm_f64_nonraw.onnx": om.mlp(L64, ["tanh"], raw=False),
    "matmul_add_softmax.onnx": om.mlp(L32, ["sigmoid"], style="matmul", head="Softmax", opset=11),
    "gemm_nt_alpha_beta.onnx": om.mlp(L32, ["relu"], style="gemm_nt", alpha=0.5, beta=2.0),
    "opset8_inits_as_inputs.onnx": om.mlp(L32, ["relu"], opset=8, inits_as_inputs=True),
    "nchw_flatten_norm.onnx": om.mlp(L32, ["relu"], input_shape=(1, 2, 2), flatten="flatten",
                                     norm=[("Sub", np.float32(0.5)), ("Div", np.float32(0.25))]),
    "reshape_constants.onnx": om.mlp(L64, ["tanh"], input_shape=(2, 2), flatten="reshape",
                                     constant_nodes=True, extras=True, head="LogSoftmax",
                                     norm=[("Mul", np.full((2, 2), 2.0)), ("Add", 1.0)]),
    "fixed_batch.onnx": om.mlp(L32, ["relu"], batch=1, raw=False),
    "output_relu.onnx": om.mlp(L32, ["relu"], out_act="relu"),
}
L16 = [(W.astype(np.float16), b.astype(np.float16)) for W, b in L32]
L16[0][0].flat[0] = np.float16(2.0 ** -24)  # a subnormal
onnx_seeds.update({
    # x.view(x.size(0), -1): Shape -> Gather -> Unsqueeze (axes attribute / input) -> Concat
    "view_opset9.onnx": om.mlp(L32, ["relu"], input_shape=(2, 2), flatten="view", opset=9),
    "view_opset13.onnx": om.mlp(L32, ["relu"], input_shape=(2, 2), flatten="view", opset=13,
                                constant_nodes=True),
    "half_raw.onnx": om.mlp(L16, ["tanh"]),
    "half_int32.onnx": om.mlp(L16, ["tanh"], raw=False),
})
# a regressor's head in metadata_props (what chainrule convert writes), and a final Tanh + Softmax
_reg = om.mlp(L32, ["tanh"], out_act="sigmoid")
helper.set_model_props(_reg, {"chainrule.head": "squared-error"})
onnx_seeds["head_metadata.onnx"] = _reg
onnx_seeds["output_tanh_softmax.onnx"] = om.mlp(L32, ["relu"], out_act="tanh", head="Softmax")


def external(model, location, offsets):
    """Every initializer's data moved to `location` at the given byte offsets (the
    fuzz target's folder holds w.bin, link.bin and sub/w.bin, fuzz/targets.c)."""
    from onnx import TensorProto  # noqa: E402
    for t, off in zip(model.graph.initializer, offsets):
        n = len(t.raw_data)
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", str(off)), ("length", str(n))):
            e = t.external_data.add()
            e.key, e.value = k, v
    return model


for name, loc in (("external.onnx", "w.bin"), ("external_link.onnx", "link.bin"),
                  ("external_traversal.onnx", "../w.bin"), ("external_sub.onnx", "sub/w.bin")):
    onnx_seeds[name] = external(om.mlp(L32, ["relu"]), loc, [0, 80, 100, 160])
onnx_seeds["external_beyond.onnx"] = external(om.mlp(L32, ["relu"]), "w.bin", [4090, 0, 0, 0])


def act_graph(nodes, consts, opset=13):
    """Gemm -> the activation's nodes (from 'r' to 'h') -> Gemm, float32, 4 -> 5 -> 3."""
    from onnx import TensorProto, numpy_helper  # noqa: E402
    (w1, b1), (w2, b2) = L32
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
             numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(b2, "b2")]
    inits += [numpy_helper.from_array(np.array(v, np.float32), k) for k, v in consts.items()]
    g = helper.make_graph([helper.make_node("Gemm", ["x", "w1", "b1"], ["r"], transB=1)] + nodes +
                          [helper.make_node("Gemm", ["h", "w2", "b2"], ["logits"], transB=1)], "act",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


# the activations as exporters write them (PyTorch 1.13: GELU's erf pattern, SiLU as
# Sigmoid then Mul; opset 20's Gelu and its approximate attribute; LeakyRelu's alpha)
mk = helper.make_node
onnx_seeds["act_gelu_erf.onnx"] = act_graph(
    [mk("Div", ["r", "sqrt2"], ["t"]), mk("Erf", ["t"], ["e"]), mk("Add", ["e", "one"], ["a"]),
     mk("Mul", ["r", "a"], ["m"]), mk("Mul", ["m", "half"], ["h"])],
    {"sqrt2": 1.4142135381698608, "one": 1.0, "half": 0.5})
onnx_seeds["act_silu.onnx"] = act_graph([mk("Sigmoid", ["r"], ["s"]), mk("Mul", ["r", "s"], ["h"])], {})
onnx_seeds["act_gelu20_tanh.onnx"] = act_graph([mk("Gelu", ["r"], ["h"], approximate="tanh")], {}, 20)
onnx_seeds["act_leaky.onnx"] = act_graph([mk("LeakyRelu", ["r"], ["h"], alpha=0.01)], {})
onnx_seeds["act_softplus.onnx"] = act_graph([mk("Softplus", ["r"], ["h"])], {})
for name, model in onnx_seeds.items():
    put("onnx", name, model.SerializeToString())
good_onnx = onnx_seeds["gemm_f32.onnx"].SerializeToString()
put("onnx", "trunc.onnx", good_onnx[: len(good_onnx) // 2])
conv = onnx_seeds["gemm_f32.onnx"]
conv.graph.node[1].op_type = "Conv"
put("onnx", "unsupported_op.onnx", conv.SerializeToString())
put("onnx", "len_lies.onnx", b"\x3a\xff\xff\xff\xff\x0f" + good_onnx[2:40])
put("onnx", "deep.onnx", b"\x42\x02\x10\x0d\x3a\x40" + b"\x0a\x3e" * 31 + b"\x08\x01")
put("onnx", "varint_overflow.onnx", b"\x08" + b"\xff" * 11)
put("onnx", "group.onnx", b"\x0b\x0c")
put("onnx", "empty.onnx", b"")

# ------------------------------------------------------------------ idx


def idx_bytes(a, code):
    be = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    h = bytes([0, 0, code, a.ndim]) + b"".join(struct.pack(">I", d) for d in a.shape)
    return h + a.astype(be).tobytes()


imgs = idx_bytes(rng.integers(0, 256, (3, 4, 4)), 0x08)
labs = idx_bytes(np.array([0, 1, 2, 1]), 0x08)
put("idx", "images-idx3-ubyte", imgs)
put("idx", "labels-idx1-ubyte", labs)
put("idx", "int8.idx", idx_bytes(np.array([-1, 2, -3]), 0x09))
put("idx", "int16.idx", idx_bytes(np.array([[-300, 2], [5, 1000]]), 0x0B))
put("idx", "int32.idx", idx_bytes(np.array([1 << 20, -5]), 0x0C))
put("idx", "float32.idx", idx_bytes(np.array([1.5, -2.0, np.inf]), 0x0D))
put("idx", "float64.idx", idx_bytes(np.array([[1.5], [np.nan]]), 0x0E))
put("idx", "images.gz", gzip.compress(imgs, mtime=0))
put("idx", "labels.gz", gzip.compress(labs, mtime=0))
put("idx", "trunc.gz", gzip.compress(imgs, mtime=0)[:-10])
put("idx", "trunc.idx", imgs[:-1])
put("idx", "trailing.idx", labs + b"\0")
put("idx", "bad_type.idx", bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 0]))
put("idx", "huge_claim.idx", bytes([0, 0, 0x08, 3]) + struct.pack(">III", 1 << 16, 1 << 12, 1 << 12))
put("idx", "huge_claim.gz", gzip.compress(bytes([0, 0, 0x0E, 2]) + struct.pack(">II", 1 << 31, 1 << 31) + b"\0" * 64, mtime=0))
put("idx", "zero_dim.idx", bytes([0, 0, 0x08, 2, 0, 0, 0, 0, 0, 0, 0, 3]))

# ------------------------------------------------------------------ vnnlib
# The first byte picks the model's sizes (fuzz/targets.c): '0' d=1 k=1, '1' d=2 k=2, '2' d=5 k=5, '3' d=3 k=2.
acas_decl = "".join("(declare-const X_%d Real)\n" % i for i in range(5)) + \
    "".join("(declare-const Y_%d Real)\n" % j for j in range(5))
acas_box = ("; ACAS Xu property 1 (VNN-COMP 2021)\n"
            "(assert (<= X_0 0.6798577687061284))\n(assert (>= X_0 0.6))\n"
            "(assert (<= X_1 0.4999999999999671))\n(assert (>= X_1 -0.4999999999999671))\n"
            "(assert (<= X_2 0.4999999999999671))\n(assert (>= X_2 -0.4999999999999671))\n"
            "(assert (<= X_3 0.5))\n(assert (>= X_3 0.45))\n"
            "(assert (<= X_4 -0.45))\n(assert (>= X_4 -0.5))\n")
put("vnnlib", "acas_prop1.vnnlib", ("2" + acas_decl + acas_box + "(assert (>= Y_0 3.991125645861615))\n").encode())
put("vnnlib", "acas_prop2.vnnlib", ("2" + acas_decl + acas_box +
                                    "".join("(assert (<= Y_%d Y_0))\n" % j for j in range(1, 5))).encode())
put("vnnlib", "eran_like.vnnlib", ("2" + acas_decl +
    "".join("(assert (<= X_%d %.8f))\n(assert (>= X_%d %.8f))\n" % (i, 0.012 * (i + 1), i, 0.0) for i in range(5)) +
    "(assert (or\n" + "".join("\t(and (>= Y_%d Y_2))\n" % j for j in range(5) if j != 2) + "))\n").encode())
put("vnnlib", "boxes_or.vnnlib", b"1(declare-const X_0 Real)(declare-const X_1 Real)(declare-const Y_0 Real)"
    b"(declare-const Y_1 Real)\n(assert (and (>= X_1 0) (<= X_1 1)))\n"
    b"(assert (or (and (>= X_0 -1) (<= X_0 0) (<= Y_0 Y_1)) (and (>= X_0 0) (<= X_0 1) (< Y_1 -2.5))\n"
    b"  (and (<= X_0 0) (>= X_0 -1) (> Y_0 7e-3))))\n(assert (<= Y_0 100))\n")
put("vnnlib", "point.vnnlib", b"0; a point box at an inexact decimal\n(declare-const X_0 Real)\n"
    b"(declare-const Y_0 Real)\n(assert (<= X_0 0.1))\n(assert (>= X_0 0.1))\n(assert (<= Y_0 +1.5E+2))\n")
put("vnnlib", "two_or.vnnlib", b"3(declare-const X_0 Real)(declare-const X_1 Real)(declare-const X_2 Real)"
    b"(declare-const Y_0 Real)(declare-const Y_1 Real)(assert (>= X_0 0))(assert (<= X_0 1))(assert (>= X_1 0))"
    b"(assert (<= X_1 1))(assert (>= X_2 .5))(assert (<= X_2 1.))\n(assert (or (<= Y_0 1) (<= Y_1 2)))\n"
    b"(assert (or (and (<= X_0 0.5) (<= Y_0 Y_1)) (and (>= X_0 0.5) (>= Y_0 Y_1))))\n")
put("vnnlib", "unbounded.vnnlib", b"0(declare-const X_0 Real)(declare-const Y_0 Real)(assert (>= X_0 0))"
    b"(assert (<= Y_0 1))")
put("vnnlib", "unbalanced.vnnlib", b"0(declare-const X_0 Real)(declare-const Y_0 Real)(assert (>= X_0 0)"
    b"(assert (<= X_0 1))(assert (<= Y_0 1))")
put("vnnlib", "nan_huge.vnnlib", b"0(declare-const X_0 Real)(declare-const Y_0 Real)(assert (>= X_0 nan))"
    b"(assert (<= X_0 1e999))(assert (<= Y_0 1))")
put("vnnlib", "deep.vnnlib", b"0(declare-const X_0 Real)(declare-const Y_0 Real)(assert ((((((((((Y_0)))))))))))")
put("vnnlib", "linear.vnnlib", b"0(declare-const X_0 Real)(declare-const Y_0 Real)(assert (>= X_0 0))"
    b"(assert (<= X_0 1))(assert (<= (+ Y_0 (* 2 X_0)) 1))")

# ------------------------------------------------------------------ csv
put("csv", "plain.csv", b"0,1.5,2\n1,-3,4e-2\n2,0,1\n")
put("csv", "header.csv", b"label,x1,x2\n1,0.5,0.25\n0,1,2\n")
put("csv", "quoted_crlf.csv", b"\"label\",\"a\"\r\n\"1\", \"2.5\" \r\n\r\n0,3\r\n")
put("csv", "label_last.csv", b"0.1,0.2,3\n0.3,0.4,1\n")
put("csv", "ragged.csv", b"0,1,2\n1,2\n")
put("csv", "nonnumeric.csv", b"0,1,2\n1,abc,2\n")
put("csv", "nan.csv", b"0,nan,2\n1,inf,1e999\n")
put("csv", "neg_label.csv", b"-1,1\n")
put("csv", "no_newline.csv", b"1,2,3\n4,5,6")
put("csv", "unterminated.csv", b"1,\"2\n")
put("csv", "one_col.csv", b"1\n2\n")
put("csv", "blank.csv", b"\n  \n\t\n")
print("seed corpora written to", out)
