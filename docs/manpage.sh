#!/bin/sh
# manpage.sh - writes the man page of one dp-* tool from the tool's own
# --help output (help2man), so the page never says anything --help does not.
# The NAME line is the summary that opens the tool's source file
# ("/* dp-x - what it does..." up to the first '.', ':' or ';').
# Usage: manpage.sh <tool binary> <tool source> <version> <output .1.gz>
set -eu
bin=$1
src=$2
version=$3
out=$4
name=$(basename "$bin")
summary=$(sed -n '1,/\*\//p' "$src" | tr '\n' ' ' |
  sed -e 's|^/\* *[^ ]* - ||' -e 's| \* | |g' -e 's|[.:;].*||' -e 's|  *| |g' -e 's| *$||')
tmp="$out.tmp"
# Run by name from its directory, so that the usage line shows the bare name.
PATH="$(dirname "$bin"):$PATH" help2man --no-info --no-discard-stderr --section=1 \
  --source=libdareplane --version-string="$version" --name="$summary" \
  --output="$tmp" "$name"
gzip -9n <"$tmp" >"$out"
rm -f "$tmp"
