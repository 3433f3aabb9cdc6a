#!/usr/bin/env bash
# The command line stays thin (issue 17): no function of src/cli longer than
# MAX lines, and no dead function there (every function of src/cli that is not
# static is named again somewhere in src/cli besides its definition and its
# declaration; the compiler reports unused static ones). A function is counted
# from its definition's first line (at column 0, ending in "{") to the "}" at
# column 0 that closes it, the layout every file of src/ has (clang-format).
# Planted: a function one line too long and a dead one must be reported first.
# usage: tests/code_shape.sh SOURCE_DIR [MAX]
set -u
SRC=${1:?usage: code_shape.sh SOURCE_DIR [MAX]}
MAX=${2:-150}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0

# long_functions FILE...: "file:line: NAME is N lines" for each function over MAX
long_functions() {
  awk -v max="$MAX" '
    FNR == 1 { start = 0 }
    start == 0 && /^[A-Za-z_].*\)[ \t]*\{[ \t]*$/ && !/^(typedef|struct|enum|union)[ \t]/ && !/=/ {
      start = FNR; name = $0; sub(/\(.*/, "", name); n = split(name, w, /[ \t*]+/); name = w[n]; next
    }
    start && /^}/ {
      len = FNR - start + 1
      if (len > max) printf "%s:%d: %s is %d lines (at most %d)\n", FILENAME, start, name, len, max
      start = 0
    }' "$@"
}

# dead_functions DIR: non-static functions defined in DIR/*.c named nowhere else in DIR
dead_functions() {
  local dir=$1 f name
  for f in "$dir"/*.c; do
    sed -n 's/^[A-Za-z_][A-Za-z0-9_ \*]*[ \*]\([a-z_][a-z0-9_]*\)(.*[{,]$/\1/p' "$f" |
      grep -v '^main$' | while read -r name; do
        grep -q "^static .*[ \*]$name(" "$f" && continue
        # every mention in the folder, minus the definition and one declaration in a header
        local uses
        uses=$(cat "$dir"/*.c "$dir"/*.h 2>/dev/null | grep -cw "$name")
        local decls
        decls=$(cat "$dir"/*.h 2>/dev/null | grep -c "^[A-Za-z].*[ \*]$name(")
        [ "$uses" -gt $((1 + decls)) ] || echo "$f: $name is not used"
      done
  done
}

# --------------------------------------------------------------- planted faults first
mkdir -p "$T/planted"
{
  echo "static int used(void) {"
  for i in $(seq 1 $((MAX - 2))); do echo "    int v$i = $i;"; done
  echo "    return 0;"
  echo "}"
  echo "int never_called(int x) {"
  echo "    return x;"
  echo "}"
} >"$T/planted/p.c"
out=$(long_functions "$T/planted/p.c")
if echo "$out" | grep -q "used is $((MAX + 1)) lines"; then :; else echo "FAIL: a planted $((MAX + 1))-line function was not reported: $out"; fail=1; fi
out=$(dead_functions "$T/planted")
if echo "$out" | grep -q "never_called is not used"; then :; else echo "FAIL: a planted dead function was not reported: $out"; fail=1; fi

# --------------------------------------------------------------- src/cli
out=$(long_functions "$SRC"/src/cli/*.c)
if [ -n "$out" ]; then echo "FAIL: functions of src/cli over $MAX lines:"; echo "$out"; fail=1; fi
out=$(dead_functions "$SRC/src/cli")
if [ -n "$out" ]; then echo "FAIL: dead functions in src/cli:"; echo "$out"; fail=1; fi

longest=$(awk '
    FNR == 1 { start = 0 }
    start == 0 && /^[A-Za-z_].*\)[ \t]*\{[ \t]*$/ && !/=/ { start = FNR; next }
    start && /^}/ { len = FNR - start + 1; if (len > m) m = len; start = 0 }
    END { print m + 0 }' "$SRC"/src/cli/*.c)
echo "code_shape: longest function of src/cli: $longest lines (at most $MAX)"
[ "$fail" = 0 ]
