#!/bin/bash
# Input-derivative benchmark, chainrule and PyTorch in the same run:
#   bash bench/run_jacobian.sh [MODEL.safetensors] [RUNS]
# chainrule runs on THREADS workers (default: the number of cores); PyTorch is
# measured with 1 and with THREADS intra-op threads and each figure keeps its
# faster count (on 2 cores here, 1 thread is PyTorch's faster setting).
# Builds build-bench (Release, incrementally); without a model, trains the seed network
# 784-128-10 (sigmoid, 10 epochs) first. Prints both sides and the ratio table.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build-bench}
[ -f "$B/CMakeCache.txt" ] || cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DCR_BUILD_TESTS=OFF >/dev/null
cmake --build "$B" -j2 >/dev/null
cc -O2 -Wall -Wextra -Iinclude bench/bench_jacobian.c "$B/libchainrule_io.a" "$B/libchainrule.a" \
  $(pkg-config --libs openblas libpng zlib libcjson) -lm -o "$B/bench_jacobian"
MODEL=${1:-}
RUNS=${2:-7}
if [ -z "$MODEL" ]; then
  MODEL="$B/bench_seed_model.safetensors"
  [ -f "$MODEL" ] || "$B/chainrule" train --data fashion-mnist --layers 784,128,10 --activation sigmoid \
      --epochs 10 --batch 64 --optimizer sgd --lr 0.1 --seed 1 --out "$MODEL" >/dev/null
fi
OURS=$(mktemp)
trap 'rm -f "$OURS"' EXIT
echo "== chainrule"
THREADS=${THREADS:-$(nproc)}
"$B/bench_jacobian" "$MODEL" --runs "$RUNS" --threads "$THREADS" | tee "$OURS"
echo "== PyTorch"
TORCH_THREADS=1
[ "$THREADS" -gt 1 ] && TORCH_THREADS="1,$THREADS"
/usr/bin/python3 bench/torch_jacobian.py "$MODEL" --runs "$RUNS" --threads "$TORCH_THREADS" --ours "$OURS"
