#!/usr/bin/env bash
# Writes that lose nothing: `chainrule train` rewrites its checkpoint after
# every epoch (temporary file in the same folder, fsync, rename). This test
# SIGKILLs training runs (fresh and --resume'd, writing over the very file they
# resumed from) at random moments, many times (CR_KILL_ITERATIONS, default 60),
# and after every kill checks that
#   - the checkpoint on disk is a complete, loadable model (`chainrule eval`
#     loads it with the strict reader: sizes must tile the file exactly),
#   - its epoch counter never goes backwards,
#   - `--resume` continues from it: one more epoch gives train.epoch + 1.
# Epochs on a 64-row CSV take well under a millisecond, so most of a run's
# time is spent writing checkpoints and the kills land inside writes; the
# temporary files such kills leave behind are counted (they are garbage by
# design: the target is only ever replaced by rename).
# usage: tests/cli_killtrain.sh path/to/chainrule
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1
N=${CR_KILL_ITERATIONS:-60}
if ! "$CR" train --help >/dev/null 2>&1; then
  echo "SKIP: this chainrule has no train command"; exit 0
fi
cd "$T" || exit 1

awk 'BEGIN { srand(5); for (i = 0; i < 64; i++) { c = i % 3;
  printf "%d,%.4f,%.4f,%.4f,%.4f\n", c, c + rand(), 2 - c + rand(), rand(), c * 0.5 + rand() } }' >tiny.csv
RANDOM=42
ck=ck.safetensors
last_epoch=0 kills=0 in_write=0 resumed=0 before_first=0
# emulated (CR_EMULATOR, tests/CMakeLists.txt) the program runs 10-50x slower:
# kills 20x later, or they all land before the first checkpoint
slow=1
[ -n "${CR_EMULATOR:-}" ] && slow=20
for i in $(seq 1 "$N"); do
  if [ -e $ck ]; then
    "$CR" train --resume $ck --out $ck --epochs 1000000 --quiet >/dev/null 2>train.err &
  else
    "$CR" train --data tiny.csv --layers 4,64,3 --batch 16 --epochs 1000000 --out $ck --quiet >/dev/null 2>train.err &
  fi
  pid=$!
  ms=$(((RANDOM % 200 + 5) * slow))
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  kill -KILL $pid 2>/dev/null
  wait $pid 2>/dev/null
  rc=$?
  if [ $rc -ne 137 ]; then bad "iteration $i: the run ended by itself (exit $rc) before the kill: $(head -2 train.err)"; continue; fi
  kills=$((kills + 1))
  if compgen -G "$ck.tmp.*" >/dev/null; then in_write=$((in_write + 1)); rm -f "$ck".tmp.*; fi
  if [ ! -e $ck ]; then before_first=$((before_first + 1)); continue; fi
  # complete and loadable
  if "$CR" eval --model $ck --data tiny.csv >eval.out 2>eval.err; then ok; else
    bad "iteration $i: checkpoint not loadable after SIGKILL: $(cat eval.err)"; continue; fi
  e=$(meta $ck train.epoch)
  if [ -n "$e" ] && [ "$e" -ge "$last_epoch" ]; then ok; else bad "iteration $i: train.epoch '$e' after $last_epoch"; fi
  last_epoch=${e:-0}
  # every 5th kill: --resume continues from exactly this checkpoint
  if [ $((i % 5)) -eq 0 ]; then
    s=$(meta $ck train.step)
    if "$CR" train --resume $ck --out next.safetensors --epochs $((e + 1)) --quiet >/dev/null 2>resume.err &&
       [ "$(meta next.safetensors train.epoch)" = $((e + 1)) ] && [ "$(meta next.safetensors train.step)" -gt "$s" ]; then
      ok; resumed=$((resumed + 1))
    else bad "iteration $i: --resume from epoch $e did not continue: $(head -2 resume.err)"; fi
    rm -f next.safetensors
  fi
done
echo "cli_killtrain: $kills SIGKILLs, $in_write inside an atomic write (temporary file left), $before_first before the first checkpoint, $resumed resumes checked, last epoch $last_epoch"
[ "$kills" -ge "$N" ] && ok || bad "only $kills of $N runs were killed"
[ "$last_epoch" -gt 0 ] && ok || bad "no checkpoint was ever written"
echo "cli_killtrain: $pass passed, $fail failed"
[ "$fail" = 0 ]
