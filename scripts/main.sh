#!/usr/bin/env bash
# The main job: install what is missing, build, explain the seed question's answer
# on the seed network, and check every gradient of a random 784-128-10 model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
mkdir -p out
./build/chainrule explain
./build/chainrule init --layers 784,128,10 --activation sigmoid --seed 1 --out out/random.safetensors
./build/chainrule gradcheck --model out/random.safetensors
