#!/usr/bin/env bash
# Installs what chainrule needs on Debian 12 (run as root). Installs only what is missing.
#   bash scripts/install-deps.sh           what scripts/test.sh needs
#   bash scripts/install-deps.sh aarch64   what scripts/test-aarch64.sh needs (the arm64 architecture
#                                          for dpkg, the cross compiler, qemu-user, the :arm64 -dev packages)
set -euo pipefail
if [ "${1:-}" = aarch64 ]; then
  pkgs=(cmake pkg-config gcc-aarch64-linux-gnu qemu-user libc6:arm64 libpng-dev:arm64 zlib1g-dev:arm64
        libcjson-dev:arm64 libcmocka-dev:arm64)
  dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64; apt-get update -qq; }
else
  pkgs=(build-essential clang cmake pkg-config valgrind
        libopenblas-dev libcmocka-dev libcjson-dev zlib1g-dev libpng-dev libclang-rt-14-dev
        python3-numpy python3-torch python3-onnx python3-venv dataset-fashion-mnist bc
        help2man man-db groff-base doxygen # man pages (built from --help), man -l in their test; API reference
        abigail-tools) # abidiff/abidw: tests/abi_check.sh against the previous release's ABI (abi/)
fi
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
[ "${1:-}" = aarch64 ] && exit 0
# onnxruntime from PyPI (tests/torch_onnx.py's independent ONNX runtime), in a venv under build-ci/
bash "$(dirname "$0")/onnxruntime-venv.sh" >/dev/null
# auto_LiRPA 0.3 from PyPI beside Debian's torch (tests/lirpa_bounds.py's independent bounds), in a venv under build-ci/
bash "$(dirname "$0")/auto-lirpa-venv.sh" >/dev/null
# scikit-build-core's wheels from PyPI (pyproject.toml's build backend), under build-ci/, so that
# tests/python_pip.sh installs the source tree into a fresh venv offline
bash "$(dirname "$0")/pip-wheels.sh" >/dev/null
