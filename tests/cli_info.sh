#!/usr/bin/env bash
# chainrule info on every model file of the repository (tests/fuzz-corpus/{model,onnx,json}
# and tests/fuzz-regressions): it reads exactly what the loaders read, so info succeeds
# where convert does (exit 0, one valid JSON object with --json) and refuses where convert
# does (exit 2, one line naming the file, nothing on stdout); never another status. Where
# it succeeds, its parameter count equals the sizes of the fc*.weight and fc*.bias tensors
# of the safetensors file convert writes (read by Python from the file's header), its
# widths chain, and info of that file says the same (an ONNX input link other than
# Sub/Div is stored as the equivalent mean and std there: only its presence is compared).
# Also: info MODEL and info --model MODEL are the same; a second bare argument is refused.
# CR_TEST_QUICK=1 (valgrind): every fourth file.
# usage: tests/cli_info.sh path/to/chainrule
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1
PY=/usr/bin/python3
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

n_ok=0 n_refused=0 i=0
for f in "$SRC"/fuzz-corpus/model/* "$SRC"/fuzz-corpus/onnx/* "$SRC"/fuzz-corpus/json/* \
         "$SRC"/fuzz-regressions/model/* "$SRC"/fuzz-regressions/onnx/*; do
  [ -f "$f" ] || continue
  i=$((i + 1))
  [ "${CR_TEST_QUICK:-0}" = 1 ] && [ $((i % 4)) != 0 ] && continue
  "$CR" info "$f" --json >"$T/info" 2>"$T/ierr"
  irc=$?
  "$CR" convert --model "$f" --out "$T/c.safetensors" >"$T/cout" 2>"$T/cerr"
  crc=$?
  # a PyTorch state dict is convert's alone; info, like every command, refuses it pointing to convert
  if grep -q "(PyTorch state dict)" "$T/cout" || grep -q "state dict" "$T/cerr"; then
    [ "$irc" = 2 ] && grep -q "chainrule convert" "$T/ierr" && ok || bad "$f (a state dict): info exits $irc"
    n_refused=$((n_refused + 1))
    continue
  fi
  if [ "$irc" = 0 ] && [ "$crc" = 0 ]; then
    n_ok=$((n_ok + 1))
    $PY - "$T/info" "$T/c.safetensors" <<'PYEOF' && ok || bad "info of $f: see above"
import json, struct, sys
info = json.load(open(sys.argv[1]))
with open(sys.argv[2], "rb") as fh:
    (hlen,) = struct.unpack("<Q", fh.read(8))
    header = json.loads(fh.read(hlen))
n = 0
for name, t in header.items():
    if name.startswith("fc") and (name.endswith(".weight") or name.endswith(".bias")):
        c = 1
        for s in t["shape"]:
            c *= s
        n += c
layers = info["layers"]
ok = n == info["parameters"] and layers[0]["in"] == info["input"] and layers[-1]["out"] == info["outputs"] \
    and all(a["out"] == b["in"] for a, b in zip(layers, layers[1:]))
if not ok:
    print(f"FAIL: {sys.argv[1]}: parameters {info['parameters']} vs the file's {n}, layers {layers}")
sys.exit(0 if ok else 1)
PYEOF
    "$CR" info "$T/c.safetensors" --json >"$T/info2"
    $PY -c "import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:]); \
sys.exit(0 if all(a[k]==b[k] for k in ('layers','input','outputs','parameters','head')) \
and (a['input_link'] is None) == (b['input_link'] is None) else 1)" \
      "$T/info" "$T/info2" && ok || bad "$f: info of its safetensors twin differs"
  elif [ "$irc" = 2 ] && [ "$crc" != 0 ]; then
    n_refused=$((n_refused + 1))
    [ "$(wc -l <"$T/ierr")" = 1 ] && [ ! -s "$T/info" ] && ok || bad "$f: refused with more than one line or output"
  else
    bad "$f: info exits $irc, convert $crc ($(head -1 "$T/ierr") / $(head -1 "$T/cerr"))"
  fi
done
min=10
[ "${CR_TEST_QUICK:-0}" = 1 ] && min=3
[ "$n_ok" -ge $min ] && [ "$n_refused" -ge $min ] && ok || bad "only $n_ok files read and $n_refused refused"

m=$SRC/fuzz-corpus/model/model_std.safetensors
expect 0 "info MODEL" -- "$CR" info "$m"
cp "$T/out" "$T/a"
expect 0 "info --model MODEL" -- "$CR" info --model "$m"
cmp -s "$T/a" "$T/out" && ok || bad "info MODEL and info --model MODEL differ"
grep -q "input standardisation" "$T/a" && ok || bad "model_std: the standardisation link is not shown"
expect 2 "two models" -- "$CR" info "$m" "$m"
one_line_error "info:" "two models"
echo "cli_info: $pass passed, $fail failed ($n_ok files read, $n_refused refused)"
[ "$fail" = 0 ]
