#!/usr/bin/env bash
# The handles are opaque (issue 17, "one C convention"): cr_net, cr_tape and
# cr_train_ws are incomplete types in the public headers, defined only in
# src/net/net_internal.h, which only libchainrule's net and check layers reach.
#
# 1. Against include/ alone, `sizeof` of each handle fails to compile ("incomplete"),
#    while a program using the accessors compiles (the control).
# 2. No public header defines one of the structs.
# 3. No C file of src/io, src/cli, tests, bench, fuzz, examples includes
#    net_internal.h, directly or through other headers ("..." includes followed
#    from the including file's directory, src/, include/); every file that
#    includes it directly is in src/net or src/check.
# 4. Planted faults: a direct and a two-step include in a file of src/cli must be
#    reported.
#
#   bash tests/opaque_handles.sh SOURCE_DIR CC
set -euo pipefail
src=$1 cc=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "opaque_handles: $*" >&2; exit 1; }
internal=$src/src/net/net_internal.h
[ -f "$internal" ] || fail "$internal: missing"

# ---------------------------------------------------------------- 1. incomplete types
for h in cr_net cr_tape cr_train_ws; do
  printf '#include "chainrule.h"\nunsigned long size_of_it = sizeof(%s);\n' "$h" >"$tmp/size_$h.c"
  if "$cc" -std=c11 -fsyntax-only -I"$src/include" "$tmp/size_$h.c" 2>"$tmp/err"; then
    fail "sizeof($h) compiles against include/: the handle is not opaque"
  fi
  grep -q "incomplete" "$tmp/err" || fail "sizeof($h) failed, but not as an incomplete type: $(head -2 "$tmp/err")"
done
cat >"$tmp/control.c" <<'EOF'
#include "chainrule.h"
size_t widths(cr_net *net, const cr_tape *tape, cr_train_ws *ws) {
    return cr_net_width(net, 0) + cr_net_n_params(net) + cr_tape_rows(tape) +
           (cr_net_weight_const(net, 0) != NULL) + (size_t)cr_train_ws_fault_layer(ws);
}
EOF
"$cc" -std=c11 -Wall -Wextra -Werror -fsyntax-only -I"$src/include" "$tmp/control.c" 2>"$tmp/err" ||
  fail "a program using the accessors does not compile against include/: $(head -3 "$tmp/err")"
echo "opaque_handles: sizeof of cr_net, cr_tape and cr_train_ws fails against include/; the accessors compile"

# ---------------------------------------------------------------- 2. no definition in include/
if grep -nE '^[[:space:]]*(typedef[[:space:]]+)?struct[[:space:]]+cr_(net|tape|train_ws)[[:space:]]*\{' "$src"/include/*.h; then
  fail "a public header defines a handle's struct (above)"
fi

# ---------------------------------------------------------------- 3. who reaches net_internal.h
include_re='^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)"'
declare -A reach=() # file -> 1 when it reaches net_internal.h, 0 when not, 2 while visiting
resolved=""
resolve() { # resolve INCLUDER PATH: $resolved <- the file a "PATH" include of INCLUDER names, or ""
  local c
  resolved=""
  for c in "${1%/*}/$2" "$src/src/$2" "$src/include/$2"; do
    [ -f "$c" ] && { resolved=$c; return; }
  done
}
reaches() { # reaches FILE: 0 (true) when FILE is or includes net_internal.h, transitively
  local f=$1 line inc r
  [ "$f" -ef "$internal" ] && return 0
  case ${reach[$f]-} in 1) return 0 ;; 0 | 2) return 1 ;; esac
  reach[$f]=2
  while IFS= read -r line; do
    [[ $line =~ $include_re ]] || continue
    resolve "$f" "${BASH_REMATCH[1]}"
    inc=$resolved
    [ -n "$inc" ] || continue
    if reaches "$inc"; then reach[$f]=1; return 0; fi
  done <"$f"
  reach[$f]=0
  return 1
}
outside() { # the C files of the areas outside libchainrule
  find "$src/src/io" "$src/src/cli" "$src/tests" "$src/bench" "$src/fuzz" "$src/examples" \
    -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null | sort
}
checked=0 bad=""
while IFS= read -r f; do
  checked=$((checked + 1))
  reaches "$f" && bad+="  ${f#"$src"/}"$'\n'
done < <(outside)
[ -z "$bad" ] || fail "files outside libchainrule reach src/net/net_internal.h:
$bad"
[ "$checked" -gt 100 ] || fail "only $checked files checked under $src (wrong directory?)"
direct=$(grep -rlE --include='*.c' --include='*.h' '#[[:space:]]*include[[:space:]]*"(net/)?net_internal\.h"' "$src/src" "$src/tests" "$src/bench" "$src/python" \
  "$src/fuzz" "$src/examples" 2>/dev/null | grep -vE "/src/(net|check)/" || true)
[ -z "$direct" ] || fail "net_internal.h included outside src/net and src/check: $direct"
users=$(grep -rlE --include='*.c' --include='*.h' '#[[:space:]]*include[[:space:]]*"(net/)?net_internal\.h"' "$src/src" | wc -l)
[ "$users" -gt 5 ] || fail "only $users files include net_internal.h (has it moved?)"
echo "opaque_handles: none of $checked files of io, cli, tests, bench, fuzz, examples reaches net_internal.h ($users files of net and check include it)"

# ---------------------------------------------------------------- 4. planted faults
mkdir -p "$tmp/src/cli"
printf '#include "net/net_internal.h"\nint planted;\n' >"$tmp/src/cli/direct.c"
printf '#include "planted.h"\nint planted;\n' >"$tmp/src/cli/twostep.c"
printf '#include "chainrule.h"\n#include "net/net_internal.h"\n' >"$tmp/src/cli/planted.h"
for p in direct twostep; do
  reach=()
  reaches "$tmp/src/cli/$p.c" || fail "the planted $p include of net_internal.h in src/cli was not found"
done
echo "opaque_handles: planted direct and two-step includes from src/cli are found"
