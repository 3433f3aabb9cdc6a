#!/usr/bin/env bash
# Side-by-side training benchmark, chainrule vs PyTorch, on Fashion-MNIST:
# the seed network 784-128-10 (sigmoid, softmax + CE), plain SGD lr 0.1,
# batch 64, the same data in memory. Prints medians of RUNS epochs, the
# per-example SGD latency, peak memory, and chainrule's GFLOP/s against the
# machine's measured OpenBLAS sgemm (2 threads; 2048^3 and the step's shapes).
# chainrule trains on two workers (cr_train_ws_set_threads, OpenBLAS at 1
# thread in each); the epoch on one worker with OpenBLAS's own 2-thread split
# is printed for comparison.
# usage: bench/run.sh [BUILD_DIR (default build-bench)] [RUNS (default 5)]
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${1:-$ROOT/build-bench}
RUNS=${2:-5}
if [ ! -f "$BUILD/libchainrule.a" ] || [ ! -f "$BUILD/libchainrule_io.a" ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCR_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$BUILD" --target chainrule chainrule_io -j2 >/dev/null
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra "$HERE/bench_train.c" -I"$ROOT/include" \
  -L"$BUILD" -lchainrule_io -lchainrule $(pkg-config --libs openblas libcjson zlib libpng) -lm -pthread \
  -o "$BUILD/bench_train"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "chainrule: $BUILD/bench_train --runs $RUNS --threads 2 (2 workers) ..."
"$BUILD/bench_train" --runs "$RUNS" --threads 2 | tee "$T/ours"
echo "chainrule: $BUILD/bench_train --runs $RUNS --threads 2 --workers 1 (OpenBLAS's 2-thread split) ..."
"$BUILD/bench_train" --runs "$RUNS" --threads 2 --workers 1 --skip-sgemm 1 --sgd1-examples 1 | tee "$T/ours1"
echo "pytorch: /usr/bin/python3 bench/torch_train.py --mode time --runs $RUNS ..."
/usr/bin/python3 "$HERE/torch_train.py" --mode time --runs "$RUNS" --optimizer sgd --lr 0.1 --schedule constant | tee "$T/torch"
get() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
o_ep=$(get "$T/ours" epoch_s) t_ep=$(get "$T/torch" epoch_s) o1_ep=$(get "$T/ours1" epoch_s)
o_us=$(get "$T/ours" sgd1_us) t_us=$(get "$T/torch" sgd1_us)
o_mb=$(get "$T/ours" peak_rss_mb) t_mb=$(get "$T/torch" peak_rss_mb)
o_acc=$(get "$T/ours" test_acc) t_acc=$(get "$T/torch" test_acc)
g2048=$(get "$T/ours" sgemm_2048_gflops) gstep=$(get "$T/ours" sgemm_step_gflops) gep=$(get "$T/ours" epoch_gflops)
echo
printf '%-44s %12s %12s %10s\n' "784-128-10 sigmoid, Fashion-MNIST" chainrule pytorch ratio
printf '%-44s %12s %12s %10.2f\n' "epoch, batch 64, plain SGD, 2 workers (s)" "$o_ep" "$t_ep" "$(echo "$o_ep / $t_ep" | bc -l)"
printf '%-44s %12s %12s %10.2f\n' "  same, 1 worker, OpenBLAS 2 threads (s)" "$o1_ep" "$t_ep" "$(echo "$o1_ep / $t_ep" | bc -l)"
printf '%-44s %12s %12s %10.3f\n' "per-example SGD (us/example, median)" "$o_us" "$t_us" "$(echo "$o_us / $t_us" | bc -l)"
printf '%-44s %12s %12s %10.2f\n' "peak memory (MB, getrusage)" "$o_mb" "$t_mb" "$(echo "$o_mb / $t_mb" | bc -l)"
printf '%-44s %12s %12s\n' "test accuracy after the timed epochs" "$o_acc" "$t_acc"
echo
printf '%-44s %12s\n' "epoch GFLOP/s (useful FLOPs / epoch time)" "$gep"
printf '%-44s %12s  (%.0f%% of it)\n' "sgemm 2048^3, 2 threads (GFLOP/s)" "$g2048" "$(echo "100 * $gep / $g2048" | bc -l)"
printf '%-44s %12s  (%.0f%% of it)\n' "sgemm on the step's shapes (GFLOP/s)" "$gstep" "$(echo "100 * $gep / $gstep" | bc -l)"
