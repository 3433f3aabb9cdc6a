#!/usr/bin/env bash
# GELU, added as one op file and one table row, reaches every command: init,
# train (Fashion-MNIST, one epoch, learns), grad, jacobian (three modes agree),
# jvp, attack, attribute, explain and gradcheck (passes on real images; a
# planted wrong GELU VJP fails and is named).
# usage: tests/cli_gelu.sh path/to/chainrule
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1

expect 0 "init --activation gelu" -- "$CR" init --layers 6,5,4,3 --activation gelu,tanh --dtype float64 \
  --seed 2 --out "$T/small.safetensors"
grep -q '"activations":"gelu,tanh,softmax"' "$T/small.safetensors" && ok || bad "the model stores gelu"
expect 0 "explain a gelu net" -- "$CR" explain --layers 4,3,2 --activation gelu
grep -q "explain: PASS" "$T/out" && grep -q "Φ(r" "$T/out" && ok || bad "explain derives gelu' = Φ(r) + r φ(r)"
expect 0 "gradcheck a random gelu net" -- "$CR" gradcheck --layers 7,5,4,3 --activation gelu
grep -q "layer 2 (gelu): VJP .*PASS" "$T/out" && ok || bad "gradcheck names the gelu op"
expect 1 "gradcheck catches a wrong gelu VJP" -- "$CR" gradcheck --layers 7,5,4,3 --activation gelu --inject-fault 2:vjp
grep -q "layer 2 (gelu): VJP .*FAIL" "$T/out" && ok || bad "the planted fault is named"

if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  echo "cli_gelu: $pass passed, $fail failed (Fashion-MNIST not installed: the training part skipped)"
  [ "$fail" = 0 ]; exit
fi
M=$T/gelu.safetensors
expect 2 "train a gelu net to .onnx is refused before training" -- "$CR" train --data fashion-mnist \
  --layers 784,8,10 --activation gelu --epochs 1 --seed 1 --out "$T/gelu.onnx"
one_line_error "has no ONNX op" "train gelu --out .onnx"
no_file "$T/gelu.onnx" "train gelu --out .onnx"
expect 0 "train a gelu net" -- "$CR" train --data fashion-mnist --layers 784,64,10 --activation gelu \
  --epochs 1 --seed 1 --out "$M"
acc=$(sed -n 's/.*test accuracy \([0-9.]*\).*/\1/p' "$T/out" | tail -1)
awk -v a="${acc:-0}" 'BEGIN { exit !(a > 0.80) }' && ok || bad "one epoch of a gelu net learns (test accuracy $acc)"
D="--data fashion-mnist:test --index 0:50"
expect 0 "gradcheck the trained gelu net on real images" -- "$CR" gradcheck --model "$M" $D
grep -q "gradcheck: PASS" "$T/out" && ok || bad "gradcheck passes"
expect 0 "explain the trained gelu net" -- "$CR" explain --model "$M" --data fashion-mnist:test --index 3
expect 0 "grad" -- "$CR" grad --model "$M" $D --out "$T/dx.npy"
for mode in rev fwd closed; do
  expect 0 "jacobian --mode $mode" -- "$CR" jacobian --model "$M" --data fashion-mnist:test --index 0:4 \
    --mode $mode --out "$T/j_$mode.npy"
done
if /usr/bin/python3 -c "import numpy" 2>/dev/null; then
  /usr/bin/python3 - "$T" <<'PY' && ok || bad "the three Jacobian modes of the gelu net agree"
import sys, numpy as np
t = sys.argv[1]
j = [np.load(f"{t}/j_{m}.npy").astype(np.float64) for m in ("rev", "fwd", "closed")]
s = np.abs(j[0]).max()
assert s > 1e-6, "trivially zero"
assert all(np.abs(a - j[0]).max() <= 1e-4 * s for a in j[1:]), [np.abs(a - j[0]).max() / s for a in j]
PY
fi
expect 0 "attack" -- "$CR" attack --model "$M" $D --method pgd --eps 0.05 --steps 5 --out "$T/adv.npy"
expect 0 "attribute" -- "$CR" attribute --model "$M" $D --method integrated-gradients --steps 16 --out "$T/ig.npy"
echo "cli_gelu: $pass passed, $fail failed"
[ "$fail" = 0 ]
