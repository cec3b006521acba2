#!/bin/sh
# The Debian packages of `make package` work on their own: builds them with
# CPack, unpacks them into an empty root with dpkg-deb -x, then builds and runs
# against that root alone the install consumer (check_consumer.sh) and the
# tutorial's project (docs/tutorial, as a user builds it), runs the tools from
# it, and checks each tool's man page carries every flag of its --help.
# Usage: check_deb.sh <source dir> <build dir>
set -eu
src=$1
build=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
debs="$work/debs"
root="$work/root"

cpack --config "$build/CPackConfig.cmake" -B "$work/cpack" \
  -D CPACK_OUTPUT_FILE_PREFIX="$debs" >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log"; exit 1; }
field() { dpkg-deb -f "$1" "$2"; }
runtime=$(ls "$debs"/libdareplane[0-9]*_*.deb)
dev=$(ls "$debs"/libdareplane-dev_*.deb)
tools=$(ls "$debs"/dareplane-tools_*.deb)
for deb in "$runtime" "$dev" "$tools"; do dpkg-deb -x "$deb" "$root"; done

# The runtime package is named after the SONAME and holds only the library.
lib=$(ls "$root"/usr/lib/*/libdareplane.so.*.*.*)
libdir=$(dirname "$lib")
# the multiarch directory (the compiler names it as Debian does)
test "$libdir" = "$root/usr/lib/$(gcc -print-multiarch)"
soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
test "$(field "$runtime" Package)" = "$(echo "$soname" | sed 's/\.so\./-/; s/-\([0-9]*\)$/\1/')"
dpkg-deb -c "$runtime" | grep -v '/$' | grep -v "usr/lib/$(gcc -print-multiarch)/libdareplane.so.0" && exit 1
field "$dev" Depends | grep -q "$(field "$runtime" Package) (= $(field "$runtime" Version))"

sh "$src/tests/install/check_consumer.sh" "$src" "$root/usr" "$work"

cmake -S "$src/docs/tutorial" -B "$work/tutorial" \
  -Ddareplane_DIR="$libdir/cmake/dareplane" >/dev/null
cmake --build "$work/tutorial" >/dev/null
for step in "$work"/tutorial/step[0-9]; do
  LD_LIBRARY_PATH="$libdir" "$step" --help | grep -q -- "--stream"
done

for tool in "$root"/usr/bin/dp-*; do
  name=$(basename "$tool")
  page="$root/usr/share/man/man1/$name.1.gz"
  "$tool" --help >"$work/help.txt"
  gzip -dc "$page" | sed 's/\\-/-/g' >"$work/page.txt"
  for flag in $(grep -o -- '--[a-z][a-z_-]*' "$work/help.txt" | sort -u); do
    grep -q -- "$flag" "$work/page.txt" || { echo "$name.1: no $flag"; exit 1; }
  done
done
echo "deb_package: $(cd "$debs" && ls) install into an empty root and work from it"
