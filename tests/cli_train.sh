#!/usr/bin/env bash
# End-to-end tests of train / eval / predict: a short Fashion-MNIST run,
# resume == uninterrupted (byte-identical model files), same seed -> same
# model, eval/predict on the saved model, CSV training, and bad usage.
# usage: tests/cli_train.sh path/to/chainrule
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1

expect 0 "train --help" -- "$CR" train --help
grep -q -- "--resume" "$T/out" && ok || bad "train --help mentions --resume"
expect 0 "help lists train" -- "$CR" help
grep -q "train" "$T/out" && grep -q "predict" "$T/out" && ok || bad "help lists train/eval/predict"
expect 2 "train without --data" -- "$CR" train --out "$T/x.safetensors"
one_line_error "--data" "train without --data"
expect 2 "bad optimizer" -- "$CR" train --data fashion-mnist --optimizer rmsprop --out "$T/x.safetensors"
one_line_error "rmsprop" "bad optimizer"
[ ! -e "$T/x.safetensors" ] && ok || bad "no model after bad usage"

# ---------------------------------------------------------------- CSV (always available)
awk 'BEGIN { srand(3); print "label,a,b,c,d";
  for (i = 0; i < 300; i++) { c = i % 3; printf "%d,%.4f,%.4f,%.4f,%.4f\n", c,
      c + rand() * 0.8, 2 - c + rand() * 0.8, rand(), c * 0.5 + rand() * 0.3 } }' >"$T/train.csv"
expect 0 "train on CSV" -- "$CR" train --data "$T/train.csv" --label-column 0 --layers 4,16,3 \
  --epochs 30 --batch 16 --optimizer momentum --lr 0.1 --standardize --val 0.2 --out "$T/csv.safetensors" --json
grep -q '"val_acc"' "$T/out" && ok || bad "train --json has val_acc"
acc=$(sed 's/.*"val_acc": \([0-9.]*\).*/\1/' "$T/out")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }' && ok || bad "CSV val accuracy $acc < 0.9"
expect 0 "eval on CSV" -- "$CR" eval --model "$T/csv.safetensors" --data "$T/train.csv" --json
acc=$(sed 's/.*"accuracy": \([0-9.]*\).*/\1/' "$T/out")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }' && ok || bad "CSV eval accuracy $acc < 0.9"
expect 2 "eval: wrong width" -- "$CR" eval --model "$T/csv.safetensors" --data "$T/train.csv" --label-column 1 --limit 5 --classes 99
printf 'label,a\n0,zz\n' >"$T/bad.csv"
expect 2 "train on malformed CSV" -- "$CR" train --data "$T/bad.csv" --out "$T/bad.safetensors"
one_line_error "bad.csv" "malformed CSV error names the file"

# ---------------------------------------------------------------- issue 9 item 6 regressions (CSV, always available)
# train without a test set: the last line says what was written, without a stray "0.0000"
expect 0 "train without a test set" -- "$CR" train --data "$T/train.csv" --layers 4,8,3 --epochs 2 --batch 32 --out "$T/r.safetensors"
last=$(tail -1 "$T/out")
case $last in
  "wrote $T/r.safetensors after epoch 2/2 ("*"s training)") ok ;;
  *) bad "train without a test set ends with '$last'" ;;
esac
grep -q "training0\|0\.0000)" "$T/out" && bad "train without a test set prints a test accuracy" || ok
# --resume without --out continues in the resumed file, and never writes ./model.safetensors
mkdir "$T/cwd"
cp "$T/r.safetensors" "$T/cwd/model.safetensors" # an unrelated file of that name
cp "$T/r.safetensors" "$T/A.safetensors"
expect 0 "train --resume A --epochs 4" -- bash -c "cd '$T/cwd' && '$(realpath "$CR")' train --resume '$T/A.safetensors' --epochs 4"
cmp -s "$T/r.safetensors" "$T/cwd/model.safetensors" && ok || bad "train --resume A overwrote ./model.safetensors"
[ "$(ls "$T/cwd")" = model.safetensors ] && ok || bad "train --resume A wrote into the working folder: $(ls "$T/cwd")"
cmp -s "$T/r.safetensors" "$T/A.safetensors" && bad "train --resume A left A as it was" || ok
expect 0 "train --resume A (done)" -- "$CR" train --resume "$T/A.safetensors" --epochs 4
grep -q "nothing to do: .*A.safetensors has completed 4 of 4 epochs" "$T/out" && ok || bad "A holds the continued run (4 epochs): $(cat "$T/out")"
# the same continuation into --out B leaves A untouched and gives the same bytes
cp "$T/r.safetensors" "$T/A2.safetensors"
expect 0 "train --resume A2 --out B" -- "$CR" train --resume "$T/A2.safetensors" --epochs 4 --out "$T/B.safetensors"
cmp -s "$T/r.safetensors" "$T/A2.safetensors" && ok || bad "train --resume A2 --out B changed A2"
cmp -s "$T/A.safetensors" "$T/B.safetensors" && ok || bad "resume into B differs from resume into A"
# CSV --header auto: a first data row with an empty field or a typo is an error naming line and column
{ echo "2,0.5,,0.25,0.1"; tail -n +2 "$T/train.csv"; } >"$T/gap.csv"
expect 2 "CSV first row with an empty field" -- "$CR" train --data "$T/gap.csv" --epochs 1 --out "$T/gap.safetensors"
one_line_error "gap.csv:1: column 3: empty field" "CSV first row with an empty field"
[ ! -e "$T/gap.safetensors" ] && ok || bad "CSV first row with an empty field: a model was written"
{ echo "2,0.5,0.x,0.25,0.1"; tail -n +2 "$T/train.csv"; } >"$T/typo.csv"
expect 2 "CSV first row with a typo" -- "$CR" eval --model "$T/r.safetensors" --data "$T/typo.csv"
one_line_error "typo.csv:1: column 3: '0.x' is not a number" "CSV first row with a typo"
expect 0 "CSV with a header" -- "$CR" eval --model "$T/r.safetensors" --data "$T/train.csv" --json
grep -q '"n": 300' "$T/out" && ok || bad "CSV header detected: 300 examples"

# ---------------------------------------------------------------- Fashion-MNIST
if ! "$CR" eval --model "$T/csv.safetensors" --data fashion-mnist:test --limit 1 >/dev/null 2>"$T/err" &&
   grep -q "No such file\|cannot open\|not found" "$T/err"; then
  echo "fashion-mnist not installed: skipping its part"
else
  common=(--data fashion-mnist --limit 3000 --test none --epochs 3 --batch 32 --optimizer adam
          --lr 0.002 --schedule cosine --seed 5)
  expect 0 "train uninterrupted" -- "$CR" train "${common[@]}" --out "$T/full.safetensors" --log "$T/log.jsonl"
  [ "$(wc -l <"$T/log.jsonl")" = 3 ] && grep -q '"train_loss"' "$T/log.jsonl" && ok || bad "log has 3 JSON lines"
  expect 0 "same seed again" -- "$CR" train "${common[@]}" --out "$T/again.safetensors"
  cmp -s "$T/full.safetensors" "$T/again.safetensors" && ok || bad "same seed gives a different model"
  expect 0 "train interrupted after 1 epoch" -- "$CR" train "${common[@]}" --out "$T/part.safetensors" --stop-after 1
  expect 0 "resume" -- "$CR" train --resume "$T/part.safetensors" --out "$T/resumed.safetensors" --stop-after 1
  expect 0 "resume again" -- "$CR" train --resume "$T/resumed.safetensors" --out "$T/resumed.safetensors"
  cmp -s "$T/full.safetensors" "$T/resumed.safetensors" && ok || bad "resumed model differs from the uninterrupted one"
  # two training workers (--threads 2): deterministic and resumable too
  expect 0 "train, 2 workers" -- "$CR" train "${common[@]}" --threads 2 --out "$T/full2.safetensors"
  expect 0 "same seed again, 2 workers" -- "$CR" train "${common[@]}" --threads 2 --out "$T/again2.safetensors"
  cmp -s "$T/full2.safetensors" "$T/again2.safetensors" && ok || bad "2 workers: same seed gives a different model"
  expect 0 "interrupted, 2 workers" -- "$CR" train "${common[@]}" --threads 2 --out "$T/part2.safetensors" --stop-after 2
  expect 0 "resume, 2 workers" -- "$CR" train --resume "$T/part2.safetensors" --threads 2 --out "$T/resumed2.safetensors"
  cmp -s "$T/full2.safetensors" "$T/resumed2.safetensors" && ok || bad "2 workers: resumed model differs from the uninterrupted one"
  expect 2 "resume with a hyperparameter" -- "$CR" train --resume "$T/part.safetensors" --lr 0.5
  "$CR" init --layers 4,16,3 --out "$T/plain.safetensors" >/dev/null
  expect 2 "resume from a non-checkpoint" -- "$CR" train --resume "$T/plain.safetensors" --epochs 50 --data "$T/train.csv" --out "$T/y.safetensors"
  grep -q "train.epoch" "$T/err" && ok || bad "resume error names the missing metadata"

  # eval and predict on the saved model
  expect 0 "eval" -- "$CR" eval --model "$T/full.safetensors" --data fashion-mnist:test --limit 2000
  grep -q "accuracy" "$T/out" && grep -q "confusion" "$T/out" && ok || bad "eval prints accuracy and confusion matrix"
  expect 0 "eval --json" -- "$CR" eval --model "$T/full.safetensors" --data fashion-mnist:test --limit 2000 --json
  acc=$(sed 's/.*"accuracy": \([0-9.]*\).*/\1/' "$T/out")
  awk -v a="$acc" 'BEGIN { exit !(a >= 0.75) }' && ok || bad "Fashion-MNIST accuracy $acc < 0.75 after 282 steps"
  expect 0 "predict --data --top" -- "$CR" predict --model "$T/full.safetensors" --data fashion-mnist:test --limit 5 --top 2 --names fashion-mnist --out "$T/p.npy"
  [ "$(wc -l <"$T/out")" = 5 ] && ok || bad "predict --top prints one line per example"
  [ -s "$T/p.npy" ] && ok || bad "predict wrote probabilities"
  expect 2 "predict: nothing to do" -- "$CR" predict --model "$T/full.safetensors" --data fashion-mnist:test
fi

echo "cli_train: $pass passed, $fail failed"
[ "$fail" = 0 ]
