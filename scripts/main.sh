#!/usr/bin/env bash
# The main job: install what is missing, build, and then
#   1. explain the seed question's answer on the seed network (and prove it four ways),
#   2. gradcheck every gradient of a random 784-128-10 model,
#   3. train the seed network 784-128-10 (sigmoid) on Fashion-MNIST and evaluate it,
#   4. draw a saliency grid and an adversarial-example grid for it, and
#   5. print its robust accuracy against PGD at a few eps.
# Everything it writes goes to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
CR=./build/chainrule
mkdir -p out

echo "== 1. explain: the seed network"
$CR explain
echo
echo "== 2. gradcheck: a random 784-128-10 model"
$CR init --layers 784,128,10 --activation sigmoid --seed 1 --out out/random.safetensors
$CR gradcheck --model out/random.safetensors
echo
echo "== 3. train the seed network on Fashion-MNIST, then evaluate it"
$CR train --data fashion-mnist --layers 784,128,10 --activation sigmoid --epochs 10 --seed 1 --threads 2 \
    --out out/seed.safetensors
$CR eval --model out/seed.safetensors --data fashion-mnist:test
echo
echo "== 4. pictures: saliency maps and adversarial examples"
$CR attribute --model out/seed.safetensors --data fashion-mnist:test --index 0:16 \
    --method saliency --out out/saliency.npy --png out/saliency.png
$CR attack --model out/seed.safetensors --data fashion-mnist:test --index 0:12 \
    --method pgd --eps 0.1 --steps 10 --out out/adversarial.npy --png out/adversarial.png
echo
echo "== 5. robust accuracy of the seed network against PGD (L-inf, 10 steps, full test set)"
$CR attack --model out/seed.safetensors --data fashion-mnist:test \
    --method pgd --eps 0,0.01,0.02,0.05,0.1 --steps 10 --out out/adversarial-all.npy
echo
echo "outputs:"
echo "  out/seed.safetensors      the trained seed network (load it in PyTorch: see README)"
echo "  out/saliency.png          16 test images beside their saliency maps"
echo "  out/adversarial.png       12 test images, their PGD adversarial versions (eps 0.1), the change"
echo "  out/random.safetensors    the random model that gradcheck verified"
