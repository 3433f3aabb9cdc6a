#!/usr/bin/env bash
# Every activation, one row of the op table, reaches every command: the rows
# come from `chainrule --list-activations`, so a new row is tested here with no
# new test file. Per row: init (stored by name), explain (its own formula, never
# another row's, and PASS), gradcheck (its op named and passing, with an
# independent oracle; a planted wrong VJP, JVP and Jacobian of that op fail and
# are named; as the output activation of a regressor), ONNX export and import
# (bit-identical round trip, or a one-line refusal and no file for a row the
# writer does not write), and on Fashion-MNIST (when installed): train briefly
# (learns), train --out .onnx (refused before training when not writable),
# gradcheck on real images, explain, grad, the three Jacobian modes (agree),
# attack, attribute, and grad through the ONNX round trip (identical bytes).
# usage: tests/cli_activations.sh path/to/chainrule
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1

"$CR" --list-activations >"$T/rows" || bad "--list-activations"
n_rows=$(wc -l <"$T/rows")
[ "$n_rows" -ge 4 ] && ok || bad "--list-activations lists $n_rows rows"
grep -q '^sigmoid Sigmoid export$' "$T/rows" && grep -q '^gelu Gelu import-only$' "$T/rows" && ok ||
  bad "--list-activations names the ONNX forms"
have_data=0
[ -d /usr/share/datasets/fashion-mnist ] && have_data=1
have_np=0
/usr/bin/python3 -c "import numpy" 2>/dev/null && have_np=1

while read -r A form written; do
  # init: the model stores the row's name
  expect 0 "$A: init" -- "$CR" init --layers 6,5,4,3 --activation "$A,tanh" --dtype float64 --seed 2 \
    --out "$T/$A.safetensors"
  grep -q "\"activations\":\"$A,tanh,softmax\"" "$T/$A.safetensors" && ok || bad "$A: the model stores $A"
  # explain: the row's symbol and derivative, and the numbers agree
  expect 0 "$A: explain" -- "$CR" explain --layers 4,3,2 --activation "$A"
  grep -q "explain: PASS" "$T/out" && ok || bad "$A: explain passes"
  grep -q "diag([^ ]*′(" "$T/out" && bad "$A: explain has no formula for a'(r)" || ok
  [ "$A" = relu ] || ! grep -q "∂h/∂r *= diag(1\[r>0\]) " "$T/out" && ok || bad "$A: explain writes relu's derivative"
  [ "$A" != gelu ] || grep -q "Φ(r" "$T/out" && ok || bad "explain derives gelu' = Φ(r) + r φ(r)"
  expect 0 "$A: explain markdown" -- "$CR" explain --layers 5,4,3,2 --activation "$A" --format markdown
  # gradcheck: the op is checked against its row's independent formula
  expect 0 "$A: gradcheck" -- "$CR" gradcheck --layers 7,5,4,3 --activation "$A" --dtype float64
  grep -q "layer 2 ($A): VJP .*PASS" "$T/out" && ok || bad "$A: gradcheck names the $A op"
  grep -q "no oracle" "$T/out" && bad "$A: the row has no independent formula" || ok
  expect 0 "$A: gradcheck float32" -- "$CR" gradcheck --layers 7,5,4,3 --activation "$A"
  for part in vjp jvp jacobian; do
    expect 1 "$A: gradcheck catches a planted wrong $part" -- "$CR" gradcheck --layers 7,5,4,3 \
      --activation "$A" --dtype float64 --inject-fault "2:$part"
    grep -q "layer 2 ($A): .*FAIL" "$T/out" && ok || bad "$A: the planted $part fault is named"
  done
  expect 0 "$A: gradcheck, output activation of a regressor" -- "$CR" gradcheck --layers 6,5,3 \
    --activation tanh --output-activation "$A" --head squared-error --dtype float64
  grep -q "($A (output)): VJP .*PASS\|$A (output)" "$T/out" && ok || bad "$A: the output op is checked"
  # ONNX: export and import back, bit for bit; or refused in one line, no file
  if [ "$written" = export ]; then
    expect 0 "$A: convert to ONNX" -- "$CR" convert --model "$T/$A.safetensors" --out "$T/$A.onnx"
    expect 0 "$A: convert ONNX back" -- "$CR" convert --model "$T/$A.onnx" --out "$T/$A.back.safetensors"
    expect 0 "$A: init --out .onnx" -- "$CR" init --layers 6,5,4,3 --activation "$A,tanh" --dtype float64 \
      --seed 2 --out "$T/$A.init.onnx"
    cmp -s "$T/$A.onnx" "$T/$A.init.onnx" && ok || bad "$A: init .onnx and convert write the same bytes"
    expect 0 "$A: convert the round trip to ONNX again" -- "$CR" convert --model "$T/$A.back.safetensors" \
      --out "$T/$A.again.onnx"
    cmp -s "$T/$A.onnx" "$T/$A.again.onnx" && ok || bad "$A: ONNX -> safetensors -> ONNX is bit-identical"
  else
    expect 2 "$A: convert to ONNX is refused" -- "$CR" convert --model "$T/$A.safetensors" --out "$T/$A.onnx"
    one_line_error "is not written to ONNX" "$A: convert .onnx"
    no_file "$T/$A.onnx" "$A: convert .onnx"
  fi

  [ "$have_data" = 1 ] || continue
  M=$T/$A.trained.safetensors
  if [ "$written" != export ]; then
    expect 2 "$A: train --out .onnx is refused before training" -- "$CR" train --data fashion-mnist \
      --limit 500 --layers 784,8,10 --activation "$A" --epochs 1 --seed 1 --out "$T/$A.t.onnx"
    one_line_error "has no ONNX op" "$A: train --out .onnx"
    no_file "$T/$A.t.onnx" "$A: train --out .onnx"
  fi
  expect 0 "$A: train" -- "$CR" train --data fashion-mnist --limit 3000 --layers 784,32,10 \
    --activation "$A" --epochs 2 --seed 1 --out "$M"
  acc=$(sed -n 's/.*test accuracy \([0-9.]*\).*/\1/p' "$T/out" | tail -1)
  awk -v a="${acc:-0}" 'BEGIN { exit !(a > 0.60) }' && ok || bad "$A: two short epochs learn (test accuracy $acc)"
  if [ "$A" = gelu ]; then # cli_gelu.sh's bar, kept: one epoch on all the data
    expect 0 "train a gelu net" -- "$CR" train --data fashion-mnist --layers 784,64,10 --activation gelu \
      --epochs 1 --seed 1 --out "$T/gelu64.safetensors"
    acc=$(sed -n 's/.*test accuracy \([0-9.]*\).*/\1/p' "$T/out" | tail -1)
    awk -v a="${acc:-0}" 'BEGIN { exit !(a > 0.80) }' && ok || bad "one epoch of a gelu net learns (test accuracy $acc)"
  fi
  D="--data fashion-mnist:test --index 0:20"
  expect 0 "$A: gradcheck the trained net on real images" -- "$CR" gradcheck --model "$M" $D
  grep -q "gradcheck: PASS" "$T/out" && ok || bad "$A: gradcheck of the trained net passes"
  expect 0 "$A: explain the trained net" -- "$CR" explain --model "$M" --data fashion-mnist:test --index 3
  expect 0 "$A: grad" -- "$CR" grad --model "$M" $D --out "$T/$A.dx.npy"
  for mode in rev fwd closed; do
    expect 0 "$A: jacobian --mode $mode" -- "$CR" jacobian --model "$M" --data fashion-mnist:test \
      --index 0:3 --mode $mode --out "$T/$A.j_$mode.npy"
  done
  if [ "$have_np" = 1 ]; then
    /usr/bin/python3 - "$T" "$A" <<'PY' && ok || bad "$A: the three Jacobian modes agree"
import sys, numpy as np
t, a = sys.argv[1:3]
j = [np.load(f"{t}/{a}.j_{m}.npy").astype(np.float64) for m in ("rev", "fwd", "closed")]
s = np.abs(j[0]).max()
assert s > 1e-6, "trivially zero"
assert all(np.abs(x - j[0]).max() <= 1e-4 * s for x in j[1:]), [np.abs(x - j[0]).max() / s for x in j]
PY
  fi
  expect 0 "$A: attack" -- "$CR" attack --model "$M" $D --method pgd --eps 0.05 --steps 3 --out "$T/$A.adv.npy"
  expect 0 "$A: attribute" -- "$CR" attribute --model "$M" $D --method integrated-gradients --steps 8 \
    --out "$T/$A.ig.npy"
  if [ "$written" = export ]; then
    expect 0 "$A: trained net to ONNX" -- "$CR" convert --model "$M" --out "$T/$A.trained.onnx"
    expect 0 "$A: grad through the ONNX file" -- "$CR" grad --model "$T/$A.trained.onnx" $D \
      --out "$T/$A.dx_onnx.npy"
    cmp -s "$T/$A.dx.npy" "$T/$A.dx_onnx.npy" && ok || bad "$A: grad of the ONNX export is bit-identical"
  fi
done <"$T/rows"

# A row without an independent formula or explain's formula cannot be made from
# the command line; what the table promises for it is in test_act_table.
echo "cli_activations: $pass passed, $fail failed ($n_rows activations$([ "$have_data" = 1 ] || echo "; Fashion-MNIST not installed: the training part skipped"))"
[ "$fail" = 0 ]
