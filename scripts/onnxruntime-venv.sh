#!/usr/bin/env bash
# Creates (once) the virtual environment with onnxruntime from PyPI that
# tests/torch_onnx.py uses as an independent ONNX runtime, and prints its python.
#
#   bash scripts/onnxruntime-venv.sh [DIR]     (default: build-ci/venv-ort, git-ignored)
#
# Made with Debian's /usr/bin/python3 (python3-venv) when it can, else the first
# python3 on PATH. Nothing is installed outside DIR. Exits non-zero if the
# environment cannot be made (e.g. PyPI unreachable): the test then fails.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-ci/venv-ort}
if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "import onnxruntime, numpy" 2>/dev/null; then
  echo "$dir/bin/python"; exit 0
fi
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
if ! /usr/bin/python3 -m venv "$dir" >/dev/null 2>&1; then
  rm -rf "$dir"
  python3 -m venv "$dir" >&2
fi
"$dir/bin/pip" install --quiet --disable-pip-version-check onnxruntime numpy >&2
"$dir/bin/python" -c "import onnxruntime, numpy" >&2
echo "$dir/bin/python"
