#!/usr/bin/env bash
# Numerical faults in training: a run whose loss or gradients become NaN/Inf
# must stop with a clear one-line message (exit 1), never write a model with
# non-finite parameters, and keep the last good checkpoint byte for byte, from
# which --resume continues. Extreme but finite data (|x| up to 3e38, 1e30,
# denormals) must train to finite numbers or stop with such a message.
# usage: tests/cli_numfault.sh path/to/chainrule
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1
if ! "$CR" train --help >/dev/null 2>&1; then echo "SKIP: this chainrule has no train command"; exit 0; fi
cd "$T" || exit 1
# diverged: exit 1 and one line on stderr saying so (naming the step and the layer)
diverged() { # WHAT -- command...
  local what=$1; shift 2
  "$@" >out 2>err
  local rc=$?
  if [ $rc -ne 1 ]; then bad "$what: exit $rc, expected 1: $(head -2 err)"; return 1; fi
  if [ "$(wc -l <err)" = 1 ] && grep -q "NaN or inf" err && grep -q "step [0-9]" err && grep -q "layer [0-9]" err; then ok
  else bad "$what: expected one line naming NaN/Inf, the step and the layer, got: $(head -3 err)"; fi
  if compgen -G "*.tmp.*" >/dev/null; then bad "$what: temporary file left"; rm -f ./*.tmp.*; else ok; fi
}

awk 'BEGIN { srand(5); for (i = 0; i < 64; i++) { c = i % 3;
  printf "%d,%.4f,%.4f,%.4f,%.4f\n", c, c + rand(), 2 - c + rand(), rand(), c * 0.5 + rand() } }' >good.csv
# inputs up to 1e30: with relu and lr 1 the logits overflow float32 within one step
awk 'BEGIN { srand(1); for (i = 0; i < 64; i++) printf "%d,%g,%g,1,2\n", i % 3, rand() * 1e30, -rand() * 1e30 }' >huge.csv
common=(--layers 4,16,3 --activation relu --optimizer sgd --lr 1 --batch 4 --quiet)

# 1. a fresh run that diverges writes nothing
diverged "fresh run diverges" -- "$CR" train --data huge.csv "${common[@]}" --epochs 3 --out fresh.safetensors
[ ! -e fresh.safetensors ] && ok || bad "a diverged fresh run wrote fresh.safetensors"

# 2. a run that diverges after good epochs keeps the last good checkpoint
if "$CR" train --data good.csv "${common[@]}" --epochs 2 --out ck.safetensors >/dev/null 2>err; then ok; else bad "good run: $(cat err)"; fi
cp ck.safetensors ck.before
awk 'BEGIN { for (i = 0; i < 30; i++) printf "%d,3e38,-3e38,1,2\n", i % 3 }' >max.csv
diverged "resumed run diverges on other data" -- "$CR" train --resume ck.safetensors --data max.csv --epochs 6 --out ck.safetensors
grep -q "ck.safetensors keeps epoch 2" err && ok || bad "the message should say that ck.safetensors keeps epoch 2: $(cat err)"
cmp -s ck.safetensors ck.before && ok || bad "the last good checkpoint was changed by the diverged run"
"$CR" eval --model ck.safetensors --data good.csv >/dev/null 2>err && ok || bad "last good checkpoint not loadable: $(cat err)"
[ "$(meta ck.safetensors train.epoch)" = 2 ] && ok || bad "checkpoint epoch is $(meta ck.safetensors train.epoch), expected 2"
# ... and --resume continues from it
if "$CR" train --resume ck.safetensors --epochs 3 --out ck3.safetensors >/dev/null 2>err &&
   [ "$(meta ck3.safetensors train.epoch)" = 3 ]; then ok; else bad "--resume after the fault: $(head -2 err)"; fi

# 3. extreme but finite data: finite results or the clear message, never a NaN model
awk 'BEGIN { for (i = 0; i < 30; i++) printf "%d,1e-40,-1e-42,1e-39,0\n", i % 3 }' >denorm.csv
for data in max.csv denorm.csv huge.csv; do
  for act in sigmoid tanh relu; do
    rm -f x.safetensors
    "$CR" train --data $data --layers 4,8,3 --activation $act --epochs 2 --batch 8 --out x.safetensors --quiet >out 2>err
    rc=$?
    if [ $rc -eq 0 ]; then
      if "$CR" eval --model x.safetensors --data good.csv --json >out 2>err && ! grep -qi 'nan\|inf' out; then ok
      else bad "$data/$act: trained model gives non-finite results: $(head -2 out err)"; fi
    elif [ $rc -eq 1 ] && [ "$(wc -l <err)" = 1 ] && grep -q "NaN or inf" err && [ ! -e x.safetensors ]; then ok
    else bad "$data/$act: exit $rc: $(head -2 err)"; fi
  done
done

# 4. a model whose weights are finite but huge: eval/predict stay finite or fail clearly
/usr/bin/python3 - <<'PY' && ok || bad "writing the huge-weight model"
import json, struct, numpy as np
t = [("fc1.weight", np.full((3, 4), 1e38, "<f4")), ("fc1.bias", np.zeros(3, "<f4")),
     ("fc2.weight", np.full((3, 3), -1e38, "<f4")), ("fc2.bias", np.full(3, 3e38, "<f4"))]
h, data, off = {"__metadata__": {"format": "chainrule/1", "activations": "relu,softmax"}}, b"", 0
for n, a in t:
    h[n] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + a.nbytes]}
    data += a.tobytes(); off += a.nbytes
j = json.dumps(h).encode(); j += b" " * (-len(j) % 8)
open("hugew.safetensors", "wb").write(struct.pack("<Q", len(j)) + j + data)
np.save("x.npy", np.ones((2, 4), "<f4")); np.save("y.npy", np.array([0, 1]))
PY
for cmd in "predict --model hugew.safetensors --inputs x.npy --out p.npy" \
           "grad --model hugew.safetensors --inputs x.npy --labels y.npy --out p.npy"; do
  rm -f p.npy
  # shellcheck disable=SC2086
  "$CR" $cmd >out 2>err
  rc=$?
  if [ $rc -eq 0 ] && /usr/bin/python3 -c 'import numpy as np, sys; sys.exit(0 if np.isfinite(np.load("p.npy")).all() else 1)'; then ok
  elif [ $rc -ne 0 ] && [ "$(wc -l <err)" = 1 ] && [ ! -e p.npy ]; then ok
  else bad "$cmd: exit $rc, non-finite output or unclear error: $(head -2 err)"; fi
done

echo "cli_numfault: $pass passed, $fail failed"
[ "$fail" = 0 ]
