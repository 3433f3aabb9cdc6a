#!/usr/bin/env bash
# No two files of a folder call each other, directly or around a ring: for the
# .c files of each DIR, the object files of the build say which file defines
# each external symbol (nm: T, D, B, R, W...) and which file uses it (U); the
# edges "user -> definer" between two different files must form no cycle
# (tsort refuses a loop). Static functions and static inline helpers of a
# private header are no edges: sharing those is how two files avoid a circle.
#
# Before the real check, a planted case proves the check can fail: three small
# files a -> b -> c pass, and adding c -> a must be refused.
#
#   bash tests/file_cycles.sh CC BUILD_DIR SOURCE_DIR DIR...   (DIR e.g. src/io src/cli)
#   (as ctest's file_cycles; objects are found as BUILD_DIR/**/DIR/NAME.c.o)
set -euo pipefail
cc=$1 build=$2 src=$3
shift 3
fail() { echo "file_cycles: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check BUILD SRC DIR...: 0 when acyclic; prints the loop (from tsort) otherwise
check() {
  local b=$1 s=$2 dir c f o n_src n_obj
  shift 2
  : >"$tmp/objs"
  for dir in "$@"; do
    n_src=0 n_obj=0
    for c in "$s/$dir"/*.c; do
      [ -e "$c" ] || continue
      f=$(basename "$c")
      n_src=$((n_src + 1))
      o=$(find "$b" -path "*/$dir/$f.o" -type f | head -n 1)
      [ -n "$o" ] || { echo "file_cycles: no object file for $dir/$f under $b" >&2; return 2; }
      n_obj=$((n_obj + 1))
      printf '%s %s\n' "$dir/$f" "$o" >>"$tmp/objs"
    done
    [ "$n_src" -gt 1 ] || { echo "file_cycles: $s/$dir holds $n_src .c files" >&2; return 2; }
  done
  # "file D sym" for each defined external symbol, "file U sym" for each undefined one
  while read -r f o; do
    nm -P "$o" | awk -v f="$f" '
      $2 == "U" { print f, "U", $1; next }
      $2 ~ /^[A-TV-Z]$/ { print f, "D", $1 }'
  done <"$tmp/objs" >"$tmp/syms"
  awk '$2 == "D" { def[$3] = $1; next }
       $2 == "U" { use[NR] = $1 " " $3 }
       END { for (i in use) { split(use[i], p, " ");
                              if ((p[2] in def) && def[p[2]] != p[1]) print p[1], def[p[2]] } }' \
    "$tmp/syms" "$tmp/syms" | sort -u >"$tmp/edges"
  [ -s "$tmp/edges" ] || { echo "file_cycles: no calls between files found (vacuous)" >&2; return 2; }
  if ! tsort "$tmp/edges" >/dev/null 2>"$tmp/loop"; then
    cat "$tmp/loop" >&2
    echo "file_cycles: the calls between these files (user definer):" >&2
    cat "$tmp/edges" >&2
    return 1
  fi
  return 0
}

# the planted case
mkdir -p "$tmp/p/src/x" "$tmp/p/build/x"
printf 'int b(int);\nint a(int v) { return b(v) + 1; }\n' >"$tmp/p/src/x/a.c"
printf 'int c(int);\nint b(int v) { return c(v) * 2; }\n' >"$tmp/p/src/x/b.c"
printf 'int c(int v) { return v - 1; }\n' >"$tmp/p/src/x/c.c"
comp() { for f in a b c; do "$cc" -c "$tmp/p/src/x/$f.c" -o "$tmp/p/build/x/$f.c.o"; done; }
comp
check "$tmp/p/build" "$tmp/p/src" x 2>"$tmp/p/log" ||
  fail "the planted chain a -> b -> c was refused: $(cat "$tmp/p/log")"
printf 'int a(int);\nint c(int v) { return v > 0 ? a(v - 1) : 0; }\n' >"$tmp/p/src/x/c.c"
comp
rc=0
check "$tmp/p/build" "$tmp/p/src" x 2>"$tmp/p/log" || rc=$?
[ "$rc" -eq 1 ] || fail "the planted cycle a -> b -> c -> a was not found (rc $rc): $(cat "$tmp/p/log")"

# the real check
check "$build" "$src" "$@" || fail "a cycle of calls between files (see above)"
echo "file_cycles: no cycle among the files of $* ($(wc -l <"$tmp/edges") calling pairs)"
