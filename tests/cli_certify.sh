# chainrule certify: VNN-COMP mode on a linear net whose verdicts are known by construction (o0 = x0 + x1, o1 = 0;
# the unsafe region Y_0 <= Y_1 is x0 + x1 <= 0), the sat counterexample re-evaluated by `chainrule predict`, a tie
# that must not be sat, malformed input; dataset mode on a small Fashion-MNIST net: certified <= attacked <= clean,
# certified = clean at eps 0 (the proofs are not vacuous), certified = 0 at a huge eps.
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$T" || exit 1

python3 - <<'PY'
import json, struct
hdr = {"__metadata__": {"format": "chainrule/1", "activations": "softmax"}}
vals = [1, 1, 0, 0, 0, 0]  # fc1.weight [2, 2] = [[1, 1], [0, 0]] (out x in), fc1.bias [0, 0]
hdr["fc1.weight"] = {"dtype": "F64", "shape": [2, 2], "data_offsets": [0, 32]}
hdr["fc1.bias"] = {"dtype": "F64", "shape": [2], "data_offsets": [32, 48]}
h = json.dumps(hdr).encode(); h += b" " * (-len(h) % 8)
open("lin.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + struct.pack("<6d", *vals))
PY
spec() {
  printf '(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n'
  printf '(assert (>= X_0 %s))\n(assert (<= X_0 %s))\n(assert (>= X_1 %s))\n(assert (<= X_1 %s))\n(assert (<= Y_0 Y_1))\n' "$@"
}
spec 0.1 1 0.1 1 >unsat.vnnlib
spec -1 0.2 -1 0.3 >sat.vnnlib
spec 0 1 0 1 >tie.vnnlib     # the only violating point, (0, 0), is a tie: Y_0 = Y_1
V="--model lin.safetensors --vnnlib"

expect 0 "unsat by construction" -- "$CR" certify $V unsat.vnnlib --result unsat.txt
[ "$(cat unsat.txt)" = unsat ] && ok || bad "unsat.txt says unsat: $(cat unsat.txt)"
[ "$(wc -l <out)" = 1 ] && grep -q "unsat (proved by ibp" out && ok || bad "one human line: $(cat out)"

expect 0 "sat by construction" -- "$CR" certify $V sat.vnnlib --result sat.txt
[ "$(head -1 sat.txt)" = sat ] && ok || bad "sat.txt says sat: $(head -1 sat.txt)"
x0=$(sed -n 's/^((X_0 \(.*\))$/\1/p' sat.txt) x1=$(sed -n 's/^(X_1 \(.*\))$/\1/p' sat.txt)
awk -v a="$x0" -v b="$x1" 'BEGIN { exit !(a >= -1 && a <= 0.2 && b >= -1 && b <= 0.3 && a + b < 0) }' \
  && ok || bad "the witness ($x0, $x1) lies in the box and violates"
python3 - "$x0" "$x1" <<'PY'
import struct, sys
h = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }"; h += b" " * (-(len(h) + 11) % 16) + b"\n"
open("w.npy", "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + struct.pack("<2d", float(sys.argv[1]), float(sys.argv[2])))
PY
expect 0 "predict re-evaluates the counterexample" -- "$CR" predict --model lin.safetensors --inputs w.npy --out p.npy
python3 -c "
import struct; b = open('p.npy', 'rb').read(); n = struct.unpack('<H', b[8:10])[0]; p = struct.unpack('<2d', b[10 + n:10 + n + 16])
exit(0 if p[0] <= p[1] else 1)" && ok || bad "predict: the counterexample has p0 <= p1 (Y_0 <= Y_1 on the logits)"

expect 0 "a tie is a verdict" -- "$CR" certify $V tie.vnnlib --result tie.txt
[ "$(cat tie.txt)" = unknown ] && ok || bad "a tie is unknown, never sat or unsat: $(cat tie.txt)"

# α-CROWN: the note's toy (§7.1; o0 = relu-net, o1 = 0) over [-1,2]x[-2,1] has o0 <= 1; IBP bounds it by 4,
# CROWN by 3, α-CROWN by 2: "o0 >= 2.5" is refuted by α-CROWN only (and by the default, auto)
python3 - <<'PY'
import json, struct
hdr = {"__metadata__": {"format": "chainrule/1", "activations": "relu,softmax"}}
vals = [1, -1, 2, -1, 0, 0, 1, -1, 0, 0, 0, 0]  # fc1.weight (out x in), fc1.bias, fc2.weight, fc2.bias
hdr["fc1.weight"] = {"dtype": "F64", "shape": [2, 2], "data_offsets": [0, 32]}
hdr["fc1.bias"] = {"dtype": "F64", "shape": [2], "data_offsets": [32, 48]}
hdr["fc2.weight"] = {"dtype": "F64", "shape": [2, 2], "data_offsets": [48, 80]}
hdr["fc2.bias"] = {"dtype": "F64", "shape": [2], "data_offsets": [80, 96]}
h = json.dumps(hdr).encode(); h += b" " * (-len(h) % 8)
open("toy.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + struct.pack("<12d", *vals))
PY
printf '(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n' >toy.vnnlib
printf '(assert (>= X_0 -1))\n(assert (<= X_0 2))\n(assert (>= X_1 -2))\n(assert (<= X_1 1))\n(assert (>= Y_0 2.5))\n' >>toy.vnnlib
expect 0 "toy, crown" -- "$CR" certify --model toy.safetensors --vnnlib toy.vnnlib --method crown --result toy_c.txt
[ "$(cat toy_c.txt)" = unknown ] && ok || bad "CROWN leaves the toy unknown (ub 3 > 2.5): $(cat toy_c.txt)"
for m in alpha auto; do
  expect 0 "toy, $m" -- "$CR" certify --model toy.safetensors --vnnlib toy.vnnlib --method $m --result toy_a.txt
  [ "$(cat toy_a.txt)" = unsat ] && grep -q "unsat (proved by alpha" out && ok || bad "--method $m proves the toy by alpha-CROWN: $(cat out)"
done

printf '(declare-const X_0 Real)\n(assert (<= X_0 \n' >bad.vnnlib
expect 2 "malformed VNN-LIB" -- "$CR" certify $V bad.vnnlib --result bad.txt
one_line_error "bad.vnnlib" "malformed VNN-LIB"
no_file bad.txt "malformed VNN-LIB"
expect 2 "--result without --vnnlib" -- "$CR" certify --model lin.safetensors --result r.txt
one_line_error "--result needs --vnnlib" "--result alone"

# an ONNX graph ending in Softmax: Y are probabilities; an order spec is read on the logits, a threshold refused
if /usr/bin/python3 -c "import onnx, numpy" 2>/dev/null; then
  /usr/bin/python3 - "$HERE" <<'PY'
import sys, numpy as np, onnx
sys.path.insert(0, sys.argv[1])
from onnx_models import mlp
W, b = np.array([[1.0, 1.0], [0.0, 0.0]]), np.zeros(2)
onnx.save(mlp([(W, b)], [], head="Softmax"), "soft.onnx")
PY
  S="--model soft.onnx --vnnlib"
  expect 0 "softmax graph: unsat" -- "$CR" certify $S unsat.vnnlib --result s1.txt
  [ "$(cat s1.txt)" = unsat ] && ok || bad "softmax graph, order spec: unsat ($(cat s1.txt))"
  expect 0 "softmax graph: sat" -- "$CR" certify $S sat.vnnlib --result s2.txt
  awk '/^\(Y_/ { gsub(/[()]/, ""); s += $2; n++ } END { exit !(n == 2 && s > 0.999999 && s < 1.000001) }' s2.txt \
    && ok || bad "softmax graph: the counterexample's Y are probabilities: $(cat s2.txt)"
  sed 's/(assert (<= Y_0 Y_1))/(assert (<= Y_0 0.5))/' sat.vnnlib >thr.vnnlib
  expect 2 "softmax graph: a threshold on a probability" -- "$CR" certify $S thr.vnnlib --result s3.txt
  one_line_error "not thresholds on probabilities" "a probability threshold is refused"
  no_file s3.txt "a probability threshold"
  expect 0 "logits: a threshold is a verdict" -- "$CR" certify $V thr.vnnlib
fi

if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  echo "cli_certify: $pass passed, $fail failed (Fashion-MNIST not installed: dataset mode skipped)"
  [ "$fail" = 0 ]; exit
fi
expect 0 "train a small net" -- "$CR" train --data fashion-mnist --layers 784,32,10 --activation relu \
  --epochs 1 --seed 1 --out fm.safetensors
expect 0 "dataset mode" -- "$CR" certify --model fm.safetensors --data fashion-mnist:test --index 0:40 \
  --eps 0,0.001,0.01,10 --method ibp --restarts 2 --steps 20 --json
cp out ds.json
python3 - <<'PY' && ok || bad "dataset mode: $(cat ds.json)"
import json
r = json.load(open("ds.json"))["results"]
assert [e["eps"] for e in r] == [0, 0.001, 0.01, 10]
for e in r:
    assert e["certified_accuracy"] <= e["attacked_accuracy"] <= e["clean_accuracy"], e
assert r[0]["clean_accuracy"] > 0.5 and r[0]["certified_accuracy"] == r[0]["clean_accuracy"], r[0]
assert r[0]["unknown"] == 0
assert r[-1]["certified_accuracy"] == 0 and r[-1]["attacked_accuracy"] < r[-1]["clean_accuracy"], r[-1]
assert r[1]["certified_accuracy"] > 0
PY
na=20; [ -n "${CR_TEST_QUICK:-}" ] && na=6  # under valgrind
for m in crown alpha; do  # alpha-CROWN proves at least what CROWN proves, example by example
  expect 0 "dataset mode, $m" -- "$CR" certify --model fm.safetensors --data fashion-mnist:test --index 0:$na \
    --eps 0.02 --method $m --restarts 2 --steps 20 --json
  cp out ds_$m.json
done
python3 - <<'PY' && ok || bad "dataset mode: alpha certifies at least CROWN's: $(cat ds_crown.json ds_alpha.json)"
import json
c, a = (json.load(open(f"ds_{m}.json"))["results"][0] for m in ("crown", "alpha"))
print("certified at eps 0.02: crown", c["certified_accuracy"], "alpha", a["certified_accuracy"])
assert a["certified_accuracy"] >= c["certified_accuracy"] and a["attacked_accuracy"] == c["attacked_accuracy"]
PY
expect 0 "dataset mode, text" -- "$CR" certify --model fm.safetensors --data fashion-mnist:test --index 0:10 --eps 0.01
grep -q "certified" out && ok || bad "the text table"
expect 2 "dataset mode on inputs of the wrong width" -- "$CR" certify --model fm.safetensors --inputs w.npy --eps 0.1
one_line_error "784 features" "unlabelled inputs of the wrong width"

# an activation without a bound relaxation: one line naming it, before anything is printed or written
"$CR" init --layers 2,3,2 --activation gelu --seed 1 --out gelu.safetensors >/dev/null 2>&1 || bad "init gelu"
expect 2 "a gelu net in VNN-COMP mode" -- "$CR" certify --model gelu.safetensors --vnnlib unsat.vnnlib --result g.txt
one_line_error "activation gelu has no bound relaxation yet" "gelu refused (VNN-COMP mode)"
no_file g.txt "gelu refused"
[ ! -s out ] && ok || bad "nothing on stdout when gelu is refused: $(cat out)"
/usr/bin/python3 -c "import numpy as np; np.save('w2.npy', np.array([[0.5, 0.5]])); np.save('l2.npy', np.array([0]))"
expect 2 "a gelu net in dataset mode" -- "$CR" certify --model gelu.safetensors --inputs w2.npy --labels l2.npy --eps 0.1
one_line_error "activation gelu has no bound relaxation yet" "gelu refused (dataset mode)"
[ ! -s out ] && ok || bad "no table header when gelu is refused: $(cat out)"

# options of the other mode are refused; --eps with an empty value; --clip that excludes an example
expect 2 "VNN-COMP mode with --data" -- "$CR" certify $V unsat.vnnlib --data nonexistent.csv
one_line_error "--vnnlib takes no" "--data in VNN-COMP mode"
/usr/bin/python3 -c "import numpy as np; np.save('xs.npy', np.array([[1.2, 1.2], [3, 3], [-2, -2], [0.5, 0.6]])); np.save('ys.npy', np.array([0, 0, 1, 0]))"
expect 2 "--eps with an empty value" -- "$CR" certify --model lin.safetensors --inputs xs.npy --labels ys.npy --eps 0.1,,0.2
one_line_error "has an empty value" "--eps 0.1,,0.2"
expect 2 "--clip that excludes an example" -- "$CR" certify --model lin.safetensors --inputs xs.npy --labels ys.npy --eps 0.1 --clip -1,1
one_line_error "outside --clip [-1, 1]" "an example outside --clip"
# non-image data is not clipped to the selected examples' range: each example's verdict is the same alone
expect 0 "dataset mode on float data" -- "$CR" certify --model lin.safetensors --inputs xs.npy --labels ys.npy --eps 1.5
grep -q "L-inf balls not clipped" out && ok || bad "float data is not clipped: $(head -1 out)"
all=$("$CR" certify --model lin.safetensors --inputs xs.npy --labels ys.npy --eps 1.5 --json | python3 -c \
  "import json, sys; r = json.load(sys.stdin)['results'][0]; print(round(4 * r['certified_accuracy']))")
one=0
for i in 0 1 2 3; do
  c=$("$CR" certify --model lin.safetensors --inputs xs.npy --labels ys.npy --eps 1.5 --index $i --json | python3 -c \
    "import json, sys; print(round(json.load(sys.stdin)['results'][0]['certified_accuracy']))")
  one=$((one + c))
done
[ "$all" = 2 ] && [ "$one" = 2 ] && ok || bad "certified examples 1 and 2 alone and together: together $all, alone $one (want 2, 2)"

echo "cli_certify: $pass passed, $fail failed"
[ "$fail" = 0 ]
