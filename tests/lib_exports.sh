#!/usr/bin/env bash
# The shared libraries export exactly the functions their public headers declare:
# every cr_* function declared in include/*.h (after the preprocessor) is a defined dynamic symbol of
# exactly one of the libraries, and nothing else is exported (no cr_abt_*,
# cr_io_*, cr_parallel_*, ...). Also checks the SONAME.
#
#   bash tests/lib_exports.sh CC INCLUDE_DIR SOVERSION LIB.so... -- HEADER...
set -euo pipefail
cc=$1 inc=$2 sover=$3; shift 3
libs=()
while [ "$1" != -- ]; do libs+=("$1"); shift; done
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "lib_exports: $*" >&2; exit 1; }

for h in "$@"; do echo "#include \"$(cd "$(dirname "$h")" && pwd)/$(basename "$h")\""; done >"$tmp/all.h"
# declarations: an identifier cr_* directly followed by "(" (a function pointer
# typedef such as (*cr_train_progress_fn)(...) has ")" in between)
"$cc" -E -P -I"$inc" "$tmp/all.h" | tr -s ' \t\n' ' ' | grep -oE '\bcr_[A-Za-z0-9_]+ *\(' |
  sed 's/ *($//' | sort -u >"$tmp/declared"
[ "$(wc -l <"$tmp/declared")" -gt 100 ] || fail "found only $(wc -l <"$tmp/declared") declarations in $*"

for lib in "${libs[@]}"; do
  [ -f "$lib" ] || fail "$lib: no such library"
  soname=$(objdump -p "$lib" | awk '$1 == "SONAME" {print $2}')
  case "$soname" in
    *.so."$sover") ;;
    *) fail "$lib: SONAME '$soname' does not end in .so.$sover" ;;
  esac
  # defined dynamic symbols, without the version nodes' absolute symbols
  nm -D --defined-only "$lib" | awk '$2 != "A" {print $3}' | sort >"$tmp/exp.$(basename "$lib")"
  echo "$(basename "$lib") ($soname): $(wc -l <"$tmp/exp.$(basename "$lib")") exported symbols"
done
sort "$tmp"/exp.* >"$tmp/exported"
dups=$(uniq -d "$tmp/exported")
[ -z "$dups" ] || fail "exported by more than one library: $dups"
extra=$(comm -13 "$tmp/declared" "$tmp/exported")
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
[ -z "$extra" ] || fail "exported but not declared in a public header (internal symbols leak):" $extra
[ -z "$missing" ] || fail "declared in a public header but not exported (outside the visibility pragma, or not defined):" $missing
echo "lib_exports: $(wc -l <"$tmp/declared") public functions, all exported, nothing else"
