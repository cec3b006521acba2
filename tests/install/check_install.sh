#!/bin/sh
# Installs the build tree into a temporary prefix and builds tests/install's
# consumer against it (check_consumer.sh: pkg-config and find_package, shared
# and static).
# Usage: check_install.sh <source dir> <build dir>
set -eu
src=$1
build=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

cmake --install "$build" --prefix "$prefix" >/dev/null
sh "$src/tests/install/check_consumer.sh" "$src" "$prefix" "$work"
echo "install_consumer: pkg-config and find_package both work"
