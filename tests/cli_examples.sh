#!/usr/bin/env bash
# One way of choosing examples on every command that takes them (--inputs X.npy
# [--labels y.npy] or --data SPEC, then --index A:B or --limit N), and the
# command-line defects of issue 9 item 6 that go with it:
#   - grad takes --data; the same examples by --data and by --inputs give the
#     same bytes;
#   - an out-of-range --index / --limit / --top is exit 2 with one line, never
#     clamped, and nothing is written;
#   - grad --wrt params refuses an output named .npy (and --wrt input one named
#     .safetensors) before computing anything;
#   - attribute / attack --png on non-image inputs are refused before anything
#     is written (no .npy left behind);
#   - attack --method pgd --json is valid JSON (predicted_dloss is null).
# usage: tests/cli_examples.sh path/to/chainrule
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1

"$CR" init --layers 6,5,3 --seed 3 --out "$T/m.safetensors" >/dev/null || bad "init"
"$CR" init --layers 784,8,10 --seed 3 --out "$T/img.safetensors" >/dev/null || bad "init images"
/usr/bin/python3 - "$T" <<'PY' && ok || bad "writing test arrays"
import sys, numpy as np
t = sys.argv[1]
rng = np.random.default_rng(2)
x = rng.uniform(-1, 1, (7, 6)).astype(np.float32)
y = np.array([0, 2, 1, 1, 0, 2, 1], dtype=np.int64)
np.save(f"{t}/X.npy", x)
np.save(f"{t}/y.npy", y)
with open(f"{t}/d.csv", "w") as f:
    for i in range(7):
        f.write(",".join([str(y[i])] + [repr(float(v)) for v in x[i]]) + "\n")
np.save(f"{t}/img.npy", rng.integers(0, 256, (4, 28, 28), dtype=np.uint8))
np.save(f"{t}/imgy.npy", np.array([1, 2, 3, 4], dtype=np.int64))
PY
M=$T/m.safetensors

# ---------------------------------------------------------------- grad --data
expect 0 "grad --inputs --labels" -- "$CR" grad --model "$M" --inputs "$T/X.npy" --labels "$T/y.npy" --out "$T/g1.npy"
expect 0 "grad --data X,y" -- "$CR" grad --model "$M" --data "$T/X.npy,$T/y.npy" --out "$T/g2.npy"
cmp -s "$T/g1.npy" "$T/g2.npy" && ok || bad "grad: --data X.npy,y.npy and --inputs/--labels give different bytes"
expect 0 "grad --data CSV" -- "$CR" grad --model "$M" --data "$T/d.csv" --header no --out "$T/g3.npy"
cmp -s "$T/g1.npy" "$T/g3.npy" && ok || bad "grad: --data CSV and --inputs give different bytes"
expect 0 "grad --index 2:5" -- "$CR" grad --model "$M" --data "$T/d.csv" --index 2:5 --out "$T/g4.npy"
/usr/bin/python3 -c 'import sys, numpy as np; a=np.load(sys.argv[1]); b=np.load(sys.argv[2]); assert b.shape == (3, 6) and np.allclose(a[2:5], b, rtol=1e-5, atol=1e-7) and abs(b).max() > 1e-3' "$T/g1.npy" "$T/g4.npy" && ok || bad "grad --index 2:5 is rows 2..4 of the whole (to float rounding: the rows of a gemm round by their position)"
expect 0 "grad --limit 3" -- "$CR" grad --model "$M" --inputs "$T/X.npy" --labels "$T/y.npy" --limit 3 --out "$T/g5.npy"
expect 0 "grad --index :3" -- "$CR" grad --model "$M" --inputs "$T/X.npy" --labels "$T/y.npy" --index :3 --out "$T/g6.npy"
cmp -s "$T/g5.npy" "$T/g6.npy" && ok || bad "--limit 3 is --index :3"
# the message names the shape of the file written, the inputs' shape ([N, 784] was printed for [N, 28, 28])
expect 0 "grad on [N, 28, 28] inputs" -- "$CR" grad --model "$T/img.safetensors" --inputs "$T/img.npy" --labels "$T/imgy.npy" --out "$T/gi.npy"
grep -qF "wrote $T/gi.npy: dJ_n/dx_n, shape [4, 28, 28] float32" "$T/out" && ok || bad "grad: the message does not name the file's shape [4, 28, 28]: $(cat "$T/out")"
/usr/bin/python3 -c 'import sys, numpy as np; assert np.load(sys.argv[1]).shape == (4, 28, 28)' "$T/gi.npy" && ok || bad "grad: the file is not [4, 28, 28]"
expect 2 "grad without labels" -- "$CR" grad --model "$M" --inputs "$T/X.npy" --out "$T/g7.npy"
one_line_error "needs labels" "grad without labels"; no_file "$T/g7.npy" "grad without labels"
expect 2 "--labels with --data" -- "$CR" grad --model "$M" --data "$T/d.csv" --labels "$T/y.npy" --out "$T/g8.npy"
one_line_error "--labels goes with --inputs" "--labels with --data"
expect 2 "--index and --limit" -- "$CR" grad --model "$M" --data "$T/d.csv" --index 1 --limit 2 --out "$T/g8.npy"
one_line_error "not both" "--index and --limit"

# a mistyped dataset name says what --data takes
expect 2 "train --data fashion" -- "$CR" train --data fashion --epochs 1 --out "$T/typo.safetensors"
one_line_error "fashion: No such file or directory (a dataset is fashion-mnist[:train|:test], a folder of IDX files, FILE.csv or X.npy,y.npy)" "train --data fashion"
no_file "$T/typo.safetensors" "train --data fashion"

# ---------------------------------------------------------------- out of range: exit 2 on every command
for sel in "--index 7" "--index 3:8" "--index 9:" "--limit 8"; do
  # shellcheck disable=SC2086
  expect 2 "grad $sel" -- "$CR" grad --model "$M" --inputs "$T/X.npy" --labels "$T/y.npy" $sel --out "$T/r.npy"
  one_line_error "is out of range: $T/X.npy has 7 examples (0..6)" "grad $sel"; no_file "$T/r.npy" "grad $sel"
  # shellcheck disable=SC2086
  expect 2 "grad --data $sel" -- "$CR" grad --model "$M" --data "$T/d.csv" $sel --out "$T/r.npy"
  one_line_error "is out of range: $T/d.csv has 7 examples" "grad --data $sel"; no_file "$T/r.npy" "grad --data $sel"
done
range_case() { # NAME ARGS...: exit 2, the out-of-range line, no output
  local name=$1; shift
  expect 2 "$name --index 7" -- "$CR" "$name" --model "$M" --inputs "$T/X.npy" --index 7 "$@"
  one_line_error "--index 7 is out of range" "$name --index 7"; no_file "$T/r.npy" "$name --index 7"
}
range_case jacobian --out "$T/r.npy"
range_case jvp --tangent "$T/X.npy" --out "$T/r.npy"
range_case attribute --method saliency --out "$T/r.npy"
range_case attack --method fgsm --eps 0.1 --out "$T/r.npy"
range_case predict --out "$T/r.npy"
expect 2 "eval --index 7" -- "$CR" eval --model "$M" --data "$T/d.csv" --index 7
one_line_error "--index 7 is out of range" "eval --index 7"
expect 2 "eval --limit 100" -- "$CR" eval --model "$M" --data "$T/d.csv" --limit 100
one_line_error "--limit 100 is out of range" "eval --limit 100"
expect 2 "bad --index" -- "$CR" jacobian --model "$M" --inputs "$T/X.npy" --index 1:x --out "$T/r.npy"
one_line_error "is not A:B" "bad --index"
expect 2 "empty --index" -- "$CR" jacobian --model "$M" --inputs "$T/X.npy" --index 4:2 --out "$T/r.npy"
one_line_error "selects no example" "empty --index"
expect 2 "predict --top 4 of 3 classes" -- "$CR" predict --model "$M" --inputs "$T/X.npy" --top 4
one_line_error "--top 4 is out of range" "predict --top beyond K"
expect 0 "predict --top 3" -- "$CR" predict --model "$M" --inputs "$T/X.npy" --index 5: --top 3
[ "$(wc -l <"$T/out")" = 2 ] && grep -q '^5:' "$T/out" && grep -q '^6:' "$T/out" && ok || bad "predict --index 5: --top prints examples 5 and 6 by their index"
expect 0 "eval --inputs --labels" -- "$CR" eval --model "$M" --inputs "$T/X.npy" --labels "$T/y.npy" --json
grep -q '"n": 7' "$T/out" && ok || bad "eval takes --inputs/--labels"
expect 0 "eval --data --index" -- "$CR" eval --model "$M" --data "$T/d.csv" --index 1:4 --json
grep -q '"n": 3' "$T/out" && ok || bad "eval --index 1:4 evaluates 3 examples"

# ---------------------------------------------------------------- grad output names
expect 2 "grad --wrt params --out .npy" -- "$CR" grad --model "$M" --data "$T/d.csv" --wrt params --out "$T/p.npy"
one_line_error "name the output NAME.safetensors" "grad --wrt params --out .npy"; no_file "$T/p.npy" "grad --wrt params --out .npy"
expect 2 "grad --wrt input --out .safetensors" -- "$CR" grad --model "$M" --data "$T/d.csv" --out "$T/p.safetensors"
one_line_error "name the output NAME.npy" "grad --wrt input --out .safetensors"; no_file "$T/p.safetensors" "grad --out .safetensors"
expect 0 "grad --wrt params --out .safetensors" -- "$CR" grad --model "$M" --data "$T/d.csv" --wrt params --out "$T/p.safetensors"

# ---------------------------------------------------------------- --png needs images: refused before writing
expect 2 "attribute --png on 6 features" -- "$CR" attribute --model "$M" --inputs "$T/X.npy" --method saliency --out "$T/a.npy" --png "$T/a.png"
one_line_error "a picture needs image inputs" "attribute --png on non-images"
no_file "$T/a.npy" "attribute --png on non-images"; no_file "$T/a.png" "attribute --png on non-images"
expect 2 "attack --png on 6 features" -- "$CR" attack --model "$M" --inputs "$T/X.npy" --method fgsm --eps 0.1 --out "$T/adv.npy" --png "$T/adv.png"
one_line_error "a picture needs image inputs" "attack --png on non-images"
no_file "$T/adv.npy" "attack --png on non-images"; no_file "$T/adv.png" "attack --png on non-images"
expect 0 "attribute --png on images" -- "$CR" attribute --model "$T/img.safetensors" --inputs "$T/img.npy" --labels "$T/imgy.npy" --method saliency --index 1:3 --out "$T/a.npy" --png "$T/a.png"
[ -s "$T/a.png" ] && [ -s "$T/a.npy" ] && ok || bad "attribute --png on images writes both"

# ---------------------------------------------------------------- attack --json is JSON
for method in fgsm pgd; do
  expect 0 "attack $method --json" -- "$CR" attack --model "$T/img.safetensors" --inputs "$T/img.npy" --labels "$T/imgy.npy" --method "$method" --eps 0,0.05 --steps 3 --json
  /usr/bin/python3 -c '
import json, sys
d = json.loads(open(sys.argv[1]).read(), parse_constant=lambda c: sys.exit("non-JSON constant " + c))
p = [r["predicted_dloss"] for r in d["results"]]
assert len(p) == 2
if sys.argv[2] == "pgd": assert p == [None, None], p
else: assert all(isinstance(v, float) for v in p), p
' "$T/out" "$method" && ok || bad "attack $method --json is not valid JSON with predicted_dloss as documented: $(head -c 300 "$T/out")"
done

# ---------------------------------------------------------------- options come from one table per command
expect 2 "attack --steps 0" -- "$CR" attack --model "$T/img.safetensors" --inputs "$T/img.npy" --method pgd --eps 0.1 --steps 0
one_line_error "attack: --steps: '0' is not an integer in [1, 1000000]" "a number out of its range"
expect 0 "attack --steps=2 --eps=0.1" -- "$CR" attack --model "$T/img.safetensors" --inputs "$T/img.npy" --method=pgd --eps=0.1 --steps=2
expect 2 "a flag with a value" -- "$CR" attack --model "$T/img.safetensors" --inputs "$T/img.npy" --method pgd --eps 0.1 --json=1
one_line_error "unknown option '--json=1'" "a flag with a value"
expect 2 "attack without --eps" -- "$CR" attack --model "$T/img.safetensors" --inputs "$T/img.npy" --method pgd
one_line_error "attack: --eps is required" "a required option"
expect 2 "jacobian --out needs a value" -- "$CR" jacobian --model "$M" --inputs "$T/X.npy" --out
one_line_error "option --out needs a value" "a missing value"
for cmd in grad jacobian jvp attribute attack predict eval init train; do
  expect 0 "$cmd --help" -- "$CR" "$cmd" --help
  grep -q "usage: chainrule $cmd" "$T/out" && ok || bad "$cmd --help prints usage"
  case $cmd in init|train) ;; *)
    for o in --inputs --labels --data --index --limit; do
      grep -q -- "^  $o " "$T/out" && ok || bad "$cmd --help lacks $o"
    done ;;
  esac
done

echo "cli_examples: $pass passed, $fail failed"
[ "$fail" = 0 ]
