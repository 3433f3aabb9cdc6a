#!/usr/bin/env bash
# Out of memory is a failed run (exit 1), not bad input (exit 2): under a 1 GB
# address-space limit, networks of 30000 x 30000 weights cannot be allocated and
# each command says so in one line and exits 1; under the same limit bad input
# still exits 2 and a small network is still made (the limit alone fails nothing).
# Skipped where the limit stops the program from starting (sanitizers, valgrind).
# usage: tests/cli_oom.sh path/to/chainrule
. "$(dirname "${BASH_SOURCE[0]}")/cli_lib.sh" || exit 1

limited() { (ulimit -v 1000000 && exec "$@"); }
if ! limited "$CR" --version >/dev/null 2>&1; then
  echo "cli_oom: SKIP (the program does not start under a 1 GB address-space limit)"
  exit 0
fi

expect 0 "a small network under the limit" -- limited "$CR" init --layers 4,8,3 --out "$T/small.safetensors"
expect 1 "init, out of memory" -- limited "$CR" init --layers 30000,30000,10 --out "$T/big.safetensors"
one_line_error "out of memory" "init, out of memory"
no_file "$T/big.safetensors" "init, out of memory"
expect 1 "explain, out of memory" -- limited "$CR" explain --layers 30000,30000,3
one_line_error "out of memory" "explain, out of memory"
expect 1 "gradcheck, out of memory" -- limited "$CR" gradcheck --layers 30000,30000,3
one_line_error "out of memory" "gradcheck, out of memory"
expect 2 "bad input under the limit" -- limited "$CR" init --layers 0,3 --out "$T/bad.safetensors"
expect 2 "bad usage under the limit" -- limited "$CR" init --no-such-option

echo "cli_oom: $pass passed, $fail failed"
[ "$fail" = 0 ]
