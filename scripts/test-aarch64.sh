#!/usr/bin/env bash
# The portable build (no CBLAS, the portable kernel set) cross-compiled for
# 64-bit ARM (aarch64) with Debian's gcc-aarch64-linux-gnu and the arm64
# multiarch libraries, warnings as errors, and its whole CTest suite run under
# qemu-user (cmake/aarch64-linux-gnu.cmake, docs/kernels.md). Installs what is
# missing first (scripts/install-deps.sh aarch64, as root). Not part of
# scripts/test.sh: emulated, the suite takes far longer than the native one
# (figures in docs/kernels.md).
#
#   bash scripts/test-aarch64.sh [BUILD_DIR]    (default build-ci/aarch64)
# Exits non-zero if the build or any test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-ci/aarch64}
jobs=$(nproc)
bash scripts/install-deps.sh aarch64
for tool in aarch64-linux-gnu-gcc qemu-aarch64; do
  command -v "$tool" >/dev/null || { echo "test-aarch64: $tool not found" >&2; exit 1; }
done
echo "=== aarch64 (cross-compiled, portable gemm, under $(qemu-aarch64 --version | head -1))"
# test_check on 100 images, not 1,000 (as under the sanitizers): emulated, the full
# check alone takes longer than the rest of the suite
export CR_TEST_QUICK=1
start=$(date +%s)
cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DCR_USE_CBLAS=OFF -DCR_WERROR=ON >/dev/null
cmake --build "$build" -j"$jobs" >/dev/null
readelf -h "$build/chainrule" | grep -q 'Machine: *AArch64' || { echo "test-aarch64: $build/chainrule is not an aarch64 binary" >&2; exit 1; }
# the kernel set an ARM CPU gets, and that the x86 sets are refused there
version=$("$build/tests/chainrule-emulated" --version)
echo "$version"
case "$version" in *"kernels: portable)"*) ;; *) echo "test-aarch64: expected the portable kernel set" >&2; exit 1 ;; esac
(cd "$build" && ctest --output-on-failure --timeout "${CR_AARCH64_TIMEOUT:-1800}" -j"$jobs" ${CTEST_ARGS:-})
echo "aarch64: built and tested in $(($(date +%s) - start)) s"
