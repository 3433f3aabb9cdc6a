#!/usr/bin/env bash
# The man pages (scripts/man-pages.sh, built by the `man` target with help2man):
# one per command `chainrule help` lists and chainrule.1; each page, rendered by
# man -l, documents exactly the options that command's --help lists (the same
# set of --names); chainrule.1 lists every command; `cmake --install` puts them
# where `man chainrule-attack` finds them. Skipped (exit 0, "SKIP") when the
# build made no man pages (no help2man: CMakeLists.txt says so when configuring).
# usage: tests/man_pages.sh BUILD_DIR path/to/chainrule
set -u
B=${1:?usage: man_pages.sh BUILD_DIR CHAINRULE} CR=${2:?}
M=$B/man
if [ ! -f "$M/chainrule.1" ]; then echo "man_pages: SKIP (no man pages built: help2man missing?)"; exit 0; fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
render() { MANWIDTH=200 LC_ALL=C.UTF-8 man -l "$1" 2>/dev/null | col -b; }
names() { grep -oE -- '--[a-z0-9][a-z0-9-]*' | sort -u; } # every --option named

cmds=$("$CR" help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' | grep -v '^help$')
[ "$(echo "$cmds" | wc -w)" -ge 13 ] && ok || bad "chainrule help lists the commands"
render "$M/chainrule.1" >"$T/main"
tr -s ' \n' '  ' <"$T/main" | sed 's/- /-/g; s/‐ //g' >"$T/main.flat" # SEE ALSO as one line, unhyphenated
for c in $cmds; do
  grep -q "chainrule-$c(1)" "$T/main.flat" && ok || bad "chainrule.1 does not refer to chainrule-$c(1)"
  grep -qE "^ +$c( |$)" "$T/main" && ok || bad "chainrule.1 does not list $c"
  page=$M/chainrule-$c.1
  if [ ! -f "$page" ]; then bad "no page chainrule-$c.1"; continue; fi
  render "$page" >"$T/page"
  # the options: the lines of --help that start an option, and the option items of the page
  "$CR" "$c" --help | sed -n 's/^  \(--[a-z0-9-]*\).*/\1/p' | sort -u >"$T/help.opts"
  sed -n 's/^       \(--[a-z0-9-]*\).*/\1/p' "$T/page" | sort -u >"$T/page.opts"
  [ -s "$T/help.opts" ] && ok || bad "$c --help lists no option"
  if cmp -s "$T/help.opts" "$T/page.opts"; then ok; else
    bad "chainrule-$c.1 and $c --help list different options:"; diff "$T/help.opts" "$T/page.opts" | head -5
  fi
  grep -q "^NAME" "$T/page" && grep -qE "chainrule-$c - .+" "$T/page" && ok || bad "chainrule-$c.1 has no NAME line"
  grep -q "^SYNOPSIS" "$T/page" && grep -q "chainrule $c " "$T/page" && ok || bad "chainrule-$c.1 has no SYNOPSIS"
done
ls "$M" | grep -v '^chainrule' && bad "stray files in $M" || ok

# installed: man finds them by name
if cmake --install "$B" --prefix "$T/prefix" >/dev/null 2>"$T/install.err"; then
  mandir=$(find "$T/prefix" -type d -name man1 | head -1)
  [ -f "$mandir/chainrule.1" ] && [ -f "$mandir/chainrule-attack.1" ] && ok || bad "cmake --install put no man pages under $T/prefix"
  MANPATH=$(dirname "$mandir") MANWIDTH=200 man chainrule-attack 2>/dev/null | col -b | grep -q -- "--eps" && ok ||
    bad "man chainrule-attack (installed) does not show --eps"
else
  bad "cmake --install failed: $(head -3 "$T/install.err")"
fi
echo "man_pages: $pass passed, $fail failed"
[ "$fail" = 0 ]
