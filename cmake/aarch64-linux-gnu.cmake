# CMake toolchain file: chainrule for 64-bit ARM Linux (aarch64), built on a
# Debian x86-64 machine with Debian's cross compiler and run under qemu-user.
#
#   apt-get install gcc-aarch64-linux-gnu qemu-user
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install libpng-dev:arm64 zlib1g-dev:arm64 libcjson-dev:arm64 libcmocka-dev:arm64
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCR_USE_CBLAS=OFF
#   cmake --build build-aarch64 -j2 && ctest --test-dir build-aarch64
#
# (scripts/test-aarch64.sh does all of it.) CTest runs the test programs under
# CMAKE_CROSSCOMPILING_EMULATOR; tests/CMakeLists.txt also hands the shell and
# Python tests a wrapper that runs the command-line program under it. The
# programs run with the arm64 loader and libraries of the multiarch packages
# (libc6:arm64, which the :arm64 -dev packages pull in, in /lib/aarch64-linux-gnu),
# not with `qemu-aarch64 -L /usr/aarch64-linux-gnu`: that takes the cross
# toolchain's loader but still finds the multiarch libc.so.6, a different glibc
# build, and the mix hangs in the first pthread_create (its stack cache list).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)

# pkg-config sees only the arm64 packages' .pc files, never the host's
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# libraries and headers from the cross sysroot or the arm64 multiarch folders;
# programs (pkg-config, the emulator) from the host
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
