#!/usr/bin/env bash
# Builds what the Windows cross-build links against, from Debian's own source
# packages, into a prefix: libuv, jansson (static, linked into dareplane.dll)
# and cmocka (static, for the C unit tests). Also installs the cross compiler
# and Wine from Debian. Nothing of the sources is kept in the repository.
#
#   scripts/windows-deps.sh PREFIX
#
# Safe to run again: a library already in PREFIX is not built again.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PREFIX=$(realpath -m "${1:?usage: windows-deps.sh PREFIX}")
TOOLCHAIN=$ROOT/cmake/mingw-w64-x86_64.cmake

PACKAGES=(mingw-w64 dpkg-dev cmake ninja-build wine wine64)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
need_src=0
grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ || grep -qs '^deb-src' /etc/apt/sources.list || need_src=1
if [ "${#missing[@]}" -gt 0 ] || [ "$need_src" = 1 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "windows-deps: needs root for apt-get (missing: ${missing[*]:-} deb-src: $need_src)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  if [ "$need_src" = 1 ]; then
    # Debian's source packages of the release this machine runs
    . /etc/os-release
    cat >/etc/apt/sources.list.d/dareplane-src.sources <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $VERSION_CODENAME
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  apt-get update -qq
  [ "${#missing[@]}" -eq 0 ] || apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

SRC=$PREFIX/src
mkdir -p "$SRC" "$PREFIX/lib" "$PREFIX/include"

# fetch_source PKG: unpacks Debian's source package PKG (with Debian's patches)
# into $SRC and prints its folder.
fetch_source() {
  (cd "$SRC" && apt-get source -qq "$1" >/dev/null 2>&1) || {
    echo "windows-deps: apt-get source $1 failed" >&2; exit 1; }
  find "$SRC" -maxdepth 1 -mindepth 1 -type d -name "$2-*" | sort | tail -1
}

# cmake_build DIR ARGS...: configures, builds and installs a CMake project.
cmake_build() {
  local dir=$1; shift
  cmake -S "$dir" -B "$dir/build-mingw" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" "$@" >/dev/null
  cmake --build "$dir/build-mingw" >/dev/null
  cmake --install "$dir/build-mingw" >/dev/null
}

if [ ! -f "$PREFIX/lib/libuv.a" ] && [ ! -f "$PREFIX/lib/libuv_a.a" ]; then
  echo "windows-deps: libuv"
  dir=$(fetch_source libuv1 libuv1)
  cmake_build "$dir" -DLIBUV_BUILD_TESTS=OFF -DLIBUV_BUILD_BENCH=OFF -DBUILD_TESTING=OFF
fi
if [ ! -f "$PREFIX/lib/libjansson.a" ]; then
  echo "windows-deps: jansson"
  dir=$(fetch_source jansson jansson)
  cmake_build "$dir" -DJANSSON_BUILD_DOCS=OFF -DJANSSON_EXAMPLES=OFF -DJANSSON_WITHOUT_TESTS=ON \
    -DJANSSON_BUILD_SHARED_LIBS=OFF
fi
if [ ! -f "$PREFIX/lib/libcmocka.a" ] && [ ! -f "$PREFIX/lib/libcmocka-static.a" ]; then
  echo "windows-deps: cmocka"
  dir=$(fetch_source cmocka cmocka)
  cmake_build "$dir" -DWITH_STATIC_LIB=ON -DUNIT_TESTING=OFF -DWITH_EXAMPLES=OFF
fi
echo "windows-deps: ready in $PREFIX"
