#!/usr/bin/env bash
# The benchmark venv with today's peers, JAX (CPU) and PyTorch 2, from PyPI
# (bench/requirements.txt). Created once with the first python3 on PATH under bench/.venv
# (git-ignored; ~6 GB, ~5 minutes), then reused while requirements.txt is unchanged.
# Prints the venv's python. The test suite never needs it.
#   usage: bash bench/venv.sh [VENV_DIR]      (default bench/.venv, or $CR_BENCH_VENV)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
VENV=${1:-${CR_BENCH_VENV:-$HERE/.venv}}
REQ=$HERE/requirements.txt
STAMP=$VENV/.chainrule-requirements
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && cmp -s "$REQ" "$STAMP"; then
  echo "$VENV/bin/python"
  exit 0
fi
echo "venv.sh: creating $VENV with $(command -v python3) ($(python3 --version)); pip install -r $REQ" >&2
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q -r "$REQ" >&2
"$VENV/bin/python" -c "import torch, jax" >&2
cp "$REQ" "$STAMP"
echo "$VENV/bin/python"
