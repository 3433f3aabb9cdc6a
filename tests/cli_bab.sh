# chainrule certify --method bab: the note's toy (o0 = relu(x0 − x1) − relu(2x0 − x1) over [−1, 2] x [−2, 1], exact
# range [−2, 1], CROWN's lower bound −3): "Y_0 <= −2.5" is unsat, CROWN alone leaves it unknown, branch and bound
# proves it; "Y_0 <= −1.9" is sat; auto escalates to branch and bound with --timeout; a bad --method is refused.
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1
cd "$T" || exit 1

python3 - <<'PY'
import json, struct
hdr = {"__metadata__": {"format": "chainrule/1", "activations": "relu,softmax"}}
t = [("fc1.weight", [2, 2], [1, -1, 2, -1]), ("fc1.bias", [2], [0, 0]),
     ("fc2.weight", [2, 2], [1, -1, 0, 0]), ("fc2.bias", [2], [0, 0])]
data, off = b"", 0
for name, shape, vals in t:
    hdr[name] = {"dtype": "F64", "shape": shape, "data_offsets": [off, off + 8 * len(vals)]}
    data += struct.pack("<%dd" % len(vals), *vals); off += 8 * len(vals)
h = json.dumps(hdr).encode(); h += b" " * (-len(h) % 8)
open("toy.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + data)
PY
spec() {
  printf '(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n'
  printf '(assert (>= X_0 -1))\n(assert (<= X_0 2))\n(assert (>= X_1 -2))\n(assert (<= X_1 1))\n(assert (<= Y_0 %s))\n' "$1"
}
spec -2.5 >unsat.vnnlib
spec -1.9 >sat.vnnlib
V="--model toy.safetensors --vnnlib"

expect 0 "crown alone" -- "$CR" certify $V unsat.vnnlib --method crown --result c.txt
[ "$(cat c.txt)" = unknown ] && ok || bad "guard: CROWN alone leaves the toy unknown: $(cat c.txt)"
expect 0 "bab proves" -- "$CR" certify $V unsat.vnnlib --method bab --result b.txt
[ "$(cat b.txt)" = unsat ] && ok || bad "branch and bound proves the toy: $(cat b.txt)"
grep -q "unsat (proved by bab" out && ok || bad "proved by bab: $(cat out)"
expect 0 "auto with a timeout" -- "$CR" certify $V unsat.vnnlib --timeout 20 --result a.txt
[ "$(cat a.txt)" = unsat ] && grep -q "proved by bab" out && ok || bad "auto + --timeout escalates to bab: $(cat out)"
expect 0 "auto without a timeout" -- "$CR" certify $V unsat.vnnlib --result n.txt
[ "$(cat n.txt)" = unknown ] && ok || bad "auto without --timeout stays CROWN: $(cat n.txt)"
expect 0 "bab: sat" -- "$CR" certify $V sat.vnnlib --method bab --restarts 1 --steps 1 --result s.txt
[ "$(head -1 s.txt)" = sat ] && ok || bad "sat: $(head -1 s.txt)"
x0=$(sed -n 's/^((X_0 \(.*\))$/\1/p' s.txt) x1=$(sed -n 's/^(X_1 \(.*\))$/\1/p' s.txt)
python3 - "$x0" "$x1" <<'PY' && ok || bad "the counterexample ($x0, $x1) lies in the box and violates"
import sys
a, b = float(sys.argv[1]), float(sys.argv[2])
o = max(a - b, 0) - max(2 * a - b, 0)
sys.exit(0 if -1 <= a <= 2 and -2 <= b <= 1 and o <= -1.9 else 1)
PY
expect 2 "a bad method" -- "$CR" certify $V unsat.vnnlib --method beta
one_line_error "is not ibp, crown, alpha, bab or auto" "a bad --method"
echo "cli_bab: $pass passed, $fail failed"
[ "$fail" = 0 ]
