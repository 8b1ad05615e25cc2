#!/usr/bin/env bash
# Benchmark: the shipped binary's stripped size and PID 1's resident memory
# after boot, for each keel binary given (e.g. the glibc and musl builds), in
# the same QEMU setup. Targets (issue 3): binary < 6 MB, PID 1 RSS < 4 MB.
# usage: tests/bench/pid1_footprint.sh KEEL_BINARY...
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 KEEL_BINARY..." >&2; exit 2; }
work=$(mktemp -d /tmp/keel-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

for keel in "$@"; do
  strip -o "$work/keel.stripped" "$keel"
  size=$(stat -c %s "$work/keel.stripped")
  "$repo/tools/keel-qemu" --keel "$work/keel.stripped" --busybox --timeout 90 \
    --file "$repo/tests/bench/guest/footprint.sh:/footprint.sh" \
    --append 'keel.run="/bin/sh /footprint.sh"' >"$work/console.log" 2>&1 ||
    { cat "$work/console.log"; echo "boot failed for $keel" >&2; exit 1; }
  rss_kb=$(tr -d '\r' <"$work/console.log" | sed -n 's/.*FOOTPRINT: VmRSS: \([0-9]*\) kB.*/\1/p')
  [ -n "$rss_kb" ] || { cat "$work/console.log"; echo "no FOOTPRINT line" >&2; exit 1; }
  detail=$(tr -d '\r' <"$work/console.log" | sed -n 's/.*FOOTPRINT: //p')
  awk -v name="$keel" -v size="$size" -v rss="$rss_kb" -v detail="$detail" 'BEGIN {
    printf "pid1_footprint %s: binary %.2f MB stripped (target < 6 MB), PID 1 RSS %.2f MB after boot (target < 4 MB) [%s]\n",
      name, size / 1048576, rss / 1024, detail }'
done
