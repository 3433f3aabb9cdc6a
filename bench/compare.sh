#!/usr/bin/env bash
# chainrule against Debian's PyTorch 1.13, PyTorch 2 and JAX, in one run (bench/compare.py):
#   bash bench/compare.sh [--task train|jacobian|all] [--rounds 3] [--runs 3] [--isa native|avx2]
#                         [--model TRAINED.safetensors] [--markdown OUT.md]
# Builds BUILD (default build-bench, Release, incrementally) and the bench programs, creates
# the venv with JAX and PyTorch 2 once (bench/venv.sh; without it, or with CR_BENCH_NO_VENV=1,
# only PyTorch 1.13 is compared), writes the initial weights every trainer starts from
# (chainrule init, seed 1) and, without --model, trains the seed network (784-128-10 sigmoid,
# 10 epochs of plain SGD) for the input derivatives. bench/run.sh and bench/run_jacobian.sh
# are this with --task train and --task jacobian.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build-bench}
MODEL=
ARGS=()
while [ $# -gt 0 ]; do
  case $1 in
    --model) MODEL=$2; shift 2 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
[ -f "$B/CMakeCache.txt" ] || cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DCR_BUILD_TESTS=OFF >/dev/null
cmake --build "$B" -j2 >/dev/null
LIBS="$B/libchainrule_io.a $B/libchainrule.a $(pkg-config --libs openblas libpng zlib libcjson) -lm -pthread"
for p in bench_train bench_jacobian; do
  # shellcheck disable=SC2086
  cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Iinclude "bench/$p.c" $LIBS -o "$B/$p"
done
INIT="$B/bench_init.safetensors"
[ -f "$INIT" ] || "$B/chainrule" init --layers 784,128,10 --seed 1 --out "$INIT" >/dev/null
if [ -z "$MODEL" ]; then
  MODEL="$B/bench_seed_model.safetensors"
  [ -f "$MODEL" ] || "$B/chainrule" train --data fashion-mnist --layers 784,128,10 --activation sigmoid \
      --epochs 10 --batch 64 --optimizer sgd --lr 0.1 --seed 1 --out "$MODEL" >/dev/null
fi
VENV_PY=/nonexistent
[ "${CR_BENCH_NO_VENV:-0}" = 1 ] || VENV_PY=$(bash bench/venv.sh) || VENV_PY=/nonexistent
exec /usr/bin/python3 bench/compare.py --build "$B" --model "$MODEL" --init "$INIT" \
  --venv-python "$VENV_PY" "${ARGS[@]}"
