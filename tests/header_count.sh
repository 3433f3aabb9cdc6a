#!/usr/bin/env bash
# The main header reads in a few minutes: include/chainrule.h declares at most 80
# functions (issue 17; the typed and op-level ones are in chainrule_typed.h).
# Counted as lib_exports.sh finds declarations: after the preprocessor, every
# distinct identifier cr_* directly followed by "(" (a function-pointer typedef
# such as (*cr_train_progress_fn)(...) has ")" in between):
#
#   cc -E -P -Iinclude include/chainrule.h | tr -s ' \t\n' ' ' |
#     grep -oE '\bcr_[A-Za-z0-9_]+ *\(' | sed 's/ *($//' | sort -u | wc -l
#
# It checks itself: the functions it must find are found, and a copy of the header
# with declarations added past the limit fails.
#
#   bash tests/header_count.sh CC INCLUDE_DIR
set -euo pipefail
cc=$1 inc=$2 max=80
fail() { echo "header_count: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
names() { "$cc" -E -P -I"$(dirname "$1")" "$1" | tr -s ' \t\n' ' ' | grep -oE '\bcr_[A-Za-z0-9_]+ *\(' |
            sed 's/ *($//' | sort -u; }
names "$inc/chainrule.h" >"$tmp/names"
n=$(wc -l <"$tmp/names")
for f in cr_net_create cr_net_forward cr_net_input_grad cr_attack cr_tape_create cr_status_string; do
  grep -qx "$f" "$tmp/names" || fail "the count did not find $f in $inc/chainrule.h (counting broken?)"
done
! grep -qx cr_train_progress_fn "$tmp/names" || fail "a function-pointer typedef was counted as a function"
# planted: the header plus declarations up to max + 1 must be over the limit
cp "$inc"/chainrule*.h "$tmp/"
extra=$((max + 1 - n))
[ "$extra" -ge 1 ] || extra=1
{
  echo '#include "chainrule.h"'
  for i in $(seq "$extra"); do echo "void cr_planted_$i(void);"; done
} >"$tmp/planted.h"
p=$(names "$tmp/planted.h" | wc -l)
[ "$p" -gt "$max" ] || fail "planted: $p functions counted in a header with $((n + extra))"
# the list of what is there, for the log
echo "header_count: include/chainrule.h declares $n functions (at most $max):"
tr '\n' ' ' <"$tmp/names" | fold -s -w 100 | sed 's/^/  /'
echo
[ "$n" -le "$max" ] || fail "include/chainrule.h declares $n functions, more than $max: move the expert ones to chainrule_typed.h"
