#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs them.
#
#   bash scripts/fuzz.sh TARGET|all SECONDS [extra libFuzzer flags...]
#
# TARGET is one of npy safetensors idx csv model onnx vnnlib json. Each target runs for SECONDS,
# one after the other (one fuzzer process at a time), starting from the
# committed seeds in tests/fuzz-corpus/<target>/ plus the inputs it found in
# earlier runs (kept in $FUZZ_BUILD_DIR/corpus/<target>/, never committed).
# Memory limits are small on purpose: an input of a few KB that makes a
# parser allocate what its header claims trips -malloc_limit_mb.
# Prints, per target, executions, coverage (cov = edges, ft = features) and
# the crash files; exits non-zero if any target crashed, leaked, timed out or
# exceeded a limit. Crash inputs are in $FUZZ_BUILD_DIR/artifacts/<target>/.
#
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_JOBS (build jobs),
# FUZZ_MALLOC_MB (default 64), FUZZ_RSS_MB (default 1024), FUZZ_LOG_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
targets_all=(npy safetensors idx csv model onnx vnnlib json)
if [ $# -lt 2 ]; then
  echo "usage: $0 TARGET|all SECONDS [libFuzzer flags...]   (targets: ${targets_all[*]})" >&2
  exit 2
fi
what=$1 secs=$2; shift 2
case "$secs" in ''|*[!0-9]*) echo "$0: SECONDS must be a whole number, got '$secs'" >&2; exit 2;; esac
if [ "$what" = all ]; then targets=("${targets_all[@]}"); else
  case " ${targets_all[*]} " in *" $what "*) targets=("$what");; *)
    echo "$0: unknown target '$what' (targets: ${targets_all[*]} all)" >&2; exit 2;; esac
fi

bdir=${FUZZ_BUILD_DIR:-build-fuzz}
CC=clang cmake -S . -B "$bdir" -DCR_FUZZ=ON -DCR_BUILD_TESTS=OFF -DCR_USE_CBLAS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$bdir" -j"${FUZZ_JOBS:-$(nproc)}" --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null

logdir=${FUZZ_LOG_DIR:-$bdir/logs}
mkdir -p "$logdir"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
printf '%-12s %12s %8s %8s %10s  %s\n' target executions cov ft exec/s result
for t in "${targets[@]}"; do
  work="$bdir/corpus/$t" art="$bdir/artifacts/$t" log="$logdir/$t.log"
  mkdir -p "$work" "$art"
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=("-dict=fuzz/$t.dict")
  set +e
  "$bdir/fuzz/fuzz_$t" "$work" "tests/fuzz-corpus/$t" \
    -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb="${FUZZ_RSS_MB:-1024}" -malloc_limit_mb="${FUZZ_MALLOC_MB:-64}" \
    -artifact_prefix="$art/" -print_final_stats=1 "${dict[@]}" "$@" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  covline=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$covline")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$covline")
  if [ $rc -eq 0 ]; then result=ok; else
    result="FAILED (exit $rc): $(ls "$art" | head -3 | tr '\n' ' ')see $log"
    status=1
  fi
  printf '%-12s %12s %8s %8s %10s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${speed:-?}" "$result"
  if [ $rc -ne 0 ]; then grep -E 'ERROR|SUMMARY|contract|Test unit written' "$log" | head -8 >&2 || true; fi
done
exit $status
