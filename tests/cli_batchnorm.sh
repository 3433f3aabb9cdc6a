#!/usr/bin/env bash
# BatchNorm (inference) after a linear layer through the real command, in
# cli_malformed.sh's style: a well-formed BN model (safetensors and ONNX) runs
# every command that takes --model (also after an input standardisation,
# link 0), and explain shows the BN as its own
# diagonal link (text and markdown); each malformed one (wrong lengths, negative
# variance with var + eps <= 0, NaN, missing tensors or epsilon, a bad epsilon,
# training mode, a BatchNormalization on the input, a running-statistics
# output, a double scale in a float network) ends with exit 2, ONE
# line on stderr naming the file and the problem, and no output file; train
# refuses a BN model in one line.
# usage: tests/cli_batchnorm.sh path/to/chainrule
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1

# err WHAT FILE TEXT OUT -- command...
err() {
  local what=$1 file=$2 text=$3 out=$4; shift 5
  "$@" >"$T/stdout" 2>"$T/stderr"
  local got=$?
  if [ "$got" != 2 ]; then bad "$what: exit $got, expected 2"; sed 's/^/    /' "$T/stderr" | head -3; return; fi
  if [ "$(wc -l <"$T/stderr")" != 1 ]; then bad "$what: stderr is not one line:"; sed 's/^/    /' "$T/stderr" | head -5; return; fi
  if ! grep -qF -- "$file" "$T/stderr"; then bad "$what: stderr does not name '$file': $(cat "$T/stderr")"; return; fi
  if ! grep -qF -- "$text" "$T/stderr"; then bad "$what: stderr lacks '$text': $(cat "$T/stderr")"; return; fi
  if [ "$out" != - ] && [ -e "$out" ]; then bad "$what: $out was written"; rm -f "$out"; return; fi
  ok
}
succeeds() { # WHAT -- command...
  local what=$1; shift 2
  if "$@" >"$T/stdout" 2>"$T/stderr"; then ok; else bad "$what: exit $?"; sed 's/^/    /' "$T/stderr" | head -3; fi
}

cd "$T" || exit 1
/usr/bin/python3 - <<'PY' || { echo "cli_batchnorm: cannot write the corpus (python3 + numpy + onnx)"; exit 1; }
import json, struct
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
rng = np.random.default_rng(3)
D, H, K = 4, 5, 3
W1 = rng.standard_normal((H, D)).astype("<f4"); b1 = rng.standard_normal(H).astype("<f4")
W2 = rng.standard_normal((K, H)).astype("<f4"); b2 = np.zeros(K, "<f4")
g, be = rng.uniform(0.5, 2, H).astype("<f4"), rng.uniform(-1, 1, H).astype("<f4")
mu, var = rng.uniform(-1, 1, H).astype("<f4"), rng.uniform(0.1, 2, H).astype("<f4")

def st(path, tensors, meta):
    ents, data, off = ({"__metadata__": meta} if meta else {}), b"", 0
    for name, a in tensors:
        raw = a.tobytes()
        ents[name] = {"dtype": {"float32": "F32", "float64": "F64", "int64": "I64"}[str(a.dtype)],
                      "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        data += raw; off += len(raw)
    j = json.dumps(ents).encode(); j += b" " * ((8 - len(j) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(j)) + j + data)

meta = {"format": "chainrule/1", "activations": "relu,softmax", "bn1.eps": "1e-05"}
fc = [("fc1.weight", W1), ("fc1.bias", b1), ("fc2.weight", W2), ("fc2.bias", b2)]
bn = {"bn1.weight": g, "bn1.bias": be, "bn1.running_mean": mu, "bn1.running_var": var}
def stbn(path, m=meta, **repl):
    t = dict(bn); t.update({k.replace("__", "."): v for k, v in repl.items()})
    st(path, fc + [(k, v) for k, v in t.items() if v is not None], m)
stbn("bn.safetensors")
stbn("bn_len.safetensors", bn1__running_var=var[:4])
neg = var.copy(); neg[2] = -0.5
stbn("bn_negvar.safetensors", bn1__running_var=neg)
nan = g.copy(); nan[1] = np.nan
stbn("bn_nan.safetensors", bn1__weight=nan)
stbn("bn_missing.safetensors", bn1__bias=None)
stbn("bn_noeps.safetensors", m={k: v for k, v in meta.items() if k != "bn1.eps"})
stbn("bn_badeps.safetensors", m={**meta, "bn1.eps": "-1e-5"})
stbn("bn_f64.safetensors", bn1__running_mean=mu.astype("<f8"))
stbn("bn_beyond.safetensors", bn3__weight=g)
# a PyTorch state dict of Linear, BatchNorm1d, ReLU, Linear (no epsilon in it)
st("sd_bn.safetensors", [("0.weight", W1), ("0.bias", b1), ("1.weight", g), ("1.bias", be),
                         ("1.running_mean", mu), ("1.running_var", var),
                         ("1.num_batches_tracked", np.array(7, "<i8")), ("3.weight", W2), ("3.bias", b2)], None)
st("bn_epsonly.safetensors", fc, {"format": "chainrule/1", "activations": "relu,softmax", "bn2.eps": "1e-5"})

def graph(nodes, inits, opset=13, inp="x"):
    x = helper.make_tensor_value_info(inp, TensorProto.FLOAT, ["N", D])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", K])
    g_ = helper.make_graph(nodes, "g", [x], [y], [numpy_helper.from_array(a, n) for n, a in inits])
    return helper.make_model(g_, opset_imports=[helper.make_opsetid("", opset)])
def bnnode(inp="r", out="z", **attrs):
    return helper.make_node("BatchNormalization", [inp, "s", "b", "m", "v"], [out], name="bn", **attrs)
def onnx_bn(path, opset=13, node=None, extra=(), s=g, b=be, m=mu, v=var, pre=None):
    nodes = (pre or []) + [helper.make_node("Gemm", ["x", "W1", "b1"], ["r"], transB=1),
                           node or bnnode(), helper.make_node("Relu", ["z"], ["h"]),
                           helper.make_node("Gemm", ["h", "W2", "b2"], ["y"], transB=1)]
    inits = [("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2), ("s", s), ("b", b), ("m", m), ("v", v)]
    onnx.save(graph(nodes, inits + list(extra), opset), path)
onnx_bn("bn.onnx")
# with the input standardisation (link 0) before it: Sub and Div by constants
x0 = helper.make_tensor_value_info("x0", TensorProto.FLOAT, ["N", D])
yv = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", K])
gs = helper.make_graph([helper.make_node("Sub", ["x0", "mu0"], ["xc"]), helper.make_node("Div", ["xc", "sd0"], ["x"]),
                        helper.make_node("Gemm", ["x", "W1", "b1"], ["r"], transB=1), bnnode(),
                        helper.make_node("Relu", ["z"], ["h"]), helper.make_node("Gemm", ["h", "W2", "b2"], ["y"], transB=1)],
                       "g", [x0], [yv], [numpy_helper.from_array(a, n) for n, a in
                                         [("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2), ("s", g), ("b", be), ("m", mu), ("v", var),
                                          ("mu0", rng.uniform(-1, 1, D).astype("<f4")), ("sd0", rng.uniform(0.5, 2, D).astype("<f4"))]])
onnx.save(helper.make_model(gs, opset_imports=[helper.make_opsetid("", 13)]), "bn_std.onnx")
onnx_bn("bn_opset7.onnx", opset=7)
onnx_bn("bno_len.onnx", s=g[:3])
onnx_bn("bno_negvar.onnx", v=neg)
onnx_bn("bno_nan.onnx", m=np.where(np.arange(H) == 3, np.nan, mu).astype("<f4"))
onnx_bn("bno_eps.onnx", node=bnnode(epsilon=-1e-3))
onnx_bn("bno_train.onnx", opset=15, node=bnnode(training_mode=1))
onnx_bn("bno_stats.onnx", opset=9, node=helper.make_node("BatchNormalization", ["r", "s", "b", "m", "v"],
                                                         ["z", "rm", "rv"], name="bn"))
onnx_bn("bno_double.onnx", s=g.astype("<f8"))
# MatMul, BatchNormalization, then an Add: the Add is not the MatMul's bias (it comes after the BN)
W1t = np.ascontiguousarray(W1.T)
nodes = [helper.make_node("MatMul", ["x", "W1t"], ["r"]), bnnode(), helper.make_node("Add", ["z", "b1"], ["z2"]),
         helper.make_node("Relu", ["z2"], ["h"]), helper.make_node("Gemm", ["h", "W2", "b2"], ["y"], transB=1)]
onnx.save(graph(nodes, [("W1t", W1t), ("b1", b1), ("W2", W2), ("b2", b2), ("s", g), ("b", be), ("m", mu), ("v", var)]),
          "bno_addafter.onnx")
# a BatchNormalization on the input, before the first Gemm
ginp = [helper.make_node("BatchNormalization", ["x0", "si", "bi", "mi", "vi"], ["x"], name="bn_in")]
x0 = helper.make_tensor_value_info("x0", TensorProto.FLOAT, ["N", D])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", K])
gi = helper.make_graph(ginp + [helper.make_node("Gemm", ["x", "W1", "b1"], ["y0"], transB=1),
                               helper.make_node("Relu", ["y0"], ["h"]),
                               helper.make_node("Gemm", ["h", "W2", "b2"], ["y"], transB=1)],
                       "g", [x0], [y], [numpy_helper.from_array(a, n) for n, a in
                                        [("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2),
                                         ("si", np.ones(D, "<f4")), ("bi", np.zeros(D, "<f4")),
                                         ("mi", np.zeros(D, "<f4")), ("vi", np.ones(D, "<f4"))]])
onnx.save(helper.make_model(gi, opset_imports=[helper.make_opsetid("", 13)]), "bno_input.onnx")
np.save("X.npy", rng.uniform(-1, 1, (6, D)).astype("<f4"))
np.save("y.npy", np.arange(6) % K)
PY

O=$T/out.npy
# the well-formed models run every command that takes --model
for m in bn.safetensors bn.onnx bn_opset7.onnx bn_std.onnx; do
  succeeds "predict $m" -- "$CR" predict --model $m --inputs X.npy --out p.npy
  succeeds "grad $m" -- "$CR" grad --model $m --inputs X.npy --labels y.npy --out g.npy
  succeeds "jacobian $m" -- "$CR" jacobian --model $m --inputs X.npy --out j.npy
  succeeds "jvp $m" -- "$CR" jvp --model $m --inputs X.npy --tangent X.npy --out jv.npy
  succeeds "eval $m" -- "$CR" eval --model $m --inputs X.npy --labels y.npy
  succeeds "attribute $m" -- "$CR" attribute --model $m --inputs X.npy --labels y.npy --method integrated-gradients --out a.npy
  succeeds "attack $m" -- "$CR" attack --model $m --inputs X.npy --labels y.npy --method pgd --eps 0.1 --out adv.npy
  succeeds "gradcheck $m" -- "$CR" gradcheck --model $m --inputs X.npy --labels y.npy
done
# explain shows the BatchNorm as its own diagonal link, and its four ways agree
"$CR" explain --model bn.safetensors --inputs X.npy --labels y.npy >ex.txt 2>&1 && ok || bad "explain bn.safetensors: $(tail -2 ex.txt)"
for want in "n   = (r − μ1) ⊘ √(v1 + ε1) ∘ γ1 + β1" "∂n/∂r     = diag(γ1 ⊘ √(v1 + ε1))" \
            "g_r  = g_n ∘ γ1 ⊘ √(v1 + ε1)" "explain: PASS, all four ways agree: ∂J/∂x = ((ŷ − y) W2ᵀ ∘ 1[n>0] ∘ γ1 ⊘ √(v1 + ε1)) W1ᵀ"; do
  grep -qF -- "$want" ex.txt && ok || bad "explain lacks '$want'"
done
"$CR" explain --model bn.onnx --inputs X.npy --labels y.npy --format markdown >ex.md 2>&1 && ok || bad "explain --format markdown bn.onnx: $(tail -2 ex.md)"
grep -qF '\mathrm{diag}(\gamma_{1} \oslash \sqrt{v_{1} + \varepsilon_{1}})' ex.md && ok || bad "markdown explain lacks the BatchNorm's diagonal"
# safetensors -> ONNX -> safetensors: the same bytes
succeeds "convert to onnx" -- "$CR" convert --model bn.safetensors --out back.onnx
succeeds "convert back" -- "$CR" convert --model back.onnx --out back.safetensors
cmp -s bn.safetensors back.safetensors && ok || {
  "$CR" convert --model bn.safetensors --out bn2.safetensors >/dev/null 2>&1
  cmp -s bn2.safetensors back.safetensors && ok || bad "safetensors -> ONNX -> safetensors changed the bytes"; }
"$CR" predict --model bn.safetensors --inputs X.npy --out p1.npy >/dev/null 2>&1
"$CR" predict --model back.onnx --inputs X.npy --out p2.npy >/dev/null 2>&1
cmp -s p1.npy p2.npy && ok || bad "predict differs between bn.safetensors and its ONNX"

mcase() { err "model $1" "$1" "$2" "$O" -- "$CR" predict --model "$1" --inputs X.npy --out "$O"; }
mcase bn_len.safetensors "tensor 'bn1.running_var' has shape [4] but fc1 has 5 outputs"
mcase bn_negvar.safetensors "tensor 'bn1.running_var' has -0.5 at index 2: var + eps"
mcase bn_nan.safetensors "tensor 'bn1.weight' contains NaN"
mcase bn_missing.safetensors "missing tensor 'bn1.bias'"
mcase bn_noeps.safetensors "missing metadata \"bn1.eps\""
mcase bn_badeps.safetensors "metadata bn1.eps '-1e-5' is not a finite number >= 0"
mcase bn_f64.safetensors "mixed dtypes: tensor 'bn1.running_mean' is float64"
mcase bn_beyond.safetensors "'bn3.weight' follows linear layer 3, but the model has 2"
mcase bn_epsonly.safetensors "metadata \"bn2.eps\" without the tensors"
mcase bno_len.onnx "its scale 's' has 3 values but the linear layer of node 0 has 5 outputs"
mcase bno_negvar.onnx "tensor 'v' has var + epsilon <= 0 at index 2"
mcase bno_nan.onnx "tensor 'm' has NaN at index 3"
mcase bno_eps.onnx "epsilon -0.001 is not a finite number >= 0"
mcase bno_train.onnx "training_mode = 1 (batch statistics) is not supported"
mcase bno_stats.onnx "output 1 'rm' is a running statistic of training mode"
mcase bno_double.onnx "its scale 's' is double but the network is float"
mcase bno_input.onnx "on the input, before any linear layer"
mcase bno_addafter.onnx "arithmetic on the chain is supported only"
err "convert a state dict with BatchNorm" sd_bn.safetensors "belongs to a BatchNorm layer, which a state dict does not describe fully" "$T/sd.safetensors" -- \
  "$CR" convert --model sd_bn.safetensors --activations relu --out "$T/sd.safetensors"
err "train --resume BN model" bn.safetensors "train does not train models with BatchNorm" "$T/r.safetensors" -- \
  "$CR" train --resume bn.safetensors --data X.npy,y.npy --epochs 1 --out "$T/r.safetensors"

# docs/batchnorm.md's explain excerpt (a 4-5-4-3 net, BatchNorm after layer 1) is what explain prints
# (whitespace aside): the BN output's name n1 and the symbols line ("r1, h1, ...", not "n1, h1, ...")
/usr/bin/python3 - <<'PY' || bad "cannot write bn3.onnx"
import numpy as np
import onnx
from onnx import helper, numpy_helper
rng = np.random.default_rng(5)
t = lambda a, n: numpy_helper.from_array(np.asarray(a, np.float32), n)
inits = [t(rng.standard_normal((4, 5)), "W1"), t(rng.standard_normal(5), "b1"), t(rng.uniform(0.5, 2, 5), "g"),
         t(rng.standard_normal(5), "be"), t(rng.standard_normal(5), "mu"), t(rng.uniform(0.5, 2, 5), "v"),
         t(rng.standard_normal((5, 4)), "W2"), t(rng.standard_normal(4), "b2"), t(rng.standard_normal((4, 3)), "W3"),
         t(rng.standard_normal(3), "b3")]
nodes = [helper.make_node("Gemm", ["x", "W1", "b1"], ["r1"]),
         helper.make_node("BatchNormalization", ["r1", "g", "be", "mu", "v"], ["n1"], epsilon=1e-5),
         helper.make_node("Relu", ["n1"], ["h1"]), helper.make_node("Gemm", ["h1", "W2", "b2"], ["r2"]),
         helper.make_node("Tanh", ["r2"], ["h2"]), helper.make_node("Gemm", ["h2", "W3", "b3"], ["o"])]
g = helper.make_graph(nodes, "bn3", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 4])],
                      [helper.make_tensor_value_info("o", onnx.TensorProto.FLOAT, ["N", 3])], inits)
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "bn3.onnx")
PY
"$CR" explain --model bn3.onnx --inputs X.npy --labels y.npy >ex3.txt 2>&1 && ok || bad "explain bn3.onnx: $(tail -2 ex3.txt)"
norm() { sed 's/^ *//; s/ *$//; s/  */ /g'; }
doc="$(dirname "${BASH_SOURCE[0]}")/../docs/batchnorm.md"
sed -n '/^## explain/,/^## Training/p' "$doc" | grep -E '^        [^ ]' | norm >doc_lines.txt
[ "$(wc -l <doc_lines.txt)" -ge 6 ] && ok || bad "docs/batchnorm.md: no explain excerpt found"
norm <ex3.txt >ex3n.txt
while IFS= read -r line; do
  grep -qxF -- "$line" ex3n.txt && ok || bad "docs/batchnorm.md's explain line is not what explain prints: '$line'"
done <doc_lines.txt
grep -qF "r1, h1, ... each hidden layer's pre-activations" ex3.txt && ok || bad "explain's symbols name the BN output n1 as the pre-activations"
echo "cli_batchnorm: $pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$pass" -ge 40 ]
