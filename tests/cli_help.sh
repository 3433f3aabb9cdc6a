#!/usr/bin/env bash
# Every command's --help comes from its option table (src/cli/cli.h), so help and
# parser agree: every option --help lists is accepted (all of them as OPT=1 or
# FLAG, then --help, print the help and exit 0), an option it does not list is refused,
# the model files are described from one place (safetensors or ONNX: no help says
# "(safetensors; required)" where ONNX works), and "required" is said exactly
# for the options whose absence the parser refuses.
# usage: tests/cli_help.sh path/to/chainrule
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1

expect 0 "help" -- "$CR" help
cmds=$(sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' "$T/out" | grep -v '^help$')
[ "$(echo "$cmds" | wc -w)" -ge 13 ] && ok || bad "help lists the commands (got: $cmds)"

checked=0
for cmd in $cmds; do
  expect 0 "$cmd --help" -- "$CR" "$cmd" --help
  cp "$T/out" "$T/help"
  head -1 "$T/help" | grep -q "^usage: chainrule $cmd" && ok || bad "$cmd --help starts with its usage"
  grep -qF "(safetensors; required)" "$T/help" && bad "$cmd --help: a model said to be safetensors only" || ok
  if grep -q "^  --model " "$T/help"; then
    grep -A3 "^  --model " "$T/help" | grep -q "ONNX" && ok || bad "$cmd --help: --model does not say ONNX"
  fi
  # every option line: "  --name ARG  help" or "  --name  help" (a flag: no ARG); all of them
  # in one run (the value 1 is in the range of every numeric option), then --help: the parser
  # consumes each one, or names the first it does not know
  opts=()
  while read -r name arg; do
    if [ -z "$arg" ]; then opts+=("$name"); else opts+=("$name=1"); fi
  done < <(sed -n 's/^  \(--[a-z0-9-]*\)\( [^ ]*\)\{0,1\}\( .*\)\{0,1\}$/\1\2/p' "$T/help")
  checked=$((checked + ${#opts[@]}))
  expect 0 "$cmd parses every option its --help lists" -- "$CR" "$cmd" "${opts[@]}" --help
  cmp -s "$T/out" "$T/help" && ok || bad "$cmd ${opts[*]} --help: not the help"
  expect 2 "$cmd refuses an option it does not list" -- "$CR" "$cmd" --no-such-option --help
  one_line_error "unknown option '--no-such-option'" "$cmd: unknown option"
done
[ "$checked" -ge 150 ] && ok || bad "only $checked options were checked"

# "required" in --help is what the parser requires: each such option left out alone
# (the others given a value) is refused by name
for cmd in init jacobian grad; do
  "$CR" "$cmd" --help >"$T/help"
  req=$(awk '/^  --/ { cur = $1 } /required\)/ && cur { print cur }' "$T/help" | sort -u)
  [ -n "$req" ] && ok || bad "$cmd: no required option found in --help"
  for r in $req; do
    args=()
    for o in $req; do [ "$o" = "$r" ] || args+=("$o=$T/x.npy"); done
    expect 2 "$cmd without $r" -- "$CR" "$cmd" "${args[@]}"
    one_line_error "$r is required" "$cmd without $r"
  done
done

echo "cli_help: $pass passed, $fail failed ($checked options)"
[ "$fail" = 0 ]
