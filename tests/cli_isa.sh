#!/usr/bin/env bash
# The kernel sets from the command line (CHAINRULE_ISA, docs/kernels.md):
# --version names the set in use; an unknown name, or a set this CPU cannot
# run, is refused with one line and exit status 2 by every command; and the
# sets agree: per-example SGD gives the same model bytes under every set
# this CPU runs, the float32 closed-form Jacobian the same bytes under avx2
# and avx512.
# usage: tests/cli_isa.sh path/to/chainrule
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1

# ---------------------------------------------------------------- naming and refusing
expect 0 "--version" -- env -u CHAINRULE_ISA "$CR" --version
best=$(sed -n 's/.*kernels: \([a-z0-9]*\)).*/\1/p' "$T/out")
case "$best" in portable|avx2|avx512) ok ;; *) bad "--version names the kernel set: $(cat "$T/out")" ;; esac
expect 0 "empty CHAINRULE_ISA is the default" -- env CHAINRULE_ISA= "$CR" --version
grep -qF "kernels: $best)" "$T/out" && ok || bad "empty CHAINRULE_ISA: $(cat "$T/out")"
runnable=""
for isa in portable avx2 avx512; do
  CHAINRULE_ISA=$isa "$CR" --version >"$T/out" 2>"$T/err"
  rc=$?
  if [ $rc = 0 ]; then
    grep -qF "kernels: $isa)" "$T/out" && ok || bad "CHAINRULE_ISA=$isa: --version says $(cat "$T/out")"
    runnable="$runnable $isa"
  else
    [ $rc = 2 ] && ok || bad "CHAINRULE_ISA=$isa refused with exit $rc, expected 2"
    one_line_error "CHAINRULE_ISA=$isa: this CPU cannot run" "CHAINRULE_ISA=$isa refused"
  fi
done
case "$runnable" in *"$best"*) ok ;; *) bad "the default set $best is not runnable:$runnable" ;; esac
case "$runnable" in " portable"*) ok ;; *) bad "portable always runs:$runnable" ;; esac
expect 2 "unknown set" -- env CHAINRULE_ISA=sse9 "$CR" --version
one_line_error "CHAINRULE_ISA=sse9: unknown kernel set" "unknown set"
expect 2 "unknown set, wrong case" -- env CHAINRULE_ISA=AVX2 "$CR" help
one_line_error "unknown kernel set" "unknown set, wrong case"

# ---------------------------------------------------------------- the sets agree
awk 'BEGIN { srand(5); print "label,a,b,c,d";
  for (i = 0; i < 200; i++) { c = i % 3; printf "%d,%.4f,%.4f,%.4f,%.4f\n", c,
      c + rand() * 0.8, 2 - c + rand() * 0.8, (i % 7 == 0) ? 0 : rand(), c * 0.5 + rand() * 0.3 } }' >"$T/d.csv"
expect 2 "a command refuses an unknown set before running" -- env CHAINRULE_ISA=sse9 "$CR" train \
  --data "$T/d.csv" --layers 4,19,3 --epochs 1 --out "$T/never.safetensors"
[ ! -e "$T/never.safetensors" ] && ok || bad "nothing written under an unknown set"
for isa in $runnable; do
  # 19 hidden units: whole registers and masked lanes under both widths
  expect 0 "per-example SGD under $isa" -- env CHAINRULE_ISA=$isa "$CR" train --data "$T/d.csv" \
    --layers 4,19,3 --epochs 3 --batch 1 --optimizer sgd --lr 0.05 --seed 3 --out "$T/m_$isa.safetensors"
  expect 0 "closed-form Jacobian under $isa" -- env CHAINRULE_ISA=$isa "$CR" jacobian \
    --model "$T/m_portable.safetensors" --data "$T/d.csv" --mode closed --out "$T/j_$isa.npy"
done
for isa in $runnable; do
  cmp -s "$T/m_portable.safetensors" "$T/m_$isa.safetensors" && ok ||
    bad "per-example SGD: the model under $isa differs from the portable one"
done
case "$runnable" in
  *avx2*avx512*) cmp -s "$T/j_avx2.npy" "$T/j_avx512.npy" && ok || bad "closed-form Jacobian: avx2 and avx512 differ" ;;
esac

echo "cli_isa: $pass passed, $fail failed (sets here:$runnable)"
[ "$fail" = 0 ]
