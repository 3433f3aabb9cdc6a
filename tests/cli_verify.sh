#!/usr/bin/env bash
# Regressions of explain and gradcheck (issue 9, items 4 and 5): a standardised
# model explained with the standardisation as the first link and grad's dJ/dx,
# valid markdown math for deep nets, honest network descriptions, gradcheck's
# option checks, --data/--index, and the checks on real Fashion-MNIST images.
# usage: tests/cli_verify.sh path/to/chainrule
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1
PY=/usr/bin/python3

# ---------------------------------------------------------------- gradcheck's options (item 5)
expect 2 "inject-fault into a layer that does not exist" -- "$CR" gradcheck --inject-fault 9:vjp
grep -q "there is no op 9" "$T/err" && ok || bad "names the missing op"
expect 2 "inject-fault into a part that cannot be injected" -- "$CR" gradcheck --inject-fault 2:adjoint
expect 2 "inject-fault malformed" -- "$CR" gradcheck --inject-fault 2:vjpx
expect 1 "inject-fault into the head's Jacobian is caught" -- "$CR" gradcheck --inject-fault 4:jacobian
grep -q "layer 4 (softmax+cross-entropy): Jacobian" "$T/err" && ok || bad "head Jacobian fault named"
# one unit (issue 17): each FAIL line on stderr gives its check's rel err and rel tol exactly
# as the table's row does
expect 1 "inject-fault 2:vjp" -- "$CR" gradcheck --inject-fault 2:vjp
nfail=0
while IFS= read -r line; do
  name=${line#FAIL: }; name=${name% disagrees with*}; name=${name% does not hold*}
  nums=$(echo "$line" | sed -n 's/.*(rel err \([^ ]*\) > rel tol \([^,]*\), example.*/\1 \2/p')
  row=$(grep -F "  $name " "$T/out" | awk '{ print $(NF-3), $(NF-2) }')
  [ -n "$nums" ] && [ "$nums" = "$row" ] && ok || bad "FAIL line and table differ: '$line' vs row '$row'"
  nfail=$((nfail + 1))
done < <(grep "^FAIL: " "$T/err")
[ "$nfail" = 2 ] && ok || bad "inject-fault 2:vjp: expected 2 FAIL lines, got $nfail"
# and it says that the fault was planted on purpose, naming it
grep -qxF "(--inject-fault 2:vjp: op 2's analytic VJP was perturbed by 1% on purpose; the checks that use it should FAIL)" "$T/out" &&
  ok || bad "inject-fault 2:vjp: no line saying the fault was injected"
expect 0 "init a model" -- "$CR" init --layers 6,5,3 --seed 3 --out "$T/m.safetensors"
expect 2 "--layers with --model is rejected" -- "$CR" gradcheck --model "$T/m.safetensors" --layers 5,4,3
expect 2 "--activation with --model is rejected" -- "$CR" gradcheck --model "$T/m.safetensors" --activation relu
expect 0 "--dtype with --model is honoured" -- "$CR" gradcheck --model "$T/m.safetensors" --dtype float64
grep -q "float64" "$T/out" && ok || bad "gradcheck --dtype float64 checks float64"
expect 0 "--dtype float32" -- "$CR" gradcheck --model "$T/m.safetensors" --dtype float32
grep -q "(6-5-3, float32)" "$T/out" && ok || bad "gradcheck --dtype float32 checks float32"

# ---------------------------------------------------------------- descriptions (item 4e) and markdown (4c)
expect 0 "explain 5,4,3 sigmoid" -- "$CR" explain --layers 5,4,3
grep -q "the seed network" "$T/out" && bad "a 5-4-3 net is not the seed network" || ok
expect 0 "explain relu,tanh" -- "$CR" explain --layers 6,5,4,3 --activation relu,tanh
grep -q "2 hidden layers: relu, tanh" "$T/out" && ok || bad "relu,tanh described"
expect 0 "explain the seed" -- "$CR" explain
grep -q "the seed network" "$T/out" && ok || bad "the seed network named"
grep -q "left to right" "$T/out" && ok || bad "row convention evaluated left to right"
grep -q "right to left from the loss" "$T/out" && bad "contradictory heading" || ok
grep -q "σ′(r) = e^−r/(1 + e^−r)² = σ(r) · (1 − σ(r))" "$T/out" && ok || bad "derives sigma'"
grep -q "⊘ is element-wise division" "$T/out" && ok || bad "defines ⊘"
grep -q "matrix product binds before ∘" "$T/out" && ok || bad "precedence of the matrix product"
expect 0 "markdown, 3 hidden layers, large" -- "$CR" explain --layers 30,20,12,8,5 --activation tanh --format markdown --max-print 10
grep -Eq '_\{[0-9]+\}_' "$T/out" && bad "double subscripts in markdown" || ok
grep -Eq "yhat|act'\(r\)| o act|\^T " "$T/out" && bad "ASCII fallbacks in markdown" || ok
# 15 hidden layers (CR_MAX_LAYERS): the product of section 2 is written whole, not cut at 1 KiB
expect 0 "markdown, 15 hidden layers" -- "$CR" explain --layers 4,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,3 --activation tanh --format markdown
grep -qF '\underbrace{\frac{\partial r_{1}}{\partial x}}_{2\times 4} \;\in\; \mathbb{R}^{1\times 4}' "$T/out" && ok || bad "the chain of a deep net is written whole"
# docs/seed-derivation.md is explain's markdown: its derivation (sections 1-4, symbols and shapes only) is today's
expect 0 "explain --format markdown" -- "$CR" explain --format markdown
cmp -s <(sed '/^## 5\./q' "$T/out") <(sed '/^## 5\./q' "$(dirname "$0")/../docs/seed-derivation.md") && ok ||
  bad "docs/seed-derivation.md's sections 1-4 differ from explain --format markdown (regenerate the doc)"

# ---------------------------------------------------------------- a zero gradient (item 4d)
expect 0 "explain at a zero gradient (every ReLU inactive)" -- "$CR" explain --layers 4,2,3 --activation relu --seed 1
grep -q "zero within tolerance" "$T/out" && ok || bad "a zero gradient is reported as such"
grep -Eq "e\+([1-9][0-9]|0[1-9])" "$T/out" && bad "no huge relative errors at a zero gradient" || ok
grep -q "agree trivially" "$T/out" && bad "no 'agree trivially' text" || ok
grep -q "only trivially" "$T/out" && ok || bad "the verdict says the pass is trivial"
grep -q "choose another example with --seed" "$T/out" && ok || bad "suggests --seed for a random network"
grep -q "2 of 2 ReLU units have r < 0, inactive, and 0 sit at the kink" "$T/out" && ok || bad "inactive vs kink counted"

# ---------------------------------------------------------------- a standardised model (item 4a)
if [ -d /usr/share/datasets/fashion-mnist ]; then
  expect 0 "train --standardize" -- "$CR" train --data fashion-mnist --limit 2000 --test none --layers 784,16,10 --epochs 1 --standardize --out "$T/std.safetensors"
  expect 0 "explain a standardised model" -- "$CR" explain --model "$T/std.safetensors" --data fashion-mnist:test --index 7 --json
  cp "$T/out" "$T/explain.json"
  expect 0 "explain text shows the standardisation link" -- "$CR" explain --model "$T/std.safetensors" --data fashion-mnist:test --index 7
  grep -q "∂z/∂x     = diag(1/s)" "$T/out" && ok || bad "standardisation as the first link"
  expect 0 "grad of the same example" -- "$CR" grad --model "$T/std.safetensors" --data fashion-mnist:test --index 7 --out "$T/g.npy"
  $PY - "$T/explain.json" "$T/g.npy" <<'PYEOF' && ok || bad "explain's dJ/dx equals grad's for a standardised model"
import json, sys, numpy as np
e = np.array(json.load(open(sys.argv[1]))["dJdx_vjp_chain"])
g = np.load(sys.argv[2]).reshape(-1).astype(np.float64)
r = np.abs(e - g).max() / np.abs(g).max()
print("explain vs grad rel diff", r)
sys.exit(0 if r < 1e-4 else 1)
PYEOF
  expect 2 "explain --index out of range" -- "$CR" explain --model "$T/std.safetensors" --data fashion-mnist:test --index 10000
  expect 0 "gradcheck --data --index on real images" -- "$CR" gradcheck --model "$T/std.safetensors" --data fashion-mnist:test --index 0:50 --samples 16
  expect 2 "gradcheck --index out of range" -- "$CR" gradcheck --model "$T/std.safetensors" --data fashion-mnist:test --index 20000
fi

echo "cli_verify: $pass passed, $fail failed"
[ "$fail" = 0 ]
