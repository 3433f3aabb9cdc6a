#!/usr/bin/env bash
# Creates (once) the virtual environment with auto_LiRPA 0.3 from PyPI that
# tests/lirpa_bounds.py uses as an independent bound propagator, and prints its python.
#
#   bash scripts/auto-lirpa-venv.sh [DIR]     (default: build-ci/venv-lirpa, git-ignored)
#
# auto-lirpa 0.3 runs beside Debian's PyTorch 1.13 (python3-torch) and numpy 1.x: the
# environment sees the system packages (--system-site-packages) and gets auto_LiRPA
# and its two pure-Python helpers without dependencies (--no-deps), so pip never
# replaces torch or numpy. Nothing is installed outside DIR. Exits non-zero if the
# environment cannot be made (e.g. PyPI unreachable): the test then fails.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-ci/venv-lirpa}
if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "import auto_LiRPA, torch" 2>/dev/null; then
  echo "$dir/bin/python"; exit 0
fi
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
/usr/bin/python3 -m venv --system-site-packages "$dir" >&2
"$dir/bin/pip" install --quiet --disable-pip-version-check --no-deps auto-lirpa==0.3 appdirs tqdm >&2
"$dir/bin/python" -c "import auto_LiRPA, torch" >&2
echo "$dir/bin/python"
