# The layout of VNN-COMP 2021's eran benchmark end to end (tests/eran_like.py): an ONNX net with a 4-D input
# [1, 1, 28, 28], Sub/Div normalisation, Flatten, MatMul + Add, Relu or Sigmoid, and specs whose output part is an
# AND of top-level asserts (unsafe iff the label's logit is the smallest). Per net: the AND spec that holds is unsat
# (its OR twin, same box, is sat: the AND is not read as an OR), the AND spec that fails is sat with a witness that
# satisfies every row (the attack minimises the clause's worst row, not any row), checked by an independent float64
# forward in numpy; the checker itself rejects the OR twin's witness as an AND witness.
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$T" || exit 1
if ! /usr/bin/python3 -c "import onnx, numpy" 2>/dev/null; then echo "skipped: no python3-onnx (scripts/install-deps.sh installs it)"; exit 0; fi
/usr/bin/python3 "$HERE/eran_like.py" gen "$HERE" || { echo "FAIL: eran_like.py gen"; exit 1; }
for a in relu sigmoid; do
  for m in bab auto; do
    expect 0 "$a and_unsat ($m)" -- "$CR" certify --model $a.onnx --vnnlib ${a}_and_unsat.vnnlib --method $m \
      --timeout 20 --result u.txt
    [ "$(cat u.txt)" = unsat ] && ok || bad "$a: the AND spec that holds is unsat by $m ($(head -c 40 u.txt))"
  done
  # a 9-row AND clause through branch and bound's per-clause bookkeeping and per-row warm starts
  expect 0 "$a and_bab" -- "$CR" certify --model $a.onnx --vnnlib ${a}_and_bab.vnnlib --method bab --timeout 60 \
    --result b.txt
  [ "$(cat b.txt)" = unsat ] && grep -q 'proved by bab' out && ok || bad "$a: the wider AND spec is proved by bab"
  expect 0 "$a or_sat" -- "$CR" certify --model $a.onnx --vnnlib ${a}_or_sat.vnnlib --timeout 20 --result o.txt
  /usr/bin/python3 "$HERE/eran_like.py" check o.txt ${a}_or_sat && ok || bad "$a: the OR twin is sat with a witness"
  /usr/bin/python3 "$HERE/eran_like.py" check o.txt ${a}_and_unsat 2>/dev/null \
    && bad "$a: the checker accepted an OR witness as an AND one" || ok
  expect 0 "$a and_sat" -- "$CR" certify --model $a.onnx --vnnlib ${a}_and_sat.vnnlib --method bab --timeout 20 \
    --result s.txt
  /usr/bin/python3 "$HERE/eran_like.py" check s.txt ${a}_and_sat && ok || bad "$a: the AND witness holds every row"
done
echo "cli_eran_and: $pass passed, $fail failed"
[ "$fail" = 0 ]
