#!/usr/bin/env bash
# The code that runs can be found by its name: for every function the shared
# libraries export (nm -D --defined-only),
#   - a line of include/*.h declares it by its full name (NAME followed by "("),
#     not pasted together by a macro (no "##" in the public headers), and
#   - a file-scope definition in src/ names it in full: the first identifier
#     followed by "(" of the definition's head (the text before its "{") is NAME,
#     or the head is CR_TYPED(NAME_f32, NAME_f64)(...) (src/ops/real.h) and NAME
#     is one of the two.
# Also: CR_TYPED's two names are the _f32 and _f64 of one stem, and no function
# with external linkage is defined or declared in src/ as FN(name)(...) only
# (static helpers may be).
#
#   bash tests/names_findable.sh SOURCE_DIR LIB.so...
set -euo pipefail
src=$1; shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "names_findable: $*" >&2; exit 1; }

for lib in "$@"; do
  [ -f "$lib" ] || fail "$lib: no such library"
  nm -D --defined-only "$lib" | awk '$2 != "A" {print $3}'
done | sort -u >"$tmp/exported"
[ "$(wc -l <"$tmp/exported")" -gt 100 ] || fail "only $(wc -l <"$tmp/exported") exported symbols in $*"

pasted=$(grep -n '##' "$src"/include/*.h || true)
[ -z "$pasted" ] || fail "token pasting in a public header (write each declaration out):
$pasted"

# An awk function: the line without its comments (/* */ across lines, //),
# incomment carrying an open comment to the next line.
uncomment='
  function uncomment(l,   out, i, j) {
    out = ""
    while (l != "") {
      if (incomment) {
        i = index(l, "*/"); if (!i) return out
        l = substr(l, i + 2); incomment = 0
      } else {
        i = index(l, "/*"); j = index(l, "//")
        if (j && (!i || j < i)) return out substr(l, 1, j - 1)
        if (!i) return out l
        out = out substr(l, 1, i - 1) " "; l = substr(l, i + 2); incomment = 1
      }
    }
    return out
  }'

# The heads of file-scope definitions and declarations in src/: a line that
# starts with an identifier (not static, typedef, a label, ...), joined with
# the following lines up to the first "{" or ";".
find "$src/src" -name '*.c' -o -name '*.h' | sort | xargs awk "$uncomment"'
  FNR == 1 { inhead = 0; incomment = 0 }
  {
    line = uncomment($0)
    # a file-scope macro invocation without ";" (NAME(...) alone on its line)
    if (!inhead && line ~ /^[A-Z_][A-Z0-9_]*\(.*\)[ \t]*$/) next
    if (inhead) head = head " " line
    else if (line ~ /^[A-Za-z_]/ && line !~ /^(static|typedef|struct|enum|union|extern|return)([^A-Za-z0-9_]|$)/ &&
             line !~ /^[A-Za-z_][A-Za-z0-9_]*:/) { inhead = 1; head = line; where = FILENAME ":" FNR }
    else next
    ib = index(head, "{"); is = index(head, ";")
    if (ib == 0 && is == 0) { if (length(head) > 2000) inhead = 0; next }
    inhead = 0
    isdef = ib > 0 && (is == 0 || ib < is)
    text = substr(head, 1, (isdef ? ib : is) - 1)
    if (!match(text, /[A-Za-z_][A-Za-z0-9_]*[ \t]*\(/)) next
    eq = index(text, "=")
    if (eq > 0 && eq < RSTART) next # an initialised variable
    name = substr(text, RSTART, RLENGTH - 1); sub(/[ \t]+$/, "", name)
    rest = substr(text, RSTART + RLENGTH)
    if (name == "FN") { print "fn", where; next }
    if (!isdef) next
    if (name == "CR_TYPED") {
      args = substr(rest, 1, index(rest, ")") - 1); gsub(/[ \t]/, "", args)
      n = split(args, a, ",")
      if (n != 2 || a[1] !~ /_f32$/ || a[2] !~ /_f64$/ ||
          substr(a[1], 1, length(a[1]) - 4) != substr(a[2], 1, length(a[2]) - 4))
        print "bad", where, args
      print "def", a[1], where; print "def", a[2], where
    } else print "def", name, where
  }' >"$tmp/heads"

fn=$(awk '$1 == "fn" {print "  " $2}' "$tmp/heads")
[ -z "$fn" ] || fail "a function with external linkage named FN(...) only (write CR_TYPED(cr_NAME_f32, cr_NAME_f64), src/ops/real.h):
$fn"
bad=$(awk '$1 == "bad" {print "  " $2 ": CR_TYPED(" $3 ")"}' "$tmp/heads")
[ -z "$bad" ] || fail "CR_TYPED takes the _f32 and the _f64 name of one function:
$bad"
awk '$1 == "def" {print $2}' "$tmp/heads" | sort -u >"$tmp/defined"

awk "$uncomment"' FNR == 1 { incomment = 0 } { print uncomment($0) }' "$src"/include/*.h | grep -oE '(^|[^A-Za-z0-9_])cr_[A-Za-z0-9_]+ *\(' | sed -E 's/^[^c]//; s/ *\($//' |
  sort -u >"$tmp/declared"
undeclared=$(comm -23 "$tmp/exported" "$tmp/declared")
[ -z "$undeclared" ] || fail "exported but not declared by its full name in include/*.h:" $undeclared
undefined=$(comm -23 "$tmp/exported" "$tmp/defined")
[ -z "$undefined" ] || fail "exported but no definition in src/ names it in full (a FN() or macro-pasted definition?):" $undefined
echo "names_findable: $(wc -l <"$tmp/exported") exported functions, each declared in include/ and defined in src/ by its full name"
