#!/bin/sh
# Installs the build tree into a temporary prefix and builds tests/install's
# consumer against it three ways: pkg-config (shared), pkg-config --static, and
# CMake's find_package (shared and static). Each program must run and exit 0.
# Usage: check_install.sh <source dir> <build dir>
set -eu
src=$1
build=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

cmake --install "$build" --prefix "$prefix" >/dev/null
pcdir=$(dirname "$(find "$prefix" -name dareplane.pc)")
libdir=$(dirname "$pcdir")
test -f "$prefix/include/dareplane/dareplane.h"
ls "$libdir"/libdareplane.so.0 "$libdir"/libdareplane.a >/dev/null

CC=${CC:-cc}
export PKG_CONFIG_PATH="$pcdir"
# shellcheck disable=SC2046
$CC -o "$work/pc_shared" "$src/tests/install/consumer.c" $(pkg-config --cflags --libs dareplane)
LD_LIBRARY_PATH="$libdir" "$work/pc_shared"
# the shared program must really use the installed shared library
LD_LIBRARY_PATH="$libdir" ldd "$work/pc_shared" | grep -q "$libdir/libdareplane.so.0"
# shellcheck disable=SC2046
$CC -o "$work/pc_static" "$src/tests/install/consumer.c" $(pkg-config --cflags dareplane) \
  "$libdir/libdareplane.a" $(pkg-config --static --libs-only-l dareplane | sed 's/-ldareplane//')
"$work/pc_static"

cmake -S "$src/tests/install" -B "$work/cm" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cm" >/dev/null
LD_LIBRARY_PATH="$libdir" "$work/cm/consumer_shared"
"$work/cm/consumer_static"
echo "install_consumer: pkg-config and find_package both work"
