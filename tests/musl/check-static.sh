#!/usr/bin/env bash
# check-static.sh BINARY: fails unless BINARY runs without a dynamic loader,
# and prints its stripped size.
#
# Static means: no PT_INTERP (nothing asks for ld.so) and no DT_NEEDED (no
# shared library). A plain static executable also has no dynamic section; a
# static PIE keeps one (with no DT_NEEDED) for its own start-up relocation,
# so a dynamic section is accepted only on an ET_DYN file without PT_INTERP.
set -euo pipefail
bin=${1:?usage: check-static.sh BINARY}

fail() { echo "check-static: $bin: $*" >&2; exit 1; }
[ -f "$bin" ] || fail "no such file"
header=$(readelf -hW "$bin" 2>/dev/null) || fail "not an ELF file"
segments=$(readelf -lW "$bin")
dynamic=$(readelf -dW "$bin")

! grep -q '^ *INTERP ' <<<"$segments" || fail "has PT_INTERP: $(grep -o 'interpreter: [^]]*' <<<"$segments")"
! grep -q '(NEEDED)' <<<"$dynamic" || fail "needs shared libraries: $(grep '(NEEDED)' <<<"$dynamic" | grep -o '\[.*\]' | tr '\n' ' ')"
if grep -q '^ *DYNAMIC ' <<<"$segments"; then
  grep -q 'Type: *DYN ' <<<"$header" || fail "fixed-address executable with a dynamic section"
  kind=static-pie
else
  kind=static
fi

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
strip -o "$tmp" "$bin"
size=$(stat -c %s "$tmp")
awk -v b="$bin" -v k="$kind" -v s="$size" -v f="$(stat -c %s "$bin")" \
  'BEGIN { printf "%s: %s, %d bytes stripped (%.2f MiB), %d bytes as built\n", b, k, s, s / 1048576, f }'
