#!/usr/bin/env bash
# Installs what chainrule needs on Debian 12 (run as root). Installs only what is missing.
set -euo pipefail
pkgs=(build-essential clang cmake pkg-config valgrind
      libopenblas-dev libcmocka-dev libcjson-dev zlib1g-dev libpng-dev libclang-rt-14-dev
      python3-numpy python3-torch python3-onnx python3-venv dataset-fashion-mnist bc)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# onnxruntime from PyPI (tests/torch_onnx.py's independent ONNX runtime), in a venv under build-ci/
bash "$(dirname "$0")/onnxruntime-venv.sh" >/dev/null
