#!/usr/bin/env bash
# The API reference (docs/Doxyfile.in, the `docs` target) builds from the public
# headers without a Doxygen warning, and carries their comments: a function's
# comment is its description (cr_checkpoint_read's, cr_net_create's group), a
# member's trailing comment its brief (cr_checkpoint's epoch). About 2 s.
# usage: tests/api_docs.sh path/to/Doxyfile
set -u
DOXYFILE=${1:?usage: api_docs.sh path/to/Doxyfile}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
bad() { fail=1; echo "FAIL: $*"; }
{ cat "$DOXYFILE"; echo "OUTPUT_DIRECTORY = $T/api"; echo "WARN_LOGFILE = $T/warnings.txt"; } >"$T/Doxyfile"
mkdir -p "$T/api"
doxygen "$T/Doxyfile" >/dev/null 2>"$T/err" || bad "doxygen failed: $(head -3 "$T/err")"
[ -s "$T/warnings.txt" ] && bad "doxygen warnings: $(head -5 "$T/warnings.txt")"
text() { sed -e 's/<[^>]*>//g' "$T/api/html/$1" | tr -s ' \n' '  '; }
text chainrule__io_8h.html | grep -q "Reads ck from the metadata of a model loaded from path" ||
  bad "cr_checkpoint_read's comment is not in the reference"
text structcr__checkpoint.html | grep -q "epochs completed" || bad "cr_checkpoint.epoch's comment is not its brief"
text chainrule_8h.html | grep -q "cr_net_create" || bad "cr_net_create is not in the reference"
[ -f "$T/api/html/index.html" ] && grep -q "the C API reference" "$T/api/html/index.html" ||
  bad "the main page (docs/api.md) is missing"
echo "api_docs: $([ $fail = 0 ] && echo passed || echo failed)"
exit $fail
