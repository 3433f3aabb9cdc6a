# The preamble of the shell tests of the command line (tests/cli_*.sh),
# sourced, not run (tests/CMakeLists.txt leaves this file out of the tests):
#     . "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1
# with the test's own arguments ($1: path/to/chainrule). It sets
#   CR     the chainrule binary, as an absolute path (tests may cd)
#   T      a fresh temporary folder, removed at exit (also when made read-only)
#   pass, fail   the counts; a test ends with  [ "$fail" = 0 ]
# and defines the checks below; each counts one pass or one failure.
set -u
CR=${1:?usage: ${0##*/} path/to/chainrule}
case "$CR" in /*) ;; *) CR="$PWD/$CR" ;; esac
T=$(mktemp -d)
trap 'chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect STATUS DESCRIPTION -- command...   (stdout to $T/out, stderr to $T/err)
expect() {
  local want=$1 what=$2; shift 3
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" = "$want" ]; then ok; else bad "$what: exit $got, expected $want"; sed 's/^/    /' "$T/err" | head -5; fi
}
# one_line_error TEXT DESCRIPTION: the last expect's stderr is exactly one line and contains TEXT
one_line_error() {
  local text=$1 what=$2
  if [ "$(wc -l <"$T/err")" = 1 ] && grep -qF -- "$text" "$T/err"; then ok; else bad "$what: stderr should be one line containing '$text', got:"; sed 's/^/    /' "$T/err" | head -5; fi
}
# no_file PATH DESCRIPTION: PATH was not written
no_file() { if [ -e "$1" ]; then bad "$2: $1 was written"; else ok; fi; }
# meta FILE KEY: a numeric metadata value of a checkpoint (its header JSON is compact)
meta() { grep -ao "\"$2\":\"[0-9]*\"" "$1" | head -1 | sed 's/.*:"\([0-9]*\)"/\1/'; }
