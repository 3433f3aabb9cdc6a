#!/usr/bin/env bash
# Installs the build into a temporary prefix (cmake --install --prefix) and
# builds programs against it as a user would:
#   - examples/input_grad.c through pkg-config (shared by default: the program
#     needs libchainrule.so.0.2; and with --static) and tests/install/io_app.c
#     through pkg-config chainrule-io;
#   - both through find_package(chainrule) (tests/install/CMakeLists.txt) with
#     chainrule::chainrule[_io] (shared) and chainrule::chainrule[_io]_static
#     (no libchainrule*.so in the program);
# and runs every program.
#
#   bash tests/lib_install.sh BUILD_DIR SOURCE_DIR CC [CFLAGS]
#
# Cross-compiled (tests/CMakeLists.txt sets these): CR_EMULATOR runs the
# programs (e.g. "qemu-aarch64"), CR_TOOLCHAIN_FILE
# configures the find_package consumer; the Python part is skipped.
set -euo pipefail
build=$1 src=$(cd "$2" && pwd) cc=$3 cflags=${4:-}
# the SONAME's version: MAJOR.MINOR while MAJOR is 0, else MAJOR (CMakeLists.txt)
ver=$(sed -n 's/^#define CR_VERSION_STRING "\([0-9.]*\)".*/\1/p' "$src/include/chainrule.h")
major=${ver%%.*} minor=${ver#*.} minor=${minor%%.*}
[ -n "$ver" ] || { echo "lib_install: no CR_VERSION_STRING in include/chainrule.h" >&2; exit 1; }
if [ "$major" = 0 ]; then so=0.$minor; else so=$major; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "lib_install: $*" >&2; exit 1; }
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install failed"; }
pc=$(find "$prefix" -name chainrule.pc)
[ -n "$pc" ] || fail "no chainrule.pc under $prefix"
pcdir=$(dirname "$pc") libdir=$(dirname "$(dirname "$pc")")
for f in "$libdir/libchainrule.so.$so" "$libdir/libchainrule.a" "$libdir/libchainrule_io.so.$so" \
         "$libdir/libchainrule_io.a" "$libdir/cmake/chainrule/chainruleConfig.cmake" \
         "$libdir/cmake/chainrule/chainruleConfigVersion.cmake" "$prefix/include/chainrule.h" \
         "$prefix/include/chainrule_typed.h"; do
  [ -e "$f" ] || fail "not installed: ${f#"$prefix"/}"
done

needs() { # PROGRAM LIB: 1 if PROGRAM's dynamic section needs LIB
  objdump -p "$1" | awk '$1 == "NEEDED" {print $2}' | grep -qx "$2"
}
run() { # NAME PROGRAM ARGS...: runs it, output to the log
  local name=$1; shift
  # shellcheck disable=SC2086
  ${CR_EMULATOR:-} "$@" >"$tmp/$name.out" 2>&1 || { cat "$tmp/$name.out"; fail "$name: exit $?"; }
  echo "ok   $name: $(head -1 "$tmp/$name.out")"
}

# ---- pkg-config
export PKG_CONFIG_PATH=$pcdir
# shellcheck disable=SC2086
$cc $cflags -o "$tmp/pc_input_grad" "$src/examples/input_grad.c" $(pkg-config --cflags --libs chainrule)
needs "$tmp/pc_input_grad" libchainrule.so.$so || fail "pkg-config --libs chainrule did not link libchainrule.so.$so"
LD_LIBRARY_PATH=$libdir run pkg-config-shared "$tmp/pc_input_grad"
# shellcheck disable=SC2086
$cc $cflags -o "$tmp/pc_input_grad_static" "$src/examples/input_grad.c" $(pkg-config --cflags --libs --static chainrule)
LD_LIBRARY_PATH=$libdir run pkg-config-static "$tmp/pc_input_grad_static"
# shellcheck disable=SC2086
$cc $cflags -o "$tmp/pc_io_app" "$src/tests/install/io_app.c" $(pkg-config --cflags --libs chainrule-io)
needs "$tmp/pc_io_app" libchainrule_io.so.$so || fail "pkg-config --libs chainrule-io did not link libchainrule_io.so.$so"
LD_LIBRARY_PATH=$libdir run pkg-config-io "$tmp/pc_io_app" "$tmp/pc.safetensors"

# ---- find_package (the programs get the library folder as their RPATH from CMake)
cmake -S "$src/tests/install" -B "$tmp/consumer" -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$cflags" \
  ${CR_TOOLCHAIN_FILE:+"-DCMAKE_TOOLCHAIN_FILE=$CR_TOOLCHAIN_FILE"} \
  -DCMAKE_PREFIX_PATH="$prefix" -DEXAMPLE="$src/examples/input_grad.c" >"$tmp/consumer.log" 2>&1 ||
  { cat "$tmp/consumer.log"; fail "find_package(chainrule) consumer did not configure"; }
cmake --build "$tmp/consumer" >>"$tmp/consumer.log" 2>&1 || { cat "$tmp/consumer.log"; fail "consumer did not build"; }
c=$tmp/consumer
needs "$c/input_grad" libchainrule.so.$so || fail "chainrule::chainrule did not link libchainrule.so.$so"
needs "$c/io_app" libchainrule_io.so.$so || fail "chainrule::chainrule_io did not link libchainrule_io.so.$so"
for p in input_grad_static io_app_static; do
  ! needs "$c/$p" libchainrule.so.$so && ! needs "$c/$p" libchainrule_io.so.$so ||
    fail "$p: linked a shared chainrule library"
done
run find_package-shared "$c/input_grad"
run find_package-static "$c/input_grad_static"
run find_package-io "$c/io_app" "$tmp/fp.safetensors"
run find_package-io-static "$c/io_app_static" "$tmp/fps.safetensors"
# ---- the Python module finds the installed library through the loader's search path
# (a copy of the package, away from the build tree; not with instrumented libraries)
if [ -n "${CR_EMULATOR:-}" ]; then
  echo "skip python: the host Python cannot load a cross-compiled library"
elif [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import numpy' 2>/dev/null && [[ "$cflags" != *-fsanitize* ]]; then
  cp -r "$src/python/chainrule" "$tmp/chainrule"
  out=$(cd "$tmp" && env -u CHAINRULE_LIBRARY LD_LIBRARY_PATH="$libdir" /usr/bin/python3 -c '
import sys, chainrule
m = chainrule.load(sys.argv[1])
print(chainrule.library_paths()[0], m, m.predict([[0.1, 0.2, 0.3, 0.4, 0.5]]).shape)' "$tmp/fp.safetensors") ||
    fail "python: import chainrule against the installed library failed"
  case "$out" in libchainrule.so.$so*"(1, 3)") echo "ok   python: $out" ;; *) fail "python: unexpected output: $out" ;; esac
fi
echo "lib_install: installed to a temporary prefix; 7 programs built through pkg-config and find_package ran"
