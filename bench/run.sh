#!/usr/bin/env bash
# Training benchmark: an epoch of plain SGD (784-128-10 sigmoid, batch 64, lr 0.1) and
# per-example SGD on Fashion-MNIST, chainrule against PyTorch 1.13, PyTorch 2 and JAX from the
# same initial weights (bench/compare.sh --task train; options are passed on):
#   bash bench/run.sh [--rounds 3] [--runs 3] [--isa native|avx2]
exec bash "$(dirname "$0")/compare.sh" --task train "$@"
