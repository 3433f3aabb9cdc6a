#!/usr/bin/env bash
# Fetches (once) the Python build backend that `pip install .` uses for chainrule
# (scikit-build-core and its pure-Python dependencies, pyproject.toml's
# [build-system]) as wheels into a folder, so that tests/python_pip.sh can install
# the source tree into a fresh virtual environment offline:
#     pip install --no-index --find-links DIR .
# Prints DIR.
#
#   bash scripts/pip-wheels.sh [DIR]     (default: build-ci/pip-wheels, git-ignored)
#
# The wheels are downloaded by Debian's pip (/usr/bin/python3, the interpreter the
# tests use) for that interpreter. Nothing is installed. Exits non-zero if they
# cannot be fetched (e.g. PyPI unreachable): the test then fails.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-ci/pip-wheels}
stamp="$dir/.complete-1"
if [ -f "$stamp" ]; then echo "$dir"; exit 0; fi
rm -rf "$dir"
mkdir -p "$dir"
/usr/bin/python3 -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
  --dest "$dir" 'scikit-build-core>=0.10' >&2
touch "$stamp"
echo "$dir"
