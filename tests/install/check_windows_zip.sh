#!/bin/sh
# Unpacks the zip of `make package-windows` into an empty folder and builds
# tests/install's consumer against it with MinGW four ways: pkg-config
# (dareplane.dll) and pkg-config --static, CMake's find_package (the DLL and
# the static library); and once more against dareplane.lib, the import
# library made for MSVC (GNU ld reads it too). Each program runs under Wine
# and must exit 0; the DLL ones must import dareplane.dll, the static ones
# must not. Needs WINEPREFIX (make test-windows sets it).
# Usage: check_windows_zip.sh <source dir> <zip>
set -eu
src=$1
zip=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"${PY:-python3}" -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" \
  "$zip" "$work/unpacked"
prefix=$(find "$work/unpacked" -mindepth 1 -maxdepth 1 -type d)
for f in bin/dareplane.dll bin/dp-send.exe lib/libdareplane.dll.a lib/dareplane.lib \
  lib/libdareplane.a lib/pkgconfig/dareplane.pc lib/cmake/dareplane/dareplaneConfig.cmake \
  include/dareplane/dareplane.h; do
  test -f "$prefix/$f" || { echo "check_windows_zip: $f is missing" >&2; exit 1; }
done

CC=x86_64-w64-mingw32-gcc-posix
OBJDUMP=x86_64-w64-mingw32-objdump
# run EXE DLL|STATIC: runs it under Wine beside a copy of dareplane.dll and
# checks whether it imports the DLL
run() {
  cp "$prefix/bin/dareplane.dll" "$(dirname "$1")/"
  wine "$1"
  if [ "$2" = DLL ]; then
    $OBJDUMP -p "$1" | grep -q "DLL Name: dareplane.dll"
  else
    ! $OBJDUMP -p "$1" | grep -q "DLL Name: dareplane.dll"
  fi
}

export PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig"
c="$src/tests/install/consumer.c"
# shellcheck disable=SC2046
$CC -o "$work/pc_shared.exe" "$c" $(pkg-config --cflags --libs dareplane)
run "$work/pc_shared.exe" DLL
# shellcheck disable=SC2046
$CC -static -o "$work/pc_static.exe" "$c" $(pkg-config --static --cflags --libs dareplane)
run "$work/pc_static.exe" STATIC
$CC -o "$work/msvc_lib.exe" "$c" -I"$prefix/include" "$prefix/lib/dareplane.lib"
run "$work/msvc_lib.exe" DLL

cmake -S "$src/tests/install" -B "$work/cm" -DCMAKE_TOOLCHAIN_FILE="$src/cmake/mingw-w64-x86_64.cmake" \
  -Ddareplane_DIR="$prefix/lib/cmake/dareplane" >/dev/null
cmake --build "$work/cm" >/dev/null
run "$work/cm/consumer_shared.exe" DLL
run "$work/cm/consumer_static.exe" STATIC
echo "check_windows_zip: pkg-config, find_package and dareplane.lib all work"
