#!/usr/bin/env bash
# Installs what building and testing libdareplane needs and is missing:
#  1. Debian packages (apt-get as root; otherwise prints the exact command).
#  2. The project-local Python venv (.venv) with the pinned test peers from
#     tests/interop/requirements.txt (pylsl, dareplane-utils, numpy, pytest...).
# Safe to run again: it does nothing when everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake ninja-build pkg-config libuv1-dev libjansson-dev
  libcmocka-dev clang clang-format clang-tidy libclang-rt-14-dev valgrind doxygen help2man)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Any python3 that can make a venv will do (Debian's, or pyenv's as on CI).
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3 python3-venv)

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "install-deps: missing Debian packages. Run:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

VENV=${VENV:-.venv}
REQ=tests/interop/requirements.txt
STAMP="$VENV/.requirements.stamp"
if [ ! -f "$STAMP" ] || ! cmp -s "$REQ" "$STAMP"; then
  echo "install-deps: preparing the Python test venv in $VENV"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
  cp "$REQ" "$STAMP"
fi
