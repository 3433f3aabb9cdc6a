#!/usr/bin/env bash
# End-to-end tests of the core commands: help, explain, init, grad, gradcheck,
# and the command line's handling of bad input (one line on stderr naming the
# file, exit 2, no output file).
# usage: tests/cli_core.sh path/to/chainrule
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1

# ---------------------------------------------------------------- help and usage
expect 0 "help" -- "$CR" help
grep -q "explain" "$T/out" && grep -q "gradcheck" "$T/out" && ok || bad "help lists commands"
expect 2 "no command" -- "$CR"
expect 2 "unknown command" -- "$CR" frobnicate
one_line_error "unknown command 'frobnicate'" "unknown command"
for cmd in explain init grad gradcheck; do
  expect 0 "$cmd --help" -- "$CR" "$cmd" --help
  grep -q "usage: chainrule $cmd" "$T/out" && ok || bad "$cmd --help prints usage"
done
grep -q "dJ_n/dx_n" <("$CR" grad --help) && ok || bad "grad --help says per-example gradient"
# explain derives one example: its --help offers --index I, not the shared "A:B ... default all"
grep -qE '^  --index I +the example explained \(0-based; default 0\)$' <("$CR" explain --help) && ok ||
  bad "explain --help: --index is one example (I), default 0"
grep -q "default all" <("$CR" explain --help) && bad "explain --help says 'default all' of its one example" || ok
expect 2 "unknown option" -- "$CR" explain --bogus
one_line_error "unknown option '--bogus'" "unknown option"
expect 2 "bad layers" -- "$CR" explain --layers 4,x,3
one_line_error "--layers" "bad layers"
expect 2 "one class" -- "$CR" explain --layers 4,3,1
expect 2 "missing value" -- "$CR" init --layers
one_line_error "needs a value" "missing value"

# ---------------------------------------------------------------- explain
expect 0 "explain default" -- "$CR" explain
for s in "((ŷ − y) W2ᵀ ∘ h∘(1−h)) W1ᵀ" "DIAGONAL" "diag(ŷ) − ŷᵀŷ" "= ŷ − y" "∇_x J" "central finite differences"; do
  grep -qF -- "$s" "$T/out" && ok || bad "explain text lacks '$s'"
done
[ "$(grep -c PASS "$T/out")" -ge 4 ] && ok || bad "explain shows four PASS checks"
# the default network has distinct widths (4-5-3), ∂r/∂x = W1ᵀ is derived from the index algebra,
# and every symbol is defined before it is used
for s in "Network 4-5-3" "(1×3)     (3×3)     (3×5)     (5×5)     (5×4)" \
         "Why ∂r/∂x = W1ᵀ: entry by entry, r_j = Σ_i x_i W1[i,j] + b1_j, so ∂r_j/∂x_i = W1[i,j]" \
         "σ(r)      = 1/(1 + e^−r)" "a ∘ b     element-wise product" "a ⊘ b     element-wise division" \
         "diag(d)   the square matrix" "∂a/∂b     the Jacobian"; do
  grep -qF -- "$s" "$T/out" && ok || bad "explain text lacks '$s'"
done
[ "$(grep -n "Symbols:" "$T/out" | cut -d: -f1)" -lt "$(grep -n "^1. Forward pass" "$T/out" | cut -d: -f1)" ] && ok || bad "symbols before the forward pass"
expect 0 "explain gelu" -- "$CR" explain --layers 3,4,2 --activation gelu
for s in "gelu(r)   = r Φ(r)" "Φ(r)      = ½(1 + erf(r/√2))" "φ(r)      = Φ′(r) = e^(−r²/2)/√(2π)" "erf(u)"; do
  grep -qF -- "$s" "$T/out" && ok || bad "explain gelu lacks '$s'"
done
for spec in "1,1,2" "4,3,2" "3,7,5" "10,6,4" "5,4,3,2" "2,3,3,3,2"; do
  for act in sigmoid tanh relu; do
    for seed in 1 7; do
      expect 0 "explain --layers $spec --activation $act --seed $seed" -- "$CR" explain --layers "$spec" --activation "$act" --seed "$seed"
    done
  done
done
expect 0 "explain markdown" -- "$CR" explain --layers 4,3,2 --seed 7 --format markdown
grep -q '^\$\$' "$T/out" && grep -qF '\frac{\partial J}{\partial x}' "$T/out" && grep -qF '\circ' "$T/out" && ok || bad "markdown has LaTeX display math"
expect 0 "explain json" -- "$CR" explain --json --layers 6,4,3
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["pass"] and len(d["dJdx_vjp_chain"])==6' "$T/out" 2>/dev/null && ok || bad "explain --json is valid JSON with the gradient"
expect 0 "explain 784,128,10 prints big matrices by formula" -- "$CR" explain --layers 784,128,10
grep -q "not printed" "$T/out" && ok || bad "large matrices described, not printed"

# ---------------------------------------------------------------- init, grad, gradcheck
expect 0 "init f64" -- "$CR" init --layers 6,5,3 --dtype float64 --seed 2 --out "$T/m64.safetensors"
expect 0 "init f32" -- "$CR" init --layers 6,5,3 --activation tanh --seed 2 --out "$T/m32.safetensors"
/usr/bin/python3 - "$T" <<'PY' && ok || bad "writing test arrays"
import sys, numpy as np
t = sys.argv[1]
rng = np.random.default_rng(1)
np.save(f"{t}/X.npy", rng.uniform(-1, 1, (5, 6)))
np.save(f"{t}/y.npy", np.array([0, 2, 1, 1, 0], dtype=np.int64))
np.save(f"{t}/y_onehot.npy", np.eye(3)[[0, 2, 1, 1, 0]])
np.save(f"{t}/y_bad.npy", np.array([0, 3, 1, 1, 0], dtype=np.int64))
np.save(f"{t}/X_wrong.npy", rng.uniform(-1, 1, (5, 7)))
x = rng.uniform(-1, 1, (5, 6)); x[2, 3] = np.nan
np.save(f"{t}/X_nan.npy", x)
PY
expect 0 "grad input" -- "$CR" grad --model "$T/m64.safetensors" --inputs "$T/X.npy" --labels "$T/y.npy" --out "$T/dx.npy"
expect 0 "grad one-hot labels" -- "$CR" grad --model "$T/m64.safetensors" --inputs "$T/X.npy" --labels "$T/y_onehot.npy" --out "$T/dx2.npy"
cmp -s "$T/dx.npy" "$T/dx2.npy" && ok || bad "indices and one-hot labels give the same gradient"
expect 0 "grad params" -- "$CR" grad --model "$T/m32.safetensors" --inputs "$T/X.npy" --labels "$T/y.npy" --wrt params --out "$T/g.safetensors"
expect 0 "gradcheck on model f64" -- "$CR" gradcheck --model "$T/m64.safetensors" --inputs "$T/X.npy" --labels "$T/y.npy"
expect 0 "gradcheck on model f32" -- "$CR" gradcheck --model "$T/m32.safetensors"
grep -q "float32" "$T/out" && grep -q "the rounding of float32" "$T/out" && ok || bad "gradcheck states the float32 tolerance"
expect 0 "gradcheck random" -- "$CR" gradcheck --layers 7,5,4,3 --activation relu --n 3
expect 0 "gradcheck json" -- "$CR" gradcheck --json
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["pass"] and d["failures"]==0' "$T/out" 2>/dev/null && ok || bad "gradcheck --json"
# a wrong VJP in one op is reported as that op, and the check fails
expect 1 "gradcheck detects a faulty sigmoid VJP" -- "$CR" gradcheck --inject-fault 2:vjp
grep -qF "layer 2 (sigmoid): VJP disagrees with finite differences" "$T/err" && ok || bad "fault localised to layer 2 (sigmoid)"
expect 1 "gradcheck detects a faulty linear Jacobian" -- "$CR" gradcheck --inject-fault 3:jacobian
grep -qF "layer 3 (linear): Jacobian (3x4) disagrees with finite differences" "$T/err" && ok || bad "fault localised to layer 3 (linear)"

# ---------------------------------------------------------------- bad input: exit 2, one line, nothing written
printf 'not a model' >"$T/garbage.safetensors"
expect 2 "garbage model" -- "$CR" grad --model "$T/garbage.safetensors" --inputs "$T/X.npy" --labels "$T/y.npy" --out "$T/o1.npy"
one_line_error "$T/garbage.safetensors" "garbage model names the file"; no_file "$T/o1.npy" "garbage model"
head -c 100 "$T/m64.safetensors" >"$T/trunc.safetensors"
expect 2 "truncated model" -- "$CR" grad --model "$T/trunc.safetensors" --inputs "$T/X.npy" --labels "$T/y.npy" --out "$T/o2.npy"
one_line_error "$T/trunc.safetensors" "truncated model"; no_file "$T/o2.npy" "truncated model"
expect 2 "missing model" -- "$CR" gradcheck --model "$T/nope.safetensors"
one_line_error "$T/nope.safetensors" "missing model"
expect 2 "directory as model" -- "$CR" gradcheck --model "$T"
one_line_error "$T" "directory as model"
expect 2 "wrong input width" -- "$CR" grad --model "$T/m64.safetensors" --inputs "$T/X_wrong.npy" --labels "$T/y.npy" --out "$T/o3.npy"
one_line_error "X_wrong.npy" "wrong input width"; no_file "$T/o3.npy" "wrong input width"
expect 2 "label out of range" -- "$CR" grad --model "$T/m64.safetensors" --inputs "$T/X.npy" --labels "$T/y_bad.npy" --out "$T/o4.npy"
one_line_error "y_bad.npy" "label out of range"; no_file "$T/o4.npy" "label out of range"
expect 2 "NaN input" -- "$CR" grad --model "$T/m64.safetensors" --inputs "$T/X_nan.npy" --labels "$T/y.npy" --out "$T/o5.npy"
one_line_error "X_nan.npy" "NaN input"; no_file "$T/o5.npy" "NaN input"
expect 2 "label count mismatch" -- "$CR" grad --model "$T/m64.safetensors" --inputs "$T/X_wrong.npy" --labels "$T/y.npy" --out "$T/o6.npy"
expect 2 "unwritable output" -- "$CR" grad --model "$T/m64.safetensors" --inputs "$T/X.npy" --labels "$T/y.npy" --out "$T/no/such/dir/dx.npy"
one_line_error "$T/no/such/dir" "unwritable output"
# an existing output survives a failed run
cp "$T/dx.npy" "$T/keep.npy"
expect 2 "failed run keeps old output" -- "$CR" grad --model "$T/garbage.safetensors" --inputs "$T/X.npy" --labels "$T/y.npy" --out "$T/keep.npy"
cmp -s "$T/dx.npy" "$T/keep.npy" && ok || bad "previous output intact"

echo "cli_core: $pass passed, $fail failed"
[ "$fail" = 0 ]
