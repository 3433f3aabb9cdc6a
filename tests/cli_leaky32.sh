# chainrule certify on a float32 leaky-ReLU net (o0 = leaky(x), o1 = 0, x in [-1, -0.9]) is about the float32 net,
# whose slope is the float nearest 0.01 (an ONNX LeakyRelu's alpha is a float attribute), as cr_certify bounds it,
# not about its float64 copy with slope 0.01 (the CLI's defect until this test):
#   (a) "Y_0 >= -0.0089999999": the float32 net meets it at x = -0.9 (0.01f < 0.01), so never unsat
#       (the float64 copy never meets it: the old CLI said unsat);
#   (b) "Y_0 <= -0.0099999998": the float32 net never meets it, unsat (the float64 copy meets it at x = -1).
# For an ONNX file and a float32 safetensors file, with every bound method ((a) is not sat either: its violation,
# 1e-10, is below the witness checker's error bound, whose slope interval covers both slopes). The old CLI fails
# every one of these checks.
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1
cd "$T" || exit 1

python3 - <<'PY'
import json, struct
hdr = {"__metadata__": {"format": "chainrule/1", "activations": "leaky-relu,softmax"}}
t = [("fc1.weight", [1, 1], [1]), ("fc1.bias", [1], [0]), ("fc2.weight", [2, 1], [1, 0]), ("fc2.bias", [2], [0, 0])]
data, off = b"", 0
for name, shape, vals in t:
    hdr[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + 4 * len(vals)]}
    data += struct.pack("<%df" % len(vals), *vals); off += 4 * len(vals)
h = json.dumps(hdr).encode(); h += b" " * (-len(h) % 8)
open("leaky32.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + data)
PY
models="leaky32.safetensors"
if /usr/bin/python3 -c "import onnx" 2>/dev/null; then
  /usr/bin/python3 - <<'PY'
import onnx
from onnx import helper, TensorProto as TP
inits = [helper.make_tensor("W1", TP.FLOAT, [1, 1], [1.0]), helper.make_tensor("B1", TP.FLOAT, [1], [0.0]),
         helper.make_tensor("W2", TP.FLOAT, [2, 1], [1.0, 0.0]), helper.make_tensor("B2", TP.FLOAT, [2], [0.0, 0.0])]
nodes = [helper.make_node("Gemm", ["x", "W1", "B1"], ["z"], transB=1),
         helper.make_node("LeakyRelu", ["z"], ["h"], alpha=0.01),
         helper.make_node("Gemm", ["h", "W2", "B2"], ["y"], transB=1)]
g = helper.make_graph(nodes, "leaky32", [helper.make_tensor_value_info("x", TP.FLOAT, ["N", 1])],
                      [helper.make_tensor_value_info("y", TP.FLOAT, ["N", 2])], inits)
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), "leaky32.onnx")
PY
  models="$models leaky32.onnx"
else
  echo "note: no python onnx: the ONNX half is skipped"
fi
spec() {
  printf '(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n'
  printf '(assert (>= X_0 -1))\n(assert (<= X_0 -0.9))\n(assert (%s Y_0 %s))\n' "$1" "$2"
}
spec ">=" -0.0089999999 >a.vnnlib
spec "<=" -0.0099999998 >b.vnnlib
# guards: the two slopes fall on either side of both thresholds
/usr/bin/python3 -c "
import numpy as np
s32, s64 = float(np.float32(0.01)), 0.01
assert s32 * -0.9 >= -0.0089999999 > s64 * -0.9   # (a): met by the float32 net only
assert s32 * -1 > -0.0099999998 >= s64 * -1       # (b): met by the float64 copy only
" && ok || bad "guard: the slopes 0.01f and 0.01 straddle the thresholds"

methods="ibp crown alpha bab"
[ -n "${CR_TEST_QUICK:-}" ] && methods="crown bab" # under valgrind
for m in $models; do
  for meth in $methods; do
    expect 0 "$m $meth (a)" -- "$CR" certify --model "$m" --vnnlib a.vnnlib --method $meth --restarts 2 --steps 10 \
      --result ra.txt
    [ "$(head -1 ra.txt)" != unsat ] && ok || bad "$m $meth: (a) holds at x = -0.9 for the float32 net, not unsat"
    expect 0 "$m $meth (b)" -- "$CR" certify --model "$m" --vnnlib b.vnnlib --method $meth --restarts 2 --steps 10 \
      --result rb.txt
    [ "$(cat rb.txt)" = unsat ] && ok || bad "$m $meth: (b) is unsat for the float32 net: $(cat rb.txt)"
  done
done
# dataset mode runs on the float32 net too: the example x = -1 (label 1: o1 = 0 > o0 = 0.01f x) is certified at
# eps 0.05 (a smoke test: the margin 0.01f * 0.95 does not tell the slopes apart)
/usr/bin/python3 -c "
import numpy as np
np.save('x.npy', np.array([[-1.0]]))
np.save('y.npy', np.array([1], dtype=np.int64))
"
expect 0 "dataset mode" -- "$CR" certify --model leaky32.safetensors --inputs x.npy --labels y.npy --eps 0.05 --json \
  --restarts 2 --steps 10
grep -q '"certified_accuracy": 1' out && ok || bad "dataset mode certifies the example: $(cat out)"
[ "$fail" = 0 ]
