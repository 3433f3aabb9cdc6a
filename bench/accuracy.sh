#!/usr/bin/env bash
# Accuracy of the seed network 784-128-10 (sigmoid) on Fashion-MNIST after 10
# epochs with chainrule's documented defaults (adam, lr 0.002, cosine
# schedule, batch 64, seed 1), and PyTorch trained with the same
# hyperparameters (bench/torch_train.py, /usr/bin/python3).
# usage: bench/accuracy.sh path/to/chainrule [seeds...]     (default seed: 1)
set -eu
CR=${1:?usage: bench/accuracy.sh path/to/chainrule [seeds...]}
shift
SEEDS=${*:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
printf '%-6s %-12s %-12s %s\n' seed chainrule pytorch difference_pp
for s in $SEEDS; do
  ours=$("$CR" train --data fashion-mnist --seed "$s" --out "$T/m.safetensors" --json |
         sed 's/.*"test_acc": \([0-9.]*\).*/\1/')
  theirs=$(/usr/bin/python3 "$HERE/torch_train.py" --mode accuracy --seed "$s" | awk '$1 == "test_acc" { print $2 }')
  printf '%-6s %-12s %-12s %+.2f\n' "$s" "$ours" "$theirs" "$(echo "($ours - $theirs) * 100" | bc -l)"
done
