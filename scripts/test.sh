#!/usr/bin/env bash
# The whole test suite: installs what is missing, then builds and runs CTest in
#   1. Release, gcc, OpenBLAS gemm, warnings as errors; its tests again under
#      every other kernel set the CPU runs (CHAINRULE_ISA, docs/kernels.md) and,
#      on an AVX-512 CPU, as an AVX2-only CPU runs them (AVX2 kernels and
#      OpenBLAS's Haswell kernels)
#   2. clang, warnings as errors
#   3. the portable C gemm (no CBLAS)
#   4. AddressSanitizer + UndefinedBehaviorSanitizer
#   5. ThreadSanitizer over the tests that run several workers
#   6. valgrind memcheck over the whole suite (scripts/valgrind-tests.sh)
#   7. every libFuzzer target for CR_FUZZ_SECONDS (default 30) s (scripts/fuzz.sh)
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
isa_run() { # LABEL VAR=VALUE...
  echo "=== gcc-release, $1"; shift
  (cd build-ci/gcc-release && env "$@" ctest --output-on-failure -j"$jobs" ${CTEST_ARGS:-})
}
best=$(env -u CHAINRULE_ISA build-ci/gcc-release/chainrule --version | sed -n 's/.*kernels: \([a-z0-9]*\)).*/\1/p')
for isa in portable avx2 avx512; do
  [ "$isa" = "$best" ] && continue
  CHAINRULE_ISA=$isa build-ci/gcc-release/chainrule --version >/dev/null 2>&1 || continue
  isa_run "CHAINRULE_ISA=$isa" CHAINRULE_ISA=$isa
done
if [ "$best" = avx512 ]; then
  isa_run "CHAINRULE_ISA=avx2 OPENBLAS_CORETYPE=Haswell" CHAINRULE_ISA=avx2 OPENBLAS_CORETYPE=Haswell
fi
CC=clang run clang-release -DCMAKE_BUILD_TYPE=Release
run portable-gemm -DCMAKE_BUILD_TYPE=Release -DCR_USE_CBLAS=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run asan-ubsan -DCMAKE_BUILD_TYPE=Debug -DCR_SANITIZE=ON
# 5. the worker pools (input derivatives, two-worker training), two contexts at once and failing allocations on the workers under ThreadSanitizer
TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/tests/tsan.supp" \
  CTEST_ARGS="-R ^(test_parallel|test_jacobian|test_attack|test_attribute|test_train|test_input_cli|test_bound_workers|test_bab|test_ctx|test_nomem)$" \
  run tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS=-fsanitize=thread \
  -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread
# 6. the whole suite once under valgrind memcheck (zero errors, zero leaks)
echo "=== valgrind"
cmake -S . -B build-ci/valgrind -DCR_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCR_USE_CBLAS=OFF >/dev/null
cmake --build build-ci/valgrind -j"$jobs" >/dev/null
bash scripts/valgrind-tests.sh build-ci/valgrind
# 7. bounded libFuzzer runs of every parser (clang, ASan+UBSan)
echo "=== fuzz (${CR_FUZZ_SECONDS:-30} s per target)"
FUZZ_BUILD_DIR=build-ci/fuzz bash scripts/fuzz.sh all "${CR_FUZZ_SECONDS:-30}"
echo "all test configurations passed"
