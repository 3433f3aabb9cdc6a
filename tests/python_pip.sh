#!/usr/bin/env bash
# `pip install .` as a new user does it (issue 17, item 1): a fresh virtual environment
# under the build folder, the source tree installed into it by pip through pyproject.toml
# (scikit-build-core builds the C libraries and the program into the wheel), offline from
# the wheels scripts/pip-wheels.sh keeps under build-ci/ (so the test does not need the
# network), then, in an empty environment (no PYTHONPATH, no CHAINRULE_LIBRARY, no
# LD_LIBRARY_PATH, run from an empty folder), `import chainrule` must load the copies
# inside the venv, and the Python tests run there against PyTorch: tests/python_verbs.py
# and tests/python_chainrule.py (with the wheel's own program). The venv sees Debian's
# numpy and torch (--system-site-packages from /usr/bin/python3). CMake's build folder
# for the wheel is kept under the build folder, so a second run rebuilds only what changed.
#   bash tests/python_pip.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$(cd "${1:?usage: python_pip.sh SOURCE_DIR BUILD_DIR}" && pwd)
B=$(mkdir -p "${2:?}" && cd "$2" && pwd)
PY=/usr/bin/python3
if ! $PY -c "import numpy, torch, venv" 2>/dev/null; then
  echo "python_pip: skipped: $PY lacks numpy, torch or venv"; exit 77
fi
wheels="$src/$(bash "$src/scripts/pip-wheels.sh")"
W="$B/python-pip"
rm -rf "$W/venv" "$W/run"
mkdir -p "$W/run"
$PY -m venv --system-site-packages "$W/venv"
pip=("$W/venv/bin/pip" install --quiet --disable-pip-version-check --no-index --find-links "$wheels")
# the build backend first, into the venv, then the source tree without build isolation: the
# paths CMake sees stay the same from run to run, so the kept build folder is reused
"${pip[@]}" scikit-build-core >"$W/pip.log" 2>&1 || { cat "$W/pip.log"; exit 1; }
t0=$SECONDS
# -j2 at most (the machine's cores are shared with the rest of the suite)
CMAKE_BUILD_PARALLEL_LEVEL=2 "${pip[@]}" --no-build-isolation --config-settings=build-dir="$W/cmake-build" \
  "$src" >"$W/pip.log" 2>&1 || { tail -30 "$W/pip.log"; echo "python_pip: pip install failed"; exit 1; }
echo "python_pip: pip install . took $((SECONDS - t0)) s"
clean() { (cd "$W/run" && env -i HOME="$W/run" PATH=/usr/bin:/bin "$@"); }
site=$("$W/venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
# the module, its libraries and its program are the venv's
clean "$W/venv/bin/python" - "$site" <<'PYEOF'
import os, sys
import chainrule
site = sys.argv[1]
pkg = os.path.dirname(chainrule.__file__)
assert pkg == os.path.join(site, "chainrule"), f"imported from {pkg}, not the venv's {site}"
core, io = chainrule.library_paths()
assert core == os.path.join(pkg, "libchainrule.so.0.2") and io == os.path.join(pkg, "libchainrule_io.so.0.2"), (core, io)
maps = open("/proc/self/maps").read()
assert core in maps and io in maps, "the loaded libraries are not the venv's"
assert chainrule.cli_path() == os.path.join(pkg, "bin", "chainrule"), chainrule.cli_path()
print("python_pip: import chainrule ->", pkg)
PYEOF
# the wheel's `chainrule` script runs the program
clean "$W/venv/bin/chainrule" --version >"$W/version.txt" 2>&1 || clean "$W/venv/bin/chainrule" --help >"$W/version.txt" 2>&1
grep -q "chainrule" "$W/version.txt" || { echo "python_pip: the chainrule script does not run the program"; exit 1; }
clean "$W/venv/bin/python" "$src/tests/python_verbs.py"
clean "$W/venv/bin/python" "$src/tests/python_chainrule.py" "$site/chainrule/bin/chainrule" | tail -1
echo "python_pip: passed"
