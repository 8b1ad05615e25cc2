#!/usr/bin/env bash
# Benchmark: install throughput of `keel update install` (signature, every
# chunk's SHA-256 checked before it is written, the whole slot read back
# and checked, footer and GPT flags) against `dd` of the same image to the
# same partition (conv=fsync), alternating in one QEMU VM on one keel disk.
# The payload (SIZE_MB of random bytes, packed with `keel update pack`) is
# on a second virtio disk. Prints each run, the medians and keel's
# throughput as a fraction of dd's, and what one SHA-256 pass over the
# image takes in the guest: a benchmark, not an assertion. Under
# TCG SHA-256 is emulated, so the fraction is far below what the same
# binary reaches on hardware or with KVM; it is the figure to track.
# usage: tests/bench/update_install.sh KEEL_BINARY [ROUNDS] [SIZE_MB]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
keel=${1:?usage: $0 KEEL_BINARY [ROUNDS] [SIZE_MB]}
rounds=${2:-3}
size_mb=${3:-64}
export PATH="$PATH:/usr/sbin:/sbin"
work=$(mktemp -d /tmp/keel-bench-install.XXXXXX)
cleanup() {
  if [ -n "${KEEP:-}" ]; then echo "work: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

openssl ecparam -name prime256v1 -genkey -noout -out "$work/update.key" 2>/dev/null
"$repo/tools/mkimage" --keel "$keel" --output "$work/image" --busybox \
  --sign-key "$work/update.key" --root-size $((size_mb + 16)) \
  --file "$repo/tests/bench/guest/update_install.sh:/bench.sh" >"$work/mkimage.log" 2>&1 ||
  { cat "$work/mkimage.log" >&2; exit 1; }
head -c "${size_mb}M" /dev/urandom >"$work/root.img"
mkdir -p "$work/payloads"
"$keel" update pack --image "$work/root.img" --version 2.0.0 --channel bench \
  --key "$work/update.key" --output "$work/payloads/p" >/dev/null
truncate -s "$((size_mb * 2 + 32))M" "$work/payloads.img"
mkfs.ext4 -q -F -d "$work/payloads" "$work/payloads.img" >/dev/null

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$repo/tools/keel-qemu" --initrd "$work/image/initramfs.img" --disk "$work/image/disk.img" \
  --disk "$work/payloads.img" --memory 1024 --timeout $((120 + rounds * size_mb * 4)) \
  --append "keel.run=\"/bin/sh /bench.sh $rounds\"" >"$work/console.log" 2>&1 || true
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if ! grep -q 'BENCH: DONE' "$work/console.log" || grep -q 'BENCH: FAIL' "$work/console.log"; then
  grep -E 'BENCH|error' "$work/console.log" >&2 || tail -n 30 "$work/console.log" >&2
  echo "update_install bench: the guest did not finish its runs" >&2
  exit 1
fi
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
tr -d '\r' <"$work/console.log" | grep -E '^BENCH (keel|dd|sha256|engine) ' >"$work/results"
cat "$work/results"
k=$(awk '$2 == "keel" { print $3 }' "$work/results" | median)
d=$(awk '$2 == "dd" { print $3 }' "$work/results" | median)
awk -v k="$k" -v d="$d" -v mb="$size_mb" 'BEGIN {
  printf "keel update install: median %.2f s (%.1f MB/s)\n", k, mb / k
  printf "dd conv=fsync:       median %.2f s (%.1f MB/s)\n", d, mb / d
  printf "keel throughput / dd throughput: %.2f (goal >= 0.8)\n", d / k
}'
# One SHA-256 pass over the image in the guest, which an install makes
# twice (each chunk before it is written, and on read-back).
awk -v mb="$size_mb" '$2 == "sha256" { printf "keel sha256 in the guest: %.2f s (%.1f MB/s)\n", $3, mb / $3 }
  $2 == "engine" { print "SHA-256 engine in the guest: " $3 }' "$work/results"
