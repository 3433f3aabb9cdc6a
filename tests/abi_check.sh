#!/usr/bin/env bash
# The ABI against the previous release: abidiff (Debian's abigail-tools) between
# the newest baseline dump under abi/ (abi/LIB-VERSION.abi, made by abidw from that
# release's library: docs/api.md, "ABI") and the built library, for libchainrule and
# libchainrule_io. Fails when abidiff reports an incompatible change (its exit
# status has bit 8, ABIDIFF_ABI_INCOMPATIBLE_CHANGE: a function or variable
# removed; or bit 4 with a changed function or variable: a type changed in a way
# old callers would see; only added functions are compatible) while the library keeps
# the baseline's SONAME; an incompatible change under a new SONAME passes (and is
# listed). Before that it checks itself: the baseline against itself is
# compatible, and against a copy of it with one exported function removed, or one
# struct member's type changed, under the same SONAME, the check must fail.
#
#   bash tests/abi_check.sh ABI_DIR INCLUDE_DIR LIBCHAINRULE.so LIBCHAINRULE_IO.so
#
# Skipped (exit 77) when abidiff/abidw are not installed (scripts/install-deps.sh
# installs abigail-tools).
set -euo pipefail
abi=$1 inc=$2 core=$3 io=$4
fail() { echo "abi_check: $*" >&2; exit 1; }
if ! command -v abidiff >/dev/null || ! command -v abidw >/dev/null; then
  echo "abi_check: SKIPPED: abidiff/abidw not found (apt-get install abigail-tools; scripts/install-deps.sh)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

soname_of_dump() { sed -n "1,3{s/.*<abi-corpus [^>]*soname='\([^']*\)'.*/\1/p;}" "$1"; }
soname_of_lib() { objdump -p "$1" | awk '$1 == "SONAME" {print $2}'; }

# check NAME OLD NEW OLD_SONAME NEW_SONAME [ABIDIFF ARGS...]: 0 when compatible (or
# incompatible under a new SONAME), 1 when incompatible under the same SONAME, 2 when
# abidiff itself failed. The report goes to $tmp/NAME.report.
check() {
  local name=$1 old=$2 new=$3 old_so=$4 new_so=$5 rc=0
  shift 5
  abidiff "$@" "$old" "$new" >"$tmp/$name.report" 2>&1 || rc=$?
  if (( rc & 3 )); then return 2; fi # bit 1: error, bit 2: usage error
  # incompatible: bit 8 (ABIDIFF_ABI_INCOMPATIBLE_CHANGE), which libabigail 2.2 sets for a
  # removed function or variable only; or bit 4 (ABIDIFF_ABI_CHANGE) with a changed
  # function or variable (a sub-type change: a struct's layout, a member's or a
  # parameter's type, an enum), not only added ones
  if (( rc & 4 )) && grep -qE '^(Functions|Variables) changes summary: .*[1-9][0-9]* Changed' \
       "$tmp/$name.report"; then
    (( rc |= 8 ))
  fi
  last_rc=$rc
  if (( rc & 8 )) && [ "$old_so" = "$new_so" ]; then return 1; fi
  return 0
}
expect() { # NAME WANT: runs check (the rest of the arguments) and wants status WANT
  local name=$1 want=$2 got=0
  shift 2
  check "$name" "$@" || got=$?
  if [ "$got" != "$want" ]; then
    cat "$tmp/$name.report" >&2
    fail "$name: the check gave $got, expected $want (0 compatible, 1 incompatible under the same SONAME, 2 abidiff failed)"
  fi
}

n=0
for lib in "$core" "$io"; do
  base=$(basename "$lib")
  stem=${base%%.so*} # libchainrule, libchainrule_io
  baseline=$(ls "$abi/$stem"-[0-9]*.abi 2>/dev/null | sort -V | tail -1)
  [ -n "$baseline" ] || fail "no baseline $abi/$stem-VERSION.abi"
  old_so=$(soname_of_dump "$baseline")
  new_so=$(soname_of_lib "$lib")
  [ -n "$old_so" ] && [ -n "$new_so" ] || fail "$stem: no SONAME in $baseline or $lib"
  funcs=$(grep -c "<elf-symbol name='cr_[^']*' type='func-type'" "$baseline" || true)
  [ "$funcs" -gt 50 ] || fail "$baseline: only $funcs exported functions (not a dump of the library?)"

  # ---- the check checks itself, on the baseline (same SONAME on both sides)
  expect "$stem-self" 0 "$baseline" "$baseline" "$old_so" "$old_so"
  # a planted removal: the first exported function's symbol and declaration gone
  victim=$(sed -n "/<elf-symbol name='cr_[^']*' type='func-type'/{s/.*<elf-symbol name='\(cr_[^']*\)'.*/\1/p;q;}" "$baseline")
  sed -e "/<elf-symbol name='$victim' /d" \
      -e "/<function-decl name='$victim' /,/<\/function-decl>/d" "$baseline" >"$tmp/removed.abi"
  ! cmp -s "$baseline" "$tmp/removed.abi" || fail "$stem: planting the removal of $victim changed nothing"
  expect "$stem-planted-removal" 1 "$baseline" "$tmp/removed.abi" "$old_so" "$old_so"
  grep -q "$victim" "$tmp/$stem-planted-removal.report" ||
    fail "$stem: abidiff's report of the planted removal does not name $victim"
  # a planted type change: the first data member of a struct declared in include/
  # (a cr_* typedef'd struct) gets the type of another member of another width
  if [ "$stem" = libchainrule ]; then
    python3 - "$baseline" "$tmp/changed.abi" <<'EOF' || fail "$stem: could not plant a type change"
import re, sys
s = open(sys.argv[1]).read()
# a struct with a pointer member and a 64-bit member: cr_attack_options' double eps
# becomes the type of its cr_norm (an enum, 32 bits): a layout change old callers see
i = s.index("<typedef-decl name='cr_attack_options'")
tid = re.search(r"type-id='([^']*)'", s[i:]).group(1)
j = s.index("id='%s'" % tid)
start = s.rindex("<class-decl", 0, j)
end = s.index("</class-decl>", start)
cls = s[start:end]
eps = re.search(r"<var-decl name='eps' type-id='([^']*)'", cls)
norm = re.search(r"<var-decl name='norm' type-id='([^']*)'", cls)
if not eps or not norm: sys.exit("cr_attack_options: no eps/norm member in the dump")
new = cls.replace("<var-decl name='eps' type-id='%s'" % eps.group(1),
                  "<var-decl name='eps' type-id='%s'" % norm.group(1))
open(sys.argv[2], "w").write(s[:start] + new + s[end:])
EOF
    expect "$stem-planted-type" 1 "$baseline" "$tmp/changed.abi" "$old_so" "$old_so"
    grep -q "cr_attack_options" "$tmp/$stem-planted-type.report" ||
      fail "$stem: abidiff's report of the planted type change does not name cr_attack_options"
  fi
  # the same planted removal under another SONAME passes: the bump is what makes it legal
  expect "$stem-planted-bumped" 0 "$baseline" "$tmp/removed.abi" "$old_so" "$old_so.bumped"

  # ---- the real comparison: the baseline against the built library
  rc=0
  check "$stem" "$baseline" "$lib" "$old_so" "$new_so" --hd2 "$inc" || rc=$?
  case $rc in
    0) if (( last_rc & 8 )); then
         echo "abi_check: $stem: incompatible with $(basename "$baseline") (SONAME $old_so), allowed by the new SONAME $new_so:"
         grep -E '^(SONAME changed|Functions changes summary|Variables changes summary|Function symbols changes summary)' \
           "$tmp/$stem.report" | sed 's/^/  /'
       else
         echo "abi_check: $stem ($new_so): compatible with $(basename "$baseline")"
       fi ;;
    1) cat "$tmp/$stem.report" >&2
       fail "$stem: incompatible ABI change against $(basename "$baseline") with the same SONAME $new_so: bump the version (CMakeLists.txt project(), CR_VERSION_STRING; docs/api.md, \"ABI\")" ;;
    *) cat "$tmp/$stem.report" >&2
       fail "$stem: abidiff failed (exit status bits 1/2)" ;;
  esac
  n=$((n + 1))
done
echo "abi_check: $n libraries compared with their baselines; the planted removal and type change fail under an unchanged SONAME"
