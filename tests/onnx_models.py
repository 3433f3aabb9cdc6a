"""Builds ONNX MLP graphs the way different exporters write them, with
python3-onnx's helper API (Debian's python3-onnx, /usr/bin/python3).

Used by tests/torch_onnx.py (checked against PyTorch and onnxruntime) and by
scripts/gen-fuzz-corpus.py (the onnx fuzz target's seeds).
"""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

ACT_OPS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh"}


def tensor(name, a, raw=True):
    """An initializer: raw_data, or the typed field (float_data / double_data / int64_data)."""
    a = np.ascontiguousarray(a)
    if raw:
        return numpy_helper.from_array(a, name)
    dt = ELEM[a.dtype]  # float16: the 16-bit patterns in int32_data (helper.make_tensor)
    return helper.make_tensor(name, dt, a.shape, a.flatten().tolist(), raw=False)


ELEM = {np.dtype("float16"): TensorProto.FLOAT16, np.dtype("float32"): TensorProto.FLOAT,
        np.dtype("float64"): TensorProto.DOUBLE, np.dtype("int64"): TensorProto.INT64}


def mlp(layers, acts, *, opset=13, style="gemm", raw=True, inits_as_inputs=False,
        input_shape=None, batch="N", flatten=None, norm=None, head=None, out_act=None,
        alpha=1.0, beta=1.0, extras=False, constant_nodes=False, ir_version=None,
        view_index=0):
    """layers: [(W [out, in], b [out] or None)], numpy float32 or float64.
    acts: hidden activations (len(layers) - 1 names of ACT_OPS).
    style: "gemm" (transB = 1, W as [out, in], PyTorch's export), "gemm_nt"
      (transB = 0, W stored [in, out]), "matmul" (MatMul [in, out] + Add).
    input_shape: the non-batch dims (default (D,)); more than one needs flatten.
    batch: "N" (symbolic), an int (fixed), or None (no dim info for the batch).
    flatten: None, "flatten", "reshape" (Reshape to [-1, D] / [0, D]) or "view"
      (Reshape to Concat(Unsqueeze(Gather(Shape(x), 0)), [-1]), as torch.onnx.export
      writes x.view(x.size(0), -1); Unsqueeze's axes an attribute before opset 13,
      an input from 13 on; view_index: the Gather index, 0 for the batch).
    float16 weights (layers of np.float16) make the input float16 too.
    norm: [("Sub"|"Div"|"Mul"|"Add", constant array)] applied to the input first.
    head: None, "Softmax" or "LogSoftmax" after the last layer.
    out_act: an activation after the last layer (graphs chainrule refuses).
    extras: Identity and Dropout nodes in the chain (exporters leave them in).
    constant_nodes: the Reshape shape and norm constants as Constant nodes."""
    dt = layers[0][0].dtype
    elem = ELEM[np.dtype(dt)]
    D = layers[0][0].shape[1]
    shape = tuple(input_shape) if input_shape is not None else (D,)
    nodes, inits, const_vals = [], [], []
    cur = "x"
    k = [0]

    def fresh(base):
        k[0] += 1
        return f"{base}_{k[0]}"

    def const(name, a, scalar=False):  # scalar: a 0-d tensor (tensor() makes [1])
        t = numpy_helper.from_array(np.asarray(a), name) if scalar else tensor(name, a, raw)
        if constant_nodes:
            t.name = name + "_value"
            nodes.append(helper.make_node("Constant", [], [name], name=fresh("Constant"), value=t))
        else:
            inits.append(t)
            const_vals.append((name, a))

    for op, c in norm or []:
        cn = fresh(op.lower() + "_const")
        const(cn, np.asarray(c, dtype=dt))
        out = fresh(op)
        nodes.append(helper.make_node(op, [cur, cn], [out], name=out))
        cur = out
    if extras:
        out = fresh("Identity")
        nodes.append(helper.make_node("Identity", [cur], [out], name=out))
        cur = out
    if flatten == "flatten":
        out = fresh("Flatten")
        nodes.append(helper.make_node("Flatten", [cur], [out], name=out, axis=1))
        cur = out
    elif flatten == "view":
        shp, g, u, cat, out = (fresh(b) for b in ("Shape", "Gather", "Unsqueeze", "Concat",
                                                   "Reshape"))
        idx, m1 = fresh("index"), fresh("minus_one")
        const(idx, np.array(view_index, dtype=np.int64), scalar=True)
        const(m1, np.array([-1], dtype=np.int64))
        nodes.append(helper.make_node("Shape", [cur], [shp], name=shp))
        nodes.append(helper.make_node("Gather", [shp, idx], [g], name=g, axis=0))
        if opset < 13:
            nodes.append(helper.make_node("Unsqueeze", [g], [u], name=u, axes=[0]))
        else:
            ax = fresh("axes")
            const(ax, np.array([0], dtype=np.int64))
            nodes.append(helper.make_node("Unsqueeze", [g, ax], [u], name=u))
        nodes.append(helper.make_node("Concat", [u, m1], [cat], name=cat, axis=0))
        nodes.append(helper.make_node("Reshape", [cur, cat], [out], name=out))
        cur = out
    elif flatten == "reshape":
        sn = fresh("shape")
        const(sn, np.array([-1 if opset % 2 else 0, int(np.prod(shape))], dtype=np.int64))
        out = fresh("Reshape")
        nodes.append(helper.make_node("Reshape", [cur, sn], [out], name=out))
        cur = out
    for i, (W, b) in enumerate(layers, start=1):
        wn, bn = f"layers.{i}.weight", f"layers.{i}.bias"
        out = fresh("Gemm" if style != "matmul" else "MatMul")
        if style == "gemm":
            const(wn, W)
        else:
            const(wn, np.ascontiguousarray(W.T))
        if style == "matmul":
            nodes.append(helper.make_node("MatMul", [cur, wn], [out], name=out))
            cur = out
            if b is not None:
                const(bn, b)
                out = fresh("Add")
                nodes.append(helper.make_node("Add", [cur, bn], [out], name=out))
                cur = out
        else:
            ins = [cur, wn]
            if b is not None:
                const(bn, b)
                ins.append(bn)
            attrs = {"transB": 1} if style == "gemm" else {}
            if alpha != 1.0:
                attrs["alpha"] = alpha
            if beta != 1.0:
                attrs["beta"] = beta
            nodes.append(helper.make_node("Gemm", ins, [out], name=out, **attrs))
            cur = out
        act = acts[i - 1] if i < len(layers) else out_act
        if act:
            out = fresh(ACT_OPS[act])
            nodes.append(helper.make_node(ACT_OPS[act], [cur], [out], name=out))
            cur = out
            if extras and i < len(layers):
                out = fresh("Dropout")
                nodes.append(helper.make_node("Dropout", [cur], [out], name=out))
                cur = out
    if head:
        out = fresh(head)
        nodes.append(helper.make_node(head, [cur], [out], name=out, axis=1))
        cur = out
    K = layers[-1][0].shape[0]
    bdim = batch
    inputs = [helper.make_tensor_value_info("x", elem, [bdim, *shape])]
    if inits_as_inputs:  # IR < 4: every initializer is also a graph input
        inputs += [helper.make_tensor_value_info(n, TensorProto.INT64 if a.dtype == np.int64
                                                 else elem, list(a.shape))
                   for n, a in const_vals]
    outputs = [helper.make_tensor_value_info(cur, elem, [bdim, K])]
    graph = helper.make_graph(nodes, "mlp", inputs, outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", opset)],
                          producer_name="chainrule-tests")
    if ir_version is not None:
        m.ir_version = ir_version
    elif opset <= 8:
        m.ir_version = 3
    elif opset <= 10:
        m.ir_version = 5
    elif opset <= 13:
        m.ir_version = 7
    else:
        m.ir_version = 8
    return m


def random_layers(dims, dtype, seed):
    """Fixed, varied weights [out, in] and biases for widths dims."""
    rng = np.random.default_rng(seed)
    return [(rng.normal(0, 1.0 / np.sqrt(a), (b, a)).astype(dtype),
             rng.normal(0, 0.3, b).astype(dtype)) for a, b in zip(dims[:-1], dims[1:])]
