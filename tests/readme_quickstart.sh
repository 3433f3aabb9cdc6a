#!/usr/bin/env bash
# The README's "Quick start" runs as written, so that it cannot rot: for a NAME, every
# ```sh block after a line "<!-- quickstart NAME -->" in README.md, in order, runs in one
# bash (set -euo pipefail) after the build block ("<!-- quickstart build -->"), in a
# throwaway folder laid out like a clone (build/, python/, examples/ linked to this
# build and source tree); then every line of the ```text block after
# "<!-- quickstart NAME output -->" must be a line of what it printed (a line shown
# ending in " ..." is a prefix: the rest depends on the machine).
#
#   bash tests/readme_quickstart.sh SOURCE_DIR BUILD_DIR NAME [CC [CFLAGS]]
#
# Not run from the build block: `bash scripts/install-deps.sh` and the `cmake -S . -B
# build ...` line (the packages and the build: what CI's scripts/test.sh does first;
# this test runs on that build). CC and CFLAGS (a sanitizer build's flags) are the
# compiler that the block's `cc` and `cmake -S` use for programs against the library.
# Exit 77 (skipped) when what the block needs is missing: Debian's python3 with torch
# and numpy (pytorch), the Fashion-MNIST package (student).
set -euo pipefail
src=$(cd "$1" && pwd) build=$(cd "$2" && pwd) name=$3 cc=${4:-cc} cflags=${5:-}
readme=$src/README.md
fail() { echo "readme_quickstart $name: $*" >&2; exit 1; }

blocks() { # MARKER FENCE: the fenced blocks (```FENCE) after each line equal to MARKER, concatenated
  awk -v m="$1" -v f="$2" '
    $0 == m { armed = 1; next }
    armed == 1 && $0 == "```" f { armed = 2; next }
    armed == 1 && /^```/ { armed = 0; next }
    armed == 2 && /^```$/ { armed = 0; next }
    armed == 2 { print }' "$readme"
}

# what each block needs
case "$name" in
  pytorch) /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null || { echo "skip: /usr/bin/python3 has no torch/numpy"; exit 77; } ;;
  student) [ -e /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ] ||
             { echo "skip: no /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist)"; exit 77; } ;;
esac

setup=$(blocks "<!-- quickstart build -->" sh)
script=$(blocks "<!-- quickstart $name -->" sh)
shown=$(blocks "<!-- quickstart $name output -->" text)
[ -n "$setup" ] || fail "README.md has no build block ('<!-- quickstart build -->' then a \`\`\`sh block)"
[ -n "$script" ] || fail "README.md has no block '<!-- quickstart $name -->' followed by a \`\`\`sh block"
[ "$(printf '%s\n' "$shown" | grep -c .)" -ge 2 ] ||
  fail "README.md shows fewer than 2 output lines for $name ('<!-- quickstart $name output -->' then a \`\`\`text block)"
# the two lines left to CI's own install and build, named exactly so that a changed one is seen here
grep -qE '^bash scripts/install-deps\.sh( |$)' <<<"$setup" || fail "the build block does not install with scripts/install-deps.sh"
grep -qE '^cmake -S \. -B build && cmake --build build( |$)' <<<"$setup" || fail "the build block does not build into build/"
setup=$(grep -vE '^(bash scripts/install-deps\.sh|cmake -S \. -B build && cmake --build build)( |$)' <<<"$setup")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/clone
mkdir -p "$root"
ln -s "$build" "$root/build"
cp -r "$src/python" "$root/python" # a copy: the module finds build/ beside it, by its own path
ln -s "$src/examples" "$root/examples"
cat >"$tmp/run.sh" <<EOF
set -euo pipefail
# the programs against the library: this build's compiler and flags (a sanitizer build's)
cc() { command $cc $cflags "\$@"; }
export CC="$cc" CFLAGS="$cflags"
$setup
$script
EOF
# Debian's python3 (torch, numpy) first, as on the machine the README is written for
if ! (cd "$root" && env -u CHAINRULE_LIBRARY -u CHAINRULE_CLI -u PYTHONPATH PATH="/usr/bin:$PATH" \
      bash "$tmp/run.sh") >"$tmp/out.txt" 2>&1; then
  cat "$tmp/out.txt"
  fail "a command of the README's quick start failed (output above)"
fi

missing=0
check() { # LINE: 0 if the output has it (a prefix when it ends in " ...")
  if [[ "$1" == *" ..." ]]; then
    local p=${1%" ..."}
    awk -v p="$p" 'index($0, p) == 1 { found = 1 } END { exit !found }' "$tmp/out.txt"
  else
    grep -qxF -- "$1" "$tmp/out.txt"
  fi
}
# the matcher itself must see a line that nothing printed
! check "readme_quickstart: a planted line that no command prints" ||
  fail "the output check matched a planted line: it checks nothing"
! check "readme_quickstart: a planted prefix that no command prints ..." ||
  fail "the output check matched a planted prefix: it checks nothing"
while IFS= read -r line; do
  [ -n "$line" ] || continue
  if check "$line"; then echo "ok   shown: $line"; else echo "MISSING: $line"; missing=$((missing + 1)); fi
done <<<"$shown"
if [ "$missing" -gt 0 ]; then
  echo "--- what the quick start printed:"
  cat "$tmp/out.txt"
  fail "$missing line(s) the README shows were not printed (MISSING above)"
fi
echo "readme_quickstart $name: $(grep -c . <<<"$script") lines of the README ran, $(grep -c . <<<"$shown") shown output lines printed"
