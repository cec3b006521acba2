#!/bin/sh
# Builds tests/install's consumer against an installed libdareplane under
# <prefix> four ways: pkg-config (shared), pkg-config --static, and CMake's
# find_package (shared and static). Each program must run and exit 0, and the
# shared ones must load the libdareplane.so.0 of <prefix>.
# Usage: check_consumer.sh <source dir> <prefix> <work dir>
set -eu
src=$1
prefix=$2
work=$3
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

cmake -S "$src/tests/install" -B "$work/cm" -Ddareplane_DIR="$libdir/cmake/dareplane" >/dev/null
cmake --build "$work/cm" >/dev/null
LD_LIBRARY_PATH="$libdir" "$work/cm/consumer_shared"
LD_LIBRARY_PATH="$libdir" ldd "$work/cm/consumer_shared" | grep -q "$libdir/libdareplane.so.0"
"$work/cm/consumer_static"
