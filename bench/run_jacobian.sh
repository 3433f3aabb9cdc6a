#!/usr/bin/env bash
# Input-derivative benchmark: dJ/dx of the 10,000 test images, the 10x784 Jacobian per image
# and FGSM, chainrule against PyTorch 1.13, PyTorch 2 and JAX on the same trained model
# (bench/compare.sh --task jacobian; options are passed on):
#   bash bench/run_jacobian.sh [--model TRAINED.safetensors] [--rounds 3] [--runs 3] [--isa native|avx2]
exec bash "$(dirname "$0")/compare.sh" --task jacobian "$@"
