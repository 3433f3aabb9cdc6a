#!/usr/bin/env bash
# Runs the test suite of an already built, sanitizer-free build folder under
# valgrind memcheck: every cmocka test program, and the shell tests of the
# command line with `chainrule` itself run under valgrind (through a wrapper).
# An invalid read/write, a use of uninitialised memory, or a definite or
# indirect leak fails the run. Skipped: the torch_* cross-checks (Python, not
# our code) and cli_killtrain (it SIGKILLs runs after a few milliseconds, which
# under valgrind's 20-50x slowdown would never reach a checkpoint).
#
#   bash scripts/valgrind-tests.sh BUILD_DIR
#
# Valgrind's reports go to BUILD_DIR/valgrind-logs/; exits non-zero on any
# failed test or any report.
set -uo pipefail
B=$(cd "${1:?usage: valgrind-tests.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
jobs=${VALGRIND_JOBS:-$(nproc)}
logs="$B/valgrind-logs"
rm -rf "$logs" "$B/vg-bin"
mkdir -p "$logs" "$B/vg-bin"
vg="valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
--errors-for-leak-kinds=definite,indirect --num-callers=30"
cat >"$B/vg-bin/chainrule" <<WRAP
#!/bin/sh
exec $vg --log-file="$logs/chainrule.%p.log" "$B/chainrule" "\$@"
WRAP
chmod +x "$B/vg-bin/chainrule"
export OPENBLAS_NUM_THREADS=1 CR_TEST_DATA_DIR="$src/tests/data" CR_TEST_QUICK=1 # test_check: 100 images

one() { # NAME: runs one test, prints "ok NAME secs" or "FAIL NAME"
  local name=$1 t0=$SECONDS rc
  case "$name" in
    test_*) $vg --log-file="$logs/$name.%p.log" "$B/tests/$name" >"$logs/$name.out" 2>&1 ;;
    cli_*) bash "$src/tests/$name.sh" "$B/vg-bin/chainrule" >"$logs/$name.out" 2>&1 ;;
  esac
  rc=$?
  if [ $rc -eq 0 ]; then echo "ok   $name ($((SECONDS - t0)) s)"; else echo "FAIL $name (exit $rc, $((SECONDS - t0)) s): see $logs/$name.out"; fi
}
export -f one
export B src logs vg
tests=()
for f in "$B"/tests/test_*; do [ -x "$f" ] && [ -f "$f" ] && tests+=("$(basename "$f")"); done
for f in "$src"/tests/cli_*.sh; do
  n=$(basename "$f" .sh)
  case "$n" in cli_killtrain | cli_lib) ;; *) tests+=("$n") ;; esac # cli_lib: their preamble
done
t0=$SECONDS
printf '%s\n' "${tests[@]}" | xargs -P "$jobs" -I{} bash -c 'one {}' | tee "$logs/summary.txt"
status=0
grep -q '^FAIL' "$logs/summary.txt" && status=1
# with -q a log holds nothing but reports
reports=$(find "$logs" -name '*.log' -size +0 | sort)
if [ -n "$reports" ]; then
  status=1
  echo "valgrind reports:"
  for r in $reports; do echo "--- $r"; head -40 "$r"; done
fi
echo "valgrind: ${#tests[@]} tests in $((SECONDS - t0)) s, $(find "$logs" -name '*.log' | wc -l) processes checked, $(echo -n "$reports" | grep -c . || true) with reports"
exit $status
