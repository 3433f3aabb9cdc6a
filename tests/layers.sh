#!/usr/bin/env bash
# The layers of the sources (docs/design.md, "Layers") hold, in the include
# lines and in the build:
#   core -> kernels -> ops -> net -> check    a layer uses itself and the layers before it
#   io, cli                                    themselves and the public headers (include/)
#
# 1. Every #include "..." of src/LAYER/* names a public header (include/FILE),
#    a file of the including file's own directory (bare, "FILE"), or
#    "LAYER2/FILE" with LAYER2 a layer that LAYER may use; never "..", never
#    <LAYER2/FILE>. Every directory of src/ is a layer of the table below.
# 2. The build enforces the same: with each layer's include directories (the
#    targets' INCLUDE_DIRECTORIES, passed by tests/CMakeLists.txt), a planted
#    `#include "U/HEADER"` of every layer U that the layer may not use fails to
#    preprocess ("not found"), and the same file preprocesses with U's own
#    directories; every layer the layer may use is reachable.
# 3. Planted faults for part 1: an upward, a relative and an angle-bracket
#    include in a copy of an ops file must each be reported.
#
#   bash tests/layers.sh SOURCE_DIR CC LAYER=DIR[,DIR...]...   (one argument per layer)
set -euo pipefail
src=$1 cc=$2; shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "layers: $*" >&2; exit 1; }

order=(core kernels ops net check io cli)
declare -A may=(
  [core]="core"
  [kernels]="core kernels"
  [ops]="core kernels ops"
  [net]="core kernels ops net"
  [check]="core kernels ops net check"
  [io]="io"
  [cli]="cli"
)
declare -A flags=()
for arg in "$@"; do
  layer=${arg%%=*} dirs=${arg#*=}
  [ -n "${may[$layer]+x}" ] || fail "unknown layer '$layer' in the arguments"
  f=""
  IFS=, read -ra ds <<<"$dirs"
  for d in "${ds[@]}"; do f+=" -I$d"; done
  flags[$layer]=$f
done
for layer in "${order[@]}"; do
  [ -n "${flags[$layer]+x}" ] || fail "no include directories given for layer $layer"
done
for d in "$src"/src/*/; do
  d=$(basename "$d")
  [ -n "${may[$d]+x}" ] || fail "src/$d is in no layer (add it to tests/layers.sh, CMakeLists.txt, docs/design.md)"
done
uses() { [[ " ${may[$1]} " == *" $2 "* ]]; }

# ---------------------------------------------------------------- 1. the include lines
# check_file LAYER FILE [DIR]: prints one line per bad include (DIR: the
# directory bare names resolve in, default the file's own)
include_re='^[[:space:]]*#[[:space:]]*include[[:space:]]*(["<])([^">]+)[">]'
check_file() {
  local layer=$1 file=$2 dir=${3:-$(dirname "$2")} n=0 line kind path top
  while IFS= read -r line; do
    n=$((n + 1))
    [[ $line =~ $include_re ]] || continue
    kind=${BASH_REMATCH[1]} path=${BASH_REMATCH[2]}
    top=${path%%/*}
    if [ "$kind" = "<" ]; then
      if [[ $path == */* ]] && [ -n "${may[$top]+x}" ] && [ -e "$src/src/$path" ]; then
        echo "$file:$n: <$path> reaches a layer's header through the system path; write \"$path\""
      fi
      continue
    fi
    if [[ $path == *..* ]]; then
      echo "$file:$n: \"$path\": a relative path escapes the layer; name it as \"LAYER/file\""
    elif [[ $path == */* ]]; then
      if [ -z "${may[$top]+x}" ]; then
        echo "$file:$n: \"$path\": $top is not a layer"
      elif ! uses "$layer" "$top"; then
        echo "$file:$n: \"$path\": $layer may not use $top (it may use: ${may[$layer]})"
      elif [ ! -e "$src/src/$path" ]; then
        echo "$file:$n: \"$path\": no such file"
      fi
    elif [ ! -e "$dir/$path" ] && [ ! -e "$src/include/$path" ]; then
      echo "$file:$n: \"$path\": neither in $(basename "$dir")/ nor in include/"
    fi
  done <"$file"
}

checked=0
bad=""
for layer in "${order[@]}"; do
  while IFS= read -r file; do
    out=$(check_file "$layer" "$file")
    bad+=$out${out:+$'\n'}
    c=$(grep -cE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" || true)
    checked=$((checked + c))
  done < <(find "$src/src/$layer" -type f \( -name '*.c' -o -name '*.h' \) | sort)
done
[ -z "$bad" ] || fail "includes that break the layers:
$bad"
[ "$checked" -gt 150 ] || fail "only $checked include lines found under $src/src (wrong directory?)"
echo "layers: $checked include lines in src/ follow the layers"

# ---------------------------------------------------------------- 3. the checker catches faults
victim=$src/src/ops/act_table.c
[ -f "$victim" ] || fail "$victim: missing (pick another ops file for the planted faults)"
for plant in '#include "net/train_pool.h"' '#include "../net/train_pool.h"' '#include <check/check_internal.h>'; do
  { echo "$plant"; cat "$victim"; } >"$tmp/planted.c"
  out=$(check_file ops "$tmp/planted.c" "$src/src/ops")
  [ -n "$out" ] || fail "the planted '$plant' in an ops file was not reported"
done

# ---------------------------------------------------------------- 2. the build's include paths
# a header of each layer that stands alone for the preprocessor (not a template)
declare -A header=()
for layer in "${order[@]}"; do
  h=$(find "$src/src/$layer" -maxdepth 1 -name '*.h' ! -name '*.tmpl.h' -printf '%f\n' | sort | head -1)
  [ -n "$h" ] || fail "src/$layer has no header to plant an include of"
  header[$layer]=$h
done
forbidden=0
for layer in "${order[@]}"; do
  for u in "${order[@]}"; do
    printf '#include "%s/%s"\nint planted;\n' "$u" "${header[$u]}" >"$tmp/planted_${layer}_$u.c"
    # shellcheck disable=SC2086
    if uses "$layer" "$u"; then
      "$cc" -E ${flags[$layer]} "$tmp/planted_${layer}_$u.c" >/dev/null 2>"$tmp/err" ||
        fail "$layer cannot reach $u/${header[$u]}, a layer it may use: $(head -3 "$tmp/err")"
      continue
    fi
    if "$cc" -E ${flags[$layer]} "$tmp/planted_${layer}_$u.c" >/dev/null 2>"$tmp/err"; then
      fail "an include of $u/${header[$u]} compiles in layer $layer, which may not use $u (include directories:${flags[$layer]})"
    fi
    grep -qE "$u/${header[$u]}.*(No such file|not found)|(not found|No such file).*$u/${header[$u]}" "$tmp/err" ||
      fail "$layer including $u/${header[$u]} failed, but not for a missing file: $(head -3 "$tmp/err")"
    # the control: the same file with the upper layer's own directories
    "$cc" -E ${flags[$u]} "$tmp/planted_${layer}_$u.c" >/dev/null 2>"$tmp/err" ||
      fail "the planted include of $u/${header[$u]} fails even in $u: $(head -3 "$tmp/err")"
    forbidden=$((forbidden + 1))
  done
done
[ "$forbidden" -eq 32 ] || fail "expected 32 forbidden (layer, other layer) pairs, checked $forbidden"
echo "layers: an include of a layer it may not use fails to compile in every layer ($forbidden pairs)"
