#!/usr/bin/env bash
# The whole test suite: installs what is missing, then builds and runs CTest in
#   1. Release, gcc, OpenBLAS gemm, warnings as errors
#   2. clang, warnings as errors
#   3. the portable C gemm (no CBLAS)
#   4. AddressSanitizer + UndefinedBehaviorSanitizer
# Exits non-zero if any build or test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)

run() { # NAME CMAKE-ARGS...
  local name=$1; shift
  echo "=== $name"
  cmake -S . -B "build-ci/$name" -DCR_WERROR=ON "$@" >/dev/null
  cmake --build "build-ci/$name" -j"$jobs" >/dev/null
  (cd "build-ci/$name" && ctest --output-on-failure -j"$jobs" ${CTEST_ARGS:-})
}

run gcc-release -DCMAKE_BUILD_TYPE=Release
CC=clang run clang-release -DCMAKE_BUILD_TYPE=Release
run portable-gemm -DCMAKE_BUILD_TYPE=Release -DCR_USE_CBLAS=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run asan-ubsan -DCMAKE_BUILD_TYPE=Debug -DCR_SANITIZE=ON
echo "all test configurations passed"
