#!/usr/bin/env bash
# Unpacks the Debian source of an installed package's version, for the fuzz
# build, which compiles a library itself (protobuf-lite with clang and
# libc++: Debian's build is for libstdc++). The download is kept in the same
# cache as tools/musl/build-deps.sh's, so a machine that built one has it.
#
#   tools/fuzz/debian-source.sh BINARY-PACKAGE DEST-DIR
#
# Prints the unpacked source tree (DEST-DIR/<source package>); a tree already
# there is reused.
set -euo pipefail

binary=$1
dest=$2
KEEL_CACHE=${KEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/keel}
srcdir=$KEEL_CACHE/debian-src

read -r package version < <(dpkg-query -W -f='${source:Package} ${source:Version}\n' "$binary")
tree=$dest/$package
if [ -f "$tree/.keel-version" ] && [ "$(cat "$tree/.keel-version")" = "$version" ]; then
  echo "$tree"
  exit 0
fi

mkdir -p "$srcdir" "$dest"
dsc=$srcdir/${package}_${version#*:}.dsc # file names drop the epoch
if [ ! -f "$dsc" ]; then
  as_root=()
  [ "$(id -u)" -ne 0 ] || as_root=(-o APT::Sandbox::User=root) # _apt can't write our cache
  (cd "$srcdir" && apt-get source -qq --only-source --download-only "${as_root[@]}" \
     "$package=$version") >&2 || true
  [ -f "$dsc" ] || { echo "fuzz deps: cannot download the source of $package $version" \
                          "(is there a deb-src line in apt's sources?)" >&2; exit 1; }
fi
rm -rf "$tree"
dpkg-source -q -x "$dsc" "$tree" >/dev/null
echo "$version" >"$tree/.keel-version"
echo "$tree"
