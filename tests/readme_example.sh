#!/usr/bin/env bash
# The README shows the example programs exactly: for each FILE, the fenced code
# block that follows the line "<!-- FILE -->" in README.md must equal FILE.
#
#   bash tests/readme_example.sh SOURCE_DIR FILE...   (FILE relative to SOURCE_DIR)
set -euo pipefail
src=$1; shift
for f in "$@"; do
  grep -qxF "<!-- $f -->" "$src/README.md" || { echo "readme_example: README.md has no '<!-- $f -->' block" >&2; exit 1; }
  block=$(awk -v m="<!-- $f -->" '
    $0 == m { armed = 1; next }
    armed == 1 && /^```/ { armed = 2; next }
    armed == 2 && /^```$/ { exit }
    armed == 2 { print }' "$src/README.md")
  if ! diff -u --label "README.md block" --label "$f" <(printf '%s\n' "$block") "$src/$f"; then
    echo "readme_example: README.md's block for $f differs from the file (diff above)" >&2
    exit 1
  fi
  echo "readme_example: README.md shows $f exactly ($(wc -l <"$src/$f") lines)"
done
