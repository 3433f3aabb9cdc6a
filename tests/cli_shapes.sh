#!/usr/bin/env bash
# Shapes round-trip (issue 17, item 3): every per-input output has the shape of --inputs:
# grad's dJ/dx, attack's x_adv, attribute's maps ([N, ...] as given) and jacobian's rows
# ([N, K, ...]), for inputs [N, 784], [N, 1, 28, 28], [N, 28, 28] and one example [784];
# the numbers are the same whatever the shape (only the layout of the file changes).
# usage: tests/cli_shapes.sh path/to/chainrule
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1
PY=/usr/bin/python3
if ! $PY -c "import numpy" 2>/dev/null; then echo "cli_shapes: skipped: no numpy in $PY"; exit 77; fi

expect 0 "init 784-6-10" -- "$CR" init --layers 784,6,10 --seed 5 --out "$T/m.safetensors"
$PY - "$T" <<'PYEOF' || bad "write the inputs"
import sys, numpy as np
t = sys.argv[1]
x = np.random.default_rng(3).uniform(0, 1, (3, 784)).astype(np.float32)
np.save(f"{t}/flat.npy", x)
np.save(f"{t}/nchw.npy", x.reshape(3, 1, 28, 28))
np.save(f"{t}/hw.npy", x.reshape(3, 28, 28))
np.save(f"{t}/one.npy", x[0])
np.save(f"{t}/y.npy", np.array([1, 4, 7]))
np.save(f"{t}/y1.npy", np.array([1]))
PYEOF

# shape FILE EXPECTED: the .npy's shape, as Python prints it
shape() {
  local got
  got=$($PY -c "import numpy, sys; print(tuple(numpy.load(sys.argv[1]).shape))" "$1" 2>&1)
  if [ "$got" = "$2" ]; then ok; else bad "$1: shape $got, expected $2"; fi
}
for f in flat nchw hw one; do
  case $f in flat) s="3, 784" ;; nchw) s="3, 1, 28, 28" ;; hw) s="3, 28, 28" ;; one) s="784," ;; esac
  y="$T/y.npy"; [ $f = one ] && y="$T/y1.npy"
  in=(--model "$T/m.safetensors" --inputs "$T/$f.npy")
  expect 0 "grad $f" -- "$CR" grad "${in[@]}" --labels "$y" --out "$T/grad_$f.npy"
  shape "$T/grad_$f.npy" "($s)"
  expect 0 "attack $f" -- "$CR" attack "${in[@]}" --labels "$y" --method fgsm --eps 0.1 --out "$T/adv_$f.npy"
  shape "$T/adv_$f.npy" "($s)"
  expect 0 "attribute $f" -- "$CR" attribute "${in[@]}" --labels "$y" --method input-x-gradient --out "$T/attr_$f.npy"
  shape "$T/attr_$f.npy" "($s)"
  expect 0 "jacobian $f" -- "$CR" jacobian "${in[@]}" --out "$T/jac_$f.npy"
  case $f in one) js="10, 784" ;; *) js="3, 10, ${s#3, }" ;; esac
  shape "$T/jac_$f.npy" "($js)"
done
# the same numbers in every layout (a guard against a reshape that moves values)
$PY - "$T" <<'PYEOF' && ok || bad "the outputs differ between input layouts"
import sys, numpy as np
t = sys.argv[1]
for what in ("grad", "adv", "attr", "jac"):
    ref = np.load(f"{t}/{what}_flat.npy")
    assert np.abs(ref).max() > 0, f"{what}: all zero"
    for f in ("nchw", "hw"):
        a = np.load(f"{t}/{what}_{f}.npy")
        assert np.array_equal(a.reshape(ref.shape), ref), f"{what} {f}"
    one = np.load(f"{t}/{what}_one.npy")
    assert np.array_equal(one, ref[0]), f"{what} one"
PYEOF
# a dataset of 28x28 images keeps its [N, 28, 28]; a CSV table its [N, D]
$PY -c "
import numpy as np, sys
rng = np.random.default_rng(4)
np.savetxt(sys.argv[1], np.column_stack([rng.integers(0, 3, 5), rng.uniform(0, 1, (5, 4))]), delimiter=',', fmt='%.6g')" "$T/t.csv"
expect 0 "init 4-5-3" -- "$CR" init --layers 4,5,3 --seed 2 --out "$T/s.safetensors"
expect 0 "grad on a CSV" -- "$CR" grad --model "$T/s.safetensors" --data "$T/t.csv" --header no --out "$T/g_csv.npy"
shape "$T/g_csv.npy" "(5, 4)"
echo "cli_shapes: $pass passed, $fail failed"
[ "$fail" = 0 ]
